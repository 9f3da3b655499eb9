/* The one place that chooses which kernel implementation runs. Only the scalar reference
 * exists so far; optimized kernels (x86, NEON, Cortex-M) are selected here when added. */
#include "../internal.h"

void ebnn_conv2d(const ebnn_layer *l, const void *in, void *out) {
    ebnn_ref_conv2d(l, in, out);
}

void ebnn_maxpool(const ebnn_layer *l, const uint32_t *in, uint32_t *out) {
    ebnn_ref_maxpool(l, in, out);
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

const char *ebnn_build_info(void) {
    return EBNN_CC "; " EBNN_ARCH "; " EBNN_OPT "; kernels: ref";
}
