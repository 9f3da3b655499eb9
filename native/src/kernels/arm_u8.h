/* The 8-bit first layer on ARM (every kernel: NEON, Cortex-M SWAR, MVE): CONV2D/DENSE with U8
 * input and groups == 1, the driver of an architecture's masked byte sums, included by
 * neon_u8.c and swar_u8.c, each instantiating it once with its own sums so that they are
 * called directly (inlined where the compiler sees fit), not through a pointer per channel.
 * With P the sum of the window bytes whose weight bit is set and S the sum of all of them,
 * y = P - (S - P) = 2P - S exactly, the reference's sum of pixel x ±1. A window that is one
 * run of the input (dense layers, full-width rows without padding) is read in place; any other
 * is copied once per output pixel into a stack patch in weight order (ky, kx, c), padded taps
 * as zero bytes, and zero-filled up to a whole 16-byte step: zero bytes add nothing to P or S
 * whatever their weight bits, so the sums skip their byte-at-a-time tail. S is taken once per
 * pixel and shared by every output channel. */
#ifndef EDGEBNN_KERNELS_ARM_U8_H
#define EDGEBNN_KERNELS_ARM_U8_H

#include "kernels.h"

#if defined(__arm__) || defined(__aarch64__) /* x86 has its own (x86_u8.c) */

#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
#define PATCH_BYTES 512u /* e.g. a 7x7 RGB window (147 bytes) with room to spare */
#else
#define PATCH_BYTES 4096u
#endif

/* The window of output pixel (oy, ox) as one run of the input, or NULL. */
static inline const uint8_t *window_in_place(const ebnn_layer *l, const uint8_t *in,
                                             uint32_t oy, uint32_t ox) {
    int32_t iy = (int32_t)(oy * l->sh) - (int32_t)l->ph, ix = (int32_t)(ox * l->sw) - (int32_t)l->pw;
    if (iy < 0 || ix < 0 || iy + l->kh > l->in_h || ix + l->kw > l->in_w) return NULL;
    if (l->kh != 1 && l->kw != l->in_w) return NULL;
    return in + ((size_t)iy * l->in_w + (size_t)ix) * l->in_c;
}

/* Copies the window of (oy, ox) into patch (row by row of kw * in_c bytes, padding as zero
 * bytes) and zero-fills it to np bytes. */
static inline void gather(const ebnn_layer *l, const uint8_t *in, uint32_t oy, uint32_t ox,
                          uint8_t *patch, uint32_t np) {
    uint32_t ky, kx, i, k = 0, c = l->in_c;
    for (ky = 0; ky < l->kh; ky++) {
        int32_t iy = (int32_t)(oy * l->sh + ky) - (int32_t)l->ph;
        for (kx = 0; kx < l->kw; kx++) {
            int32_t ix = (int32_t)(ox * l->sw + kx) - (int32_t)l->pw;
            int inside = iy >= 0 && iy < (int32_t)l->in_h && ix >= 0 && ix < (int32_t)l->in_w;
            const uint8_t *px = inside ? in + ((size_t)iy * l->in_w + (size_t)ix) * c : NULL;
            for (i = 0; i < c; i++, k++) patch[k] = inside ? px[i] : 0u;
        }
    }
    for (; k < np; k++) patch[k] = 0u;
}

/* P over the n bytes of x with weight row w; S over the n bytes of x: each file's pair, called
 * directly (the driver is inlined with them as constants). */
typedef uint32_t (*arm_u8_masked_fn)(const uint8_t *x, const uint32_t *w, uint32_t n);
typedef uint32_t (*arm_u8_total_fn)(const uint8_t *x, uint32_t n);

/* Every output channel of pixel pix from its window x of len bytes. */
static inline __attribute__((always_inline)) void arm_u8_pixel(const ebnn_layer *l,
                                                               const uint8_t *x, uint32_t len,
                                                               uint32_t rw, void *out, size_t pix,
                                                               arm_u8_masked_fn masked,
                                                               arm_u8_total_fn total) {
    uint32_t s = total(x, len), o;
    ebnn_out_pixel_begin(l, out, pix);
    for (o = 0; o < l->out_c; o++) {
        uint32_t p = masked(x, l->weights + (size_t)o * rw, len);
        ebnn_out_finish(l, out, pix, o, (int32_t)(2u * p) - (int32_t)s);
    }
}

/* 0, having written nothing, for layers other than U8 input with groups == 1. Dense layers
 * (the window is the whole input) skip the window logic, which costs as much as the sums on a
 * small first layer. */
static inline __attribute__((always_inline)) int arm_u8_conv2d(const ebnn_layer *l,
                                                               const uint8_t *in, void *out,
                                                               arm_u8_masked_fn masked,
                                                               arm_u8_total_fn total) {
    /* 16-byte aligned: the NEON sums load whole vectors from it */
    uint8_t patch[PATCH_BYTES] __attribute__((aligned(16)));
    uint32_t n = (uint32_t)l->kh * l->kw * l->in_c, rw = ebnn_words(n), np = (n + 15u) & ~15u;
    uint32_t oy, ox;
    size_t pix = 0;
    int may_gather = l->ph != 0 || l->pw != 0 || (l->kh != 1 && l->kw != l->in_w);

    if (l->in_type != EBNN_T_U8 || l->groups != 1) return 0;
    if (l->op == EBNN_OP_DENSE) {
        arm_u8_pixel(l, in, n, rw, out, 0, masked, total);
        return 1;
    }
    if (may_gather && np > PATCH_BYTES) return 0;
    for (oy = 0; oy < l->out_h; oy++) {
        for (ox = 0; ox < l->out_w; ox++, pix++) {
            const uint8_t *x = window_in_place(l, in, oy, ox);
            uint32_t len = n;
            if (x == NULL) {
                gather(l, in, oy, ox, patch, np);
                x = patch, len = np;
            }
            arm_u8_pixel(l, x, len, rw, out, pix, masked, total);
        }
    }
    return 1;
}

#endif
#endif /* EDGEBNN_KERNELS_ARM_U8_H */
