/* NEON 3x3 BIN convolution, stride 1, windows read in place (the direct convolution of daBNN's
 * bconv_3x3, written anew): in NHWC a pixel's channels are consecutive words, so tap (ky, kx)
 * of output pixel (y, x) is input pixel (y + ky - ph, x + kx - pw) itself and no window is
 * copied. Output pixels in blocks of a row against 8 output channels at a time:
 *  - in_c = 64: one 128-bit vector is two neighbouring pixels, so it meets the tap's 64-bit
 *    weights duplicated in both halves: 4 output pixels per block (2 vectors per tap);
 *  - in_c = 128 k: a tap is k whole vectors of one pixel: 2 output pixels per block.
 * Per vector and channel EOR + CNT + UADALP into 16-bit accumulators (16 of them: 2 vectors x
 * 8 channels; <= 144 k per lane, no overflow), the 8 channels' weights of a tap one pair of LD1
 * from a repack made per call (per chunk of channels whose repack fits 24 KiB), each input
 * vector of a tap row loaded once for the block's 3 taps. Then per pixel a pairwise-add tree
 * to the 8 channels' counts and the fused BIN output step on them: one compare against the
 * 16-bit cuts (ebnn_mism_cut), a BSL choosing each channel's bit or its flip, ADDV to the
 * 8 bits, one byte stored (8 channels are one byte of the output pixel). Border blocks
 * (taps in the padding, or past the map's last pixel) read a copy of their 3 rows with zero
 * words for the padding, as the reference defines it; interior blocks read the input.
 * Both in assembly: AArch64 (baseline Advanced SIMD, 32 vector registers; in_c up to 2048) and
 * ARMv7 (16 q registers: two passes of 4 channels per 8-channel block; in_c 64 or 128, as a
 * tap's two input vectors are one load only there; ADDV replaced by pairwise adds). BIN output
 * only; the other layers stay with the driver (bin_conv.c). */
#include "kernels.h"

#if defined(__ARM_NEON)
#include <arm_neon.h>

#define WBUF_VECS 1536u /* repacked weights of a chunk: 24 KiB */
#define MAX_BLOCKS 32u  /* 8-channel blocks per chunk */
#if defined(__aarch64__)
#define LANES 8u        /* channels per pass over a block's taps */
#define MAX_IN_C 2048u  /* 9 in_c + 1 fits the 16-bit cuts; a block's repack fits WBUF_VECS */
#else
#define LANES 4u        /* 16 q registers: 8 accumulators = 4 channels x 2 vectors */
#define MAX_IN_C 128u   /* one vector per tap */
#endif

/* The output step's constants of one 8-channel block: the cuts, and the bit each channel sets
 * when its count is below the cut (hit) or not (miss): its bit weight or 0, by its flip. */
typedef struct {
    uint16_t cut[8], hit[8], miss[8];
} block_bits;

#if defined(__aarch64__)
/* ---- the block loops (fixed registers: v0-v15 accumulators, v16-v20 input, v24-v31 one
 * tap's 8 weight vectors, the rest temporaries) ---- */
#define WLOAD "ld1 {v24.16b-v27.16b}, [%[w]], #64\n\tld1 {v28.16b-v31.16b}, [%[w]], #64\n\t"
/* Channel c (weights v<w>) against the inputs v<xa>, v<xb> into accumulators v<a>, v<b>. */
#define CH(op, w, a, b, xa, xb, t0, t1)                                                    \
    "eor v" #t0 ".16b, v" #w ".16b, v" #xa ".16b\n\teor v" #t1 ".16b, v" #w ".16b, v" #xb   \
    ".16b\n\tcnt v" #t0 ".16b, v" #t0 ".16b\n\tcnt v" #t1 ".16b, v" #t1 ".16b\n\t" op " v" #a \
    ".8h, v" #t0 ".16b\n\t" op " v" #b ".8h, v" #t1 ".16b\n\t"
/* One tap: its weights, then the 8 channels against the two input vectors. */
#define TAP(op, xa, xb, t0, t1)                                                            \
    WLOAD CH(op, 24, 0, 8, xa, xb, t0, t1) CH(op, 25, 1, 9, xa, xb, t0, t1)                 \
    CH(op, 26, 2, 10, xa, xb, t0, t1) CH(op, 27, 3, 11, xa, xb, t0, t1)                     \
    CH(op, 28, 4, 12, xa, xb, t0, t1) CH(op, 29, 5, 13, xa, xb, t0, t1)                     \
    CH(op, 30, 6, 14, xa, xb, t0, t1) CH(op, 31, 7, 15, xa, xb, t0, t1)
/* A tap row of 2 pixels, pixels x - 1 .. x + 2 in v16-v19 (first: UADDLP starts the sums). */
#define ROW2(first) TAP(first, 16, 17, 20, 21) TAP("uadalp", 17, 18, 22, 23) TAP("uadalp", 18, 19, 20, 21)
/* A tap row of 4 pixels at 64 channels: v16-v18 pixels (x-1, x), (x+1, x+2), (x+3, x+4),
 * v19-v20 (x, x+1), (x+2, x+3); pixels x, x+1 in accumulators 0-7, x+2, x+3 in 8-15. */
#define LOAD4(r) "ld1 {v16.16b-v18.16b}, [%[" r "]]\n\tldur q19, [%[" r "], #8]\n\tldur q20, [%[" r "], #24]\n\t"
#define ROW4(first) TAP(first, 16, 17, 21, 22) TAP("uadalp", 19, 20, 21, 22) TAP("uadalp", 17, 18, 21, 22)

/* The output step of one pixel whose 8 counts are v<a>'s lanes (the block's constants in
 * v24-v26): compare, choose the bits, add them, store the byte and step to the next pixel. */
#define OUT(a)                                                                             \
    "cmhi v" #a ".8h, v24.8h, v" #a ".8h\n\tbsl v" #a ".16b, v25.16b, v26.16b\n\t"          \
    "addv h" #a ", v" #a ".8h\n\tst1 {v" #a ".b}[0], [%[o]], %[os]\n\t"
#define ADDP(d, n, m) "addp v" #d ".8h, v" #n ".8h, v" #m ".8h\n\t"
/* A pixel's 8 accumulators v<a>..v<a+7> to its 8 counts in v<a>. */
#define SUM1(a0, a1, a2, a3, a4, a5, a6, a7)                                               \
    ADDP(a0, a0, a1) ADDP(a2, a2, a3) ADDP(a4, a4, a5) ADDP(a6, a6, a7)                     \
    ADDP(a0, a0, a2) ADDP(a4, a4, a6) ADDP(a0, a0, a4) OUT(a0)
/* Two pixels' (lanes 0-3 and 4-7 of each accumulator) to their counts in v<a1>, v<a2>. */
#define SUM2(a0, a1, a2, a3, a4, a5, a6, a7)                                               \
    ADDP(a0, a0, a1) ADDP(a2, a2, a3) ADDP(a4, a4, a5) ADDP(a6, a6, a7)                     \
    ADDP(a0, a0, a2) ADDP(a4, a4, a6) "uzp1 v" #a1 ".8h, v" #a0 ".8h, v" #a4                \
    ".8h\n\tuzp2 v" #a2 ".8h, v" #a0 ".8h, v" #a4 ".8h\n\t" OUT(a1) OUT(a2)
/* The end of a channel block: its constants, the pixels' bytes, o back to the first pixel's
 * next byte, the next block. */
#define BLOCK_END(sums)                                                                    \
    "ld1 {v24.8h-v26.8h}, [%[bits]], #48\n\t" sums "sub %[o], %[o], %[back]\n\t"            \
    "subs %w[nb], %w[nb], #1\n\tb.ne 1b\n\t"
#define CLOBBERS                                                                           \
    "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13", \
    "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25",    \
    "v26", "v27", "v28", "v29", "v30", "v31", "cc", "memory"

/* One pixel block against nb channel blocks: rows r[0..2] start at the block's first tap
 * column (pixel x - pw), pixels vecs vectors apart; w the chunk's repack, o the first pixel's
 * byte of the first block, os the bytes from one pixel's output to the next. */
static inline void run_block(uint32_t four, uint32_t vecs, const uint32_t *const r[3],
                             const uint8x16_t *w, const block_bits *bits, uint32_t nb,
                             uint8_t *o, uint64_t os) {
    uint64_t back = (four ? 4u : 2u) * os - 1u;
    if (four) {
        __asm volatile("1:\n\t" LOAD4("r0") ROW4("uaddlp") LOAD4("r1") ROW4("uadalp")
                       LOAD4("r2") ROW4("uadalp")
                       BLOCK_END(SUM2(0, 1, 2, 3, 4, 5, 6, 7) SUM2(8, 9, 10, 11, 12, 13, 14, 15))
                       : [w] "+r"(w), [bits] "+r"(bits), [o] "+r"(o), [nb] "+r"(nb)
                       : [r0] "r"(r[0]), [r1] "r"(r[1]), [r2] "r"(r[2]), [os] "r"(os),
                         [back] "r"(back)
                       : CLOBBERS);
    } else if (vecs == 1u) {
        __asm volatile("1:\n\t"
                       "ld1 {v16.16b-v19.16b}, [%[r0]]\n\t" ROW2("uaddlp")
                       "ld1 {v16.16b-v19.16b}, [%[r1]]\n\t" ROW2("uadalp")
                       "ld1 {v16.16b-v19.16b}, [%[r2]]\n\t" ROW2("uadalp")
                       BLOCK_END(SUM1(0, 1, 2, 3, 4, 5, 6, 7) SUM1(8, 9, 10, 11, 12, 13, 14, 15))
                       : [w] "+r"(w), [bits] "+r"(bits), [o] "+r"(o), [nb] "+r"(nb)
                       : [r0] "r"(r[0]), [r1] "r"(r[1]), [r2] "r"(r[2]), [os] "r"(os),
                         [back] "r"(back)
                       : CLOBBERS);
    } else {
        /* k > 1 vectors per tap: per row, a loop over the k slices of the 4 pixels (16 bytes
         * apart within a pixel, ps between pixels), the accumulators zeroed first */
        uint64_t ps = 16u * (uint64_t)vecs, p, q;
        uint32_t j, rr;
        __asm volatile(
            "1:\n\t"
            "movi v0.2d, #0\n\tmovi v1.2d, #0\n\tmovi v2.2d, #0\n\tmovi v3.2d, #0\n\t"
            "movi v4.2d, #0\n\tmovi v5.2d, #0\n\tmovi v6.2d, #0\n\tmovi v7.2d, #0\n\t"
            "movi v8.2d, #0\n\tmovi v9.2d, #0\n\tmovi v10.2d, #0\n\tmovi v11.2d, #0\n\t"
            "movi v12.2d, #0\n\tmovi v13.2d, #0\n\tmovi v14.2d, #0\n\tmovi v15.2d, #0\n\t"
            "mov %[q], %[rows]\n\tmov %w[rr], #3\n\t"
            "2:\n\tldr %[p], [%[q]], #8\n\tmov %w[j], %w[k]\n\t"
            "3:\n\tldr q16, [%[p]]\n\tldr q17, [%[p], %[ps]]\n\tldr q18, [%[p], %[ps2]]\n\t"
            "ldr q19, [%[p], %[ps3]]\n\tadd %[p], %[p], #16\n\t" ROW2("uadalp")
            "subs %w[j], %w[j], #1\n\tb.ne 3b\n\t"
            "subs %w[rr], %w[rr], #1\n\tb.ne 2b\n\t"
            BLOCK_END(SUM1(0, 1, 2, 3, 4, 5, 6, 7) SUM1(8, 9, 10, 11, 12, 13, 14, 15))
            : [w] "+r"(w), [bits] "+r"(bits), [o] "+r"(o), [nb] "+r"(nb), [p] "=&r"(p),
              [q] "=&r"(q), [j] "=&r"(j), [rr] "=&r"(rr)
            : [rows] "r"(r), [k] "r"(vecs), [ps] "r"(ps), [ps2] "r"(2u * ps),
              [ps3] "r"(3u * ps), [os] "r"(os), [back] "r"(back)
            : CLOBBERS);
    }
}

#else
/* ---- ARMv7: the same blocks in two passes of 4 channels (fixed registers: q0-q7
 * accumulators, channel c's of vector 0 in q<c>, of vector 1 in q<4+c>; q8-q9 the tap's two
 * input vectors, one VLD1 at the tap's column, p stepping a pixel per tap; q10-q13 the 4
 * weight vectors, q14-q15 temporaries). The first pass's counts wait in tmp while the second
 * runs. ---- */
#define CH7(op, w, a, b)                                                                   \
    "veor q14, q" #w ", q8\n\tveor q15, q" #w ", q9\n\tvcnt.8 q14, q14\n\tvcnt.8 q15, q15\n\t" \
    op ".u8 q" #a ", q14\n\t" op ".u8 q" #b ", q15\n\t"
#define TAP7(op)                                                                           \
    "vld1.8 {d16-d19}, [%[p]], %[pb]\n\tvld1.8 {d20-d23}, [%[w]]!\n\t"                     \
    "vld1.8 {d24-d27}, [%[w]]!\n\t" CH7(op, 10, 0, 4) CH7(op, 11, 1, 5) CH7(op, 12, 2, 6)    \
    CH7(op, 13, 3, 7)
#define ROW7(r, first) "mov %[p], %[" r "]\n\t" TAP7(first) TAP7("vpadal") TAP7("vpadal")
#define PASS7 ROW7("r0", "vpaddl") ROW7("r1", "vpadal") ROW7("r2", "vpadal")
/* 4 channels' counts of the pixel whose lanes are in d<a>, d<b>, d<c>, d<e> into d<out>. */
#define SUM7(a, b, c, e, out)                                                              \
    "vpadd.i16 d28, d" #a ", d" #b "\n\tvpadd.i16 d29, d" #c ", d" #e "\n\t"                \
    "vpadd.i16 d" #out ", d28, d29\n\t"
/* 64 channels: pixels 0-1 in the halves of the vector-0 accumulators, 2-3 in vector 1's. */
#define SUMS7_4(o0, o1, o2, o3)                                                            \
    SUM7(0, 2, 4, 6, o0) SUM7(1, 3, 5, 7, o1) SUM7(8, 10, 12, 14, o2) SUM7(9, 11, 13, 15, o3)
/* 128 channels: pixel 0 in the vector-0 accumulators, pixel 1 in vector 1's, halves folded. */
#define SUMS7_2(o0, o1)                                                                    \
    "vadd.i16 d0, d0, d1\n\tvadd.i16 d2, d2, d3\n\tvadd.i16 d4, d4, d5\n\tvadd.i16 d6, d6, d7\n\t" \
    "vadd.i16 d8, d8, d9\n\tvadd.i16 d10, d10, d11\n\tvadd.i16 d12, d12, d13\n\t"          \
    "vadd.i16 d14, d14, d15\n\t" SUM7(0, 2, 4, 6, o0) SUM7(8, 10, 12, 14, o1)
/* The output step of the pixel whose 8 counts are q<q> = d<lo>, d<hi> (constants in q0-q2). */
#define OUT7(q, lo, hi)                                                                    \
    "vcgt.u16 q" #q ", q0, q" #q "\n\tvbsl q" #q ", q1, q2\n\tvpadd.i16 d" #lo ", d" #lo     \
    ", d" #hi "\n\tvpadd.i16 d" #lo ", d" #lo ", d" #lo "\n\tvpadd.i16 d" #lo ", d" #lo      \
    ", d" #lo "\n\tvst1.8 {d" #lo "[0]}, [%[o]], %[os]\n\t"
#define BLOCK7(first_sums, park, second_sums, pair_up, outs)                               \
    "1:\n\t" PASS7 first_sums park PASS7 second_sums pair_up                                \
    "vld1.16 {d0-d3}, [%[bits]]!\n\tvld1.16 {d4-d5}, [%[bits]]!\n\t" outs                   \
    "sub %[o], %[o], %[back]\n\tsubs %[nb], %[nb], #1\n\tbne 1b\n\t"
#define CLOBBERS7                                                                          \
    "q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11", "q12", "q13", \
    "q14", "q15", "cc", "memory"

static inline void run_block(uint32_t four, uint32_t vecs, const uint32_t *const r[3],
                             const uint8x16_t *w, const block_bits *bits, uint32_t nb,
                             uint8_t *o, uint32_t os) {
    uint16_t tmp[16];
    uint32_t back = (four ? 4u : 2u) * os - 1u, p;
    (void)vecs; /* 1 on ARMv7 */
    if (four) /* pixels 0-3: pass 1's counts in d16-d19, pass 2's in d20-d23, paired by two swaps */
        __asm volatile(BLOCK7(SUMS7_4(16, 17, 18, 19), "vst1.16 {d16-d19}, [%[tmp]]\n\t",
                              SUMS7_4(20, 21, 22, 23),
                              "vld1.16 {d16-d19}, [%[tmp]]\n\tvswp d17, d20\n\tvswp d19, d22\n\t",
                              OUT7(8, 16, 17) OUT7(10, 20, 21) OUT7(9, 18, 19) OUT7(11, 22, 23))
                       : [w] "+r"(w), [bits] "+r"(bits), [o] "+r"(o), [nb] "+r"(nb), [p] "=&r"(p)
                       : [r0] "r"(r[0]), [r1] "r"(r[1]), [r2] "r"(r[2]), [pb] "r"(8u),
                         [os] "r"(os), [back] "r"(back), [tmp] "r"(tmp)
                       : CLOBBERS7);
    else /* pixels 0-1: d16-d17, then d18-d19, paired by one swap */
        __asm volatile(BLOCK7(SUMS7_2(16, 17), "vst1.16 {d16-d17}, [%[tmp]]\n\t", SUMS7_2(18, 19),
                              "vld1.16 {d16-d17}, [%[tmp]]\n\tvswp d17, d18\n\t",
                              OUT7(8, 16, 17) OUT7(9, 18, 19))
                       : [w] "+r"(w), [bits] "+r"(bits), [o] "+r"(o), [nb] "+r"(nb), [p] "=&r"(p)
                       : [r0] "r"(r[0]), [r1] "r"(r[1]), [r2] "r"(r[2]), [pb] "r"(16u),
                         [os] "r"(os), [back] "r"(back), [tmp] "r"(tmp)
                       : CLOBBERS7);
}
#endif

/* The weights of channel blocks cb0 .. cb0 + nb - 1 in the order the block loops read them:
 * per block, pass (LANES channels), tap row, slice (vector of a tap), tap column, the pass's
 * channels' vectors (at 64 channels the tap's 64 bits twice). */
static void repack(const ebnn_layer *l, uint32_t cb0, uint32_t nb, uint32_t vecs,
                   uint8x16_t *wp) {
    uint32_t iw = ebnn_words(l->in_c), n = 9u * iw, b, h, ky, j, kx, c;
    for (b = 0; b < nb; b++)
        for (h = 0; h < 8u; h += LANES)
            for (ky = 0; ky < 3u; ky++)
                for (j = 0; j < vecs; j++)
                    for (kx = 0; kx < 3u; kx++)
                        for (c = 0; c < LANES; c++) {
                            const uint8_t *src = (const uint8_t *)(const void *)(
                                l->weights + (size_t)(8u * (cb0 + b) + h + c) * n +
                                (ky * 3u + kx) * iw + 4u * j);
                            if (iw == 2u) {
                                uint8x8_t d = vld1_u8(src);
                                *wp++ = vcombine_u8(d, d);
                            } else {
                                *wp++ = vld1q_u8(src);
                            }
                        }
}

/* The output step's constants of channel blocks cb0 .. cb0 + nb - 1. */
static void block_consts(const ebnn_layer *l, uint32_t cb0, uint32_t nb, block_bits *bits) {
    uint32_t terms = 9u * l->in_c, b, c;
    for (b = 0; b < nb; b++)
        for (c = 0; c < 8u; c++) {
            uint32_t ch = 8u * (cb0 + b) + c, f = (l->flip[ch >> 5] >> (ch & 31u)) & 1u;
            bits[b].cut[c] = (uint16_t)ebnn_mism_cut(terms, l->thresholds[ch], f);
            bits[b].hit[c] = (uint16_t)(f ? 0u : 1u << c);
            bits[b].miss[c] = (uint16_t)(f ? 1u << c : 0u);
        }
}

/* The 3 rows of the pixel block at (y, x), px pixels wide from pixel x - pw, as row pointers:
 * into the input when every tap is inside it, else into strip, a copy with zero words for
 * padding (and for pixels past the map's right end). */
static void block_rows(const ebnn_layer *l, const uint32_t *in, uint32_t y, uint32_t x,
                       uint32_t px, uint32_t *strip, const uint32_t *r[3]) {
    uint32_t iw = ebnn_words(l->in_c), ky, i, k;
    int32_t iy0 = (int32_t)y - (int32_t)l->ph, ix0 = (int32_t)x - (int32_t)l->pw;
    if (iy0 >= 0 && iy0 + 3 <= (int32_t)l->in_h && ix0 >= 0 && ix0 + (int32_t)px <= (int32_t)l->in_w) {
        for (ky = 0; ky < 3u; ky++) r[ky] = in + ((size_t)(iy0 + (int32_t)ky) * l->in_w + (size_t)ix0) * iw;
        return;
    }
    for (ky = 0; ky < 3u; ky++) {
        int32_t iy = iy0 + (int32_t)ky;
        uint32_t *dst = strip + ky * px * iw;
        r[ky] = dst;
        for (i = 0; i < px; i++, dst += iw) {
            int32_t ix = ix0 + (int32_t)i;
            const uint32_t *src = in + ((size_t)iy * l->in_w + (size_t)ix) * iw;
            int inside = iy >= 0 && iy < (int32_t)l->in_h && ix >= 0 && ix < (int32_t)l->in_w;
            for (k = 0; k < iw; k++) dst[k] = inside ? src[k] : 0u;
        }
    }
}

/* The layer (checked by ebnn_neon_conv3x3): chunks of channel blocks, each repacked, then every
 * pixel block of the map against them. */
__attribute__((noinline)) static void conv3x3(const ebnn_layer *l, const uint32_t *in, uint8_t *ob) {
    uint8x16_t wbuf[WBUF_VECS];
    block_bits bits[MAX_BLOCKS];
    uint32_t strip[3u * 4u * (MAX_IN_C / 32u)];
    uint8_t scratch[4u * MAX_BLOCKS];
    uint32_t four = l->in_c == 64u, vecs = four ? 1u : l->in_c / 128u, pix = four ? 4u : 2u;
    uint32_t oww = ebnn_words(l->out_c), obytes = 4u * oww, blocks = l->out_c / 8u;
    uint32_t chunk, cb0, y, x, i, b;
    chunk = WBUF_VECS / (72u * vecs);
    if (chunk > MAX_BLOCKS) chunk = MAX_BLOCKS;
    for (cb0 = 0; cb0 < blocks; cb0 += chunk) {
        uint32_t nb = blocks - cb0 < chunk ? blocks - cb0 : chunk;
        repack(l, cb0, nb, vecs, wbuf);
        block_consts(l, cb0, nb, bits);
        for (y = 0; y < l->out_h; y++)
            for (x = 0; x < l->out_w; x += pix) {
                const uint32_t *r[3];
                uint32_t valid = l->out_w - x < pix ? l->out_w - x : pix;
                uint8_t *o = ob + ((size_t)y * l->out_w + x) * obytes + cb0;
                block_rows(l, in, y, x, pix + 2u, strip, r);
                if (valid == pix) {
                    run_block(four, vecs, r, wbuf, bits, nb, o, obytes);
                } else { /* the row's last pixels: bytes into scratch, pixel p's at p * nb */
                    run_block(four, vecs, r, wbuf, bits, nb, scratch, nb);
                    for (i = 0; i < valid; i++)
                        for (b = 0; b < nb; b++) o[(size_t)i * obytes + b] = scratch[i * nb + b];
                }
            }
    }
    /* bits past out_c: the rest of each pixel's last word */
    if (l->out_c % 32u != 0u)
        for (i = 0; i < (uint32_t)l->out_h * l->out_w; i++)
            for (b = blocks; b < 4u * oww; b++) ob[(size_t)i * obytes + b] = 0;
}

int ebnn_neon_conv3x3(const ebnn_layer *l, const uint32_t *packed, const uint32_t *in, void *out) {
    (void)packed; /* repacked per call */
    if (l->kh != 3u || l->kw != 3u || l->sh != 1u || l->sw != 1u || l->in_type != EBNN_T_BIN ||
        l->out_type != EBNN_T_BIN || l->groups != 1u || l->out_c % 8u != 0u ||
        l->out_w < (l->in_c == 64u ? 4u : 2u) ||
        (l->in_c != 64u && (l->in_c % 128u != 0u || l->in_c > MAX_IN_C)))
        return 0;
    conv3x3(l, in, (uint8_t *)out);
    return 1;
}

#else
typedef int ebnn_neon_conv3x3_unused; /* ISO C forbids an empty translation unit. */
#endif
