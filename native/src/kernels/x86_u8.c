/* The 8-bit first layer (U8 input, ±1 weights) on AVX-512 and AVX2, the layer that would
 * otherwise run on the reference bit by bit. With P the sum of the window's pixels whose weight
 * bit is set and S the sum of all its pixels, y = P - (S - P) = 2P - S exactly. The weight bits
 * are used as they are stored: on AVX-512 as the byte mask of a masked load (VMOVDQU8 with a
 * zeroing mask), on AVX2 expanded to a byte mask and AND-ed; VPSADBW sums the selected bytes.
 * 64 (32) multiply-accumulates per mask, no repacking of the weights, no multiplications. Windows are read in place when they are one run of the
 * input (dense layers), else copied once per pixel (and group) into a patch, zeros in the
 * padding. */
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <string.h>

#include "x86_bytes.h"

#define AVX512 __attribute__((target("avx512f,avx512bw")))
#define AVX2 __attribute__((target("avx2")))
#define PATCH_BYTES 16384u

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

int ebnn_x86_u8_conv2d(const ebnn_kernel *k, const ebnn_layer *l, const uint8_t *in,
                       void *out) {
    uint8_t patch[PATCH_BYTES];
    uint32_t cg = l->in_c / l->groups, og = l->out_c / l->groups;
    uint32_t n = (uint32_t)l->kh * l->kw * cg, rw = ebnn_words(n), oy, ox, g, o;
    int in_place = l->groups == 1 && (l->kh == 1 || l->kw == l->in_w) && l->ph == 0 && l->pw == 0;
    size_t pix = 0;

    uint32_t (*sum)(const uint8_t *, const uint32_t *, uint32_t, uint32_t);

    if (k == &ebnn_kernel_avx512) sum = masked_sum;
    else if (k == &ebnn_kernel_avx2) sum = masked_sum8;
    else return 0;
    if (l->in_type != EBNN_T_U8) return 0;
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
                s = (int32_t)sum(x, NULL, rw, n);
                for (o = g * og; o < (g + 1u) * og; o++) {
                    int32_t p = (int32_t)sum(x, l->weights + (size_t)o * rw, rw, n);
                    ebnn_out_finish(l, out, pix, o, 2 * p - s);
                }
            }
        }
    }
    return 1;
}

#else
/* ISO C forbids an empty translation unit. */
typedef int ebnn_x86_u8_unused;
#endif
