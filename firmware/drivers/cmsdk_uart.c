/* CMSDK APB UART: a one-byte TX buffer and a one-byte RX buffer, polled. */
#include "cmsdk_uart.h"

#define UART_DATA(b)     (*(volatile uint32_t *)((b) + 0x00u))
#define UART_STATE(b)    (*(volatile uint32_t *)((b) + 0x04u))
#define UART_CTRL(b)     (*(volatile uint32_t *)((b) + 0x08u))
#define UART_BAUDDIV(b)  (*(volatile uint32_t *)((b) + 0x10u))

#define STATE_TX_FULL    (1u << 0)
#define STATE_RX_FULL    (1u << 1)
#define STATE_OVERRUNS   (3u << 2)   /* TX/RX overrun, write 1 to clear */
#define CTRL_TX_EN       (1u << 0)
#define CTRL_RX_EN       (1u << 1)

void cmsdk_uart_init(uintptr_t base, uint32_t clock_hz, uint32_t baud)
{
    uint32_t div = clock_hz / baud;
    UART_CTRL(base) = 0;
    UART_BAUDDIV(base) = div < 16u ? 16u : div;     /* hardware minimum is 16 */
    UART_STATE(base) = STATE_OVERRUNS;
    UART_CTRL(base) = CTRL_TX_EN | CTRL_RX_EN;
    /* QEMU quirk: it stops polling the host side while RX is disabled; one read of DATA
     * after enabling RX restarts it, otherwise the first host byte arrives ~1 s late. */
    (void)UART_DATA(base);
}

void cmsdk_uart_putc(uintptr_t base, uint8_t c)
{
    while (UART_STATE(base) & STATE_TX_FULL) {
    }
    UART_DATA(base) = c;
}

bool cmsdk_uart_rx_ready(uintptr_t base)
{
    return (UART_STATE(base) & STATE_RX_FULL) != 0;
}

uint8_t cmsdk_uart_rx(uintptr_t base)
{
    return (uint8_t)UART_DATA(base);
}

/* The CMSDK UART has no "shift register empty" flag; an empty TX buffer is the best we know. */
void cmsdk_uart_flush(uintptr_t base)
{
    while (UART_STATE(base) & STATE_TX_FULL) {
    }
}
