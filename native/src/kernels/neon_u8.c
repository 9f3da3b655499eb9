/* The masked byte sums of the 8-bit first layer on NEON (AArch64, ARMv7-A), run by arm_u8.h
 * (y = 2P - S: P the sum of the window bytes whose weight bit is set, S of all). The weight bits become byte masks without repacking the
 * weights: 8 weight bytes (64 bits) in a register, two of them spread over the 16 lanes by a
 * table lookup (TBL), TST against {1, 2, ..., 128} gives 0xFF where the bit is set; the masked
 * input bytes are summed pairwise into 16-bit lanes (UADALP): 5 instructions per 16
 * multiply-accumulates, where the reference spends several per one. */
#include "arm_u8.h"

#if defined(__ARM_NEON)
#include <arm_neon.h>

#define FLUSH_STEPS 64u /* 16-byte steps per 16-bit accumulation: 64 x 2 x 255 <= 65535 */

static const uint8_t bit_of_lane[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
/* Lane sources of step j (0..3) of a 64-byte block: weight byte 2j for lanes 0-7, 2j+1 for 8-15. */
static const uint8_t spread_index[4][16] = {
    {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
    {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5}, {6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7}};

/* The byte masks of 16 input bytes: lanes from the weight bytes wb by idx, tested per bit. */
static inline uint8x16_t byte_masks(uint8x8_t wb, uint8x16_t idx, uint8x16_t bit) {
#if defined(__aarch64__)
    uint8x16_t spread = vqtbl1q_u8(vcombine_u8(wb, wb), idx);
#else
    uint8x16_t spread = vcombine_u8(vtbl1_u8(wb, vget_low_u8(idx)), vtbl1_u8(wb, vget_high_u8(idx)));
#endif
    return vtstq_u8(spread, bit);
}

static inline uint32_t sum_u32(uint32x4_t v) {
    uint64x2_t s = vpaddlq_u32(v);
    return (uint32_t)(vgetq_lane_u64(s, 0) + vgetq_lane_u64(s, 1));
}

/* P: the sum of the n bytes of x whose bit is set in the weight row w (ebnn_words(n) words).
 * 16-byte steps while whole, the last bytes one by one; weight words are read only within
 * the row. */
/* Inlined at both of the driver's calls (dense, per pixel): out of line, each call would set
 * up the lane tables again (13 instructions per output channel). */
#define NEON_U8_SUM static inline __attribute__((always_inline)) uint32_t
NEON_U8_SUM masked_sum(const uint8_t *x, const uint32_t *w, uint32_t n) {
    const uint8x16_t bit = vld1q_u8(bit_of_lane);
    uint8x16_t idx[4];
    uint32x4_t total = vdupq_n_u32(0);
    uint32_t steps = n / 16u, s = 0, i, p;
    uint8x8_t wb = vdup_n_u8(0);
    for (i = 0; i < 4u; i++) idx[i] = vld1q_u8(spread_index[i]);
    while (s < steps) {
        uint16x8_t acc = vdupq_n_u16(0);
        uint32_t end = steps - s > FLUSH_STEPS ? s + FLUSH_STEPS : steps;
        for (; s < end; s++) {
            if (s % 4u == 0) { /* the next 64 weight bits: two words, or the row's last one */
                uint32_t k = s / 2u;
                uint64_t bits = w[k];
                if (32u * (k + 1u) < n) bits |= (uint64_t)w[k + 1u] << 32;
                wb = vcreate_u8(bits);
            }
            acc = vpadalq_u8(acc, vandq_u8(vld1q_u8(x + 16u * s), byte_masks(wb, idx[s % 4u], bit)));
        }
        total = vpadalq_u16(total, acc);
    }
    p = sum_u32(total);
    for (i = 16u * steps; i < n; i++) p += ((w[i >> 5] >> (i & 31u)) & 1u) ? x[i] : 0u;
    return p;
}

/* S: the sum of all n bytes of x. */
NEON_U8_SUM byte_total(const uint8_t *x, uint32_t n) {
    uint32x4_t total = vdupq_n_u32(0);
    uint32_t steps = n / 16u, s = 0, i, sum;
    while (s < steps) {
        uint16x8_t acc = vdupq_n_u16(0);
        uint32_t end = steps - s > FLUSH_STEPS ? s + FLUSH_STEPS : steps;
        for (; s < end; s++) acc = vpadalq_u8(acc, vld1q_u8(x + 16u * s));
        total = vpadalq_u16(total, acc);
    }
    sum = sum_u32(total);
    for (i = 16u * steps; i < n; i++) sum += x[i];
    return sum;
}

int ebnn_neon_u8_conv2d(const ebnn_layer *l, const uint8_t *in, void *out) {
    return arm_u8_conv2d(l, in, out, masked_sum, byte_total);
}

#else
typedef int ebnn_neon_u8_unused; /* ISO C forbids an empty translation unit. */
#endif
