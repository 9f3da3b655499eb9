/* NEON kernel, AArch64 and ARMv7-A: EOR + CNT per 128-bit vector, byte counts accumulated
 * pairwise into 16-bit lanes (UADALP / VPADAL), 4 output channels per loaded input vector.
 * Only baseline Advanced SIMD: no dot-product extension, and no across-vector adds on ARMv7. */
#include "kernels.h"

#if defined(__ARM_NEON)
#include <arm_neon.h>

#define STRIDE_BLOCK 4096u /* vectors per 16-bit accumulation: 4096 x 16 <= 65535 + 1 */

static inline uint8x16_t loadq(const uint32_t *p) {
    return vld1q_u8((const uint8_t *)(const void *)p);
}

static inline uint32_t sum_u16(uint16x8_t v) {
#if defined(__aarch64__)
    return vaddlvq_u16(v);
#else
    uint64x2_t s = vpaddlq_u32(vpaddlq_u16(v));
    return (uint32_t)(vgetq_lane_u64(s, 0) + vgetq_lane_u64(s, 1));
#endif
}

/* mism of B rows (B = 1 or 4) over the whole vectors of n, then the tail words. */
static inline void rows_neon(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t b,
                             uint32_t *mism) {
    uint32_t nv = n / 4u, v = 0, j, k;
    uint32_t total[4] = {0, 0, 0, 0};
    while (v < nv) {
        uint32_t end = nv - v > STRIDE_BLOCK - 1u ? v + STRIDE_BLOCK - 1u : nv;
        uint16x8_t a[4];
        for (j = 0; j < b; j++) a[j] = vdupq_n_u16(0);
        for (; v < end; v++) {
            uint8x16_t xv = loadq(x + 4u * v);
            for (j = 0; j < b; j++)
                a[j] = vpadalq_u8(a[j], vcntq_u8(veorq_u8(xv, loadq(w + (size_t)j * n + 4u * v))));
        }
        for (j = 0; j < b; j++) total[j] += sum_u16(a[j]);
    }
    for (j = 0; j < b; j++) {
        for (k = 4u * nv; k < n; k++) total[j] += ebnn_popcount32(x[k] ^ w[(size_t)j * n + k]);
        mism[j] = total[j];
    }
}

static void xorpop_neon(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t rows,
                        uint32_t *mism) {
    uint32_t r = 0;
    for (; r + 4u <= rows; r += 4u) rows_neon(x, w + (size_t)r * n, n, 4u, mism + r);
    for (; r < rows; r++) rows_neon(x, w + (size_t)r * n, n, 1u, mism + r);
}

static int always(void) { return 1; }

const ebnn_kernel ebnn_kernel_neon = {"neon", xorpop_neon, always};

#else
typedef int ebnn_neon_unused; /* ISO C forbids an empty translation unit. */
#endif
