/* Every optimized kernel this CPU can run against the scalar reference, bit for bit: the
 * xorpop primitive on random lengths, row counts and misaligned pointers, then CONV2D/DENSE
 * on random shapes (odd channel counts, sizes not a multiple of the word width, padding,
 * strides 1-2, groups incl. depthwise, U8 and BIN input, BIN and I32 output), every other
 * layer on the row's load-time repack where the row repacks it.
 *
 * One file for every target: the host (ASan build), Linux user mode under qemu-aarch64 /
 * qemu-arm, and bare-metal Cortex-M under qemu-system-arm (-DEBNN_BAREMETAL, with
 * cm_startup.c). No malloc, no stdio on bare metal: static buffers and a small printer.
 * Usage: test_kernels_arch [SEED] [CASES]. Exit status 0 when everything matches. */
#include <string.h>

#include "kernels/kernels.h"

#if defined(EBNN_BAREMETAL)
void ta_write(const char *s); /* cm_startup.c: semihosting */
#else
#include <stdio.h>
#include <stdlib.h>
static void ta_write(const char *s) { fputs(s, stdout); fflush(stdout); }
#endif

/* ---- output ---- */
static void put_u(uint32_t v) {
    char b[12];
    int i = 11;
    b[i] = 0;
    do b[--i] = (char)('0' + v % 10u); while ((v /= 10u) != 0 && i > 0);
    ta_write(b + i);
}

/* ---- random numbers (xorshift32) ---- */
static uint32_t rng_state = 1;
static uint32_t rnd(void) {
    uint32_t x = rng_state;
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    return rng_state = x;
}
static uint32_t rnd_in(uint32_t lo, uint32_t hi) { return lo + rnd() % (hi - lo + 1u); }

/* ---- buffers (sized for the largest case below) ---- */
#define MAX_IN_WORDS 8192u
#define MAX_W_WORDS 24576u
#define MAX_OUT_WORDS 16384u
static uint32_t in_buf[MAX_IN_WORDS + 4];
static uint32_t w_buf[MAX_W_WORDS + 4];
static uint32_t t_buf[1024];
static uint32_t out_ref[MAX_OUT_WORDS], out_k[MAX_OUT_WORDS];
static uint32_t mism[300]; /* up to 2 x 150 rows */
#define MAX_PACK_WORDS 24576u /* a row's load-time repack of a layer (pack_size), when it fits */
static uint32_t pack_buf[MAX_PACK_WORDS];

static int failures;

static void fail(const char *what, const char *kernel, uint32_t a, uint32_t b) {
    ta_write("FAIL ");
    ta_write(what);
    ta_write(" kernel ");
    ta_write(kernel);
    ta_write(" ");
    put_u(a);
    ta_write(" ");
    put_u(b);
    ta_write("\n");
    failures++;
}

/* xorpop against a plain popcount, on lengths around the vector widths and misaligned. */
static void check_xorpop(const ebnn_kernel *k, uint32_t cases) {
    uint32_t c, i, r;
    for (c = 0; c < cases; c++) {
        /* every 16th: rows past 496 words (the Cortex-M carry-save loop's span), every 32nd
         * all mismatches (its counters at their largest) */
        int longer = c % 16u == 8u, all = c % 32u == 8u;
        uint32_t n = rnd_in(1, longer ? 1200u : c % 4u == 0 ? 300u : 40u);
        uint32_t rows = rnd_in(1, longer ? 3u : c % 8u == 4 ? 20u : 9u);
        uint32_t off = rnd_in(0, 3); /* 4-byte aligned only */
        uint32_t *x = in_buf + off, *w = w_buf + rnd_in(0, 3);
        for (i = 0; i < n; i++) x[i] = rnd();
        for (i = 0; i < n * rows; i++) w[i] = all ? ~x[i % n] : rnd_in(0, 7) == 0 ? x[i % n] : rnd();
        k->xorpop(x, w, n, rows, mism);
        for (r = 0; r < rows; r++) {
            uint32_t want = 0;
            for (i = 0; i < n; i++) want += ebnn_popcount32(x[i] ^ w[r * n + i]);
            if (mism[r] != want) {
                fail("xorpop n/rows", k->name, n, rows);
                return;
            }
        }
        /* the two-window primitive: x and a second window right after the weights */
        if (k->xorpop2 != NULL) {
            uint32_t *x1 = w + n * rows + rnd_in(0, 3);
            for (i = 0; i < n; i++) x1[i] = rnd_in(0, 3) == 0 ? x[i] : rnd();
            k->xorpop2(x, x1, w, n, rows, mism, mism + 150);
            for (r = 0; r < rows; r++) {
                uint32_t want0 = 0, want1 = 0;
                for (i = 0; i < n; i++) {
                    want0 += ebnn_popcount32(x[i] ^ w[r * n + i]);
                    want1 += ebnn_popcount32(x1[i] ^ w[r * n + i]);
                }
                if (mism[r] != want0 || mism[150 + r] != want1) {
                    fail("xorpop2 n/rows", k->name, n, rows);
                    return;
                }
            }
        }
    }
}

static const uint16_t channels[] = {1, 3, 31, 32, 33, 63, 64, 65, 127, 129};
static uint16_t pick_c(void) { return channels[rnd_in(0, 9)]; }

/* Random kernel, stride, padding for an axis of size n. */
static void axis(uint16_t n, uint16_t *k, uint16_t *s, uint16_t *p) {
    *p = (uint16_t)rnd_in(0, 2);
    *k = (uint16_t)rnd_in(1, 4);
    if (*k > n + 2u * *p) *k = (uint16_t)(n + 2u * *p);
    *s = (uint16_t)rnd_in(1, 2);
}

static uint32_t weight_words(const ebnn_layer *l) {
    uint32_t cg = l->in_c / l->groups;
    return l->out_c * (l->in_type == EBNN_T_U8 ? ebnn_words((uint32_t)l->kh * l->kw * cg)
                                                : (uint32_t)l->kh * l->kw * ebnn_words(cg));
}

/* A random layer that fits the buffers; 0 when the draw is too large (caller redraws). */
static int random_layer(ebnn_layer *l, uint32_t big) {
    uint16_t cg, g;
    uint32_t kind = rnd_in(0, 11), n, c, i, rowbits, roww;
    memset(l, 0, sizeof *l);
    l->op = EBNN_OP_CONV2D;
    l->in_type = (uint8_t)(rnd_in(0, 7) == 0 ? EBNN_T_U8 : EBNN_T_BIN);
    l->out_type = (uint8_t)(rnd_in(0, 2) ? EBNN_T_BIN : EBNN_T_I32);
    l->in_h = (uint16_t)rnd_in(1, big ? 12 : 9), l->in_w = (uint16_t)rnd_in(1, big ? 12 : 9);
    cg = l->in_type == EBNN_T_U8 ? (uint16_t)rnd_in(1, 4) : pick_c();
    l->out_c = pick_c();
    l->groups = 1;
    if (kind >= 10) {
        /* 3x3 stride 1 of 64 / 128 k channels in, 8 k out (NEON's in-place path; at 256 in
         * and > 80 out more than one of its weight chunks) */
        static const uint16_t wide_in[3] = {64, 128, 256};
        l->in_type = EBNN_T_BIN, l->in_c = wide_in[rnd_in(0, 2)], l->out_c = (uint16_t)(8u * rnd_in(1, 16));
        l->kh = l->kw = 3, l->sh = l->sw = 1;
        l->ph = (uint16_t)rnd_in(0, 2), l->pw = (uint16_t)rnd_in(0, 2);
        if (l->in_h + 2u * l->ph < 3u || l->in_w + 2u * l->pw < 3u) return 0;
    } else if (kind < 2) { /* dense */
        l->op = EBNN_OP_DENSE;
        /* large 8-bit inputs: past the NEON U8 path's 16-bit flush (1024 bytes) */
        if (big && l->in_type == EBNN_T_U8) l->in_h = l->in_w = (uint16_t)rnd_in(16, 24);
        l->in_c = cg, l->kh = l->in_h, l->kw = l->in_w, l->sh = l->sw = 1;
    } else {
        if (kind == 2) { /* two groups */
            g = 2, l->out_c = (uint16_t)(2 * pick_c());
        } else if (kind == 3) { /* depthwise */
            g = cg, l->out_c = g, cg = 1;
        } else {
            g = 1;
        }
        l->groups = g;
        l->in_c = (uint16_t)(cg * g);
        axis(l->in_h, &l->kh, &l->sh, &l->ph);
        axis(l->in_w, &l->kw, &l->sw, &l->pw);
    }
    l->out_h = (uint16_t)((l->in_h + 2u * l->ph - l->kh) / l->sh + 1u);
    l->out_w = (uint16_t)((l->in_w + 2u * l->pw - l->kw) / l->sw + 1u);
    /* Now and then a part of such a layer, as the engine's threads split one (output rows
     * from a later row on): less top padding, the bottom padding only implicit in in_h. */
    if (l->op == EBNN_OP_CONV2D && l->ph > 0 && rnd_in(0, 3) == 0) l->ph = (uint16_t)rnd_in(0, l->ph - 1u);
    if ((size_t)l->in_h * l->in_w * (l->in_type == EBNN_T_U8 ? (l->in_c + 3u) / 4u : ebnn_words(l->in_c)) >
            MAX_IN_WORDS ||
        weight_words(l) > MAX_W_WORDS ||
        (size_t)l->out_h * l->out_w * l->out_c > MAX_OUT_WORDS || l->out_c > 512u)
        return 0;

    /* Weights: random bits, padding bits of each row zero as the format requires. */
    cg = (uint16_t)(l->in_c / l->groups);
    rowbits = l->in_type == EBNN_T_U8 ? (uint32_t)l->kh * l->kw * cg : cg;
    roww = ebnn_words(rowbits);
    n = weight_words(l);
    for (i = 0; i < n; i++) {
        uint32_t used = rowbits - 32u * (i % roww);
        w_buf[i] = used >= 32u ? rnd() : rnd() & ((1u << used) - 1u);
    }
    l->weights = w_buf;
    if (l->out_type == EBNN_T_BIN) {
        int32_t terms = (int32_t)((uint32_t)l->kh * l->kw * cg) * (l->in_type == EBNN_T_U8 ? 255 : 1);
        /* mostly inside -terms .. terms, one in eight at or past its ends and at the int32
         * extremes, where a path's bound must clamp */
        static const int32_t far[6] = {INT32_MIN, INT32_MAX, -1, 1, -2, 2};
        for (c = 0; c < l->out_c; c++) {
            uint32_t r = rnd_in(0, 47);
            if (r >= 6u)
                t_buf[c] = (uint32_t)((int32_t)rnd_in(0, (uint32_t)(2 * terms)) - terms);
            else
                t_buf[c] = (uint32_t)(r < 2u ? far[r] : far[r] * (terms + (int32_t)(r & 1u) + 1));
        }
        for (c = 0; c < ebnn_words(l->out_c); c++) t_buf[l->out_c + c] = rnd();
        l->thresholds = (const int32_t *)(const void *)t_buf;
        l->flip = t_buf + l->out_c;
    }
    /* Input: U8 bytes, or BIN pixels with bits past in_c zero. */
    if (l->in_type == EBNN_T_U8) {
        uint8_t *p = (uint8_t *)in_buf;
        for (i = 0; i < (uint32_t)l->in_h * l->in_w * l->in_c; i++) p[i] = (uint8_t)rnd();
    } else {
        uint32_t iw = ebnn_words(l->in_c);
        for (i = 0; i < (uint32_t)l->in_h * l->in_w * iw; i++) {
            uint32_t used = l->in_c - 32u * (i % iw);
            in_buf[i] = used >= 32u ? rnd() : rnd() & ((1u << used) - 1u);
        }
    }
    return 1;
}

/* Layer classes whose optimized paths are counted separately, so that a path the random
 * layers never reach fails the test instead of passing unexercised. */
enum { PATH_U8_CONV, PATH_DEPTHWISE, PATH_DEPTHWISE_STRIDED, PATH_PIXEL_PAIRS, PATH_ONE_PIXEL,
       PATH_CONV_BIN, PATH_ADJACENT_IN_PLACE, PATH_CONV_PACKED, PATH_CONV_PACKED_ONE,
       PATH_PACKED_RAGGED, PATH_PACKED_PARTIAL, PATH_PACKED_STRIDED, PATH_PACKED_PADDED, N_PATHS };
static const char *const path_names[N_PATHS] = {"u8 conv", "depthwise", "strided depthwise",
                                                "bin conv >= 2 pixels, >= 8 channels",
                                                "bin one pixel, window = input",
                                                "the row's own bin conv (conv_bin)",
                                                "bin conv, adjacent columns in place",
                                                "conv_bin on its load-time repack (pack)",
                                                "conv_bin on its repack, one pixel",
                                                "  on its repack, in_c not a multiple of 32",
                                                "  on its repack, out_c not a multiple of 32",
                                                "  on its repack, stride 2",
                                                "  on its repack, padded"};

/* 1 where the row's conv_bin repacks unpacked layers per call (the Cortex-M output-sliced path
 * runs only on its load-time repack). */
static int repacks_per_call(const ebnn_kernel *k) {
#if defined(EBNN_SLICED)
    if (k->conv_bin == ebnn_swar_sliced_conv2d) return 0;
#endif
    return k->conv_bin != NULL;
}

/* 1 when some output row of l reads no padding row and has two adjacent columns that read no
 * padding column: the pixels whose windows conv_bin steps from their left neighbour's
 * (x86_lanes.c), across its 8-pixel blocks too. */
static int adjacent_in_place(const ebnn_layer *l) {
    uint32_t oy, ox, rows = 0, run = 0;
    for (oy = 0; oy < l->out_h; oy++) {
        uint32_t iy = oy * l->sh;
        rows |= iy >= l->ph && iy - l->ph + l->kh <= l->in_h;
    }
    for (ox = 0; ox < l->out_w && run < 2u; ox++) {
        uint32_t ix = ox * l->sw;
        run = ix >= l->pw && ix - l->pw + l->kw <= l->in_w ? run + 1u : 0u;
    }
    return rows && run >= 2u;
}

/* The driver's paths a layer the kernel ran took, by its shape (conv_bin's are counted where
 * it returns 1). */
static void count_paths(const ebnn_layer *l, uint32_t *paths) {
    if (l->in_type == EBNN_T_U8 && l->op == EBNN_OP_CONV2D && l->groups == 1 &&
        (l->out_h > 1 || l->out_w > 1))
        paths[PATH_U8_CONV]++;
    if (l->in_type == EBNN_T_BIN && l->groups > 1 && l->groups == l->in_c && l->out_c == l->in_c) {
        paths[PATH_DEPTHWISE]++;
        if (l->sh > 1 || l->sw > 1) paths[PATH_DEPTHWISE_STRIDED]++;
    }
    if (l->in_type == EBNN_T_BIN && l->groups == 1 && l->out_h * l->out_w >= 2 && l->out_c >= 8)
        paths[PATH_PIXEL_PAIRS]++;
    /* bin_conv.c's one_pixel */
    if (l->in_type == EBNN_T_BIN && l->groups == 1 && l->out_h == 1 && l->out_w == 1 && l->ph == 0 &&
        l->pw == 0 && l->kw == l->in_w && l->kh <= l->in_h)
        paths[PATH_ONE_PIXEL]++;
}

static void check_conv(const ebnn_kernel *k, uint32_t cases, uint32_t *optimized,
                       uint32_t *paths) {
    uint32_t c, bytes, i;
    size_t words;
    const uint32_t *packed;
    ebnn_layer l;
    for (c = 0; c < cases && failures == 0; c++) {
        while (!random_layer(&l, c % 8u == 0)) {
        }
        bytes = (uint32_t)ebnn_tensor_bytes(l.out_type, l.out_h, l.out_w, l.out_c);
        memset(out_ref, 0x5A, bytes);
        memset(out_k, 0xA5, bytes); /* garbage the kernel must overwrite */
        ebnn_ref_conv2d(&l, in_buf, out_ref);
        /* every other case, where the row repacks the layer: its repack as ebnn_pack makes it
         * (into garbage), which ebnn_conv2d_packed hands to conv_bin whatever the pixels */
        packed = NULL;
        if (k->pack_size != NULL && c % 2u == 1u && (words = k->pack_size(&l)) != 0 &&
            words <= MAX_PACK_WORDS) {
            memset(pack_buf, 0xA5, 4u * words);
            k->pack(&l, pack_buf);
            packed = pack_buf;
        }
        /* the row's own BIN path first, as ebnn_conv2d_try tries it (groups == 1) */
        if (k->conv_bin != NULL && l.in_type == EBNN_T_BIN && l.groups == 1 &&
            k->conv_bin(&l, packed, in_buf, out_k)) {
            ++*optimized;
            paths[packed == NULL ? PATH_CONV_BIN
                  : l.out_h * l.out_w == 1 ? PATH_CONV_PACKED_ONE : PATH_CONV_PACKED]++;
            if (adjacent_in_place(&l)) paths[PATH_ADJACENT_IN_PLACE]++;
            if (packed != NULL) {
                paths[PATH_PACKED_RAGGED] += l.in_c % 32u != 0;
                paths[PATH_PACKED_PARTIAL] += l.out_c % 32u != 0;
                paths[PATH_PACKED_STRIDED] += l.sh > 1 || l.sw > 1;
                paths[PATH_PACKED_PADDED] += l.ph > 0 || l.pw > 0;
            }
        } else if (ebnn_conv2d_try(k, &l, in_buf, out_k)) {
            ++*optimized;
            count_paths(&l, paths);
        } else
            ebnn_ref_conv2d(&l, in_buf, out_k);
        for (i = 0; i < bytes / 4u; i++) {
            if (out_k[i] != out_ref[i]) {
                fail("conv case/word", k->name, c, i);
                ta_write("  in ");
                put_u(l.in_h), ta_write("x"), put_u(l.in_w), ta_write("x"), put_u(l.in_c);
                ta_write(" out_c "), put_u(l.out_c), ta_write(" k "), put_u(l.kh), ta_write("x");
                put_u(l.kw), ta_write(" s "), put_u(l.sh), ta_write(","), put_u(l.sw);
                ta_write(" p "), put_u(l.ph), ta_write(","), put_u(l.pw), ta_write(" g ");
                put_u(l.groups), ta_write(" in_type "), put_u(l.in_type), ta_write(" out_type ");
                put_u(l.out_type), ta_write("\n");
                break;
            }
        }
    }
}

/* ---- MAXPOOL, BINARIZE: the dispatched op (and on ARM arm_ops.c called directly) against the
 * reference on random shapes (THRESHOLD: check_threshold, per kernel) ---- */
static void compare(const char *what, uint32_t c, uint32_t words) {
    uint32_t i;
    for (i = 0; i < words; i++)
        if (out_k[i] != out_ref[i]) {
            fail(what, "-", c, i);
            return;
        }
}

static void random_words(uint32_t *p, uint32_t n) {
    uint32_t i;
    for (i = 0; i < n; i++) p[i] = rnd();
}

/* A BIN tensor's words with the bits past c zero. */
static void random_bin(uint32_t *p, uint32_t pixels, uint32_t c) {
    uint32_t nw = ebnn_words(c), i;
    for (i = 0; i < pixels * nw; i++) {
        uint32_t used = c - 32u * (i % nw);
        p[i] = used >= 32u ? rnd() : rnd() & ((1u << used) - 1u);
    }
}

static void check_ops(uint32_t cases) {
    uint32_t c, words, i;
    ebnn_layer l;
    for (c = 0; c < cases && failures == 0; c++) {
        memset(&l, 0, sizeof l);
        l.in_h = (uint16_t)rnd_in(1, 12), l.in_w = (uint16_t)rnd_in(1, 12), l.in_c = pick_c();
        /* MAXPOOL */
        l.in_type = l.out_type = EBNN_T_BIN;
        axis(l.in_h, &l.kh, &l.sh, &l.ph);
        axis(l.in_w, &l.kw, &l.sw, &l.pw);
        l.out_c = l.in_c;
        l.out_h = (uint16_t)((l.in_h + 2u * l.ph - l.kh) / l.sh + 1u);
        l.out_w = (uint16_t)((l.in_w + 2u * l.pw - l.kw) / l.sw + 1u);
        random_bin(in_buf, (uint32_t)l.in_h * l.in_w, l.in_c);
        words = (uint32_t)l.out_h * l.out_w * ebnn_words(l.out_c);
        memset(out_k, 0xA5, 4u * words);
        ebnn_ref_maxpool(&l, in_buf, out_ref);
        ebnn_maxpool(&l, in_buf, out_k);
        compare("maxpool case/word", c, words);
#if defined(__arm__) || defined(__aarch64__)
        memset(out_k, 0xA5, 4u * words);
        ebnn_arm_maxpool(&l, in_buf, out_k);
        compare("arm maxpool case/word", c, words);
#endif
        /* BINARIZE: H*W*C <= 12 * 12 * 28 < 4096 bytes, thresholds one per element; flattened or not */
        l.in_c = (uint16_t)rnd_in(1, 28), l.kh = l.kw = l.sh = l.sw = 1, l.ph = l.pw = 0;
        l.out_h = l.in_h, l.out_w = l.in_w, l.out_c = l.in_c;
        if (rnd_in(0, 3) == 0) l.out_h = l.out_w = 1, l.out_c = (uint16_t)(l.in_h * l.in_w * l.in_c);
        random_words(in_buf, 1024), random_words(t_buf, 1024);
        for (i = 0; i < 4096u; i += 3u) ((uint8_t *)t_buf)[i] = ((uint8_t *)in_buf)[i]; /* ties */
        l.thresholds = (const int32_t *)(const void *)t_buf;
        l.in_type = EBNN_T_U8, l.out_type = EBNN_T_BIN;
        words = (uint32_t)l.out_h * l.out_w * ebnn_words(l.out_c);
        memset(out_k, 0xA5, 4u * words);
        ebnn_ref_binarize(&l, (const uint8_t *)in_buf, out_ref);
        ebnn_binarize(&l, (const uint8_t *)in_buf, out_k);
        compare("binarize case/word", c, words);
#if defined(__arm__) || defined(__aarch64__)
        memset(out_k, 0xA5, 4u * words);
        ebnn_arm_binarize(&l, (const uint8_t *)in_buf, out_k);
        compare("arm binarize case/word", c, words);
#endif
    }
    ta_write(failures ? "  ops: FAILED\n" : "  ops: maxpool, binarize ok, ");
    if (!failures) put_u(cases), ta_write(" cases each\n");
}

/* ---- THRESHOLD (I32 -> BIN): every int32, thresholds at the extremes, flips ---- */
/* A stream value: random, next to the channel's threshold, or an extreme. */
static int32_t stream_value(int32_t t) {
    switch (rnd_in(0, 5)) {
    case 0: return (int32_t)rnd();
    case 1: return rnd_in(0, 1) ? INT32_MIN : INT32_MAX;
    default: return (int32_t)((uint32_t)t + rnd_in(0, 4) - 2u); /* wraps at the extremes */
    }
}

static void check_threshold(const ebnn_kernel *k, uint32_t cases) {
    static const uint16_t wide[] = {255, 256, 257, 300, 511, 513, 700};
    uint32_t c, ch, i, bytes;
    int32_t *y, *t = (int32_t *)(void *)t_buf;
    ebnn_layer l;
    for (c = 0; c < cases && failures == 0; c++) {
        memset(&l, 0, sizeof l);
        l.op = EBNN_OP_THRESHOLD, l.in_type = EBNN_T_I32, l.out_type = EBNN_T_BIN, l.groups = 1;
        l.out_c = c % 4u == 0 ? wide[rnd_in(0, 6)] : pick_c();
        l.out_h = (uint16_t)rnd_in(1, 9), l.out_w = (uint16_t)rnd_in(1, 9);
        while ((uint32_t)l.out_h * l.out_w * l.out_c > MAX_IN_WORDS) l.out_h = (uint16_t)(l.out_h / 2u);
        if (l.out_h == 0) l.out_h = l.out_w = 1;
        l.in_h = l.out_h, l.in_w = l.out_w, l.in_c = l.out_c, l.kh = l.kw = l.sh = l.sw = 1;
        for (ch = 0; ch < l.out_c; ch++)
            t[ch] = rnd_in(0, 7) == 0 ? (rnd_in(0, 1) ? INT32_MIN : INT32_MAX)
                                      : (int32_t)rnd_in(0, 2000) - 1000;
        for (ch = 0; ch < ebnn_words(l.out_c); ch++) t_buf[l.out_c + ch] = rnd();
        l.thresholds = t, l.flip = t_buf + l.out_c;
        /* at the end of in_buf, so that a read past the last pixel trips ASan */
        y = (int32_t *)(void *)(in_buf + MAX_IN_WORDS + 4u - (uint32_t)l.out_h * l.out_w * l.out_c);
        for (i = 0; i < (uint32_t)l.out_h * l.out_w * l.out_c; i++) y[i] = stream_value(t[i % l.out_c]);
        bytes = (uint32_t)ebnn_tensor_bytes(EBNN_T_BIN, l.out_h, l.out_w, l.out_c);
        memset(out_ref, 0x5A, bytes);
        memset(out_k, 0xA5, bytes);
        ebnn_ref_threshold(&l, y, out_ref);
        ebnn_threshold_with(k, &l, y, out_k);
        for (i = 0; i < bytes / 4u; i++)
            if (out_k[i] != out_ref[i]) {
                fail("threshold case/word", k->name, c, i);
                break;
            }
    }
}

/* The fused BIN output step (cut_bits) against ebnn_ref_cut_bits: counts on either side of
 * their cuts, equal to them, at 0 and at the largest cut (a term count + 1), rows 1..256
 * (ragged words); the inputs at the end of in_buf / w_buf so that a read past the last row
 * trips ASan, the output words garbage first. */
static void check_cut_bits(const ebnn_kernel *k, uint32_t cases) {
    uint32_t c, i, rows, *m, *cut, want[8], got[8];
    if (k->cut_bits == NULL) return;
    for (c = 0; c < cases && failures == 0; c++) {
        uint32_t top = rnd_in(0, 3) == 0 ? 70000u : 600u;
        rows = c % 4u == 0 ? rnd_in(1, 256) : rnd_in(1, 40);
        m = in_buf + MAX_IN_WORDS + 4u - rows, cut = w_buf + MAX_W_WORDS + 4u - rows;
        for (i = 0; i < rows; i++) {
            cut[i] = rnd_in(0, 7) == 0 ? (rnd_in(0, 1) ? 0u : top + 1u) : rnd_in(0, top);
            switch (rnd_in(0, 3)) {
            case 0: m[i] = cut[i]; break;
            case 1: m[i] = cut[i] + 1u; break;
            case 2: m[i] = cut[i] != 0u ? cut[i] - 1u : 0u; break;
            default: m[i] = rnd_in(0, top); break;
            }
        }
        memset(want, 0x5A, sizeof want);
        memset(got, 0xA5, sizeof got);
        ebnn_ref_cut_bits(m, cut, rows, want);
        k->cut_bits(m, cut, rows, got);
        for (i = 0; i < ebnn_words(rows); i++)
            if (got[i] != want[i]) {
                fail("cut_bits rows/word", k->name, rows, i);
                break;
            }
    }
}

/* The few-pixel output step (thresh_bits) against ebnn_ref_thresh_bits: pre-activations equal
 * to their thresholds, one either side, the int32 extremes, random flips from a random first
 * channel (flip words read at any bit offset), rows 1..256. */
static void check_thresh_bits(const ebnn_kernel *k, uint32_t cases) {
    uint32_t c, i, rows, c0, terms, *m, want[8], got[8], flips[10];
    int32_t *t = (int32_t *)(void *)t_buf;
    if (k->thresh_bits == NULL) return;
    for (c = 0; c < cases && failures == 0; c++) {
        rows = c % 4u == 0 ? rnd_in(1, 256) : rnd_in(1, 40);
        c0 = rnd_in(0, 40), terms = rnd_in(1, c % 3u == 0 ? 70000u : 600u);
        m = in_buf + MAX_IN_WORDS + 4u - rows;
        for (i = 0; i < 10u; i++) flips[i] = rnd();
        for (i = 0; i < rows; i++) {
            int32_t y;
            m[i] = rnd_in(0, terms);
            y = (int32_t)(terms - 2u * m[i]);
            switch (rnd_in(0, 4)) {
            case 0: t[c0 + i] = y; break;
            case 1: t[c0 + i] = y + 1; break;
            case 2: t[c0 + i] = y - 1; break;
            case 3: t[c0 + i] = rnd_in(0, 1) ? INT32_MIN : INT32_MAX; break;
            default: t[c0 + i] = (int32_t)rnd_in(0, 2u * terms) - (int32_t)terms; break;
            }
        }
        memset(want, 0x5A, sizeof want);
        memset(got, 0xA5, sizeof got);
        ebnn_ref_thresh_bits(m, t, flips, c0, rows, terms, want);
        k->thresh_bits(m, t, flips, c0, rows, terms, got);
        for (i = 0; i < ebnn_words(rows); i++)
            if (got[i] != want[i]) {
                fail("thresh_bits rows/word", k->name, rows, i);
                break;
            }
    }
}

int main(int argc, char **argv) {
    uint32_t seed = 1, cases = 400, i;
    const ebnn_kernel *k;
#if !defined(EBNN_BAREMETAL)
    if (argc > 1) seed = (uint32_t)strtoul(argv[1], NULL, 0);
    if (argc > 2) cases = (uint32_t)strtoul(argv[2], NULL, 0);
#else
    (void)argc, (void)argv;
#endif
    rng_state = seed ? seed : 1;
    ta_write("test_kernels_arch: seed ");
    put_u(seed);
    ta_write("; ");
    ta_write(ebnn_build_info());
    ta_write("\n");
    for (i = 0; (k = ebnn_kernel_at(i)) != NULL && failures == 0; i++) {
        uint32_t optimized = 0, paths[N_PATHS] = {0}, p;
        check_xorpop(k, cases);
        check_conv(k, cases, &optimized, paths);
        check_threshold(k, cases);
        check_cut_bits(k, cases);
        check_thresh_bits(k, cases);
        ta_write("  kernel ");
        ta_write(k->name);
        ta_write(failures ? ": FAILED, " : ": xorpop ok, ");
        put_u(cases);
        ta_write(" threshold cases, ");
        if (k->cut_bits != NULL || k->thresh_bits != NULL) {
            put_u(cases);
            ta_write(k->thresh_bits != NULL ? " cut_bits and thresh_bits cases, " : " cut_bits cases, ");
        }
        put_u(cases);
        ta_write(" conv cases, ");
        put_u(optimized);
        ta_write(" through the kernel, the rest on ref\n");
        if (optimized < cases / 3u) fail("too few optimized cases", k->name, optimized, cases);
        for (p = 0; p < N_PATHS; p++) {
            /* conv_bin's classes, and its repack's, which the random layers must reach where
             * the row has them (unpacked where it repacks per call) */
            int own = p == PATH_CONV_BIN || p == PATH_ADJACENT_IN_PLACE;
            int repack = p == PATH_CONV_PACKED || p >= PATH_PACKED_RAGGED;
            ta_write("    "), ta_write(path_names[p]), ta_write(": "), put_u(paths[p]);
            ta_write(" through the kernel\n");
            if (paths[p] == 0 && ((own && (p == PATH_CONV_BIN ? repacks_per_call(k) : k->conv_bin != NULL)) ||
                                  (repack && k->pack_size != NULL)))
                fail(path_names[p], k->name, 0, cases);
#if defined(__arm__) || defined(__aarch64__)
            /* every ARM kernel has the driver's paths as well, and a row with a repack takes
             * dense batch 1 through it there (Helium: x86's lanes leave one pixel) */
            if (paths[p] == 0 && (p == PATH_CONV_PACKED_ONE ? k->pack_size != NULL : !own && !repack))
                fail(path_names[p], k->name, 0, cases);
#endif
        }
    }
    if (failures == 0) check_ops(cases);
    if (i == 0) fail("no kernel", "-", 0, 0);
    ta_write(failures ? "test_kernels_arch: FAILED\n" : "test_kernels_arch: all passed\n");
    return failures ? 1 : 0;
}
