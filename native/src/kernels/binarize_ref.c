/* BINARIZE (format 1.1): U8 -> BIN with one u8 threshold per input element. Element e of the
 * H*W*C input (HWC order) becomes +1 (bit 1) iff x[e] >= t[e]. The output has the input's shape
 * or is flattened to 1 x 1 x H*W*C; either way element e is output pixel e / out_c, channel
 * e % out_c, and the tail bits of every output pixel are zero. */
#include "common.h"

void ebnn_ref_binarize(const ebnn_layer *l, const uint8_t *in, uint32_t *out) {
    const uint8_t *t = (const uint8_t *)(const void *)l->thresholds;
    uint32_t nw = ebnn_words(l->out_c), c = 0;
    size_t e, k, n = (size_t)l->in_h * l->in_w * l->in_c;
    for (k = 0; k < (size_t)l->out_h * l->out_w * nw; k++) out[k] = 0;
    for (e = 0; e < n; e++) {
        out[c >> 5] |= (uint32_t)(in[e] >= t[e]) << (c & 31u);
        if (++c == l->out_c) {
            c = 0;
            out += nw;
        }
    }
}
