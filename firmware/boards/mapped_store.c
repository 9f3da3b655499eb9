/* The persistent store on a memory-mapped region that ordinary stores can write: QEMU's
 * machine RAM, which edgebnn/device/qemu.py backs with a host file (memory-backend-file,
 * share=on), so what the firmware writes survives a reset and QEMU being killed. The NOR rules
 * of board.h are enforced here in software (store_rules.h), so firmware that works on this
 * store also works on real flash. The region is the STORE region of ld/<board>.ld. */
#include <string.h>

#include "board.h"
#include "store_rules.h"

extern const uint8_t __store_base[], __store_size[], __store_page[];

uintptr_t board_store_base(void) { return (uintptr_t)__store_base; }
uint32_t board_store_size(void) { return (uint32_t)(uintptr_t)__store_size; }
uint32_t board_store_page_size(void) { return (uint32_t)(uintptr_t)__store_page; }

static volatile uint32_t *store_word(uint32_t offset)
{
    return (volatile uint32_t *)(board_store_base() + offset);
}

int board_store_erase(uint32_t offset, uint32_t len)
{
    uint32_t page = board_store_page_size(), i;
    int st = store_check_erase(offset, len);
    if (st != BOARD_STORE_OK)
        return st;
    for (i = 0; i < len; i += 4) {
        if (i % page == 0)
            board_watchdog_feed();   /* a real part takes milliseconds per page */
        *store_word(offset + i) = 0xFFFFFFFFu;
    }
    return BOARD_STORE_OK;
}

int board_store_write(uint32_t offset, const void *src, uint32_t len)
{
    const uint8_t *p = src;
    uint32_t i, w;
    int st = store_check_write(offset, src, len);   /* a refused write writes nothing */
    if (st != BOARD_STORE_OK)
        return st;
    for (i = 0; i < len; i += 4) {
        memcpy(&w, p + i, 4);
        *store_word(offset + i) &= w;
    }
    return BOARD_STORE_OK;
}
