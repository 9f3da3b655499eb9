/* The one place that chooses which kernel implementation runs: the first row of the table
 * this CPU can run (checked at run time on x86-64, where one build carries several), and per
 * operation the scalar reference (ref.c) where that row has none or leaves the layer to it.
 * Nothing is cached: no global mutable state. */
#include "kernels.h"

/* The table, best first: K(name) per kernel row, under the guard its file compiles in (the
 * checklist for a new kernel: kernels.h). The row ebnn_kernel_<name> and the build info's
 * name of it come from the one entry. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define X86_ROWS(K) K(avx512) K(avx2) K(popcnt)
#else
#define X86_ROWS(K)
#endif
#if defined(__ARM_NEON)
#define NEON_ROWS(K) K(neon)
#else
#define NEON_ROWS(K)
#endif
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define MVE_ROWS(K) K(mve)
#else
#define MVE_ROWS(K)
#endif
#if defined(__ARM_ARCH_6M__)
#define V6M_ROWS(K) K(armv6m)
#else
#define V6M_ROWS(K)
#endif
#define ROWS(K) X86_ROWS(K) NEON_ROWS(K) MVE_ROWS(K) V6M_ROWS(K) K(swar)
/* Builds with rows that have their own BIN convolution (conv_bin: x86 and Helium lanes, NEON
 * 3x3); in the others the test before its call would only cost flash. */
#if defined(__x86_64__) || defined(__ARM_NEON) || defined(__ARM_FEATURE_MVE)
#define CONV_BIN_ROWS 1
#else
#define CONV_BIN_ROWS 0
#endif

#define ROW_PTR(name) &ebnn_kernel_##name,
static const ebnn_kernel *const rows[] = {ROWS(ROW_PTR)};
#define N_ROWS (sizeof rows / sizeof rows[0])

const ebnn_kernel *ebnn_kernel_at(uint32_t i) {
    uint32_t c;
    for (c = 0; c < N_ROWS; c++)
        if ((rows[c]->usable == NULL || rows[c]->usable()) && i-- == 0) return rows[c];
    return NULL;
}

/* ebnn_conv2d_try for a row k, inlined into ebnn_conv2d_with. */
static inline int try_paths(const ebnn_kernel *k, const ebnn_layer *l, const void *in, void *out) {
    /* depthwise first, as only grouped layers can be (each path tests the rest of its shape) */
    if (l->groups > 1u && k->depthwise != NULL && k->depthwise(l, (const uint32_t *)in, out))
        return 1;
    if (l->in_type == EBNN_T_U8) return k->conv_u8 != NULL && k->conv_u8(l, (const uint8_t *)in, out);
    /* the BIN paths (each tests in_type); the rows' own ones run layers of >= 2 output pixels,
     * so one-pixel layers (the driver's one_pixel) skip the call where rows have them; the
     * Cortex-M4/M7/M33 row's runs only on its load-time repack (ebnn_conv2d_packed) */
#if !defined(EBNN_SLICED)
    if ((!CONV_BIN_ROWS || (uint32_t)l->out_h * l->out_w >= 2u) && k->conv_bin != NULL &&
        k->conv_bin(l, NULL, (const uint32_t *)in, out))
        return 1;
#endif
    return ebnn_bin_conv2d(l, (const uint32_t *)in, out, k);
}

int ebnn_conv2d_try(const ebnn_kernel *k, const ebnn_layer *l, const void *in, void *out) {
    return k != NULL && try_paths(k, l, in, out);
}

void ebnn_conv2d_with(const ebnn_kernel *k, const ebnn_layer *l, const void *in, void *out) {
    if (k == NULL || !try_paths(k, l, in, out)) ebnn_ref_conv2d(l, in, out);
}

void ebnn_conv2d(const ebnn_layer *l, const void *in, void *out) {
    ebnn_conv2d_with(ebnn_kernel_at(0), l, in, out);
}

void ebnn_conv2d_packed_with(const ebnn_kernel *k, const ebnn_layer *l, const uint32_t *packed,
                             const void *in, void *out) {
    if (packed != NULL && k != NULL && k->conv_bin != NULL &&
        k->conv_bin(l, packed, (const uint32_t *)in, out))
        return;
    ebnn_conv2d_with(k, l, in, out);
}

void ebnn_conv2d_packed(const ebnn_layer *l, const uint32_t *packed, const void *in, void *out) {
    ebnn_conv2d_packed_with(ebnn_kernel_at(0), l, packed, in, out);
}

void ebnn_maxpool(const ebnn_layer *l, const uint32_t *in, uint32_t *out) {
    const ebnn_kernel *k = ebnn_kernel_at(0);
    if (k != NULL && k->maxpool != NULL) k->maxpool(l, in, out);
    else ebnn_ref_maxpool(l, in, out);
}

void ebnn_binarize(const ebnn_layer *l, const uint8_t *in, uint32_t *out) {
    const ebnn_kernel *k = ebnn_kernel_at(0);
    if (k != NULL && k->binarize != NULL) k->binarize(l, in, out);
    else ebnn_ref_binarize(l, in, out);
}

void ebnn_threshold_with(const ebnn_kernel *k, const ebnn_layer *l, const int32_t *in,
                         uint32_t *out) {
    if (k != NULL && k->threshold != NULL) k->threshold(l, in, out);
    else ebnn_ref_threshold(l, in, out);
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

/* Per row, the build info with that row in use: "kernels: <row> (of <every row>, ref)". The
 * list of every row is ROWS again, inside an expansion of ROWS: ROWS_LATER () delays it until
 * the outer expansion is done, and EXPAND rescans the result. */
#define ROW_NAME(name) #name ", "
#define EMPTY()
#define ROWS_LATER() ROWS
#define EXPAND(x) x
#define EBNN_INFO(name) \
    EBNN_CC "; " EBNN_ARCH "; " EBNN_OPT "; kernels: " #name " (of " ROWS_LATER EMPTY()()(ROW_NAME) "ref)"
#define ROW_INFO(name) EBNN_INFO(name),
static const char *const infos[] = {EXPAND(ROWS(ROW_INFO))};

/* Static strings chosen at run time: no buffer to fill. */
const char *ebnn_build_info(void) {
    const ebnn_kernel *k = ebnn_kernel_at(0);
    uint32_t c;
    for (c = 0; c < N_ROWS; c++)
        if (rows[c] == k) return infos[c];
    return EXPAND(EBNN_INFO(ref));
}
