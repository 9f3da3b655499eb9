/* Portable blocked kernel, the Cortex-M4/M7 one (and the fallback of any CPU without a better
 * one): SWAR popcount without a popcount instruction or libgcc call. Three XOR-ed words go
 * through a carry-save adder (ones = a^b^c, twos = majority(a,b,c): 5 operations), so only two
 * words are counted: their nibble counts combine as ones + 2*twos (<= 12 per nibble). The
 * nibbles are then summed into bytes and the bytes across the word:
 *  - with the DSP extension (Cortex-M4/M7/M33/M55), by two USADA8 byte-sum-accumulates on the
 *    unfolded word s (sum of bytes = lo + 16*hi nibbles) and on its high nibbles (hi), the
 *    count being lo + hi = T1 - 15*T2 at the end: 3 instructions per triple, no fold;
 *  - elsewhere, folded into byte counters that are summed every 10 triples.
 * Each loaded input word is used for BLOCK output channels. The masks are kept in registers
 * (opaque to the compiler) so that Thumb-2 applies each one with its shift in one instruction. */
#include "kernels.h"

#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
#define BLOCK 1u /* 13 usable registers: one channel keeps everything in registers */
#else
#define BLOCK 4u
#endif
#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#define TRIPLES 4681u /* per reduction: T1 grows <= 4 x 204 per triple, T1 < 2^32 */
#else
#define TRIPLES 10u /* 10 triples x 24 per byte counter <= 255 */
#endif

/* v, hidden from constant propagation: the compiler keeps it in a register. */
static inline uint32_t in_register(uint32_t v) {
#if defined(__GNUC__)
    __asm("" : "+r"(v));
#endif
    return v;
}

/* The channel loops must be unrolled to keep the counters in registers, which GCC does at
 * -O2 only when asked. */
#define UNROLL _Pragma("GCC unroll 4")

typedef struct {
    uint32_t m55, m33, m0f;
} masks;

/* Bit counts of v in its nibbles (0..4 each). */
static inline uint32_t nibbles(uint32_t v, const masks *m) {
    v -= (v >> 1) & m->m55;
    return (v & m->m33) + ((v >> 2) & m->m33);
}

/* Nibble counts (<= 12) of the bits of a, b, c: carry-save, then ones + 2 * twos. */
static inline uint32_t triple(uint32_t a, uint32_t b, uint32_t c, const masks *m) {
    uint32_t u = a ^ b, ones = u ^ c, twos = a ^ ((a ^ c) & u);
    return nibbles(ones, m) + (nibbles(twos, m) << 1);
}

/* Sum of the four byte counters of a. */
static inline uint32_t byte_sum(uint32_t a) {
    a = (a & 0x00FF00FFu) + ((a >> 8) & 0x00FF00FFu);
    return (a + (a >> 16)) & 0xFFFFu;
}

#if defined(__ARM_FEATURE_DSP)
typedef struct {
    uint32_t all, hi; /* T1: sum of the bytes of s; T2: of its high nibbles */
} acc_t;
static inline void acc_add(acc_t *a, uint32_t s, const masks *m) {
    a->all = __usada8(s, 0u, a->all);
    a->hi = __usada8((s >> 4) & m->m0f, 0u, a->hi);
}
static inline uint32_t acc_count(const acc_t *a) { return a->all - 15u * a->hi; }
#else
typedef struct {
    uint32_t bytes;
} acc_t;
static inline void acc_add(acc_t *a, uint32_t s, const masks *m) {
    a->bytes += (s & m->m0f) + ((s >> 4) & m->m0f);
}
static inline uint32_t acc_count(const acc_t *a) { return byte_sum(a->bytes); }
#endif

#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M' && defined(__ARM_FEATURE_DSP)
#define TRIPLES_ASM 1
/* Cortex-M4/M7 inner loop in Thumb-2 assembly (GCC spills at -O2 and misses the shifted
 * operands): k >= 1 triples of one row, 28 instructions each (LDM of the input triple, LDM of
 * the weights, 3 EOR, carry-save 5, nibble counts 2 x 5, ones + 2*twos 1, nibbles to bytes
 * 4, USADA8 1, loop 2: 28) = 9.3 per 32-bit word. Adds the count to a->all (a->hi stays).
 * Not inlined: with the caller's values live around it GCC cannot allocate the operands. */
__attribute__((noinline)) static void triples_asm(const uint32_t **x, const uint32_t **w, uint32_t k, acc_t *a) {
    const uint32_t *xp = *x, *wp = *w;
    uint32_t t1 = a->all, m55, m33, zero;
    /* r0-r5 are named (LDM fills its list in register order); the constants are set here, not
     * passed in, since GCC may give equal input values one register (zero would share t1's). */
    __asm volatile(
        "mov %[m55], #0x55555555\n\t"
        "mov %[m33], #0x33333333\n\t"
        "mov %[zero], #0\n\t"
        "1:\n\t"
        "ldmia %[x]!, {r0, r1, r2}\n\t"
        "ldmia %[w]!, {r3, r4, r5}\n\t"
        "eors r0, r3\n\t"
        "eors r1, r4\n\t"
        "eors r2, r5\n\t"
        /* carry-save: r4 = ones = r0^r1^r2, r5 = twos = r0 ^ ((r0^r2) & (r0^r1)) */
        "eor r3, r0, r1\n\t"
        "eor r4, r3, r2\n\t"
        "eor r5, r0, r2\n\t"
        "ands r5, r3\n\t"
        "eors r5, r0\n\t"
        /* nibble counts of ones (r4) and twos (r5) */
        "and r3, %[m55], r4, lsr #1\n\t"
        "subs r4, r4, r3\n\t"
        "and r3, %[m33], r4, lsr #2\n\t"
        "and r4, r4, %[m33]\n\t"
        "add r4, r3\n\t"
        "and r3, %[m55], r5, lsr #1\n\t"
        "subs r5, r5, r3\n\t"
        "and r3, %[m33], r5, lsr #2\n\t"
        "and r5, r5, %[m33]\n\t"
        "add r5, r3\n\t"
        /* s = ones + 2 * twos (<= 12 per nibble); h = its high nibbles; s - 15 h = lo + hi
         * per byte (<= 24, no borrow), summed by USADA8 */
        "add r4, r4, r5, lsl #1\n\t"
        "lsrs r3, r4, #4\n\t"
        "and r3, r3, #0x0F0F0F0F\n\t"
        "sub r4, r4, r3, lsl #4\n\t"
        "add r4, r3\n\t"
        "usada8 %[t1], r4, %[zero], %[t1]\n\t"
        "subs %[k], %[k], #1\n\t"
        "bne 1b\n\t"
        : [x] "+r"(xp), [w] "+r"(wp), [k] "+r"(k), [t1] "+r"(t1),
          [m55] "=&r"(m55), [m33] "=&r"(m33), [zero] "=&r"(zero)
        :
        : "r0", "r1", "r2", "r3", "r4", "r5", "cc", "memory");
    *x = xp, *w = wp;
    a->all = t1;
}
#endif

/* mism[0..B-1] for the B rows starting at w (B <= BLOCK). */
static inline void rows_swar(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t b,
                             uint32_t *mism) {
    masks m;
    uint32_t total[BLOCK] = {0}, i = 0, j;
    m.m55 = in_register(0x55555555u), m.m33 = in_register(0x33333333u);
    m.m0f = in_register(0x0F0F0F0Fu);
    while (i + 3u <= n) {
        acc_t acc[BLOCK];
        uint32_t steps = (n - i) / 3u, s;
        if (steps > TRIPLES) steps = TRIPLES;
        UNROLL for (j = 0; j < b; j++) acc[j] = (acc_t){0};
#if defined(TRIPLES_ASM)
        if (b == 1u) {
            const uint32_t *xp = x + i, *wp = w + i;
            triples_asm(&xp, &wp, steps, &acc[0]);
            i += 3u * steps;
            steps = 0;
        }
#endif
        for (s = 0; s < steps; s++, i += 3u) {
            uint32_t x0 = x[i], x1 = x[i + 1], x2 = x[i + 2];
            UNROLL for (j = 0; j < b; j++) {
                const uint32_t *r = w + (size_t)j * n + i;
                acc_add(&acc[j], triple(x0 ^ r[0], x1 ^ r[1], x2 ^ r[2], &m), &m);
            }
        }
        UNROLL for (j = 0; j < b; j++) total[j] += acc_count(&acc[j]);
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
