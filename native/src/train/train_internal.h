/* What the training rules share behind the trainer interface (trainer.c): their rows, the
 * `trnl` section's layout (docs/format.md, "Training section trnl") and helpers used by every
 * rule (local.c, drtp.c); not part of the public API. */
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

/* A rule's scratch for one batch, as it states it: first three tensors of one BIN row of
 * `width` bits per sample (a layer's inputs, its outputs = the next layer's inputs, a mask of
 * units), then n_regions regions of its own. trainer.c sizes and carves it, once for all rules. */
#define EBNN_TRAIN_MAX_REGIONS 4u
typedef struct {
    uint32_t width, n_regions;
    uint64_t bytes[EBNN_TRAIN_MAX_REGIONS];
} ebnn_train_layout;

/* That scratch carved: every region EBNN_ALIGN-aligned. */
typedef struct {
    uint32_t *in, *out, *mask;
    uint32_t stride;            /* words per row */
    void *region[EBNN_TRAIN_MAX_REGIONS];
} ebnn_train_scratch;

/* One rule: a row of the table in trainer.c, defined in the rule's file. ebnn_trainer_step()
 * makes the checks every rule shares (arguments, labels, scratch size and alignment), zeroes
 * *stats and carves the scratch before `step` runs, so a row's step only trains; set_param is
 * called only with i < param_count and value <= param_max(i). */
struct ebnn_trainer_rule {
    uint32_t id;                /* an ebnn_rule_id */
    const char *name;
    ebnn_status (*init)(ebnn_trainer *t, const ebnn_model *m, uint8_t *model_data,
                        ebnn_diag *diag);
    /* Fills *l for a batch of n >= 1; 0 when n is beyond the rule's limits. */
    int (*layout)(const ebnn_trainer *t, uint32_t n, ebnn_train_layout *l);
    void (*step)(const ebnn_trainer *t, const uint8_t *inputs, const uint8_t *labels, uint32_t n,
                 const ebnn_train_scratch *s, ebnn_train_stats *stats);
    uint32_t (*param_count)(const ebnn_trainer *t);
    uint32_t (*param_max)(const ebnn_trainer *t, uint32_t i);
    void (*set_param)(const ebnn_trainer *t, uint32_t i, uint32_t value);
    uint32_t (*step_index)(const ebnn_trainer *t);
};

/* What ebnn_trainer_step() does before the rule's step, for every entry point that steps a
 * rule (trainer.c; local.c's split step): the checks of arguments, labels, scratch size and
 * alignment (its status codes), *stats zeroed, the scratch carved into *s. */
ebnn_status ebnn_train_begin(const ebnn_trainer *t, const uint8_t *inputs, const uint8_t *labels,
                             uint32_t n, void *scratch, size_t scratch_size,
                             ebnn_train_scratch *s, ebnn_train_stats *stats);

extern const ebnn_trainer_rule ebnn_rule_local;
extern const ebnn_trainer_rule ebnn_rule_drtp;

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

/* The header fields every training section shares, after the rule's own (section.c): byte 5
 * reserved, u16 n_classes at 6 equal to the model's (at most EBNN_TRAIN_LOCAL_MAX_CLASSES), bytes
 * 16 .. header reserved. EBNN_ERR_TRAINING with the field named. */
ebnn_status ebnn_train_check_header(const uint8_t *h, uint32_t header, const ebnn_model *m,
                                    ebnn_diag *diag);

/* EBNN_ERR_TRAINING, field "size", when the section's size is below need (its header and
 * entries). */
ebnn_status ebnn_train_check_size(uint32_t size, uint32_t need, ebnn_diag *diag);
/* EBNN_ERR_TRAINING, field "size" (got size, expected end), unless the last blob, 16-byte
 * aligned, ends at end == the section's size rounded up to 16. */
ebnn_status ebnn_train_check_end(uint32_t size, uint32_t end, ebnn_diag *diag);

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

/* Sets bit i of a packed row to v (v != 0: +1). */
static inline void ebnn_put_bit(uint32_t *row, uint32_t i, int v) {
    if (v)
        row[i >> 5] |= 1u << (i & 31u);
    else
        row[i >> 5] &= ~(1u << (i & 31u));
}

/* The writable view of a trained layer's packed weights: their offset in the model, in the
 * caller's buffer `data` (the model's own bytes are read-only to the core). */
static inline uint32_t *ebnn_train_wbits(uint8_t *data, const ebnn_model *m, const ebnn_layer *l) {
    return (uint32_t *)(void *)(data + ((const uint8_t *)l->weights - m->data));
}

/* Little-endian signed 16-bit latent weight i of a blob, read and written. */
static inline int32_t ebnn_get_i16(const uint8_t *w, size_t i) {
    return (int32_t)(int16_t)ebnn_rd16(w + 2 * i);
}
static inline void ebnn_put_i16(uint8_t *w, size_t i, int32_t v) {
    w[2 * i] = (uint8_t)((uint32_t)v & 0xFFu);
    w[2 * i + 1] = (uint8_t)(((uint32_t)v >> 8) & 0xFFu);
}

static inline void ebnn_wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)((v >> 8) & 0xFFu);
    p[2] = (uint8_t)((v >> 16) & 0xFFu);
    p[3] = (uint8_t)(v >> 24);
}

#endif /* EDGEBNN_TRAIN_INTERNAL_H */
