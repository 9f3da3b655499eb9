/* The `trnl` training section's layout (docs/format.md, "Training section trnl"), shared by the
 * training sources; not part of the public API. */
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

static inline void ebnn_wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

#endif /* EDGEBNN_TRAIN_INTERNAL_H */
