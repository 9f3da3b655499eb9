/* Helium (MVE) kernel, Cortex-M55 and later: MVE has no vector popcount (no VCNT), so each
 * XOR-ed 128-bit vector is counted with a byte gather from a 256-entry popcount table
 * (VLDRB.U8 Q, [table, Q]) and summed across the vector into a scalar counter (VADDVA.U8, no
 * overflow: 32-bit accumulate). Four output channels share each loaded input vector; the last
 * 1-3 words of a row come in with tail predication (VCTP32, zeroing loads: zero bytes count 0).
 * Per vector and channel: load, EOR, gather, add-across = 4 instructions per 128 binary MACs
 * plus a quarter of the input load and the predicate. Selected at compile time
 * (__ARM_FEATURE_MVE, e.g. -mcpu=cortex-m55). On hardware a 16-byte gather takes several
 * cycles per beat; this kernel minimises instructions, which is what the benchmark counts. */
#include "kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>

/* Popcount of every byte value, built from the recurrence pop(4a+b) = pop(a) + pop(b) (also
 * the gather table of mve_lanes.c). */
#define P2(n) n, n + 1, n + 1, n + 2
#define P4(n) P2(n), P2(n + 1), P2(n + 1), P2(n + 2)
#define P6(n) P4(n), P4(n + 1), P4(n + 1), P4(n + 2)
const uint8_t ebnn_mve_pop8[256] = {P6(0), P6(1), P6(1), P6(2)};

/* Popcount bytes of x XOR w. */
static inline uint8x16_t pop_xor(uint32x4_t xv, uint32x4_t wv) {
    return vldrbq_gather_offset_u8(ebnn_mve_pop8, vreinterpretq_u8_u32(veorq_u32(xv, wv)));
}

/* Blocks of 4 rows in assembly (GCC's loop spent 3 instructions a step on its counter and
 * about 30 a block on spilled pointers): mve_rows(x, w, n, blocks, mism, table) for n >= 2.
 * Registers: r0 the window, r1/r5/r7/r9 the block's 4 rows, r2 whole vectors per row, r3 the
 * blocks left, r4/r6/r8/r10 the counts (VADDVA adds into even registers), r11 the table, r12
 * the row's bytes, lr the low-overhead loop's count; mism on the stack, below it 16 zero
 * bytes. Per vector step 18 instructions (the window's load, then per row load, VEOR,
 * gather, VADDVA; LE), per block 13 (the rows' pointers, the counts zeroed by one LDM, one
 * STM). The last n mod 4 words (MVE_TAIL): every load
 * under the VCTP32 predicate set once (zeroing loads: zero bytes count 0), 19 a block. */
#define MVE_ROW(wr, c) \
    "vldrw.u32 q0, [" wr "], #16\n\t" \
    "veor q0, q0, q3\n\t" \
    "vldrb.u8 q1, [r11, q0]\n\t" \
    "vaddva.u8 " c ", q1\n\t"
#define MVE_TAIL_ROW(q, c) \
    "veor " q ", " q ", q3\n\t" \
    "vldrb.u8 q1, [r11, " q "]\n\t" \
    "vaddva.u8 " c ", q1\n\t"
#define MVE_TAIL \
    "vpsttt\n\t" \
    "vldrwt.u32 q3, [r0]\n\t" \
    "vldrwt.u32 q0, [r1]\n\t" \
    "vldrwt.u32 q2, [r5]\n\t" MVE_TAIL_ROW("q0", "r4") MVE_TAIL_ROW("q2", "r6") \
    "vpstt\n\t" \
    "vldrwt.u32 q0, [r7]\n\t" \
    "vldrwt.u32 q2, [r9]\n\t" MVE_TAIL_ROW("q0", "r8") MVE_TAIL_ROW("q2", "r10")
/* the next block's first row: right after the last row (n mod 4 words past r9) */
#define MVE_NEXT_TAIL "add r1, r9, r12\n\tsub r1, r1, r2, lsl #4\n\t"
#define MVE_NEXT_WHOLE "mov r1, r9\n\t"
#define MVE_ROWS(name, tail, next) \
    __attribute__((naked, noinline)) static void name( \
        MVE_ARG const uint32_t *x, MVE_ARG const uint32_t *w, MVE_ARG uint32_t n, \
        MVE_ARG uint32_t blocks, MVE_ARG uint32_t *mism, MVE_ARG const uint8_t *table) { \
        __asm volatile("push {r4-r11, lr}\n\t" \
                       "movs r4, #0\n\t" \
                       "movs r6, #0\n\t" \
                       "mov r8, #0\n\t" \
                       "mov r10, #0\n\t" \
                       "push {r4, r6, r8, r10}\n\t" /* zeros for the counts */ \
                       "ldr r11, [sp, #56]\n\t" \
                       "and r12, r2, #3\n\t" \
                       "vctp.32 r12\n\t" \
                       "lsl r12, r2, #2\n\t" \
                       "lsr r2, r2, #2\n\t" \
                       "1:\n\t" \
                       "add r5, r1, r12\n\t" \
                       "add r7, r5, r12\n\t" \
                       "add r9, r7, r12\n\t" \
                       "ldm sp, {r4, r6, r8, r10}\n\t" \
                       "wls lr, r2, 3f\n\t" \
                       "2:\n\t" \
                       "vldrw.u32 q3, [r0], #16\n\t" \
                       MVE_ROW("r1", "r4") MVE_ROW("r5", "r6") MVE_ROW("r7", "r8") \
                       MVE_ROW("r9", "r10") \
                       "le lr, 2b\n\t" \
                       "3:\n\t" tail \
                       "sub r0, r0, r2, lsl #4\n\t" next \
                       "ldr r5, [sp, #52]\n\t" \
                       "stmia r5!, {r4, r6, r8, r10}\n\t" \
                       "str r5, [sp, #52]\n\t" \
                       "subs r3, r3, #1\n\t" \
                       "bne 1b\n\t" \
                       "add sp, sp, #16\n\t" \
                       "pop {r4-r11, pc}\n\t"); \
    }
#define MVE_ARG __attribute__((unused)) /* read by the assembly */
MVE_ROWS(mve_rows_tail, MVE_TAIL, MVE_NEXT_TAIL)
MVE_ROWS(mve_rows_whole, "", MVE_NEXT_WHOLE)

/* Rows of one word 4 per vector, blocks of 4 rows in assembly, the last rows % 4 in C: whole
 * vectors unpredicated (a predicated load costs a VPST more), the last 1-3 words under a
 * VCTP32 predicate with zeroing loads. */
static void xorpop_mve(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t rows,
                       uint32_t *mism) {
    uint32_t r, k, whole = n & ~3u;
    mve_pred16_t p;
    if (n == 1u) { /* 1x1 layers of <= 32 channels: 4 rows per vector */
        const uint32x4_t xv = vdupq_n_u32(x[0]), ones = vdupq_n_u32(0x01010101u);
        for (r = 0; r < rows; r += 4u) {
            mve_pred16_t q = vctp32q(rows - r);
            uint8x16_t b = pop_xor(xv, vldrwq_z_u32(w + r, q));
            /* the lane's 4 byte counts summed into its top byte */
            vstrwq_p_u32(mism + r, vshrq_n_u32(vmulq_u32(vreinterpretq_u32_u8(b), ones), 24), q);
        }
        return;
    }
    r = rows & ~3u;
    if (r != 0u)
        (whole < n ? mve_rows_tail : mve_rows_whole)(x, w, n, r / 4u, mism, ebnn_mve_pop8);
    p = vctp32q(n - whole);
    for (; r < rows; r++) {
        const uint32_t *wr = w + (size_t)r * n;
        uint32_t c = 0;
        for (k = 0; k < whole; k += 4u) c = vaddvaq_u8(c, pop_xor(vld1q_u32(x + k), vld1q_u32(wr + k)));
        if (whole < n)
            c = vaddvaq_u8(c, pop_xor(vldrwq_z_u32(x + whole, p), vldrwq_z_u32(wr + whole, p)));
        mism[r] = c;
    }
}

/* The fused output step (ebnn_cut_bits_fn) with the compare's predicate as the bits: per 4
 * values one VPT compare (cut > mism) predicating an add across of the lane weights
 * (VADDVAT; weights 1, 2, 4, 8, shifted by 4 per group): 5 instructions per 4 values with the
 * two loads, and the low-overhead loop's LE. In assembly because GCC moves each predicate
 * through a core register (VMRS, SXTH, VMSR: 12 instructions per group). A partial last
 * group (rows % 4) is compared under a VCTP predicate with zeroing loads (0 > 0: no bit). */
static void cut_bits_mve(const uint32_t *mism, const uint32_t *cut, uint32_t rows,
                         uint32_t *bits) {
    static const uint32_t w4[4] = {1u, 2u, 4u, 8u};
    uint32_t j;
    for (j = 0; j < rows; j += 32u) {
        const uint32_t *m = mism + j, *c = cut + j;
        uint32_t n = rows - j < 32u ? rows - j : 32u, k = n / 4u;
        register uint32_t b __asm("r4") = 0; /* VADDVA adds into an even register */
        if (k != 0u)
            __asm volatile("vldrw.u32 q2, [%[w]]\n\t"
                           "dls lr, %[k]\n\t"
                           "1:\n\t"
                           "vldrw.u32 q0, [%[m]], #16\n\t"
                           "vldrw.u32 q1, [%[c]], #16\n\t"
                           "vpt.u32 hi, q1, q0\n\t"
                           "vaddvat.u32 %[b], q2\n\t"
                           "vshl.i32 q2, q2, #4\n\t"
                           "le lr, 1b\n\t"
                           : [m] "+r"(m), [c] "+r"(c), [b] "+r"(b)
                           : [w] "r"(w4), [k] "r"(k)
                           : "q0", "q1", "q2", "lr", "memory");
        if (n % 4u != 0u) {
            mve_pred16_t p = vctp32q(n % 4u);
            b |= vaddvq_p_u32(vld1q_u32(w4), vcmphiq_u32(vldrwq_z_u32(c, p), vldrwq_z_u32(m, p)))
                 << (n & ~3u);
        }
        bits[j >> 5] = b;
    }
}

/* The few-pixel output step (ebnn_thresh_bits_fn), as cut_bits_mve: per 4 values
 * y = terms - 2m in one VMLAS (m * -2 + terms), then both compares, y >= t and t >= y, each a
 * VPT predicate on an add across of the lane weights into its own word; the flip word picks
 * between the two words once per 32 values: 9 instructions per 4 values with the loads and
 * the low-overhead loop's LE (before: 14, the flips turned into lane masks per group). Values
 * past the last whole group (rows % 4) one at a time, as the reference. */
static void thresh_bits_mve(const uint32_t *mism, const int32_t *thresholds,
                            const uint32_t *flip, uint32_t c0, uint32_t rows, uint32_t terms,
                            uint32_t *bits) {
    static const uint32_t w4[4] = {1u, 2u, 4u, 8u};
    uint32_t j, i;
    for (j = 0; j < rows; j += 32u) {
        uint32_t n = rows - j < 32u ? rows - j : 32u, k = n / 4u;
        uint32_t fw = ebnn_bits_at(flip, c0 + j, n);
        /* VADDVA adds into an even register */
        register uint32_t ge __asm("r4") = 0, le __asm("r6") = 0;
        const uint32_t *m = mism + j;
        const int32_t *t = thresholds + c0 + j;
        if (k != 0u)
            __asm volatile("vldrw.u32 q2, [%[w]]\n\t"
                           "vmvn.i32 q3, #1\n\t" /* -2 */
                           "dls lr, %[k]\n\t"
                           "1:\n\t"
                           "vldrw.u32 q0, [%[m]], #16\n\t"
                           "vldrw.u32 q1, [%[t]], #16\n\t"
                           "vmlas.u32 q0, q3, %[terms]\n\t"
                           "vpt.s32 ge, q0, q1\n\t"
                           "vaddvat.u32 %[ge], q2\n\t"
                           "vpt.s32 ge, q1, q0\n\t"
                           "vaddvat.u32 %[le], q2\n\t"
                           "vshl.i32 q2, q2, #4\n\t"
                           "le lr, 1b\n\t"
                           : [m] "+r"(m), [t] "+r"(t), [ge] "+r"(ge), [le] "+r"(le)
                           : [w] "r"(w4), [terms] "r"(terms), [k] "r"(k)
                           : "q0", "q1", "q2", "q3", "lr", "memory");
        ge = (ge & ~fw) | (le & fw);
        for (i = n & ~3u; i < n; i++)
            ge |= ebnn_mism_bit(mism[j + i], thresholds[c0 + j + i], (fw >> i) & 1u, terms) << i;
        bits[j >> 5] = ge;
    }
}

/* The row: channels in lanes for windows of up to 31 words (mve_lanes.c), the 8-bit first
 * layer mve_u8.c's, the depthwise and the other ops ARM's (with Helium in this build). */
const ebnn_kernel ebnn_kernel_mve = {
    .name = "mve", .xorpop = xorpop_mve, .cut_bits = cut_bits_mve,
    .thresh_bits = thresh_bits_mve, .conv_u8 = ebnn_mve_u8_conv2d,
    .depthwise = ebnn_arm_depthwise_conv2d, .conv_bin = ebnn_mve_lanes_conv2d,
    .pack_size = ebnn_mve_lanes_pack_size, .pack = ebnn_mve_lanes_pack,
    .threshold = ebnn_arm_threshold,
    .maxpool = ebnn_arm_maxpool, .binarize = ebnn_arm_binarize};

#else
typedef int ebnn_mve_unused; /* ISO C forbids an empty translation unit. */
#endif
