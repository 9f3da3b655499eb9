/* Depthwise BIN convolution (groups == in_c == out_c) on AVX-512 and AVX2. Each output channel
 * sees one input bit per tap, so the work is bit-parallel across channels: the weights are
 * repacked once per layer into one packed vector per tap (bit c = channel c's weight at that
 * tap), the XOR of an input pixel with it gives 64 (AVX2: 32) channels' mismatches at once,
 * VPMOVM2B (AVX2: a shuffle and compare) turns those bits into byte lanes and the lanes count
 * mismatches over the taps. The threshold and flip become two byte compares against
 * per-channel bounds on the count, whose masks are the output bits. Padded taps are all -1
 * (zero words), as in the reference. */
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <string.h>

#include "x86_bytes.h"

#define AVX512 __attribute__((target("avx512f,avx512bw")))
#define AVX2 __attribute__((target("avx2")))
/* Stack: about 16 KiB (the weights per tap, the bounds). */
#define MAX_TAPS 49u    /* kh * kw up to 7 x 7: the byte counters stay below 127 */
#define MAX_WORDS 64u   /* input words per pixel (in_c <= 2048) */

/* 64 channels' bits [64 q, 64 q + 64) of a packed vector of nw words. */
static inline uint64_t bits64(const uint32_t *p, uint32_t nw, uint32_t q) {
    uint64_t v = p[2u * q];
    if (2u * q + 1u < nw) v |= (uint64_t)p[2u * q + 1u] << 32;
    return v;
}

/* Per channel, the mismatch counts m that give a set output bit: m <= ge[c] when the bit is
 * y >= T, m >= le[c] when it is y <= T (flipped), with y = taps - 2m; clamped to int8, where
 * -1 / 127 stand for "never" / "always" (m is 0..taps). */
static void bounds(const ebnn_layer *l, uint32_t taps, int8_t *ge, int8_t *le) {
    uint32_t c;
    for (c = l->out_c; c < 32u * ebnn_words(l->out_c); c++) ge[c] = le[c] = 0; /* read, unused */
    for (c = 0; c < l->out_c; c++) {
        int64_t d = (int64_t)taps - l->thresholds[c]; /* y >= T  <=>  2m <= d */
        int64_t lo = d >= 0 ? d / 2 : -((-d + 1) / 2), hi = d >= 0 ? (d + 1) / 2 : -(-d / 2);
        ge[c] = (int8_t)(lo < -1 ? -1 : lo > 127 ? 127 : lo);
        le[c] = (int8_t)(hi < 0 ? 0 : hi > 127 ? 127 : hi);
    }
}

/* The input pixel under each tap of output pixel (oy, ox), NULL in the padding. */
static void tap_pixels(const ebnn_layer *l, const uint32_t *in, uint32_t oy, uint32_t ox,
                       const uint32_t **px) {
    uint32_t iw = ebnn_words(l->in_c), ky, kx;
    for (ky = 0; ky < l->kh; ky++) {
        int32_t iy = (int32_t)(oy * l->sh + ky) - (int32_t)l->ph;
        for (kx = 0; kx < l->kw; kx++) {
            int32_t ix = (int32_t)(ox * l->sw + kx) - (int32_t)l->pw;
            *px++ = iy < 0 || iy >= (int32_t)l->in_h || ix < 0 || ix >= (int32_t)l->in_w
                        ? NULL
                        : in + ((size_t)iy * l->in_w + (size_t)ix) * iw;
        }
    }
}

/* I32 output of count channels from c0 on: y = taps - 2m. */
static void put_scores(const ebnn_layer *l, void *out, size_t pix, uint32_t c0, uint32_t count,
                       uint32_t taps, const int8_t *m) {
    uint32_t j;
    for (j = 0; j < count && c0 + j < l->out_c; j++)
        ((int32_t *)out)[pix * l->out_c + c0 + j] = (int32_t)taps - 2 * m[j];
}

typedef void (*run_fn)(const ebnn_layer *l, const uint32_t *in, void *out, const uint32_t *wt,
                       uint32_t taps, const int8_t *ge, const int8_t *le);

static AVX512 void run64(const ebnn_layer *l, const uint32_t *in, void *out, const uint32_t *wt,
                         uint32_t taps, const int8_t *ge, const int8_t *le) {
    const uint32_t *px[MAX_TAPS];
    uint32_t iw = ebnn_words(l->in_c), nq = (iw + 1u) / 2u, oy, ox, t, q;
    size_t pix = 0;
    for (oy = 0; oy < l->out_h; oy++) {
        for (ox = 0; ox < l->out_w; ox++, pix++) {
            tap_pixels(l, in, oy, ox, px);
            for (q = 0; q < nq; q++) {
                uint32_t left = l->out_c - 64u * q;
                uint64_t keep = left >= 64u ? ~0ull : (1ull << left) - 1u;
                __m512i m = _mm512_setzero_si512();
                for (t = 0; t < taps; t++) {
                    uint64_t x = px[t] != NULL ? bits64(px[t], iw, q) : 0u;
                    /* a set mask bit is the byte -1: subtracting counts a mismatch */
                    m = _mm512_sub_epi8(m, _mm512_movm_epi8(x ^ bits64(wt + (size_t)t * iw, iw, q)));
                }
                if (l->out_type == EBNN_T_BIN) {
                    uint64_t flip = bits64(l->flip, iw, q), bits;
                    __m512i g = _mm512_maskz_loadu_epi8(keep, ge + 64u * q);
                    __m512i e = _mm512_maskz_loadu_epi8(keep, le + 64u * q);
                    bits = (_mm512_cmple_epi8_mask(m, g) & ~flip) | (_mm512_cmpge_epi8_mask(m, e) & flip);
                    bits &= keep;
                    ((uint32_t *)out)[pix * iw + 2u * q] = (uint32_t)bits;
                    if (2u * q + 1u < iw) ((uint32_t *)out)[pix * iw + 2u * q + 1u] = (uint32_t)(bits >> 32);
                } else {
                    int8_t counts[64];
                    _mm512_storeu_si512((void *)counts, m);
                    put_scores(l, out, pix, 64u * q, 64u, taps, counts);
                }
            }
        }
    }
}

static AVX2 void run32(const ebnn_layer *l, const uint32_t *in, void *out, const uint32_t *wt,
                       uint32_t taps, const int8_t *ge, const int8_t *le) {
    const uint32_t *px[MAX_TAPS];
    uint32_t iw = ebnn_words(l->in_c), oy, ox, t, q;
    size_t pix = 0;
    for (oy = 0; oy < l->out_h; oy++) {
        for (ox = 0; ox < l->out_w; ox++, pix++) {
            tap_pixels(l, in, oy, ox, px);
            for (q = 0; q < iw; q++) {
                uint32_t left = l->out_c - 32u * q, keep = left >= 32u ? ~0u : (1u << left) - 1u;
                __m256i m = _mm256_setzero_si256();
                for (t = 0; t < taps; t++) {
                    uint32_t x = px[t] != NULL ? px[t][q] : 0u;
                    m = _mm256_sub_epi8(m, ebnn_avx2_bytes_of_bits(x ^ wt[(size_t)t * iw + q]));
                }
                if (l->out_type == EBNN_T_BIN) {
                    __m256i g = _mm256_loadu_si256((const __m256i *)(const void *)(ge + 32u * q));
                    __m256i e = _mm256_loadu_si256((const __m256i *)(const void *)(le + 32u * q));
                    uint32_t above = (uint32_t)_mm256_movemask_epi8(_mm256_cmpgt_epi8(m, g));
                    uint32_t below = (uint32_t)_mm256_movemask_epi8(_mm256_cmpgt_epi8(e, m));
                    ((uint32_t *)out)[pix * iw + q] =
                        ((~above & ~l->flip[q]) | (~below & l->flip[q])) & keep;
                } else {
                    int8_t counts[32];
                    _mm256_storeu_si256((__m256i *)(void *)counts, m);
                    put_scores(l, out, pix, 32u * q, 32u, taps, counts);
                }
            }
        }
    }
}

/* run: run64 (AVX-512) or run32 (AVX2). */
static int depthwise(run_fn run, const ebnn_layer *l, const uint32_t *in, void *out) {
    uint32_t wt[MAX_TAPS * MAX_WORDS];
    int8_t ge[32u * MAX_WORDS], le[32u * MAX_WORDS];
    uint32_t taps = (uint32_t)l->kh * l->kw, iw = ebnn_words(l->in_c), t, c;

    if (l->in_type != EBNN_T_BIN) return 0;
    if (l->groups != l->in_c || l->out_c != l->in_c || l->groups < 2u) return 0;
    if (taps > MAX_TAPS || iw > MAX_WORDS) return 0;
    /* tap t's weights as one packed vector: channel c's weights are taps words, bit 0 used */
    memset(wt, 0, (size_t)taps * iw * sizeof wt[0]);
    for (c = 0; c < l->out_c; c++)
        for (t = 0; t < taps; t++)
            wt[(size_t)t * iw + (c >> 5)] |= (l->weights[(size_t)c * taps + t] & 1u) << (c & 31u);
    if (l->out_type == EBNN_T_BIN) bounds(l, taps, ge, le);
    run(l, in, out, wt, taps, ge, le);
    return 1;
}

/* The rows' entries (x86.c). */
int ebnn_avx512_depthwise_conv2d(const ebnn_layer *l, const uint32_t *in, void *out) {
    return depthwise(run64, l, in, out);
}

int ebnn_avx2_depthwise_conv2d(const ebnn_layer *l, const uint32_t *in, void *out) {
    return depthwise(run32, l, in, out);
}

#else
/* ISO C forbids an empty translation unit. */
typedef int ebnn_x86_depthwise_unused;
#endif
