/* Host kernel benchmark (make -C native bench; run by edgebnn/bench.py). Times every kernel
 * this CPU can run, and the reference, on named binary layers, and measures this machine's
 * XNOR-popcount peak in the same run: a scalar POPCNT loop, an AVX2 Harley-Seal carry-save
 * loop and, where the CPU has it, an AVX-512 VPOPCNTQ loop, each XOR-ing two L1-resident
 * buffers. The peak loops live here, not in the library. With --threads N (N > 1) each layer
 * also runs split across 1 and N threads as ebnn_infer_with splits it (ebnn_layer_threads),
 * its weights repacked once beforehand as ebnn_pack does ("kind": "threads").
 * Prints one JSON object per line. Usage: bench_kernels [--quick] [--threads N] [LAYER_NAME] */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

static void *alloc_words(size_t n) {
    void *v = NULL;
    uint32_t *p;
    size_t i;
    if (posix_memalign(&v, 64, ((n * 4 + 63) / 64) * 64) != 0) exit(2);
    p = v;
    for (i = 0; i < n; i++) p[i] = rnd();
    return p;
}

static double min_time = 0.3;
static uint32_t threads = 1; /* --threads */

/* Best seconds per call of f over repeated calls (at least min_time in all). */
#define TIME_BEST(best, call)                                            \
    do {                                                                 \
        double t_end = now() + min_time, t0;                             \
        best = 1e30;                                                     \
        do {                                                             \
            t0 = now();                                                  \
            call;                                                        \
            t0 = now() - t0;                                             \
            if (t0 < best) best = t0;                                    \
        } while (now() < t_end);                                         \
    } while (0)

typedef struct {
    const char *name;
    uint16_t h, w, c, out_c, k, pad;
    double equiv; /* how the layer is described: e.g. a batch-64 dense as 64 pixels */
} shape;

/* The layer on the dispatched kernel, weights repacked beforehand, split across 1 and
 * `threads` threads. */
static void bench_threads(const char *name, const ebnn_layer *l, const uint32_t *in,
                          uint32_t *out, double macs) {
    const ebnn_kernel *k = ebnn_kernel_at(0);
    size_t stack_size = ebnn_threads_buffer_size(threads), words = 0;
    void *stacks = NULL, *packed = NULL;
    uint32_t counts[2], i;
    counts[0] = 1, counts[1] = threads;
    if (k != NULL && k->pack_size != NULL) words = k->pack_size(l);
    if (posix_memalign(&stacks, EBNN_ALIGN, stack_size) != 0) exit(2);
    if (words) {
        if (posix_memalign(&packed, 64, words * 4u) != 0) exit(2);
        k->pack(l, (uint32_t *)packed);
    }
    for (i = 0; i < 2; i++) {
        double best;
        ebnn_status st = ebnn_layer_threads(l, (const uint32_t *)packed, in, out, counts[i],
                                            stacks, stack_size);
        if (st != EBNN_OK) fprintf(stderr, "bench: %s\n", ebnn_status_name(st)), exit(3);
        TIME_BEST(best, (void)ebnn_layer_threads(l, (const uint32_t *)packed, in, out, counts[i],
                                                 stacks, stack_size));
        printf("{\"kind\": \"threads\", \"name\": \"%s\", \"kernel\": \"%s\", \"threads\": %u, "
               "\"macs\": %.0f, \"seconds\": %.9g, \"mac_per_s\": %.6g}\n",
               name, k ? k->name : "ref", counts[i], macs, best, macs / best);
        fflush(stdout);
    }
    free(stacks), free(packed);
}

static void bench_layer(const shape *s) {
    ebnn_layer l;
    uint32_t iw = ebnn_words(s->c), i;
    size_t nw, nin, nout;
    uint32_t *w, *in, *t, *out;
    double macs;
    const ebnn_kernel *k;
    memset(&l, 0, sizeof l);
    l.op = s->k == s->h && s->k == s->w && s->pad == 0 ? EBNN_OP_DENSE : EBNN_OP_CONV2D;
    l.in_type = EBNN_T_BIN, l.out_type = EBNN_T_BIN, l.groups = 1;
    l.in_h = s->h, l.in_w = s->w, l.in_c = s->c, l.out_c = s->out_c;
    l.kh = l.kw = s->k, l.sh = l.sw = 1, l.ph = l.pw = s->pad;
    l.out_h = (uint16_t)(s->h + 2 * s->pad - s->k + 1), l.out_w = (uint16_t)(s->w + 2 * s->pad - s->k + 1);
    nw = (size_t)s->out_c * s->k * s->k * iw;
    nin = (size_t)s->h * s->w * iw;
    nout = (size_t)l.out_h * l.out_w * ebnn_words(s->out_c);
    w = alloc_words(nw), in = alloc_words(nin), t = alloc_words(s->out_c + ebnn_words(s->out_c));
    out = alloc_words(nout);
    if (s->c % 32u) /* bits past in_c are zero */
        for (i = 0; i < nin; i++)
            if (i % iw == iw - 1) in[i] &= (1u << (s->c % 32u)) - 1u;
    for (i = 0; i < s->out_c; i++) t[i] = 0;
    l.weights = w, l.thresholds = (const int32_t *)(const void *)t, l.flip = t + s->out_c;
    macs = (double)l.out_h * l.out_w * s->out_c * s->k * s->k * s->c;
    for (i = 0;; i++) {
        double best;
        k = ebnn_kernel_at(i);
        TIME_BEST(best, ebnn_conv2d_with(k, &l, in, out));
        printf("{\"kind\": \"layer\", \"name\": \"%s\", \"kernel\": \"%s\", \"macs\": %.0f, "
               "\"seconds\": %.9g, \"mac_per_s\": %.6g}\n",
               s->name, k ? k->name : "ref", macs, best, macs / best);
        fflush(stdout);
        if (k == NULL) break;
    }
    if (threads > 1u) bench_threads(s->name, &l, in, out, macs);
    free(w), free(in), free(t), free(out);
}

/* ---- XNOR-popcount peak: two L1-resident buffers (2 x 8 KiB), XOR + popcount ---- */
#define PEAK_WORDS 2048u /* u32 words per buffer */

#if defined(__x86_64__) && defined(__GNUC__)
#include "kernels/x86_bytes.h" /* immintrin.h, EBNN_AVX2_CSA */
__attribute__((target("popcnt"), noinline)) static uint64_t peak_popcnt(const uint64_t *a,
                                                                         const uint64_t *b,
                                                                         size_t n) {
    uint64_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
    size_t i;
    for (i = 0; i < n; i += 4) {
        c0 += (uint64_t)__builtin_popcountll(a[i] ^ b[i]);
        c1 += (uint64_t)__builtin_popcountll(a[i + 1] ^ b[i + 1]);
        c2 += (uint64_t)__builtin_popcountll(a[i + 2] ^ b[i + 2]);
        c3 += (uint64_t)__builtin_popcountll(a[i + 3] ^ b[i + 3]);
    }
    return c0 + c1 + c2 + c3;
}

#define AVX2 __attribute__((target("avx2")))
static AVX2 inline __m256i pc_bytes(__m256i v) {
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1,
                                         2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0F);
    __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    return _mm256_sad_epu8(
        _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi)),
        _mm256_setzero_si256());
}
#define LD(i) _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(a + 4 * (i))), \
                               _mm256_loadu_si256((const __m256i *)(const void *)(b + 4 * (i))))
/* Harley-Seal over 16 vectors at a time (n: u64 count, multiple of 64). */
__attribute__((target("avx2"), noinline)) static uint64_t peak_hs(const uint64_t *a,
                                                                  const uint64_t *b, size_t n) {
    __m256i total = _mm256_setzero_si256(), ones = total, twos = total, fours = total,
            eights = total, sixteens, twosA, twosB, foursA, foursB, eightsA, eightsB;
    size_t i;
    uint64_t r[4];
    for (i = 0; i < n / 4; i += 16) {
        EBNN_AVX2_CSA(twosA, ones, ones, LD(i), LD(i + 1));
        EBNN_AVX2_CSA(twosB, ones, ones, LD(i + 2), LD(i + 3));
        EBNN_AVX2_CSA(foursA, twos, twos, twosA, twosB);
        EBNN_AVX2_CSA(twosA, ones, ones, LD(i + 4), LD(i + 5));
        EBNN_AVX2_CSA(twosB, ones, ones, LD(i + 6), LD(i + 7));
        EBNN_AVX2_CSA(foursB, twos, twos, twosA, twosB);
        EBNN_AVX2_CSA(eightsA, fours, fours, foursA, foursB);
        EBNN_AVX2_CSA(twosA, ones, ones, LD(i + 8), LD(i + 9));
        EBNN_AVX2_CSA(twosB, ones, ones, LD(i + 10), LD(i + 11));
        EBNN_AVX2_CSA(foursA, twos, twos, twosA, twosB);
        EBNN_AVX2_CSA(twosA, ones, ones, LD(i + 12), LD(i + 13));
        EBNN_AVX2_CSA(twosB, ones, ones, LD(i + 14), LD(i + 15));
        EBNN_AVX2_CSA(foursB, twos, twos, twosA, twosB);
        EBNN_AVX2_CSA(eightsB, fours, fours, foursA, foursB);
        EBNN_AVX2_CSA(sixteens, eights, eights, eightsA, eightsB);
        total = _mm256_add_epi64(total, pc_bytes(sixteens));
    }
    total = _mm256_slli_epi64(total, 4);
    total = _mm256_add_epi64(total, _mm256_slli_epi64(pc_bytes(eights), 3));
    total = _mm256_add_epi64(total, _mm256_slli_epi64(pc_bytes(fours), 2));
    total = _mm256_add_epi64(total, _mm256_slli_epi64(pc_bytes(twos), 1));
    total = _mm256_add_epi64(total, pc_bytes(ones));
    _mm256_storeu_si256((__m256i *)(void *)r, total);
    return r[0] + r[1] + r[2] + r[3];
}

#define AVX512 __attribute__((target("avx512f,avx512vpopcntdq"), noinline))
/* VPOPCNTQ on 512-bit vectors: every vector of a 4-vector block of a against every vector of
 * the same block of b (16 XOR-popcounts per 8 loads), so that the loop measures the XOR +
 * popcount + add rate, not the load ports; a plain a[i]^b[i] stream is load-bound on CPUs that
 * split 512-bit loads, and a blocked kernel would then beat its "peak". n: u64 count, multiple
 * of 32. Returns the sum over blocks of popcount(a_i ^ b_j) for all 16 pairs (i, j). */
AVX512 static uint64_t peak_vpopcnt(const uint64_t *a, const uint64_t *b, size_t n) {
    __m512i c[4], x[4], y[4];
    size_t i, j, k;
    for (j = 0; j < 4; j++) c[j] = _mm512_setzero_si512();
    for (i = 0; i < n; i += 32) {
        for (j = 0; j < 4; j++) {
            x[j] = _mm512_loadu_si512((const void *)(a + i + 8 * j));
            y[j] = _mm512_loadu_si512((const void *)(b + i + 8 * j));
        }
        for (j = 0; j < 4; j++)
            for (k = 0; k < 4; k++)
                c[k] = _mm512_add_epi64(c[k], _mm512_popcnt_epi64(_mm512_xor_si512(x[j], y[k])));
    }
    return (uint64_t)_mm512_reduce_add_epi64(
        _mm512_add_epi64(_mm512_add_epi64(c[0], c[1]), _mm512_add_epi64(c[2], c[3])));
}

/* What peak_vpopcnt counts, the slow way. */
static uint64_t blocked_count(const uint64_t *a, const uint64_t *b, size_t n) {
    uint64_t total = 0;
    size_t i, j, k, e;
    for (i = 0; i < n; i += 32)
        for (j = 0; j < 4; j++)
            for (k = 0; k < 4; k++)
                for (e = 0; e < 8; e++)
                    total += (uint64_t)__builtin_popcountll(a[i + 8 * j + e] ^ b[i + 8 * k + e]);
    return total;
}

static void bench_peaks(void) {
    uint64_t *a = alloc_words(PEAK_WORDS), *b = alloc_words(PEAK_WORDS), want = 0, got;
    size_t n = PEAK_WORDS / 2, i, reps = 200;
    double best, bits = 32.0 * PEAK_WORDS * (double)reps;
    volatile uint64_t sink = 0;
    for (i = 0; i < n; i++) want += (uint64_t)__builtin_popcountll(a[i] ^ b[i]);
    __builtin_cpu_init();
    if (__builtin_cpu_supports("popcnt")) {
        TIME_BEST(best, for (i = 0; i < reps; i++) sink += peak_popcnt(a, b, n));
        printf("{\"kind\": \"peak\", \"name\": \"peak_popcnt_scalar\", \"mac_per_s\": %.6g}\n",
               bits / best);
    }
    if (__builtin_cpu_supports("avx2")) {
        got = peak_hs(a, b, n);
        if (got != want) fprintf(stderr, "bench: Harley-Seal count %llu != %llu\n",
                                 (unsigned long long)got, (unsigned long long)want), exit(3);
        TIME_BEST(best, for (i = 0; i < reps; i++) sink += peak_hs(a, b, n));
        printf("{\"kind\": \"peak\", \"name\": \"peak_avx2_harley_seal\", \"mac_per_s\": %.6g}\n",
               bits / best);
    }
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq")) {
        got = peak_vpopcnt(a, b, n);
        if (got != blocked_count(a, b, n))
            fprintf(stderr, "bench: VPOPCNTQ count %llu wrong\n", (unsigned long long)got), exit(3);
        TIME_BEST(best, for (i = 0; i < reps; i++) sink += peak_vpopcnt(a, b, n));
        printf("{\"kind\": \"peak\", \"name\": \"peak_avx512_vpopcntdq\", \"mac_per_s\": %.6g}\n",
               4.0 * bits / best); /* 4 XOR-popcounts per pair of loaded vectors */
    }
    (void)sink;
    free(a), free(b);
}
#else
#define AVX512 __attribute__((target("avx512f,avx512vpopcntdq"), noinline))
/* VPOPCNTQ on 512-bit vectors, four independent accumulators (n: u64 count, multiple of 32). */
AVX512 static uint64_t peak_vpopcnt(const uint64_t *a, const uint64_t *b, size_t n) {
    __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
    size_t i;
#define PC(i) _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512((const void *)(a + (i))), \
                                                   _mm512_loadu_si512((const void *)(b + (i)))))
    for (i = 0; i < n; i += 32) {
        c0 = _mm512_add_epi64(c0, PC(i));
        c1 = _mm512_add_epi64(c1, PC(i + 8));
        c2 = _mm512_add_epi64(c2, PC(i + 16));
        c3 = _mm512_add_epi64(c3, PC(i + 24));
    }
#undef PC
    return (uint64_t)_mm512_reduce_add_epi64(
        _mm512_add_epi64(_mm512_add_epi64(c0, c1), _mm512_add_epi64(c2, c3)));
}

static void bench_peaks(void) {}
#endif

int main(int argc, char **argv) {
    static const shape full[] = {
        {"dense_4096x4096_b1", 1, 1, 4096, 4096, 1, 0, 1},
        {"dense_4096x4096_b64", 8, 8, 4096, 4096, 1, 0, 64}, /* 64 samples as 64 pixels */
        {"conv3x3_128to128_28x28", 28, 28, 128, 128, 3, 1, 1},
        {"resnet18_conv3x3_64_56x56", 56, 56, 64, 64, 3, 1, 1},
        {"resnet18_conv3x3_256_14x14", 14, 14, 256, 256, 3, 1, 1},
    };
    size_t i, count = sizeof full / sizeof full[0];
    const char *only = NULL; /* one layer by name, for studying it */
    int arg = 1;
    if (arg < argc && strcmp(argv[arg], "--quick") == 0) min_time = 0.02, count = 3, arg++;
    if (arg + 1 < argc && strcmp(argv[arg], "--threads") == 0) {
        threads = (uint32_t)strtoul(argv[arg + 1], NULL, 10), arg += 2;
        if (threads < 1u || threads > EBNN_MAX_THREADS)
            fprintf(stderr, "bench: --threads is %u, expected 1 to %u\n", threads, EBNN_MAX_THREADS), exit(2);
    }
    if (arg < argc) only = argv[arg], count = sizeof full / sizeof full[0];
    printf("{\"kind\": \"info\", \"build\": \"%s\"}\n", ebnn_build_info());
    bench_peaks();
    for (i = 0; i < count; i++)
        if (only == NULL || strcmp(only, full[i].name) == 0) bench_layer(&full[i]);
    return 0;
}
