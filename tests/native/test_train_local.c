/* On-device training with the `local` rule (native/src/train/local.c): the hand-worked update
 * and the saturation cases of tests/test_local_rule.py reproduced in C, ebnn_model_finalize
 * against the test builder's own CRCs, and the trnl parser under random corruption (ASan). */
#include <string.h>

#include "testutil.h"

/* A BINARIZE (1 x 1 x n_in, thresholds 1) -> DENSE BIN (T = 0) -> DENSE I32 chain with one
 * trained sub-network and its trnl section, written from docs/format.md. */
typedef struct {
    uint32_t n_in, k, c, gamma, bits, seed, p_q;
    const int32_t *w; /* k x n_in hidden weights */
    const int8_t *r;  /* k x c readout, ±1 */
} chain_spec;

static uint32_t pad16(uint32_t n) { return (n + 15u) & ~15u; }

static void put_record(uint8_t *p, uint16_t op, uint16_t in0, uint8_t in_t, uint8_t out_t,
                       uint32_t in_c, uint32_t out_c, uint32_t w_off, uint32_t w_size,
                       uint32_t t_off, uint32_t t_size) {
    uint32_t i;
    memset(p, 0, EBNN_LAYER_RECORD_SIZE);
    tb_put16(p, op);
    tb_put16(p + 4, in0);
    tb_put16(p + 6, EBNN_TENSOR_NONE);
    p[8] = in_t;
    p[9] = out_t;
    tb_put16(p + 10, 1);
    for (i = 0; i < 6; i++) tb_put16(p + 12 + 2 * i, i == 2 ? in_c : i == 5 ? out_c : 1u);
    for (i = 0; i < 4; i++) tb_put16(p + 24 + 2 * i, 1);
    tb_put32(p + 36, w_off);
    tb_put32(p + 40, w_size);
    tb_put32(p + 44, t_off);
    tb_put32(p + 48, t_size);
}

static void set_bit(uint8_t *words, uint32_t i) { words[i / 8] |= (uint8_t)(1u << (i % 8)); }

/* Writes the file into an aligned buffer (free()); returns its size, *trnl_at = section offset. */
static uint32_t write_chain(const chain_spec *s, uint8_t **out, uint32_t *trnl_at) {
    uint32_t wi = 4 * ebnn_words(s->n_in), wk = 4 * ebnn_words(s->k);
    uint32_t bin_t = 0, d1_w = pad16(s->n_in), d1_t = d1_w + pad16(s->k * wi);
    uint32_t d2_w = d1_t + pad16(4 * s->k + wk), wght_size = d2_w + s->c * wk;
    uint32_t tr_w = 64, tr_r = tr_w + pad16(s->k * s->n_in * (s->bits > 8 ? 2u : 1u));
    uint32_t trnl_size = tr_r + pad16(s->c * wk);
    uint32_t layr = 64 + 48, wght = layr + 3 * 64, trnl = wght + pad16(wght_size);
    uint32_t size = trnl + trnl_size, j, i, c;
    uint8_t *f = tu_aligned(size), *w = f + wght, *t = f + trnl;

    memset(f, 0, size);
    memcpy(f, "EBNN", 4);
    tb_put16(f + 4, 1);
    tb_put16(f + 6, 1);
    tb_put32(f + 8, size);
    tb_put16(f + 16, 3);
    tb_put16(f + 18, 3);
    tb_put16(f + 20, 1);
    tb_put16(f + 22, 1);
    tb_put16(f + 24, (uint16_t)s->n_in);
    tb_put16(f + 26, (uint16_t)s->c);
    memcpy(f + 64, "LAYR", 4), tb_put32(f + 68, layr), tb_put32(f + 72, 3 * 64);
    memcpy(f + 80, "WGHT", 4), tb_put32(f + 84, wght), tb_put32(f + 88, wght_size);
    memcpy(f + 96, "trnl", 4), tb_put32(f + 100, trnl), tb_put32(f + 104, trnl_size);
    put_record(f + layr, EBNN_OP_BINARIZE, 0, EBNN_T_U8, EBNN_T_BIN, s->n_in, s->n_in, 0, 0,
               bin_t, s->n_in);
    put_record(f + layr + 64, EBNN_OP_DENSE, 1, EBNN_T_BIN, EBNN_T_BIN, s->n_in, s->k, d1_w,
               s->k * wi, d1_t, 4 * s->k + wk);
    put_record(f + layr + 128, EBNN_OP_DENSE, 2, EBNN_T_BIN, EBNN_T_I32, s->k, s->c, d2_w,
               s->c * wk, 0, 0);
    for (i = 0; i < s->n_in; i++) w[bin_t + i] = 1; /* input byte >= 1 is +1 */

    tb_put16(t, 1);
    tb_put16(t + 2, 1);
    t[4] = (uint8_t)s->bits;
    tb_put16(t + 6, (uint16_t)s->c);
    tb_put32(t + 8, s->seed);
    tb_put16(t + 32, 1);
    tb_put16(t + 34, (uint16_t)s->gamma);
    tb_put16(t + 36, (uint16_t)s->n_in);
    tb_put16(t + 38, (uint16_t)s->k);
    tb_put32(t + 40, s->p_q);
    tb_put32(t + 44, tr_w);
    tb_put32(t + 48, tr_r);
    for (j = 0; j < s->k; j++) {
        for (i = 0; i < s->n_in; i++) {
            int32_t v = s->w[j * s->n_in + i];
            if (v >= 0) set_bit(w + d1_w + j * wi, i);
            if (s->bits > 8)
                tb_put16(t + tr_w + 2 * (j * s->n_in + i), (uint32_t)v & 0xFFFFu);
            else
                t[tr_w + j * s->n_in + i] = (uint8_t)(v & 0xFF);
        }
        for (c = 0; c < s->c; c++)
            if (s->r[j * s->c + c] > 0) {
                set_bit(w + d2_w + c * wk, j);
                set_bit(t + tr_r + c * wk, j);
            }
    }
    tb_refresh_crcs(f, size, 1);
    *out = f;
    *trnl_at = trnl;
    return size;
}

/* Trains one batch and returns the hidden weights (k x n_in) in got; checks the sign bits. */
static void train_once(const chain_spec *s, const uint8_t *x, const uint8_t *y, uint32_t n,
                       int32_t *got, ebnn_train_stats *stats) {
    uint8_t *f, *fin;
    uint32_t trnl, size = write_chain(s, &f, &trnl), j, i;
    ebnn_model m;
    ebnn_trainer t;
    ebnn_layer d1;
    size_t need;
    void *scratch;
    ebnn_diag d;

    CHECK(ebnn_model_load(&m, f, size, &d) == EBNN_OK, "load: %s", d.field);
    CHECK(ebnn_trainer_init(&t, EBNN_RULE_LOCAL, &m, f, &d) == EBNN_OK, "init: %s", d.field);
    need = ebnn_trainer_buffer_size(&t, n);
    scratch = tu_aligned(need);
    CHECK(ebnn_trainer_step(&t, x, y, n, scratch, need - 1, stats) == EBNN_ERR_SCRATCH,
          "short scratch");
    CHECK(ebnn_trainer_step(&t, x, y, n, scratch, need, stats) == EBNN_OK, "step");
    CHECK(ebnn_trainer_step_index(&t) == 1, "step counter");
    ebnn_model_layer(&m, 1, &d1);
    for (j = 0; j < s->k; j++)
        for (i = 0; i < s->n_in; i++) {
            const uint8_t *w = f + trnl + 64;
            int32_t v = s->bits > 8 ? (int16_t)tb_get16(w + 2 * (j * s->n_in + i))
                                    : (int8_t)w[j * s->n_in + i];
            uint32_t bit = (d1.weights[j * ebnn_words(s->n_in) + i / 32] >> (i % 32)) & 1u;
            got[j * s->n_in + i] = v;
            CHECK(bit == (uint32_t)(v >= 0), "WGHT bit of unit %u input %u", j, i);
        }
    /* stale CRCs until finalize, which must agree with the builder's independent CRCs */
    CHECK(ebnn_model_load(&m, f, size, &d) == EBNN_ERR_SECTION_CRC, "stale crc");
    fin = tu_copy(f, size);
    tb_refresh_crcs(f, size, 1);
    CHECK(ebnn_model_finalize(fin, size) == EBNN_OK, "finalize");
    CHECK(memcmp(fin, f, size) == 0, "finalize differs from the builder's CRCs");
    CHECK(ebnn_model_load(&m, fin, size, &d) == EBNN_OK, "reload: %s", d.field);
    free(fin);
    free(scratch);
    free(f);
}

static void check_weights(const char *what, const int32_t *got, const int32_t *want, uint32_t n) {
    uint32_t i;
    for (i = 0; i < n; i++) CHECK(got[i] == want[i], "%s: weight %u is %d, want %d", what, i, got[i], want[i]);
}

/* tests/test_local_rule.py: N_in 3, K 4, C 2, gamma 2, one wrong sample (margin 0 < 1). */
static const int8_t R_HAND[] = {1, -1, 1, 1, 1, 1, -1, 1};
static const uint8_t X_HAND[] = {1, 0, 1}; /* binarized at 1: [+1, -1, +1] */

static void hand_worked(void) {
    const int32_t w[] = {3, -1, 2, -2, 1, -5, -1, 4, -1, -1, -4, 2};
    const int32_t want[] = {3, -1, 2, 0, -1, -3, -1, 4, -1, -3, -2, 0};
    /* unit 3's first weight at -128: its increment -2 saturates at the int8 range */
    const int32_t w_sat[] = {3, -1, 2, -2, 1, -5, -1, 4, -1, -128, -4, 2};
    const int32_t want_sat[] = {3, -1, 2, 0, -1, -3, -1, 4, -1, -128, -2, 0};
    const uint8_t y = 0;
    chain_spec s = {3, 4, 2, 2, 8, 0, 0, w, R_HAND};
    int32_t got[12];
    ebnn_train_stats st;
    train_once(&s, X_HAND, &y, 1, got, &st);
    check_weights("hand-worked", got, want, 12);
    CHECK(st.correct == 1 && st.wrong == 1, "stats %u %u", st.correct, st.wrong);
    s.w = w_sat;
    train_once(&s, X_HAND, &y, 1, got, &st);
    check_weights("update saturation", got, want_sat, 12);
}

/* Reinforcement with p_q = 2^32 - 1 (every draw hits), saturated at int8 and at 4 bits. */
static void reinforcement_saturates(void) {
    const int32_t w[] = {126, 127, -127, -128, 0, 5}, want[] = {127, 127, -128, -128, 2, 7};
    const int32_t w4[] = {6, -7, 1}, want4[] = {7, -8, 3};
    const int8_t r_ok[] = {1, -1, 1, -1};
    const uint8_t x[] = {1, 1, 0}, y0 = 0, y1 = 1;
    chain_spec s = {3, 2, 2, 1, 8, 3, 0xFFFFFFFFu, w, r_ok};
    int32_t got[6];
    ebnn_train_stats st;
    train_once(&s, x, &y0, 1, got, &st);
    check_weights("int8 reinforcement", got, want, 6);
    CHECK(st.wrong == 0, "a right sample");
    s.k = 1;
    s.bits = 4;
    s.seed = 0;
    s.w = w4;
    train_once(&s, x, &y1, 1, got, &st);
    check_weights("4-bit reinforcement", got, want4, 3);
    s.bits = 12; /* int16 storage: the same numbers, nothing saturates at 12 bits */
    train_once(&s, x, &y1, 1, got, &st);
    CHECK(got[0] == 8 && got[1] == -9 && got[2] == 3, "12-bit: %d %d %d", got[0], got[1], got[2]);
}

/* Random bytes in the trnl section (CRCs refreshed): init fails with EBNN_ERR_TRAINING or
 * succeeds, and then a step runs cleanly (ASan/UBSan watch). */
static void corrupted_sections(tb_rng *r) {
    const int32_t w[] = {3, -1, 2, -2, 1, -5, -1, 4, -1, -1, -4, 2};
    chain_spec s = {3, 4, 2, 2, 8, 0, 0x10000000u, w, R_HAND};
    uint8_t *base, y = 1;
    uint32_t trnl, size = write_chain(&s, &base, &trnl), trial, ok = 0;
    uint32_t trnl_size = size - trnl;
    for (trial = 0; trial < 3000; trial++) {
        uint8_t *f = tu_copy(base, size);
        uint32_t edits = tb_range(r, 1, 4), e;
        ebnn_model m;
        ebnn_trainer t;
        ebnn_diag d;
        ebnn_status st;
        for (e = 0; e < edits; e++) {
            uint32_t at = trnl + tb_range(r, 0, trnl_size - 1);
            uint32_t v = tb_range(r, 0, 3) == 0 ? f[at] ^ (1u << tb_range(r, 0, 7)) : tb_rand(r);
            f[at] = (uint8_t)(v & 0xFFu);
        }
        CHECK(ebnn_model_finalize(f, size) == EBNN_OK, "finalize");
        CHECK(ebnn_model_load(&m, f, size, &d) == EBNN_OK, "trnl is ancillary: %s", d.field);
        st = ebnn_trainer_init(&t, EBNN_RULE_LOCAL, &m, f, &d);
        CHECK(st == EBNN_OK || (st == EBNN_ERR_TRAINING && d.field != NULL),
              "trial %u: status %s", trial, ebnn_status_name(st));
        if (st == EBNN_OK) {
            size_t need = ebnn_trainer_buffer_size(&t, 1);
            void *scratch = tu_aligned(need);
            ebnn_train_stats stats;
            CHECK(ebnn_trainer_step(&t, X_HAND, &y, 1, scratch, need, &stats) == EBNN_OK,
                  "step after a valid init");
            free(scratch);
            ok++;
        }
        free(f);
    }
    CHECK(ok > 0 && ok < 3000, "both outcomes seen (%u valid)", ok);
    free(base);
}

void test_train_local(tb_rng *r) {
    hand_worked();
    reinforcement_saturates();
    corrupted_sections(r);
}
