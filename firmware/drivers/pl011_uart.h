/* Arm PrimeCell UART (PL011), polled, 8N1: UART0 of the RP2040 and RP2350 (Raspberry Pi Pico,
 * Pico 2). Clocks, resets and pins are the board file's business. */
#ifndef EBNN_PL011_UART_H
#define EBNN_PL011_UART_H

#include <stdbool.h>
#include <stdint.h>

/* `uartclk_hz`: the UART's reference clock (clk_peri on the RP2040/RP2350). */
void pl011_uart_init(uintptr_t base, uint32_t uartclk_hz, uint32_t baud);
void pl011_uart_putc(uintptr_t base, uint8_t c);
bool pl011_uart_rx_ready(uintptr_t base);
uint8_t pl011_uart_rx(uintptr_t base);      /* call only when pl011_uart_rx_ready() */
void pl011_uart_flush(uintptr_t base);

#endif
