/* MPS2 AN500: Cortex-M7 with double-precision FPU (QEMU -M mps2-an500).
 * UART0 is a CMSDK APB UART, the tick is SysTick at the core clock. */
#include "board.h"
#include "cmsdk_uart.h"
#include "systick.h"

#define UART0 ((uintptr_t)BOARD_UART0_BASE)

void board_init(void)
{
    cmsdk_uart_init(UART0, BOARD_CLOCK_HZ, BOARD_BAUD);
    systick_init();
}

void board_uart_putc(uint8_t c) { cmsdk_uart_putc(UART0, c); }
bool board_uart_available(void) { return cmsdk_uart_rx_ready(UART0); }
uint8_t board_uart_rx(void) { return cmsdk_uart_rx(UART0); }
void board_uart_flush(void) { cmsdk_uart_flush(UART0); }
uint64_t board_cycles(void) { return systick_cycles(); }
