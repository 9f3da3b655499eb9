/* MAXPOOL, BINARIZE and THRESHOLD on ARM (every kernel), bit-identical to the reference
 * (ref.c, binarize_ref.c, residual.c). The reference writes one bit at a time into memory and
 * re-derives every index per element; these build each 32-bit output word in a register and
 * store it once, with NEON (AArch64, ARMv7-A) or Helium (Cortex-M55) for 4-16 elements per
 * step where present, and without SIMD (Cortex-M4/M7) branch-free scalar steps, DSP byte
 * compares (USUB8 + SEL) for BINARIZE where the core has them.
 *  - MAXPOOL: the window's valid rows and columns are found once per output pixel, then each
 *    output word (NEON, Helium: 4 words) is the OR of its taps, kept in a register.
 *  - BINARIZE: x >= t per byte; NEON compares 16 bytes and packs the 16 masks to bits, Helium's
 *    compare predicate is the 16 bits.
 *  - THRESHOLD: flip ? y <= t : y >= t is (y ^ f) >= (t ^ f) with f = 0 or all ones (y <= t
 *    <=> ~y >= ~t, no overflow), so one signed compare per channel, 4 per NEON step; Helium:
 *    y >= t and y <= t for 4 channels, each predicate's lane bits summed by VADDV. */
#include "kernels.h"

#if defined(__arm__) || defined(__aarch64__)
#include <string.h>

#if defined(__ARM_NEON)
#include <arm_neon.h>
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define HELIUM 1
#endif
#if !defined(__ARM_NEON) && defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

/* The taps of output position o on one axis that fall inside the input: [*lo, *hi). */
static void valid_taps(uint32_t o, uint32_t stride, uint32_t k, uint32_t pad, uint32_t size,
                       uint32_t *lo, uint32_t *hi) {
    int32_t first = (int32_t)(o * stride) - (int32_t)pad, a = 0, b = (int32_t)k;
    if (first < 0) a = -first;
    if (first + b > (int32_t)size) b = (int32_t)size - first;
    *lo = (uint32_t)a, *hi = b > a ? (uint32_t)b : (uint32_t)a;
}

void ebnn_arm_maxpool(const ebnn_layer *l, const uint32_t *in, uint32_t *out) {
    uint32_t nw = ebnn_words(l->in_c), oy, ox, ky, kx, k, y0, y1, x0, x1;
    for (oy = 0; oy < l->out_h; oy++) {
        valid_taps(oy, l->sh, l->kh, l->ph, l->in_h, &y0, &y1);
        for (ox = 0; ox < l->out_w; ox++, out += nw) {
            int32_t iy0 = (int32_t)(oy * l->sh) - (int32_t)l->ph;
            int32_t ix0 = (int32_t)(ox * l->sw) - (int32_t)l->pw;
            valid_taps(ox, l->sw, l->kw, l->pw, l->in_w, &x0, &x1);
            k = 0;
#if defined(__ARM_NEON) || defined(HELIUM) /* the same intrinsics in both */
            for (; k + 4u <= nw; k += 4u) {
                uint32x4_t acc = vdupq_n_u32(0);
                for (ky = y0; ky < y1; ky++) {
                    const uint32_t *row = in + ((size_t)(iy0 + (int32_t)ky) * l->in_w) * nw + k;
                    for (kx = x0; kx < x1; kx++)
                        acc = vorrq_u32(acc, vld1q_u32(row + (size_t)(ix0 + (int32_t)kx) * nw));
                }
                vst1q_u32(out + k, acc);
            }
#endif
            for (; k < nw; k++) {
                uint32_t acc = 0;
                for (ky = y0; ky < y1; ky++) {
                    const uint32_t *row = in + ((size_t)(iy0 + (int32_t)ky) * l->in_w) * nw + k;
                    for (kx = x0; kx < x1; kx++) acc |= row[(size_t)(ix0 + (int32_t)kx) * nw];
                }
                out[k] = acc;
            }
        }
    }
}

#if defined(__ARM_NEON)
static const uint8_t lane_bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};

/* 16 byte masks (0xFF / 0) to 16 bits, lane i to bit i. */
static inline uint32_t pack16(uint8x16_t mask) {
    uint8x16_t b = vandq_u8(mask, vld1q_u8(lane_bit));
#if defined(__aarch64__)
    return (uint32_t)vaddv_u8(vget_low_u8(b)) | ((uint32_t)vaddv_u8(vget_high_u8(b)) << 8);
#else
    uint8x8_t s = vpadd_u8(vget_low_u8(b), vget_high_u8(b));
    s = vpadd_u8(s, s);
    s = vpadd_u8(s, s);
    return vget_lane_u16(vreinterpret_u16_u8(s), 0);
#endif
}
#endif

/* Bits j < count of one output word: element j is in[j] >= t[j]. */
static uint32_t binarize_word(const uint8_t *in, const uint8_t *t, uint32_t count) {
    uint32_t v = 0, j = 0;
#if defined(__ARM_NEON)
    for (; j + 16u <= count; j += 16u) v |= pack16(vcgeq_u8(vld1q_u8(in + j), vld1q_u8(t + j))) << j;
#elif defined(HELIUM)
    /* the compare's predicate has one bit per byte lane: the 16 output bits themselves */
    for (; j + 16u <= count; j += 16u) v |= (uint32_t)vcmpcsq_u8(vld1q_u8(in + j), vld1q_u8(t + j)) << j;
#endif
#if !defined(__ARM_NEON) && defined(__ARM_FEATURE_DSP)
    for (; j + 4u <= count; j += 4u) {
        uint32_t a, b;
        memcpy(&a, in + j, 4), memcpy(&b, t + j, 4);
        (void)__usub8(a, b); /* GE[i] = byte i of a >= byte i of b */
        /* the selected bytes carry distinct bits: their sum, in the top byte, is the nibble */
        v |= ((__sel(0x08040201u, 0u) * 0x01010101u) >> 24) << j;
    }
#endif
    for (; j < count; j++) v |= (uint32_t)(in[j] >= t[j]) << j;
    return v;
}

void ebnn_arm_binarize(const ebnn_layer *l, const uint8_t *in, uint32_t *out) {
    const uint8_t *t = (const uint8_t *)(const void *)l->thresholds;
    uint32_t nw = ebnn_words(l->out_c), k;
    size_t pix, n = (size_t)l->out_h * l->out_w;
    for (pix = 0; pix < n; pix++, in += l->out_c, t += l->out_c, out += nw)
        for (k = 0; k < nw; k++) {
            uint32_t count = l->out_c - 32u * k < 32u ? l->out_c - 32u * k : 32u;
            out[k] = binarize_word(in + 32u * k, t + 32u * k, count);
        }
}

/* Bits j < count of one output word of THRESHOLD: y[j] against t[j], flip bits fw. */
static uint32_t threshold_word(const int32_t *y, const int32_t *t, uint32_t fw, uint32_t count) {
    uint32_t v = 0, j = 0;
#if defined(__ARM_NEON)
    static const uint32_t bit4[4] = {1, 2, 4, 8};
    const uint32x4_t bits = vld1q_u32(bit4);
    for (; j + 4u <= count; j += 4u) {
        int32x4_t f = vreinterpretq_s32_u32(vtstq_u32(vdupq_n_u32(fw >> j), bits));
        uint32x4_t ge = vcgeq_s32(veorq_s32(vld1q_s32(y + j), f), veorq_s32(vld1q_s32(t + j), f));
        uint32x4_t b = vandq_u32(ge, bits);
#if defined(__aarch64__)
        v |= vaddvq_u32(b) << j;
#else
        uint32x2_t s = vpadd_u32(vget_low_u32(b), vget_high_u32(b));
        v |= (vget_lane_u32(s, 0) + vget_lane_u32(s, 1)) << j;
#endif
    }
#elif defined(HELIUM)
    /* y >= t and y <= t as lane bits summed under each compare's predicate, flip picks one */
    static const uint32_t bit4[4] = {1, 2, 4, 8};
    const uint32x4_t bits = vld1q_u32(bit4);
    for (; j + 4u <= count; j += 4u) {
        int32x4_t yv = vld1q_s32(y + j), tv = vld1q_s32(t + j);
        uint32_t ge = vaddvq_p_u32(bits, vcmpgeq_s32(yv, tv));
        uint32_t le = vaddvq_p_u32(bits, vcmpleq_s32(yv, tv)), f = (fw >> j) & 15u;
        v |= ((ge & ~f) | (le & f)) << j;
    }
#endif
    for (; j < count; j++) {
        int32_t f = -(int32_t)((fw >> j) & 1u);
        v |= (uint32_t)((y[j] ^ f) >= (t[j] ^ f)) << j;
    }
    return v;
}

void ebnn_arm_threshold(const ebnn_layer *l, const int32_t *in, uint32_t *out) {
    uint32_t nw = ebnn_words(l->out_c), k;
    size_t pix, n = (size_t)l->out_h * l->out_w;
    for (pix = 0; pix < n; pix++, in += l->out_c, out += nw)
        for (k = 0; k < nw; k++) {
            uint32_t count = l->out_c - 32u * k < 32u ? l->out_c - 32u * k : 32u;
            out[k] = threshold_word(in + 32u * k, l->thresholds + 32u * k, l->flip[k], count);
        }
}

#else
typedef int ebnn_arm_ops_unused; /* ISO C forbids an empty translation unit. */
#endif
