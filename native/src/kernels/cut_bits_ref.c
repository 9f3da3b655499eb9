/* The references of the BIN output step every kernel row may fuse (kernels.h, ebnn_cut_bits_fn
 * and ebnn_thresh_bits_fn), one output value at a time. */
#include "kernels.h"

/* (m - cut) >> 31 is m < cut for counts below 2^31 (a count is at most a layer's term count). */
void ebnn_ref_cut_bits(const uint32_t *mism, const uint32_t *cut, uint32_t rows, uint32_t *bits) {
    uint32_t j, i;
    for (j = 0; j < rows; j += 32u) {
        uint32_t n = rows - j < 32u ? rows - j : 32u, b = 0;
        for (i = n; i-- > 0;) b = (b << 1) | ((mism[j + i] - cut[j + i]) >> 31);
        bits[j >> 5] = b;
    }
}

/* Bits past in_c are zero in inputs and weights alike, so mism counts exactly the mismatching
 * terms and terms - 2m is the reference's pre-activation. */
void ebnn_ref_thresh_bits(const uint32_t *mism, const int32_t *thresholds, const uint32_t *flip,
                          uint32_t c0, uint32_t rows, uint32_t terms, uint32_t *bits) {
    uint32_t j, i;
    for (j = 0; j < rows; j += 32u) {
        uint32_t n = rows - j < 32u ? rows - j : 32u, fw = ebnn_bits_at(flip, c0 + j, n), b = 0;
        for (i = 0; i < n; i++)
            b |= ebnn_mism_bit(mism[j + i], thresholds[c0 + j + i], (fw >> i) & 1u, terms) << i;
        bits[j >> 5] = b;
    }
}
