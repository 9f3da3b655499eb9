/* The reference of the BIN output step every kernel row may fuse (kernels.h, ebnn_cut_bits_fn):
 * one output value at a time, (m - cut) >> 31 being m < cut for counts below 2^31 (a count is
 * at most a layer's term count). */
#include "kernels.h"

void ebnn_ref_cut_bits(const uint32_t *mism, const uint32_t *cut, uint32_t rows, uint32_t *bits) {
    uint32_t j, i;
    for (j = 0; j < rows; j += 32u) {
        uint32_t n = rows - j < 32u ? rows - j : 32u, b = 0;
        for (i = n; i-- > 0;) b = (b << 1) | ((mism[j + i] - cut[j + i]) >> 31);
        bits[j >> 5] = b;
    }
}
