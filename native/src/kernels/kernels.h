/* Plumbing of the optimized kernels: what an architecture file provides, the shared BIN-input
 * convolution driver that runs it, and the list select.c chooses from. Not public API. */
#ifndef EDGEBNN_KERNELS_KERNELS_H
#define EDGEBNN_KERNELS_KERNELS_H

#include "common.h"

/* The hot loop every architecture implements: for r < rows,
 *   mism[r] = popcount(x XOR w[r*n .. r*n + n-1])
 * over n packed words. x and w need only 4-byte alignment. */
typedef void (*ebnn_xorpop_fn)(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t rows,
                               uint32_t *mism);

typedef struct {
    const char *name;
    ebnn_xorpop_fn xorpop;
    int (*usable)(void); /* 1 when this CPU can run it (checked at run time) */
} ebnn_kernel;

/* One per architecture file; each exists only where its file compiles it. */
extern const ebnn_kernel ebnn_kernel_avx512, ebnn_kernel_avx2,
    ebnn_kernel_popcnt;                                         /* x86.c   (x86-64, GCC/clang) */
extern const ebnn_kernel ebnn_kernel_neon;                      /* neon.c  (__ARM_NEON) */
extern const ebnn_kernel ebnn_kernel_mve;                       /* mve.c   (__ARM_FEATURE_MVE) */
extern const ebnn_kernel ebnn_kernel_swar;                      /* swar.c  (everywhere) */

/* The i-th kernel this CPU can run, best first; NULL past the last. select.c uses index 0. */
const ebnn_kernel *ebnn_kernel_at(uint32_t i);

/* CONV2D/DENSE with BIN input through xorpop (bin_conv.c). Returns 0, having written nothing,
 * for layers it does not handle (groups > 1, a window larger than its stack patch); the
 * caller then runs the reference. */
int ebnn_bin_conv2d(const ebnn_layer *l, const uint32_t *in, void *out, ebnn_xorpop_fn xorpop);

/* The channels-in-lanes convolution of the x86 kernel k (x86_lanes.c); 0, having written
 * nothing, when k has none or the layer is not one it handles. */
int ebnn_x86_lanes_conv2d(const ebnn_kernel *k, const ebnn_layer *l, const uint32_t *in,
                          void *out);
/* Load-time repack of the lanes path (ebnn_pack): the words of layer l's weights repacked for
 * kernel k (0: the layer does not take k's lanes path), the repack into wl, and the
 * convolution reading them (packed NULL: repack on the fly, as ebnn_x86_lanes_conv2d). */
size_t ebnn_x86_lanes_packed_words(const ebnn_kernel *k, const ebnn_layer *l);
void ebnn_x86_lanes_pack(const ebnn_kernel *k, const ebnn_layer *l, uint32_t *wl);
int ebnn_x86_lanes_conv2d_packed(const ebnn_kernel *k, const ebnn_layer *l, const uint32_t *packed,
                                 const uint32_t *in, void *out);

/* The 8-bit first layer on the x86 kernel k (x86_u8.c); 0, having written nothing, when k has
 * no such path or the layer is not one it handles. */
int ebnn_x86_u8_conv2d(const ebnn_kernel *k, const ebnn_layer *l, const uint8_t *in, void *out);

/* ---- ARM (arm_*.c, neon*.c, swar*.c, mve.c) ---- */
/* Two windows against the same rows: mism0[r] for x0, mism1[r] for x1 (rows as xorpop). */
typedef void (*ebnn_xorpop2_fn)(const uint32_t *x0, const uint32_t *x1, const uint32_t *w,
                                uint32_t n, uint32_t rows, uint32_t *mism0, uint32_t *mism1);
/* AArch64 NEON's, 2 pixels x 8 channels per step (neon.c). */
void ebnn_neon_xorpop2(const uint32_t *x0, const uint32_t *x1, const uint32_t *w, uint32_t n,
                       uint32_t rows, uint32_t *mism0, uint32_t *mism1);
/* ebnn_bin_conv2d running pixels two at a time through xorpop2 (when not NULL) where the layer
 * has two left (bin_conv.c). */
int ebnn_bin_conv2d_pairs(const ebnn_layer *l, const uint32_t *in, void *out,
                          ebnn_xorpop_fn xorpop, ebnn_xorpop2_fn xorpop2);
/* The 8-bit first layer (U8 input, groups == 1) with NEON's masked byte sums (neon_u8.c),
 * Helium's (mve_u8.c) or without SIMD (swar_u8.c), all through the driver of arm_u8.h; 0,
 * having written nothing, for other layers. */
int ebnn_neon_u8_conv2d(const ebnn_layer *l, const uint8_t *in, void *out);
int ebnn_mve_u8_conv2d(const ebnn_layer *l, const uint8_t *in, void *out);
int ebnn_swar_u8_conv2d(const ebnn_layer *l, const uint8_t *in, void *out);
/* Depthwise BIN convolution, bit-sliced (arm_depthwise.c); 0, having written nothing, for
 * other layers. */
int ebnn_arm_depthwise_conv2d(const ebnn_layer *l, const uint32_t *in, void *out);
/* MAXPOOL, BINARIZE and THRESHOLD for every layer (arm_ops.c). */
void ebnn_arm_maxpool(const ebnn_layer *l, const uint32_t *in, uint32_t *out);
void ebnn_arm_binarize(const ebnn_layer *l, const uint8_t *in, uint32_t *out);
void ebnn_arm_threshold(const ebnn_layer *l, const int32_t *in, uint32_t *out);

/* Depthwise BIN convolution on the x86 kernel k (x86_depthwise.c); 0, having written nothing,
 * when k has no such path or the layer is not one it handles. */
int ebnn_x86_depthwise_conv2d(const ebnn_kernel *k, const ebnn_layer *l, const uint32_t *in,
                              void *out);

/* THRESHOLD on the x86 kernel k (x86_threshold.c); 0, having written nothing, when k has no
 * such path. */
int ebnn_x86_threshold(const ebnn_kernel *k, const ebnn_layer *l, const int32_t *in,
                       uint32_t *out);

/* Runs the layer through kernel k's optimized paths: 1 when one of them ran it, 0 (nothing
 * written) when the layer is left to the reference. */
int ebnn_conv2d_try(const ebnn_kernel *k, const ebnn_layer *l, const void *in, void *out);

/* ebnn_conv2d with a given kernel (NULL: the reference), for tests and benchmarks. */
void ebnn_conv2d_with(const ebnn_kernel *k, const ebnn_layer *l, const void *in, void *out);
/* ebnn_threshold with a given kernel (NULL: the reference). */
void ebnn_threshold_with(const ebnn_kernel *k, const ebnn_layer *l, const int32_t *in,
                         uint32_t *out);

#endif /* EDGEBNN_KERNELS_KERNELS_H */
