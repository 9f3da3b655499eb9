/* Output-sliced BIN convolution, the Cortex-M4/M7/M33 path (the swar row's conv_bin,
 * kernels.h), BIN in and out, on weights repacked at load time input-major: per block of 32
 * output channels and input bit i of the window, one word whose bit o is channel c0 + o's
 * weight bit i. Input bit i as a mask (all ones or zeros) XOR-ed with that word is the 32
 * channels' mismatch bits at once, and carry-save adders over such words count 32 channels per
 * instruction: no per-channel popcount or reduction (the row primitive's floor on these cores,
 * ~75 instructions per 256-bit row, 0.29 per binary MAC).
 *  - Stage 1 (vs_window, assembly), per group of 16 input bits (a half of a window word): 8
 *    pairs of bits, each stored as b (the first bit's word) and P = b ^ c, so that with the
 *    masks of the first bit and of the pair's XOR (SBFX from the group's xy word, v | (v ^ v >>
 *    1) << 16, made once per window for every block) the full adder of the ones counter and
 *    the pair is 4 instructions: ones ^= P', carry = b' ^ ((ones ^ b') & P'). A Harley-Seal
 *    tree (twos, fours, eights carried) leaves one word of sixteens per group: 108
 *    instructions per 16 x 32 binary MACs (0.211 per MAC).
 *  - Stage 2: the sixteens counted by 4-word carry-save trees, two counter bits per pass.
 *  - The output step is the count itself: the counters start at the channel's bias
 *    2^(nb + 4) - cut (ebnn_mism_cut's cut, bit-sliced at load time, 2^nb > groups), so that
 *    bit nb + 4 of mismatches + bias is mismatches >= cut; the inverted flips, folded into that
 *    bit's start, turn it into the 32 output bits.
 * Windows: taps column by column, so that a window s columns on (stride s) starts s * kh * hp
 * words on in one row of columns, made once per pass for every window it holds (the padding as
 * zero words). */
#include "kernels.h"

#if defined(EBNN_SLICED)

#define VS_BUF 256 /* xy words (groups) of a pass, the window's sixteens VS_BUF words past its */

/* One pair of input bits k, k + 1 of the group (xy in r12): the weights b, P = b ^ c in
 * registers b, P, masked into b', P' (the masks of bit k and of bit k XOR bit k + 1, m scratch)
 * and added to ones (r0): ones ^= P', the carry (the majority) into b. 8 instructions. */
#define VS_PAIR(b, P, m, k, k16) \
    "sbfx " m ", r12, #" k ", #1\n\t" \
    "eors " b ", " b ", " m "\n\t" \
    "sbfx " m ", r12, #" k16 ", #1\n\t" \
    "eors " P ", " P ", " m "\n\t" \
    "eor " m ", r0, " b "\n\t" \
    "eors r0, r0, " P "\n\t" \
    "ands " m ", " m ", " P "\n\t" \
    "eors " b ", " b ", " m "\n\t"
/* acc, d = the sum and carry of acc + x1 + x2 (u scratch); d may be x1 */
#define VS_CSA(acc, x1, x2, u, d) \
    "eor " u ", " acc ", " x1 "\n\t" \
    "ands " d ", " x1 ", " acc "\n\t" \
    "eor " acc ", " u ", " x2 "\n\t" \
    "ands " u ", " u ", " x2 "\n\t" \
    "orrs " d ", " d ", " u "\n\t"

#define VS_STR_(x) #x
#define VS_STR(x) VS_STR_(x)
#define VS_ARG __attribute__((unused))
/* Every block of 32 output channels against the window at xy (packed: the blocks; gw: g |
 * words << 16, g groups, words blocks): the output words into out. A block: nb + 5 words of
 * the bias's bits (the last with the inverted flips), then 16 words per group.
 * Stage 1, per group: r0 ones, r4 twos, r8 fours, r9 eights (from the bias's bits 0-3); r1, r2
 * / r5, r7 a quad's two pairs (4 words per LDM), then their carries; r10, r11 the pending fours
 * and eights; r3 scratch; r6 the weights, r12 the xy word, lr the window. Frame: [0] the
 * window's end, [4] nb, [8] the next block, then r0-r3 as called. */
__attribute__((naked, noinline)) static void vs_window(VS_ARG const uint32_t *packed,
                                                       VS_ARG uint32_t *xy, VS_ARG uint32_t *out,
                                                       VS_ARG uint32_t gw) {
    __asm volatile(
        "push {r0-r11, lr}\n\t"
        "sub sp, #12\n\t"
        "uxth r2, r3\n\t"
        "add r3, r1, r2, lsl #2\n\t"
        "clz r2, r2\n\t"
        "rsb r2, r2, #32\n\t"
        "strd r3, r2, [sp]\n\t"
        "0:\n\t" /* a block: nb + 5 words of the bias, then the groups' */
        "ldrd r0, lr, [sp, #12]\n\t"
        "add r6, r0, r2, lsl #2\n\t"
        "adds r6, #20\n\t"
        "ldm r0, {r0, r4, r8, r9}\n\t"
        "1:\n\t"
        "ldr r12, [lr], #4\n\t"
        "ldm r6!, {r1, r2, r5, r7}\n\t"
        VS_PAIR("r1", "r2", "r3", "0", "16") VS_PAIR("r5", "r7", "r3", "2", "18")
        VS_CSA("r4", "r1", "r5", "r3", "r10")
        "ldm r6!, {r1, r2, r5, r7}\n\t"
        VS_PAIR("r1", "r2", "r3", "4", "20") VS_PAIR("r5", "r7", "r3", "6", "22")
        VS_CSA("r4", "r1", "r5", "r3", "r1") VS_CSA("r8", "r1", "r10", "r3", "r11")
        "ldm r6!, {r1, r2, r5, r7}\n\t"
        VS_PAIR("r1", "r2", "r3", "8", "24") VS_PAIR("r5", "r7", "r3", "10", "26")
        VS_CSA("r4", "r1", "r5", "r3", "r10")
        "ldm r6!, {r1, r2, r5, r7}\n\t"
        VS_PAIR("r1", "r2", "r3", "12", "28") VS_PAIR("r5", "r7", "r3", "14", "30")
        VS_CSA("r4", "r1", "r5", "r3", "r1") VS_CSA("r8", "r1", "r10", "r3", "r1")
        VS_CSA("r9", "r1", "r11", "r3", "r1")
        "str r1, [lr, #4 * " VS_STR(VS_BUF) " - 4]\n\t"
        "ldr r3, [sp]\n\t"
        "cmp lr, r3\n\t"
        "bne 1b\n\t"
        "str r6, [sp, #8]\n\t"
        /* stage 2, the sixteens: passes of 4-word trees over them, two counter bits each
         * (r0, r1 from the bias's bits 4 on), the next bit's words written over the pass's
         * first, zero words past its end; lr = nb less the bits done */
        "ldm sp, {r6, lr}\n\t"
        "ldrd r8, r5, [sp, #12]\n\t"
        "adds r8, #16\n\t"
        "subs r6, r6, r5\n\t"
        "add r10, r5, #4 * " VS_STR(VS_BUF) "\n\t"
        "add r11, r10, r6\n\t"
        "2:\n\t"
        "ldm r8!, {r0, r1}\n\t"
        "movs r7, #0\n\t"
        "strd r7, r7, [r11]\n\t"
        "str r7, [r11, #8]\n\t"
        "mov r6, r10\n\t"
        "mov r9, r10\n\t"
        "3:\n\t"
        "ldm r6!, {r2-r5}\n\t"
        VS_CSA("r0", "r2", "r3", "r7", "r2") VS_CSA("r0", "r4", "r5", "r7", "r4")
        VS_CSA("r1", "r2", "r4", "r7", "r2")
        "str r2, [r9], #4\n\t"
        "cmp r6, r11\n\t"
        "blo 3b\n\t"
        "mov r11, r9\n\t"
        "subs lr, lr, #2\n\t"
        "bhs 2b\n\t"
        "cmn lr, #1\n\t" /* nb was the pass's second bit */
        "it eq\n\t"
        "moveq r0, r1\n\t"
        /* the word out, the next block */
        "ldrd r1, r2, [sp, #20]\n\t"
        "str r0, [r1], #4\n\t"
        "ldr r0, [sp, #8]\n\t"
        "subs r2, r2, #0x10000\n\t"
        "str r0, [sp, #12]\n\t"
        "strd r1, r2, [sp, #20]\n\t"
        "cmp r2, #0x10000\n\t"
        "ldr r2, [sp, #4]\n\t"
        "bhs 0b\n\t"
        "add sp, #28\n\t"
        "pop {r4-r11, pc}\n\t");
}

/* A layer's shape here: halves (16 input bits) per tap, groups per window, counter bits past
 * the sixteens (2^nb > g) and words per block of 32 output channels. */
typedef struct {
    uint32_t hp, g, nb, block;
} vs_shape;

static vs_shape shape_of(const ebnn_layer *l) {
    vs_shape s;
    s.hp = (l->in_c + 15u) >> 4;
    s.g = (uint32_t)l->kh * l->kw * s.hp;
    s.nb = 32u - (uint32_t)__builtin_clz(s.g);
    s.block = s.nb + 5u + 16u * s.g;
    return s;
}

size_t ebnn_swar_sliced_pack_size(const ebnn_layer *l) {
    vs_shape s = shape_of(l);
    if (l->in_type != EBNN_T_BIN || l->out_type != EBNN_T_BIN || l->groups != 1 || s.g > VS_BUF ||
        4u * l->out_c < 3u * 32u * ebnn_words(l->out_c))
        return 0;
    return (size_t)ebnn_words(l->out_c) * s.block;
}

/* Block by block, word by word, lane by lane: the bias's nb + 5 bits, then the groups, taps
 * column by column (tap (ky, kx)'s from group (kx * kh + ky) * hp on); of a group's pair of
 * bits q, q + 1 (q even), word q holds bit q (b), word q + 1 bit q XOR bit q + 1 (b ^ c).
 * Lanes past out_c zero (bias 0: the output bits zero). */
__attribute__((cold)) void ebnn_swar_sliced_pack(const ebnn_layer *l, uint32_t *p) {
    vs_shape s = shape_of(l);
    uint32_t iw = ebnn_words(l->in_c), n = (uint32_t)l->kh * l->kw * iw, cut[32], c0, j, o;
    for (c0 = 0; c0 < l->out_c; c0 += 32u) {
        uint32_t rows = l->out_c - c0 < 32u ? l->out_c - c0 : 32u;
        ebnn_bin_cuts(l, c0, rows, (uint32_t)l->kh * l->kw * l->in_c, cut);
        for (j = 0; j < s.nb + 5u; j++, p++)
            for (*p = 0, o = 0; o < rows; o++) *p |= ((1u << (s.nb + 4u)) - cut[o]) >> j << 31 >> (31u - o);
        p[-1] ^= ~l->flip[c0 >> 5] & (0xFFFFFFFFu >> (32u - rows)); /* the inverted flips */
        for (j = 0; j < 16u * s.g; j++, p++) {
            uint32_t t = (j >> 4) / s.hp, h = (j >> 4) % s.hp, q = 16u * (h & 1u) + (j & 14u);
            const uint32_t *w = l->weights + (size_t)c0 * n + (t % l->kh * l->kw + t / l->kh) * iw + h / 2u;
            for (*p = 0, o = 0; o < rows; o++, w += n) *p |= ((*w >> q) ^ (*w >> (q + 1u) & j)) << 31 >> (31u - o);
        }
    }
}

/* The xy words of n taps from px on (px NULL: padding, zero words), the first hp halves of
 * each (hp of hs's low 16 bits; taps (hp + 1) / 2 words apart), into q, taps step (hs >> 16)
 * words apart there: per half v, v | (v ^ v >> 1) << 16, two per word by PKHBT / PKHTB. */
__attribute__((naked, noinline)) static void taps_xy(VS_ARG const uint32_t *px,
                                                     VS_ARG uint32_t *q, VS_ARG uint32_t n,
                                                     VS_ARG uint32_t hs) {
    __asm volatile(
        "push {r4-r10, lr}\n\t"
        "lsrs r4, r3, #16\n\t"
        "lsls r4, r4, #2\n\t"
        "uxth r3, r3\n\t"
        "adds r8, r3, #1\n\t"
        "lsrs r8, r8, #1\n\t"
        "lsls r8, r8, #2\n\t"
        "mov r9, #-1\n\t"
        "cbnz r0, 1f\n\t"
        "mov r0, r1\n\t" /* padding: reads of q masked to zero, no step */
        "movs r8, #0\n\t"
        "mov r9, r8\n\t"
        "1:\n\t"
        "cbz r2, 9f\n\t"
        "mov r5, r0\n\t"
        "mov r6, r1\n\t"
        "subs r7, r3, #2\n\t"
        "blt 3f\n\t"
        "2:\n\t"
        "ldr r12, [r5], #4\n\t"
        "and r12, r12, r9\n\t"
        "eor lr, r12, r12, lsr #1\n\t"
        "pkhtb r10, lr, r12, asr #16\n\t"
        "pkhbt r12, r12, lr, lsl #16\n\t"
        "strd r12, r10, [r6], #8\n\t"
        "subs r7, r7, #2\n\t"
        "bge 2b\n\t"
        "3:\n\t"
        "adds r7, r7, #2\n\t" /* 1: a last half */
        "beq 4f\n\t"
        "ldr r12, [r5]\n\t"
        "and r12, r12, r9\n\t"
        "eor lr, r12, r12, lsr #1\n\t"
        "pkhbt r12, r12, lr, lsl #16\n\t"
        "str r12, [r6]\n\t"
        "4:\n\t"
        "add r0, r0, r8\n\t"
        "add r1, r1, r4\n\t"
        "subs r2, r2, #1\n\t"
        "b 1b\n\t"
        "9:\n\t"
        "pop {r4-r10, pc}\n\t");
}

void ebnn_swar_sliced_xy(const ebnn_layer *l, const uint32_t *in, int32_t iy0, int32_t ix0,
                         uint32_t ncol, uint32_t *xy) {
    uint32_t hp = (l->in_c + 15u) >> 4, step = l->kh * hp, hs = step << 16 | hp, ky;
    /* the columns inside the input: a .. e - 1 */
    uint32_t a = ix0 < 0 ? (uint32_t)-ix0 : 0u, e = (uint32_t)((int32_t)l->in_w - ix0);
    if (e > ncol) e = ncol;
    if (a > e) a = e;
    for (ky = 0; ky < l->kh; ky++, xy += hp) {
        uint32_t iy = (uint32_t)(iy0 + (int32_t)ky);
        if (a != 0u) taps_xy(NULL, xy, a, hs);
        taps_xy(iy < l->in_h ? in + ((size_t)iy * l->in_w + (uint32_t)(ix0 + (int32_t)a)) * ebnn_words(l->in_c) : NULL,
                xy + a * step, e - a, hs);
        if (e != ncol) taps_xy(NULL, xy + e * step, ncol - e, hs);
    }
}

void ebnn_swar_sliced_pixel(const ebnn_layer *l, const uint32_t *packed, uint32_t *xy,
                            uint32_t *o) {
    vs_window(packed, xy, o, shape_of(l).g | ebnn_words(l->out_c) << 16);
}

int ebnn_swar_sliced_conv2d(const ebnn_layer *l, const uint32_t *packed, const uint32_t *in,
                            void *out) {
    vs_shape s = shape_of(l);
    uint32_t xy[2u * VS_BUF + 3u], words = ebnn_words(l->out_c), gw = s.g | words << 16, oy, ox, j;
    uint32_t col = (uint32_t)l->kh * s.hp * l->sw, seg, *o = (uint32_t *)out;
    int32_t iy0 = -(int32_t)l->ph;
    if (packed == NULL) return 0;
    /* up to seg windows per pass, col words from one to the next; 3 words past the sixteens
     * for stage 2's zeros */
    seg = (VS_BUF - s.g) / col + 1u;
    for (oy = 0; oy < l->out_h; oy++, iy0 += l->sh)
        for (ox = 0; ox < l->out_w; ox += seg) {
            uint32_t n = l->out_w - ox < seg ? l->out_w - ox : seg;
            ebnn_swar_sliced_xy(l, in, iy0, (int32_t)(ox * l->sw) - (int32_t)l->pw, (n - 1u) * l->sw + l->kw, xy);
            for (j = 0; j < n; j++, o += words) vs_window(packed, xy + j * col, o, gw);
        }
    return 1;
}

#else
typedef int ebnn_swar_sliced_unused;
#endif
