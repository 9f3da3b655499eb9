/* NEON kernel, AArch64 and ARMv7-A: EOR + CNT per 128-bit vector and channel, the byte counts
 * added into byte accumulators (up to 31 vectors: 31 x 8 <= 255), widened only then (AArch64:
 * a pairwise-add tree across the 8 channels; ARMv7: VPADDL + VPADAL into 32-bit lanes, reduced
 * once per call). Each loaded input vector serves CH output channels. The inner loops are in
 * assembly because GCC spills the accumulators and recomputes row addresses:
 *  - AArch64: 8 channels, one LD1 of 4 registers per row and step: 13 instructions per 4 x 128
 *    binary MACs and channel, plus a 1/8 share of the input load and the loop;
 *  - ARMv7: 4 channels, one VLD1 of 2 q registers per row and step: 7 per 2 x 128.
 * Whole vectors and words left over go through the same accumulators with 128- and 32-bit
 * steps. Only baseline Advanced SIMD: no dot-product extension, no across-vector adds on
 * ARMv7. */
#include "kernels.h"

#if defined(__ARM_NEON)
#include <arm_neon.h>

#if defined(__aarch64__)
#define CH 8u /* channels per block */
#else
#define CH 4u /* ARMv7 has 16 q registers: 4 byte + 4 wide accumulators, 2 input, 2 weight */
#endif


static inline uint8x16_t load1(const uint32_t *p) {
    return vld1q_u8((const uint8_t *)(const void *)p);
}

static inline uint32_t sum_u32(uint32x4_t v) {
#if defined(__aarch64__)
    return vaddvq_u32(v);
#else
    uint64x2_t s = vpaddlq_u32(v);
    return (uint32_t)(vgetq_lane_u64(s, 0) + vgetq_lane_u64(s, 1));
#endif
}

#if defined(__aarch64__)
/* One row's part of a step: 4 vectors (64 bytes) of row j against the input in v16-v19; the
 * row pointer then moves on by inc: to the next row (the row stride), after the last row back
 * to the first, one step further. */
#define ROW4(j, inc)                                                                       \
    "ld1 {v20.16b-v23.16b}, [%[w]], " inc "\n\t"                                           \
    "eor v20.16b, v20.16b, v16.16b\n\teor v21.16b, v21.16b, v17.16b\n\t"                   \
    "eor v22.16b, v22.16b, v18.16b\n\teor v23.16b, v23.16b, v19.16b\n\t"                   \
    "cnt v20.16b, v20.16b\n\tcnt v21.16b, v21.16b\n\t"                                     \
    "cnt v22.16b, v22.16b\n\tcnt v23.16b, v23.16b\n\t"                                     \
    "add v20.16b, v20.16b, v21.16b\n\tadd v22.16b, v22.16b, v23.16b\n\t"                   \
    "add v20.16b, v20.16b, v22.16b\n\tadd %[a" #j "].16b, %[a" #j "].16b, v20.16b\n\t"
/* The same with one vector per step, and with one word (LDR S zeroes the rest of the register,
 * so the whole-register ops add zeros there; an 8B op would clear the accumulators' top half). */
#define ROW_Q(j, inc)                                                                      \
    "ld1 {v20.16b}, [%[w]], " inc "\n\t"                                                   \
    "eor v20.16b, v20.16b, v16.16b\n\tcnt v20.16b, v20.16b\n\t"                            \
    "add %[a" #j "].16b, %[a" #j "].16b, v20.16b\n\t"
#define ROW_S(j, inc)                                                                      \
    "ldr s20, [%[w]]\n\tadd %[w], %[w], " inc "\n\t"                                       \
    "eor v20.16b, v20.16b, v16.16b\n\tcnt v20.16b, v20.16b\n\t"                            \
    "add %[a" #j "].16b, %[a" #j "].16b, v20.16b\n\t"

/* k steps of `bytes` per row over the 8 rows: after each step w is back on row 0, `bytes`
 * further on. */
#define S "%[stride]"
#define STEP_LOOP(load_x, row, bytes)                                                      \
    __asm volatile("1:\n\t" load_x row(0, S) row(1, S) row(2, S) row(3, S) row(4, S)      \
                       row(5, S) row(6, S) row(7, "%[back]")                               \
                   "subs %w[k], %w[k], #1\n\t"                                             \
                   "b.ne 1b\n\t"                                                           \
                   : [x] "+r"(x), [k] "+r"(k), [w] "+r"(w), [a0] "+w"(a0), [a1] "+w"(a1),    \
                     [a2] "+w"(a2), [a3] "+w"(a3), [a4] "+w"(a4), [a5] "+w"(a5),             \
                     [a6] "+w"(a6), [a7] "+w"(a7)                                            \
                   : [stride] "r"(stride), [back] "r"((bytes) - 7u * stride)                 \
                   : "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "cc", "memory")

/* Byte counts (<= 248) of 8 rows to 16 bits, then three levels of pairwise adds leave lane j
 * holding row j's sum (<= 16 x 248), added to the totals of rows 0-3 (lo) and 4-7 (hi): 15
 * instructions for the 8 rows. */
static inline void reduce8(uint8x16_t a0, uint8x16_t a1, uint8x16_t a2, uint8x16_t a3,
                           uint8x16_t a4, uint8x16_t a5, uint8x16_t a6, uint8x16_t a7,
                           uint32x4_t *lo, uint32x4_t *hi) {
#define PAIR(a, b) vpaddq_u16(vpaddlq_u8(a), vpaddlq_u8(b))
    uint16x8_t s = vpaddq_u16(vpaddq_u16(PAIR(a0, a1), PAIR(a2, a3)),
                              vpaddq_u16(PAIR(a4, a5), PAIR(a6, a7)));
#undef PAIR
    *lo = vaddw_u16(*lo, vget_low_u16(s));
    *hi = vaddw_high_u16(*hi, s);
}

/* mism of the 8 rows at w (row stride n words). */
static void block8(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t *mism) {
    uint64_t stride = 4u * (uint64_t)n;
    uint32_t steps = n / 16u, vecs = (n / 4u) % 4u, words = n % 4u, k;
    uint32x4_t lo = vdupq_n_u32(0), hi = lo; /* the totals of rows 0-3 and 4-7 */
    uint8x16_t a0, a1, a2, a3, a4, a5, a6, a7;
    do {
        /* <= 7 steps per byte accumulation (28 vectors); the left-over vectors and words (<= 3
         * each) join the last one when it has <= 6 steps: <= 30 counts of <= 8 per byte. */
        uint32_t now = steps > 7u ? 7u : steps;
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = vdupq_n_u8(0);
        steps -= now;
        if (now != 0) {
            k = now;
            STEP_LOOP("ld1 {v16.16b-v19.16b}, [%[x]], #64\n\t", ROW4, 64u);
        }
        if (steps == 0 && now < 7u) {
            if (vecs != 0) {
                k = vecs;
                STEP_LOOP("ldr q16, [%[x]], #16\n\t", ROW_Q, 16u);
                vecs = 0;
            }
            if (words != 0) {
                k = words;
                STEP_LOOP("ldr s16, [%[x]], #4\n\t", ROW_S, 4u);
                words = 0;
            }
        }
        reduce8(a0, a1, a2, a3, a4, a5, a6, a7, &lo, &hi);
    } while (steps != 0 || vecs != 0 || words != 0);
    vst1q_u32(mism, lo);
    vst1q_u32(mism + 4, hi);
}
/* Two output pixels at once (the windows x0 and x1 against the same 8 rows): every loaded
 * weight vector serves both, every loaded input vector 8 rows. Per step: x0 in v16-v19, x1 in
 * v20-v23 (one LD1 each), then per row one LD1 of 4 weight vectors (v24-v27) and EOR + CNT +
 * ADD for each vector and pixel into the pixel's byte accumulators (row j: v<j> for x0,
 * v<8+j> for x1): 8 x 25 + 2 loads + 2 loop = 204 instructions per 2 x 8 x 4 x 128 binary
 * MACs (0.0249 per MAC), against 107 per 8 x 4 x 128 (0.0261) for one pixel. The 16
 * accumulators do not fit GCC's 30 asm operands, so one asm statement runs a whole byte
 * accumulation (zeroing, steps, left-over vectors and words, the reduce8 tree) in fixed
 * registers. */
#define PIX2(v, xa, xb, j, k)                                                              \
    "eor v28.16b, " v ".16b, " xa ".16b\n\teor v29.16b, " v ".16b, " xb ".16b\n\t"        \
    "cnt v28.16b, v28.16b\n\tcnt v29.16b, v29.16b\n\t"                                     \
    "add v" #j ".16b, v" #j ".16b, v28.16b\n\tadd v" #k ".16b, v" #k ".16b, v29.16b\n\t"
#define ROW4X2(j, k, inc)                                                                  \
    "ld1 {v24.16b-v27.16b}, [%[w]], " inc "\n\t"                                           \
    PIX2("v24", "v16", "v20", j, k) PIX2("v25", "v17", "v21", j, k)                        \
    PIX2("v26", "v18", "v22", j, k) PIX2("v27", "v19", "v23", j, k)
#define ROW_QX2(j, k, inc) "ld1 {v24.16b}, [%[w]], " inc "\n\t" PIX2("v24", "v16", "v20", j, k)
#define ROW_SX2(j, k, inc)                                                                 \
    "ldr s24, [%[w]]\n\tadd %[w], %[w], " inc "\n\t" PIX2("v24", "v16", "v20", j, k)
#define ROWS8X2(row, back)                                                                 \
    row(0, 8, S) row(1, 9, S) row(2, 10, S) row(3, 11, S) row(4, 12, S) row(5, 13, S)      \
    row(6, 14, S) row(7, 15, back)
/* The reduce8 tree of v<a0>..v<a7> into the 16-bit sums out (lane j: row j). */
#define REDUCE8(a0, a1, a2, a3, a4, a5, a6, a7, out)                                       \
    "uaddlp v" #a0 ".8h, v" #a0 ".16b\n\tuaddlp v" #a1 ".8h, v" #a1 ".16b\n\t"             \
    "uaddlp v" #a2 ".8h, v" #a2 ".16b\n\tuaddlp v" #a3 ".8h, v" #a3 ".16b\n\t"             \
    "uaddlp v" #a4 ".8h, v" #a4 ".16b\n\tuaddlp v" #a5 ".8h, v" #a5 ".16b\n\t"             \
    "uaddlp v" #a6 ".8h, v" #a6 ".16b\n\tuaddlp v" #a7 ".8h, v" #a7 ".16b\n\t"             \
    "addp v" #a0 ".8h, v" #a0 ".8h, v" #a1 ".8h\n\taddp v" #a2 ".8h, v" #a2 ".8h, v" #a3 ".8h\n\t" \
    "addp v" #a4 ".8h, v" #a4 ".8h, v" #a5 ".8h\n\taddp v" #a6 ".8h, v" #a6 ".8h, v" #a7 ".8h\n\t" \
    "addp v" #a0 ".8h, v" #a0 ".8h, v" #a2 ".8h\n\taddp v" #a4 ".8h, v" #a4 ".8h, v" #a6 ".8h\n\t" \
    "addp %[" #out "].8h, v" #a0 ".8h, v" #a4 ".8h\n\t"

/* mism0 / mism1 of the 8 rows at w (row stride n words) against x0 / x1; the step structure
 * of block8. */
static void block8x2(const uint32_t *x0, const uint32_t *x1, const uint32_t *w, uint32_t n,
                     uint32_t *mism0, uint32_t *mism1) {
    uint64_t stride = 4u * (uint64_t)n;
    uint32_t steps = n / 16u, vecs = (n / 4u) % 4u, words = n % 4u;
    uint32x4_t lo0 = vdupq_n_u32(0), hi0 = lo0, lo1 = lo0, hi1 = lo0;
    do {
        uint32_t now = steps > 7u ? 7u : steps, v = 0, s = 0;
        uint16x8_t s0, s1;
        steps -= now;
        if (steps == 0 && now < 7u) v = vecs, s = words, vecs = words = 0;
        __asm volatile(
            "movi v0.2d, #0\n\tmovi v1.2d, #0\n\tmovi v2.2d, #0\n\tmovi v3.2d, #0\n\t"
            "movi v4.2d, #0\n\tmovi v5.2d, #0\n\tmovi v6.2d, #0\n\tmovi v7.2d, #0\n\t"
            "movi v8.2d, #0\n\tmovi v9.2d, #0\n\tmovi v10.2d, #0\n\tmovi v11.2d, #0\n\t"
            "movi v12.2d, #0\n\tmovi v13.2d, #0\n\tmovi v14.2d, #0\n\tmovi v15.2d, #0\n\t"
            "cbz %w[now], 2f\n\t"
            "1:\n\t"
            "ld1 {v16.16b-v19.16b}, [%[x0]], #64\n\tld1 {v20.16b-v23.16b}, [%[x1]], #64\n\t"
            ROWS8X2(ROW4X2, "%[back64]")
            "subs %w[now], %w[now], #1\n\tb.ne 1b\n\t"
            "2:\n\tcbz %w[v], 4f\n\t"
            "3:\n\tldr q16, [%[x0]], #16\n\tldr q20, [%[x1]], #16\n\t"
            ROWS8X2(ROW_QX2, "%[back16]")
            "subs %w[v], %w[v], #1\n\tb.ne 3b\n\t"
            "4:\n\tcbz %w[s], 6f\n\t"
            "5:\n\tldr s16, [%[x0]], #4\n\tldr s20, [%[x1]], #4\n\t"
            ROWS8X2(ROW_SX2, "%[back4]")
            "subs %w[s], %w[s], #1\n\tb.ne 5b\n\t"
            "6:\n\t"
            REDUCE8(0, 1, 2, 3, 4, 5, 6, 7, s0)
            REDUCE8(8, 9, 10, 11, 12, 13, 14, 15, s1)
            : [x0] "+r"(x0), [x1] "+r"(x1), [w] "+r"(w), [now] "+r"(now), [v] "+r"(v),
              [s] "+r"(s), [s0] "=w"(s0), [s1] "=w"(s1)
            : [stride] "r"(stride), [back64] "r"(64u - 7u * stride),
              [back16] "r"(16u - 7u * stride), [back4] "r"(4u - 7u * stride)
            : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12",
              "v13", "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23",
              "v24", "v25", "v26", "v27", "v28", "v29", "cc", "memory");
        lo0 = vaddw_u16(lo0, vget_low_u16(s0)), hi0 = vaddw_high_u16(hi0, s0);
        lo1 = vaddw_u16(lo1, vget_low_u16(s1)), hi1 = vaddw_high_u16(hi1, s1);
    } while (steps != 0 || vecs != 0 || words != 0);
    vst1q_u32(mism0, lo0);
    vst1q_u32(mism0 + 4, hi0);
    vst1q_u32(mism1, lo1);
    vst1q_u32(mism1 + 4, hi1);
}
#else
/* ARMv7: the same design with 4 channels (16 q registers: 4 byte and 4 wide accumulators,
 * 2 input and 2 weight vectors), steps of 2 vectors (one VLD1 of 4 d registers per row):
 * 7 instructions per 2 x 128 binary MACs and channel. */
#define ROW2(j, inc)                                                                       \
    "vld1.8 {d20-d23}, [%[w]], " inc "\n\t"                                                \
    "veor q10, q10, q8\n\tveor q11, q11, q9\n\t"                                           \
    "vcnt.8 q10, q10\n\tvcnt.8 q11, q11\n\t"                                               \
    "vadd.i8 q10, q10, q11\n\tvadd.i8 %q[a" #j "], %q[a" #j "], q10\n\t"
#define ROW_Q(j, inc)                                                                      \
    "vld1.8 {d20-d21}, [%[w]], " inc "\n\t"                                                \
    "veor q10, q10, q8\n\tvcnt.8 q10, q10\n\t"                                             \
    "vadd.i8 %q[a" #j "], %q[a" #j "], q10\n\t"
/* One word: the lane load leaves the rest of q10 as zeroed just before. */
#define ROW_S(j, inc)                                                                      \
    "vmov.i32 q10, #0\n\tvld1.32 {d20[0]}, [%[w]], " inc "\n\t"                            \
    "veor q10, q10, q8\n\tvcnt.8 q10, q10\n\t"                                             \
    "vadd.i8 %q[a" #j "], %q[a" #j "], q10\n\t"

#define S "%[stride]"
#define STEP_LOOP(load_x, row, bytes)                                                      \
    __asm volatile("1:\n\t" load_x row(0, S) row(1, S) row(2, S) row(3, "%[back]")        \
                   "subs %[k], %[k], #1\n\t"                                               \
                   "bne 1b\n\t"                                                            \
                   : [x] "+r"(x), [k] "+r"(k), [w] "+r"(w), [a0] "+w"(a0), [a1] "+w"(a1),    \
                     [a2] "+w"(a2), [a3] "+w"(a3)                                            \
                   : [stride] "r"(stride), [back] "r"((bytes) - 3u * stride)                 \
                   : "q8", "q9", "q10", "q11", "cc", "memory")

/* mism of the 4 rows at w (row stride n words). */
static void block4(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t *mism) {
    uint32_t stride = 4u * n;
    uint32_t steps = n / 8u, vecs = (n / 4u) % 2u, words = n % 4u, k;
    uint32x4_t w0 = vdupq_n_u32(0), w1 = w0, w2 = w0, w3 = w0;
    uint8x16_t a0, a1, a2, a3;
    do {
        /* <= 14 steps per byte accumulation (28 vectors); the left-over vector and words join
         * the last one when it has <= 13 steps: <= 30 counts of <= 8 per byte. */
        uint32_t now = steps > 14u ? 14u : steps;
        a0 = a1 = a2 = a3 = vdupq_n_u8(0);
        steps -= now;
        if (now != 0) {
            k = now;
            STEP_LOOP("vld1.8 {d16-d19}, [%[x]]!\n\t", ROW2, 32u);
        }
        if (steps == 0 && now < 14u) {
            if (vecs != 0) {
                k = vecs;
                STEP_LOOP("vld1.8 {d16-d17}, [%[x]]!\n\t", ROW_Q, 16u);
                vecs = 0;
            }
            if (words != 0) {
                k = words;
                STEP_LOOP("vmov.i32 q8, #0\n\tvld1.32 {d16[0]}, [%[x]]!\n\t", ROW_S, 4u);
                words = 0;
            }
        }
        w0 = vpadalq_u16(w0, vpaddlq_u8(a0));
        w1 = vpadalq_u16(w1, vpaddlq_u8(a1));
        w2 = vpadalq_u16(w2, vpaddlq_u8(a2));
        w3 = vpadalq_u16(w3, vpaddlq_u8(a3));
    } while (steps != 0 || vecs != 0 || words != 0);
    mism[0] = sum_u32(w0), mism[1] = sum_u32(w1), mism[2] = sum_u32(w2), mism[3] = sum_u32(w3);
}
#endif

/* mism of one row: whole vectors, reduced every 31 (byte counts <= 248), then the words. */
static uint32_t row1(const uint32_t *x, const uint32_t *w, uint32_t n) {
    uint32_t k, v = 0, total = 0, nv = n / 4u;
    while (v < nv) {
        uint8x16_t acc = vdupq_n_u8(0);
        uint32_t end = nv - v > 31u ? v + 31u : nv;
        for (; v < end; v++) acc = vaddq_u8(acc, vcntq_u8(veorq_u8(load1(x + 4u * v), load1(w + 4u * v))));
        total += sum_u32(vpaddlq_u16(vpaddlq_u8(acc)));
    }
    for (k = 4u * nv; k < n; k++) total += ebnn_popcount32(x[k] ^ w[k]);
    return total;
}

#if defined(__aarch64__)
/* Popcount bytes of the 4 words v XOR the word x (in every lane). */
static inline uint8x16_t cnt_xor(uint32x4_t v, uint32_t x) {
    return vcntq_u8(vreinterpretq_u8_u32(veorq_u32(v, vdupq_n_u32(x))));
}

/* Rows of n <= 4 words (the block loops' setup and reduction tree would cost more than the
 * rows), 4 rows per step with the rows in lanes: VLDn de-interleaves the 4 rows (vector k:
 * word k of each), each vector EOR-ed with word k of x and counted, the byte counts (<= 32)
 * added and widened to one count per lane by two pairwise adds, the 4 rows' mism one store.
 * Returns the rows done (a multiple of 4). AArch64 only: on ARMv7 GCC then compiled the
 * block loops of every other layer 0.5-3 % worse. */
static uint32_t short_rows(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t rows,
                           uint32_t *mism) {
    uint32_t r = 0;
    for (; r + 4u <= rows; r += 4u) {
        const uint32_t *wr = w + (size_t)r * n;
        uint8x16_t c;
        if (n == 1u) {
            c = cnt_xor(vld1q_u32(wr), x[0]);
        } else if (n == 2u) {
            uint32x4x2_t v = vld2q_u32(wr);
            c = vaddq_u8(cnt_xor(v.val[0], x[0]), cnt_xor(v.val[1], x[1]));
        } else if (n == 3u) {
            uint32x4x3_t v = vld3q_u32(wr);
            c = vaddq_u8(vaddq_u8(cnt_xor(v.val[0], x[0]), cnt_xor(v.val[1], x[1])),
                         cnt_xor(v.val[2], x[2]));
        } else {
            uint32x4x4_t v = vld4q_u32(wr);
            c = vaddq_u8(vaddq_u8(cnt_xor(v.val[0], x[0]), cnt_xor(v.val[1], x[1])),
                         vaddq_u8(cnt_xor(v.val[2], x[2]), cnt_xor(v.val[3], x[3])));
        }
        vst1q_u32(mism + r, vpaddlq_u16(vpaddlq_u8(c)));
    }
    return r;
}
#endif

static void xorpop_neon(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t rows,
                        uint32_t *mism) {
    uint32_t r = 0;
#if defined(__aarch64__)
    if (n <= 4u)
        r = short_rows(x, w, n, rows, mism);
    else
        for (; r + CH <= rows; r += CH) block8(x, w + (size_t)r * n, n, mism + r);
#else
#if defined(EBNN_T2_ASM)
    if (n < 4u) { /* no whole vector: the swar row's short rows, 11-13 instructions a word */
        ebnn_swar_xorpop_short(x, w, n, rows, mism);
        return;
    }
#endif
    for (; r + CH <= rows; r += CH) block4(x, w + (size_t)r * n, n, mism + r);
#endif
    for (; r < rows; r++) mism[r] = row1(x, w + (size_t)r * n, n);
}

#if defined(__aarch64__)
static void xorpop2_neon(const uint32_t *x0, const uint32_t *x1, const uint32_t *w, uint32_t n,
                         uint32_t rows, uint32_t *mism0, uint32_t *mism1) {
    uint32_t r = 0;
    for (; r + CH <= rows; r += CH) block8x2(x0, x1, w + (size_t)r * n, n, mism0 + r, mism1 + r);
    for (; r < rows; r++) {
        mism0[r] = row1(x0, w + (size_t)r * n, n);
        mism1[r] = row1(x1, w + (size_t)r * n, n);
    }
}
#endif

/* Lanes of bytes 0x00/0xFF to bits: each byte ANDed with its bit's weight, then pairwise
 * adds of the 8 bytes of each half (the weights are distinct bits: adds are ORs). */
static inline uint8x8_t bytes_to_bits(uint8x16_t lt) {
    static const uint8_t weight[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    uint8x16_t b = vandq_u8(lt, vld1q_u8(weight));
    return vpadd_u8(vget_low_u8(b), vget_high_u8(b)); /* bytes 0-3: pairs of values */
}

/* mism < cut for 8 values (4 + 4 lanes), narrowed to 8 bytes 0x00/0xFF. */
static inline uint8x8_t lt8(const uint32_t *m, const uint32_t *c) {
    uint16x8_t h = vcombine_u16(vmovn_u32(vcltq_u32(vld1q_u32(m), vld1q_u32(c))),
                                vmovn_u32(vcltq_u32(vld1q_u32(m + 4), vld1q_u32(c + 4))));
    return vmovn_u16(h);
}

/* The fused output step (ebnn_cut_bits_fn): 32 values per word as 8 compares (CMHI), 6
 * narrowing moves, an AND with the bit weights and 4 pairwise adds; a last group of 8 the same
 * way, 1-7 values left one at a time. */
static void cut_bits_neon(const uint32_t *mism, const uint32_t *cut, uint32_t rows,
                          uint32_t *bits) {
    uint32_t j = 0, i;
    for (; j + 32u <= rows; j += 32u) {
        uint8x16_t a = vcombine_u8(lt8(mism + j, cut + j), lt8(mism + j + 8u, cut + j + 8u));
        uint8x16_t b = vcombine_u8(lt8(mism + j + 16u, cut + j + 16u),
                                   lt8(mism + j + 24u, cut + j + 24u));
        uint8x8_t p = vpadd_u8(bytes_to_bits(a), bytes_to_bits(b));
        bits[j >> 5] = vget_lane_u32(vreinterpret_u32_u8(vpadd_u8(p, p)), 0);
    }
    if (j < rows) {
        uint32_t b = 0, k = 0;
        for (; j + k + 8u <= rows; k += 8u) {
            uint8x8_t p = bytes_to_bits(vcombine_u8(lt8(mism + j + k, cut + j + k), vdup_n_u8(0)));
            p = vpadd_u8(p, p);
            b |= (uint32_t)vget_lane_u8(vpadd_u8(p, p), 0) << k;
        }
        for (i = k; j + i < rows; i++) b |= ((mism[j + i] - cut[j + i]) >> 31) << i;
        bits[j >> 5] = b;
    }
}

/* y = terms - 2m >= t, or y <= t where the lane's flip bit is set, for 8 values with flip bits
 * fb (bit i: value i), narrowed to 8 bytes 0x00/0xFF. The flip is a sign mask f (VTST):
 * y ^ f >= t ^ f is y >= t for f = 0 and ~y >= ~t, i.e. y <= t, for f = -1. */
static inline uint8x8_t ge8(const uint32_t *m, const int32_t *t, uint32_t fb, int32x4_t terms,
                            uint32x4_t lane_lo, uint32x4_t lane_hi) {
    uint32x4_t fv = vdupq_n_u32(fb);
    int32x4_t f0 = vreinterpretq_s32_u32(vtstq_u32(fv, lane_lo));
    int32x4_t f1 = vreinterpretq_s32_u32(vtstq_u32(fv, lane_hi));
    int32x4_t y0 = vsubq_s32(terms, vreinterpretq_s32_u32(vshlq_n_u32(vld1q_u32(m), 1)));
    int32x4_t y1 = vsubq_s32(terms, vreinterpretq_s32_u32(vshlq_n_u32(vld1q_u32(m + 4), 1)));
    uint16x8_t h = vcombine_u16(vmovn_u32(vcgeq_s32(veorq_s32(y0, f0), veorq_s32(vld1q_s32(t), f0))),
                                vmovn_u32(vcgeq_s32(veorq_s32(y1, f1), veorq_s32(vld1q_s32(t + 4), f1))));
    return vmovn_u16(h);
}

/* The few-pixel output step (ebnn_thresh_bits_fn): 8 values per group, packed as
 * cut_bits_neon packs; 1-7 values left one at a time. */
static void thresh_bits_neon(const uint32_t *mism, const int32_t *thresholds,
                             const uint32_t *flip, uint32_t c0, uint32_t rows, uint32_t terms,
                             uint32_t *bits) {
    static const uint32_t lanes[8] = {1u, 2u, 4u, 8u, 16u, 32u, 64u, 128u};
    const int32x4_t tv = vdupq_n_s32((int32_t)terms);
    const uint32x4_t lo = vld1q_u32(lanes), hi = vld1q_u32(lanes + 4);
    uint32_t j, k, i;
    for (j = 0; j < rows; j += 32u) {
        uint32_t n = rows - j < 32u ? rows - j : 32u, fw = ebnn_bits_at(flip, c0 + j, n), b = 0;
        const int32_t *t = thresholds + c0 + j;
        for (k = 0; k + 8u <= n; k += 8u) {
            uint8x8_t p = bytes_to_bits(
                vcombine_u8(ge8(mism + j + k, t + k, fw >> k, tv, lo, hi), vdup_n_u8(0)));
            p = vpadd_u8(p, p);
            b |= (uint32_t)vget_lane_u8(vpadd_u8(p, p), 0) << k;
        }
        for (i = k; i < n; i++) b |= ebnn_mism_bit(mism[j + i], t[i], (fw >> i) & 1u, terms) << i;
        bits[j >> 5] = b;
    }
}

/* The row: 3x3 convolutions of 64 or 128 k channels in place (neon_conv3x3.c; ARMv7: 64 or
 * 128), the other AArch64 convolutions pixel pairs; the 8-bit first layer is neon_u8.c's, the
 * depthwise and the other ops ARM's (with NEON in this build). */
const ebnn_kernel ebnn_kernel_neon = {
    .name = "neon", .xorpop = xorpop_neon, .cut_bits = cut_bits_neon,
    .thresh_bits = thresh_bits_neon,
    .conv_bin = ebnn_neon_conv3x3,
#if defined(__aarch64__)
    .xorpop2 = xorpop2_neon,
#endif
    .conv_u8 = ebnn_neon_u8_conv2d, .depthwise = ebnn_arm_depthwise_conv2d,
    .threshold = ebnn_arm_threshold, .maxpool = ebnn_arm_maxpool, .binarize = ebnn_arm_binarize};

#else
typedef int ebnn_neon_unused; /* ISO C forbids an empty translation unit. */
#endif
