/* THRESHOLD (I32 -> BIN, the residual stream's folded batch norm + sign) on x86: 16 (AVX-512)
 * or 8 (AVX2) channels per vector compare, their bits packed straight into the output word.
 * The per-channel test, flip ? y <= T : y >= T, becomes one signed compare y' >= T' with
 * y' = y ^ s and T' = T ^ s, s = -1 in the flipped channels: ~y = -1 - y reverses the order
 * without the overflow of -y (the stream is any int32). */
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))
#define AVX2 __attribute__((target("avx2")))
/* Channels whose folded thresholds are prepared at once (on the stack, 2 KiB). */
#define CHUNK 256u

/* Channels [c0, c0 + n) of the layer: t[c] = T ^ s and s[c] (0 or -1), zero past n so that
 * lanes past out_c compare 0 >= 0 and are masked off by the caller. */
static void fold(const ebnn_layer *l, uint32_t c0, uint32_t n, int32_t *t, int32_t *s) {
    uint32_t c;
    for (c = 0; c < CHUNK; c++) {
        uint32_t ch = c0 + c;
        int32_t flip = c < n ? -(int32_t)((l->flip[ch >> 5] >> (ch & 31u)) & 1u) : 0;
        s[c] = flip;
        t[c] = c < n ? l->thresholds[ch] ^ flip : 0;
    }
}

/* 16 channels of one pixel: bit c set iff y'[c] >= t'[c]; lanes at or past n are not read. */
static AVX512 inline uint32_t bits16(const int32_t *y, const int32_t *t, const int32_t *s,
                                     uint32_t n) {
    __mmask16 m = (__mmask16)(n >= 16u ? 0xFFFFu : (1u << n) - 1u);
    __m512i v = _mm512_xor_si512(_mm512_maskz_loadu_epi32(m, y), _mm512_loadu_si512(s));
    return _mm512_mask_cmpge_epi32_mask(m, v, _mm512_loadu_si512(t));
}

static AVX512 void threshold16(const ebnn_layer *l, const int32_t *in, uint32_t *out,
                               uint32_t c0, uint32_t n, const int32_t *t, const int32_t *s) {
    size_t pix, pixels = (size_t)l->out_h * l->out_w;
    uint32_t nw = ebnn_words(l->out_c), j;
    for (pix = 0; pix < pixels; pix++) {
        const int32_t *y = in + pix * l->out_c + c0;
        uint32_t *o = out + pix * nw + (c0 >> 5);
        for (j = 0; j < n; j += 32u) {
            uint32_t lo = bits16(y + j, t + j, s + j, n - j);
            uint32_t hi = n - j > 16u ? bits16(y + j + 16u, t + j + 16u, s + j + 16u, n - j - 16u) : 0u;
            o[j >> 5] = lo | hi << 16;
        }
    }
}

/* 8 channels of one pixel, all lanes readable: bit c set iff not (t'[c] > y'[c]). */
static AVX2 inline uint32_t bits8(const int32_t *y, const int32_t *t, const int32_t *s) {
    __m256i v = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)y),
                                 _mm256_loadu_si256((const __m256i *)(const void *)s));
    __m256i lt = _mm256_cmpgt_epi32(_mm256_loadu_si256((const __m256i *)(const void *)t), v);
    return ~(uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(lt)) & 0xFFu;
}

static AVX2 void threshold8(const ebnn_layer *l, const int32_t *in, uint32_t *out, uint32_t c0,
                            uint32_t n, const int32_t *t, const int32_t *s) {
    size_t pix, pixels = (size_t)l->out_h * l->out_w;
    uint32_t nw = ebnn_words(l->out_c), j, q;
    int32_t tail[8];
    for (pix = 0; pix < pixels; pix++) {
        const int32_t *y = in + pix * l->out_c + c0;
        uint32_t *o = out + pix * nw + (c0 >> 5);
        for (j = 0; j < n; j += 32u) {
            uint32_t word = 0;
            for (q = j; q < j + 32u && q < n; q += 8u) {
                const int32_t *v = y + q;
                if (n - q < 8u) { /* the ragged end, copied so no lane reads past the pixel */
                    uint32_t e;
                    for (e = 0; e < 8u; e++) tail[e] = e < n - q ? v[e] : 0;
                    v = tail;
                }
                word |= (bits8(v, t + q, s + q) & (n - q >= 8u ? 0xFFu : (1u << (n - q)) - 1u))
                        << (q - j);
            }
            o[j >> 5] = word;
        }
    }
}

typedef void (*run_fn)(const ebnn_layer *l, const int32_t *in, uint32_t *out, uint32_t c0,
                       uint32_t n, const int32_t *t, const int32_t *s);

/* run: threshold16 (AVX-512) or threshold8 (AVX2). */
static void threshold(run_fn run, const ebnn_layer *l, const int32_t *in, uint32_t *out) {
    int32_t t[CHUNK], s[CHUNK];
    uint32_t c0;
    /* CHUNK is a multiple of 32: every pass writes whole output words. */
    for (c0 = 0; c0 < l->out_c; c0 += CHUNK) {
        uint32_t n = l->out_c - c0 < CHUNK ? l->out_c - c0 : CHUNK;
        fold(l, c0, n, t, s);
        run(l, in, out, c0, n, t, s);
    }
}

/* The rows' entries (x86.c). */
void ebnn_avx512_threshold(const ebnn_layer *l, const int32_t *in, uint32_t *out) {
    threshold(threshold16, l, in, out);
}

void ebnn_avx2_threshold(const ebnn_layer *l, const int32_t *in, uint32_t *out) {
    threshold(threshold8, l, in, out);
}

#else
/* ISO C forbids an empty translation unit. */
typedef int ebnn_x86_threshold_unused;
#endif
