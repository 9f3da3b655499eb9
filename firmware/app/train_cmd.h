/* TRAIN and TRAIN_PARAMS (docs/protocol.md "Training"): on-device training of the active model,
 * in place in its RAM slot, with the C core's trainer interface and scratch taken from the arena
 * region (training and inference never run at once). Every request is validated completely
 * before the first byte of the model is written, so a refused request leaves it unchanged.
 *
 * The handlers read the request payload and write the reply payload like the server's own
 * handlers: they return a protocol status and set *len. */
#ifndef EBNN_TRAIN_CMD_H
#define EBNN_TRAIN_CMD_H

#include <stdint.h>

#include "edgebnn.h"

/* The algorithm byte of TRAIN / TRAIN_PARAMS is a C core rule id (EBNN_RULE_LOCAL = 1,
 * EBNN_RULE_DRTP = 2); HELLO's feature bit (id - 1) announces each one the firmware can train. */

/* What training works on, owned by the server. */
typedef struct {
    const ebnn_model *model;   /* the active model; NULL when none is committed */
    uint8_t *data;             /* its bytes in the active slot (writable, == model->data) */
    uint8_t *scratch;          /* the arena region, EBNN_ALIGN-aligned */
    uint32_t scratch_size;
} train_target;

/* HELLO feature bits of the algorithms this firmware trains. */
uint32_t train_features(void);
/* The active model was replaced: forget the training state validated for the old one. */
void train_forget(void);
/* TRAIN: u8 algorithm, u8 0, u16 n, u8 labels[n], n inputs -> u16 n, u16 correct, u16 wrong,
 * u16 0, u32 step index, u64 cycles. */
uint8_t train_cmd_step(const train_target *t, const uint8_t *req, uint16_t n, uint8_t *reply,
                       uint16_t *len);
/* TRAIN_PARAMS: u8 algorithm, u8 0, u16 count, u32 values[count] -> u16 count, u16 0,
 * u32 step index. */
uint8_t train_cmd_params(const train_target *t, const uint8_t *req, uint16_t n, uint8_t *reply,
                         uint16_t *len);

/* Provided by the server (server_main.c), shared with its own handlers: the ERR_MODEL reply of
 * a failed C core validation (u32 ebnn_status, i32 layer, u32 got, u32 expected, field
 * NUL-terminated), the ERR_CORE reply of a core call that failed at run time (u32 status). */
uint8_t server_model_error(uint8_t *reply, ebnn_status st, const ebnn_diag *diag, uint16_t *len);
uint8_t server_core_error(uint8_t *reply, ebnn_status st, uint16_t *len);
/* The ERR_BAD_REQUEST reply to a label that is not a class of the model (EVALUATE, TRAIN):
 * u32 sample index, u32 label, u32 n_classes. */
uint8_t server_bad_label(uint8_t *reply, uint32_t sample, uint32_t label, uint32_t n_classes,
                         uint16_t *len);

#endif
