/* Board layer for Nordic nRF51/nRF52 parts: the BBC micro:bit v1 (nRF51822, Cortex-M0,
 * 16 MHz; QEMU's `microbit`) and the nRF52840 DK (Cortex-M4F, 64 MHz; built, not run). The
 * console is the legacy UART (drivers/nrf_uart.c) on the pins of the board's interface chip
 * (boards.mk `defs`: NRF_UART_TX_PIN, NRF_UART_RX_PIN), the time TIMER0 in 32-bit mode at
 * 16 MHz. The nRF51's Cortex-M0 has no SysTick, so TIMER0 is what both parts share: a
 * free-running counter captured on every read and widened to 64 bits in software, which is
 * exact as long as it is read at least once per wrap (2^32 / 16 MHz = 268 s; every wait for
 * input reads it). No interrupt is used: the v6-M core has no VTOR, so the application runs on
 * the bootloader's vector table (docs/boot.md), which takes only faults. The HFCLK crystal is
 * started for an accurate baud rate; QEMU models no CLOCK block, so that wait ends at its
 * bound there. */
#include "board.h"
#include "nrf_uart.h"

#if !defined(NRF_UART_TX_PIN) || !defined(NRF_UART_RX_PIN)
#error "NRF_UART_TX_PIN and NRF_UART_RX_PIN come from boards.mk (<board>.defs)"
#endif

#define REG(a) (*(volatile uint32_t *)(uintptr_t)(a))
#define CLOCK_HFCLKSTART    REG(0x40000000u)
#define CLOCK_HFCLKSTARTED  REG(0x40000100u)
#define TIMER0              0x40008000u
#define TIMER_START         REG(TIMER0 + 0x000u)
#define TIMER_STOP          REG(TIMER0 + 0x004u)
#define TIMER_CLEAR         REG(TIMER0 + 0x00Cu)
#define TIMER_CAPTURE0      REG(TIMER0 + 0x040u)
#define TIMER_MODE          REG(TIMER0 + 0x504u)
#define TIMER_BITMODE       REG(TIMER0 + 0x508u)
#define TIMER_PRESCALER     REG(TIMER0 + 0x510u)
#define TIMER_CC0           REG(TIMER0 + 0x540u)
#define BITMODE_32          3u
#define TIMER_HZ            16000000u
#define HFCLK_WAIT          100000u   /* ~0.4 ms of crystal start-up on silicon, bounded */

#define UART ((uintptr_t)BOARD_UART0_BASE)

#if BOARD_CLOCK_HZ % TIMER_HZ
#error "board_cycles scales TIMER0's 16 MHz by a whole factor: the core clock must be a multiple"
#endif

static uint32_t last_count, wraps;

void board_init(void)
{
    uint32_t n;
    CLOCK_HFCLKSTART = 1;
    for (n = 0; n < HFCLK_WAIT && CLOCK_HFCLKSTARTED == 0; n++) {
    }
    TIMER_STOP = 1;
    TIMER_MODE = 0;                       /* timer, not counter */
    TIMER_BITMODE = BITMODE_32;
    TIMER_PRESCALER = 0;                  /* 16 MHz */
    TIMER_CLEAR = 1;
    TIMER_START = 1;
    last_count = wraps = 0;
    nrf_uart_init(UART, NRF_UART_TX_PIN, NRF_UART_RX_PIN);
}

void board_uart_putc(uint8_t c) { nrf_uart_putc(UART, c); }
bool board_uart_available(void) { return nrf_uart_rx_ready(UART); }
uint8_t board_uart_rx(void) { return nrf_uart_rx(UART); }
void board_uart_flush(void) { nrf_uart_flush(UART); }

uint64_t board_cycles(void)
{
    uint32_t now;
    TIMER_CAPTURE0 = 1;
    now = TIMER_CC0;
    if (now < last_count)
        wraps++;
    last_count = now;
    return (((uint64_t)wraps << 32) | now) * (BOARD_CLOCK_HZ / TIMER_HZ);
}
