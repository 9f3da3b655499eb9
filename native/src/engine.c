/* Inference: runs the layers in file order, tensors placed by the arena plan. */
#include "internal.h"

/* Where tensor t lives: the caller's input (t = 0) or its place in the arena. */
static const void *tensor_at(const ebnn_plan *p, const uint8_t *input, const uint8_t *arena,
                             uint16_t t) {
    return t == 0 ? (const void *)input : (const void *)(arena + p->offset[t]);
}

static void run_sample(const ebnn_model *m, const ebnn_plan *p, const uint8_t *input,
                       int32_t *scores, uint8_t *arena) {
    uint32_t i;
    for (i = 0; i < m->n_layers; i++) {
        ebnn_layer l;
        const void *in;
        void *out;
        (void)ebnn_model_layer(m, i, &l); /* i < n_layers: cannot fail */
        in = tensor_at(p, input, arena, l.in0);
        out = i + 1 == m->n_layers ? (void *)scores : (void *)(arena + p->offset[i + 1]);
        switch (l.op) {
        case EBNN_OP_MAXPOOL:
            ebnn_maxpool(&l, (const uint32_t *)in, (uint32_t *)out);
            break;
        case EBNN_OP_BINARIZE:
            ebnn_binarize(&l, (const uint8_t *)in, (uint32_t *)out);
            break;
        case EBNN_OP_THRESHOLD:
            ebnn_threshold(&l, (const int32_t *)in, (uint32_t *)out);
            break;
        case EBNN_OP_ADD: /* the loader checked in1 like in0 */
            ebnn_add(&l, (const int32_t *)in, (const int32_t *)tensor_at(p, input, arena, l.in1),
                     (int32_t *)out);
            break;
        case EBNN_OP_GAP:
            ebnn_gap(&l, (const uint32_t *)in, (uint8_t *)out);
            break;
        default: /* CONV2D, DENSE */
            ebnn_conv2d(&l, in, out);
        }
    }
}

ebnn_status ebnn_infer_batch(const ebnn_model *m, const uint8_t *inputs, uint32_t n,
                             int32_t *scores, void *arena, size_t arena_size) {
    ebnn_plan plan;
    size_t in_size;
    uint32_t s;
    ebnn_status st;

    if (m == NULL || inputs == NULL || scores == NULL) return EBNN_ERR_ARG;
    if (arena_size < m->arena_size) return EBNN_ERR_ARENA;
    if (arena == NULL && m->arena_size != 0) return EBNN_ERR_ARG;
    if ((uintptr_t)arena % EBNN_ALIGN != 0) return EBNN_ERR_ALIGN;
    st = ebnn_plan_arena(m, &plan);
    if (st != EBNN_OK) return st;
    in_size = ebnn_input_size(m);
    for (s = 0; s < n; s++) {
        run_sample(m, &plan, inputs, scores, (uint8_t *)arena);
        inputs += in_size;
        scores += m->n_classes;
    }
    return EBNN_OK;
}

ebnn_status ebnn_infer(const ebnn_model *m, const uint8_t *input, int32_t *scores, void *arena,
                       size_t arena_size) {
    return ebnn_infer_batch(m, input, 1, scores, arena, arena_size);
}

uint32_t ebnn_argmax(const int32_t *scores, uint32_t n) {
    uint32_t i, best = 0;
    for (i = 1; i < n; i++)
        if (scores[i] > scores[best]) best = i;
    return best;
}
