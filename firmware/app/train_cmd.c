/* TRAIN and TRAIN_PARAMS: see train_cmd.h and docs/protocol.md "Training".
 *
 * Each algorithm is the C core's training API (init / buffer_size / step / parameters) behind
 * one set of signatures: another one plugs in with its wrappers, a member of train_state and a
 * row of ALGOS. The training state is validated once per committed model (init checks the whole
 * training section) and kept until the next commit. */
#include "train_cmd.h"

#include <stdbool.h>
#include <stddef.h>

#include "board.h"
#include "proto.h"

typedef union {
    ebnn_train_local local;
    ebnn_train_drtp drtp;
} train_state;

typedef struct {
    uint8_t id;
    ebnn_status (*init)(train_state *s, const ebnn_model *m, uint8_t *data, ebnn_diag *diag);
    size_t (*buffer_size)(const train_state *s, uint32_t batch);
    ebnn_status (*step)(const train_state *s, const uint8_t *inputs, const uint8_t *labels,
                        uint32_t n, void *scratch, size_t scratch_size, ebnn_train_stats *stats);
    uint32_t (*n_params)(const train_state *s);   /* TRAIN_PARAMS values it takes */
    /* Checks all n_params values (little-endian u32) before setting any: EBNN_ERR_ARG when one
     * is out of range, and then nothing is written. */
    ebnn_status (*set_params)(const train_state *s, const uint8_t *values);
    uint32_t (*step_index)(const train_state *s);
} train_algo;

/* ---- local: the parameters are the reinforcement thresholds p_q, one per sub-network ---- */
static ebnn_status local_init(train_state *s, const ebnn_model *m, uint8_t *data,
                              ebnn_diag *diag)
{
    return ebnn_train_local_init(&s->local, m, data, diag);
}
static size_t local_buffer_size(const train_state *s, uint32_t batch)
{
    return ebnn_train_local_buffer_size(&s->local, batch);
}
static ebnn_status local_step(const train_state *s, const uint8_t *inputs,
                              const uint8_t *labels, uint32_t n, void *scratch,
                              size_t scratch_size, ebnn_train_stats *stats)
{
    return ebnn_train_local_step(&s->local, inputs, labels, n, scratch, scratch_size, stats);
}
static uint32_t local_n_params(const train_state *s) { return s->local.n_hidden; }
static ebnn_status local_set_params(const train_state *s, const uint8_t *values)
{
    uint32_t l;   /* every u32 is a valid threshold */
    for (l = 0; l < s->local.n_hidden; l++) {
        ebnn_status st = ebnn_train_local_set_threshold(&s->local, l, proto_get32(values + 4 * l));
        if (st != EBNN_OK)
            return st;
    }
    return EBNN_OK;
}
static uint32_t local_step_index(const train_state *s)
{
    return ebnn_train_local_step_index(&s->local);
}

/* ---- drtp: the parameters are (update shift, window) per trained layer, output included ---- */
#define DRTP_MAX_SHIFT 30u   /* ebnn_train_drtp_set_hyper's limit */
static ebnn_status drtp_init(train_state *s, const ebnn_model *m, uint8_t *data,
                             ebnn_diag *diag)
{
    return ebnn_train_drtp_init(&s->drtp, m, data, diag);
}
static size_t drtp_buffer_size(const train_state *s, uint32_t batch)
{
    return ebnn_train_drtp_buffer_size(&s->drtp, batch);
}
static ebnn_status drtp_step(const train_state *s, const uint8_t *inputs, const uint8_t *labels,
                             uint32_t n, void *scratch, size_t scratch_size,
                             ebnn_train_stats *stats)
{
    return ebnn_train_drtp_step(&s->drtp, inputs, labels, n, scratch, scratch_size, stats);
}
static uint32_t drtp_n_params(const train_state *s) { return 2u * s->drtp.n_trained; }
static ebnn_status drtp_set_params(const train_state *s, const uint8_t *values)
{
    uint32_t l;
    for (l = 0; l < s->drtp.n_trained; l++)
        if (proto_get32(values + 8 * l) > DRTP_MAX_SHIFT)
            return EBNN_ERR_ARG;
    for (l = 0; l < s->drtp.n_trained; l++) {
        ebnn_status st = ebnn_train_drtp_set_hyper(&s->drtp, l, proto_get32(values + 8 * l),
                                                   proto_get32(values + 8 * l + 4));
        if (st != EBNN_OK)
            return st;
    }
    return EBNN_OK;
}
static uint32_t drtp_step_index(const train_state *s)
{
    return ebnn_train_drtp_step_index(&s->drtp);
}

static const train_algo ALGOS[] = {
    {TRAIN_ALGO_LOCAL, local_init, local_buffer_size, local_step, local_n_params,
     local_set_params, local_step_index},
    {TRAIN_ALGO_DRTP, drtp_init, drtp_buffer_size, drtp_step, drtp_n_params, drtp_set_params,
     drtp_step_index},
};
#define N_ALGOS (sizeof ALGOS / sizeof ALGOS[0])

static struct {
    const train_algo *algo;   /* NULL: no state validated for the active model */
    train_state s;
} state;

uint32_t train_features(void)
{
    uint32_t bits = 0, i;
    for (i = 0; i < N_ALGOS; i++)
        bits |= 1u << (ALGOS[i].id - 1u);
    return bits;
}

void train_forget(void)
{
    state.algo = NULL;
}

/* The checks both commands start with, in this order: a model is committed, the payload holds
 * the 4-byte prelude, the algorithm is one of ALGOS, and the model's training section
 * validates for it. On success the algorithm's state is ready in `state`. */
static uint8_t prepare(const train_target *t, const uint8_t *req, uint16_t n, uint8_t *reply,
                       uint16_t *len)
{
    const train_algo *a = NULL;
    ebnn_diag diag = {-1, NULL, 0, 0};
    ebnn_status st;
    uint32_t i;
    if (t->model == NULL)
        return PROTO_ERR_NO_MODEL;
    if (n < 4)
        return PROTO_ERR_BAD_REQUEST;
    for (i = 0; i < N_ALGOS; i++)
        if (ALGOS[i].id == req[0])
            a = &ALGOS[i];
    if (a == NULL)
        return PROTO_ERR_BAD_REQUEST;
    if (state.algo == a)
        return PROTO_OK;
    state.algo = NULL;
    st = a->init(&state.s, t->model, t->data, &diag);
    if (st != EBNN_OK)
        return server_model_error(reply, st, &diag, len);
    state.algo = a;
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
            return PROTO_ERR_BAD_REQUEST;
    need = state.algo->buffer_size(&state.s, count);
    if (need == 0 || need > t->scratch_size) {   /* 0: beyond the core's size limit */
        proto_put32(reply, t->scratch_size);
        proto_put32(reply + 4, need == 0 ? UINT32_MAX : (uint32_t)need);
        *len = 8;
        return PROTO_ERR_TOO_LARGE;
    }
    t0 = board_cycles();
    st = state.algo->step(&state.s, labels + count, labels, count, t->scratch, t->scratch_size,
                          &stats);
    cycles = board_cycles() - t0;
    if (st != EBNN_OK)   /* the core validates before writing: the model is unchanged */
        return server_core_error(reply, st, len);
    proto_put16(reply, (uint16_t)count);
    proto_put16(reply + 2, (uint16_t)stats.correct);
    proto_put16(reply + 4, (uint16_t)stats.wrong);
    proto_put16(reply + 6, 0);
    proto_put32(reply + 8, state.algo->step_index(&state.s));
    proto_put32(reply + 12, (uint32_t)cycles);
    proto_put32(reply + 16, (uint32_t)(cycles >> 32));
    *len = 20;
    return PROTO_OK;
}

uint8_t train_cmd_params(const train_target *t, const uint8_t *req, uint16_t n, uint8_t *reply,
                         uint16_t *len)
{
    uint32_t count;
    ebnn_status st;
    uint8_t err = prepare(t, req, n, reply, len);
    if (err != PROTO_OK)
        return err;
    count = proto_get16(req + 2);
    if (n != 4u + 4u * count || count != state.algo->n_params(&state.s))
        return PROTO_ERR_BAD_REQUEST;
    st = state.algo->set_params(&state.s, req + 4);
    if (st == EBNN_ERR_ARG)      /* a value out of range: nothing was set */
        return PROTO_ERR_BAD_REQUEST;
    if (st != EBNN_OK)
        return server_core_error(reply, st, len);
    proto_put16(reply, (uint16_t)count);
    proto_put16(reply + 2, 0);
    proto_put32(reply + 4, state.algo->step_index(&state.s));
    *len = 8;
    return PROTO_OK;
}
