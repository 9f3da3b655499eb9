/* The last step shared by the x86 channels-in-lanes paths (x86_lanes.c, x86_u8.c): a group of
 * output channels in the lanes of one vector, and their outputs from its pre-activations as
 * one vector compare (threshold and flip) giving the output bits, or the integers. */
#ifndef EDGEBNN_KERNELS_X86_FINISH_H
#define EDGEBNN_KERNELS_X86_FINISH_H

#include <immintrin.h>

#include "kernels.h"

#define MAX_LANES 16u
#define AVX512F __attribute__((target("avx512f")))
#define AVX2F __attribute__((target("avx2")))

/* One group of output channels and where its results go. */
typedef struct {
    const ebnn_layer *l;
    void *out;
    uint32_t c0, valid;        /* first channel of the group, channels in it (<= lanes) */
    int32_t terms;             /* kh * kw * in_c */
    int32_t thr[MAX_LANES];    /* thresholds of the group (BIN output), 0 past valid */
    uint32_t flip;             /* flip bits of the group */
} group;

/* Sets up the group of the channels [c0, c0 + lanes) that exist: thresholds and flip bits
 * (zero past out_c), terms. */
static inline void ebnn_group_init(group *g, const ebnn_layer *l, void *out, uint32_t c0,
                                   uint32_t lanes) {
    uint32_t c;
    g->l = l, g->out = out, g->c0 = c0;
    g->terms = (int32_t)((uint32_t)l->kh * l->kw * l->in_c);
    g->valid = l->out_c - c0 < lanes ? l->out_c - c0 : lanes;
    for (c = 0; c < lanes; c++)
        g->thr[c] = c < g->valid && l->out_type == EBNN_T_BIN ? l->thresholds[c0 + c] : 0;
    g->flip = l->out_type == EBNN_T_BIN ? ebnn_bits_at(l->flip, c0, g->valid) : 0u;
}

/* Output bits of pixel pix, channels c0.. of the group, OR-ed into their (cleared) word; the
 * group never straddles a word (32 is a multiple of the lane count and c0 of it). */
static inline void ebnn_put_bits(const group *g, size_t pix, uint32_t bits) {
    uint32_t *o = (uint32_t *)g->out + pix * ebnn_words(g->l->out_c) + (g->c0 >> 5);
    *o |= (bits & ((1u << g->valid) - 1u)) << (g->c0 & 31u);
}

/* The group's outputs of pixel pix from the pre-activations y: the thresholded bits or the
 * integers themselves. */
static inline AVX512F void finish16(const group *g, size_t pix, __m512i y) {
    if (g->l->out_type == EBNN_T_BIN) {
        __m512i t = _mm512_loadu_si512((const void *)g->thr);
        uint32_t ge = _mm512_cmp_epi32_mask(y, t, _MM_CMPINT_NLT);
        uint32_t le = _mm512_cmp_epi32_mask(y, t, _MM_CMPINT_LE);
        ebnn_put_bits(g, pix, (ge & ~g->flip) | (le & g->flip));
    } else {
        __mmask16 keep = (__mmask16)((1u << g->valid) - 1u);
        _mm512_mask_storeu_epi32((int32_t *)g->out + pix * g->l->out_c + g->c0, keep, y);
    }
}

static inline AVX2F void finish8(const group *g, size_t pix, __m256i y) {
    if (g->l->out_type == EBNN_T_BIN) {
        __m256i t = _mm256_loadu_si256((const __m256i *)(const void *)g->thr);
        uint32_t lt = (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(t, y)));
        uint32_t gt = (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(y, t)));
        ebnn_put_bits(g, pix, (~lt & ~g->flip) | (~gt & g->flip));
    } else {
        int32_t v[8];
        uint32_t j;
        _mm256_storeu_si256((__m256i *)(void *)v, y);
        for (j = 0; j < g->valid; j++) ((int32_t *)g->out)[pix * g->l->out_c + g->c0 + j] = v[j];
    }
}

#endif /* EDGEBNN_KERNELS_X86_FINISH_H */
