/* Portable blocked kernel, the Cortex-M4/M7 one (and the fallback of any CPU without a better
 * one): SWAR popcount without a popcount instruction or libgcc call.
 *  - Portable C: three words are counted into nibbles (<= 12 each), folded into byte counters,
 *    and the bytes are summed only every 10 triples; each loaded input word serves BLOCK
 *    output channels.
 *  - Cortex-M with the DSP extension (M4, M7, M33, M55): Thumb-2 assembly, a Harley-Seal
 *    carry-save tree over 16-word blocks (ones, twos, fours, eights carried as bit-sliced
 *    counters, one popcount of the sixteens per block), every row in one call: 7.3
 *    instructions per word inside a block, about 42 per row (restart, the weighted popcount
 *    of the four counters, the store). GCC at -O2 would spill (14 registers are all in use)
 *    and apply masks as immediates. */
#include "kernels.h"

#if defined(EBNN_T2_ASM)
#define T2_ASM 1 /* Thumb-2 with USAD8: Cortex-M with DSP and ARMv7-A (kernels.h) */
#endif
#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M' && defined(__ARM_FEATURE_DSP)
#define HS_ASM 1
#elif defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
#define BLOCK 2u /* 13 usable registers: two channels keep everything in registers */
#else
#define BLOCK 4u
#endif
#if defined(T2_ASM)
/* The popcount of register v into byte counts (<= 8 each), t scratch, masks 0x55.., 0x33..,
 * 0x0F.. */
#define SR_BYTES(v) \
    "and %[t], %[m1], %[" v "], lsr #1\n\t" \
    "sub %[" v "], %[" v "], %[t]\n\t" \
    "and %[t], %[m2], %[" v "], lsr #2\n\t" \
    "and %[" v "], %[" v "], %[m2]\n\t" \
    "add %[" v "], %[" v "], %[t]\n\t" \
    "add %[" v "], %[" v "], %[" v "], lsr #4\n\t" \
    "and %[" v "], %[" v "], %[m4]\n\t"
/* One row of one word: x XOR w, its byte counts summed by USAD8 (z = 0). */
#define SR_ONE(v) \
    "eor %[" v "], %[" v "], %[x]\n\t" SR_BYTES(v) "usad8 %[" v "], %[" v "], %[z]\n\t"
/* Rows of 1-7 words (1x1 layers and dense layers of few channels), where the Harley-Seal
 * block's setup and row total cost more than they save: per word x XOR w into byte counts
 * (10 instructions), summed by USAD8 once per row. Rows of one word (x in a register, no
 * word loop): two rows per LDRD/STRD, 11 instructions per row; longer rows 13 per word and 7
 * per row. n >= 1. */
void ebnn_swar_xorpop_short(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t rows,
                            uint32_t *mism) {
    uint32_t m1 = 0x55555555u, m2 = 0x33333333u, m4 = 0x0F0F0F0Fu, v, u, t;
    if (rows == 0u) return;
    if (n == 1u)
        /* an odd row first (LSRS: its carry), then the pairs (Z: none) */
        __asm volatile("lsrs %[r], %[r], #1\n\t"
                       "bcc 2f\n\t"
                       "ldr %[v], [%[w]], #4\n\t" SR_ONE("v")
                       "str %[v], [%[o]], #4\n\t"
                       "2:\n\t"
                       "beq 3f\n\t"
                       "1:\n\t"
                       "ldrd %[v], %[u], [%[w]], #8\n\t" SR_ONE("v") SR_ONE("u")
                       "strd %[v], %[u], [%[o]], #8\n\t"
                       "subs %[r], %[r], #1\n\t"
                       "bne 1b\n\t"
                       "3:\n\t"
                       : [w] "+r"(w), [o] "+r"(mism), [r] "+r"(rows), [v] "=&r"(v), [u] "=&r"(u),
                         [t] "=&r"(t)
                       : [x] "r"(x[0]), [m1] "r"(m1), [m2] "r"(m2), [m4] "r"(m4), [z] "r"(0u)
                       : "cc", "memory");
    else {
        uint32_t acc, k;
        /* k is 0 after a row's words: the zero USAD8 subtracts */
        __asm volatile("1:\n\t"
                       "mov %[k], %[n]\n\t"
                       "mov %[a], #0\n\t"
                       "2:\n\t"
                       "ldr %[v], [%[x]], #4\n\t"
                       "ldr %[t], [%[w]], #4\n\t"
                       "eor %[v], %[v], %[t]\n\t" SR_BYTES("v")
                       "add %[a], %[a], %[v]\n\t"
                       "subs %[k], %[k], #1\n\t"
                       "bne 2b\n\t"
                       "usad8 %[a], %[a], %[k]\n\t"
                       "str %[a], [%[o]], #4\n\t"
                       "sub %[x], %[x], %[n], lsl #2\n\t"
                       "subs %[r], %[r], #1\n\t"
                       "bne 1b\n\t"
                       : [x] "+r"(x), [w] "+r"(w), [o] "+r"(mism), [r] "+r"(rows), [v] "=&r"(v),
                         [t] "=&r"(t), [a] "=&r"(acc), [k] "=&r"(k)
                       : [n] "r"(n), [m1] "r"(m1), [m2] "r"(m2), [m4] "r"(m4)
                       : "cc", "memory");
    }
}
#endif

#if defined(HS_ASM)
/* Harley-Seal over 16-word blocks, every row in one call (Thumb-2 with DSP).
 * Registers: r0-r3 the carried bit-sliced counters ones, twos, fours, eights of the row; r4 the
 * byte counters of the blocks' popcounts of sixteens; r5-r7 the tree's pending eights, fours
 * and twos; r8-r10 and lr loads and scratch; r11 the weights (rows are contiguous, so it
 * never rewinds); r12 the window.
 * CSA(acc, b, c, u, d): acc, d = the sum and carry of acc + b + c (5 instructions, u scratch). */
#define HS_CSA(acc, b, c, u, d) \
    "eor " u ", " acc ", " b "\n\t" \
    "and " d ", " acc ", " b "\n\t" \
    "eor " acc ", " u ", " c "\n\t" \
    "and " u ", " u ", " c "\n\t" \
    "orr " d ", " d ", " u "\n\t"
/* Two words of x XOR w into r8, r9 (w's second register is the free one, f). */
#define HS_LOAD(f) \
    "ldm r12!, {r8, r9}\n\t" \
    "ldm r11!, {" f ", r10}\n\t" \
    "eor r8, r8, " f "\n\t" \
    "eor r9, r9, r10\n\t"
/* The block's last 3 pairs (the first 5 are quads, below): the twos and fours each pair leaves
 * pending (r7, r6; the eights of pairs 1-4 pending in r5); the last pair's eights are left in
 * r6 for the caller's CSA into eights. */
#define HS_P6 \
    HS_LOAD("r6") HS_CSA("r0", "r8", "r9", "r10", "r8") HS_CSA("r1", "r7", "r8", "r10", "r6")
#define HS_P7 HS_LOAD("r7") HS_CSA("r0", "r8", "r9", "r10", "r7")
/* r5-r7 pending: w's pair into r10, lr */
#define HS_P8 \
    "ldm r12!, {r8, r9}\n\t" \
    "ldm r11!, {r10, lr}\n\t" \
    "eor r8, r8, r10\n\t" \
    "eor r9, r9, lr\n\t" \
    HS_CSA("r0", "r8", "r9", "r10", "r8") HS_CSA("r1", "r7", "r8", "r10", "r7") \
    HS_CSA("r2", "r6", "r7", "r10", "r6")
/* Pairs 1-2 (and 5-6) of a whole block as one quad: 4 words of x in one LDM (r8-r10, lr),
 * w's in two; r5 untouched, the fours left in r6. */
#define HS_Q1 \
    "ldm r12!, {r8, r9, r10, lr}\n\t" \
    "ldm r11!, {r6, r7}\n\t" \
    "eor r8, r8, r6\n\t" \
    "eor r9, r9, r7\n\t" \
    HS_CSA("r0", "r8", "r9", "r6", "r7") \
    "ldm r11!, {r8, r9}\n\t" \
    "eor r10, r10, r8\n\t" \
    "eor lr, lr, r9\n\t" \
    HS_CSA("r0", "r10", "lr", "r8", "r10") HS_CSA("r1", "r7", "r10", "r8", "r6")
/* Pairs 3-4 as a quad, r6 pending: the eights left in r5. */
#define HS_Q2 \
    "ldm r12!, {r8, r9, r10, lr}\n\t" \
    "ldm r11!, {r5, r7}\n\t" \
    "eor r8, r8, r5\n\t" \
    "eor r9, r9, r7\n\t" \
    HS_CSA("r0", "r8", "r9", "r5", "r7") \
    "ldm r11!, {r5, r8}\n\t" \
    "eor r10, r10, r5\n\t" \
    "eor lr, lr, r8\n\t" \
    HS_CSA("r0", "r10", "lr", "r5", "r10") HS_CSA("r1", "r7", "r10", "r5", "r7") \
    HS_CSA("r2", "r6", "r7", "r8", "r5")
/* The odd word of a row goes into ones (zero at the row start), then the pairs from label. */
#define HS_ODD1 \
    "ldr r8, [r12], #4\n\t" \
    "ldr r10, [r11], #4\n\t" \
    "eor r0, r8, r10\n\t"
#define HS_ODD(label) HS_ODD1 "b " label "\n\t"
/* CSA as HS_CSA, the sum to s (which may be a), the carry to d: d, s = carry and sum of
 * a + b + c (u, v scratch). */
#define HS_FA(a, b, c, s, d, u, v) \
    "eor " u ", " a ", " b "\n\t" \
    "and " v ", " a ", " b "\n\t" \
    "eor " s ", " u ", " c "\n\t" \
    "and " u ", " u ", " c "\n\t" \
    "orr " d ", " v ", " u "\n\t"
/* A row's first 8 words (of n mod 16 >= 8) and the ones already in r0 (its odd word or zero)
 * as a tree of carry-save adders from zero counters, 44 instructions (the pairs' path took 52:
 * its first adders add zeros): three adders of 3 inputs, one of their sums (ones, r0), one of
 * their 4 carries and one half adder (twos, r1), one half adder of the fours (r2), eights
 * pending in r5 as after pair 4, r3, r6, r7 zero from the frame. */
#define HS_TREE8 \
    "ldm r12!, {r1, r2, r3, r5}\n\t" \
    "ldm r11!, {r6, r7, r8, r9}\n\t" \
    "eor r1, r1, r6\n\t" \
    "eor r2, r2, r7\n\t" \
    "eor r3, r3, r8\n\t" \
    "eor r5, r5, r9\n\t" HS_FA("r0", "r1", "r2", "r0", "r1", "r6", "r7") \
    "ldm r12!, {r2, r6}\n\t" \
    "ldm r11!, {r7, r8}\n\t" \
    "eor r2, r2, r7\n\t" \
    "eor r6, r6, r8\n\t" HS_FA("r3", "r5", "r2", "r3", "r2", "r7", "r8") \
    "ldm r12!, {r7, r8}\n\t" \
    "ldm r11!, {r9, r10}\n\t" \
    "eor r7, r7, r9\n\t" \
    "eor r8, r8, r10\n\t" HS_FA("r6", "r7", "r8", "r6", "r5", "r9", "r10") \
    HS_FA("r0", "r3", "r6", "r0", "r3", "r9", "r10") \
    HS_FA("r1", "r2", "r5", "r1", "r2", "r9", "r10") \
    "and r6, r1, r3\n\t" \
    "eor r1, r1, r3\n\t" \
    "and r5, r2, r6\n\t" \
    "eor r2, r2, r6\n\t" \
    "ldm sp, {r3, r6, r7}\n\t"
/* Bit counts of r in its nibbles (masks 0x55.. in r5, 0x33.. in r6). */
#define HS_NIB(r) \
    "and r9, r5, " r ", lsr #1\n\t" \
    "sub " r ", " r ", r9\n\t" \
    "and r9, r6, " r ", lsr #2\n\t" \
    "and " r ", " r ", r6\n\t" \
    "add " r ", " r ", r9\n\t"

/* mism[r] = popcount(x XOR w[r n .. r n + n - 1]) for r < rows; 1 <= n <= 496 (the byte
 * counters take 8 per block, 31 blocks), rows >= 1, x and w 4-byte aligned.
 * Per 16 words: 13 loads (three quads: 4 words of x in one LDM, w's in two; two pairs), 16 EOR,
 * 15 CSAs (75), the popcount of sixteens into byte counters (10), the loop (3): 117, 7.3 per
 * word. A row's n mod 16 words come first (counts below 16, so no popcount), entered by a
 * table branch: its odd word straight into ones, then, when they are 8 or more, 8 words
 * through a carry-save tree from zero counters (HS_TREE8), and the last 0-3 pairs through a
 * copy of the block's last pairs (the pending sums zero, or the tree's eights). Per row about
 * 42 more: restart (one LDM of zeros and the window from the frame, the TBH), ones + 2 twos +
 * 4 fours + 8 eights as nibble then byte counts summed by USAD8 (34 with the masks' loads),
 * plus 16 x the byte counters, the store.
 * Frame: [0..7] zeros, [8] entry index, [9] x, [10] mism, [11] mism end, [12..15] the masks
 * 0x55555555, 0x33333333, 0x0F0F0F0F and 0, [16] the window's end, [17] the pairs after the
 * tree (index - 4). */
#define HS_ARG __attribute__((unused)) /* read by the assembly, from r0-r3 and the stack */
__attribute__((naked, noinline)) static void hs_rows(HS_ARG const uint32_t *x,
                                                     HS_ARG const uint32_t *w, HS_ARG uint32_t n,
                                                     HS_ARG uint32_t rows, HS_ARG uint32_t *mism) {
    __asm volatile(
        "push {r4-r11, lr}\n\t"
        "ldr r4, [sp, #36]\n\t" /* mism */
        "sub sp, sp, #72\n\t"
        "add r5, r0, r2, lsl #2\n\t"
        "str r5, [sp, #64]\n\t"
        "mov r11, r1\n\t"
        "mov r5, #0\n\t"
        "mov r6, #0\n\t"
        "strd r5, r6, [sp]\n\t"
        "strd r5, r6, [sp, #8]\n\t"
        "strd r5, r6, [sp, #16]\n\t"
        "strd r5, r6, [sp, #24]\n\t"
        /* entry index: (n / 2) mod 8 pairs before the first whole block, + 8 when n is odd;
         * from 4 pairs on the tree's 8 words first, then the last index - 4 pairs */
        "ubfx r5, r2, #1, #3\n\t"
        "sub r6, r5, #4\n\t"
        "str r6, [sp, #68]\n\t"
        "and r6, r2, #1\n\t"
        "add r5, r5, r6, lsl #3\n\t"
        "strd r5, r0, [sp, #32]\n\t"
        "add r3, r4, r3, lsl #2\n\t"
        "strd r4, r3, [sp, #40]\n\t"
        "mov r5, #0x55555555\n\t"
        "mov r6, #0x33333333\n\t"
        "strd r5, r6, [sp, #48]\n\t"
        "mov r5, #0x0F0F0F0F\n\t"
        "mov r6, #0\n\t"
        "strd r5, r6, [sp, #56]\n\t"
        "1:\n\t" /* row */
        "ldm sp, {r0-r7, r10, r12}\n\t"
        "tbh [pc, r10, lsl #1]\n\t"
        "0:\n\t"
        ".hword (11f - 0b) / 2, (18f - 0b) / 2, (17f - 0b) / 2, (16f - 0b) / 2\n\t"
        ".hword (41f - 0b) / 2, (41f - 0b) / 2, (41f - 0b) / 2, (41f - 0b) / 2\n\t"
        ".hword (21f - 0b) / 2, (28f - 0b) / 2, (27f - 0b) / 2, (26f - 0b) / 2\n\t"
        ".hword (40f - 0b) / 2, (40f - 0b) / 2, (40f - 0b) / 2, (40f - 0b) / 2\n\t"
        /* the row's first n mod 16 words: counts < 16, so no sixteens (eights = the sum) */
        "40:\n\t" HS_ODD1
        "41:\n\t" HS_TREE8
        "ldr r8, [sp, #68]\n\t"
        "tbb [pc, r8]\n\t"
        "42:\n\t"
        ".byte (19f - 42b) / 2, (18f - 42b) / 2, (17f - 42b) / 2, (16f - 42b) / 2\n\t"
        "16:\n\t" HS_P6 "17:\n\t" HS_P7 "18:\n\t" HS_P8
        "19:\n\t"
        "eor r3, r5, r6\n\t"
        "20:\n\t"
        "ldr r8, [sp, #64]\n\t"
        "cmp r12, r8\n\t"
        "beq 30f\n\t"
        "11:\n\t" /* whole blocks */
        HS_Q1 HS_Q2 HS_Q1 HS_P7 HS_P8
        HS_CSA("r3", "r5", "r6", "r10", "r5")
        /* popcount of sixteens into byte counters */
        "lsr r8, r5, #1\n\t"
        "and r8, r8, #0x55555555\n\t"
        "sub r5, r5, r8\n\t"
        "lsr r8, r5, #2\n\t"
        "and r8, r8, #0x33333333\n\t"
        "and r5, r5, #0x33333333\n\t"
        "add r5, r5, r8\n\t"
        "add r5, r5, r5, lsr #4\n\t"
        "and r5, r5, #0x0F0F0F0F\n\t"
        "add r4, r4, r5\n\t"
        "ldr r8, [sp, #64]\n\t"
        "cmp r12, r8\n\t"
        "bne 11b\n\t"
        "30:\n\t"
        /* row total: ones + 2 twos (<= 12 per nibble), fours + 2 eights, to bytes, A + 4B */
        "ldrd r5, r6, [sp, #48]\n\t"
        "ldrd r7, r8, [sp, #56]\n\t"
        HS_NIB("r0") HS_NIB("r1") HS_NIB("r2") HS_NIB("r3")
        "add r0, r0, r1, lsl #1\n\t"
        "add r2, r2, r3, lsl #1\n\t"
        "and r9, r7, r0, lsr #4\n\t"
        "and r0, r0, r7\n\t"
        "add r0, r0, r9\n\t"
        "and r9, r7, r2, lsr #4\n\t"
        "and r2, r2, r7\n\t"
        "add r2, r2, r9\n\t"
        "add r0, r0, r2, lsl #2\n\t"
        "usad8 r0, r0, r8\n\t"
        "usad8 r9, r4, r8\n\t"
        "add r0, r0, r9, lsl #4\n\t"
        "ldrd r9, r10, [sp, #40]\n\t"
        "str r0, [r9], #4\n\t"
        "str r9, [sp, #40]\n\t"
        "cmp r9, r10\n\t"
        "bne 1b\n\t"
        "add sp, sp, #72\n\t"
        "pop {r4-r11, pc}\n\t"
        /* odd rows: the first word, then the pairs */
        "21:\n\t" HS_ODD("20b")
        "26:\n\t" HS_ODD("16b")
        "27:\n\t" HS_ODD("17b")
        "28:\n\t" HS_ODD("18b"));
}

/* Spans of at most HS_SPAN words keep the byte counters from overflowing. Rows shorter than
 * HS_MIN words go through ebnn_swar_xorpop_short, cheaper there than the tree's 42 per row. */
#define HS_SPAN 496u
#define HS_MIN 8u

static void xorpop_hs(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t rows,
                      uint32_t *mism) {
    uint32_t r, i, part;
    if (n < HS_MIN || rows == 0u) {
        ebnn_swar_xorpop_short(x, w, n, rows, mism);
        return;
    }
    if (n <= HS_SPAN) {
        hs_rows(x, w, n, rows, mism);
        return;
    }
    for (r = 0; r < rows; r++) {
        uint32_t total = 0;
        for (i = 0; i < n; i += HS_SPAN) {
            hs_rows(x + i, w + (size_t)r * n + i, n - i < HS_SPAN ? n - i : HS_SPAN, 1u, &part);
            total += part;
        }
        mism[r] = total;
    }
}
#else
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
#if defined(T2_ASM)
    if (n < 8u) { /* ARMv7-A: rows of 1-7 words as on the Cortex-M */
        ebnn_swar_xorpop_short(x, w, n, rows, mism);
        return;
    }
#endif
    /* The constant block size lets the compiler keep the counters in registers. */
    for (; r + BLOCK <= rows; r += BLOCK) rows_swar(x, w + (size_t)r * n, n, BLOCK, mism + r);
    for (; r < rows; r++) rows_swar(x, w + (size_t)r * n, n, 1u, mism + r);
}

#endif

#if defined(HS_ASM)
/* The fused output step (ebnn_cut_bits_fn): CMP sets the carry for mism >= cut and ADC shifts
 * it into the word (b = 2b + C), from the top value down, four values per pair of LDMDB; the
 * word is then the complement of the bits. 2.5 instructions per value and the loop's 2 per 4.
 * (The SIMD compares USUB8/USUB16 + SEL need counts in bytes or halfwords; the counts and cuts
 * are words, up to a layer's term count.) */
static void cut_bits_hs(const uint32_t *mism, const uint32_t *cut, uint32_t rows,
                        uint32_t *bits) {
    uint32_t j;
    for (j = 0; j < rows; j += 32u) {
        uint32_t n = rows - j < 32u ? rows - j : 32u, k = n / 4u, b = 0, i;
        const uint32_t *m = mism + j + 4u * k, *c = cut + j + 4u * k;
        for (i = n; i-- > 4u * k;) b = (b << 1) | (mism[j + i] >= cut[j + i]);
        if (k != 0u)
            __asm volatile("1:\n\t"
                           "ldmdb %[m]!, {r4, r5, r6, r8}\n\t"
                           "ldmdb %[c]!, {r9, r10, r11, r12}\n\t"
                           "cmp r8, r12\n\tadc %[b], %[b], %[b]\n\t"
                           "cmp r6, r11\n\tadc %[b], %[b], %[b]\n\t"
                           "cmp r5, r10\n\tadc %[b], %[b], %[b]\n\t"
                           "cmp r4, r9\n\tadc %[b], %[b], %[b]\n\t"
                           "subs %[k], %[k], #1\n\t"
                           "bne 1b\n\t"
                           : [m] "+r"(m), [c] "+r"(c), [b] "+r"(b), [k] "+r"(k)
                           :
                           : "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "cc", "memory");
        bits[j >> 5] = n < 32u ? ~b & ((1u << n) - 1u) : ~b;
    }
}
#define CUT_BITS cut_bits_hs
#else
#define CUT_BITS NULL /* the reference's loop is what GCC makes of it */
#endif

#if defined(T2_ASM)
/* One value of thresh_bits_t2: y' = T' - 2m is y with its sign bit flipped (T' = terms ^ 2^31),
 * t' the same of t, so that the unsigned y' - t' - flip (SBCS: the carry in is the inverted
 * flip bit, shifted out of the top of b, where the inverted flip word starts) carries out
 * exactly when y >= t + flip, i.e. y >= t, or y > t for a flip; ADC puts that carry into b's
 * bit 0, which the shift left free. The word is then XOR-ed with the flips (y > t flipped is
 * y <= t). 5 instructions, no overflow for any int32 t. */
#define TB_STEP(m, t) \
    "sub " m ", %[tb], " m ", lsl #1\n\t" \
    "eor " t ", " t ", #0x80000000\n\t" \
    "lsls %[b], %[b], #1\n\t" \
    "sbcs " m ", " m ", " t "\n\t" \
    "adc %[b], %[b], #0\n\t"
/* The few-pixel output step (ebnn_thresh_bits_fn), from the top value down: the word's
 * n mod 4 top values one at a time, then four per pair of LDMDB: 6 instructions per value
 * (before: 12 on Cortex-M, and the reference's loop of about 20 on ARMv7). */
static void thresh_bits_t2(const uint32_t *mism, const int32_t *thresholds, const uint32_t *flip,
                           uint32_t c0, uint32_t rows, uint32_t terms, uint32_t *bits) {
    uint32_t j, tb = terms ^ 0x80000000u;
    for (j = 0; j < rows; j += 32u) {
        uint32_t n = rows - j < 32u ? rows - j : 32u, k = n / 4u, odd = n % 4u;
        uint32_t fw = ebnn_bits_at(flip, c0 + j, n), b = ~fw << (32u - n) % 32u;
        const uint32_t *m = mism + j + n;
        const int32_t *t = thresholds + c0 + j + n;
        if (odd != 0u)
            __asm volatile("1:\n\t"
                           "ldr r4, [%[m], #-4]!\n\t"
                           "ldr r5, [%[t], #-4]!\n\t" TB_STEP("r4", "r5")
                           "subs %[k], %[k], #1\n\t"
                           "bne 1b\n\t"
                           : [m] "+r"(m), [t] "+r"(t), [b] "+r"(b), [k] "+r"(odd)
                           : [tb] "r"(tb)
                           : "r4", "r5", "cc", "memory");
        if (k != 0u)
            __asm volatile("1:\n\t"
                           "ldmdb %[m]!, {r4, r5, r6, r8}\n\t"
                           "ldmdb %[t]!, {r9, r10, r11, r12}\n\t"
                           TB_STEP("r8", "r12") TB_STEP("r6", "r11") TB_STEP("r5", "r10")
                           TB_STEP("r4", "r9")
                           "subs %[k], %[k], #1\n\t"
                           "bne 1b\n\t"
                           : [m] "+r"(m), [t] "+r"(t), [b] "+r"(b), [k] "+r"(k)
                           : [tb] "r"(tb)
                           : "r4", "r5", "r6", "r8", "r9", "r10", "r11", "r12", "cc", "memory");
        bits[j >> 5] = b ^ fw;
    }
}
#define THRESH_BITS thresh_bits_t2
#else
#define THRESH_BITS NULL /* the reference's loop is what GCC makes of it */
#endif

#if defined(HS_ASM)
#define XORPOP xorpop_hs
#else
#define XORPOP xorpop_swar
#endif

/* The row. On ARM also the 8-bit first layer without SIMD (swar_u8.c), the depthwise and the
 * other ops of arm_*.c (which only compile there), and on Cortex-M4/M7/M33 the output-sliced
 * convolution on the load-time repack (swar_sliced.c); elsewhere the reference does those. */
const ebnn_kernel ebnn_kernel_swar = {
    .name = "swar", .xorpop = XORPOP, .cut_bits = CUT_BITS,
    .thresh_bits = THRESH_BITS,
#if defined(EBNN_SLICED)
    .conv_bin = ebnn_swar_sliced_conv2d, .pack_size = ebnn_swar_sliced_pack_size,
    .pack = ebnn_swar_sliced_pack,
#endif
#if defined(__arm__) || defined(__aarch64__)
    .conv_u8 = ebnn_swar_u8_conv2d, .depthwise = ebnn_arm_depthwise_conv2d,
    .threshold = ebnn_arm_threshold, .maxpool = ebnn_arm_maxpool, .binarize = ebnn_arm_binarize,
#endif
};
