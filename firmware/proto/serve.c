/* The request loop shared by every protocol server (serve.h). */
#include "serve.h"

#include <stdbool.h>

#include "board.h"
#include "edgebnn.h"

/* Sequencing and duplicate detection: the reply to the last executed request stays in tx, so
 * a retransmitted request (same seq, command and payload CRC) is answered without running it
 * again. This makes every retry safe, LOAD_CHUNK and LOAD_COMMIT included. HELLO and the
 * first request after boot run at any seq; anything else must be last + 1. */
static struct {
    bool valid;             /* a request has been executed since boot */
    uint16_t seq;
    uint8_t cmd, status;    /* and the kept reply's status */
    uint32_t payload_crc;
    uint16_t len;
} last;

void proto_send_reply(uint8_t cmd, uint8_t status, uint16_t seq, const uint8_t *payload,
                      uint16_t len)
{
    uint8_t hdr[PROTO_HEADER_SIZE], crc[PROTO_TRAILER_SIZE];
    proto_header h = {PROTO_MAJOR, (uint8_t)(cmd | PROTO_REPLY), status, 0, seq, len};
    proto_encode_header(hdr, &h);
    proto_put32(crc, ebnn_crc32(0, payload, len));
    board_uart_write(hdr, sizeof hdr);
    board_uart_write(payload, len);
    board_uart_write(crc, sizeof crc);
}

static void serve_frame(const proto_service *s, const proto_header *h)
{
    uint32_t crc = ebnn_crc32(0, s->rx, h->len);
    uint16_t len = 0;
    uint8_t status;
    if (last.valid && h->seq == last.seq && h->cmd == last.cmd && crc == last.payload_crc) {
        proto_send_reply(last.cmd, last.status, last.seq, s->tx, last.len);
        return;
    }
    if (last.valid && h->cmd != PROTO_HELLO && h->seq != (uint16_t)(last.seq + 1u)) {
        uint8_t expected[2];     /* an error reply is not kept: the request did not run */
        proto_put16(expected, (uint16_t)(last.seq + 1u));
        proto_send_reply(h->cmd, PROTO_ERR_SEQ, h->seq, expected, sizeof expected);
        return;
    }
    status = s->dispatch(h->cmd, h->len, &len);
    last.valid = true;
    last.seq = h->seq;
    last.cmd = h->cmd;
    last.payload_crc = crc;
    last.status = status;
    last.len = len;
    proto_send_reply(h->cmd, status, h->seq, s->tx, len);
    s->after_reply(h->cmd, status);
}

/* A frame the parser refused: the error reply names what this side accepts. */
static void frame_error(const proto_parser *p)
{
    uint8_t detail[2] = {PROTO_MAJOR, PROTO_MINOR};
    uint16_t n = p->error == PROTO_ERR_VERSION ? 2 : 0;
    if (p->error == PROTO_ERR_TOO_LONG) {
        proto_put16(detail, PROTO_MAX_PAYLOAD);
        n = 2;
    }
    proto_send_reply(p->h.cmd, p->error, p->h.seq, detail, n);
}

void proto_serve(const proto_service *s)
{
    proto_parser parser;
    proto_parser_init(&parser, s->rx, PROTO_MAX_PAYLOAD);
    for (;;) {
        int c = board_uart_getc(proto_in_frame(&parser) ? PROTO_FRAME_GAP_MS
                                                        : BOARD_WAIT_FOREVER);
        proto_event ev = c < 0 ? proto_timeout(&parser) : proto_feed(&parser, (uint8_t)c);
        if (ev == PROTO_EV_FRAME)
            serve_frame(s, &parser.h);
        else if (ev == PROTO_EV_ERROR)
            frame_error(&parser);
    }
}
