/* The protocol server (docs/protocol.md): prints the banner, then serves framed requests on
 * UART0 forever. Models are uploaded into a static RAM slot and validated by the unchanged C
 * core; inference runs in the linker's fixed arena region. No malloc anywhere.
 *
 * Memory (sized by the build, see firmware/Makefile): two model slots of MODEL_SLOT_SIZE bytes
 * (the active model and the staging slot an upload goes to, swapped on a successful commit, so
 * the active model survives any failed or abandoned upload), the arena (__heap_start ..
 * __heap_end) and one payload buffer each way of PROTO_MAX_PAYLOAD bytes.
 *
 * Flash (model_store.h) is written only by LOAD_COMMIT in its store mode and by TRAIN_SAVE: a
 * RAM-only load, like training, changes the active model alone, and a reset restores the stored
 * one (docs/protocol.md "What writes flash"). */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "edgebnn.h"
#include "print.h"
#include "proto.h"
#include "upload.h"
#include "serve.h"
#include "bootctl.h"
#include "model_store.h"
#include "signature.h"
#include "train_cmd.h"

#ifndef FW_VERSION
#error "FW_VERSION comes from the Makefile"
#endif
#ifndef MODEL_SLOT_SIZE
#error "MODEL_SLOT_SIZE comes from the Makefile"
#endif
#ifndef PROTO_MAX_PAYLOAD
#error "PROTO_MAX_PAYLOAD comes from the Makefile"
#endif
#if PROTO_MAX_PAYLOAD < 256 || PROTO_MAX_PAYLOAD > 65532 || PROTO_MAX_PAYLOAD % 4
#error "PROTO_MAX_PAYLOAD must be a multiple of 4 in 256..65532"
#endif
#if MODEL_SLOT_SIZE % 16
#error "MODEL_SLOT_SIZE must be a multiple of 16"
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "scores are written in place: the protocol is little-endian, so must the core be"
#endif

extern uint8_t __heap_start[], __heap_end[];   /* the arena region, ld/common.ld */

typedef struct {
    ebnn_model model;
    uint32_t size, crc;      /* size 0: no model */
    bool stale;              /* trained since its CRCs were last rewritten (crc too is old) */
    char name[MODEL_NAME_SIZE];   /* as LOAD_COMMIT named it */
} slot_info;

static uint8_t slots[2][MODEL_SLOT_SIZE] __attribute__((aligned(EBNN_ALIGN)));
static slot_info active_info;
/* The model in flash, which a reset restores; the active one differs after a RAM-only load
 * or unsaved training. */
static model_store_entry stored;
/* The stored model's signed counter (0: unsigned): a model signed with a lower one is refused. */
static uint32_t stored_counter;
static unsigned active;                   /* index of the active slot */
static upload_state upload;               /* the upload into slots[!active] */

/* Payload buffers as words: replies write int32 scores in place. */
static uint32_t rx_words[PROTO_MAX_PAYLOAD / 4];
static uint32_t tx_words[PROTO_MAX_PAYLOAD / 4];
#define RX ((uint8_t *)rx_words)
#define TX ((uint8_t *)tx_words)

/* Replies never exceed min(our maximum, the host's from HELLO). Zero-initialized (0 = no HELLO
 * yet: ours) so the image has no .data to copy. */
static uint16_t host_max_payload;
#define reply_limit (host_max_payload && host_max_payload < PROTO_MAX_PAYLOAD ? \
                     host_max_payload : PROTO_MAX_PAYLOAD)

/* ---- command handlers: fill TX, return the status and set *len ---- */

static uint16_t put_str(uint8_t *p, uint16_t at, uint16_t cap, const char *s)
{
    while (*s && at + 1u < cap)
        p[at++] = (uint8_t)*s++;
    p[at++] = 0;
    return at;
}

static void put_model_summary(uint8_t *p)
{
    const ebnn_model *m = &active_info.model;
    bool have = active_info.size != 0;
    proto_put32(p, active_info.size);
    proto_put32(p + 4, active_info.crc);
    proto_put16(p + 8, have ? m->n_classes : 0);
    proto_put16(p + 10, have ? m->in_h : 0);
    proto_put16(p + 12, have ? m->in_w : 0);
    proto_put16(p + 14, have ? m->in_c : 0);
    proto_put32(p + 16, have ? m->arena_size : 0);
}

static uint8_t cmd_hello(uint16_t n, uint16_t *len)
{
    if (n < 4 || proto_get16(RX + 2) < 256)
        return PROTO_ERR_BAD_REQUEST;
    host_max_payload = proto_get16(RX + 2);
    TX[0] = PROTO_MAJOR;
    TX[1] = PROTO_MINOR;
    proto_put16(TX + 2, PROTO_MAX_PAYLOAD);
    proto_put32(TX + 4, train_features());   /* feature bits: the TRAIN algorithms */
    *len = put_str(TX, 8, PROTO_MAX_PAYLOAD, FW_VERSION);
    return PROTO_OK;
}

/* Training leaves the model's CRCs stale (the C core updates weights in place); they are
 * rewritten before the model is described or read back, so a pulled file loads anywhere. */
static void refresh_crcs(void)
{
    if (!active_info.stale)
        return;
    ebnn_model_finalize(slots[active], active_info.size);
    active_info.crc = ebnn_crc32(0, slots[active], active_info.size);
    active_info.stale = false;
}

/* INFO's flags: bit 0 semihosting build, bit 1 the active model is not the stored one, bit 2
 * a signing key is provisioned (only what it signed is accepted). */
static uint32_t info_flags(void)
{
    bool same = active_info.size == stored.size && active_info.crc == stored.crc;
    return (EBNN_SEMIHOSTING ? 1u : 0u) | (same ? 0u : 2u) | (SIG_KEY_PROVISIONED ? 4u : 0u);
}

static uint8_t cmd_info(uint16_t *len)
{
    /* the strings leave room for what follows them: the stored model, the two names and the
     * key's fingerprint */
    uint16_t at, cap = (uint16_t)(reply_limit - 8u - 2u * MODEL_NAME_SIZE - SIG_FINGERPRINT_SIZE);
    refresh_crcs();
    TX[0] = PROTO_MAJOR;
    TX[1] = PROTO_MINOR;
    proto_put16(TX + 2, PROTO_MAX_PAYLOAD);
    proto_put32(TX + 4, board_clock_hz());
    proto_put32(TX + 8, MODEL_SLOT_SIZE);
    proto_put32(TX + 12, (uint32_t)(__heap_end - __heap_start));
    put_model_summary(TX + 16);
    proto_put32(TX + 36, info_flags());
    at = put_str(TX, 40, cap, FW_VERSION);
    at = put_str(TX, at, cap, board_name());
    at = put_str(TX, at, cap, ebnn_build_info());
    proto_put32(TX + at, stored.size);   /* 1.2: the stored model, then the names */
    proto_put32(TX + at + 4, stored.crc);
    at = put_str(TX, (uint16_t)(at + 8u), reply_limit, stored.name);
    at = put_str(TX, at, (uint16_t)(reply_limit - SIG_FINGERPRINT_SIZE), active_info.name);
    sig_key_fingerprint(TX + at);      /* 1.2: the provisioned key (zeros: none) */
    *len = (uint16_t)(at + SIG_FINGERPRINT_SIZE);
    return PROTO_OK;
}

static uint8_t cmd_load_begin(uint16_t n, uint16_t *len)
{
    uint8_t st = upload_check_begin(&upload, RX, n, MODEL_SLOT_SIZE, EBNN_HEADER_SIZE, TX, len);
    return st != PROTO_OK ? st : upload_open(&upload, RX, MODEL_SLOT_SIZE, TX, len);
}

static uint8_t cmd_load_chunk(uint16_t n, uint16_t *len)
{
    uint32_t offset, count;
    uint8_t st = upload_check_chunk(&upload, RX, n, &offset, &count, TX, len);
    if (st != PROTO_OK)
        return st;
    memcpy(slots[!active] + offset, RX + 4, count);
    return upload_ack(&upload, offset + count, TX, len);
}

uint8_t server_model_error(uint8_t *reply, ebnn_status st, const ebnn_diag *diag, uint16_t *len)
{
    proto_put32(reply, (uint32_t)st);
    proto_put32(reply + 4, (uint32_t)diag->layer);
    proto_put32(reply + 8, diag->got);
    proto_put32(reply + 12, diag->expected);
    *len = put_str(reply, 16, reply_limit, diag->field ? diag->field : "");
    return PROTO_ERR_MODEL;
}

/* The bytes of a .ebnn file (its header's file_size), a signature trailer after them or not. */
static uint32_t model_covered(const uint8_t *model, uint32_t size)
{
    return size >= EBNN_HEADER_SIZE ? proto_get32(model + 8) : size;
}

/* The signed counter of a model as uploaded or stored (0: unsigned). */
static uint32_t model_counter(const uint8_t *model, uint32_t size)
{
    uint32_t covered = model_covered(model, size);
    return covered <= size ? sig_counter(model, covered, size) : 0u;
}

/* Makes model the stored one (model_store.h), which a reset restores; BOOT_ERR_STORE with the
 * store's error (i32) when flash refuses. */
static uint8_t store_model(const uint8_t *model, uint32_t size, uint32_t crc, const char *name,
                           uint16_t *len)
{
    int saved = model_store_save(model, size, name);
    if (saved != 0) {
        proto_put32(TX, (uint32_t)saved);
        *len = 4;
        return BOOT_ERR_STORE;
    }
    stored.size = size;
    stored.crc = crc;
    memcpy(stored.name, name, MODEL_NAME_SIZE);
    stored_counter = model_counter(model, size);
    return PROTO_OK;
}

/* LOAD_COMMIT's request: empty (1.1: store it) or u8 mode, then the name NUL-terminated
 * (within MODEL_NAME_SIZE bytes) or nothing. False when malformed. */
static bool commit_request(uint16_t n, uint8_t *mode, char name[MODEL_NAME_SIZE])
{
    memset(name, 0, MODEL_NAME_SIZE);
    *mode = PROTO_LOAD_STORE;
    if (n == 0)
        return true;
    *mode = RX[0];
    if (*mode > PROTO_LOAD_RAM_ONLY || n - 1u > MODEL_NAME_SIZE || (n > 1 && RX[n - 1] != 0))
        return false;
    memcpy(name, RX + 1, n - 1u);
    return true;
}

static uint8_t cmd_load_commit(uint16_t n, uint16_t *len)
{
    uint8_t *staged = slots[!active];
    ebnn_model m;
    ebnn_diag diag = {-1, NULL, 0, 0};
    ebnn_status st;
    uint32_t crc;
    uint8_t mode, err;
    char name[MODEL_NAME_SIZE];
    if (!commit_request(n, &mode, name))
        return PROTO_ERR_BAD_REQUEST;   /* checked first: the upload stays open */
    err = upload_finish(&upload, TX, len);
    if (err != PROTO_OK)
        return err;
    crc = ebnn_crc32(0, staged, upload.size);
    err = upload_check_crc(&upload, crc, TX, len);
    if (err != PROTO_OK)
        return err;
#if EBNN_SIGNED   /* the provisioned key's signature, no rollback below the stored model */
    {
        uint32_t covered = model_covered(staged, upload.size);
        const uint8_t *trailer = upload.size >= SIG_TRAILER_SIZE &&
                                 covered == upload.size - SIG_TRAILER_SIZE ? staged + covered
                                                                           : NULL;
        err = (uint8_t)sig_verify(staged, covered, NULL, 0, trailer, stored_counter, TX, len);
        if (err != SIG_OK)
            return err;
    }
#endif
    st = ebnn_model_load(&m, staged, upload.size, &diag);
    if (st != EBNN_OK)
        return server_model_error(TX, st, &diag, len);
    if (m.arena_size > (uint32_t)(__heap_end - __heap_start))
        return upload_too_large(TX, (uint32_t)(__heap_end - __heap_start), m.arena_size, len);
    /* durable first: a reset from here on restores the new model (RAM only: the stored one) */
    if (mode == PROTO_LOAD_STORE && store_model(staged, upload.size, crc, name, len) != PROTO_OK)
        return BOOT_ERR_STORE;
    active = !active;   /* the commit point: the new model becomes active in one step */
    active_info.model = m;
    active_info.size = upload.size;
    active_info.crc = crc;
    active_info.stale = false;
    memcpy(active_info.name, name, MODEL_NAME_SIZE);
    train_forget();
    put_model_summary(TX);
    *len = 20;
    return PROTO_OK;
}

static uint8_t cmd_read(uint16_t n, uint16_t *len)
{
    uint32_t offset, count;
    if (n != 6)
        return PROTO_ERR_BAD_REQUEST;
    if (active_info.size == 0)
        return PROTO_ERR_NO_MODEL;
    refresh_crcs();
    offset = proto_get32(RX);
    count = proto_get16(RX + 4);
    if (offset > active_info.size || count > reply_limit - 12u)
        return PROTO_ERR_BAD_REQUEST;
    if (count > active_info.size - offset)
        count = active_info.size - offset;
    proto_put32(TX, active_info.size);
    proto_put32(TX + 4, active_info.crc);
    proto_put32(TX + 8, offset);
    memcpy(TX + 12, slots[active] + offset, count);
    *len = (uint16_t)(12 + count);
    return PROTO_OK;
}

/* Runs one sample into scores (4-byte aligned), returning the cycles it took. A frame's
 * samples together can outlast the watchdog's period on a slow part (a CNN of ~15 M
 * instructions takes 0.6 s at 25 MHz), so each sample feeds it: a hang inside one still
 * trips it. */
static ebnn_status run_one(const uint8_t *input, int32_t *scores, uint32_t *cycles)
{
    board_watchdog_feed();
    uint64_t t0 = board_cycles();
    ebnn_status st = ebnn_infer(&active_info.model, input, scores, __heap_start,
                                (size_t)(__heap_end - __heap_start));
    *cycles = (uint32_t)(board_cycles() - t0);
    return st;
}

uint8_t server_core_error(uint8_t *reply, ebnn_status st, uint16_t *len)
{
    proto_put32(reply, (uint32_t)st);
    *len = 4;
    return PROTO_ERR_CORE;
}

uint8_t server_bad_label(uint8_t *reply, uint32_t sample, uint32_t label, uint32_t n_classes,
                         uint16_t *len)
{
    proto_put32(reply, sample);
    proto_put32(reply + 4, label);
    proto_put32(reply + 8, n_classes);
    *len = 12;
    return PROTO_ERR_BAD_REQUEST;
}

/* The start shared by INFER and EVALUATE: a model must be active, and the payload opens with a
 * u16 sample count (then 2 reserved bytes); each sample is in_size bytes of the model's input. */
static uint8_t batch_header(uint16_t n, uint32_t *count, uint32_t *in_size)
{
    if (active_info.size == 0)
        return PROTO_ERR_NO_MODEL;
    if (n < 4)
        return PROTO_ERR_BAD_REQUEST;
    *count = proto_get16(RX);
    *in_size = (uint32_t)ebnn_input_size(&active_info.model);
    return PROTO_OK;
}

static uint8_t cmd_infer(uint16_t n, uint16_t *len)
{
    const ebnn_model *m = &active_info.model;
    uint32_t count, in_size, rec, i;
    uint8_t err = batch_header(n, &count, &in_size);
    if (err != PROTO_OK)
        return err;
    rec = 8u + 4u * m->n_classes;
    if (n != 4u + (uint64_t)count * in_size || 8u + (uint64_t)count * rec > reply_limit)
        return PROTO_ERR_BAD_REQUEST;
    proto_put16(TX, (uint16_t)count);
    proto_put16(TX + 2, m->n_classes);
    proto_put32(TX + 4, 0);
    for (i = 0; i < count; i++) {
        uint8_t *r = TX + 8 + i * rec;
        int32_t *scores = (int32_t *)(void *)(r + 8);
        uint32_t cycles;
        ebnn_status st = run_one(RX + 4 + i * in_size, scores, &cycles);
        if (st != EBNN_OK)
            return server_core_error(TX, st, len);
        proto_put32(r, cycles);
        proto_put16(r + 4, (uint16_t)ebnn_argmax(scores, m->n_classes));
        proto_put16(r + 6, 0);
    }
    *len = (uint16_t)(8 + count * rec);
    return PROTO_OK;
}

static uint8_t cmd_evaluate(uint16_t n, uint16_t *len)
{
    const ebnn_model *m = &active_info.model;
    uint32_t count, in_size, i, correct = 0;
    uint64_t total = 0;
    const uint8_t *inputs;
    uint8_t err = batch_header(n, &count, &in_size);
    if (err != PROTO_OK)
        return err;
    if (n != 4u + (uint64_t)count * (2u + in_size) || 4u * m->n_classes > sizeof tx_words)
        return PROTO_ERR_BAD_REQUEST;
    for (i = 0; i < count; i++)   /* every label before any sample runs */
        if (proto_get16(RX + 4 + 2 * i) >= m->n_classes)
            return server_bad_label(TX, i, proto_get16(RX + 4 + 2 * i), m->n_classes, len);
    inputs = RX + 4 + 2 * count;
    for (i = 0; i < count; i++) {
        uint32_t cycles;
        ebnn_status st = run_one(inputs + i * in_size, (int32_t *)tx_words, &cycles);
        if (st != EBNN_OK)
            return server_core_error(TX, st, len);
        total += cycles;
        correct += ebnn_argmax((int32_t *)tx_words, m->n_classes) == proto_get16(RX + 4 + 2 * i);
    }
    proto_put16(TX, (uint16_t)count);
    proto_put16(TX + 2, (uint16_t)correct);
    proto_put32(TX + 4, 0);
    proto_put32(TX + 8, (uint32_t)total);
    proto_put32(TX + 12, (uint32_t)(total >> 32));
    *len = 16;
    return PROTO_OK;
}

/* TRAIN and TRAIN_PARAMS (train_cmd.c) on the active model, in place in its slot, with the
 * arena region as scratch; a success leaves the model's CRCs stale. */
static uint8_t cmd_train(uint8_t cmd, uint16_t n, uint16_t *len)
{
    train_target t = {active_info.size ? &active_info.model : NULL, slots[active], __heap_start,
                      (uint32_t)(__heap_end - __heap_start)};
    uint8_t status = cmd == PROTO_TRAIN ? train_cmd_step(&t, RX, n, TX, len)
                                        : train_cmd_params(&t, RX, n, TX, len);
    if (status == PROTO_OK)
        active_info.stale = true;
    return status;
}

/* TRAIN_SAVE: the trained model, CRCs rewritten, becomes the stored one, so it survives resets
 * (training itself only changes the RAM slot; a reset before this restores the stored model). */
static uint8_t cmd_train_save(uint16_t *len)
{
    uint8_t status;
    if (active_info.size == 0)
        return PROTO_ERR_NO_MODEL;
    refresh_crcs();
    status = store_model(slots[active], active_info.size, active_info.crc, active_info.name, len);
    if (status != PROTO_OK)
        return status;
    put_model_summary(TX);
    *len = 20;
    return PROTO_OK;
}

/* Executes a request whose payload is in RX; the reply payload goes to TX. */
static uint8_t dispatch(uint8_t cmd, uint16_t n, uint16_t *len)
{
    *len = 0;
    switch (cmd) {
    case PROTO_HELLO: return cmd_hello(n, len);
    case PROTO_INFO: return n ? PROTO_ERR_BAD_REQUEST : cmd_info(len);
    case PROTO_LOAD_BEGIN: return cmd_load_begin(n, len);
    case PROTO_LOAD_CHUNK: return cmd_load_chunk(n, len);
    case PROTO_LOAD_COMMIT: return cmd_load_commit(n, len);
    case PROTO_READ: return cmd_read(n, len);
    case PROTO_INFER: return cmd_infer(n, len);
    case PROTO_EVALUATE: return cmd_evaluate(n, len);
    case PROTO_RESET: case PROTO_TEST_FAULT: case BOOT_CMD_ENTER:
        return n ? PROTO_ERR_BAD_REQUEST : PROTO_OK;
    case PROTO_TEST_EXIT: return n == 1 ? PROTO_OK : PROTO_ERR_BAD_REQUEST;
    case PROTO_TRAIN: case PROTO_TRAIN_PARAMS: return cmd_train(cmd, n, len);
    case PROTO_TRAIN_SAVE: return n ? PROTO_ERR_BAD_REQUEST : cmd_train_save(len);
    default: return PROTO_ERR_UNKNOWN_CMD;
    }
}

/* Actions that happen after the reply has left: they end this firmware run. */
static void after_reply(uint8_t cmd, uint8_t status)
{
    board_app_confirm();   /* the server is up and has answered: keep this image (docs/boot.md) */
    if (status != PROTO_OK)
        return;
    if (cmd == PROTO_RESET)
        board_reset();
    if (cmd == BOOT_CMD_ENTER) {
        __boot_request[0] = BOOT_REQUEST_STAY;   /* read by the bootloader after the reset */
        board_reset();
    }
    if (cmd == PROTO_TEST_EXIT)
        board_semihost_exit(RX[0]);
    if (cmd == PROTO_TEST_FAULT) {
        board_uart_flush();
        __asm volatile("udf #0");
    }
}

/* The committed model from flash (model_store.h), validated like an upload; none if the
 * C loader or the arena refuses it. */
static void restore_model(void)
{
    ebnn_diag diag = {-1, NULL, 0, 0};
    uint32_t size = model_store_restore(slots[active], MODEL_SLOT_SIZE, &stored);
    stored_counter = model_counter(slots[active], size);
    if (size && ebnn_model_load(&active_info.model, slots[active], size, &diag) == EBNN_OK &&
        active_info.model.arena_size <= (uint32_t)(__heap_end - __heap_start)) {
        active_info.size = size;
        active_info.crc = stored.crc;
        memcpy(active_info.name, stored.name, MODEL_NAME_SIZE);
    }
}

int main(void)
{
    static const proto_service service = {RX, TX, dispatch, after_reply};
    board_init();
    restore_model();
    board_uart_puts("EBNN-FW " FW_VERSION " board=");
    board_uart_puts(board_name());
    board_uart_puts(" clock=");
    print_dec(board_clock_hz());
    board_uart_puts("\r\n");

    proto_serve(&service);
}
