/* GAP (format 1.2): global average pooling of a BIN tensor without the division — for each
 * channel, the number of +1 bits over the in_h*in_w positions (the loader keeps it <= 255, so
 * it fits the U8 output that a DENSE then reads like pixels). */
#include "common.h"

void ebnn_gap(const ebnn_layer *l, const uint32_t *in, uint8_t *out) {
    uint32_t nw = ebnn_words(l->in_c), c;
    size_t pix, n = (size_t)l->in_h * l->in_w;
    for (c = 0; c < l->in_c; c++) {
        uint32_t count = 0;
        for (pix = 0; pix < n; pix++) count += (in[pix * nw + (c >> 5)] >> (c & 31u)) & 1u;
        out[c] = (uint8_t)count;
    }
}
