/* The masked byte sums of the 8-bit first layer on Helium (MVE, Cortex-M55), run by arm_u8.h
 * (y = 2P - S: P the sum of the window bytes whose weight bit is set, S of all). MVE predicates
 * have one bit per byte lane, so 16 weight bits are the predicate itself: per 16 bytes a load,
 * the weight halfword into P0 (VMSR) and one predicated add across the vector (VADDVAT.U8)
 * into a 32-bit sum, where the SWAR sums spend about 20. The last 1-15 bytes come in under a
 * VCTP8 tail predicate (inactive lanes are not read). */
#include "arm_u8.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#include <string.h>

/* Halfword s of the weight row: bits 16s .. 16s + 15, byte lane j <-> bit j (little-endian). */
static inline mve_pred16_t weight_bits(const uint32_t *w, uint32_t s) {
    uint16_t h;
    memcpy(&h, (const uint8_t *)w + 2u * s, 2);
    return h;
}

/* P over the n bytes of x with weight row w; the row's halfwords are read only within it. */
static inline __attribute__((always_inline)) uint32_t masked_sum(const uint8_t *x,
                                                                 const uint32_t *w, uint32_t n) {
    uint32_t steps = n / 16u, s, p = 0;
    for (s = 0; s < steps; s++) p = vaddvaq_p_u8(p, vld1q_u8(x + 16u * s), weight_bits(w, s));
    if (16u * steps < n) {
        mve_pred16_t tail = vctp8q(n - 16u * steps) & weight_bits(w, steps);
        p = vaddvaq_p_u8(p, vldrbq_z_u8(x + 16u * steps, tail), tail);
    }
    return p;
}

/* S over the n bytes of x. */
static inline __attribute__((always_inline)) uint32_t byte_total(const uint8_t *x, uint32_t n) {
    uint32_t steps = n / 16u, s, t = 0;
    for (s = 0; s < steps; s++) t = vaddvaq_u8(t, vld1q_u8(x + 16u * s));
    if (16u * steps < n) {
        mve_pred16_t tail = vctp8q(n - 16u * steps);
        t = vaddvaq_p_u8(t, vldrbq_z_u8(x + 16u * steps, tail), tail);
    }
    return t;
}

int ebnn_mve_u8_conv2d(const ebnn_layer *l, const uint8_t *in, void *out) {
    return arm_u8_conv2d(l, in, out, masked_sum, byte_total);
}

#else
typedef int ebnn_mve_u8_unused; /* ISO C forbids an empty translation unit. */
#endif
