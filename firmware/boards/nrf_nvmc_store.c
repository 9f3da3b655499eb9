/* The persistent store on an nRF51/nRF52's own flash through its NVMC (drivers/nrf_nvmc.c):
 * board.h's contract, checked first (store_rules.h), then erased page by page and written
 * word by word, each step waited for on READY. The store's page (the flash map's 4 KiB,
 * ld/flashmap.ld) is four nRF51 pages or one nRF52 page.
 * Under QEMU (`microbit`) this is the modelled NVMC and the SoC's flash, which QEMU keeps in
 * no file: the host writes the store file into that flash at start (through the gdbstub,
 * edgebnn/device/qemu.py) and, in a SEMIHOSTING build, every range the NVMC has erased or
 * written is copied from the flash into that file (semihosting), so the file is the flash as
 * the controller left it and survives resets, QEMU's exit and QEMU being killed (docs/boot.md).
 * Without a file named (silicon: build SEMIHOSTING=0) there is nothing to copy. */
#include <string.h>

#include "board.h"
#include "nrf_nvmc.h"
#include "semihost.h"
#include "store_rules.h"

extern const uint8_t __store_base[], __store_size[], __store_page[];

#define CHUNK_WORDS 64u   /* words copied to RAM per NVMC write: src may be in flash itself */

uintptr_t board_store_base(void) { return (uintptr_t)__store_base; }
uint32_t board_store_size(void) { return (uint32_t)(uintptr_t)__store_size; }
uint32_t board_store_page_size(void) { return (uint32_t)(uintptr_t)__store_page; }

/* [offset, offset + len) of the flash, as the NVMC left it, into the host's store file. */
static int mirror(uint32_t offset, uint32_t len)
{
#if EBNN_SEMIHOSTING
    int f = semihost_store_file();
    if (f >= 0 && semihost_pwrite(f, offset, (const void *)(board_store_base() + offset), len))
        return BOARD_STORE_ERR_HW;
#else
    (void)offset;
    (void)len;
#endif
    return BOARD_STORE_OK;
}

int board_store_erase(uint32_t offset, uint32_t len)
{
    uint32_t page = nrf_nvmc_page_size(), i;
    int st = store_check_erase(offset, len);
    if (st != BOARD_STORE_OK)
        return st;
    if (page == 0u || board_store_page_size() % page)
        return BOARD_STORE_ERR_HW;        /* a part whose pages do not tile the store's */
    for (i = 0; i < len; i += page) {
        board_watchdog_feed();
        nrf_nvmc_erase_page(board_store_base() + offset + i);
    }
    return mirror(offset, len);
}

int board_store_write(uint32_t offset, const void *src, uint32_t len)
{
    uint32_t words[CHUNK_WORDS], i, n;
    int st = store_check_write(offset, src, len);   /* a refused write writes nothing */
    for (i = 0; i < len && st == BOARD_STORE_OK; i += n) {
        n = len - i < sizeof words ? len - i : (uint32_t)sizeof words;
        memcpy(words, (const uint8_t *)src + i, n);   /* src need not be word-aligned */
        nrf_nvmc_write(board_store_base() + offset + i, words, n / 4u);
        if (memcmp((const void *)(board_store_base() + offset + i), words, n) != 0)
            st = BOARD_STORE_ERR_HW;     /* read back: a word the flash did not take */
    }
    return st == BOARD_STORE_OK && len ? mirror(offset, len) : st;
}
