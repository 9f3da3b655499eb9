/* The flash map (ld/flashmap.ld, docs/boot.md) as the C code sees it: absolute addresses of
 * the slots inside the store, and their sizes, taken from linker symbols so that the
 * bootloader, the application and the linker agree by construction. */
#ifndef EBNN_FLASHMAP_H
#define EBNN_FLASHMAP_H

#include <stdint.h>

#include "board.h"

extern const uint8_t __app_slot[], __app_staging[], __model_slot0[], __model_slot1[];
/* Sizes are symbol values: read them as addresses. */
extern const uint8_t __app_slot_size[], __model_slot_size[], __image_header_size[];
extern const uint8_t __store_page[];
extern volatile uint32_t __boot_request[];

/* The trial-boot state of the image in a slot (docs/boot.md "Trial boot"): two words at the
 * end of its 512-byte header, outside the bytes the header CRC covers. The bootloader writes
 * only the checked bytes of a header, so both words are erased (0xFFFFFFFF) in a freshly
 * installed image; programming one to 0 sets it. A factory image has both 0 (confirmed). */
#define FLASHMAP_TRIED_AT 504u      /* the bootloader has started it on trial */
#define FLASHMAP_CONFIRMED_AT 508u  /* it answered a request (or was restored as confirmed) */

#define FLASHMAP_SIZE(sym) ((uint32_t)(uintptr_t)(sym))
/* A slot's offset from the store base, as board_store_erase/write take it. */
static inline uint32_t flashmap_offset(const uint8_t *slot)
{
    return (uint32_t)((uintptr_t)slot - board_store_base());
}

#endif
