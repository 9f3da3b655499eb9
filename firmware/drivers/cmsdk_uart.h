/* ARM CMSDK APB UART (the UART of every MPS2/MPS3 FPGA image and of QEMU's models of them). */
#ifndef EBNN_CMSDK_UART_H
#define EBNN_CMSDK_UART_H

#include <stdbool.h>
#include <stdint.h>

void cmsdk_uart_init(uintptr_t base, uint32_t clock_hz, uint32_t baud);
void cmsdk_uart_putc(uintptr_t base, uint8_t c);
bool cmsdk_uart_rx_ready(uintptr_t base);
uint8_t cmsdk_uart_rx(uintptr_t base);      /* call only when cmsdk_uart_rx_ready() */
void cmsdk_uart_flush(uintptr_t base);

#endif
