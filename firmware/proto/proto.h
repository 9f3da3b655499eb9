/* The edgebnn serial protocol (docs/protocol.md): frame layout, command and status codes, and
 * a byte-at-a-time frame parser. Portable C99 with no board dependency, so the same code can
 * serve the protocol from firmware, an ARM Linux runtime or a host test program.
 *
 * Frame: header (14 bytes) | payload (len bytes) | CRC-32 of the payload (4 bytes)
 *   0  u8[2] sync 0xEB 0x4E     6  u16 seq
 *   2  u8    protocol major     8  u16 len (payload bytes, <= the receiver's maximum)
 *   3  u8    command (reply: command | 0x80)     10 u32 CRC-32 of header bytes 0..9
 *   4  u8    status (0 in requests)
 *   5  u8    flags (0)
 * All integers little-endian; CRC-32 is zlib's (ebnn_crc32). */
#ifndef EBNN_PROTO_H
#define EBNN_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_SYNC0 0xEBu
#define PROTO_SYNC1 0x4Eu
#define PROTO_MAJOR 1u
#define PROTO_MINOR 2u
#define PROTO_HEADER_SIZE 14u
#define PROTO_TRAILER_SIZE 4u
#define PROTO_REPLY 0x80u            /* command bit set in every reply */

/* Commands (docs/protocol.md "Commands"). */
enum {
    PROTO_HELLO = 0x01,
    PROTO_INFO = 0x02,
    PROTO_RESET = 0x0F,
    PROTO_LOAD_BEGIN = 0x10,
    PROTO_LOAD_CHUNK = 0x11,
    PROTO_LOAD_COMMIT = 0x12,
    PROTO_READ = 0x13,
    PROTO_INFER = 0x20,
    PROTO_EVALUATE = 0x21,
    PROTO_TRAIN = 0x30,              /* a batch of labelled samples -> one training step */
    PROTO_TRAIN_PARAMS = 0x31,       /* per-epoch training parameters (1.1) */
    PROTO_TRAIN_SAVE = 0x32,         /* store the trained model in flash (1.1) */
    PROTO_TEST_EXIT = 0x7E,          /* test only: end the QEMU run with a status */
    PROTO_TEST_FAULT = 0x7F          /* test only: execute an undefined instruction */
};

/* LOAD_COMMIT's mode byte (1.2; an empty request is PROTO_LOAD_STORE). */
enum {
    PROTO_LOAD_STORE = 0,            /* store the model in flash, then make it active */
    PROTO_LOAD_RAM_ONLY = 1          /* make it active in RAM only: the stored model stays */
};

/* Reply status codes. */
enum {
    PROTO_OK = 0,
    PROTO_ERR_CRC = 1,               /* payload CRC mismatch */
    PROTO_ERR_TOO_LONG = 2,          /* len above the maximum payload */
    PROTO_ERR_VERSION = 3,           /* protocol major not served */
    PROTO_ERR_TRUNCATED = 4,         /* the frame stopped before its end */
    PROTO_ERR_SEQ = 5,               /* out-of-sequence request */
    PROTO_ERR_UNKNOWN_CMD = 6,
    PROTO_ERR_BAD_REQUEST = 7,       /* payload size or a field invalid for the command */
    PROTO_ERR_NO_MODEL = 8,
    PROTO_ERR_LOAD_STATE = 9,        /* chunk/commit without begin, gap, or incomplete */
    PROTO_ERR_LOAD_CRC = 10,         /* uploaded bytes do not match the announced CRC */
    PROTO_ERR_MODEL = 11,            /* ebnn_model_load rejected the upload */
    PROTO_ERR_TOO_LARGE = 12,        /* model above the slot, or its arena above ours */
    PROTO_ERR_NOT_SUPPORTED = 13,    /* reserved command */
    PROTO_ERR_CORE = 14              /* the C core failed at run time */
};

typedef struct {
    uint8_t version, cmd, status, flags;
    uint16_t seq, len;
} proto_header;

/* Little-endian field access. */
static inline uint16_t proto_get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t proto_get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void proto_put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void proto_put32(uint8_t *p, uint32_t v) {
    proto_put16(p, (uint16_t)v);
    proto_put16(p + 2, (uint16_t)(v >> 16));
}

/* Writes the 14 header bytes (sync, fields, header CRC). */
void proto_encode_header(uint8_t out[PROTO_HEADER_SIZE], const proto_header *h);

/* --- receiving --- */
typedef enum {
    PROTO_EV_NONE,    /* need more bytes */
    PROTO_EV_FRAME,   /* a complete, valid frame: header in p->h, payload in p->payload */
    PROTO_EV_ERROR    /* a valid header but a bad frame: p->h names it, p->error the status */
} proto_event;

typedef struct {
    uint8_t *payload;         /* caller's buffer of max_payload bytes */
    uint16_t max_payload;
    uint8_t hdr[PROTO_HEADER_SIZE];
    uint8_t crc[PROTO_TRAILER_SIZE];
    uint32_t have;            /* bytes of the current frame seen (header, payload, CRC) */
    proto_header h;
    uint8_t error;
} proto_parser;

void proto_parser_init(proto_parser *p, uint8_t *payload, uint16_t max_payload);
/* Feeds one received byte. Bytes that cannot start a valid header are skipped (resync). */
proto_event proto_feed(proto_parser *p, uint8_t byte);
/* True between a valid header and the end of its frame: the sender owes more bytes. */
bool proto_in_frame(const proto_parser *p);
/* The link went quiet: inside a frame that is PROTO_ERR_TRUNCATED (EV_ERROR), else EV_NONE. */
proto_event proto_timeout(proto_parser *p);

#endif
