/* The store's rules (board.h) as every store driver checks them before it touches anything:
 * the range, the alignment, and NOR flash's "programming only clears bits" against what the
 * store holds now, so a refused call writes nothing and code tested on one store is right on
 * all (boards/mapped_store.c, semihost_store.c, stm32f4_store.c). Header-only: the ARM Linux
 * runtime compiles mapped_store.c with it unchanged. */
#ifndef EBNN_STORE_RULES_H
#define EBNN_STORE_RULES_H

#include <string.h>

#include "board.h"

static inline bool store_in_range(uint32_t offset, uint32_t len)
{
    return offset <= board_store_size() && len <= board_store_size() - offset;
}

/* BOARD_STORE_OK when [offset, offset + len) may be erased: inside, whole pages. */
static inline int store_check_erase(uint32_t offset, uint32_t len)
{
    uint32_t page = board_store_page_size();
    if (!store_in_range(offset, len))
        return BOARD_STORE_ERR_RANGE;
    return offset % page || len % page ? BOARD_STORE_ERR_ALIGN : BOARD_STORE_OK;
}

/* BOARD_STORE_OK when `src` may be programmed at offset: inside, word-aligned, and no word
 * needs a bit set that is 0 in the store (read at board_store_base() + offset). */
static inline int store_check_write(uint32_t offset, const void *src, uint32_t len)
{
    const uint8_t *p = src;
    uint32_t i, w;
    if (!store_in_range(offset, len))
        return BOARD_STORE_ERR_RANGE;
    if (offset % BOARD_STORE_WRITE_ALIGN || len % BOARD_STORE_WRITE_ALIGN)
        return BOARD_STORE_ERR_ALIGN;
    for (i = 0; i < len; i += 4) {
        memcpy(&w, p + i, 4);
        if ((*(const volatile uint32_t *)(board_store_base() + offset + i) & w) != w)
            return BOARD_STORE_ERR_NOT_ERASED;
    }
    return BOARD_STORE_OK;
}

#endif
