/* Cortex-M0/M0+ kernel (ARMv6-M: Thumb-1 only, no DSP, no popcount instruction, 8 low
 * registers for nearly every data operation). The row primitive is a SWAR popcount in
 * assembly over runs of six words, scheduled so that nothing spills:
 *  - per word: x XOR w (x loaded two at a time, w one at a time into the scratch register),
 *    then its 2-bit and 4-bit counts (7 instructions: the masks 0x55.. and 0x33.. stay in r3,
 *    r4);
 *  - three words' nibble counts (<= 12 each) are added, folded once into byte counts (<= 24:
 *    4 instructions, 0x0F0F0F0F in r5) and added to a byte accumulator kept in the high
 *    register r8 (ADD high, low is the one Thumb-1 add that reaches it);
 *  - 74 instructions per six words with the loop (12.3 per word, 0.39 per binary MAC), the
 *    GCC -O2 code of swar.c's portable path takes about 27 per word on this core.
 * The accumulator's bytes take at most 10 triples (240), so a call counts up to 5 runs (30
 * words); C sums its bytes, counts the last n mod 6 words a word at a time, and loops over the
 * rows. Everything else is swar.c's ARM row (arm_*.c, swar_u8.c), which compiles for v6-M. */
#include "kernels.h"

#if defined(__ARM_ARCH_6M__)

#define RUN_WORDS 6u
#define MAX_RUNS 5u   /* 10 triples x 24 <= 255 per byte counter */

/* The 4-bit counts of register r in its nibbles (r2 scratch, masks in r3 and r4). */
#define V6M_NIB(r) \
    "lsrs r2, " r ", #1\n\t" \
    "ands r2, r3\n\t" \
    "subs " r ", " r ", r2\n\t" \
    "lsrs r2, " r ", #2\n\t" \
    "ands r2, r4\n\t" \
    "ands " r ", r4\n\t" \
    "adds " r ", " r ", r2\n\t"
/* Three words of x XOR w: their nibble counts summed (<= 12), as byte counts into r8. */
#define V6M_TRIPLE \
    "ldm r0!, {r6, r7}\n\t" \
    "ldm r1!, {r2}\n\t" \
    "eors r6, r2\n\t" \
    "ldm r1!, {r2}\n\t" \
    "eors r7, r2\n\t" \
    V6M_NIB("r6") V6M_NIB("r7") \
    "adds r6, r6, r7\n\t" \
    "ldm r0!, {r7}\n\t" \
    "ldm r1!, {r2}\n\t" \
    "eors r7, r2\n\t" \
    V6M_NIB("r7") \
    "adds r6, r6, r7\n\t" \
    "lsrs r2, r6, #4\n\t" \
    "ands r2, r5\n\t" \
    "ands r6, r5\n\t" \
    "adds r6, r6, r2\n\t" \
    "add r8, r6\n\t"

/* Byte counters of popcount(x XOR w) over runs * 6 words (1 <= runs <= MAX_RUNS): each byte
 * of the result <= 240. r0 = x, r1 = w, r2 = runs on entry; r12 the end of x. */
#define V6M_ARG __attribute__((unused)) /* read by the assembly, from r0-r2 */
__attribute__((naked, noinline)) static uint32_t v6m_runs(V6M_ARG const uint32_t *x,
                                                          V6M_ARG const uint32_t *w,
                                                          V6M_ARG uint32_t runs) {
    __asm volatile(
        ".syntax unified\n\t"   /* GCC's Thumb-1 output is divided syntax: back at the end */
        "push {r4-r7, lr}\n\t"
        "mov r3, r8\n\t"
        "push {r3}\n\t"
        "lsls r3, r2, #3\n\t"      /* runs * 24 bytes = runs * 8 + runs * 16 */
        "lsls r2, r2, #4\n\t"
        "adds r2, r2, r3\n\t"
        "adds r2, r2, r0\n\t"
        "mov r12, r2\n\t"
        "movs r2, #0\n\t"
        "mov r8, r2\n\t"
        "ldr r3, =0x55555555\n\t"
        "ldr r4, =0x33333333\n\t"
        "ldr r5, =0x0F0F0F0F\n\t"
        "1:\n\t"
        V6M_TRIPLE V6M_TRIPLE
        "cmp r0, r12\n\t"
        "bne 1b\n\t"
        "mov r0, r8\n\t"
        "pop {r3}\n\t"
        "mov r8, r3\n\t"
        "pop {r4-r7, pc}\n\t"
        ".ltorg\n\t"
        ".syntax divided\n\t");
}

/* Sum of the four byte counters of a (each <= 240). */
static inline uint32_t byte_sum(uint32_t a) {
    a = (a & 0x00FF00FFu) + ((a >> 8) & 0x00FF00FFu);
    return (a + (a >> 16)) & 0xFFFFu;
}

static void xorpop_v6m(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t rows,
                       uint32_t *mism) {
    uint32_t r, i, runs;
    for (r = 0; r < rows; r++, w += n) {
        uint32_t total = 0;
        for (i = 0; i + RUN_WORDS <= n; i += runs * RUN_WORDS) {
            runs = (n - i) / RUN_WORDS;
            if (runs > MAX_RUNS) runs = MAX_RUNS;
            total += byte_sum(v6m_runs(x + i, w + i, runs));
        }
        for (; i < n; i++) total += ebnn_popcount32(x[i] ^ w[i]);
        mism[r] = total;
    }
}

/* The row: this primitive, and swar.c's ARM operations. */
const ebnn_kernel ebnn_kernel_armv6m = {
    .name = "armv6m", .xorpop = xorpop_v6m,
    .conv_u8 = ebnn_swar_u8_conv2d, .depthwise = ebnn_arm_depthwise_conv2d,
    .threshold = ebnn_arm_threshold, .maxpool = ebnn_arm_maxpool, .binarize = ebnn_arm_binarize,
};

#else
typedef int ebnn_armv6m_unused;
#endif
