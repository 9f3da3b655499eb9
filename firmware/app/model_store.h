/* The committed model in flash (docs/boot.md "Model slots"): it survives resets, power loss
 * and a killed QEMU. Two slots, each a record page (written last) and the model bytes; a save
 * goes to the slot not holding the newest record, so a save cut off at any point leaves the
 * previous model as the newest valid one. No RAM of its own: it writes from, and restores
 * into, the caller's buffers. */
#ifndef EBNN_MODEL_STORE_H
#define EBNN_MODEL_STORE_H

#include <stdint.h>

/* A stored model's name (the file name the host gave LOAD_COMMIT), NUL-padded. */
#define MODEL_NAME_SIZE 32u

/* What the store holds: its newest model (size 0: none). */
typedef struct {
    uint32_t size, crc;
    char name[MODEL_NAME_SIZE];   /* "" for a model stored without one (or by 1.1 firmware) */
} model_store_entry;

/* Status of a failed save (docs/protocol.md): detail i32, the board_store error or
 * MODEL_STORE_ERR_*. */
#define MODEL_STORE_ERR_TOO_LARGE (-16)   /* model above a slot's data area */
#define MODEL_STORE_ERR_VERIFY (-17)      /* read back differs from what was written */

/* Largest model a slot holds (MODEL_SLOT_SIZE). */
uint32_t model_store_capacity(void);
/* Makes `model` the stored model (the newest record) under `name` (NUL-terminated, at most
 * MODEL_NAME_SIZE - 1 characters kept): 0, or a negative error. */
int model_store_save(const uint8_t *model, uint32_t size, const char *name);
/* Copies the newest stored model whose bytes match its record into dst (cap bytes) and
 * returns its size; 0 when there is none (or it does not fit). `stored` describes that record
 * either way (size 0: none). The caller validates the model with the C loader. */
uint32_t model_store_restore(uint8_t *dst, uint32_t cap, model_store_entry *stored);

#endif
