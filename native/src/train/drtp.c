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

static int32_t latent_at(const uint8_t *w, size_t i) {
    return (int32_t)(int16_t)ebnn_rd16(w + 2 * i);
}

static void set_latent(uint8_t *w, size_t i, int32_t v) {
    w[2 * i] = (uint8_t)((uint32_t)v & 0xFFu);
    w[2 * i + 1] = (uint8_t)(((uint32_t)v >> 8) & 0xFFu);
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
                int32_t v = latent_at(w, (size_t)j * n_in + i);
                if (v < -lim || v > lim) return bad(diag, li, "weight", (uint32_t)v, (uint32_t)lim);
                if (ebnn_bit_at(row, i) != (uint32_t)(v >= 0)) return bad(diag, li, "sign", j, i);
            }
            if (n_in % 32u && (row[nw - 1u] >> (n_in % 32u)) != 0)
                return bad(diag, (int32_t)index, "weights", j, 0);
        }
        if (n_in > t->max_in) t->max_in = (uint16_t)n_in;
        if (l + 1u < t->n_trained && e.k > t->max_width) t->max_width = e.k;
    }
    if (pos != ebnn_align16(t->trnd_size)) return bad(diag, -1, "size", t->trnd_size, pos);
    return EBNN_OK;
}

ebnn_status ebnn_train_drtp_init(ebnn_train_drtp *t, const ebnn_model *m, uint8_t *model_data,
                                 ebnn_diag *diag) {
    ebnn_train_drtp v;
    const uint8_t *h;
    uint32_t q, i;
    ebnn_layer first;
    ebnn_status s;

    memset(&v, 0, sizeof v);
    s = ebnn_train_open_section(t, m, model_data, "trnd", TRND_HEADER, TRND_VERSION, &v.trnd,
                                &v.trnd_size, diag);
    if (s != EBNN_OK) return s;
    v.model = m;
    v.data = model_data;
    h = v.trnd;
    v.n_trained = ebnn_rd16(h + 2);
    q = h[4];
    if (q < 1 || q > 14) return bad(diag, -1, "frac_bits", q, 10);
    if (h[5] != 0) return bad(diag, -1, "reserved", h[5], 0);
    if (ebnn_rd16(h + 6) != m->n_classes)
        return bad(diag, -1, "n_classes", ebnn_rd16(h + 6), m->n_classes);
    if (m->n_classes > EBNN_TRAIN_LOCAL_MAX_CLASSES) /* labels are u8, as for the local rule */
        return bad(diag, -1, "n_classes", m->n_classes, EBNN_TRAIN_LOCAL_MAX_CLASSES);
    if (m->n_classes < 2) return bad(diag, -1, "n_classes", m->n_classes, 2); /* a runner-up */
    for (i = 16; i < TRND_HEADER; i++)
        if (h[i] != 0) return bad(diag, -1, "reserved", h[i], 0);

    ebnn_model_layer(m, 0, &first); /* [BINARIZE, flattened] then the DENSE chain */
    v.first_dense = first.op == EBNN_OP_BINARIZE ? 1u : 0u;
    if (v.first_dense && (first.out_h != 1 || first.out_w != 1))
        return bad(diag, 0, "out_h", first.out_h, 1);
    if (v.first_dense) v.max_width = first.out_c;
    if (v.n_trained == 0 || v.n_trained != (uint32_t)m->n_layers - v.first_dense)
        return bad(diag, -1, "n_layers", v.n_trained, (uint32_t)m->n_layers - v.first_dense);
    if (v.trnd_size < TRND_HEADER + (uint32_t)v.n_trained * TRND_ENTRY)
        return bad(diag, -1, "size", v.trnd_size, TRND_HEADER + (uint32_t)v.n_trained * TRND_ENTRY);
    s = check_entries(&v, (int32_t)1 << q, diag);
    if (s != EBNN_OK) return s;
    *t = v;
    return EBNN_OK;
}

/* ---- scratch ---- */

/* Byte offsets of the scratch regions for a batch; total 0 when the batch is out of range. */
typedef struct {
    size_t in, out, mask, acc, scores, runner, total;
} scratch_plan;

static size_t take(size_t *pos, uint64_t bytes) {
    size_t at = *pos;
    *pos += (size_t)((bytes + 15u) & ~(uint64_t)15u);
    return at;
}

static scratch_plan plan(const ebnn_train_drtp *t, uint32_t batch) {
    scratch_plan p;
    size_t pos = 0;
    uint64_t rows = 4u * (uint64_t)ebnn_words(t->max_width) * batch;
    memset(&p, 0, sizeof p);
    if (batch == 0 || batch > EBNN_TRAIN_DRTP_MAX_BATCH) return p;
    p.in = take(&pos, rows);                            /* BIN layer inputs, a row per sample */
    p.out = take(&pos, rows);                           /* layer outputs h, the next inputs */
    p.mask = take(&pos, rows);                          /* STE-active units, a row per sample */
    p.acc = take(&pos, 4u * (uint64_t)t->max_in);       /* one unit's summed update */
    p.scores = take(&pos, 4u * (uint64_t)t->model->n_classes); /* one sample's scores */
    p.runner = take(&pos, 2u * (uint64_t)batch);        /* output layer: runner-up per sample */
    p.total = pos;
    return p;
}

size_t ebnn_train_drtp_buffer_size(const ebnn_train_drtp *t, uint32_t batch) {
    return t ? plan(t, batch).total : 0;
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
        v = latent_at(s->w, base + i) + sign * round_shift(acc[i], s->e.shift);
        v = v < -s->lim ? -s->lim : v > s->lim ? s->lim : v;
        set_latent(s->w, base + i, v);
        if (v >= 0)
            bits[i >> 5] |= 1u << (i & 31u);
        else
            bits[i >> 5] &= ~(1u << (i & 31u));
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

ebnn_status ebnn_train_drtp_step(const ebnn_train_drtp *t, const uint8_t *inputs,
                                 const uint8_t *labels, uint32_t n, void *scratch,
                                 size_t scratch_size, ebnn_train_stats *stats) {
    scratch_plan p;
    uint8_t *sc = (uint8_t *)scratch;
    uint32_t *in, *out, *mask, b, l, j, seed, n_classes, stride;
    int32_t *acc, *o, lim;
    uint16_t *runner;
    const uint8_t *in_thr;
    layer_input x;

    if (t == NULL || t->model == NULL || inputs == NULL || labels == NULL || n == 0)
        return EBNN_ERR_ARG;
    n_classes = t->model->n_classes;
    for (b = 0; b < n; b++)
        if (labels[b] >= n_classes) return EBNN_ERR_ARG;
    p = plan(t, n);
    if (p.total == 0) return EBNN_ERR_LIMIT;
    if (scratch == NULL || (uintptr_t)scratch % EBNN_ALIGN != 0 || scratch_size < p.total)
        return EBNN_ERR_SCRATCH;
    in = (uint32_t *)(void *)(sc + p.in);
    out = (uint32_t *)(void *)(sc + p.out);
    mask = (uint32_t *)(void *)(sc + p.mask);
    acc = (int32_t *)(void *)(sc + p.acc);
    o = (int32_t *)(void *)(sc + p.scores);
    runner = (uint16_t *)(void *)(sc + p.runner);
    stride = ebnn_words(t->max_width);
    seed = ebnn_rd32(t->trnd + 8);
    lim = (int32_t)1 << t->trnd[4];
    if (stats) stats->correct = stats->wrong = 0;

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
        /* the writable view of the layer's weights: same offset in the caller's buffer */
        s.wbits = (uint32_t *)(void *)(t->data + ((const uint8_t *)s.lay.weights - t->model->data));
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
    return EBNN_OK;
}

ebnn_status ebnn_train_drtp_set_hyper(const ebnn_train_drtp *t, uint32_t layer, uint32_t shift,
                                      uint32_t window) {
    uint8_t *p;
    if (t == NULL || t->trnd == NULL || layer >= t->n_trained || shift > MAX_SHIFT)
        return EBNN_ERR_ARG;
    p = t->trnd + TRND_HEADER + layer * TRND_ENTRY;
    p[6] = (uint8_t)shift;
    ebnn_wr32(p + 8, window);
    return EBNN_OK;
}

uint32_t ebnn_train_drtp_step_index(const ebnn_train_drtp *t) {
    return t && t->trnd ? ebnn_rd32(t->trnd + 12) : 0;
}
