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
