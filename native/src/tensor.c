/* Tensor byte sizes (docs/format.md, "Tensors"). */
#include "edgebnn.h"

/* Saturates at SIZE_MAX, so a caller can compare the result against a limit on any target.
 * Overflow is detected with shifts, not a 64-bit division (a libgcc call on Cortex-M). */
size_t ebnn_tensor_bytes(uint8_t dtype, uint32_t h, uint32_t w, uint32_t c) {
    uint64_t pixels = (uint64_t)h * w, per_pixel, bytes;
    switch (dtype) {
    case EBNN_T_U8: per_pixel = c; break;
    case EBNN_T_BIN: per_pixel = (((uint64_t)c + 31u) >> 5) * 4u; break;
    case EBNN_T_I32: per_pixel = (uint64_t)c * 4u; break;
    default: return 0;
    }
    if (pixels == 0 || per_pixel == 0) return 0;
    if ((pixels >> 32) != 0 || (per_pixel >> 32) != 0) return SIZE_MAX;
    bytes = pixels * per_pixel; /* both factors < 2^32: exact */
    return bytes > (uint64_t)SIZE_MAX ? SIZE_MAX : (size_t)bytes;
}
