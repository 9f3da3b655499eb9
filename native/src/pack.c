/* Load-time weight repack (host option): the layers that the selected kernel runs its own way
 * (its row's conv_bin, e.g. x86_lanes.c) need their weights repacked (the row's pack_size and
 * pack), which otherwise is done on every call. ebnn_pack does it once into caller memory; the engine then reads it
 * (ebnn_infer_with). Layout, in 32-bit words: magic, the kernel's tag, the model's header CRC,
 * n_layers, then one word offset per layer (0: repacked on the fly), padded to 16 words; each
 * layer's block starts on a 64-byte boundary. The tag and CRC let the engine refuse a buffer
 * made for another model or on another CPU instead of computing garbage. */
#include "internal.h"
#include "kernels/kernels.h"

#define PACK_MAGIC 0x4B504245u /* "EBPK" */
#define HEAD_WORDS 4u

/* The first four characters of the kernel's name: which layout the blocks are in. */
static uint32_t kernel_tag(const ebnn_kernel *k) {
    uint32_t tag = 0, i;
    for (i = 0; k != NULL && i < 4u && k->name[i] != '\0'; i++)
        tag |= (uint32_t)(uint8_t)k->name[i] << (8u * i);
    return tag;
}

static uint32_t round16(size_t words) { return (uint32_t)((words + 15u) & ~(size_t)15u); }

/* Words of layer l's block for kernel k (0: not repacked). */
static size_t layer_words(const ebnn_kernel *k, const ebnn_layer *l) {
    if (l->op != EBNN_OP_CONV2D && l->op != EBNN_OP_DENSE) return 0;
    return k != NULL && k->pack_size != NULL ? round16(k->pack_size(l)) : 0;
}

size_t ebnn_pack_size(const ebnn_model *m) {
    const ebnn_kernel *k = ebnn_kernel_at(0);
    size_t words;
    uint32_t i;
    if (m == NULL) return 0;
    words = round16(HEAD_WORDS + m->n_layers);
    for (i = 0; i < m->n_layers; i++) {
        ebnn_layer l;
        (void)ebnn_model_layer(m, i, &l);
        words += layer_words(k, &l);
    }
    return words * 4u;
}

ebnn_status ebnn_pack(const ebnn_model *m, void *packed, size_t size) {
    const ebnn_kernel *k = ebnn_kernel_at(0);
    uint32_t *p = (uint32_t *)packed, i;
    size_t at;
    if (m == NULL || packed == NULL) return EBNN_ERR_ARG;
    if ((uintptr_t)packed % EBNN_ALIGN != 0) return EBNN_ERR_ALIGN;
    if (size < ebnn_pack_size(m)) return EBNN_ERR_PACKED;
    p[0] = PACK_MAGIC, p[1] = kernel_tag(k), p[2] = ebnn_rd32(m->data + 60), p[3] = m->n_layers;
    at = round16(HEAD_WORDS + m->n_layers);
    for (i = 0; i < m->n_layers; i++) {
        ebnn_layer l;
        size_t words;
        (void)ebnn_model_layer(m, i, &l);
        words = layer_words(k, &l);
        p[HEAD_WORDS + i] = words ? (uint32_t)at : 0u;
        if (words) k->pack(&l, p + at);
        at += words;
    }
    return EBNN_OK;
}

ebnn_status ebnn_packed_check(const ebnn_model *m, const void *packed, size_t size) {
    const uint32_t *p = (const uint32_t *)packed;
    if (packed == NULL) return EBNN_OK;
    if ((uintptr_t)packed % EBNN_ALIGN != 0) return EBNN_ERR_ALIGN;
    if (size < ebnn_pack_size(m) || p[0] != PACK_MAGIC || p[1] != kernel_tag(ebnn_kernel_at(0)) ||
        p[2] != ebnn_rd32(m->data + 60) || p[3] != m->n_layers)
        return EBNN_ERR_PACKED;
    return EBNN_OK;
}

const uint32_t *ebnn_packed_layer(const void *packed, uint32_t i) {
    const uint32_t *p = (const uint32_t *)packed;
    return p == NULL || p[HEAD_WORDS + i] == 0 ? NULL : p + p[HEAD_WORDS + i];
}
