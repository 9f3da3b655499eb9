/* nRF5 legacy UART, polled (nrf_uart.h). Events are registers the driver clears itself; the
 * order matters on receive: RXDRDY is cleared *before* RXD is read, because reading RXD is what
 * moves the next byte of the receive FIFO (6 bytes on the nRF51, and in QEMU's model) into RXD
 * and raises RXDRDY again. Clearing it after the read would drop that event and strand the
 * byte in the FIFO until the next one arrived. Transmit waits for TXDRDY of the previous byte
 * (the first one goes straight out), so putc never overwrites a byte still being sent. */
#include "nrf_uart.h"

#define REG(b, off) (*(volatile uint32_t *)((b) + (off)))
#define TASKS_STARTRX  0x000u
#define TASKS_STARTTX  0x008u
#define EVENTS_RXDRDY  0x108u
#define EVENTS_TXDRDY  0x11Cu
#define ENABLE         0x500u
#define PSELRTS        0x508u
#define PSELTXD        0x50Cu
#define PSELCTS        0x510u
#define PSELRXD        0x514u
#define RXD            0x518u
#define TXD            0x51Cu
#define BAUDRATE       0x524u
#define CONFIG         0x56Cu

#define ENABLE_UART    4u
#define PIN_NONE       0xFFFFFFFFu
#define BAUD_115200    0x01D7E000u   /* the product specification's value for 115200 baud */

static bool tx_pending;   /* a byte was written and its TXDRDY not yet seen */

void nrf_uart_init(uintptr_t base, uint32_t tx_pin, uint32_t rx_pin)
{
    REG(base, ENABLE) = 0;
    REG(base, PSELTXD) = tx_pin;
    REG(base, PSELRXD) = rx_pin;
    REG(base, PSELRTS) = PIN_NONE;
    REG(base, PSELCTS) = PIN_NONE;
    REG(base, CONFIG) = 0;                /* no parity, no flow control */
    REG(base, BAUDRATE) = BAUD_115200;
    REG(base, ENABLE) = ENABLE_UART;
    REG(base, EVENTS_TXDRDY) = 0;
    REG(base, EVENTS_RXDRDY) = 0;
    REG(base, TASKS_STARTTX) = 1;
    REG(base, TASKS_STARTRX) = 1;
    /* QEMU polls the host side again only once RXD is read (as the CMSDK UART's DATA: the
     * first byte would otherwise come about 1 s late); on silicon RXD holds nothing yet. */
    (void)REG(base, RXD);
    REG(base, EVENTS_RXDRDY) = 0;
    tx_pending = false;
}

void nrf_uart_putc(uintptr_t base, uint8_t c)
{
    nrf_uart_flush(base);
    REG(base, TXD) = c;
    tx_pending = true;
}

bool nrf_uart_rx_ready(uintptr_t base) { return REG(base, EVENTS_RXDRDY) != 0; }

uint8_t nrf_uart_rx(uintptr_t base)
{
    REG(base, EVENTS_RXDRDY) = 0;         /* first: the read may raise it for the next byte */
    return (uint8_t)REG(base, RXD);
}

void nrf_uart_flush(uintptr_t base)
{
    if (!tx_pending)
        return;
    while (REG(base, EVENTS_TXDRDY) == 0) {
    }
    REG(base, EVENTS_TXDRDY) = 0;
    tx_pending = false;
}
