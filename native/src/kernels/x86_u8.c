/* The 8-bit first layer (U8 input, ±1 weights) on AVX-512 and AVX2, the layer that would
 * otherwise run on the reference bit by bit. With P the sum of the window's pixels whose weight
 * bit is set and S the sum of all its pixels, y = P - (S - P) = 2P - S exactly. The weight bits
 * are used as they are stored: on AVX-512 as the byte mask of a masked load (VMOVDQU8 with a
 * zeroing mask), on AVX2 expanded to a byte mask and AND-ed; VPSADBW sums the selected bytes.
 * 64 (32) multiply-accumulates per mask, no repacking of the weights, no multiplications:
 * the path of dense layers (one output pixel, large windows).
 * Convolutions (many pixels, small windows) take a channels-in-lanes path instead: the weights
 * of 16 (AVX2: 8) channels repacked once as ±1 bytes, 4 window bytes broadcast and multiplied
 * by them with VPMADDUBSW (u8 x s8, pairs <= 510: exact) and VPMADDWD, which sums y itself,
 * then the vector threshold of x86_finish.h. Windows are read in place when they are one run of the
 * input (dense layers), else copied once per pixel (and group) into a patch, zeros in the
 * padding. */
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <string.h>

#include "x86_bytes.h"
#include "x86_finish.h"

#define AVX512 __attribute__((target("avx512f,avx512bw")))
#define AVX2 __attribute__((target("avx2")))
/* Stack: about 20 KiB in all. */
#define PATCH_BYTES 8192u
#define PM1_BYTES 8192u /* repacked ±1 weights of every channel group (window bytes x out_c) */
#define PM1_GROUPS 32u

/* The window bytes of output pixel (oy, ox), channels [c0, c0 + cg) of each tap, in weight
 * order (ky, kx, c); taps in the padding are 0 and add nothing to P or S. */
static void gather(const ebnn_layer *l, const uint8_t *in, uint32_t oy, uint32_t ox,
                   uint32_t c0, uint32_t cg, uint8_t *patch) {
    uint32_t ky, kx;
    for (ky = 0; ky < l->kh; ky++) {
        int32_t iy = (int32_t)(oy * l->sh + ky) - (int32_t)l->ph;
        for (kx = 0; kx < l->kw; kx++, patch += cg) {
            int32_t ix = (int32_t)(ox * l->sw + kx) - (int32_t)l->pw;
            if (iy < 0 || iy >= (int32_t)l->in_h || ix < 0 || ix >= (int32_t)l->in_w)
                memset(patch, 0, cg);
            else
                memcpy(patch, in + ((size_t)iy * l->in_w + (size_t)ix) * l->in_c + c0, cg);
        }
    }
}

/* Bits [64 j, 64 j + 64) of a weight row of rw words and n bits, only the first n kept. */
static inline uint64_t mask_at(const uint32_t *w, uint32_t rw, uint32_t n, uint32_t j) {
    uint64_t m = w[2u * j];
    if (2u * j + 1u < rw) m |= (uint64_t)w[2u * j + 1u] << 32;
    return n - 64u * j >= 64u ? m : m & ((1ull << (n - 64u * j)) - 1u);
}

/* Sum of the window's bytes selected by the weight row w (all of them when w is NULL). */
static AVX512 uint32_t masked_sum(const uint8_t *x, const uint32_t *w, uint32_t rw, uint32_t n) {
    __m512i acc = _mm512_setzero_si512();
    uint32_t j;
    for (j = 0; 64u * j < n; j++) {
        uint64_t m = n - 64u * j >= 64u ? ~0ull : (1ull << (n - 64u * j)) - 1u;
        if (w != NULL) m = mask_at(w, rw, n, j);
        acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(m, x + 64u * j),
                                                    _mm512_setzero_si512()));
    }
    return (uint32_t)_mm512_reduce_add_epi64(acc);
}

static AVX2 uint32_t masked_sum8(const uint8_t *x, const uint32_t *w, uint32_t rw, uint32_t n) {
    __m256i acc = _mm256_setzero_si256();
    __m128i sum;
    uint32_t j;
    (void)rw; /* 32-bit chunks: word j of the row, always inside it */
    for (j = 0; 32u * j < n; j++) {
        uint32_t left = n - 32u * j;
        uint32_t m = left >= 32u ? ~0u : (1u << left) - 1u;
        __m256i v;
        if (left >= 32u) {
            v = _mm256_loadu_si256((const __m256i *)(const void *)(x + 32u * j));
        } else { /* the window's last bytes, not read past */
            uint8_t tail[32] = {0};
            memcpy(tail, x + 32u * j, left);
            v = _mm256_loadu_si256((const __m256i *)(const void *)tail);
        }
        if (w != NULL) m &= w[j];
        v = _mm256_and_si256(v, ebnn_avx2_bytes_of_bits(m));
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(v, _mm256_setzero_si256()));
    }
    sum = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    return (uint32_t)(_mm_cvtsi128_si64(sum) + _mm_extract_epi64(sum, 1));
}

/* The window (nd * 4 bytes, zeros past n) against the ±1 bytes wl[d][lane][4] of a group. */
static AVX512 void pm1_pixel16(const int8_t *wl, uint32_t nd, const uint8_t *x, const group *g,
                               size_t pix) {
    __m512i acc = _mm512_setzero_si512();
    uint32_t d, v;
    for (d = 0; d < nd; d++) {
        memcpy(&v, x + 4u * d, 4);
        acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_set1_epi32((int)v),
                                                                           _mm512_loadu_si512((const void *)(wl + 64u * d))),
                                                      _mm512_set1_epi16(1)));
    }
    const fin16 f = fin16_of(g);
    finish16(&f, pix, acc);
}

static AVX2 void pm1_pixel8(const int8_t *wl, uint32_t nd, const uint8_t *x, const group *g,
                            size_t pix) {
    __m256i acc = _mm256_setzero_si256();
    uint32_t d, v;
    for (d = 0; d < nd; d++) {
        memcpy(&v, x + 4u * d, 4);
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi32((int)v),
                                                                           _mm256_loadu_si256((const __m256i *)(const void *)(wl + 32u * d))),
                                                      _mm256_set1_epi16(1)));
    }
    const fin8 f = fin8_of(g);
    finish8(&f, pix, acc);
}

/* Channels-in-lanes convolution with U8 input (groups == 1, more than one output pixel). */
static int u8_lanes(const ebnn_layer *l, const uint8_t *in, void *out, uint32_t lanes,
                    void (*pixel)(const int8_t *, uint32_t, const uint8_t *, const group *, size_t)) {
    int8_t wl[PM1_BYTES];
    uint8_t patch[PATCH_BYTES];
    group g[PM1_GROUPS];
    uint32_t n = (uint32_t)l->kh * l->kw * l->in_c, nd = (n + 3u) / 4u, rw = ebnn_words(n);
    uint32_t ng = (l->out_c + lanes - 1u) / lanes, i, c, b, oy, ox;
    size_t pix = 0, stride = (size_t)nd * 4u * lanes;

    if (ng > PM1_GROUPS || (size_t)ng * stride > PM1_BYTES || 4u * nd > PATCH_BYTES) return 0;
    for (i = 0; i < ng; i++) {
        ebnn_group_init(&g[i], l, out, i * lanes, lanes, 0);
        for (c = 0; c < lanes; c++) {
            const uint32_t *w = l->weights + (size_t)(i * lanes + c) * rw;
            for (b = 0; b < 4u * nd; b++)
                wl[i * stride + (b / 4u) * 4u * lanes + 4u * c + b % 4u] =
                    (int8_t)(c >= g[i].valid || b >= n ? 0 : (w[b >> 5] >> (b & 31u)) & 1u ? 1 : -1);
        }
    }
    memset(patch, 0, 4u * nd); /* the bytes past n stay 0 */
    for (oy = 0; oy < l->out_h; oy++) {
        for (ox = 0; ox < l->out_w; ox++, pix++) {
            gather(l, in, oy, ox, 0, l->in_c, patch);
            for (i = 0; i < ng; i++) pixel(wl + i * stride, nd, patch, &g[i], pix);
        }
    }
    return 1;
}

/* What differs between AVX-512 and AVX2: the masked sum of the dense path, the lanes and the
 * per-pixel step of the channels-in-lanes path. */
typedef struct {
    uint32_t (*sum)(const uint8_t *, const uint32_t *, uint32_t, uint32_t);
    uint32_t lanes;
    void (*pixel)(const int8_t *, uint32_t, const uint8_t *, const group *, size_t);
} u8_kind;

static int u8_conv2d(const u8_kind *k, const ebnn_layer *l, const uint8_t *in, void *out) {
    uint8_t patch[PATCH_BYTES];
    uint32_t cg = l->in_c / l->groups, og = l->out_c / l->groups;
    uint32_t n = (uint32_t)l->kh * l->kw * cg, rw = ebnn_words(n), oy, ox, g, o;
    int in_place = l->groups == 1 && (l->kh == 1 || l->kw == l->in_w) && ebnn_no_padding(l);
    size_t pix = 0;

    if (l->in_type != EBNN_T_U8) return 0;
    if (l->groups == 1 && (size_t)l->out_h * l->out_w > 1u && u8_lanes(l, in, out, k->lanes, k->pixel))
        return 1;
    if (!in_place && n > PATCH_BYTES) return 0;
    for (oy = 0; oy < l->out_h; oy++) {
        for (ox = 0; ox < l->out_w; ox++, pix++) {
            ebnn_out_pixel_begin(l, out, pix);
            for (g = 0; g < l->groups; g++) {
                const uint8_t *x = patch;
                int32_t s;
                if (in_place)
                    x = in + ((size_t)oy * l->sh * l->in_w + (size_t)ox * l->sw) * l->in_c;
                else
                    gather(l, in, oy, ox, g * cg, cg, patch);
                s = (int32_t)k->sum(x, NULL, rw, n);
                for (o = g * og; o < (g + 1u) * og; o++) {
                    int32_t p = (int32_t)k->sum(x, l->weights + (size_t)o * rw, rw, n);
                    ebnn_out_finish(l, out, pix, o, 2 * p - s);
                }
            }
        }
    }
    return 1;
}

/* The rows' entries (x86.c). */
static const u8_kind AVX512_U8 = {masked_sum, 16u, pm1_pixel16};
static const u8_kind AVX2_U8 = {masked_sum8, 8u, pm1_pixel8};

int ebnn_avx512_u8_conv2d(const ebnn_layer *l, const uint8_t *in, void *out) {
    return u8_conv2d(&AVX512_U8, l, in, out);
}

int ebnn_avx2_u8_conv2d(const ebnn_layer *l, const uint8_t *in, void *out) {
    return u8_conv2d(&AVX2_U8, l, in, out);
}

#else
/* ISO C forbids an empty translation unit. */
typedef int ebnn_x86_u8_unused;
#endif
