/* The reference kernels against the naive ±1 implementation on random shapes: odd channel
 * counts, padding (including windows entirely in the padding), strides 1-2, groups 1/2/
 * depthwise, U8 and BIN inputs, BIN (thresholds, flips) and I32 outputs, and maxpool. */
#include <string.h>

#include "naive.h"
#include "testutil.h"

static const uint16_t channels[] = {1, 3, 31, 32, 33, 65};

static uint16_t pick(tb_rng *r) { return channels[tb_range(r, 0, 5)]; }

/* Kernel, stride, padding for an axis of size n (padding may exceed the kernel). */
static void window(tb_rng *r, uint16_t n, uint16_t *k, uint16_t *s, uint16_t *p) {
    *p = (uint16_t)tb_range(r, 0, 2);
    *k = (uint16_t)tb_range(r, 1, 4);
    if (*k > n + 2u * *p) *k = (uint16_t)(n + 2u * *p);
    *s = (uint16_t)tb_range(r, 1, 2);
}

/* Packs layer l (of model m) as the loader would present it. Frees with free_layer. */
static ebnn_layer pack_layer(const tb_layer *l) {
    ebnn_layer e;
    memset(&e, 0, sizeof e);
    e.op = l->op;
    e.in0 = l->in0;
    e.in1 = EBNN_TENSOR_NONE;
    e.in_type = l->in_type;
    e.out_type = l->out_type;
    e.groups = l->groups;
    e.in_h = l->in_h, e.in_w = l->in_w, e.in_c = l->in_c;
    e.out_h = l->out_h, e.out_w = l->out_w, e.out_c = l->out_c;
    e.kh = l->kh, e.kw = l->kw, e.sh = l->sh, e.sw = l->sw, e.ph = l->ph, e.pw = l->pw;
    if (l->op != 3) {
        uint32_t *w = tu_aligned(tb_weight_words(l) * 4);
        tb_pack_weights(l, w);
        e.weights = w;
        if (l->out_type == EBNN_T_BIN) {
            uint32_t *t = tu_aligned(4 * ((size_t)l->out_c + ebnn_words(l->out_c)));
            tb_pack_thresholds(l, t);
            e.thresholds = (const int32_t *)t;
            e.flip = t + l->out_c;
        }
    }
    return e;
}

static void free_layer(ebnn_layer *e) {
    free((void *)(uintptr_t)e->weights);
    free((void *)(uintptr_t)e->thresholds);
}

/* Runs the kernel for l on a random input and compares every output with the naive one. */
static void check_layer(const tb_layer *l, tb_rng *r, int n_case) {
    size_t in_px = (size_t)l->in_h * l->in_w, out_px = (size_t)l->out_h * l->out_w, i;
    size_t nin = in_px * l->in_c, nout = out_px * l->out_c;
    size_t out_bytes = ebnn_tensor_bytes(l->out_type, l->out_h, l->out_w, l->out_c);
    int32_t *xin = malloc(nin * sizeof *xin), *want = malloc(nout * sizeof *want);
    void *in = tu_aligned(ebnn_tensor_bytes(l->in_type, l->in_h, l->in_w, l->in_c));
    void *out = tu_aligned(out_bytes);
    ebnn_layer e = pack_layer(l);

    for (i = 0; i < nin; i++) {
        uint32_t v = tb_rand(r);
        xin[i] = l->in_type == EBNN_T_U8 ? (int32_t)(v & 255u) : (v & 1u ? 1 : -1);
        if (l->in_type == EBNN_T_U8) ((uint8_t *)in)[i] = (uint8_t)xin[i];
    }
    if (l->in_type == EBNN_T_BIN) tb_pack_bin(xin, in_px, l->in_c, in);
    memset(out, 0xA5, out_bytes); /* garbage the kernel must overwrite */

    if (l->op == 3) {
        naive_maxpool(l, xin, want);
        ebnn_maxpool(&e, in, out);
    } else {
        naive_conv(l, xin, want);
        ebnn_conv2d(&e, in, out);
    }

    if (l->out_type == EBNN_T_BIN) {
        uint32_t *packed = malloc(out_bytes);
        tb_pack_bin(want, out_px, l->out_c, packed);
        for (i = 0; i < out_bytes / 4; i++)
            CHECK(((uint32_t *)out)[i] == packed[i],
                  "case %d op %u in %ux%ux%u type %u out_c %u k %ux%u s %u,%u p %u,%u g %u: "
                  "word %zu is %08x, naive %08x",
                  n_case, l->op, l->in_h, l->in_w, l->in_c, l->in_type, l->out_c, l->kh, l->kw,
                  l->sh, l->sw, l->ph, l->pw, l->groups, i, ((uint32_t *)out)[i], packed[i]);
        free(packed);
    } else {
        for (i = 0; i < nout; i++)
            CHECK(((int32_t *)out)[i] == want[i], "case %d: score %zu is %d, naive %d", n_case,
                  i, ((int32_t *)out)[i], want[i]);
    }
    free_layer(&e);
    free(xin);
    free(want);
    free(in);
    free(out);
}

/* A model whose tensor 1 is a BIN (or, with u8, tensor 0 a U8) input of the given shape; the
 * layer under test is then added reading it. */
static uint16_t input_of(tb_model *m, tb_rng *r, int u8, uint16_t h, uint16_t w, uint16_t c) {
    memset(m, 0, sizeof *m);
    m->in_h = h, m->in_w = w, m->in_c = u8 ? c : 1;
    if (u8) return 0;
    tb_add(m, r, 1, 0, EBNN_T_BIN, 1, 1, 1, 1, 0, 0, 1, c);
    return 1;
}

static void conv_cases(tb_rng *r, int count) {
    int n;
    for (n = 0; n < count; n++) {
        tb_model m;
        int u8 = tb_range(r, 0, 2) == 0, dense = tb_range(r, 0, 5) == 0;
        uint16_t h = (uint16_t)tb_range(r, 1, 7), w = (uint16_t)tb_range(r, 1, 7);
        uint16_t cg = pick(r), out_c = pick(r), groups = 1, in_c = cg;
        uint16_t kh, kw, sh, sw, ph, pw, in0;
        uint8_t out_type = (uint8_t)(tb_range(r, 0, 2) ? EBNN_T_BIN : EBNN_T_I32);
        uint32_t g = tb_range(r, 0, 2);
        if (u8) in_c = cg = (uint16_t)tb_range(r, 1, 4);
        if (!dense && g == 1) { /* two groups */
            groups = 2;
            in_c = (uint16_t)(2 * cg);
            out_c = (uint16_t)(2 * pick(r));
        } else if (!dense && g == 2) { /* depthwise */
            groups = out_c = in_c;
        }
        window(r, h, &kh, &sh, &ph);
        window(r, w, &kw, &sw, &pw);
        in0 = input_of(&m, r, u8, h, w, in_c);
        tb_add(&m, r, dense ? 2 : 1, in0, out_type, kh, kw, sh, sw, ph, pw, groups, out_c);
        check_layer(&m.layers[m.n_layers - 1], r, n);
        tb_free(&m);
    }
}

static void maxpool_cases(tb_rng *r, int count) {
    int n;
    for (n = 0; n < count; n++) {
        tb_model m;
        uint16_t h = (uint16_t)tb_range(r, 1, 8), w = (uint16_t)tb_range(r, 1, 8);
        uint16_t kh, kw, sh, sw, ph, pw;
        window(r, h, &kh, &sh, &ph);
        window(r, w, &kw, &sw, &pw);
        input_of(&m, r, 0, h, w, pick(r));
        tb_add(&m, r, 3, 1, EBNN_T_BIN, kh, kw, sh, sw, ph, pw, 1, 0);
        check_layer(&m.layers[1], r, n);
        tb_free(&m);
    }
}

/* Threshold edge cases on one known pre-activation: y >= T, y <= T with flip, extremes. */
static void threshold_cases(void) {
    int32_t t[3] = {5, 5, INT32_MIN};
    uint32_t flip[1] = {2u}; /* channel 1 flipped */
    ebnn_layer e;
    memset(&e, 0, sizeof e);
    e.thresholds = t;
    e.flip = flip;
    CHECK(ebnn_threshold_bit(&e, 0, 5) == 1 && ebnn_threshold_bit(&e, 0, 4) == 0, "y >= T");
    CHECK(ebnn_threshold_bit(&e, 1, 5) == 1 && ebnn_threshold_bit(&e, 1, 6) == 0, "y <= T");
    CHECK(ebnn_threshold_bit(&e, 2, INT32_MIN) == 1, "T = -2^31 is always +1");
    t[2] = INT32_MAX;
    CHECK(ebnn_threshold_bit(&e, 2, INT32_MAX - 1) == 0, "T = 2^31-1 is -1 for reachable y");
}

void test_kernels(tb_rng *r) {
    threshold_cases();
    conv_cases(r, 600);
    maxpool_cases(r, 150);
}
