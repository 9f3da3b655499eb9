/* The application image header (docs/boot.md "Image header"): 512 bytes in front of the
 * application in its slot, so the vector table that follows is aligned for VTOR. It says what
 * the image is (length, CRC-32, version, board, where it must run) so the bootloader can
 * refuse a wrong, corrupted or truncated image before it replaces the running one. */
#ifndef EBNN_IMAGE_H
#define EBNN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define IMAGE_MAGIC 0x4D494245u          /* "EBIM" */
#define IMAGE_HEADER_VERSION 1u
#define IMAGE_HEADER_SIZE 512u
#define IMAGE_HEADER_CRC_AT 80u          /* u32 CRC-32 of bytes 0..79 */
#define IMAGE_HEADER_CHECKED 84u         /* the bytes the bootloader checks and writes */
#define IMAGE_VERSION_LEN 24u
#define IMAGE_BOARD_LEN 32u

/* Why an image is refused (the u32 reason of a BOOT_ERR_IMAGE reply). */
typedef enum {
    IMAGE_OK = 0,
    IMAGE_ERR_MAGIC = 1,      /* not an edgebnn application image */
    IMAGE_ERR_HEADER = 2,     /* header version, size or CRC wrong */
    IMAGE_ERR_LENGTH = 3,     /* body empty, or larger than the slot */
    IMAGE_ERR_CRC = 4,        /* body does not match the header's CRC-32 */
    IMAGE_ERR_VERSION = 5,    /* version string empty or not NUL-terminated */
    IMAGE_ERR_BOARD = 6,      /* built for another board */
    IMAGE_ERR_ADDRESS = 7,    /* linked for another address, or its vectors point elsewhere */
    IMAGE_ERR_NONE = 8,       /* no image installed (slot erased) */
    IMAGE_ERR_TRIAL = 9       /* started on trial, never confirmed, and no previous image kept */
} image_error;

typedef struct {
    uint32_t body_size, body_crc, load_address;
    char version[IMAGE_VERSION_LEN];
} image_info;

/* Checks a header (IMAGE_HEADER_SIZE bytes) and the body it describes against this board:
 * body_size, the body's CRC, version, board name, and that it is linked to run at
 * load_address (where the body's first byte will be) with its reset vector inside it and its
 * stack in RAM. slot_size bounds header + body. On a refusal, `why` (why_cap bytes) gets a
 * NUL-terminated sentence naming the field, what it is and what was expected. */
image_error image_check(const uint8_t *header, const uint8_t *body, uint32_t slot_size,
                        uint32_t load_address, image_info *info, char *why, size_t why_cap);

#endif
