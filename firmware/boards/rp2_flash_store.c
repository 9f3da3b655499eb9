/* The persistent store on the QSPI flash of an RP2040 (Pico) or RP2350 (Pico 2), programmed
 * through the bootrom's flash functions (RP2040 datasheet 2.8.3.1.3, RP2350 5.4.8): board.h's
 * contract on 4 KiB erase sectors. The flash is executed in place, so while it is being erased
 * or programmed nothing may run from it: the operation itself is one function in RAM (.data,
 * copied there at reset) with interrupts off, calling only the ROM; XIP comes back through
 * flash_enter_cmd_xip, the mode boot2 (or the RP2350 bootrom's fallback) set up. The ROM
 * programs whole 256-byte pages from RAM: a write is staged page by page in a RAM buffer,
 * 0xFF where it writes nothing (programming a 1 leaves a bit as it is). QEMU models neither
 * chip: built, not run. */
#include <string.h>

#include "board.h"
#include "store_rules.h"

extern const uint8_t __store_base[], __store_size[], __store_page[];

#define XIP_BASE     0x10000000u
#define PROG_PAGE    256u
#define BLOCK_SIZE   (1u << 16)   /* 64 KiB block erase where aligned, else 4 KiB sectors */
#define BLOCK_CMD    0xD8u
#define ROM_CODE(a, b) ((uint32_t)(a) | (uint32_t)(b) << 8)

typedef void (*rom_void_fn)(void);
typedef void (*rom_erase_fn)(uint32_t addr, uint32_t count, uint32_t block, uint8_t cmd);
typedef void (*rom_program_fn)(uint32_t addr, const uint8_t *data, uint32_t count);

struct rom_flash {
    rom_void_fn connect, exit_xip, flush, enter_xip;
    rom_erase_fn erase;
    rom_program_fn program;
};

/* A 16-bit pointer of the bootrom's well-known table at the start of the address space (an
 * explicit load: the compiler would take a dereference of address 0x14 for a null-pointer bug). */
static uintptr_t rom_hword(uintptr_t addr)
{
    uint32_t v;
    __asm volatile("ldrh %0, [%1]" : "=l"(v) : "l"(addr));
    return v;
}

#if defined(__ARM_ARCH_6M__)   /* RP2040: rom_table_lookup(table, code), table at 0x14 */
typedef void *(*rom_lookup_fn)(const uint16_t *table, uint32_t code);
static void *rom_func(uint32_t code)
{
    rom_lookup_fn lookup = (rom_lookup_fn)rom_hword(0x18u);
    return lookup((const uint16_t *)rom_hword(0x14u), code);
}
#else                          /* RP2350: rom_table_lookup_val(code, mask) at 0x16 */
typedef void *(*rom_lookup_fn)(uint32_t code, uint32_t mask);
#define RT_FLAG_FUNC_ARM_SEC 0x0004u
static void *rom_func(uint32_t code)
{
    rom_lookup_fn lookup = (rom_lookup_fn)rom_hword(0x16u);
    return lookup(code, RT_FLAG_FUNC_ARM_SEC);
}
#endif

static struct rom_flash rom_flash(void)
{
    struct rom_flash f;
    f.connect = (rom_void_fn)rom_func(ROM_CODE('I', 'F'));
    f.exit_xip = (rom_void_fn)rom_func(ROM_CODE('E', 'X'));
    f.flush = (rom_void_fn)rom_func(ROM_CODE('F', 'C'));
    f.enter_xip = (rom_void_fn)rom_func(ROM_CODE('C', 'X'));
    f.erase = (rom_erase_fn)rom_func(ROM_CODE('R', 'E'));
    f.program = (rom_program_fn)rom_func(ROM_CODE('R', 'P'));
    return f;
}

/* Runs from RAM: XIP is off in between, so it touches nothing in flash (no libc, no flash
 * constants: everything it needs is in `f`, the arguments and RAM). data == NULL: erase. */
__attribute__((noinline, long_call, section(".data.rp2_flash_op")))
static void flash_op(const struct rom_flash *f, uint32_t addr, const uint8_t *data,
                     uint32_t count)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n cpsid i" : "=r"(primask)::"memory");
    f->connect();
    f->exit_xip();
    if (data)
        f->program(addr, data, count);
    else
        f->erase(addr, count, BLOCK_SIZE, BLOCK_CMD);
    f->flush();
    f->enter_xip();
    __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
}

uintptr_t board_store_base(void) { return (uintptr_t)__store_base; }
uint32_t board_store_size(void) { return (uint32_t)(uintptr_t)__store_size; }
uint32_t board_store_page_size(void) { return (uint32_t)(uintptr_t)__store_page; }

static uint32_t flash_addr(uint32_t offset)
{
    return (uint32_t)board_store_base() - XIP_BASE + offset;
}

int board_store_erase(uint32_t offset, uint32_t len)
{
    struct rom_flash f = rom_flash();
    uint32_t page = board_store_page_size(), done;
    int st = store_check_erase(offset, len);
    if (st != BOARD_STORE_OK)
        return st;
    for (done = 0; done < len; done += page) {
        board_watchdog_feed();   /* ~50 ms per 4 KiB sector */
        flash_op(&f, flash_addr(offset + done), NULL, page);
    }
    return BOARD_STORE_OK;
}

int board_store_write(uint32_t offset, const void *src, uint32_t len)
{
    static uint8_t buf[PROG_PAGE] __attribute__((aligned(4)));   /* RAM: the ROM reads it */
    struct rom_flash f = rom_flash();
    const uint8_t *p = src;
    uint32_t at = offset, end = offset + len;
    int st = store_check_write(offset, src, len);   /* a refused write writes nothing */
    if (st != BOARD_STORE_OK || len == 0)
        return st;
    while (at < end) {
        uint32_t start = at - at % PROG_PAGE, n = start + PROG_PAGE - at;
        if (n > end - at)
            n = end - at;
        memset(buf, 0xFF, sizeof buf);
        memcpy(buf + (at - start), p, n);            /* src may be in flash: copy while XIP */
        flash_op(&f, flash_addr(start), buf, PROG_PAGE);
        at += n;
        p += n;
    }
    return BOARD_STORE_OK;
}
