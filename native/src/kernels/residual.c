/* The two ops of the integer residual stream (format 1.2): THRESHOLD reads the I32 stream
 * through a block's folded batch norm + sign, ADD sums a block's I32 output into it. Plain
 * scalar C: this THRESHOLD is the reference (ARM has arm_ops.c, x86 x86_threshold.c; select.c
 * chooses), ADD is one pass over memory that the compiler vectorizes. */
#include "common.h"

void ebnn_ref_threshold(const ebnn_layer *l, const int32_t *in, uint32_t *out) {
    size_t pix, n = (size_t)l->out_h * l->out_w;
    uint32_t c;
    for (pix = 0; pix < n; pix++) {
        ebnn_out_pixel_begin(l, out, pix);
        for (c = 0; c < l->out_c; c++) ebnn_out_finish(l, out, pix, c, in[pix * l->out_c + c]);
    }
}

void ebnn_add(const ebnn_layer *l, const int32_t *a, const int32_t *b, int32_t *out) {
    size_t e, n = (size_t)l->in_h * l->in_w * l->in_c;
    /* unsigned addition wraps without undefined behaviour; the cast back is two's complement
     * on every target this core builds for */
    for (e = 0; e < n; e++) out[e] = (int32_t)((uint32_t)a[e] + (uint32_t)b[e]);
}
