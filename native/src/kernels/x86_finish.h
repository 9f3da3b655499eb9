/* The last step shared by the x86 channels-in-lanes paths (x86_lanes.c, x86_u8.c): a group of
 * output channels in the lanes of one vector, and their outputs as one vector compare
 * (threshold and flip folded into a bound) giving the output bits, or the integers. */
#ifndef EDGEBNN_KERNELS_X86_FINISH_H
#define EDGEBNN_KERNELS_X86_FINISH_H

#include <immintrin.h>

#include "kernels.h"

#define MAX_LANES 16u
#define AVX512F __attribute__((target("avx512f")))
#define AVX2F __attribute__((target("avx2")))

/* One group of output channels and where its results go. The paths hand over per lane a
 * value v: a mismatch count m (y = terms - 2m: the BIN lanes) or y itself (the 8-bit layer).
 * A BIN output bit is then one signed compare, (neg ? -v : v) <= bound, with bound and neg
 * folded from the threshold and flip of the channel (ebnn_group_init). */
typedef struct {
    const ebnn_layer *l;
    void *out;
    uint32_t c0, valid;        /* first channel of the group, channels in it (<= lanes) */
    int counts;                /* 1: v is a mismatch count, 0: v is y */
    int32_t terms;             /* kh * kw * in_c */
    int32_t bound[MAX_LANES];  /* BIN output: the bit is set iff (neg ? -v : v) <= bound */
    int32_t negv[MAX_LANES];   /* -1 in the lanes whose v is negated, else 0 */
    uint32_t neg;              /* the same as bits */
} group;

/* 1 when no window of l reads padding: the condition of the paths that read windows in place.
 * ph == pw == 0 alone does not imply it: a part of a layer (the engine's threads split output
 * rows) keeps the bottom padding of the whole implicit in in_h. */
static inline int ebnn_no_padding(const ebnn_layer *l) {
    return l->ph == 0 && l->pw == 0 && (uint32_t)(l->out_h - 1u) * l->sh + l->kh <= l->in_h &&
           (uint32_t)(l->out_w - 1u) * l->sw + l->kw <= l->in_w;
}

static inline int32_t ebnn_clamp32(int64_t v) {
    return v < -2147483647 ? -2147483647 : v > 2147483647 ? 2147483647 : (int32_t)v;
}

/* Sets up the group of the channels [c0, c0 + lanes) that exist. With D = terms - T:
 * counts, y >= T <=> m <= floor(D / 2); y <= T (flip) <=> -m <= -ceil(D / 2).
 * y itself, y >= T <=> -y <= -T; y <= T (flip) as it is. */
static inline void ebnn_group_init(group *g, const ebnn_layer *l, void *out, uint32_t c0,
                                   uint32_t lanes, int counts) {
    uint32_t c;
    g->l = l, g->out = out, g->c0 = c0, g->counts = counts, g->neg = 0;
    g->terms = (int32_t)((uint32_t)l->kh * l->kw * l->in_c);
    g->valid = l->out_c - c0 < lanes ? l->out_c - c0 : lanes;
    for (c = 0; c < lanes; c++) {
        int64_t t, d;
        int f, negate;
        g->bound[c] = 0, g->negv[c] = 0;
        if (c >= g->valid || l->out_type != EBNN_T_BIN) continue;
        t = l->thresholds[c0 + c], d = (int64_t)g->terms - t;
        f = (int)((l->flip[(c0 + c) >> 5] >> ((c0 + c) & 31u)) & 1u);
        negate = counts ? f : !f;
        if (counts) /* floor(d / 2) and -ceil(d / 2) = floor(-d / 2) */
            g->bound[c] = ebnn_clamp32(f ? (-d >= 0 ? -d / 2 : -((d + 1) / 2))
                                         : (d >= 0 ? d / 2 : -((-d + 1) / 2)));
        else
            g->bound[c] = ebnn_clamp32(f ? t : -t);
        g->negv[c] = negate ? -1 : 0;
        g->neg |= (uint32_t)negate << c;
    }
}

/* Where a group's outputs go, taken out of the group once per call of a path's pixel loop
 * (ebnn_out_of): the stores through the output could alias the group, which the compiler would
 * then reload for every pixel. */
typedef struct {
    uint32_t *bits;       /* BIN: the group's output word of pixel 0, else NULL */
    int32_t *ints;        /* I32: the group's first integer of pixel 0 */
    size_t stride;        /* words (integers) per pixel */
    uint32_t keep, shift; /* BIN: the group's bits and their place in the word */
    int first;            /* BIN: the group starts its word: stores it, the later groups OR in */
    int counts;
    int32_t terms;
    uint32_t valid;
} out_dst;

static inline out_dst ebnn_out_of(const group *g) {
    out_dst d;
    d.bits = NULL, d.ints = NULL, d.counts = g->counts, d.terms = g->terms, d.valid = g->valid;
    d.keep = (uint32_t)((1ull << g->valid) - 1u), d.shift = g->c0 & 31u, d.first = d.shift == 0;
    if (g->l->out_type == EBNN_T_BIN)
        d.stride = ebnn_words(g->l->out_c), d.bits = (uint32_t *)g->out + (g->c0 >> 5);
    else
        d.stride = g->l->out_c, d.ints = (int32_t *)g->out + g->c0;
    return d;
}

/* The one place the lanes paths write output bits: the bits of pixel pix, channels c0.. of the
 * group, into their word, no clearing first. The group never straddles a word (32 is a
 * multiple of the lane count and c0 of it) and every pixel's groups run in channel order, so
 * the first group of a word stores it (the bits past out_c 0) and the others OR into it. */
static inline void ebnn_put_bits(const out_dst *d, size_t pix, uint32_t bits) {
    uint32_t *o = d->bits + pix * d->stride, v = (bits & d->keep) << d->shift;
    *o = d->first ? v : *o | v;
}

/* A group's finish in the lanes of one vector: its destination, bounds and negations loaded
 * once (fin16_of, fin8_of) for every pixel the caller finishes. */
typedef struct {
    out_dst d;
    __m512i bound;
    __mmask16 neg;
} fin16;

typedef struct {
    out_dst d;
    __m256i bound, negv;
} fin8;

static inline AVX512F fin16 fin16_of(const group *g) {
    fin16 f;
    f.d = ebnn_out_of(g), f.neg = (__mmask16)g->neg;
    f.bound = _mm512_loadu_si512((const void *)g->bound);
    return f;
}

static inline AVX2F fin8 fin8_of(const group *g) {
    fin8 f;
    f.d = ebnn_out_of(g);
    f.bound = _mm256_loadu_si256((const __m256i *)(const void *)g->bound);
    f.negv = _mm256_loadu_si256((const __m256i *)(const void *)g->negv);
    return f;
}

/* The group's outputs of pixel pix from the lanes' values v (see group). */
static inline AVX512F void finish16(const fin16 *f, size_t pix, __m512i v) {
    if (f->d.bits != NULL) {
        __m512i s = _mm512_mask_sub_epi32(v, f->neg, _mm512_setzero_si512(), v);
        ebnn_put_bits(&f->d, pix, _mm512_cmp_epi32_mask(s, f->bound, _MM_CMPINT_LE));
    } else {
        __mmask16 keep = (__mmask16)f->d.keep;
        __m512i y = f->d.counts ? _mm512_sub_epi32(_mm512_set1_epi32(f->d.terms), _mm512_add_epi32(v, v)) : v;
        _mm512_mask_storeu_epi32(f->d.ints + pix * f->d.stride, keep, y);
    }
}

static inline AVX2F void finish8(const fin8 *f, size_t pix, __m256i v) {
    if (f->d.bits != NULL) {
        __m256i s = _mm256_sub_epi32(_mm256_xor_si256(v, f->negv), f->negv);
        __m256i over = _mm256_cmpgt_epi32(s, f->bound);
        ebnn_put_bits(&f->d, pix, ~(uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(over)));
    } else {
        int32_t y[8];
        uint32_t j;
        _mm256_storeu_si256((__m256i *)(void *)y,
                            f->d.counts ? _mm256_sub_epi32(_mm256_set1_epi32(f->d.terms), _mm256_add_epi32(v, v)) : v);
        for (j = 0; j < f->d.valid; j++) f->d.ints[pix * f->d.stride + j] = y[j];
    }
}

#endif /* EDGEBNN_KERNELS_X86_FINISH_H */
