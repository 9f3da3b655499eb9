/* Helpers shared by every kernel implementation (ref and, later, optimized ones). */
#ifndef EDGEBNN_KERNELS_COMMON_H
#define EDGEBNN_KERNELS_COMMON_H

#include "../internal.h"

/* Portable popcount (SWAR): no libgcc call, no dependence on a popcount instruction. */
static inline uint32_t ebnn_popcount32(uint32_t x) {
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0F0F0F0Fu;
    return (x * 0x01010101u) >> 24;
}

/* count (1..32) bits of a packed channel vector starting at bit start, in the low bits. Reads a
 * second word only when the range crosses into it. */
static inline uint32_t ebnn_bits_at(const uint32_t *p, uint32_t start, uint32_t count) {
    uint32_t word = start >> 5, shift = start & 31u;
    uint32_t v = p[word] >> shift;
    if (shift != 0 && shift + count > 32u) v |= p[word + 1] << (32u - shift);
    return count == 32u ? v : v & ((1u << count) - 1u);
}

/* The mismatch count below which a BIN output bit is set before its flip: with T terms and m
 * mismatches, y = T - 2m, and the bit is (m < cut) XOR flip, as
 *   flip = 0: y >= t  <=>  m <= floor((T - t) / 2)  <=>  m < floor((T - t) / 2) + 1
 *   flip = 1: y <= t  <=>  m >= ceil((T - t) / 2)   <=>  NOT (m < floor((T - t + 1) / 2)),
 * both floor((T - t + 2 - flip) / 2), clamped to 0 .. T + 1 so that any m <= T compares right
 * (and (m - cut) >> 31 is m < cut). */
static inline uint32_t ebnn_mism_cut(uint32_t terms, int32_t t, uint32_t flip) {
    /* floor(a / 2) is below 0 exactly when a is */
    int64_t a = (int64_t)terms + 2 - (int64_t)flip - t;
    return a < 0 ? 0u : a / 2 > (int64_t)terms + 1 ? terms + 1u : (uint32_t)(a / 2);
}

/* Clears the BIN words of output pixel pix so that channels are OR-ed in and the bits at
 * channels >= out_c stay zero; nothing to do for I32 output. */
static inline void ebnn_out_pixel_begin(const ebnn_layer *l, void *out, size_t pix) {
    if (l->out_type == EBNN_T_BIN) {
        uint32_t nw = ebnn_words(l->out_c), k;
        uint32_t *o = (uint32_t *)out + pix * nw;
        for (k = 0; k < nw; k++) o[k] = 0;
    }
}

/* The last step of every conv path: output channel c of pixel pix from its pre-activation y,
 * as a thresholded sign bit (BIN) or the integer score itself (I32). */
static inline void ebnn_out_finish(const ebnn_layer *l, void *out, size_t pix, uint32_t c,
                                   int32_t y) {
    if (l->out_type == EBNN_T_BIN) {
        uint32_t *o = (uint32_t *)out + pix * ebnn_words(l->out_c);
        o[c >> 5] |= (uint32_t)ebnn_threshold_bit(l, c, y) << (c & 31u);
    } else {
        ((int32_t *)out)[pix * l->out_c + c] = y;
    }
}

#endif /* EDGEBNN_KERNELS_COMMON_H */
