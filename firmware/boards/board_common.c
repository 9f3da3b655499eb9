/* Board services built on the per-board primitives; identical on every board. */
#include "board.h"
#include "cmsdk_watchdog.h"
#include "cortexm.h"
#include "flashmap.h"
#include "semihost.h"

const char *board_name(void) { return BOARD_NAME; }
uint32_t board_clock_hz(void) { return BOARD_CLOCK_HZ; }

uint32_t board_millis(void)
{
    return (uint32_t)(board_cycles() / (BOARD_CLOCK_HZ / 1000u));
}

void board_watchdog_start(uint32_t ms)
{
#ifdef BOARD_WATCHDOG_BASE
    cmsdk_watchdog_start(BOARD_WATCHDOG_BASE, (uint32_t)((uint64_t)ms * BOARD_WATCHDOG_HZ / 1000u));
#else
    (void)ms;
#endif
}

void board_watchdog_feed(void)
{
#ifdef BOARD_WATCHDOG_BASE
    cmsdk_watchdog_feed(BOARD_WATCHDOG_BASE);
#endif
}

void board_app_confirm(void)
{
    static const uint32_t set = 0;
    const uint32_t at = FLASHMAP_CONFIRMED_AT;
    if (*(const volatile uint32_t *)(uintptr_t)(__app_slot + at) == 0xFFFFFFFFu)
        (void)board_store_write(flashmap_offset(__app_slot) + at, &set, sizeof set);
}

/* Waiting for input is where a working application spends its time: feed the watchdog here. */
int board_uart_getc(uint32_t timeout_ms)
{
    board_watchdog_feed();
    if (board_uart_available())
        return board_uart_rx();
    if (timeout_ms == 0)
        return -1;
    uint32_t start = board_millis();
    while (!board_uart_available()) {
        board_watchdog_feed();
        if (timeout_ms != BOARD_WAIT_FOREVER && board_millis() - start >= timeout_ms)
            return -1;
    }
    return board_uart_rx();
}

void board_uart_write(const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n--)
        board_uart_putc(*p++);
}

void board_uart_puts(const char *s)
{
    while (*s)
        board_uart_putc((uint8_t)*s++);
}

void board_reset(void)
{
    board_uart_flush();
    cm_dsb();
    SCB_AIRCR = AIRCR_SYSRESETREQ;
    cm_dsb();
    for (;;) {
    }
}

void board_semihost_exit(int status)
{
    board_uart_flush();
#if EBNN_SEMIHOSTING
    semihost_exit(status);
#else
    (void)status;
#endif
    board_reset();
}
