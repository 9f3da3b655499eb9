/* TRAIN and TRAIN_PARAMS: see train_cmd.h and docs/protocol.md "Training".
 *
 * The algorithms are the C core's trainer rules (ebnn_trainer_* in edgebnn.h), the algorithm
 * byte their rule id, so a rule the core gains is served here unchanged. The training state is
 * validated once per committed model (init checks the whole training section) and kept until
 * the next commit. */
#include "train_cmd.h"

#include <stdbool.h>
#include <stddef.h>

#include "board.h"
#include "proto.h"

static struct {
    bool ready;          /* false: no state validated for the active model */
    ebnn_trainer t;
} state;

uint32_t train_features(void)
{
    uint32_t bits = 0, i;
    const ebnn_trainer_rule *r;
    for (i = 0; (r = ebnn_trainer_rule_at(i)) != NULL; i++)
        bits |= 1u << (ebnn_trainer_rule_id(r) - 1u);
    return bits;
}

void train_forget(void)
{
    state.ready = false;
}

/* The checks both commands start with, in this order: a model is committed, the payload holds
 * the 4-byte prelude, the algorithm is one of the core's rules, and the model's training section
 * validates for it. On success the rule's state is ready in `state`. */
static uint8_t prepare(const train_target *t, const uint8_t *req, uint16_t n, uint8_t *reply,
                       uint16_t *len)
{
    const ebnn_trainer_rule *rule;
    ebnn_diag diag = {-1, NULL, 0, 0};
    ebnn_status st;
    if (t->model == NULL)
        return PROTO_ERR_NO_MODEL;
    if (n < 4)
        return PROTO_ERR_BAD_REQUEST;
    rule = ebnn_trainer_rule_find(req[0]);
    if (rule == NULL)
        return PROTO_ERR_BAD_REQUEST;
    if (state.ready && state.t.rule == rule)
        return PROTO_OK;
    state.ready = false;
    st = ebnn_trainer_init(&state.t, req[0], t->model, t->data, &diag);
    if (st != EBNN_OK)
        return server_model_error(reply, st, &diag, len);
    state.ready = true;
    return PROTO_OK;
}

uint8_t train_cmd_step(const train_target *t, const uint8_t *req, uint16_t n, uint8_t *reply,
                       uint16_t *len)
{
    uint32_t count, in_size, i;
    size_t need;
    const uint8_t *labels;
    ebnn_train_stats stats = {0, 0};
    ebnn_status st;
    uint64_t t0, cycles;
    uint8_t err = prepare(t, req, n, reply, len);
    if (err != PROTO_OK)
        return err;
    count = proto_get16(req + 2);
    in_size = (uint32_t)ebnn_input_size(t->model);
    if (count == 0 || n != 4u + (uint64_t)count * (1u + in_size))
        return PROTO_ERR_BAD_REQUEST;
    labels = req + 4;
    for (i = 0; i < count; i++)
        if (labels[i] >= t->model->n_classes)
            return server_bad_label(reply, i, labels[i], t->model->n_classes, len);
    need = ebnn_trainer_buffer_size(&state.t, count);
    if (need == 0 || need > t->scratch_size) {   /* 0: beyond the core's size limit */
        proto_put32(reply, t->scratch_size);
        proto_put32(reply + 4, need == 0 ? UINT32_MAX : (uint32_t)need);
        *len = 8;
        return PROTO_ERR_TOO_LARGE;
    }
    t0 = board_cycles();
    st = ebnn_trainer_step(&state.t, labels + count, labels, count, t->scratch, t->scratch_size,
                           &stats);
    cycles = board_cycles() - t0;
    if (st != EBNN_OK)   /* the core validates before writing: the model is unchanged */
        return server_core_error(reply, st, len);
    proto_put16(reply, (uint16_t)count);
    proto_put16(reply + 2, (uint16_t)stats.correct);
    proto_put16(reply + 4, (uint16_t)stats.wrong);
    proto_put16(reply + 6, 0);
    proto_put32(reply + 8, ebnn_trainer_step_index(&state.t));
    proto_put32(reply + 12, (uint32_t)cycles);
    proto_put32(reply + 16, (uint32_t)(cycles >> 32));
    *len = 20;
    return PROTO_OK;
}

uint8_t train_cmd_params(const train_target *t, const uint8_t *req, uint16_t n, uint8_t *reply,
                         uint16_t *len)
{
    uint32_t count, i;
    ebnn_status st;
    uint8_t err = prepare(t, req, n, reply, len);
    if (err != PROTO_OK)
        return err;
    count = proto_get16(req + 2);
    if (n != 4u + 4u * count || count != ebnn_trainer_param_count(&state.t))
        return PROTO_ERR_BAD_REQUEST;
    for (i = 0; i < count; i++)   /* all checked before any is set */
        if (ebnn_trainer_check_param(&state.t, i, proto_get32(req + 4 + 4 * i)) != EBNN_OK)
            return PROTO_ERR_BAD_REQUEST;
    for (i = 0; i < count; i++) {
        st = ebnn_trainer_set_param(&state.t, i, proto_get32(req + 4 + 4 * i));
        if (st != EBNN_OK)
            return server_core_error(reply, st, len);
    }
    proto_put16(reply, (uint16_t)count);
    proto_put16(reply + 2, 0);
    proto_put32(reply + 4, ebnn_trainer_step_index(&state.t));
    *len = 8;
    return PROTO_OK;
}
