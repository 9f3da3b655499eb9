/* Test-only .ebnn writer; see builder.h. */
#include "builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORDS(bits) (((bits) + 31u) / 32u)
#define ALIGN16(n) (((n) + 15u) & ~(size_t)15u)

void tb_seed(tb_rng *r, uint64_t seed) { r->s = seed * 0x9E3779B97F4A7C15ull + 1u; }

uint32_t tb_rand(tb_rng *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return (uint32_t)((r->s * 0x2545F4914F6CDD1Dull) >> 32);
}

uint32_t tb_range(tb_rng *r, uint32_t lo, uint32_t hi) {
    return lo + (uint32_t)((uint64_t)tb_rand(r) * (hi - lo + 1u) >> 32);
}

/* Bitwise CRC-32 (reflected 0xEDB88320), deliberately unlike the core's table version. */
uint32_t tb_crc32(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

void tb_put16(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
void tb_put32(uint8_t *p, uint32_t v) {
    tb_put16(p, v & 0xFFFFu);
    tb_put16(p + 2, v >> 16);
}
uint32_t tb_get16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
uint32_t tb_get32(const uint8_t *p) { return tb_get16(p) | tb_get16(p + 2) << 16; }

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* ---- model description ---- */

tb_tensor tb_tensor_of(const tb_model *m, uint32_t t) {
    tb_tensor s = {0, m->in_h, m->in_w, m->in_c};
    if (t > 0) {
        const tb_layer *l = &m->layers[t - 1];
        s.type = l->out_type;
        s.h = l->out_h;
        s.w = l->out_w;
        s.c = l->out_c;
    }
    return s;
}

static uint32_t cg_of(const tb_layer *l) { return (uint32_t)l->in_c / l->groups; }
static uint32_t n_terms(const tb_layer *l) { return (uint32_t)l->kh * l->kw * cg_of(l); }

void tb_random_thresholds(tb_layer *l, tb_rng *r) {
    int32_t reach = (int32_t)n_terms(l) * (l->in_type == 0 ? 255 : 1);
    uint32_t o;
    for (o = 0; o < l->out_c; o++) {
        uint32_t kind = tb_range(r, 0, 9);
        l->flip[o] = (uint8_t)tb_range(r, 0, 1);
        if (kind == 0) {
            l->flip[o] = 0;
            l->T[o] = INT32_MIN; /* always +1 */
        } else if (kind == 1) {
            l->flip[o] = 0;
            l->T[o] = INT32_MAX; /* always -1 */
        } else {
            /* Near zero, where BIN pre-activations of random weights mostly land. */
            int32_t span = reach < 8 ? reach : reach / 4;
            l->T[o] = (int32_t)tb_range(r, 0, 2u * (uint32_t)span + 2u) - span - 1;
        }
    }
}

tb_layer *tb_add(tb_model *m, tb_rng *r, uint16_t op, uint16_t in0, uint8_t out_type,
                 uint16_t kh, uint16_t kw, uint16_t sh, uint16_t sw, uint16_t ph, uint16_t pw,
                 uint16_t groups, uint16_t out_c) {
    tb_layer *l = &m->layers[m->n_layers++];
    tb_tensor in = tb_tensor_of(m, in0);
    size_t i, nw;
    memset(l, 0, sizeof *l);
    if (op == 2) { /* DENSE */
        kh = in.h;
        kw = in.w;
        sh = sw = 1;
        ph = pw = 0;
        groups = 1;
    }
    if (op == 3) { /* MAXPOOL */
        groups = 1;
        out_c = in.c;
    }
    l->op = op;
    l->in0 = in0;
    l->in_type = in.type;
    l->out_type = out_type;
    l->groups = groups;
    l->in_h = in.h;
    l->in_w = in.w;
    l->in_c = in.c;
    l->kh = kh;
    l->kw = kw;
    l->sh = sh;
    l->sw = sw;
    l->ph = ph;
    l->pw = pw;
    l->out_c = out_c;
    l->out_h = (uint16_t)((in.h + 2u * ph - kh) / sh + 1u);
    l->out_w = (uint16_t)((in.w + 2u * pw - kw) / sw + 1u);
    if (op != 3) {
        nw = (size_t)out_c * n_terms(l);
        l->w = xcalloc(nw, 1);
        for (i = 0; i < nw; i++) l->w[i] = tb_range(r, 0, 1) ? 1 : -1;
        if (out_type == 1) {
            l->T = xcalloc(out_c, sizeof *l->T);
            l->flip = xcalloc(out_c, 1);
            tb_random_thresholds(l, r);
        }
    }
    return l;
}

void tb_free(tb_model *m) {
    uint32_t i;
    for (i = 0; i < m->n_layers; i++) {
        free(m->layers[i].w);
        free(m->layers[i].T);
        free(m->layers[i].flip);
    }
    m->n_layers = 0;
}

static const uint16_t channel_choices[] = {1, 3, 31, 32, 33, 65};

static uint16_t pick_channels(tb_rng *r) {
    return channel_choices[tb_range(r, 0, sizeof channel_choices / sizeof *channel_choices - 1)];
}

/* Kernel, stride and padding for one spatial axis of size n; the window always fits. */
static void pick_window(tb_rng *r, uint16_t n, uint16_t *k, uint16_t *s, uint16_t *p) {
    *p = (uint16_t)tb_range(r, 0, 1);
    *k = (uint16_t)tb_range(r, 1, 3);
    if (*k > n + 2u * *p) *k = (uint16_t)(n + 2u * *p);
    *s = (uint16_t)tb_range(r, 1, 2);
}

/* A random tensor a new layer may read: usually the newest BIN tensor, sometimes any earlier
 * one (a branch), the input included. */
static uint16_t pick_input(const tb_model *m, tb_rng *r) {
    uint32_t t = m->n_layers;
    if (tb_range(r, 0, 3) == 0) t = tb_range(r, 0, m->n_layers);
    while (t > 0 && tb_tensor_of(m, t).type != 1) t--;
    return (uint16_t)t;
}

static void add_random_conv(tb_model *m, tb_rng *r, uint16_t in0, uint8_t out_type) {
    tb_tensor in = tb_tensor_of(m, in0);
    uint16_t kh, kw, sh, sw, ph, pw, groups = 1, out_c = pick_channels(r);
    uint32_t g = tb_range(r, 0, 3);
    pick_window(r, in.h, &kh, &sh, &ph);
    pick_window(r, in.w, &kw, &sw, &pw);
    if (g == 1 && in.c % 2 == 0) {
        groups = 2;
        out_c = (uint16_t)(2u * tb_range(r, 1, 17));
    } else if (g == 2) {
        groups = out_c = in.c; /* depthwise */
    }
    tb_add(m, r, 1, in0, out_type, kh, kw, sh, sw, ph, pw, groups, out_c);
}

void tb_random_model(tb_model *m, tb_rng *r, uint32_t max_layers) {
    uint32_t n = tb_range(r, 1, max_layers < TB_MAX_LAYERS ? max_layers : TB_MAX_LAYERS), i;
    memset(m, 0, sizeof *m);
    m->in_h = (uint16_t)tb_range(r, 1, 10);
    m->in_w = (uint16_t)tb_range(r, 1, 10);
    m->in_c = (uint16_t)tb_range(r, 1, 4);
    for (i = 0; i + 1 < n; i++) {
        uint16_t in0 = i == 0 ? 0 : pick_input(m, r);
        uint32_t kind = tb_range(r, 0, 9);
        if (in0 == 0 || kind < 5)
            add_random_conv(m, r, in0, 1);
        else if (kind < 7) {
            tb_tensor in = tb_tensor_of(m, in0);
            uint16_t kh, kw, sh, sw, ph, pw;
            pick_window(r, in.h, &kh, &sh, &ph);
            pick_window(r, in.w, &kw, &sw, &pw);
            tb_add(m, r, 3, in0, 1, kh, kw, sh, sw, ph, pw, 1, 0);
        } else if (kind < 9)
            tb_add(m, r, 2, in0, 1, 0, 0, 0, 0, 0, 0, 1, pick_channels(r));
        else
            add_random_conv(m, r, in0, 2); /* a dead I32 side output */
    }
    /* The scores: a DENSE, or a CONV2D whose whole I32 output is the score vector. */
    {
        uint16_t in0 = m->n_layers == 0 ? 0 : pick_input(m, r);
        tb_layer *l;
        if (tb_range(r, 0, 2) == 0)
            add_random_conv(m, r, in0, 2);
        else
            tb_add(m, r, 2, in0, 2, 0, 0, 0, 0, 0, 0, 1, (uint16_t)tb_range(r, 1, 12));
        l = &m->layers[m->n_layers - 1];
        m->n_classes = (uint16_t)(l->out_h * l->out_w * l->out_c);
    }
}

/* ---- packing ---- */

size_t tb_weight_words(const tb_layer *l) {
    size_t row = l->in_type == 0 ? WORDS(n_terms(l)) : (size_t)l->kh * l->kw * WORDS(cg_of(l));
    return l->op == 3 ? 0 : l->out_c * row;
}

static void set_bit(uint32_t *w, size_t bit) { w[bit / 32] |= 1u << (bit % 32); }

void tb_pack_weights(const tb_layer *l, uint32_t *dst) {
    size_t words = tb_weight_words(l), row = words / l->out_c, o, tap, c;
    uint32_t cg = cg_of(l), taps = (uint32_t)l->kh * l->kw;
    memset(dst, 0, words * 4);
    for (o = 0; o < l->out_c; o++)
        for (tap = 0; tap < taps; tap++)
            for (c = 0; c < cg; c++) {
                if (l->w[(o * taps + tap) * cg + c] < 0) continue;
                if (l->in_type == 0)
                    set_bit(dst + o * row, tap * cg + c);
                else
                    set_bit(dst + o * row + tap * WORDS(cg), c);
            }
}

void tb_pack_thresholds(const tb_layer *l, uint32_t *dst) {
    size_t o;
    memset(dst, 0, 4 * ((size_t)l->out_c + WORDS(l->out_c)));
    for (o = 0; o < l->out_c; o++) {
        dst[o] = (uint32_t)l->T[o];
        if (l->flip[o]) set_bit(dst + l->out_c, o);
    }
}

void tb_pack_bin(const int32_t *v, size_t pixels, uint32_t c, uint32_t *dst) {
    size_t p, k;
    memset(dst, 0, pixels * WORDS(c) * 4);
    for (p = 0; p < pixels; p++)
        for (k = 0; k < c; k++)
            if (v[p * c + k] > 0) set_bit(dst + p * WORDS(c), k);
}

/* ---- file ---- */

static void put_words(uint8_t *p, const uint32_t *w, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) tb_put32(p + 4 * i, w[i]);
}

size_t tb_write(const tb_model *m, tb_rng *shuffle, uint8_t **out, tb_layout *lay) {
    static const char meta[] = "{\"classes\": [], \"source\": \"edgebnn C test builder\"}";
    uint32_t n_sec = shuffle ? 3u : 2u, i;
    size_t wght_size = 0, layr_size = (size_t)m->n_layers * 64, table_end = 64 + 16 * n_sec;
    size_t sizes[3], offs[3], order[3] = {0, 1, 2}, pos, total;
    uint8_t *f, *layr, *wght;
    const char *tags[3] = {"LAYR", "WGHT", "meta"};

    memset(lay, 0, sizeof *lay);
    for (i = 0; i < m->n_layers; i++) {
        const tb_layer *l = &m->layers[i];
        size_t tw = l->op != 3 && l->out_type == 1 ? l->out_c + WORDS(l->out_c) : 0;
        lay->w_off[i] = l->op == 3 ? 0 : (uint32_t)wght_size;
        wght_size = ALIGN16(wght_size + tb_weight_words(l) * 4);
        lay->t_off[i] = tw ? (uint32_t)wght_size : 0;
        wght_size = ALIGN16(wght_size + tw * 4);
    }
    sizes[0] = layr_size;
    sizes[1] = wght_size;
    sizes[2] = sizeof meta - 1;
    if (shuffle)
        for (i = 2; i > 0; i--) {
            size_t j = tb_range(shuffle, 0, i), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    /* order[] is both the table order and the data order. */
    pos = table_end;
    for (i = 0; i < n_sec; i++) {
        offs[order[i]] = pos;
        pos = ALIGN16(pos + sizes[order[i]]);
    }
    total = pos;
    f = xcalloc(total, 1);
    layr = f + offs[0];
    wght = f + offs[1];

    for (i = 0; i < m->n_layers; i++) {
        const tb_layer *l = &m->layers[i];
        uint8_t *p = layr + 64 * i;
        const uint16_t v[] = {l->in_h, l->in_w, l->in_c, l->out_h, l->out_w, l->out_c,
                              l->kh,   l->kw,   l->sh,   l->sw,    l->ph,    l->pw};
        size_t k;
        tb_put16(p + 0, l->op);
        tb_put16(p + 4, l->in0);
        tb_put16(p + 6, 0xFFFF);
        p[8] = l->in_type;
        p[9] = l->out_type;
        tb_put16(p + 10, l->groups);
        for (k = 0; k < 12; k++) tb_put16(p + 12 + 2 * k, v[k]);
        if (l->op != 3) {
            size_t nw = tb_weight_words(l);
            uint32_t *w = xcalloc(nw, 4);
            tb_pack_weights(l, w);
            put_words(wght + lay->w_off[i], w, nw);
            tb_put32(p + 36, lay->w_off[i]);
            tb_put32(p + 40, (uint32_t)nw * 4);
            free(w);
            if (l->out_type == 1) {
                size_t tw = l->out_c + WORDS(l->out_c);
                uint32_t *t = xcalloc(tw, 4);
                tb_pack_thresholds(l, t);
                put_words(wght + lay->t_off[i], t, tw);
                tb_put32(p + 44, lay->t_off[i]);
                tb_put32(p + 48, (uint32_t)tw * 4);
                free(t);
            }
        }
    }
    if (shuffle) memcpy(f + offs[2], meta, sizes[2]);

    memcpy(f, "EBNN", 4);
    tb_put16(f + 4, 1);
    tb_put16(f + 6, 0);
    tb_put32(f + 8, (uint32_t)total);
    tb_put16(f + 16, n_sec);
    tb_put16(f + 18, m->n_layers);
    tb_put16(f + 20, m->in_h);
    tb_put16(f + 22, m->in_w);
    tb_put16(f + 24, m->in_c);
    tb_put16(f + 26, m->n_classes);
    for (i = 0; i < n_sec; i++) {
        uint8_t *e = f + 64 + 16 * i;
        size_t s = order[i];
        memcpy(e, tags[s], 4);
        tb_put32(e + 4, (uint32_t)offs[s]);
        tb_put32(e + 8, (uint32_t)sizes[s]);
        if (s == 0) lay->layr_entry = (int)i;
        if (s == 1) lay->wght_entry = (int)i;
    }
    tb_refresh_crcs(f, total, 1);

    lay->size = (uint32_t)total;
    lay->n_sections = n_sec;
    lay->layr = (uint32_t)offs[0];
    lay->wght = (uint32_t)offs[1];
    lay->meta = shuffle ? (uint32_t)offs[2] : 0;
    *out = f;
    return total;
}

void tb_refresh_crcs(uint8_t *buf, size_t size, int sections) {
    size_t n, i;
    if (size < 64) return;
    n = tb_get16(buf + 16);
    if (n * 16 <= size - 64) {
        if (sections)
            for (i = 0; i < n; i++) {
                uint8_t *e = buf + 64 + 16 * i;
                uint32_t off = tb_get32(e + 4), len = tb_get32(e + 8);
                if (off <= size && len <= size - off) tb_put32(e + 12, tb_crc32(buf + off, len));
            }
        tb_put32(buf + 32, tb_crc32(buf + 64, n * 16));
    }
    tb_put32(buf + 60, tb_crc32(buf, 60));
}
