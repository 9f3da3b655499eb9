/* Portable blocked kernel, the Cortex-M4/M7 one (and the fallback of any CPU without a better
 * one): SWAR popcount without a popcount instruction or libgcc call.
 *  - Portable C: three words are counted into nibbles (<= 12 each), folded into byte counters,
 *    and the bytes are summed only every 10 triples; each loaded input word serves BLOCK
 *    output channels.
 *  - Cortex-M with the DSP extension (M4, M7, M33, M55): a Thumb-2 assembly loop, because GCC
 *    at -O2 spills and applies the masks as immediates (2 instructions each) instead of as
 *    registers with a shifted operand (1). Three XOR-ed words go through a carry-save adder
 *    (ones = a^b^c, twos = majority: 5 instructions), so only two words are counted; ones +
 *    2*twos (<= 12 per nibble) is turned into byte counts and summed across the word by one
 *    USADA8 (sum of absolute differences with zero, accumulating): 27 instructions per triple,
 *    9 per 32-bit word, one channel at a time (14 registers are all in use). */
#include "kernels.h"

#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M' && defined(__ARM_FEATURE_DSP)
#define TRIPLES_ASM 1
#define BLOCK 1u
#elif defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
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

#if defined(TRIPLES_ASM)
/* One triple of x and w into total (r0-r5 scratch): load 3 + 3 words, XOR; carry-save adder
 * r4 = ones = r0^r1^r2, r5 = twos = r0 ^ ((r0^r2) & (r0^r1)); nibble counts of ones and twos;
 * s = ones + 2 * twos (<= 12 per nibble); h = high nibbles, s - 15 h = lo + hi per byte;
 * USADA8 adds the four bytes to total. */
#define TRIPLE \
    "ldmia %[x]!, {r0, r1, r2}\n\t" \
    "ldmia %[w]!, {r3, r4, r5}\n\t" \
    "eors r0, r3\n\t" \
    "eors r1, r4\n\t" \
    "eors r2, r5\n\t" \
    "eor r3, r0, r1\n\t" \
    "eor r4, r3, r2\n\t" \
    "eor r5, r0, r2\n\t" \
    "ands r5, r3\n\t" \
    "eors r5, r0\n\t" \
    "and r3, %[m55], r4, lsr #1\n\t" \
    "subs r4, r4, r3\n\t" \
    "and r3, %[m33], r4, lsr #2\n\t" \
    "and r4, r4, %[m33]\n\t" \
    "add r4, r3\n\t" \
    "and r3, %[m55], r5, lsr #1\n\t" \
    "subs r5, r5, r3\n\t" \
    "and r3, %[m33], r5, lsr #2\n\t" \
    "and r5, r5, %[m33]\n\t" \
    "add r5, r3\n\t" \
    "add r4, r4, r5, lsl #1\n\t" \
    "lsrs r3, r4, #4\n\t" \
    "and r3, r3, #0x0F0F0F0F\n\t" \
    "sub r4, r4, r3, lsl #4\n\t" \
    "add r4, r3\n\t" \
    "usada8 %[total], r4, %[zero], %[total]\n\t"

/* Mismatches of the k >= 1 word triples at x and w. Per triple: LDM x, LDM w, 3 EOR,
 * carry-save 5, nibble counts 2 x 5, ones + 2*twos 1, to bytes 4 (h = high nibbles; s - 15h =
 * lo + hi per byte, <= 24, no borrow), USADA8 1, and the loop's 2 for every two triples.
 * x and w must be 4-byte aligned.
 * Not inlined: with the caller's values live around it GCC cannot allocate the operands. */
__attribute__((noinline)) static uint32_t triples_asm(const uint32_t *x, const uint32_t *w,
                                                      uint32_t k) {
    uint32_t total = 0, m55, m33, zero;
    /* r0-r5 are named (LDM fills its list in register order); the constants are set here, not
     * passed in, since GCC may give equal input values one register (zero would share total's
     * while total starts at 0). */
    __asm volatile(
        "mov %[m55], #0x55555555\n\t"
        "mov %[m33], #0x33333333\n\t"
        "mov %[zero], #0\n\t"
        /* two triples per loop iteration; an odd one first */
        "tst %[k], #1\n\t"
        "beq 2f\n\t"
        TRIPLE
        "2:\n\t"
        "lsrs %[k], %[k], #1\n\t"
        "beq 3f\n\t"
        "1:\n\t"
        TRIPLE
        TRIPLE
        "subs %[k], %[k], #1\n\t"
        "bne 1b\n\t"
        "3:\n\t"
        : [x] "+r"(x), [w] "+r"(w), [k] "+r"(k), [total] "+r"(total), [m55] "=&r"(m55),
          [m33] "=&r"(m33), [zero] "=&r"(zero)
        :
        : "r0", "r1", "r2", "r3", "r4", "r5", "cc", "memory");
    return total;
}
#endif

/* mism[0..B-1] for the B rows starting at w (B <= BLOCK). */
static inline void rows_swar(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t b,
                             uint32_t *mism) {
    uint32_t total[BLOCK] = {0}, i = 0, j;
#if defined(TRIPLES_ASM)
    /* 96 per triple at most: no overflow below 44 million triples. */
    if (n >= 3u) total[0] = triples_asm(x, w, n / 3u), i = n - n % 3u;
#endif
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
