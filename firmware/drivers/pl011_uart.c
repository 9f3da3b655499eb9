/* Arm PL011 UART, polled (pl011_uart.h). The baud divisor is 16.6 fixed point:
 * uartclk / (16 * baud) = IBRD + FBRD / 64, i.e. 4 * uartclk / baud rounded, split (PL011 TRM
 * 3.3.6). The FIFOs stay on (32 bytes each way), so a burst from the host waits there while
 * the server is busy. Built, not run (QEMU models no board with our PL011 setup in use). */
#include "pl011_uart.h"

#define UART_DR(b)    (*(volatile uint32_t *)((b) + 0x00u))
#define UART_RSR(b)   (*(volatile uint32_t *)((b) + 0x04u))
#define UART_FR(b)    (*(volatile uint32_t *)((b) + 0x18u))
#define UART_IBRD(b)  (*(volatile uint32_t *)((b) + 0x24u))
#define UART_FBRD(b)  (*(volatile uint32_t *)((b) + 0x28u))
#define UART_LCR_H(b) (*(volatile uint32_t *)((b) + 0x2Cu))
#define UART_CR(b)    (*(volatile uint32_t *)((b) + 0x30u))

#define FR_BUSY   (1u << 3)
#define FR_RXFE   (1u << 4)
#define FR_TXFF   (1u << 5)
#define LCR_FEN   (1u << 4)
#define LCR_WLEN8 (3u << 5)
#define CR_UARTEN (1u << 0)
#define CR_TXE    (1u << 8)
#define CR_RXE    (1u << 9)

void pl011_uart_init(uintptr_t base, uint32_t uartclk_hz, uint32_t baud)
{
    uint32_t div = (uint32_t)(((uint64_t)uartclk_hz * 4u + baud / 2u) / baud);   /* x64 */
    UART_CR(base) = 0;
    UART_IBRD(base) = div >> 6;
    UART_FBRD(base) = div & 63u;
    UART_LCR_H(base) = LCR_WLEN8 | LCR_FEN;   /* also latches the divisor */
    UART_RSR(base) = 0;                       /* clear errors from before the reset */
    UART_CR(base) = CR_UARTEN | CR_TXE | CR_RXE;
}

void pl011_uart_putc(uintptr_t base, uint8_t c)
{
    while (UART_FR(base) & FR_TXFF) {
    }
    UART_DR(base) = c;
}

bool pl011_uart_rx_ready(uintptr_t base) { return !(UART_FR(base) & FR_RXFE); }

uint8_t pl011_uart_rx(uintptr_t base) { return (uint8_t)UART_DR(base); }

void pl011_uart_flush(uintptr_t base)
{
    while (UART_FR(base) & FR_BUSY) {
    }
}
