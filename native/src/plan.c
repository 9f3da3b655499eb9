/* Arena planning. Tensor t (the output of layer t-1) is live from step t-1, when it is
 * written, to the step of its last consumer — the latest layer that reads it as in0 or in1, which
 * may be many layers later (a residual skip); two tensors whose lifetimes meet get disjoint
 * 16-byte aligned ranges, found by first fit. The model input is read from the caller's buffer
 * and the last layer writes the caller's scores, so neither takes arena space. An ADD whose
 * operand dies with it writes its sum over that operand (element-wise, same size), so a residual
 * block costs the stream and the block's output, not a third I32 tensor. */
#include "internal.h"

/* The operand of ADD record r (written at step `step`) that no later layer reads, or 0. */
static uint32_t dying_operand(const ebnn_layer *l, const uint8_t *last, uint32_t step) {
    if (l->op != EBNN_OP_ADD) return 0;
    if (l->in0 != 0 && last[l->in0] == step) return l->in0;
    if (l->in1 != 0 && last[l->in1] == step) return l->in1;
    return 0;
}

ebnn_status ebnn_plan_arena(const ebnn_model *m, ebnn_plan *p) {
    uint8_t last[EBNN_MAX_LAYERS + 1];   /* last step at which tensor t is read or written */
    uint32_t bytes[EBNN_MAX_LAYERS + 1]; /* arena bytes of tensor t, a multiple of 16 */
    uint32_t n = m->n_layers, t, u;
    ebnn_record r;

    for (t = 0; t <= n; t++) {
        bytes[t] = 0;
        last[t] = (uint8_t)(t == 0 ? 0 : t - 1);
        p->offset[t] = 0;
    }
    for (t = 0; t < n; t++) {
        ebnn_record_decode(m->layer_table + (size_t)t * EBNN_LAYER_RECORD_SIZE, &r);
        last[r.l.in0] = (uint8_t)t; /* layers run in order, so the latest reader wins */
        if (r.l.in1 != EBNN_TENSOR_NONE) last[r.l.in1] = (uint8_t)t;
        if (t + 1 < n)              /* validated: at most EBNN_MAX_BYTES */
            bytes[t + 1] = ebnn_align16((uint32_t)ebnn_tensor_bytes(r.l.out_type, r.l.out_h,
                                                                    r.l.out_w, r.l.out_c));
    }

    p->size = 0;
    for (t = 1; t < n; t++) {
        uint32_t off = 0, shared;
        int moved = 1;
        ebnn_record_decode(m->layer_table + (size_t)(t - 1) * EBNN_LAYER_RECORD_SIZE, &r);
        shared = dying_operand(&r.l, last, t - 1);
        if (shared != 0) { /* in place: that range is free of every other live tensor */
            p->offset[t] = p->offset[shared];
            continue;
        }
        /* Raise off past every overlapping live tensor until it fits; each move is upward. */
        while (moved) {
            moved = 0;
            for (u = 1; u < t; u++) {
                int live = last[u] >= t - 1;
                if (live && off < p->offset[u] + bytes[u] && p->offset[u] < off + bytes[t]) {
                    off = p->offset[u] + bytes[u];
                    moved = 1;
                }
            }
        }
        if (off > EBNN_MAX_BYTES - bytes[t]) return EBNN_ERR_LIMIT;
        p->offset[t] = off;
        if (off + bytes[t] > p->size) p->size = off + bytes[t];
    }
    return EBNN_OK;
}
