/* On-device training with integer DRTP (direct random target projection), the port of
 * `DrtpReference` in edgebnn/ondevice/drtp.py; the steps named below are that module's
 * docstring's. The state lives in the model's `trnd` section (docs/format.md, "Training section
 * trnd"): init validates all of it once, so a step indexes without bounds checks of its own. */
#include <string.h>

#include "../kernels/common.h"
#include "train_internal.h"

#define TRND_VERSION 1u
#define TRND_HEADER 32u   /* section header bytes */
#define TRND_ENTRY 16u    /* bytes per trained layer, after the header */
#define MAX_SHIFT 30u     /* rnd(v, s) adds 2^(s-1) to |v| < 2^30: no int32 overflow */
#define GOLDEN 0x9E3779B9u
#define NO_UPDATE 0xFFFFu /* runner-up slot of a sample that leaves the output layer alone */

/* One decoded entry of the section. */
typedef struct {
    uint16_t layer, n_in, k;
    uint8_t shift;
    uint32_t window, w_off;
} trnd_entry;

static ebnn_status bad(ebnn_diag *d, int32_t layer, const char *field, uint64_t got,
                       uint64_t expected) {
    return ebnn_fail(d, EBNN_ERR_TRAINING, layer, field, got, expected);
}

static const uint8_t *entry_ptr(const ebnn_train_drtp *t, uint32_t l) {
    return t->trnd + TRND_HEADER + l * TRND_ENTRY;
}

static void entry_at(const ebnn_train_drtp *t, uint32_t l, trnd_entry *e) {
    const uint8_t *p = entry_ptr(t, l);
    e->layer = ebnn_rd16(p);
    e->n_in = ebnn_rd16(p + 2);
    e->k = ebnn_rd16(p + 4);
    e->shift = p[6];
    e->window = ebnn_rd32(p + 8);
    e->w_off = ebnn_rd32(p + 12);
}

/* Layer li is a DENSE of the chain: reading the previous tensor, BIN out except the last (I32),
 * a BIN input flat (1 x 1 x C). The loader already made DENSE cover its whole input. */
static ebnn_status check_dense(const ebnn_layer *lay, uint32_t li, int last, ebnn_diag *diag) {
    int32_t i = (int32_t)li;
    if (lay->op != EBNN_OP_DENSE) return bad(diag, i, "op", lay->op, EBNN_OP_DENSE);
    if (lay->in0 != li) return bad(diag, i, "in0", lay->in0, li);
    if (lay->out_type != (last ? EBNN_T_I32 : EBNN_T_BIN))
        return bad(diag, i, "out_type", lay->out_type, last ? EBNN_T_I32 : EBNN_T_BIN);
    if (lay->in_type == EBNN_T_BIN && (lay->in_h != 1 || lay->in_w != 1))
        return bad(diag, i, "in_h", lay->in_h, 1);
    return EBNN_OK;
}

/* The entries against the layers: blobs in order, latent weights inside ±2^q with their signs
 * equal to WGHT's bits, WGHT's row tail bits zero (the forward pass popcounts whole words). */
static ebnn_status check_entries(ebnn_train_drtp *t, int32_t lim, ebnn_diag *diag) {
    uint32_t l, j, i, pos = ebnn_align16(TRND_HEADER + (uint32_t)t->n_trained * TRND_ENTRY);
    for (l = 0; l < t->n_trained; l++) {
        int32_t li = (int32_t)l;
        uint32_t index = t->first_dense + l, n_in, nw, wsize;
        const uint8_t *p = entry_ptr(t, l), *w;
        trnd_entry e;
        ebnn_layer lay;
        ebnn_status s;
        entry_at(t, l, &e);
        ebnn_model_layer(t->model, index, &lay);
        s = check_dense(&lay, index, l + 1u == t->n_trained, diag);
        if (s != EBNN_OK) return s;
        n_in = lay.in_type == EBNN_T_U8 ? (uint32_t)lay.in_h * lay.in_w * lay.in_c : lay.in_c;
        if (e.layer != index) return bad(diag, li, "layer", e.layer, index);
        if (e.n_in != n_in) return bad(diag, li, "n_in", e.n_in, n_in);
        if (e.k != lay.out_c) return bad(diag, li, "k", e.k, lay.out_c);
        if (e.shift > MAX_SHIFT) return bad(diag, li, "shift", e.shift, MAX_SHIFT);
        if (p[7] != 0) return bad(diag, li, "reserved", p[7], 0);
        wsize = 2u * e.k * e.n_in; /* < 2^33 is impossible: u16 x u16 x 2 */
        if (e.w_off != pos) return bad(diag, li, "w_off", e.w_off, pos);
        if (pos > t->trnd_size || wsize > t->trnd_size - pos) /* the section ends too soon */
            return bad(diag, li, "size", t->trnd_size, (uint64_t)pos + wsize);
        pos = ebnn_align16(pos + wsize);
        w = t->trnd + e.w_off;
        nw = ebnn_words(n_in);
        for (j = 0; j < e.k; j++) {
            const uint32_t *row = lay.weights + (size_t)j * nw;
            for (i = 0; i < n_in; i++) {
                int32_t v = ebnn_get_i16(w, (size_t)j * n_in + i);
                if (v < -lim || v > lim) return bad(diag, li, "weight", (uint32_t)v, (uint32_t)lim);
                if (ebnn_bit_at(row, i) != (uint32_t)(v >= 0)) return bad(diag, li, "sign", j, i);
            }
            if (n_in % 32u && (row[nw - 1u] >> (n_in % 32u)) != 0)
                return bad(diag, (int32_t)index, "weights", j, 0);
        }
        if (n_in > t->max_in) t->max_in = (uint16_t)n_in;
        if (l + 1u < t->n_trained && e.k > t->max_width) t->max_width = e.k;
    }
    return ebnn_train_check_end(t->trnd_size, pos, diag);
}

static ebnn_status drtp_init(ebnn_trainer *t, const ebnn_model *m, uint8_t *model_data,
                             ebnn_diag *diag) {
    ebnn_train_drtp v;
    ebnn_layer first;
    ebnn_status s;
    uint32_t q;

    memset(&v, 0, sizeof v);
    s = ebnn_train_open_section(t, m, model_data, "trnd", TRND_HEADER, TRND_VERSION, &v.trnd,
                                &v.trnd_size, diag);
    if (s != EBNN_OK) return s;
    q = v.trnd[4];
    v.n_trained = ebnn_rd16(v.trnd + 2);
    if (q < 1 || q > 14) return bad(diag, -1, "frac_bits", q, 10);
    s = ebnn_train_check_header(v.trnd, TRND_HEADER, m, diag);
    if (s != EBNN_OK) return s;
    if (m->n_classes < 2) return bad(diag, -1, "n_classes", m->n_classes, 2); /* a runner-up */

    v.model = m;
    v.data = model_data;
    ebnn_model_layer(m, 0, &first); /* [BINARIZE, flattened] then the DENSE chain */
    v.first_dense = first.op == EBNN_OP_BINARIZE ? 1u : 0u;
    if (v.first_dense && (first.out_h != 1 || first.out_w != 1))
        return bad(diag, 0, "out_h", first.out_h, 1);
    if (v.first_dense) v.max_width = first.out_c;
    if (v.n_trained == 0 || v.n_trained != (uint32_t)m->n_layers - v.first_dense)
        return bad(diag, -1, "n_layers", v.n_trained, (uint32_t)m->n_layers - v.first_dense);
    s = ebnn_train_check_size(v.trnd_size, TRND_HEADER + (uint32_t)v.n_trained * TRND_ENTRY, diag);
    if (s == EBNN_OK) s = check_entries(&v, (int32_t)1 << q, diag);
    if (s != EBNN_OK) return s;
    t->state.drtp = v;
    return EBNN_OK;
}

/* ---- the step ---- */

/* One trained layer during a step. */
typedef struct {
    trnd_entry e;
    ebnn_layer lay;
    uint8_t *w;           /* latent weights (trnd) */
    uint32_t *wbits;      /* their signs, as inference reads them (WGHT) */
    uint32_t nw;          /* words per WGHT row */
    int32_t lim;          /* saturation: [-lim, lim] */
    const uint8_t *in_thr; /* after a BINARIZE: its thresholds (0 = a constant +1 input, whose
                            * weights stay as they are); NULL otherwise */
} trained_layer;

/* The layer's input b: the 8-bit pixels of the first layer without BINARIZE, else ±1 bits. */
typedef struct {
    const uint8_t *u8;    /* NULL when the input is BIN */
    size_t u8_stride;
    const uint32_t *bits;
    uint32_t stride;      /* words per BIN row */
} layer_input;

static int32_t input_at(const layer_input *x, uint32_t b, uint32_t i) {
    if (x->u8) return x->u8[(size_t)b * x->u8_stride + i];
    return ebnn_bit_at(x->bits + (size_t)b * x->stride, i) ? 1 : -1;
}

/* Step 1: z_j = x_b . sign(W_j). */
static int32_t preact(const trained_layer *s, const layer_input *x, uint32_t b, uint32_t j) {
    const uint32_t *row = s->wbits + (size_t)j * s->nw;
    uint32_t i, k, mism = 0;
    int32_t z = 0;
    if (x->u8) {
        const uint8_t *px = x->u8 + (size_t)b * x->u8_stride;
        for (i = 0; i < s->e.n_in; i++) z += ebnn_bit_at(row, i) ? (int32_t)px[i] : -(int32_t)px[i];
        return z;
    }
    for (k = 0; k < s->nw; k++) mism += ebnn_popcount32(x->bits[(size_t)b * x->stride + k] ^ row[k]);
    return (int32_t)s->e.n_in - 2 * (int32_t)mism;
}

/* rnd(v, s): v / 2^s to nearest, ties away from zero. */
static int32_t round_shift(int32_t v, uint32_t shift) {
    int32_t half;
    if (shift == 0) return v;
    half = (int32_t)1 << (shift - 1u);
    return v >= 0 ? (v + half) >> shift : -((-v + half) >> shift);
}

/* W_j += sign * rnd(acc, shift), saturated, except on constant inputs; WGHT's bits follow. */
static void apply(const trained_layer *s, uint32_t j, const int32_t *acc, int32_t sign) {
    uint32_t i, *bits = s->wbits + (size_t)j * s->nw;
    size_t base = (size_t)j * s->e.n_in;
    for (i = 0; i < s->e.n_in; i++) {
        int32_t v;
        if (s->in_thr != NULL && s->in_thr[i] == 0) continue;
        v = ebnn_get_i16(s->w, base + i) + sign * round_shift(acc[i], s->e.shift);
        v = v < -s->lim ? -s->lim : v > s->lim ? s->lim : v;
        ebnn_put_i16(s->w, base + i, v);
        ebnn_put_bit(bits, i, v >= 0);
    }
}

/* acc += d * x_b over the layer's inputs. */
static void accumulate(const trained_layer *s, const layer_input *x, uint32_t b, int32_t d,
                       int32_t *acc) {
    uint32_t i;
    for (i = 0; i < s->e.n_in; i++) acc[i] += d * input_at(x, b, i);
}

/* Step 1 for a hidden layer: h into out, |z - T| <= window into mask, a row per sample. */
static void forward_hidden(const trained_layer *s, const layer_input *x, uint32_t n,
                           uint32_t *out, uint32_t *mask, uint32_t stride) {
    uint32_t b, j, k;
    for (b = 0; b < n; b++) {
        uint32_t *o = out + (size_t)b * stride, *m = mask + (size_t)b * stride;
        for (k = 0; k < stride; k++) o[k] = m[k] = 0;
        for (j = 0; j < s->e.k; j++) {
            int32_t z = preact(s, x, b, j);
            int64_t d = (int64_t)z - s->lay.thresholds[j];
            o[j >> 5] |= (uint32_t)ebnn_threshold_bit(&s->lay, j, z) << (j & 31u);
            if ((d < 0 ? -d : d) <= (int64_t)s->e.window) m[j >> 5] |= 1u << (j & 31u);
        }
    }
}

/* Step 2 for unit j of hidden layer l: the projected target s_j = C B[j,y] - sum_c B[j,c],
 * through the STE mask and the flip, summed over the batch; then W_j -= rnd(sum, shift). */
static void update_hidden(const trained_layer *s, uint32_t l, uint32_t seed, uint32_t j,
                          const layer_input *x, const uint32_t *mask, uint32_t stride,
                          const uint8_t *labels, uint32_t n, uint32_t n_classes, int32_t *acc) {
    uint32_t key = ebnn_fmix32(seed ^ ebnn_fmix32(l)), c, b, i, brow[8] = {0};
    int32_t sum = 0, flip = ebnn_bit_at(s->lay.flip, j) ? -1 : 1;
    int any = 0;
    for (c = 0; c < n_classes; c++) { /* row j of B, regenerated */
        uint32_t plus = ebnn_fmix32(key ^ ((j * n_classes + c) * GOLDEN)) >> 31;
        brow[c >> 5] |= plus << (c & 31u);
        sum += plus ? 1 : -1;
    }
    for (i = 0; i < s->e.n_in; i++) acc[i] = 0;
    for (b = 0; b < n; b++) {
        int32_t d;
        if (!ebnn_bit_at(mask + (size_t)b * stride, j)) continue;
        d = ((int32_t)n_classes * (ebnn_bit_at(brow, labels[b]) ? 1 : -1) - sum) * flip;
        if (d == 0) continue;
        accumulate(s, x, b, d, acc);
        any = 1;
    }
    if (any) apply(s, j, acc, -1);
}

/* Step 3, forward: scores, prediction, and the runner-up r of every sample that updates. */
static void forward_output(const trained_layer *s, const layer_input *x, const uint8_t *labels,
                           uint32_t n, int32_t *o, uint16_t *runner, ebnn_train_stats *stats) {
    uint32_t b, c;
    for (b = 0; b < n; b++) {
        uint32_t y = labels[b], pred = 0, r = y == 0 ? 1u : 0u;
        for (c = 0; c < s->e.k; c++) o[c] = preact(s, x, b, c);
        for (c = 1; c < s->e.k; c++)
            if (o[c] > o[pred]) pred = c;
        for (c = 0; c < s->e.k; c++)
            if (c != y && o[c] > o[r]) r = c;
        runner[b] = NO_UPDATE;
        if (pred != y || (int64_t)o[y] - o[r] < (int64_t)s->e.window)
            runner[b] = (uint16_t)r;
        if (stats) {
            stats->correct += pred == y ? 1u : 0u;
            stats->wrong += runner[b] != NO_UPDATE ? 1u : 0u;
        }
    }
}

/* Step 3, update of class c's row: W_c += rnd(sum_b e_bc x_b, shift), e = onehot(y) - onehot(r). */
static void update_output(const trained_layer *s, uint32_t c, const layer_input *x,
                          const uint8_t *labels, const uint16_t *runner, uint32_t n,
                          int32_t *acc) {
    uint32_t b, i;
    int any = 0;
    for (i = 0; i < s->e.n_in; i++) acc[i] = 0;
    for (b = 0; b < n; b++) {
        int32_t e;
        if (runner[b] == NO_UPDATE) continue;
        e = (labels[b] == c ? 1 : 0) - (runner[b] == c ? 1 : 0);
        if (e == 0) continue;
        accumulate(s, x, b, e, acc);
        any = 1;
    }
    if (any) apply(s, c, acc, 1);
}

/* The scratch of a batch: the rows of the widest BIN vector, then one unit's summed update, one
 * sample's scores and the output layer's runner-up of every sample. */
enum { R_ACC, R_SCORES, R_RUNNER };
static int drtp_layout(const ebnn_trainer *tr, uint32_t n, ebnn_train_layout *l) {
    const ebnn_train_drtp *t = &tr->state.drtp;
    l->width = t->max_width;
    l->n_regions = 3;
    l->bytes[R_ACC] = 4u * (uint64_t)t->max_in;
    l->bytes[R_SCORES] = 4u * (uint64_t)t->model->n_classes;
    l->bytes[R_RUNNER] = 2u * (uint64_t)n;
    return n <= EBNN_TRAIN_DRTP_MAX_BATCH;
}

static void drtp_step(const ebnn_trainer *tr, const uint8_t *inputs, const uint8_t *labels,
                      uint32_t n, const ebnn_train_scratch *sc, ebnn_train_stats *stats) {
    const ebnn_train_drtp *t = &tr->state.drtp;
    uint32_t *in = sc->in, *out = sc->out, *mask = sc->mask, b, l, j, stride = sc->stride;
    uint32_t seed = ebnn_rd32(t->trnd + 8), n_classes = t->model->n_classes;
    int32_t *acc = (int32_t *)sc->region[R_ACC], *o = (int32_t *)sc->region[R_SCORES];
    int32_t lim = (int32_t)1 << t->trnd[4];
    uint16_t *runner = (uint16_t *)sc->region[R_RUNNER];
    const uint8_t *in_thr;
    layer_input x;

    x.u8 = NULL;
    x.u8_stride = ebnn_input_size(t->model);
    x.bits = in;
    x.stride = stride;
    in_thr = NULL;
    if (t->first_dense) { /* the ±1 input: the model's own BINARIZE layer */
        ebnn_layer bin;
        ebnn_model_layer(t->model, 0, &bin);
        in_thr = (const uint8_t *)(const void *)bin.thresholds;
        for (b = 0; b < n; b++) ebnn_binarize(&bin, inputs + (size_t)b * x.u8_stride, in + (size_t)b * stride);
    } else {
        x.u8 = inputs;
    }

    for (l = 0; l < t->n_trained; l++) {
        trained_layer s;
        entry_at(t, l, &s.e);
        ebnn_model_layer(t->model, s.e.layer, &s.lay);
        s.w = t->trnd + s.e.w_off;
        s.wbits = ebnn_train_wbits(t->data, t->model, &s.lay);
        s.nw = ebnn_words(s.e.n_in);
        s.lim = lim;
        s.in_thr = l == 0 ? in_thr : NULL;
        if (l + 1u < t->n_trained) {
            uint32_t *swap;
            forward_hidden(&s, &x, n, out, mask, stride);
            for (j = 0; j < s.e.k; j++)
                update_hidden(&s, l, seed, j, &x, mask, stride, labels, n, n_classes, acc);
            swap = in; /* the next layer reads this one's h, computed before the update */
            in = out;
            out = swap;
            x.u8 = NULL;
            x.bits = in;
        } else {
            forward_output(&s, &x, labels, n, o, runner, stats);
            for (j = 0; j < s.e.k; j++) update_output(&s, j, &x, labels, runner, n, acc);
        }
    }
    ebnn_wr32(t->trnd + 12, ebnn_rd32(t->trnd + 12) + 1u);
}

/* Parameters 2l and 2l + 1: trained layer l's update shift (at most MAX_SHIFT) and window. */
static uint32_t drtp_param_count(const ebnn_trainer *t) { return 2u * t->state.drtp.n_trained; }

static uint32_t drtp_param_max(const ebnn_trainer *t, uint32_t i) {
    (void)t;
    return i % 2u == 0 ? MAX_SHIFT : UINT32_MAX;
}

static void drtp_set_param(const ebnn_trainer *t, uint32_t i, uint32_t value) {
    uint8_t *p = t->state.drtp.trnd + TRND_HEADER + (i / 2u) * TRND_ENTRY;
    if (i % 2u == 0)
        p[6] = (uint8_t)value;
    else
        ebnn_wr32(p + 8, value);
}

static uint32_t drtp_step_index(const ebnn_trainer *t) {
    return ebnn_rd32(t->state.drtp.trnd + 12);
}

const ebnn_trainer_rule ebnn_rule_drtp = {
    EBNN_RULE_DRTP, "drtp", drtp_init, drtp_layout, drtp_step,
    drtp_param_count, drtp_param_max, drtp_set_param, drtp_step_index,
};
