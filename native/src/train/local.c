/* On-device training with the `local` rule (local binary error signals), the integer port of
 * `local_step` in edgebnn/ondevice/local.py; every step below names the numbered step of
 * that module's docstring it implements. The state lives in the model's `trnl` section
 * (docs/format.md, "Training section trnl"): init validates all of it once, so a step indexes
 * without bounds checks of its own, like inference on a loaded model. */
#include <string.h>

#include "../kernels/kernels.h"
#include "train_internal.h"

#define GOLDEN 0x9E3779B9u

static ebnn_status bad(ebnn_diag *d, int32_t layer, const char *field, uint64_t got,
                       uint64_t expected) {
    return ebnn_fail(d, EBNN_ERR_TRAINING, layer, field, got, expected);
}

void ebnn_trnl_entry(const ebnn_train_local *t, uint32_t l, ebnn_trnl_layer *e) {
    const uint8_t *p = t->trnl + EBNN_TRNL_HEADER + l * EBNN_TRNL_ENTRY;
    e->layer = ebnn_rd16(p);
    e->gamma = ebnn_rd16(p + 2);
    e->n_in = ebnn_rd16(p + 4);
    e->k = ebnn_rd16(p + 6);
    e->p_q = ebnn_rd32(p + 8);
    e->w_off = ebnn_rd32(p + 12);
    e->r_off = ebnn_rd32(p + 16);
}

static int32_t weight_at(const ebnn_train_local *t, const uint8_t *w, size_t i) {
    return t->weight_bytes == 1 ? (int32_t)(int8_t)w[i] : ebnn_get_i16(w, i);
}

/* Checks the model's layers are the chain the rule trains and the section matches them: entry l
 * describes DENSE layer 1 + l, blobs in the canonical order, hidden weights in range with their
 * signs equal to WGHT's bits, the last readout equal to the output layer's weights. */
static ebnn_status check_layers(ebnn_train_local *t, uint32_t n_classes, int32_t lo, int32_t hi,
                                ebnn_diag *diag) {
    const ebnn_model *m = t->model;
    ebnn_layer lay;
    uint32_t l, j, i, pos = ebnn_align16(EBNN_TRNL_HEADER + (uint32_t)t->n_hidden * EBNN_TRNL_ENTRY);
    uint32_t n_in;

    ebnn_model_layer(m, 0, &lay);
    if (lay.op != EBNN_OP_BINARIZE || lay.out_h != 1 || lay.out_w != 1)
        return bad(diag, 0, "op", lay.op, EBNN_OP_BINARIZE); /* flattened BINARIZE first */
    n_in = lay.out_c;
    t->max_width = (uint16_t)n_in;
    if (m->n_layers != (uint32_t)t->n_hidden + 2u)
        return bad(diag, -1, "n_hidden", t->n_hidden, m->n_layers >= 2u ? m->n_layers - 2u : 0u);
    for (l = 0; l <= t->n_hidden; l++) {
        int32_t li = (int32_t)(l + 1u);
        int last = l == t->n_hidden;
        ebnn_model_layer(m, l + 1u, &lay);
        if (lay.op != EBNN_OP_DENSE || lay.in0 != l + 1u || lay.in_h != 1 || lay.in_w != 1)
            return bad(diag, li, "op", lay.op, EBNN_OP_DENSE);
        if (lay.out_type != (last ? EBNN_T_I32 : EBNN_T_BIN))
            return bad(diag, li, "out_type", lay.out_type, last ? EBNN_T_I32 : EBNN_T_BIN);
        if (!last) { /* h = sign(z), sign(0) = +1: threshold 0, no flip */
            for (j = 0; j < lay.out_c; j++)
                if (lay.thresholds[j] != 0) return bad(diag, li, "T", (uint32_t)lay.thresholds[j], 0);
            for (j = 0; j < ebnn_words(lay.out_c); j++)
                if (lay.flip[j] != 0) return bad(diag, li, "flip", lay.flip[j], 0);
        }
        if (lay.out_c > t->max_width) t->max_width = lay.out_c;
    }

    ebnn_model_layer(m, 0, &lay); /* then the entries against those layers */
    n_in = lay.out_c;
    for (l = 0; l < t->n_hidden; l++) {
        int32_t li = (int32_t)l;
        ebnn_trnl_layer e;
        const uint8_t *w;
        const uint32_t *wbits, *r;
        uint32_t wsize, rsize, nw_in, nw_k, c;
        ebnn_trnl_entry(t, l, &e);
        ebnn_model_layer(m, l + 1u, &lay);
        if (e.layer != l + 1u) return bad(diag, li, "layer", e.layer, l + 1u);
        if (e.n_in != n_in) return bad(diag, li, "n_in", e.n_in, n_in);
        if (e.k != lay.out_c) return bad(diag, li, "k", e.k, lay.out_c);
        if (e.gamma == 0 || e.gamma > e.k) return bad(diag, li, "gamma", e.gamma, e.k);
        {
            const uint8_t *p = t->trnl + EBNN_TRNL_HEADER + l * EBNN_TRNL_ENTRY;
            for (i = 20; i < EBNN_TRNL_ENTRY; i++)
                if (p[i] != 0) return bad(diag, li, "reserved", p[i], 0);
        }
        nw_in = ebnn_words(e.n_in);
        nw_k = ebnn_words(e.k);
        wsize = (uint32_t)e.k * e.n_in * t->weight_bytes; /* < 2^33 is impossible: u16 x u16 x 2 */
        rsize = n_classes * nw_k * 4u;
        if (e.w_off != pos) return bad(diag, li, "w_off", e.w_off, pos);
        if (wsize > t->trnl_size - pos) return bad(diag, li, "w_off", e.w_off, t->trnl_size);
        pos = ebnn_align16(pos + wsize);
        if (e.r_off != pos) return bad(diag, li, "r_off", e.r_off, pos);
        if (pos > t->trnl_size || rsize > t->trnl_size - pos)
            return bad(diag, li, "r_off", e.r_off, t->trnl_size);
        pos = ebnn_align16(pos + rsize);

        w = t->trnl + e.w_off;
        wbits = lay.weights;
        for (j = 0; j < e.k; j++)
            for (i = 0; i < e.n_in; i++) {
                int32_t v = weight_at(t, w, (size_t)j * e.n_in + i);
                if (v < lo || v > hi) return bad(diag, li, "weight", (uint32_t)v, (uint32_t)hi);
                if (ebnn_bit_at(wbits + (size_t)j * nw_in, i) != (uint32_t)(v >= 0))
                    return bad(diag, li, "sign", j, i);
            }
        r = (const uint32_t *)(const void *)(t->trnl + e.r_off);
        for (c = 0; c < n_classes; c++) /* tail bits zero, as in a BIN tensor */
            if (e.k % 32u && (r[(c + 1u) * nw_k - 1u] >> (e.k % 32u)) != 0)
                return bad(diag, li, "readout", c, 0);
        if (l + 1u == t->n_hidden) { /* the last readout is the output layer itself */
            ebnn_model_layer(m, l + 2u, &lay);
            if (memcmp(r, lay.weights, rsize) != 0) return bad(diag, li, "readout", 1, 0);
        }
        n_in = e.k;
    }
    return ebnn_train_check_end(t->trnl_size, pos, diag);
}

static ebnn_status local_init(ebnn_trainer *t, const ebnn_model *m, uint8_t *model_data,
                              ebnn_diag *diag) {
    ebnn_train_local v;
    const uint8_t *h;
    uint32_t bits;
    ebnn_status s;

    memset(&v, 0, sizeof v);
    s = ebnn_train_open_section(t, m, model_data, "trnl", EBNN_TRNL_HEADER, EBNN_TRNL_VERSION,
                                &v.trnl, &v.trnl_size, diag);
    if (s != EBNN_OK) return s;
    v.model = m;
    v.data = model_data;
    h = v.trnl;
    v.n_hidden = ebnn_rd16(h + 2);
    bits = h[4];
    if (v.n_hidden == 0 || v.n_hidden > EBNN_MAX_LAYERS - 2u)
        return bad(diag, -1, "n_hidden", v.n_hidden, 1);
    if (bits < 2 || bits > 16) return bad(diag, -1, "weight_bits", bits, 8);
    s = ebnn_train_check_header(h, EBNN_TRNL_HEADER, m, diag);
    if (s != EBNN_OK) return s;
    v.weight_bytes = bits <= 8 ? 1 : 2;
    v.first_dense = 1;
    s = ebnn_train_check_size(v.trnl_size, EBNN_TRNL_HEADER + (uint32_t)v.n_hidden * EBNN_TRNL_ENTRY,
                              diag);
    if (s == EBNN_OK) s = check_layers(&v, m->n_classes, -(1 << (bits - 1)), (1 << (bits - 1)) - 1, diag);
    if (s != EBNN_OK) return s;
    t->state.local = v;
    return EBNN_OK;
}

/* ---- the step ---- */

static int32_t saturate(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : v > hi ? hi : v; }

typedef struct {
    const ebnn_train_local *t;
    ebnn_trnl_layer e;
    uint32_t index, n_classes, nw_in, nw_k, stride;
    uint8_t *w;              /* hidden weights (trnl) */
    uint32_t *wbits;         /* their signs, as inference reads them (WGHT) */
    const uint32_t *r;       /* readout: row c = class c's column, bit j = R[j, c] = +1 */
    const uint8_t *in_thr;   /* first sub-network: BINARIZE's thresholds (0 = disabled input,
                              * never updated); NULL for the others */
    ebnn_xorpop_fn xorpop;   /* the inference kernel's popcount rows (select.c's best row) */
    int32_t lo, hi;
} sub_network;

/* Steps 1-4 for one sample: h into out, the selected units into mask (cleared when the
 * sample is right); returns 1 when the sample is wrong, sets *pred. */
static int forward_select(const sub_network *s, const uint32_t *x, uint32_t y, uint32_t *out,
                          uint32_t *mask, int32_t *z, int32_t *o, uint32_t *pred) {
    const ebnn_trnl_layer *e = &s->e;
    const uint32_t *ty = s->r + (size_t)y * s->nw_k;
    uint32_t j, c, g, k;
    int64_t best_other = INT64_MIN;

    /* 1. z = x . sign(W) = N_in - 2 popcount(x XOR W), h = sign(z) */
    s->xorpop(x, s->wbits, s->nw_in, e->k, (uint32_t *)z);
    for (k = 0; k < s->nw_k; k++) out[k] = 0;
    for (j = 0; j < e->k; j++) {
        z[j] = (int32_t)e->n_in - 2 * (int32_t)(uint32_t)z[j];
        out[j >> 5] |= (uint32_t)(z[j] >= 0) << (j & 31u);
    }
    *pred = 0; /* o = h . R, argmax = first largest */
    s->xorpop(out, s->r, s->nw_k, s->n_classes, (uint32_t *)o);
    for (c = 0; c < s->n_classes; c++) {
        o[c] = (int32_t)e->k - 2 * (int32_t)(uint32_t)o[c];
        if (o[c] > o[*pred]) *pred = c;
        if (c != y && o[c] > best_other) best_other = o[c];
    }
    for (k = 0; k < s->nw_k; k++) mask[k] = 0;
    /* 2. wrong: misclassified, or the top-2 margin below floor(K/4) */
    if (*pred == y && (int64_t)o[y] - best_other >= (int64_t)(e->k / 4u)) return 0;
    for (g = 0; g < e->k; g += e->gamma) { /* 3-4. per group, the cheapest erring unit */
        uint32_t end = g + e->gamma < e->k ? g + e->gamma : e->k, best = end;
        int32_t best_cost = 0;
        for (j = g; j < end; j++) {
            int32_t cost = z[j] < 0 ? -z[j] : z[j];
            int errs = ebnn_bit_at(ty, j) ? z[j] < 0 : z[j] > 0; /* z_j . t_j < 0 */
            if (errs && (best == end || cost < best_cost)) {
                best = j;
                best_cost = cost;
            }
        }
        if (best < end) mask[best >> 5] |= 1u << (best & 31u);
    }
    return 1;
}

/* Step 5's sum for unit j over the batch: acc[i] = sum_b t_bj m_bj x_bi (x = ±1), 0 in the
 * columns of disabled inputs, which never update. Returns whether any sample selected j. */
static int unit_increment(const sub_network *s, uint32_t j, const uint32_t *xs,
                          const uint32_t *masks, const uint8_t *labels, uint32_t n, int32_t *acc) {
    const ebnn_trnl_layer *e = &s->e;
    uint32_t b, i;
    int selected = 0;

    for (i = 0; i < e->n_in; i++) acc[i] = 0;
    for (b = 0; b < n; b++) {
        const uint32_t *x = xs + (size_t)b * s->stride;
        int32_t t;
        if (!ebnn_bit_at(masks + (size_t)b * s->stride, j)) continue;
        t = ebnn_bit_at(s->r + (size_t)labels[b] * s->nw_k, j) ? 1 : -1;
        for (i = 0; i < e->n_in; i++) acc[i] += ebnn_bit_at(x, i) ? t : -t;
        selected = 1;
    }
    if (selected && s->in_thr != NULL)
        for (i = 0; i < e->n_in; i++)
            if (s->in_thr[i] == 0) acc[i] = 0;
    return selected;
}

/* |increment| beyond which W + 2 increment saturates whatever W is (|W| <= 2^15): clamping to
 * it first keeps 2 increment inside int32 for any sum of ranks' increments. */
#define INC_LIMIT 65536

/* Steps 5-6 on row j: W_j += 2 acc, saturated; then the seeded reinforcement W += 2 sign(W),
 * saturated, for the weights whose draw is below p_q; WGHT's bits follow, a word at a time.
 * wbytes (1 or 2) is a constant at each call, so each width gets its own loop. */
static inline void apply_row_as(const sub_network *s, uint32_t j, const int32_t *acc,
                                uint32_t key, uint32_t wbytes) {
    const ebnn_trnl_layer *e = &s->e;
    uint32_t word, i;
    uint32_t *bits = s->wbits + (size_t)j * s->nw_in;
    size_t base = (size_t)j * e->n_in;
    uint8_t *w8 = s->w + base;
    uint8_t *w16 = s->w + 2u * base;

    for (word = 0; word < s->nw_in; word++) {
        uint32_t first = 32u * word, end = first + 32u < e->n_in ? first + 32u : e->n_in;
        uint32_t signs = 0;
        for (i = first; i < end; i++) {
            int32_t inc = saturate(acc[i], -INC_LIMIT, INC_LIMIT);
            int32_t v = wbytes == 1 ? (int32_t)(int8_t)w8[i] : ebnn_get_i16(w16, i);
            v = saturate(v + 2 * inc, s->lo, s->hi);
            if (ebnn_fmix32(key ^ ((uint32_t)(base + i) * GOLDEN)) < e->p_q)
                v = saturate(v + (v >= 0 ? 2 : -2), s->lo, s->hi);
            if (wbytes == 1)
                w8[i] = (uint8_t)(int8_t)v;
            else
                ebnn_put_i16(w16, i, v);
            signs |= (uint32_t)(v >= 0) << (i - first);
        }
        /* the bits past N_in stay as they are (zero, as in a BIN tensor) */
        bits[word] = end - first == 32u ? signs
                                        : (bits[word] & ~((1u << (end - first)) - 1u)) | signs;
    }
}

static void apply_row(const sub_network *s, uint32_t j, const int32_t *acc, uint32_t key) {
    if (s->t->weight_bytes == 1)
        apply_row_as(s, j, acc, key, 1u);
    else
        apply_row_as(s, j, acc, key, 2u);
}

/* The scratch of a batch: the rows of the widest vector, then one sample's pre-activations, one
 * unit's summed increments and one sample's readout scores. */
enum { R_Z, R_ACC, R_SCORES };
static int local_layout(const ebnn_trainer *tr, uint32_t n, ebnn_train_layout *l) {
    const ebnn_train_local *t = &tr->state.local;
    (void)n;
    l->width = t->max_width;
    l->n_regions = 3;
    l->bytes[R_Z] = 4u * (uint64_t)t->max_width;
    l->bytes[R_ACC] = 4u * (uint64_t)t->max_width;
    l->bytes[R_SCORES] = 4u * (uint64_t)t->model->n_classes;
    return 1;
}

/* Sub-network l's view of the section and the model; `stride` words per scratch row. */
static void sub_network_at(const ebnn_train_local *t, uint32_t l, uint32_t stride,
                           sub_network *s) {
    ebnn_layer lay, bin;
    uint32_t bits = t->trnl[4];
    s->t = t;
    s->index = l;
    ebnn_trnl_entry(t, l, &s->e);
    ebnn_model_layer(t->model, s->e.layer, &lay);
    ebnn_model_layer(t->model, 0, &bin);
    s->n_classes = t->model->n_classes;
    s->nw_in = ebnn_words(s->e.n_in);
    s->nw_k = ebnn_words(s->e.k);
    s->stride = stride;
    s->w = t->trnl + s->e.w_off;
    s->wbits = ebnn_train_wbits(t->data, t->model, &lay);
    s->r = (const uint32_t *)(const void *)(t->trnl + s->e.r_off);
    s->in_thr = l == 0 ? (const uint8_t *)(const void *)bin.thresholds : NULL;
    s->xorpop = ebnn_kernel_at(0)->xorpop;
    s->hi = (int32_t)(1u << (bits - 1u)) - 1;
    s->lo = -s->hi - 1;
}

/* This step's reinforcement key of sub-network l. */
static uint32_t reinforce_key(const ebnn_train_local *t, uint32_t l) {
    return ebnn_fmix32(ebnn_rd32(t->trnl + 8) ^ ebnn_fmix32(ebnn_rd32(t->trnl + 12) * 256u + l));
}

/* The ±1 input of the first sub-network, the model's own BINARIZE layer, into sc->in. */
static void binarize_batch(const ebnn_train_local *t, const uint8_t *inputs, uint32_t n,
                           const ebnn_train_scratch *sc) {
    size_t in_size = ebnn_input_size(t->model);
    ebnn_layer bin;
    uint32_t b;
    ebnn_model_layer(t->model, 0, &bin);
    for (b = 0; b < n; b++)
        ebnn_binarize(&bin, inputs + (size_t)b * in_size, sc->in + (size_t)b * sc->stride);
}

/* Steps 1-4 of sub-network s over the whole batch (in -> out, masks), before any update: the
 * next sub-network sees these h. The last one counts the statistics. */
static void forward_batch(const sub_network *s, const uint32_t *in, uint32_t *out,
                          uint32_t *masks, const uint8_t *labels, uint32_t n,
                          const ebnn_train_scratch *sc, ebnn_train_stats *stats) {
    int32_t *z = (int32_t *)sc->region[R_Z], *o = (int32_t *)sc->region[R_SCORES];
    uint32_t b;
    for (b = 0; b < n; b++) {
        uint32_t pred;
        size_t row = (size_t)b * s->stride;
        int wrong = forward_select(s, in + row, labels[b], out + row, masks + row, z, o, &pred);
        if (stats && s->index + 1u == s->t->n_hidden) {
            stats->correct += pred == labels[b] ? 1u : 0u;
            stats->wrong += (uint32_t)wrong;
        }
    }
}

/* The device's step: per sub-network, forward, then each unit's increment applied at once (one
 * row of scratch for the increments). */
static void local_step(const ebnn_trainer *tr, const uint8_t *inputs, const uint8_t *labels,
                       uint32_t n, const ebnn_train_scratch *sc, ebnn_train_stats *stats) {
    const ebnn_train_local *t = &tr->state.local;
    uint32_t *in = sc->in, *out = sc->out, l, j;
    int32_t *acc = (int32_t *)sc->region[R_ACC];

    binarize_batch(t, inputs, n, sc);
    for (l = 0; l < t->n_hidden; l++) {
        sub_network s;
        uint32_t *swap, key = reinforce_key(t, l);
        sub_network_at(t, l, sc->stride, &s);
        forward_batch(&s, in, out, sc->mask, labels, n, sc, stats);
        for (j = 0; j < s.e.k; j++) /* an unselected row changes only by reinforcement */
            if (unit_increment(&s, j, in, sc->mask, labels, n, acc) || s.e.p_q != 0)
                apply_row(&s, j, acc, key);
        swap = in;
        in = out;
        out = swap;
    }
    ebnn_wr32(t->trnl + 12, ebnn_rd32(t->trnl + 12) + 1u);
}

/* ---- the step in two halves (edgebnn.h, ebnn_local_increments) ---- */

size_t ebnn_local_increments_size(const ebnn_trainer *tr) {
    const ebnn_train_local *t;
    uint64_t count = 0;
    uint32_t l;
    if (tr == NULL || tr->rule != &ebnn_rule_local) return 0;
    t = &tr->state.local;
    for (l = 0; l < t->n_hidden; l++) {
        ebnn_trnl_layer e;
        ebnn_trnl_entry(t, l, &e);
        count += (uint64_t)e.k * e.n_in;
    }
    return (size_t)(4u * count);
}

ebnn_status ebnn_local_increments(const ebnn_trainer *tr, const uint8_t *inputs,
                                  const uint8_t *labels, uint32_t n, void *scratch,
                                  size_t scratch_size, int32_t *increments,
                                  size_t increments_size, ebnn_train_stats *stats) {
    const ebnn_train_local *t;
    ebnn_train_scratch sc;
    ebnn_status st;
    uint32_t *in, *out, *swap, l, j;
    size_t need = ebnn_local_increments_size(tr);
    if (need == 0) return EBNN_ERR_ARG; /* not a local trainer */
    if (increments == NULL || increments_size < need) return EBNN_ERR_SCRATCH;
    st = ebnn_train_begin(tr, inputs, labels, n, scratch, scratch_size, &sc, stats);
    if (st != EBNN_OK) return st;
    t = &tr->state.local;
    in = sc.in;
    out = sc.out;
    binarize_batch(t, inputs, n, &sc);
    for (l = 0; l < t->n_hidden; l++) {
        sub_network s;
        sub_network_at(t, l, sc.stride, &s);
        forward_batch(&s, in, out, sc.mask, labels, n, &sc, stats);
        for (j = 0; j < s.e.k; j++, increments += s.e.n_in)
            (void)unit_increment(&s, j, in, sc.mask, labels, n, increments);
        swap = in;
        in = out;
        out = swap;
    }
    return EBNN_OK;
}

ebnn_status ebnn_local_apply(const ebnn_trainer *tr, const int32_t *increments,
                             size_t increments_size) {
    const ebnn_train_local *t;
    uint32_t l, j;
    size_t need = ebnn_local_increments_size(tr);
    if (need == 0) return EBNN_ERR_ARG;
    if (increments == NULL || increments_size < need) return EBNN_ERR_SCRATCH;
    t = &tr->state.local;
    for (l = 0; l < t->n_hidden; l++) {
        sub_network s;
        uint32_t key = reinforce_key(t, l);
        sub_network_at(t, l, 0, &s);
        for (j = 0; j < s.e.k; j++, increments += s.e.n_in) apply_row(&s, j, increments, key);
    }
    ebnn_wr32(t->trnl + 12, ebnn_rd32(t->trnl + 12) + 1u);
    return EBNN_OK;
}

/* Parameter l: sub-network l's reinforcement threshold p_q, any u32. */
static uint32_t local_param_count(const ebnn_trainer *t) { return t->state.local.n_hidden; }

static uint32_t local_param_max(const ebnn_trainer *t, uint32_t i) {
    (void)t;
    (void)i;
    return UINT32_MAX;
}

static void local_set_param(const ebnn_trainer *t, uint32_t i, uint32_t p_q) {
    ebnn_wr32(t->state.local.trnl + EBNN_TRNL_HEADER + i * EBNN_TRNL_ENTRY + 8, p_q);
}

static uint32_t local_step_index(const ebnn_trainer *t) {
    return ebnn_rd32(t->state.local.trnl + 12);
}

const ebnn_trainer_rule ebnn_rule_local = {
    EBNN_RULE_LOCAL, "local", local_init, local_layout, local_step,
    local_param_count, local_param_max, local_set_param, local_step_index,
};
