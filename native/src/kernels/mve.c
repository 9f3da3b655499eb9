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

/* Popcount of every byte value, built from the recurrence pop(4a+b) = pop(a) + pop(b). */
#define P2(n) n, n + 1, n + 1, n + 2
#define P4(n) P2(n), P2(n + 1), P2(n + 1), P2(n + 2)
#define P6(n) P4(n), P4(n + 1), P4(n + 1), P4(n + 2)
static const uint8_t pop8[256] = {P6(0), P6(1), P6(1), P6(2)};

/* Popcount bytes of x XOR w. */
static inline uint8x16_t pop_xor(uint32x4_t xv, uint32x4_t wv) {
    return vldrbq_gather_offset_u8(pop8, vreinterpretq_u8_u32(veorq_u32(xv, wv)));
}

/* Whole vectors unpredicated (a predicated load costs a VPST more), the last 1-3 words once
 * under a VCTP32 predicate with zeroing loads. */
static void xorpop_mve(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t rows,
                       uint32_t *mism) {
    uint32_t r = 0, k, whole = n & ~3u;
    mve_pred16_t p = vctp32q(n - whole);
    if (n == 1u) { /* 1x1 layers of <= 32 channels: 4 rows per vector */
        const uint32x4_t xv = vdupq_n_u32(x[0]), ones = vdupq_n_u32(0x01010101u);
        for (; r < rows; r += 4u) {
            mve_pred16_t q = vctp32q(rows - r);
            uint8x16_t b = pop_xor(xv, vldrwq_z_u32(w + r, q));
            /* the lane's 4 byte counts summed into its top byte */
            vstrwq_p_u32(mism + r, vshrq_n_u32(vmulq_u32(vreinterpretq_u32_u8(b), ones), 24), q);
        }
        return;
    }
    for (; r + 4u <= rows; r += 4u) {
        const uint32_t *w0 = w + (size_t)r * n, *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
        uint32_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        uint32x4_t xv;
        const uint32_t *xp = x;
        /* Pointers stepped one vector at a time: post-incremented loads, no index adds. */
        for (k = 0; k < whole; k += 4u, xp += 4, w0 += 4, w1 += 4, w2 += 4, w3 += 4) {
            xv = vld1q_u32(xp);
            c0 = vaddvaq_u8(c0, pop_xor(xv, vld1q_u32(w0)));
            c1 = vaddvaq_u8(c1, pop_xor(xv, vld1q_u32(w1)));
            c2 = vaddvaq_u8(c2, pop_xor(xv, vld1q_u32(w2)));
            c3 = vaddvaq_u8(c3, pop_xor(xv, vld1q_u32(w3)));
        }
        if (whole < n) {
            xv = vldrwq_z_u32(xp, p);
            c0 = vaddvaq_u8(c0, pop_xor(xv, vldrwq_z_u32(w0, p)));
            c1 = vaddvaq_u8(c1, pop_xor(xv, vldrwq_z_u32(w1, p)));
            c2 = vaddvaq_u8(c2, pop_xor(xv, vldrwq_z_u32(w2, p)));
            c3 = vaddvaq_u8(c3, pop_xor(xv, vldrwq_z_u32(w3, p)));
        }
        mism[r] = c0, mism[r + 1] = c1, mism[r + 2] = c2, mism[r + 3] = c3;
    }
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
 * two loads, and the loop's 2. In assembly because GCC moves each predicate through a core
 * register (VMRS, SXTH, VMSR: 12 instructions per group). A partial last group (rows % 4) is
 * compared under a VCTP predicate with zeroing loads (0 > 0: no bit). */
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
                           "1:\n\t"
                           "vldrw.u32 q0, [%[m]], #16\n\t"
                           "vldrw.u32 q1, [%[c]], #16\n\t"
                           "vpt.u32 hi, q1, q0\n\t"
                           "vaddvat.u32 %[b], q2\n\t"
                           "vshl.i32 q2, q2, #4\n\t"
                           "subs %[k], %[k], #1\n\t"
                           "bne 1b\n\t"
                           : [m] "+r"(m), [c] "+r"(c), [b] "+r"(b), [k] "+r"(k)
                           : [w] "r"(w4)
                           : "q0", "q1", "q2", "cc", "memory");
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
 * between the two words once per 32 values: 10 instructions per 4 values with the loads and
 * the loop (before: 14, the flips turned into lane masks per group). Values past the last
 * whole group (rows % 4) one at a time, as the reference. */
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
                           "1:\n\t"
                           "vldrw.u32 q0, [%[m]], #16\n\t"
                           "vldrw.u32 q1, [%[t]], #16\n\t"
                           "vmlas.u32 q0, q3, %[terms]\n\t"
                           "vpt.s32 ge, q0, q1\n\t"
                           "vaddvat.u32 %[ge], q2\n\t"
                           "vpt.s32 ge, q1, q0\n\t"
                           "vaddvat.u32 %[le], q2\n\t"
                           "vshl.i32 q2, q2, #4\n\t"
                           "subs %[k], %[k], #1\n\t"
                           "bne 1b\n\t"
                           : [m] "+r"(m), [t] "+r"(t), [ge] "+r"(ge), [le] "+r"(le), [k] "+r"(k)
                           : [w] "r"(w4), [terms] "r"(terms)
                           : "q0", "q1", "q2", "q3", "cc", "memory");
        ge = (ge & ~fw) | (le & fw);
        for (i = n & ~3u; i < n; i++)
            ge |= ebnn_mism_bit(mism[j + i], thresholds[c0 + j + i], (fw >> i) & 1u, terms) << i;
        bits[j >> 5] = ge;
    }
}

/* The row: the 8-bit first layer is mve_u8.c's, the depthwise and the other ops ARM's (with
 * Helium in this build). */
const ebnn_kernel ebnn_kernel_mve = {
    .name = "mve", .xorpop = xorpop_mve, .cut_bits = cut_bits_mve,
    .thresh_bits = thresh_bits_mve, .conv_u8 = ebnn_mve_u8_conv2d,
    .depthwise = ebnn_arm_depthwise_conv2d, .threshold = ebnn_arm_threshold,
    .maxpool = ebnn_arm_maxpool, .binarize = ebnn_arm_binarize};

#else
typedef int ebnn_mve_unused; /* ISO C forbids an empty translation unit. */
#endif
