/* Plumbing of the optimized kernels: the operation table every kernel fills, the shared
 * BIN-input convolution driver that runs its row primitive, and the functions the rows point
 * to. Not public API.
 *
 * A kernel is one row (ebnn_kernel): the operations it accelerates, NULL where the reference
 * (ref.c, binarize_ref.c, residual.c) does it. select.c is the one place that picks a row (the
 * first usable one of its table) and falls back per operation; no kernel tests which row it is.
 *
 * Adding a kernel for a new CPU:
 *   1. one file native/src/kernels/<name>.c, guarded by the ISA macro it needs (#if
 *      defined(__FOO__) ... #else typedef int ebnn_<name>_unused; #endif), that defines
 *      `const ebnn_kernel ebnn_kernel_<name>` with .name = "<name>", .xorpop, .usable when
 *      only the run time can tell (NULL: always), and every other operation it has (the
 *      others NULL: the reference does them);
 *   2. one entry in select.c's table under the same guard, `#define FOO_ROWS(K) K(<name>)`
 *      (empty otherwise), with FOO_ROWS(K) placed in ROWS by rank, best first;
 *   3. its extern declaration below, beside the others.
 * Nothing else changes: native/Makefile, build_ffi.py and the firmware compile every C file
 * under native/src, test_kernels_arch checks every row against the reference, and the build
 * info (select.c), the benchmarks and the load-time repack's tag (pack.c) read the row. */
#ifndef EDGEBNN_KERNELS_KERNELS_H
#define EDGEBNN_KERNELS_KERNELS_H

#include "common.h"

/* The hot loop every kernel implements: for r < rows,
 *   mism[r] = popcount(x XOR w[r*n .. r*n + n-1])
 * over n packed words. x and w need only 4-byte alignment. */
typedef void (*ebnn_xorpop_fn)(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t rows,
                               uint32_t *mism);
/* Two windows against the same rows: mism0[r] for x0, mism1[r] for x1 (rows as xorpop). */
typedef void (*ebnn_xorpop2_fn)(const uint32_t *x0, const uint32_t *x1, const uint32_t *w,
                                uint32_t n, uint32_t rows, uint32_t *mism0, uint32_t *mism1);

/* The BIN output step of the driver, fused: bit i of bits[i / 32] is mism[i] < cut[i] for
 * i < rows (the cuts of ebnn_mism_cut, so the bit before the channel's flip), bits past rows
 * zero; ceil(rows / 32) words written. The rows compare and pack 8-16 channels per
 * instruction; ebnn_ref_cut_bits (cut_bits_ref.c) is the definition. */
typedef void (*ebnn_cut_bits_fn)(const uint32_t *mism, const uint32_t *cut, uint32_t rows,
                                 uint32_t *bits);
void ebnn_ref_cut_bits(const uint32_t *mism, const uint32_t *cut, uint32_t rows, uint32_t *bits);
/* The same step for layers of few pixels, where computing the cuts would cost more than they
 * save, from the thresholds: bit i of bits[i / 32] is output channel c = c0 + i's bit,
 * y = terms - 2 mism[i] against thresholds[c] (y >= t, or y <= t where flip bit c is set), for
 * i < rows, bits past rows zero; ebnn_ref_thresh_bits (cut_bits_ref.c) is the definition. */
typedef void (*ebnn_thresh_bits_fn)(const uint32_t *mism, const int32_t *thresholds,
                                    const uint32_t *flip, uint32_t c0, uint32_t rows,
                                    uint32_t terms, uint32_t *bits);
void ebnn_ref_thresh_bits(const uint32_t *mism, const int32_t *thresholds, const uint32_t *flip,
                          uint32_t c0, uint32_t rows, uint32_t terms, uint32_t *bits);
/* One value of it (ebnn_threshold_bit's rule): the pre-activation of m mismatches in terms. */
static inline uint32_t ebnn_mism_bit(uint32_t m, int32_t t, uint32_t flip, uint32_t terms) {
    int32_t y = (int32_t)(terms - 2u * m);
    return flip ? y <= t : y >= t;
}

/* A CONV2D/DENSE path for the layers it handles: 1 when it ran the layer, 0 (nothing written)
 * when it leaves the layer to the next path. */
typedef int (*ebnn_conv_u8_fn)(const ebnn_layer *l, const uint8_t *in, void *out);
typedef int (*ebnn_conv_bin_fn)(const ebnn_layer *l, const uint32_t *in, void *out);
/* The same reading weights repacked at load time by the row's pack (packed NULL: repack on
 * the fly, or 0 where a path runs only on the load-time repack). */
typedef int (*ebnn_conv_packed_fn)(const ebnn_layer *l, const uint32_t *packed,
                                   const uint32_t *in, void *out);

typedef struct {
    const char *name;
    int (*usable)(void);         /* 1 when this CPU can run it (run time); NULL: always */
    ebnn_xorpop_fn xorpop;       /* required: the row primitive of the BIN driver (bin_conv.c) */
    ebnn_xorpop2_fn xorpop2;     /* the driver's two-pixel step, NULL: one pixel at a time */
    ebnn_cut_bits_fn cut_bits;   /* the driver's BIN output step, NULL: ebnn_ref_cut_bits */
    ebnn_thresh_bits_fn thresh_bits; /* the same for few pixels, NULL: ebnn_ref_thresh_bits */
    ebnn_conv_u8_fn conv_u8;     /* U8 input (the 8-bit first layer) */
    ebnn_conv_bin_fn depthwise;  /* BIN depthwise (groups == in_c == out_c) */
    /* BIN convolution its own way, before the driver (x86 and Helium: channels in lanes;
     * NEON: 3x3 in place; Cortex-M4/M7/M33: output-sliced, only on the load-time repack), for
     * layers of >= 2 output pixels (ebnn_conv2d_try does not offer it others; ebnn_conv2d_packed
     * offers it every layer with its repack, dense batch 1 too), and its load-time weight
     * repack: the words layer l takes (0: none, the layer is not repacked) and the repack into
     * them (ebnn_pack, pack.c). */
    ebnn_conv_packed_fn conv_bin;
    size_t (*pack_size)(const ebnn_layer *l);
    void (*pack)(const ebnn_layer *l, uint32_t *packed);
    /* Every layer of these ops (no fallback within a layer). */
    void (*threshold)(const ebnn_layer *l, const int32_t *in, uint32_t *out);
    void (*maxpool)(const ebnn_layer *l, const uint32_t *in, uint32_t *out);
    void (*binarize)(const ebnn_layer *l, const uint8_t *in, uint32_t *out);
} ebnn_kernel;

/* One row per kernel file; each exists only where its file compiles it. */
extern const ebnn_kernel ebnn_kernel_avx512, ebnn_kernel_avx2,
    ebnn_kernel_popcnt;                                         /* x86.c   (x86-64, GCC/clang) */
extern const ebnn_kernel ebnn_kernel_neon;                      /* neon.c  (__ARM_NEON) */
extern const ebnn_kernel ebnn_kernel_mve;                       /* mve.c   (__ARM_FEATURE_MVE) */
extern const ebnn_kernel ebnn_kernel_armv6m;                    /* armv6m.c (__ARM_ARCH_6M__) */
extern const ebnn_kernel ebnn_kernel_swar;                      /* swar.c  (everywhere) */

/* The i-th kernel this CPU can run, best first; NULL past the last. select.c uses index 0. */
const ebnn_kernel *ebnn_kernel_at(uint32_t i);

/* CONV2D/DENSE with BIN input through row k's xorpop, pixels two at a time through its xorpop2
 * (when not NULL) where the layer has two left (bin_conv.c). Returns 0, having written nothing, for
 * layers it does not handle (groups > 1, a window larger than its stack patch). */
int ebnn_bin_conv2d(const ebnn_layer *l, const uint32_t *in, void *out, const ebnn_kernel *k);
/* The driver's cuts (ebnn_mism_cut) of output channels c0 .. c0 + rows - 1 of terms terms. */
void ebnn_bin_cuts(const ebnn_layer *l, uint32_t c0, uint32_t rows, uint32_t terms, uint32_t *cut);

/* ---- the paths the rows point to (each 0, having written nothing, for the layers it does
 * not handle) ---- */
/* x86 (x86_*.c): channels-in-lanes BIN convolution and its repack (x86_lanes.c), the 8-bit
 * first layer (x86_u8.c), depthwise (x86_depthwise.c), THRESHOLD (x86_threshold.c), each for
 * AVX-512 and AVX2. */
int ebnn_avx512_lanes_conv2d(const ebnn_layer *l, const uint32_t *packed, const uint32_t *in,
                             void *out);
int ebnn_avx2_lanes_conv2d(const ebnn_layer *l, const uint32_t *packed, const uint32_t *in,
                           void *out);
size_t ebnn_avx512_lanes_pack_size(const ebnn_layer *l);
size_t ebnn_avx2_lanes_pack_size(const ebnn_layer *l);
void ebnn_avx512_lanes_pack(const ebnn_layer *l, uint32_t *packed);
void ebnn_avx2_lanes_pack(const ebnn_layer *l, uint32_t *packed);
int ebnn_avx512_u8_conv2d(const ebnn_layer *l, const uint8_t *in, void *out);
int ebnn_avx2_u8_conv2d(const ebnn_layer *l, const uint8_t *in, void *out);
int ebnn_avx512_depthwise_conv2d(const ebnn_layer *l, const uint32_t *in, void *out);
int ebnn_avx2_depthwise_conv2d(const ebnn_layer *l, const uint32_t *in, void *out);
void ebnn_avx512_threshold(const ebnn_layer *l, const int32_t *in, uint32_t *out);
void ebnn_avx2_threshold(const ebnn_layer *l, const int32_t *in, uint32_t *out);

/* ARM (arm_*.c, *_u8.c). The 8-bit first layer (U8 input, groups == 1) with NEON's masked
 * byte sums (neon_u8.c), Helium's (mve_u8.c) or without SIMD (swar_u8.c), all through the
 * driver of arm_u8.h. */
int ebnn_neon_u8_conv2d(const ebnn_layer *l, const uint8_t *in, void *out);
int ebnn_mve_u8_conv2d(const ebnn_layer *l, const uint8_t *in, void *out);
int ebnn_swar_u8_conv2d(const ebnn_layer *l, const uint8_t *in, void *out);
/* 3x3 stride-1 BIN convolution, windows in place, BIN output, in_c 64 or a multiple of 128
 * (ARMv7: 64 or 128), out_c a multiple of 8 (neon_conv3x3.c); packed unused (repacked per
 * call). */
int ebnn_neon_conv3x3(const ebnn_layer *l, const uint32_t *packed, const uint32_t *in, void *out);
/* Helium channels-in-lanes BIN convolution, BIN output, windows of 2 to 31 words, input rows
 * that fit its stack buffer, and its repack with the cuts (mve_lanes.c); packed NULL:
 * repacked per call, for layers of >= 8 pixels whose repack fits 3 KiB. The byte popcount
 * table of both Helium paths (mve.c). */
int ebnn_mve_lanes_conv2d(const ebnn_layer *l, const uint32_t *packed, const uint32_t *in,
                          void *out);
size_t ebnn_mve_lanes_pack_size(const ebnn_layer *l);
void ebnn_mve_lanes_pack(const ebnn_layer *l, uint32_t *packed);
extern const uint8_t ebnn_mve_pop8[256];
/* Output-sliced BIN convolution (swar_sliced.c), the swar row's conv_bin where that row is the
 * best (Cortex-M with DSP, no Helium; EBNN_SLICED), for layers of BIN input and output, groups ==
 * 1, windows of <= 4096 input bits and >= 3/4 of the 32-channel blocks' lanes in use. Only on
 * the row's load-time repack (pack_size / pack, for ebnn_pack): packed NULL returns 0, so a
 * build that never calls ebnn_pack (the firmware) defines EBNN_NO_PACK to leave it out. The
 * benchmark's inner loop: ebnn_swar_sliced_xy, the xy words of window columns ix0 ..
 * ix0 + ncol - 1 of rows iy0 .. iy0 + kh - 1 (padding zero), column by column, into xy (2 *
 * 256 + 3 words); ebnn_swar_sliced_pixel, every 32-channel block against the window at xy, the
 * output pixel's words into out. */
#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M' && defined(__ARM_FEATURE_DSP) && \
    !defined(__ARM_FEATURE_MVE) && !defined(EBNN_NO_PACK)
#define EBNN_SLICED 1
#endif
int ebnn_swar_sliced_conv2d(const ebnn_layer *l, const uint32_t *packed, const uint32_t *in,
                            void *out);
size_t ebnn_swar_sliced_pack_size(const ebnn_layer *l);
void ebnn_swar_sliced_pack(const ebnn_layer *l, uint32_t *packed);
void ebnn_swar_sliced_xy(const ebnn_layer *l, const uint32_t *in, int32_t iy0, int32_t ix0,
                         uint32_t ncol, uint32_t *xy);
void ebnn_swar_sliced_pixel(const ebnn_layer *l, const uint32_t *packed, uint32_t *xy,
                            uint32_t *out);
/* xorpop for rows of 1-7 words in Thumb-2 assembly with USAD8 (swar.c), in the builds that
 * define EBNN_T2_ASM (Cortex-M with DSP, ARMv7-A Thumb-2): the swar row's short rows, also
 * ARMv7 NEON's rows shorter than one vector. */
#if defined(__thumb2__) && defined(__ARM_FEATURE_SIMD32)
#define EBNN_T2_ASM 1
void ebnn_swar_xorpop_short(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t rows,
                            uint32_t *mism);
#endif
/* Depthwise BIN convolution, bit-sliced (arm_depthwise.c). */
int ebnn_arm_depthwise_conv2d(const ebnn_layer *l, const uint32_t *in, void *out);
/* MAXPOOL, BINARIZE and THRESHOLD for every layer, with the SIMD the build has (arm_ops.c):
 * every ARM row uses them. */
void ebnn_arm_maxpool(const ebnn_layer *l, const uint32_t *in, uint32_t *out);
void ebnn_arm_binarize(const ebnn_layer *l, const uint8_t *in, uint32_t *out);
void ebnn_arm_threshold(const ebnn_layer *l, const int32_t *in, uint32_t *out);

/* Runs the layer through kernel k's paths: 1 when one of them ran it, 0 (nothing written)
 * when the layer is left to the reference (always for k NULL). */
int ebnn_conv2d_try(const ebnn_kernel *k, const ebnn_layer *l, const void *in, void *out);

/* ebnn_conv2d with a given kernel (NULL: the reference), for tests and benchmarks. */
void ebnn_conv2d_with(const ebnn_kernel *k, const ebnn_layer *l, const void *in, void *out);
/* ebnn_conv2d_packed with a given kernel and its repack of l (packed NULL: ebnn_conv2d_with). */
void ebnn_conv2d_packed_with(const ebnn_kernel *k, const ebnn_layer *l, const uint32_t *packed,
                             const void *in, void *out);
/* ebnn_threshold with a given kernel (NULL: the reference). */
void ebnn_threshold_with(const ebnn_kernel *k, const ebnn_layer *l, const int32_t *in,
                         uint32_t *out);

#endif /* EDGEBNN_KERNELS_KERNELS_H */
