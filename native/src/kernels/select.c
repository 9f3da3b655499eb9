/* The one place that chooses which kernel implementation runs: the best kernel this CPU can
 * run (checked at run time on x86-64, where one build carries several), falling back to the
 * scalar reference (ref.c) for the layers an optimized kernel does not handle. Nothing is
 * cached: no global mutable state. */
#include "kernels.h"

/* Best first. */
static const ebnn_kernel *const candidates[] = {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    &ebnn_kernel_avx512,
    &ebnn_kernel_avx2,
    &ebnn_kernel_popcnt,
#endif
#if defined(__ARM_NEON)
    &ebnn_kernel_neon,
#endif
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
    &ebnn_kernel_mve,
#endif
    &ebnn_kernel_swar,
};

const ebnn_kernel *ebnn_kernel_at(uint32_t i) {
    uint32_t c;
    for (c = 0; c < sizeof candidates / sizeof candidates[0]; c++)
        if (candidates[c]->usable() && i-- == 0) return candidates[c];
    return NULL;
}

int ebnn_conv2d_try(const ebnn_kernel *k, const ebnn_layer *l, const void *in, void *out) {
    if (k == NULL) return 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (l->in_type == EBNN_T_U8) return ebnn_x86_u8_conv2d(k, l, (const uint8_t *)in, out);
    if (ebnn_x86_depthwise_conv2d(k, l, (const uint32_t *)in, out)) return 1;
    if (ebnn_x86_lanes_conv2d(k, l, (const uint32_t *)in, out)) return 1;
#endif
#if defined(__arm__) || defined(__aarch64__)
    if (l->in_type == EBNN_T_U8) {
#if defined(__ARM_NEON)
        if (k == &ebnn_kernel_neon) return ebnn_neon_u8_conv2d(l, (const uint8_t *)in, out);
#endif
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
        if (k == &ebnn_kernel_mve) return ebnn_mve_u8_conv2d(l, (const uint8_t *)in, out);
#endif
        return ebnn_swar_u8_conv2d(l, (const uint8_t *)in, out);
    }
    if (ebnn_arm_depthwise_conv2d(l, (const uint32_t *)in, out)) return 1;
#if defined(__aarch64__)
    if (k == &ebnn_kernel_neon)
        return ebnn_bin_conv2d_pairs(l, (const uint32_t *)in, out, k->xorpop, ebnn_neon_xorpop2);
#endif
#endif
    return l->in_type == EBNN_T_BIN && ebnn_bin_conv2d(l, (const uint32_t *)in, out, k->xorpop);
}

void ebnn_conv2d_with(const ebnn_kernel *k, const ebnn_layer *l, const void *in, void *out) {
    if (!ebnn_conv2d_try(k, l, in, out)) ebnn_ref_conv2d(l, in, out);
}

void ebnn_conv2d(const ebnn_layer *l, const void *in, void *out) {
    ebnn_conv2d_with(ebnn_kernel_at(0), l, in, out);
}

void ebnn_maxpool(const ebnn_layer *l, const uint32_t *in, uint32_t *out) {
#if defined(__arm__) || defined(__aarch64__)
    ebnn_arm_maxpool(l, in, out);
#else
    ebnn_ref_maxpool(l, in, out);
#endif
}

void ebnn_binarize(const ebnn_layer *l, const uint8_t *in, uint32_t *out) {
#if defined(__arm__) || defined(__aarch64__)
    ebnn_arm_binarize(l, in, out);
#else
    ebnn_ref_binarize(l, in, out);
#endif
}

void ebnn_conv2d_packed(const ebnn_layer *l, const uint32_t *packed, const void *in, void *out) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (packed != NULL &&
        ebnn_x86_lanes_conv2d_packed(ebnn_kernel_at(0), l, packed, (const uint32_t *)in, out))
        return;
#endif
    (void)packed;
    ebnn_conv2d(l, in, out);
}

void ebnn_threshold_with(const ebnn_kernel *k, const ebnn_layer *l, const int32_t *in,
                         uint32_t *out) {
    (void)k;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (k != NULL && ebnn_x86_threshold(k, l, in, out)) return;
#elif defined(__arm__) || defined(__aarch64__)
    ebnn_arm_threshold(l, in, out);   /* one ARM path per build (NEON, Helium or plain C) */
    return;
#endif
    ebnn_ref_threshold(l, in, out);
}

void ebnn_threshold(const ebnn_layer *l, const int32_t *in, uint32_t *out) {
    ebnn_threshold_with(ebnn_kernel_at(0), l, in, out);
}

#if defined(__clang__)
#define EBNN_CC "clang " __clang_version__
#elif defined(__GNUC__)
#define EBNN_CC "gcc " __VERSION__
#else
#define EBNN_CC "unknown compiler"
#endif

#if defined(__x86_64__)
#define EBNN_ARCH "x86_64"
#elif defined(__aarch64__)
#define EBNN_ARCH "aarch64"
#elif defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
#define EBNN_ARCH "arm-m"
#elif defined(__arm__)
#define EBNN_ARCH "arm"
#else
#define EBNN_ARCH "unknown arch"
#endif

#if defined(__OPTIMIZE_SIZE__)
#define EBNN_OPT "-Os"
#elif defined(__OPTIMIZE__)
#define EBNN_OPT "optimized"
#else
#define EBNN_OPT "-O0"
#endif

#define EBNN_INFO EBNN_CC "; " EBNN_ARCH "; " EBNN_OPT "; kernels: "

/* The kernel in use first, then the others compiled in that this CPU can run. Static strings
 * chosen at run time: no buffer to fill. */
const char *ebnn_build_info(void) {
    const ebnn_kernel *k = ebnn_kernel_at(0);
    (void)k;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (k == &ebnn_kernel_avx512) return EBNN_INFO "avx512 (avx2, popcnt, swar, ref available)";
    if (k == &ebnn_kernel_avx2) return EBNN_INFO "avx2 (popcnt, swar, ref available)";
    if (k == &ebnn_kernel_popcnt) return EBNN_INFO "popcnt (swar, ref available)";
#endif
#if defined(__ARM_NEON)
    return EBNN_INFO "neon (swar, ref available)";
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
    return EBNN_INFO "mve (swar, ref available)";
#else
    return EBNN_INFO "swar (ref available)";
#endif
}
