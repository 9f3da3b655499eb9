/* The nRF5 legacy UART (nRF51's UART0; nRF52's UART0 at the same address has the same
 * registers), polled, 8N1, no flow control: the micro:bit's console (the interface chip's
 * virtual COM port on P0.24/P0.25) and QEMU's `nrf51_soc.uart`. */
#ifndef EBNN_NRF_UART_H
#define EBNN_NRF_UART_H

#include <stdbool.h>
#include <stdint.h>

/* `tx_pin`, `rx_pin`: the GPIO numbers the UART is routed to (PSELTXD / PSELRXD). */
void nrf_uart_init(uintptr_t base, uint32_t tx_pin, uint32_t rx_pin);
void nrf_uart_putc(uintptr_t base, uint8_t c);
bool nrf_uart_rx_ready(uintptr_t base);
uint8_t nrf_uart_rx(uintptr_t base);      /* call only when nrf_uart_rx_ready() */
void nrf_uart_flush(uintptr_t base);

#endif
