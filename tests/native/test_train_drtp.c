/* On-device DRTP (native/src/train/drtp.c): the output rule and a hidden update worked by hand
 * from docs/format.md ("Training section trnd": rounding, saturation, margin, STE window, flip,
 * the regenerated projection), and the trnd parser under random corruption (ASan/UBSan). The
 * bit-for-bit comparison with the Python reference over real training is
 * tests/test_ondevice_drtp.py. */
#include <string.h>

#include "testutil.h"

/* The trnd contents for a model whose layers are all trained DENSE layers (U8 first). */
typedef struct {
    uint32_t q, seed;
    uint32_t shift[TB_MAX_LAYERS], window[TB_MAX_LAYERS];
    const int32_t *w[TB_MAX_LAYERS]; /* latent weights, k x n_in; signs = the tb_layer's */
} trnd_spec;

static uint32_t pad16(uint32_t n) { return (n + 15u) & ~15u; }

static uint32_t n_in_of(const tb_layer *l) {
    return l->in_type == EBNN_T_U8 ? (uint32_t)l->in_h * l->in_w * l->in_c : l->in_c;
}

/* Sets layer l's ±1 weights to the signs of w (sign(0) = +1). */
static void set_signs(tb_layer *l, const int32_t *w) {
    uint32_t i, n = (uint32_t)l->out_c * n_in_of(l);
    for (i = 0; i < n; i++) l->w[i] = w[i] >= 0 ? 1 : -1;
}

/* Writes m (tb_write) with a trnd section appended: the section table grows by one entry, so
 * every other section moves 16 bytes on. Returns the aligned file; *trnd_at = section offset. */
static uint8_t *write_with_trnd(const tb_model *m, const trnd_spec *s, uint32_t *size_out,
                                uint32_t *trnd_at) {
    uint8_t *base, *f, *t;
    tb_layout lay;
    uint32_t size = (uint32_t)tb_write(m, NULL, &base, &lay), n = tb_get16(base + 16);
    uint32_t body = 64 + 16 * n, pos = pad16(32 + 16u * m->n_layers), tsize, total, i, l;
    uint32_t w_off[TB_MAX_LAYERS];
    for (l = 0; l < m->n_layers; l++) {
        w_off[l] = pos;
        pos += pad16(2u * m->layers[l].out_c * n_in_of(&m->layers[l]));
    }
    tsize = pos;
    total = size + 16 + tsize;
    f = tu_aligned(total);
    memset(f, 0, total);
    memcpy(f, base, body);
    memcpy(f + body + 16, base + body, size - body);
    for (i = 0; i < n; i++) tb_put32(f + 64 + 16 * i + 4, tb_get32(base + 64 + 16 * i + 4) + 16);
    memcpy(f + body, "trnd", 4);
    tb_put32(f + body + 4, size + 16);
    tb_put32(f + body + 8, tsize);
    tb_put16(f + 16, n + 1);
    tb_put32(f + 8, total);
    t = f + size + 16;
    tb_put16(t, 1);
    tb_put16(t + 2, m->n_layers);
    t[4] = (uint8_t)s->q;
    tb_put16(t + 6, m->n_classes);
    tb_put32(t + 8, s->seed);
    for (l = 0; l < m->n_layers; l++) {
        const tb_layer *ly = &m->layers[l];
        uint8_t *e = t + 32 + 16 * l;
        uint32_t k, cnt = (uint32_t)ly->out_c * n_in_of(ly);
        tb_put16(e, l);
        tb_put16(e + 2, n_in_of(ly));
        tb_put16(e + 4, ly->out_c);
        e[6] = (uint8_t)s->shift[l];
        tb_put32(e + 8, s->window[l]);
        tb_put32(e + 12, w_off[l]);
        for (k = 0; k < cnt; k++) tb_put16(t + w_off[l] + 2 * k, (uint32_t)s->w[l][k] & 0xFFFFu);
    }
    tb_refresh_crcs(f, total, 1);
    free(base);
    *size_out = total;
    *trnd_at = size + 16;
    return f;
}

/* One step on n samples; returns the latent weights of every layer (concatenated) in got and
 * checks each WGHT bit equals its latent's sign and that finalize makes the file load again. */
static void train_once(tb_model *m, const trnd_spec *s, const uint8_t *x, const uint8_t *y,
                       uint32_t n, int32_t *got, ebnn_train_stats *stats) {
    uint32_t size, trnd, l, j, i, at = 0;
    uint8_t *f = write_with_trnd(m, s, &size, &trnd);
    ebnn_model md;
    ebnn_trainer t;
    ebnn_diag d;
    size_t need;
    void *scratch;

    CHECK(ebnn_model_load(&md, f, size, &d) == EBNN_OK, "load: %s", d.field);
    CHECK(ebnn_trainer_init(&t, 99, &md, f, &d) == EBNN_ERR_ARG && strcmp(d.field, "rule") == 0,
          "an unknown rule id");
    CHECK(ebnn_trainer_init(&t, EBNN_RULE_DRTP, &md, f, &d) == EBNN_OK, "init: %s", d.field);
    CHECK(strcmp(ebnn_trainer_rule_name(t.rule), "drtp") == 0 &&
          ebnn_trainer_rule_find(EBNN_RULE_DRTP) == t.rule, "the rule row");
    /* parameters: (shift <= 30, window) per trained layer, checked without being set */
    CHECK(ebnn_trainer_param_count(&t) == 2u * m->n_layers, "parameter count");
    CHECK(ebnn_trainer_check_param(&t, 0, 31) == EBNN_ERR_ARG, "shift above 30");
    CHECK(ebnn_trainer_check_param(&t, 0, 30) == EBNN_OK, "shift 30");
    CHECK(ebnn_trainer_check_param(&t, 1, UINT32_MAX) == EBNN_OK, "any window");
    CHECK(ebnn_trainer_set_param(&t, 2u * m->n_layers, 0) == EBNN_ERR_ARG, "past the last");
    need = ebnn_trainer_buffer_size(&t, n);
    scratch = tu_aligned(need);
    CHECK(ebnn_trainer_step(&t, x, y, n, scratch, need - 1, stats) == EBNN_ERR_SCRATCH,
          "short scratch");
    CHECK(ebnn_trainer_step(&t, x, y, n, scratch, need, stats) == EBNN_OK, "step");
    CHECK(ebnn_trainer_step_index(&t) == 1, "step counter");
    for (l = 0; l < m->n_layers; l++) {
        ebnn_layer ly;
        uint32_t n_in = n_in_of(&m->layers[l]), w_off = tb_get32(f + trnd + 32 + 16 * l + 12);
        ebnn_model_layer(&md, l, &ly);
        for (j = 0; j < ly.out_c; j++)
            for (i = 0; i < n_in; i++) {
                int32_t v = (int16_t)tb_get16(f + trnd + w_off + 2 * (j * n_in + i));
                uint32_t bit = (ly.weights[j * ebnn_words(n_in) + i / 32] >> (i % 32)) & 1u;
                CHECK(bit == (uint32_t)(v >= 0), "layer %u: WGHT bit of %u, %u", l, j, i);
                got[at++] = v;
            }
    }
    CHECK(ebnn_model_finalize(f, size) == EBNN_OK, "finalize");
    CHECK(ebnn_model_load(&md, f, size, &d) == EBNN_OK, "reload: %s", d.field);
    free(scratch);
    free(f);
}

static void check_weights(const char *what, const int32_t *got, const int32_t *want, uint32_t n) {
    uint32_t i;
    for (i = 0; i < n; i++)
        CHECK(got[i] == want[i], "%s: weight %u is %d, want %d", what, i, got[i], want[i]);
}

/* A U8 input of 1 x 1 x n_in. */
static void start_model(tb_model *m, uint16_t n_in, uint16_t n_classes) {
    memset(m, 0, sizeof *m);
    m->in_h = m->in_w = 1;
    m->in_c = n_in;
    m->n_classes = n_classes;
}

/* The output rule alone (DENSE U8 2 -> I32 2), x = (3, 1): with W = (5, -2; 1, 4) the scores
 * are (2, 4), so label 0 is wrong, r = 1 and e = (+1, -1). */
static void output_rule(tb_rng *r) {
    const uint8_t x[] = {3, 1}, y0 = 0, y1 = 1;
    const int32_t w[] = {5, -2, 1, 4}, w_hi[] = {15, -2, 1, 4}, w_lo[] = {-15, -2, -15, 4};
    const int32_t want[] = {8, -1, -2, 3};       /* W0 += x, W1 -= x */
    const int32_t want_half[] = {7, -1, -1, 3};  /* rnd(3, 1) = 2, rnd(1, 1) = 1, symmetric */
    const int32_t want_hi[] = {16, -1, -2, 3};   /* 18 clamped at 2^4 */
    const int32_t want_lo[] = {-12, -1, -16, 3}; /* scores (-4, -2); -18 clamped at -2^4 */
    const int32_t want_margin[] = {2, -3, 4, 5}; /* label 1: right by 2 < margin 3 */
    tb_model m;
    trnd_spec s;
    int32_t got[4];
    ebnn_train_stats st;

    start_model(&m, 2, 2);
    tb_add(&m, r, EBNN_OP_DENSE, 0, EBNN_T_I32, 1, 1, 1, 1, 0, 0, 1, 2);
    memset(&s, 0, sizeof s);
    s.q = 4;
    s.w[0] = w;
    set_signs(&m.layers[0], w);
    train_once(&m, &s, x, &y0, 1, got, &st);
    check_weights("output rule", got, want, 4);
    CHECK(st.correct == 0 && st.wrong == 1, "stats %u %u", st.correct, st.wrong);
    s.shift[0] = 1;
    train_once(&m, &s, x, &y0, 1, got, &st);
    check_weights("rounding", got, want_half, 4);
    s.shift[0] = 0;
    s.w[0] = w_hi;
    set_signs(&m.layers[0], w_hi);
    train_once(&m, &s, x, &y0, 1, got, &st);
    check_weights("saturation at +2^q", got, want_hi, 4);
    s.w[0] = w_lo;
    set_signs(&m.layers[0], w_lo);
    train_once(&m, &s, x, &y0, 1, got, &st);
    check_weights("saturation at -2^q", got, want_lo, 4);
    s.w[0] = w;
    set_signs(&m.layers[0], w);
    s.window[0] = 3;
    train_once(&m, &s, x, &y1, 1, got, &st);
    check_weights("margin", got, want_margin, 4);
    CHECK(st.correct == 1 && st.wrong == 1, "stats %u %u", st.correct, st.wrong);
    s.window[0] = 2; /* separated by exactly the margin: no update */
    train_once(&m, &s, x, &y1, 1, got, &st);
    check_weights("no update", got, w, 4);
    CHECK(st.correct == 1 && st.wrong == 0, "stats %u %u", st.correct, st.wrong);
    tb_free(&m);
}

/* fmix32 and B[j, c] written again from docs/format.md. */
static uint32_t fmix(uint32_t h) {
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    return h ^ (h >> 16);
}

static int32_t b_sign(uint32_t seed, uint32_t layer, uint32_t j, uint32_t c, uint32_t n_classes) {
    uint32_t key = fmix(seed ^ fmix(layer));
    return (fmix(key ^ ((j * n_classes + c) * 0x9E3779B9u)) >> 31) ? 1 : -1;
}

/* One hidden unit (DENSE U8 1 -> BIN 1, T = 0) before a DENSE BIN 1 -> I32 2, x = 2, W = 3: z = 2.
 * With B[0, 0] != B[0, 1] the signal is C B[0, y] - (B[0, 0] + B[0, 1]) = 2 B[0, y], so
 * W -= 2 B[0, y] x = 4 B[0, y]; a flipped unit moves the other way; outside the window nothing. */
static void hidden_rule(tb_rng *r) {
    const uint8_t x = 2, y = 1;
    const int32_t w_h[] = {3}, w_o[] = {1, -1};
    uint32_t seed = 0;
    int32_t got[3], b;
    tb_model m;
    trnd_spec s;
    ebnn_train_stats st;

    while (b_sign(seed, 0, 0, 0, 2) == b_sign(seed, 0, 0, 1, 2)) seed++;
    b = b_sign(seed, 0, 0, y, 2);
    start_model(&m, 1, 2);
    tb_add(&m, r, EBNN_OP_DENSE, 0, EBNN_T_BIN, 1, 1, 1, 1, 0, 0, 1, 1);
    tb_add(&m, r, EBNN_OP_DENSE, 1, EBNN_T_I32, 1, 1, 1, 1, 0, 0, 1, 2);
    m.layers[0].T[0] = 0;
    m.layers[0].flip[0] = 0;
    memset(&s, 0, sizeof s);
    s.q = 4;
    s.seed = seed;
    s.window[0] = 2;
    s.w[0] = w_h;
    s.w[1] = w_o;
    set_signs(&m.layers[0], w_h);
    set_signs(&m.layers[1], w_o);
    train_once(&m, &s, &x, &y, 1, got, &st);
    CHECK(got[0] == 3 - 4 * b, "hidden: %d, want %d", got[0], 3 - 4 * b);
    m.layers[0].flip[0] = 1; /* h = [z <= 0]: the signal changes sign */
    train_once(&m, &s, &x, &y, 1, got, &st);
    CHECK(got[0] == 3 + 4 * b, "flipped: %d, want %d", got[0], 3 + 4 * b);
    s.window[0] = 1; /* |z - T| = 2 > 1: the STE passes nothing */
    train_once(&m, &s, &x, &y, 1, got, &st);
    CHECK(got[0] == 3, "outside the window: %d", got[0]);
    tb_free(&m);
}

/* Random bytes in the trnd section of a U8 5 -> BIN 7 -> BIN 3 -> I32 3 chain (CRCs refreshed):
 * init fails with EBNN_ERR_TRAINING naming a field, or succeeds and a step runs cleanly. */
static void corrupted_sections(tb_rng *r) {
    static const uint16_t widths[] = {7, 3, 3};
    int32_t w[3][7 * 5];
    const uint8_t x[] = {0, 255, 7, 128, 1, 9, 9, 200, 3, 60}, y[] = {2, 0};
    uint32_t size, trnd, l, i, trial, ok = 0;
    tb_model m;
    trnd_spec s;
    uint8_t *base;

    start_model(&m, 5, 3);
    memset(&s, 0, sizeof s);
    s.q = 6;
    s.seed = 77;
    for (l = 0; l < 3; l++) {
        tb_layer *ly = tb_add(&m, r, EBNN_OP_DENSE, (uint16_t)l, l == 2 ? EBNN_T_I32 : EBNN_T_BIN,
                              1, 1, 1, 1, 0, 0, 1, widths[l]);
        for (i = 0; i < (uint32_t)ly->out_c * n_in_of(ly); i++)
            w[l][i] = (int32_t)tb_range(r, 0, 128) - 64;
        set_signs(ly, w[l]);
        s.w[l] = w[l];
        s.shift[l] = l;
        s.window[l] = 40;
    }
    base = write_with_trnd(&m, &s, &size, &trnd);
    for (trial = 0; trial < 3000; trial++) {
        uint8_t *f = tu_copy(base, size);
        uint32_t edits = tb_range(r, 1, 4), e;
        ebnn_model md;
        ebnn_trainer t;
        ebnn_diag d;
        ebnn_status st;
        for (e = 0; e < edits; e++) {
            uint32_t at = trnd + tb_range(r, 0, size - trnd - 1);
            uint32_t v = tb_range(r, 0, 3) == 0 ? f[at] ^ (1u << tb_range(r, 0, 7)) : tb_rand(r);
            f[at] = (uint8_t)(v & 0xFFu);
        }
        CHECK(ebnn_model_finalize(f, size) == EBNN_OK, "finalize");
        CHECK(ebnn_model_load(&md, f, size, &d) == EBNN_OK, "trnd is ancillary: %s", d.field);
        st = ebnn_trainer_init(&t, EBNN_RULE_DRTP, &md, f, &d);
        CHECK(st == EBNN_OK || (st == EBNN_ERR_TRAINING && d.field != NULL && d.field[0]),
              "trial %u: status %s", trial, ebnn_status_name(st));
        if (st == EBNN_OK) {
            size_t need = ebnn_trainer_buffer_size(&t, 2);
            void *scratch = tu_aligned(need);
            ebnn_train_stats stats;
            CHECK(ebnn_trainer_step(&t, x, y, 2, scratch, need, &stats) == EBNN_OK,
                  "step after a valid init");
            free(scratch);
            ok++;
        }
        free(f);
    }
    CHECK(ok > 0 && ok < 3000, "both outcomes seen (%u valid)", ok);
    free(base);
    tb_free(&m);
}

void test_train_drtp(tb_rng *r) {
    output_rule(r);
    hidden_rule(r);
    corrupted_sections(r);
}
