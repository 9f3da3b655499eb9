/* A chunked upload into a slot, as the application's LOAD_BEGIN / LOAD_CHUNK / LOAD_COMMIT
 * (docs/protocol.md) and the bootloader's FLASH_BEGIN / FLASH_CHUNK / FLASH_COMMIT (docs/boot.md)
 * both run it: BEGIN announces the size and CRC-32, chunks arrive in order (a resent,
 * overlapping chunk is fine, a gap is not), COMMIT needs every byte. This file keeps that state
 * and writes the replies both share; where the bytes go (RAM, flash) and what a commit checks
 * beyond the CRC stay with the caller. Every function writes its reply payload to `reply`, sets
 * *len and returns the protocol status, like a command handler. */
#ifndef EBNN_UPLOAD_H
#define EBNN_UPLOAD_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    bool open;
    uint32_t size, crc, received;
} upload_state;

/* ERR_TOO_LARGE: u32 the limit, u32 what was asked for. */
uint8_t upload_too_large(uint8_t *reply, uint32_t limit, uint32_t asked, uint16_t *len);

/* BEGIN's checks (u32 size, u32 crc in an 8-byte payload): ERR_BAD_REQUEST for another payload
 * size (the upload as it was), otherwise any open upload is closed, then ERR_TOO_LARGE above
 * `slot` and ERR_BAD_REQUEST below `min_size`. PROTO_OK: the caller may prepare its slot. */
uint8_t upload_check_begin(upload_state *u, const uint8_t *req, uint16_t n, uint32_t slot,
                           uint32_t min_size, uint8_t *reply, uint16_t *len);
/* Opens the upload BEGIN announced: reply u32 slot, u16 the largest chunk. */
uint8_t upload_open(upload_state *u, const uint8_t *req, uint32_t slot, uint8_t *reply,
                    uint16_t *len);

/* CHUNK's checks (u32 offset, data): ERR_BAD_REQUEST under 4 bytes, ERR_LOAD_STATE when no upload
 * is open, the chunk leaves a gap or passes the announced size. PROTO_OK with *offset, *count. */
uint8_t upload_check_chunk(const upload_state *u, const uint8_t *req, uint16_t n,
                           uint32_t *offset, uint32_t *count, uint8_t *reply, uint16_t *len);
/* The chunk ending at `end` is stored: reply u32 the bytes received so far. */
uint8_t upload_ack(upload_state *u, uint32_t end, uint8_t *reply, uint16_t *len);

/* COMMIT's start: ERR_LOAD_STATE unless an upload is open and complete; it is closed either way,
 * so whatever follows, a new upload starts with BEGIN. */
uint8_t upload_finish(upload_state *u, uint8_t *reply, uint16_t *len);
/* ERR_LOAD_CRC (u32 the CRC-32 of what arrived) unless crc is the announced one. */
uint8_t upload_check_crc(const upload_state *u, uint32_t crc, uint8_t *reply, uint16_t *len);

/* ERR_LOAD_STATE: u32 the bytes received (0 when no upload is open). */
uint8_t upload_state_error(const upload_state *u, uint8_t *reply, uint16_t *len);

#endif
