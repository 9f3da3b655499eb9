/* The persistent store on a QEMU board whose flash is ROM with no flash interface modelled
 * (netduinoplus2: QEMU 7.2 maps the STM32F405's flash as ROM, guest writes are dropped). The
 * store is a host file: edgebnn/device/qemu.py loads it into the flash at start
 * (-device loader) and names it on the semihosting command line; every erase and write goes to
 * the file (semihosting SYS_WRITE), then back from the file into the flash (SYS_READ, which
 * QEMU writes like a debugger, ROM included), so the firmware reads and runs the store in
 * place as on silicon, and the file survives resets and QEMU being killed. The NOR rules of
 * board.h are checked against the flash first (store_rules.h). A real part
 * drives its flash controller instead (boards/stm32f4_store.c). */
#include "board.h"
#include "semihost.h"
#include "store_rules.h"

extern const uint8_t __store_base[], __store_size[], __store_page[];

#define ERASED_CHUNK 1024u

uintptr_t board_store_base(void) { return (uintptr_t)__store_base; }
uint32_t board_store_size(void) { return (uint32_t)(uintptr_t)__store_size; }
uint32_t board_store_page_size(void) { return (uint32_t)(uintptr_t)__store_page; }

/* `len` bytes from `src` into the file at `offset`, then the file into the flash there. */
static int program(uint32_t offset, const void *src, uint32_t len)
{
    int f = semihost_store_file();   /* -1 when the host named none: ERR_HW */
    if (f < 0 || semihost_pwrite(f, offset, src, len) != 0 ||
        semihost_pread(f, offset, (void *)(board_store_base() + offset), len) != 0)
        return BOARD_STORE_ERR_HW;
    return BOARD_STORE_OK;
}

int board_store_erase(uint32_t offset, uint32_t len)
{
    static const uint8_t erased[ERASED_CHUNK] = {[0 ... ERASED_CHUNK - 1] = 0xFF};
    uint32_t i, n;
    int st = store_check_erase(offset, len);
    for (i = 0; i < len && st == BOARD_STORE_OK; i += n) {
        board_watchdog_feed();
        n = len - i < ERASED_CHUNK ? len - i : ERASED_CHUNK;
        st = program(offset + i, erased, n);
    }
    return st;
}

int board_store_write(uint32_t offset, const void *src, uint32_t len)
{
    int st = store_check_write(offset, src, len);   /* a refused write writes nothing */
    return st != BOARD_STORE_OK || len == 0 ? st : program(offset, src, len);
}
