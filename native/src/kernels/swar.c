/* Portable blocked kernel, the Cortex-M one (and the fallback of any CPU without a better one):
 * SWAR popcount without a popcount instruction or libgcc call. Three words are counted into
 * nibbles (<= 12 each), folded into byte counters, and the bytes are summed only every 10
 * triples. Each loaded input word is used for BLOCK output channels. */
#include "kernels.h"

#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
#define BLOCK 2u /* 13 usable registers: two channels keep everything in registers */
#else
#define BLOCK 4u
#endif
#define TRIPLES 10u /* 10 triples x 24 per byte counter <= 255 */

/* Bit counts of v in its nibbles (0..4 each). */
static inline uint32_t nibbles(uint32_t v) {
    v -= (v >> 1) & 0x55555555u;
    return (v & 0x33333333u) + ((v >> 2) & 0x33333333u);
}

/* Sum of the four byte counters of a. */
static inline uint32_t byte_sum(uint32_t a) {
    a = (a & 0x00FF00FFu) + ((a >> 8) & 0x00FF00FFu);
    return (a + (a >> 16)) & 0xFFFFu;
}

/* mism[0..B-1] for the B rows starting at w (B <= BLOCK). */
static inline void rows_swar(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t b,
                             uint32_t *mism) {
    uint32_t total[BLOCK] = {0}, i = 0, j;
    while (i + 3u <= n) {
        uint32_t acc[BLOCK] = {0}, steps = (n - i) / 3u, s;
        if (steps > TRIPLES) steps = TRIPLES;
        for (s = 0; s < steps; s++, i += 3u) {
            uint32_t x0 = x[i], x1 = x[i + 1], x2 = x[i + 2];
            for (j = 0; j < b; j++) {
                const uint32_t *r = w + (size_t)j * n + i;
                uint32_t v = nibbles(x0 ^ r[0]) + nibbles(x1 ^ r[1]) + nibbles(x2 ^ r[2]);
                acc[j] += (v & 0x0F0F0F0Fu) + ((v >> 4) & 0x0F0F0F0Fu);
            }
        }
        for (j = 0; j < b; j++) total[j] += byte_sum(acc[j]);
    }
    for (; i < n; i++)
        for (j = 0; j < b; j++) total[j] += ebnn_popcount32(x[i] ^ w[(size_t)j * n + i]);
    for (j = 0; j < b; j++) mism[j] = total[j];
}

static void xorpop_swar(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t rows,
                        uint32_t *mism) {
    uint32_t r = 0;
    /* The constant block size lets the compiler keep the counters in registers. */
    for (; r + BLOCK <= rows; r += BLOCK) rows_swar(x, w + (size_t)r * n, n, BLOCK, mism + r);
    for (; r < rows; r++) rows_swar(x, w + (size_t)r * n, n, 1u, mism + r);
}

static int always(void) { return 1; }

const ebnn_kernel ebnn_kernel_swar = {"swar", xorpop_swar, always};
