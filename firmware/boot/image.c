/* Application image verification (image.h, docs/boot.md). */
#include "image.h"

#include <string.h>

#include "board.h"
#include "edgebnn.h"
#include "proto.h"

extern const uint8_t __ram_origin[], __boot_request[];

/* A small sentence builder for the refusal text (no printf in the firmware). */
typedef struct {
    char *p;
    size_t at, cap;
} text;

static void add(text *t, const char *s)
{
    while (*s && t->at + 1 < t->cap)
        t->p[t->at++] = *s++;
    t->p[t->at] = 0;
}

static void add_hex(text *t, uint32_t v)
{
    char s[11] = "0x";
    for (int i = 0; i < 8; i++)
        s[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 0xFu];
    s[10] = 0;
    add(t, s);
}

static image_error refuse(text *t, image_error e, const char *field, uint32_t got,
                          uint32_t expected)
{
    add(t, field);
    add(t, " is ");
    add_hex(t, got);
    add(t, ", expected ");
    add_hex(t, expected);
    return e;
}

/* A NUL-terminated, non-empty, printable string within n bytes. */
static bool valid_string(const uint8_t *s, size_t n)
{
    size_t i;
    for (i = 0; i < n && s[i]; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    return i > 0 && i < n;
}

image_error image_check(const uint8_t *h, const uint8_t *body, uint32_t slot_size,
                        uint32_t load_address, image_info *info, char *why, size_t why_cap)
{
    text t = {why, 0, why_cap};
    uint32_t size, crc, vec_sp, vec_reset;
    why[0] = 0;
    if (proto_get32(h) != IMAGE_MAGIC) {
        if (proto_get32(h) == 0xFFFFFFFFu)
            return add(&t, "no image (the slot is erased)"), IMAGE_ERR_NONE;
        return refuse(&t, IMAGE_ERR_MAGIC, "magic", proto_get32(h), IMAGE_MAGIC);
    }
    if (proto_get16(h + 4) != IMAGE_HEADER_VERSION)
        return refuse(&t, IMAGE_ERR_HEADER, "header_version", proto_get16(h + 4),
                      IMAGE_HEADER_VERSION);
    if (proto_get16(h + 6) != IMAGE_HEADER_SIZE)
        return refuse(&t, IMAGE_ERR_HEADER, "header_size", proto_get16(h + 6),
                      IMAGE_HEADER_SIZE);
    crc = ebnn_crc32(0, h, IMAGE_HEADER_CRC_AT);
    if (proto_get32(h + IMAGE_HEADER_CRC_AT) != crc)
        return refuse(&t, IMAGE_ERR_HEADER, "header_crc", proto_get32(h + IMAGE_HEADER_CRC_AT),
                      crc);
    size = proto_get32(h + 8);
    if (size < 8 || size > slot_size - IMAGE_HEADER_SIZE)
        return refuse(&t, IMAGE_ERR_LENGTH, "body_size", size, slot_size - IMAGE_HEADER_SIZE);
    if (!valid_string(h + 24, IMAGE_VERSION_LEN))
        return add(&t, "version is not a printable NUL-terminated string"), IMAGE_ERR_VERSION;
    if (!valid_string(h + 48, IMAGE_BOARD_LEN) ||
        strcmp((const char *)(h + 48), board_name()) != 0) {
        add(&t, "board is ");
        add(&t, valid_string(h + 48, IMAGE_BOARD_LEN) ? (const char *)(h + 48) : "(invalid)");
        add(&t, ", expected ");
        add(&t, board_name());
        return IMAGE_ERR_BOARD;
    }
    if (proto_get32(h + 16) != load_address)
        return refuse(&t, IMAGE_ERR_ADDRESS, "load_address", proto_get32(h + 16), load_address);
    crc = ebnn_crc32(0, body, size);
    if (proto_get32(h + 12) != crc)
        return refuse(&t, IMAGE_ERR_CRC, "body_crc", proto_get32(h + 12), crc);
    /* The vector table: the initial SP in our RAM, the reset handler (Thumb) in the body. */
    vec_sp = proto_get32(body);
    vec_reset = proto_get32(body + 4);
    if (vec_sp <= (uintptr_t)__ram_origin || vec_sp > (uintptr_t)__boot_request)
        return refuse(&t, IMAGE_ERR_ADDRESS, "initial stack pointer", vec_sp,
                      (uint32_t)(uintptr_t)__boot_request);
    if (!(vec_reset & 1u) || vec_reset - load_address >= size)
        return refuse(&t, IMAGE_ERR_ADDRESS, "reset vector", vec_reset, load_address | 1u);
    info->body_size = size;
    info->body_crc = proto_get32(h + 12);
    info->load_address = load_address;
    memcpy(info->version, h + 24, IMAGE_VERSION_LEN);
    return IMAGE_OK;
}
