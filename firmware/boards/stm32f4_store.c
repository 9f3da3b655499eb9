/* The persistent store on an STM32F4's own flash through its flash interface
 * (drivers/stm32f4_flash.c): board.h's contract on 16/64/128 KiB sectors. The page is the
 * smallest sector (16 KiB); an erase must start on a sector boundary and erases every sector
 * the range touches, so the flash map (ld/flashmap-stm32f4.ld) gives each slot whole sectors.
 * Writes are checked first (store_rules.h), then programmed word by word. QEMU does not model
 * the flash interface: on hardware this is "built, not run"; tests/test_stm32f4_flash.py runs
 * it on the host against a register-level model of the interface. */
#include "board.h"
#include "stm32f4_flash.h"
#include "store_rules.h"

#ifndef STM32F4_STORE_BASE   /* the host test puts the store inside its model's flash */
extern const uint8_t __store_base[], __store_size[];
#define STM32F4_STORE_BASE ((uintptr_t)__store_base)
#define STM32F4_STORE_SIZE ((uint32_t)(uintptr_t)__store_size)
#define STM32F4_FLASH_START ((uintptr_t)0x08000000u)
#endif

#define PAGE (16u << 10)

uintptr_t board_store_base(void) { return STM32F4_STORE_BASE; }
uint32_t board_store_size(void) { return STM32F4_STORE_SIZE; }
uint32_t board_store_page_size(void) { return PAGE; }

/* A store offset as an offset into the part's flash. */
static uint32_t flash_offset(uint32_t offset)
{
    return (uint32_t)(STM32F4_STORE_BASE - STM32F4_FLASH_START) + offset;
}

int board_store_erase(uint32_t offset, uint32_t len)
{
    int st = store_check_erase(offset, len), first, last, n;
    if (st != BOARD_STORE_OK || len == 0)
        return st;
    first = stm32f4_sector_at(flash_offset(offset));
    last = stm32f4_sector_at(flash_offset(offset + len - 1u));
    if (first < 0 || last < 0)
        return BOARD_STORE_ERR_RANGE;
    if (stm32f4_sector_offset((uint32_t)first) != flash_offset(offset))
        return BOARD_STORE_ERR_ALIGN;
    for (n = first; n <= last; n++) {
        board_watchdog_feed();   /* up to 2 s per 128 KiB sector */
        if (stm32f4_flash_erase((uint32_t)n) != STM32F4_FLASH_OK)
            return BOARD_STORE_ERR_HW;
    }
    return BOARD_STORE_OK;
}

int board_store_write(uint32_t offset, const void *src, uint32_t len)
{
    int st = store_check_write(offset, src, len);   /* a refused write writes nothing */
    if (st != BOARD_STORE_OK || len == 0)
        return st;
    return stm32f4_flash_program(flash_offset(offset), src, len / 4u) == STM32F4_FLASH_OK
               ? BOARD_STORE_OK
               : BOARD_STORE_ERR_HW;
}
