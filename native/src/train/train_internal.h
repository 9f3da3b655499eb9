/* The `trnl` training section's layout (docs/format.md, "Training section trnl") and helpers
 * shared by the training sources (local.c, drtp.c); not part of the public API. */
#ifndef EDGEBNN_TRAIN_INTERNAL_H
#define EDGEBNN_TRAIN_INTERNAL_H

#include "../internal.h"

#define EBNN_TRNL_VERSION 1u
#define EBNN_TRNL_HEADER 32u   /* section header bytes */
#define EBNN_TRNL_ENTRY 32u    /* bytes per sub-network entry, after the header */

/* One decoded sub-network entry. */
typedef struct {
    uint16_t layer, gamma, n_in, k;
    uint32_t p_q, w_off, r_off;
} ebnn_trnl_layer;

void ebnn_trnl_entry(const ebnn_train_local *t, uint32_t l, ebnn_trnl_layer *e);

/* Locates ancillary section `tag` of a loaded (hence validated) model file; NULL and size 0
 * when absent (section.c). */
uint8_t *ebnn_train_find_section(uint8_t *data, const char *tag, uint32_t *size);

/* The start every training rule's init shares (section.c): clears *diag, checks that `state`
 * and `m` are given and that `model_data` is the buffer `m` was loaded from (training writes
 * it), finds section `tag`, and checks that it holds at least `header` bytes and that its
 * first u16 is `version`. EBNN_ERR_ARG or EBNN_ERR_TRAINING with the field named. */
ebnn_status ebnn_train_open_section(const void *state, const ebnn_model *m, uint8_t *model_data,
                                    const char *tag, uint32_t header, uint32_t version,
                                    uint8_t **section, uint32_t *size, ebnn_diag *diag);

/* MurmurHash3's 32-bit finalizer: the counter-based generator of the training rules' draws. */
static inline uint32_t ebnn_fmix32(uint32_t h) {
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

static inline uint32_t ebnn_bit_at(const uint32_t *row, uint32_t i) {
    return (row[i >> 5] >> (i & 31u)) & 1u;
}

static inline void ebnn_wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

#endif /* EDGEBNN_TRAIN_INTERNAL_H */
