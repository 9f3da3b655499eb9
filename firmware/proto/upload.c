/* The chunked upload both servers run: see upload.h. */
#include "upload.h"

#include "proto.h"

uint8_t upload_too_large(uint8_t *reply, uint32_t limit, uint32_t asked, uint16_t *len)
{
    proto_put32(reply, limit);
    proto_put32(reply + 4, asked);
    *len = 8;
    return PROTO_ERR_TOO_LARGE;
}

uint8_t upload_check_begin(upload_state *u, const uint8_t *req, uint16_t n, uint32_t slot,
                           uint32_t min_size, uint8_t *reply, uint16_t *len)
{
    uint32_t size;
    if (n != 8)
        return PROTO_ERR_BAD_REQUEST;
    size = proto_get32(req);
    u->open = false;
    if (size > slot)
        return upload_too_large(reply, slot, size, len);
    if (size < min_size)
        return PROTO_ERR_BAD_REQUEST;
    return PROTO_OK;
}

uint8_t upload_open(upload_state *u, const uint8_t *req, uint32_t slot, uint8_t *reply,
                    uint16_t *len)
{
    u->open = true;
    u->size = proto_get32(req);
    u->crc = proto_get32(req + 4);
    u->received = 0;
    proto_put32(reply, slot);
    proto_put16(reply + 4, (uint16_t)(PROTO_MAX_PAYLOAD - 4));
    *len = 6;
    return PROTO_OK;
}

uint8_t upload_state_error(const upload_state *u, uint8_t *reply, uint16_t *len)
{
    proto_put32(reply, u->open ? u->received : 0);
    *len = 4;
    return PROTO_ERR_LOAD_STATE;
}

uint8_t upload_check_chunk(const upload_state *u, const uint8_t *req, uint16_t n,
                           uint32_t *offset, uint32_t *count, uint8_t *reply, uint16_t *len)
{
    if (n < 4)
        return PROTO_ERR_BAD_REQUEST;
    *offset = proto_get32(req);
    *count = n - 4u;
    /* Contiguous: a chunk may overlap what was received (a retry) but leave no gap. */
    if (!u->open || *offset > u->received || *count > u->size - *offset)
        return upload_state_error(u, reply, len);
    return PROTO_OK;
}

uint8_t upload_ack(upload_state *u, uint32_t end, uint8_t *reply, uint16_t *len)
{
    if (end > u->received)
        u->received = end;
    proto_put32(reply, u->received);
    *len = 4;
    return PROTO_OK;
}

uint8_t upload_finish(upload_state *u, uint8_t *reply, uint16_t *len)
{
    if (!u->open || u->received != u->size)
        return upload_state_error(u, reply, len);
    u->open = false;
    return PROTO_OK;
}

uint8_t upload_check_crc(const upload_state *u, uint32_t crc, uint8_t *reply, uint16_t *len)
{
    if (crc == u->crc)
        return PROTO_OK;
    proto_put32(reply, crc);
    *len = 4;
    return PROTO_ERR_LOAD_CRC;
}
