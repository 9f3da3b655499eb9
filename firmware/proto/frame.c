/* Frame encoding and the resynchronizing frame parser (docs/protocol.md "Framing"). */
#include "proto.h"

#include <string.h>

#include "edgebnn.h"

void proto_encode_header(uint8_t out[PROTO_HEADER_SIZE], const proto_header *h)
{
    out[0] = PROTO_SYNC0;
    out[1] = PROTO_SYNC1;
    out[2] = h->version;
    out[3] = h->cmd;
    out[4] = h->status;
    out[5] = h->flags;
    proto_put16(out + 6, h->seq);
    proto_put16(out + 8, h->len);
    proto_put32(out + 10, ebnn_crc32(0, out, 10));
}

void proto_parser_init(proto_parser *p, uint8_t *payload, uint16_t max_payload)
{
    memset(p, 0, sizeof *p);
    p->payload = payload;
    p->max_payload = max_payload;
}

bool proto_in_frame(const proto_parser *p) { return p->have >= PROTO_HEADER_SIZE; }

/* The buffered header candidate failed its CRC: keep the bytes from the next possible sync on,
 * so a frame that starts inside rejected garbage is still found. */
static void resync(proto_parser *p)
{
    uint32_t i;
    for (i = 1; i < PROTO_HEADER_SIZE; i++) {
        if (p->hdr[i] == PROTO_SYNC0 && (i + 1 == PROTO_HEADER_SIZE || p->hdr[i + 1] == PROTO_SYNC1))
            break;
    }
    memmove(p->hdr, p->hdr + i, PROTO_HEADER_SIZE - i);
    p->have = PROTO_HEADER_SIZE - i;
}

static proto_event fail(proto_parser *p, uint8_t status)
{
    p->error = status;
    p->have = 0;
    return PROTO_EV_ERROR;
}

proto_event proto_feed(proto_parser *p, uint8_t byte)
{
    if (p->have < PROTO_HEADER_SIZE) {
        const uint8_t *b = p->hdr;
        p->hdr[p->have++] = byte;
        if (p->have == 1 && byte != PROTO_SYNC0)
            p->have = 0;
        else if (p->have == 2 && byte != PROTO_SYNC1)
            p->have = byte == PROTO_SYNC0;   /* "EB EB 4E" still starts a frame */
        if (p->have < PROTO_HEADER_SIZE)
            return PROTO_EV_NONE;
        if (ebnn_crc32(0, b, 10) != proto_get32(b + 10)) {
            resync(p);
            return PROTO_EV_NONE;
        }
        p->h.version = b[2];
        p->h.cmd = b[3];
        p->h.status = b[4];
        p->h.flags = b[5];
        p->h.seq = proto_get16(b + 6);
        p->h.len = proto_get16(b + 8);
        /* The header is genuine: a bad version or length gets an error reply now, and the
         * payload that follows is skipped by the sync hunt. */
        if (p->h.version != PROTO_MAJOR)
            return fail(p, PROTO_ERR_VERSION);
        if (p->h.len > p->max_payload)
            return fail(p, PROTO_ERR_TOO_LONG);
        return PROTO_EV_NONE;
    }
    {
        uint32_t at = p->have++ - PROTO_HEADER_SIZE;
        if (at < p->h.len) {
            p->payload[at] = byte;
            return PROTO_EV_NONE;
        }
        at -= p->h.len;
        p->crc[at] = byte;
        if (at + 1 < PROTO_TRAILER_SIZE)
            return PROTO_EV_NONE;
    }
    if (ebnn_crc32(0, p->payload, p->h.len) != proto_get32(p->crc))
        return fail(p, PROTO_ERR_CRC);
    p->have = 0;
    return PROTO_EV_FRAME;
}

proto_event proto_timeout(proto_parser *p)
{
    if (!proto_in_frame(p)) {
        p->have = 0;   /* a partial header is dropped: the next frame starts afresh */
        return PROTO_EV_NONE;
    }
    return fail(p, PROTO_ERR_TRUNCATED);
}
