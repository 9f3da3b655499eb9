/* The masked byte sums of the 8-bit first layer without SIMD (Cortex-M, and ARM's other
 * kernels), run by arm_u8.h: y = 2P - S exactly (P: the sum of the window bytes whose weight
 * bit is set, S: of all), the reference's sum of pixel x ±1. Four input bytes at a time: the 4 weight bits that go with
 * them select a byte mask from a 16-entry table, and the masked word's bytes are summed —
 * by USADA8 where the DSP extension has it (Cortex-M4/M7/M33/M55), else into two 16-bit
 * lanes. About 5 instructions per 4 multiply-accumulates instead of several per one. */
#include "arm_u8.h"

#if defined(__arm__) || defined(__aarch64__) /* x86 has its own (x86_u8.c) */
#include <string.h>

#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

/* Byte j is 0xFF when bit j of the index is set. */
static const uint32_t nibble_mask[16] = {
    0x00000000u, 0x000000FFu, 0x0000FF00u, 0x0000FFFFu, 0x00FF0000u, 0x00FF00FFu,
    0x00FFFF00u, 0x00FFFFFFu, 0xFF000000u, 0xFF0000FFu, 0xFF00FF00u, 0xFF00FFFFu,
    0xFFFF0000u, 0xFFFF00FFu, 0xFFFFFF00u, 0xFFFFFFFFu};

/* Running byte sums. DSP: USADA8 into one 32-bit counter. Else two 16-bit lanes, which hold
 * 128 words of bytes (2 x 255 per word per lane), flushed every FLUSH_WORDS. */
#define FLUSH_WORDS 128u
typedef struct {
    uint32_t total, lanes;
} byte_acc;

static inline void acc_add(byte_acc *a, uint32_t v) {
#if defined(__ARM_FEATURE_DSP)
    a->total = __usada8(v, 0u, a->total);
#else
    a->lanes += (v & 0x00FF00FFu) + ((v >> 8) & 0x00FF00FFu);
#endif
}

static inline void acc_flush(byte_acc *a) {
    a->total += (a->lanes & 0xFFFFu) + (a->lanes >> 16);
    a->lanes = 0;
}

/* The word of 4 input bytes (any alignment; little-endian, as the core assumes throughout:
 * byte j goes with weight bit j of the nibble). */
static inline uint32_t word_at(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* P (w: a weight row) or, with w NULL, S over the n bytes of x; inlined into each, so the test
 * of w goes away. */
static inline uint32_t byte_sum(const uint8_t *x, const uint32_t *w, uint32_t n) {
    byte_acc a = {0, 0};
    uint32_t words = n / 4u, k, i;
    for (k = 0; k < words; k++) {
        uint32_t v = word_at(x + 4u * k);
        if (w != NULL) v &= nibble_mask[(w[k >> 3] >> (4u * (k & 7u))) & 15u];
        acc_add(&a, v);
        if (k % FLUSH_WORDS == FLUSH_WORDS - 1u) acc_flush(&a);
    }
    acc_flush(&a);
    for (i = 4u * words; i < n; i++)
        if (w == NULL || ((w[i >> 5] >> (i & 31u)) & 1u)) a.total += x[i];
    return a.total;
}

/* Out of line: inlined into the driver, GCC's register allocation of this loop varied by up to
 * 6 % of a model's count on the Cortex-M. */
#define SWAR_U8_SUM __attribute__((noinline)) static uint32_t
SWAR_U8_SUM masked_sum(const uint8_t *x, const uint32_t *w, uint32_t n) {
    return byte_sum(x, w, n);
}

SWAR_U8_SUM byte_total(const uint8_t *x, uint32_t n) { return byte_sum(x, NULL, n); }

int ebnn_swar_u8_conv2d(const ebnn_layer *l, const uint8_t *in, void *out) {
    return arm_u8_conv2d(l, in, out, masked_sum, byte_total);
}

#else
typedef int ebnn_swar_u8_unused; /* ISO C forbids an empty translation unit. */
#endif
