/* AVX2 helpers shared by the paths that count bits: a bit-to-byte expansion for those that count
 * per byte lane (x86_u8.c, x86_depthwise.c: AVX2 has no mask registers, so 32 bits become 32
 * bytes), and the carry-save adder of the Harley-Seal counts (x86_lanes.c, and the peak loop
 * of tools/bench_kernels.c). */
#ifndef EDGEBNN_KERNELS_X86_BYTES_H
#define EDGEBNN_KERNELS_X86_BYTES_H

#include <immintrin.h>
#include <stdint.h>

/* Byte i of the result is 0xFF when bit i of m is set, else 0. */
__attribute__((target("avx2"))) static inline __m256i ebnn_avx2_bytes_of_bits(uint32_t m) {
    const __m256i pick = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2,
                                          2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)m), pick);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* Carry-save adder over 256 bits: (h, l) = a + b + c bitwise (h the carries, l the sums). */
#define EBNN_AVX2_CSA(h, l, a, b, c)                                                           \
    do {                                                                                       \
        __m256i u_ = _mm256_xor_si256(a, b);                                                   \
        h = _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(u_, c));                  \
        l = _mm256_xor_si256(u_, c);                                                           \
    } while (0)

#endif /* EDGEBNN_KERNELS_X86_BYTES_H */
