/* Board layer for parts whose console is a CMSDK APB UART and whose tick is SysTick at the
 * core clock: the Arm MPS2/MPS3 boards (mps2-an386 M4, mps2-an500 M7, mps3-an547 M55, which
 * reaches UART0 through its Secure alias). The UART base and clock come from boards.mk. A board
 * with other peripherals gets a file of its own beside this one (docs: firmware/README.md). */
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
