/* The board layer: everything the application may ask of the hardware. One implementation per
 * board in boards/<board>.c (the primitives) plus boards/board_common.c (built on them).
 * BOARD_NAME, BOARD_CLOCK_HZ and BOARD_UART0_BASE come from the board table (boards.mk). */
#ifndef EBNN_BOARD_H
#define EBNN_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BOARD_BAUD 115200u
#define BOARD_WAIT_FOREVER UINT32_MAX

/* --- per board (boards/<board>.c) --- */
void board_init(void);                 /* UART0 up (TX+RX), tick running */
void board_uart_putc(uint8_t c);       /* blocks while the TX buffer is full */
bool board_uart_available(void);       /* a received byte is waiting */
uint8_t board_uart_rx(void);           /* take it; only after board_uart_available() */
void board_uart_flush(void);           /* wait until queued TX bytes have left */
uint64_t board_cycles(void);           /* monotonic, at BOARD_CLOCK_HZ, from board_init() */

/* --- persistent store (boards/<store_layer>.c, per boards.mk) ---
 * The part's flash after the bootloader: application and model slots (docs/boot.md). It is
 * memory-mapped (read it, and run code from it, at board_store_base() + offset) and keeps its
 * contents across resets and power loss. Writes follow NOR-flash rules so that code tested on
 * one board is right on all: board_store_erase sets whole pages to 0xFF; board_store_write
 * only clears bits (a word that would need a 0 -> 1 change is refused, and then nothing is
 * written). Offsets are from the store base; erase takes page-aligned offset and length,
 * write 4-byte aligned ones. On QEMU the store is machine RAM backed by a host file
 * (mapped_store.c); an ARM Linux runtime maps a file; a real part drives its flash controller.
 * Both return BOARD_STORE_OK or a negative BOARD_STORE_ERR_*. */
enum {
    BOARD_STORE_OK = 0,
    BOARD_STORE_ERR_RANGE = -1,      /* beyond board_store_size() */
    BOARD_STORE_ERR_ALIGN = -2,      /* erase: not page-aligned; write: not 4-byte aligned */
    BOARD_STORE_ERR_NOT_ERASED = -3, /* write would set a bit that is 0 */
    BOARD_STORE_ERR_HW = -4          /* the flash controller reported a failure */
};
#define BOARD_STORE_WRITE_ALIGN 4u
uintptr_t board_store_base(void);
uint32_t board_store_size(void);
uint32_t board_store_page_size(void);
int board_store_erase(uint32_t offset, uint32_t len);
int board_store_write(uint32_t offset, const void *src, uint32_t len);

/* --- watchdog (boards/board_common.c on drivers/cmsdk_watchdog.c, where boards.mk names one;
 * without one both do nothing) ---
 * The bootloader starts it just before it jumps to an application (docs/boot.md "Trial
 * boot"): `ms` without a feed raise NMI, as many again reset the system, so an application
 * that hangs, or faults into a handler that spins, is reset. The application feeds it while
 * it waits for input (board_uart_getc) and between the pages of a flash erase. */
void board_watchdog_start(uint32_t ms);
void board_watchdog_feed(void);

/* --- trial boot (boards/board_common.c) ---
 * The application calls this once its protocol server has answered a request: it marks the
 * image in the app slot as confirmed, so the bootloader keeps it at the next reset instead of
 * restoring the previous one. Cheap when already confirmed; nothing to do on Linux. */
void board_app_confirm(void);

/* --- common (boards/board_common.c) --- */
const char *board_name(void);
uint32_t board_clock_hz(void);
uint32_t board_millis(void);
int board_uart_getc(uint32_t timeout_ms);   /* byte 0..255, or -1 after timeout_ms */
void board_uart_write(const void *buf, size_t n);
void board_uart_puts(const char *s);
__attribute__((noreturn)) void board_reset(void);
/* Ends a QEMU run with `status` via semihosting; for tests only. Resets if no host took it
 * (or when built with SEMIHOSTING=0). */
__attribute__((noreturn)) void board_semihost_exit(int status);

#endif
