/* Channels-in-lanes BIN convolution for Helium (the idea of x86_lanes.c on MVE): the weights
 * of 16 output channels (a pass: 4 groups of 4, a 128-bit vector per group) are repacked
 * word-major, so that one vector holds word j of its 4 channels' windows. Each input word of
 * the window is broadcast (VDUP), XOR-ed with the 4 groups' vectors, popcounted by mve.c's byte
 * gather and accumulated per byte (VADD.I8): per word 2 + 4 x 4 instructions and the loop's LE
 * for 4 x 128 binary MACs, with no horizontal reduction per output channel and no ragged tail
 * for rows that are not whole vectors. Windows of at most 31 words (a byte counts at most 8 a
 * word: 248) cover the small layers of microcontroller models; the larger ones, and one-word
 * windows (4 rows per vector there), stay with the driver (bin_conv.c).
 * At the end of a pass each lane's 4 byte counts become its count in the top half of the lane
 * (halfword pair sums by VSHR + VMLA by -255, then VMUL by 0x10001), two groups' counts are
 * put side by side in the halfwords of one vector (VSRI), and one VPT compare against the
 * channels' cuts (ebnn_mism_cut) predicates an add across of their bit weights, negative where
 * the channel flips (its bit then starts set): 11 instructions per 8 channels, and the 16 bits
 * are one halfword store (little-endian) into the output pixel. Channels past out_c have zero
 * weights, cut 0 and no bit: the output bits past out_c stay zero.
 * The input rows of an output row's windows are copied into a stack buffer between zero
 * columns (the padding; rows in the padding are zeros), so that every window is read in place
 * from it, kernel rows skip bytes apart; maps too wide for the buffer stay with the driver.
 * The repack, with the cuts, is made at load time (ebnn_pack, pack.c) or per call into a
 * stack buffer for layers of many pixels: one pixel, dense batch 1, then stays with the driver,
 * where the repack would cost as much as the layer. BIN output only.
 * The C around the assembly is cold (optimized for size: the firmware's flash): its work per
 * output row is small beside the assembly's per pixel. */
#include "kernels.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <string.h>

#define MAX_WORDS 31u   /* window words: byte counters up to 248 */
#define BUF_WORDS 768u  /* the per-call repack: 3 KiB of stack */
#define ROW_WORDS 192u  /* the input rows of an output row's windows, and a zero row */
#define MIN_PIXELS 8u   /* the per-call repack pays for itself from about this many pixels on */
/* A pass's record: the weights word-major (16 per window word, channel order), the bits the
 * flipping channels start with, then per 8 channels their cuts and their signed bit weights,
 * halfwords in the order the finish pairs the groups' lanes (channels 0, 4, 1, 5, 2, 6, 3, 7). */
#define REC_WORDS(n) (16u * (n) + 17u)

/* What the assembly reads, at these offsets. */
typedef struct {
    uint32_t len, skip;     /* 0, 4: window rows of len words, skip bytes from one to the next */
    const uint8_t *table;   /* 8: ebnn_mve_pop8 */
    uint32_t rows;          /* 12: the window's rows */
    const uint32_t *w;      /* 16: the passes' records */
    uint32_t passes, odd;   /* 20, 24: passes, 1 when odd (a last half word to clear) */
    uint32_t step, pixels;  /* 28, 32: bytes from a window to the next; pixels (counted down) */
} lanes_ctx;

/* One word of the window (q4) against group q's weights: XOR, byte popcounts, byte sums. */
#define STEP(q) \
    "vldrw.u32 q5, [r5], #16\n\t" \
    "veor q5, q5, q4\n\t" \
    "vldrb.u8 q6, [r11, q5]\n\t" \
    "vadd.i8 " q ", " q ", q6\n\t"
/* Groups a and b's counts (the top halves of their lanes, from the pair sums of the byte
 * counts), a's shifted into the bottom halves of b, against the pair's cuts, into the bits (r4;
 * in halfword lanes a flip's weight -w is 65536 - w: right in the 16 bits stored). */
#define FINISH(a, b) \
    "vshr.u16 q4, " a ", #8\n\t" \
    "vmla.u16 " a ", q4, r8\n\t" \
    "vmul.i32 " a ", " a ", r12\n\t" \
    "vshr.u16 q4, " b ", #8\n\t" \
    "vmla.u16 " b ", q4, r8\n\t" \
    "vmul.i32 " b ", " b ", r12\n\t" \
    "vsri.32 " b ", " a ", #16\n\t" \
    "vldrw.u32 q4, [r5], #16\n\t" \
    "vldrw.u32 q5, [r5], #16\n\t" \
    "vpt.u16 hi, q4, " b "\n\t" \
    "vaddvat.u16 r4, q5\n\t"

/* lanes_row(x, o, c): the output bits of c->pixels pixels, the first one's window at x, every
 * pass's 16 bits stored from o on; returns o past them. In assembly for the fixed registers:
 * r0 the window, r1 the output, r2 c, r3 the row length, r4 the bits, r5 the records, r6 the
 * passes left, r7 the rows left, r8 the row then -255, r9 the skip, r10 the input word,
 * r11 the table, r12 0x10001; q0-q3 the groups' byte counts, q4 the input word, q5 the
 * weights, q6 the popcounts. Per pass 33 instructions besides the words (19 each) and 4 a
 * window row, per pixel 8 more. */
__attribute__((naked, noinline)) static uint16_t *lanes_row(
    __attribute__((unused)) const uint32_t *x, __attribute__((unused)) uint16_t *o,
    __attribute__((unused)) lanes_ctx *c) {
    __asm volatile("push {r4-r11, lr}\n\t"
                   "vpush {d8-d13}\n\t"
                   "ldm r2, {r3, r9, r11}\n\t"
                   "mov r12, #0x10001\n\t"
                   "1:\n\t"
                   "ldrd r5, r6, [r2, #16]\n\t"
                   "2:\n\t"
                   "vmov.i32 q0, #0\n\t"
                   "vmov.i32 q1, #0\n\t"
                   "vmov.i32 q2, #0\n\t"
                   "vmov.i32 q3, #0\n\t"
                   "mov r8, r0\n\t"
                   "ldr r7, [r2, #12]\n\t"
                   "3:\n\t"
                   "dls lr, r3\n\t"
                   "4:\n\t"
                   "ldr r10, [r8], #4\n\t"
                   "vdup.32 q4, r10\n\t" STEP("q0") STEP("q1") STEP("q2") STEP("q3")
                   "le lr, 4b\n\t"
                   "add r8, r8, r9\n\t"
                   "subs r7, r7, #1\n\t"
                   "bne 3b\n\t"
                   "ldr r4, [r5], #4\n\t"
                   "mvn r8, #254\n\t" FINISH("q0", "q1") FINISH("q2", "q3")
                   "strh r4, [r1], #2\n\t"
                   "subs r6, r6, #1\n\t"
                   "bne 2b\n\t"
                   "ldrd r4, r10, [r2, #24]\n\t"
                   "cbz r4, 5f\n\t"
                   "strh r6, [r1], #2\n\t" /* r6 is 0 */
                   "5:\n\t"
                   "add r0, r0, r10\n\t"
                   "ldr r4, [r2, #32]\n\t"
                   "subs r4, r4, #1\n\t"
                   "str r4, [r2, #32]\n\t"
                   "bne 1b\n\t"
                   "mov r0, r1\n\t"
                   "vpop {d8-d13}\n\t"
                   "pop {r4-r11, pc}\n\t");
}

/* The words of l's windows, 0 when l is not a layer of this path: one-word windows stay with
 * the driver (its rows of one word take 4 channels per vector), and so do maps too wide for
 * the buffer of ebnn_mve_lanes_conv2d, kh + 1 copied input rows of *run words (the input row
 * between its padding, or the windows of an output row, whichever is wider). */
__attribute__((noinline)) static uint32_t window_words(const ebnn_layer *l, uint32_t *run) {
    uint32_t iw = ebnn_words(l->in_c), n = (uint32_t)l->kh * l->kw * iw;
    uint32_t span = ((l->out_w - 1u) * l->sw + l->kw) * iw, wide = (l->pw + l->in_w) * iw;
    *run = span > wide ? span : wide;
    return l->in_type == EBNN_T_BIN && l->out_type == EBNN_T_BIN && l->groups == 1 &&
                   n >= 2u && n <= MAX_WORDS && (l->kh + 1u) * *run <= ROW_WORDS
               ? n
               : 0u;
}

/* The record of the pass of channels c0 .. c0 + 15 (c0 a multiple of 16). */
__attribute__((cold)) static void record(const ebnn_layer *l, uint32_t n, uint32_t c0,
                                         uint32_t *rec) {
    uint32_t valid = l->out_c - c0 < 16u ? l->out_c - c0 : 16u, cut[16], i, j;
    uint32_t *kw = rec + 16u * n + 1u; /* after the start bits */
    const uint32_t *w = l->weights + (size_t)c0 * n;
    ebnn_bin_cuts(l, c0, valid, (uint32_t)l->kh * l->kw * l->in_c, cut);
    memset(rec, 0, 4u * REC_WORDS(n));
    kw[-1] = (l->flip[c0 >> 5] >> (c0 & 16u)) & ((2u << (valid - 1u)) - 1u);
    for (i = 0; i < valid; i++) {
        /* its cut's word (its weight's 4 later) and half */
        uint32_t sh = (i & 4u) * 4u, *k = kw + (i & 11u);
        for (j = 0; j < n; j++) rec[16u * j + i] = *w++;
        k[0] |= cut[i] << sh;
        k[4] |= ((1u << i) * (1u - 2u * ((kw[-1] >> i) & 1u)) & 0xFFFFu) << sh;
    }
}

__attribute__((cold)) size_t ebnn_mve_lanes_pack_size(const ebnn_layer *l) {
    uint32_t run, n = window_words(l, &run);
    return n != 0u ? (size_t)(l->out_c + 15u) / 16u * REC_WORDS(n) : 0u;
}

__attribute__((cold)) void ebnn_mve_lanes_pack(const ebnn_layer *l, uint32_t *packed) {
    uint32_t run, n = window_words(l, &run), c0;
    for (c0 = 0; n != 0u && c0 < l->out_c; c0 += 16u, packed += REC_WORDS(n))
        record(l, n, c0, packed);
}

__attribute__((cold)) int ebnn_mve_lanes_conv2d(const ebnn_layer *l, const uint32_t *packed,
                                              const uint32_t *in, void *out) {
    /* a copied input row: pw zero pixels, the input row (line words), zeros to the windows'
     * end (run words in all) */
    uint32_t buf[BUF_WORDS], rows[ROW_WORDS], run, n = window_words(l, &run);
    uint32_t iw = ebnn_words(l->in_c), kh = l->kh, line = l->in_w * iw, oy, ky;
    uint16_t *o = (uint16_t *)out;
    lanes_ctx c;
    if (n == 0u) return 0;
    c.passes = (l->out_c + 15u) / 16u;
    if (packed == NULL) { /* repacked now, where it fits and pays */
        if ((size_t)l->out_h * l->out_w < MIN_PIXELS || ebnn_mve_lanes_pack_size(l) > BUF_WORDS)
            return 0;
        ebnn_mve_lanes_pack(l, buf);
        packed = buf;
    }
    c.rows = kh, c.len = l->kw * iw, c.w = packed, c.skip = 4u * (run - c.len);
    c.table = ebnn_mve_pop8, c.odd = c.passes & 1u, c.step = 4u * l->sw * iw;
    memset(rows, 0, 4u * (kh + 1u) * run); /* the padding and the zero row */
    for (oy = 0; oy < l->out_h; oy++) {
        for (ky = 0; ky < kh; ky++) { /* this output row's input rows, zeros in the padding */
            uint32_t iy = oy * l->sh + ky - l->ph; /* past in_h too when in the top padding */
            memcpy(rows + ky * run + l->pw * iw, iy < l->in_h ? in + iy * line : rows + kh * run,
                   4u * line);
        }
        c.pixels = l->out_w;
        o = lanes_row(rows, o, &c);
    }
    return 1;
}

#else
typedef int ebnn_mve_lanes_unused; /* ISO C forbids an empty translation unit. */
#endif
