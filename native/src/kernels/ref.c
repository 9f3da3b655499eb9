/* Scalar reference kernels: one output value at a time, straight from docs/format.md. They
 * define the results every optimized kernel must reproduce bit for bit. */
#include "common.h"

/* Input row/column of kernel tap k at output position o, or -1 inside the padding. */
static int32_t tap(uint32_t o, uint32_t stride, uint32_t k, uint32_t pad, uint32_t size) {
    int32_t i = (int32_t)(o * stride + k) - (int32_t)pad;
    return i >= 0 && i < (int32_t)size ? i : -1;
}

/* U8 input: exact sum of pixel x ±1 over the window; padded pixels are 0 and add nothing. */
static int32_t preact_u8(const ebnn_layer *l, const uint8_t *in, uint32_t oy, uint32_t ox,
                         uint32_t o) {
    uint32_t cg = l->in_c / l->groups, g = o / (l->out_c / l->groups);
    const uint32_t *w = l->weights + (size_t)o * ebnn_words((uint32_t)l->kh * l->kw * cg);
    int32_t y = 0;
    uint32_t ky, kx, c;
    for (ky = 0; ky < l->kh; ky++) {
        int32_t iy = tap(oy, l->sh, ky, l->ph, l->in_h);
        for (kx = 0; kx < l->kw; kx++) {
            int32_t ix = tap(ox, l->sw, kx, l->pw, l->in_w);
            const uint8_t *px;
            if (iy < 0 || ix < 0) continue;
            px = in + ((size_t)iy * l->in_w + (size_t)ix) * l->in_c + g * cg;
            for (c = 0; c < cg; c++) {
                uint32_t bit = (ky * l->kw + kx) * cg + c;
                int32_t v = px[c];
                y += ((w[bit >> 5] >> (bit & 31u)) & 1u) ? v : -v;
            }
        }
    }
    return y;
}

/* BIN input: y = n - 2 * popcount(x XOR w) over n = kh*kw*cg terms. Padded taps are all -1
 * (zero words), so they mismatch exactly the weight bits that are set. */
static int32_t preact_bin(const ebnn_layer *l, const uint32_t *in, uint32_t oy, uint32_t ox,
                          uint32_t o) {
    uint32_t cg = l->in_c / l->groups, g = o / (l->out_c / l->groups);
    uint32_t cw = ebnn_words(cg), iw = ebnn_words(l->in_c);
    const uint32_t *w = l->weights + (size_t)o * l->kh * l->kw * cw;
    uint32_t mismatches = 0, ky, kx, k;
    for (ky = 0; ky < l->kh; ky++) {
        int32_t iy = tap(oy, l->sh, ky, l->ph, l->in_h);
        for (kx = 0; kx < l->kw; kx++, w += cw) {
            int32_t ix = tap(ox, l->sw, kx, l->pw, l->in_w);
            const uint32_t *px = NULL;
            if (iy >= 0 && ix >= 0) px = in + ((size_t)iy * l->in_w + (size_t)ix) * iw;
            for (k = 0; k < cw; k++) {
                uint32_t count = cg - 32u * k < 32u ? cg - 32u * k : 32u;
                uint32_t x = px ? ebnn_bits_at(px, g * cg + 32u * k, count) : 0u;
                mismatches += ebnn_popcount32(x ^ w[k]);
            }
        }
    }
    /* (n - m) - m: each step stays within [-n, n], so no int32 overflow for any valid n. */
    return (int32_t)((uint32_t)l->kh * l->kw * cg - mismatches) - (int32_t)mismatches;
}

void ebnn_ref_conv2d(const ebnn_layer *l, const void *in, void *out) {
    uint32_t oy, ox, o;
    for (oy = 0; oy < l->out_h; oy++) {
        for (ox = 0; ox < l->out_w; ox++) {
            size_t pix = (size_t)oy * l->out_w + ox;
            ebnn_out_pixel_begin(l, out, pix);
            for (o = 0; o < l->out_c; o++) {
                int32_t y = l->in_type == EBNN_T_U8
                                ? preact_u8(l, (const uint8_t *)in, oy, ox, o)
                                : preact_bin(l, (const uint32_t *)in, oy, ox, o);
                ebnn_out_finish(l, out, pix, o, y);
            }
        }
    }
}

/* The maximum of ±1 values is the OR of their bits; padded taps (-1) are skipped. */
void ebnn_ref_maxpool(const ebnn_layer *l, const uint32_t *in, uint32_t *out) {
    uint32_t nw = ebnn_words(l->in_c), oy, ox, ky, kx, k;
    for (oy = 0; oy < l->out_h; oy++) {
        for (ox = 0; ox < l->out_w; ox++) {
            uint32_t *o = out + ((size_t)oy * l->out_w + ox) * nw;
            for (k = 0; k < nw; k++) o[k] = 0;
            for (ky = 0; ky < l->kh; ky++) {
                int32_t iy = tap(oy, l->sh, ky, l->ph, l->in_h);
                for (kx = 0; kx < l->kw; kx++) {
                    int32_t ix = tap(ox, l->sw, kx, l->pw, l->in_w);
                    const uint32_t *px;
                    if (iy < 0 || ix < 0) continue;
                    px = in + ((size_t)iy * l->in_w + (size_t)ix) * nw;
                    for (k = 0; k < nw; k++) o[k] |= px[k];
                }
            }
        }
    }
}
