/* The request loop every protocol server runs (the application, the bootloader, the ARM Linux
 * runtime): frames in, sequencing and retransmissions as docs/protocol.md says, the command
 * handler's reply out. What differs per server is only its command set (`dispatch`) and what
 * it does once a reply is on the wire (`after_reply`: a reset, a jump, an exit). */
#ifndef EBNN_PROTO_SERVE_H
#define EBNN_PROTO_SERVE_H

#include <stdint.h>

#include "proto.h"

/* A byte gap this long inside a frame ends it as truncated. */
#define PROTO_FRAME_GAP_MS 250u

typedef struct {
    uint8_t *rx;        /* request payloads, PROTO_MAX_PAYLOAD bytes */
    const uint8_t *tx;  /* the reply `dispatch` fills (kept for retransmissions) */
    /* Runs a request of `n` payload bytes in rx; returns the status, sets *len (reply bytes). */
    uint8_t (*dispatch)(uint8_t cmd, uint16_t n, uint16_t *len);
    /* After the reply to `cmd` has been sent; may not return. */
    void (*after_reply)(uint8_t cmd, uint8_t status);
} proto_service;

/* Writes one reply frame (header, payload, CRC) to the UART. */
void proto_send_reply(uint8_t cmd, uint8_t status, uint16_t seq, const uint8_t *payload,
                      uint16_t len);

/* Serves requests forever. */
__attribute__((noreturn)) void proto_serve(const proto_service *s);

#endif
