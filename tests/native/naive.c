/* Naive ±1 reference; see naive.h. */
#include "naive.h"

#include <stdlib.h>
#include <string.h>

/* Input value at (iy, ix, c), with the format's padding: 0 for U8, -1 for BIN. */
static int32_t at(const tb_layer *l, const int32_t *in, long iy, long ix, long c) {
    if (iy < 0 || ix < 0 || iy >= l->in_h || ix >= l->in_w) return l->in_type == 0 ? 0 : -1;
    return in[(iy * l->in_w + ix) * l->in_c + c];
}

void naive_conv(const tb_layer *l, const int32_t *in, int32_t *out) {
    long cg = l->in_c / l->groups, per_group = l->out_c / l->groups;
    long oy, ox, o, ky, kx, c;
    for (oy = 0; oy < l->out_h; oy++)
        for (ox = 0; ox < l->out_w; ox++)
            for (o = 0; o < l->out_c; o++) {
                long g = o / per_group;
                int32_t y = 0;
                for (ky = 0; ky < l->kh; ky++)
                    for (kx = 0; kx < l->kw; kx++)
                        for (c = 0; c < cg; c++) {
                            int32_t x = at(l, in, oy * l->sh + ky - l->ph,
                                           ox * l->sw + kx - l->pw, g * cg + c);
                            y += x * l->w[((o * l->kh + ky) * l->kw + kx) * cg + c];
                        }
                if (l->out_type == 1)
                    y = (l->flip[o] ? y <= l->T[o] : y >= l->T[o]) ? 1 : -1;
                out[(oy * l->out_w + ox) * l->out_c + o] = y;
            }
}

void naive_maxpool(const tb_layer *l, const int32_t *in, int32_t *out) {
    long oy, ox, c, ky, kx;
    for (oy = 0; oy < l->out_h; oy++)
        for (ox = 0; ox < l->out_w; ox++)
            for (c = 0; c < l->out_c; c++) {
                int32_t mx = -1;
                for (ky = 0; ky < l->kh; ky++)
                    for (kx = 0; kx < l->kw; kx++) {
                        int32_t x = at(l, in, oy * l->sh + ky - l->ph, ox * l->sw + kx - l->pw, c);
                        if (x > mx) mx = x;
                    }
                out[(oy * l->out_w + ox) * l->out_c + c] = mx;
            }
}

void naive_infer(const tb_model *m, const uint8_t *input, int32_t *scores) {
    int32_t *t[TB_MAX_LAYERS + 1];
    size_t n = (size_t)m->in_h * m->in_w * m->in_c, i;
    t[0] = malloc(n * sizeof(int32_t));
    for (i = 0; i < n; i++) t[0][i] = input[i];
    for (i = 0; i < m->n_layers; i++) {
        const tb_layer *l = &m->layers[i];
        t[i + 1] = malloc(((size_t)l->out_h * l->out_w * l->out_c + 1) * sizeof(int32_t));
        if (l->op == 3)
            naive_maxpool(l, t[l->in0], t[i + 1]);
        else
            naive_conv(l, t[l->in0], t[i + 1]);
    }
    memcpy(scores, t[m->n_layers], (size_t)m->n_classes * sizeof(int32_t));
    for (i = 0; i <= m->n_layers; i++) free(t[i]);
}
