/* BINARIZE (format 1.1): the selected kernel against the definition bit = x >= t, on random
 * shapes, unflattened and flattened to 1 x 1 x H*W*C, whose channel counts cross word boundaries, with the extreme thresholds 0 (always +1)
 * and 255 (only 255 gives +1). */
#include <string.h>

#include "testutil.h"

void test_binarize(tb_rng *r) {
    int trial;
    for (trial = 0; trial < 200; trial++) {
        ebnn_layer l;
        uint16_t h = (uint16_t)tb_range(r, 1, 5), w = (uint16_t)tb_range(r, 1, 5);
        uint16_t c = (uint16_t)tb_range(r, 1, 70);
        int flat = (int)tb_range(r, 0, 1);
        size_t n = (size_t)h * w * c, e;
        uint16_t oc = flat ? (uint16_t)n : c, opix = flat ? 1 : (uint16_t)(h * w);
        size_t nw = ebnn_words(oc);
        uint8_t *x = tu_aligned(n), *t = tu_aligned(n);
        uint32_t *out = tu_aligned(4 * nw * opix);
        tu_fill_random(r, x, n);
        tu_fill_random(r, t, n);
        if (n > 1) { t[0] = 0; t[n - 1] = 255; }
        memset(&l, 0, sizeof l);
        l.op = EBNN_OP_BINARIZE;
        l.in_type = EBNN_T_U8;
        l.out_type = EBNN_T_BIN;
        l.groups = l.kh = l.kw = l.sh = l.sw = 1;
        l.in_h = h;
        l.in_w = w;
        l.in_c = c;
        l.out_h = flat ? 1 : h;
        l.out_w = flat ? 1 : w;
        l.out_c = oc;
        l.thresholds = (const int32_t *)(const void *)t;
        memset(out, 0xA5, 4 * nw * opix); /* the kernel must clear the tail bits */
        ebnn_binarize(&l, x, out);
        for (e = 0; e < (size_t)opix * nw * 32; e++) {
            size_t pix = e / (nw * 32), ch = e % (nw * 32);
            uint32_t bit = (out[pix * nw + ch / 32] >> (ch % 32)) & 1u;
            uint32_t want = ch < oc ? x[pix * oc + ch] >= t[pix * oc + ch] : 0u;
            CHECK(bit == want, "trial %d: %ux%ux%u flat %d, pixel %zu channel %zu: bit %u, "
                  "want %u", trial, h, w, c, flat, pix, ch, bit, want);
        }
        free(x);
        free(t);
        free(out);
    }
}
