/* x86-64 kernels, compiled with per-function target attributes so that one portable build
 * (no -march) carries them all; select.c picks one from the CPU's features at run time.
 *   popcnt: 64-bit POPCNT, 4 output channels per loaded input word.
 *   avx2:   nibble-lookup popcount (VPSHUFB) on 256-bit vectors, byte counters summed with
 *           VPSADBW every 31 vectors, 4 output channels per loaded input vector.
 *   avx512: VPOPCNTQ on 512-bit vectors, 4 output channels per loaded input vector, the
 *           ragged end of a row read with a masked load (no scalar tail).
 * These are the row-by-row primitive (xorpop); the channels-in-lanes convolution that most
 * conv layers take is x86_lanes.c. The three rows of the kernel table are at the end. */
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <string.h>

#define POPCNT __attribute__((target("popcnt")))
#define AVX2 __attribute__((target("avx2,popcnt")))

static inline uint64_t load64(const uint32_t *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v); /* words are only 4-byte aligned */
    return v;
}

/* Rows r < b (b <= 4) of w against x, from word i on, with scalar POPCNT; adds to mism. */
static POPCNT inline void tail_popcnt(const uint32_t *x, const uint32_t *w, uint32_t n,
                                      uint32_t i, uint32_t b, uint32_t *mism) {
    uint32_t j;
    for (j = 0; j < b; j++) {
        const uint32_t *r = w + (size_t)j * n;
        uint32_t k = i, m = 0;
        for (; k + 2u <= n; k += 2u) m += (uint32_t)__builtin_popcountll(load64(x + k) ^ load64(r + k));
        if (k < n) m += (uint32_t)__builtin_popcount(x[k] ^ r[k]);
        mism[j] += m;
    }
}

static POPCNT void xorpop_popcnt(const uint32_t *x, const uint32_t *w, uint32_t n,
                                 uint32_t rows, uint32_t *mism) {
    uint32_t r = 0, k;
    for (; r + 4u <= rows; r += 4u) {
        const uint32_t *w0 = w + (size_t)r * n, *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
        uint64_t m0 = 0, m1 = 0, m2 = 0, m3 = 0;
        for (k = 0; k + 2u <= n; k += 2u) {
            uint64_t v = load64(x + k);
            m0 += (uint64_t)__builtin_popcountll(v ^ load64(w0 + k));
            m1 += (uint64_t)__builtin_popcountll(v ^ load64(w1 + k));
            m2 += (uint64_t)__builtin_popcountll(v ^ load64(w2 + k));
            m3 += (uint64_t)__builtin_popcountll(v ^ load64(w3 + k));
        }
        mism[r] = (uint32_t)m0, mism[r + 1] = (uint32_t)m1;
        mism[r + 2] = (uint32_t)m2, mism[r + 3] = (uint32_t)m3;
        tail_popcnt(x, w0, n, k, 4u, mism + r);
    }
    for (; r < rows; r++) {
        mism[r] = 0;
        tail_popcnt(x, w + (size_t)r * n, n, 0u, 1u, mism + r);
    }
}

/* Bit counts of the bytes of v (0..8 each), by looking up both nibbles. */
static AVX2 inline __m256i count_bytes(__m256i v, __m256i lut, __m256i low) {
    __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

static AVX2 inline __m256i loadv(const uint32_t *p) {
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

static AVX2 void xorpop_avx2(const uint32_t *x, const uint32_t *w, uint32_t n, uint32_t rows,
                             uint32_t *mism) {
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1,
                                         1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0F), zero = _mm256_setzero_si256();
    uint32_t nv = n / 8u, r = 0;
    for (; r + 4u <= rows; r += 4u) {
        const uint32_t *w0 = w + (size_t)r * n, *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
        __m256i s0 = zero, s1 = zero, s2 = zero, s3 = zero, t01, t23;
        __m128i sum;
        uint32_t v = 0;
        while (v < nv) {
            /* Byte counters take 31 vectors (31 x 8 <= 255) before they are widened. */
            uint32_t end = nv - v > 31u ? v + 31u : nv;
            __m256i b0 = zero, b1 = zero, b2 = zero, b3 = zero;
            for (; v < end; v++) {
                __m256i xv = loadv(x + 8u * v);
                b0 = _mm256_add_epi8(b0, count_bytes(_mm256_xor_si256(xv, loadv(w0 + 8u * v)), lut, low));
                b1 = _mm256_add_epi8(b1, count_bytes(_mm256_xor_si256(xv, loadv(w1 + 8u * v)), lut, low));
                b2 = _mm256_add_epi8(b2, count_bytes(_mm256_xor_si256(xv, loadv(w2 + 8u * v)), lut, low));
                b3 = _mm256_add_epi8(b3, count_bytes(_mm256_xor_si256(xv, loadv(w3 + 8u * v)), lut, low));
            }
            s0 = _mm256_add_epi64(s0, _mm256_sad_epu8(b0, zero));
            s1 = _mm256_add_epi64(s1, _mm256_sad_epu8(b1, zero));
            s2 = _mm256_add_epi64(s2, _mm256_sad_epu8(b2, zero));
            s3 = _mm256_add_epi64(s3, _mm256_sad_epu8(b3, zero));
        }
        /* The four channels' 64-bit lane sums (each < 2^32) into one vector of 4 x u32:
         * channel pairs share a lane (low/high half), then lanes and halves are added. */
        t01 = _mm256_or_si256(s0, _mm256_slli_epi64(s1, 32));
        t23 = _mm256_or_si256(s2, _mm256_slli_epi64(s3, 32));
        t01 = _mm256_add_epi32(_mm256_unpacklo_epi64(t01, t23), _mm256_unpackhi_epi64(t01, t23));
        sum = _mm_add_epi32(_mm256_castsi256_si128(t01), _mm256_extracti128_si256(t01, 1));
        _mm_storeu_si128((__m128i *)(void *)(mism + r), sum);
        tail_popcnt(x, w0, n, 8u * nv, 4u, mism + r);
    }
    for (; r < rows; r++) {
        mism[r] = 0;
        tail_popcnt(x, w + (size_t)r * n, n, 0u, 1u, mism + r);
    }
}

#define AVX512 __attribute__((target("avx512f,avx512vpopcntdq")))

/* Words [16v, 16v + 16) of p, with only the first n - 16v of them read when fewer remain. */
static AVX512 inline __m512i load16(const uint32_t *p, uint32_t v, uint32_t n) {
    uint32_t left = n - 16u * v;
    __mmask16 m = (__mmask16)(left >= 16u ? 0xFFFFu : (1u << left) - 1u);
    return _mm512_maskz_loadu_epi32(m, p + 16u * v);
}

static AVX512 void xorpop_avx512(const uint32_t *x, const uint32_t *w, uint32_t n,
                                 uint32_t rows, uint32_t *mism) {
    uint32_t nv = (n + 15u) / 16u, r = 0, v;
    for (; r + 4u <= rows; r += 4u) {
        const uint32_t *w0 = w + (size_t)r * n, *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
        __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
        for (v = 0; v < nv; v++) {
            __m512i xv = load16(x, v, n);
            s0 = _mm512_add_epi64(s0, _mm512_popcnt_epi64(_mm512_xor_si512(xv, load16(w0, v, n))));
            s1 = _mm512_add_epi64(s1, _mm512_popcnt_epi64(_mm512_xor_si512(xv, load16(w1, v, n))));
            s2 = _mm512_add_epi64(s2, _mm512_popcnt_epi64(_mm512_xor_si512(xv, load16(w2, v, n))));
            s3 = _mm512_add_epi64(s3, _mm512_popcnt_epi64(_mm512_xor_si512(xv, load16(w3, v, n))));
        }
        mism[r] = (uint32_t)_mm512_reduce_add_epi64(s0);
        mism[r + 1] = (uint32_t)_mm512_reduce_add_epi64(s1);
        mism[r + 2] = (uint32_t)_mm512_reduce_add_epi64(s2);
        mism[r + 3] = (uint32_t)_mm512_reduce_add_epi64(s3);
    }
    for (; r < rows; r++) {
        const uint32_t *wr = w + (size_t)r * n;
        __m512i s = _mm512_setzero_si512();
        for (v = 0; v < nv; v++)
            s = _mm512_add_epi64(s, _mm512_popcnt_epi64(_mm512_xor_si512(load16(x, v, n), load16(wr, v, n))));
        mism[r] = (uint32_t)_mm512_reduce_add_epi64(s);
    }
}

static int has_popcnt(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("popcnt");
}

static int has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
}

/* BW for the 8-bit first layer (x86_u8.c); every CPU with VPOPCNTDQ has it.
 * __builtin_cpu_supports also checks that the OS saves the 512-bit state. */
static int has_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vpopcntdq");
}

/* The rows: each kernel's own paths (x86_lanes.c, x86_u8.c, x86_depthwise.c,
 * x86_threshold.c); MAXPOOL and BINARIZE are the reference's. */
const ebnn_kernel ebnn_kernel_avx512 = {
    .name = "avx512", .usable = has_avx512, .xorpop = xorpop_avx512,
    .conv_u8 = ebnn_avx512_u8_conv2d, .depthwise = ebnn_avx512_depthwise_conv2d,
    .conv_bin = ebnn_avx512_lanes_conv2d, .pack_size = ebnn_avx512_lanes_pack_size,
    .pack = ebnn_avx512_lanes_pack, .threshold = ebnn_avx512_threshold};
const ebnn_kernel ebnn_kernel_avx2 = {
    .name = "avx2", .usable = has_avx2, .xorpop = xorpop_avx2,
    .conv_u8 = ebnn_avx2_u8_conv2d, .depthwise = ebnn_avx2_depthwise_conv2d,
    .conv_bin = ebnn_avx2_lanes_conv2d, .pack_size = ebnn_avx2_lanes_pack_size,
    .pack = ebnn_avx2_lanes_pack, .threshold = ebnn_avx2_threshold};
const ebnn_kernel ebnn_kernel_popcnt = {.name = "popcnt", .usable = has_popcnt,
                                        .xorpop = xorpop_popcnt};

#else
/* ISO C forbids an empty translation unit. */
typedef int ebnn_x86_unused;
#endif
