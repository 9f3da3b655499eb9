/* Board layer for the Raspberry Pi RP2040 (Pico: Cortex-M0+) and RP2350 (Pico 2: Cortex-M33,
 * Secure), which share their clock, reset, GPIO and UART blocks at different addresses: console
 * UART0 (a PL011) on GP0 (TX) / GP1 (RX), tick SysTick at the core clock. board_init runs the
 * core at BOARD_CLOCK_HZ (RP2040 125 MHz, RP2350 150 MHz) from the board's 12 MHz crystal
 * through PLL_SYS (VCO 1500 MHz = 12 MHz x 125, / POSTDIV1 / POSTDIV2), clk_ref on the
 * crystal, clk_peri (the UART's clock) = clk_sys. The chip is told apart by the core: this
 * layer serves exactly one ARMv6-M part (RP2040) and one ARMv8-M part (RP2350). QEMU models
 * neither chip: built, not run. */
#include "board.h"
#include "pl011_uart.h"
#include "systick.h"

#define REG(a) (*(volatile uint32_t *)(uintptr_t)(a))

#if defined(__ARM_ARCH_6M__)           /* RP2040 */
#define CLOCKS_BASE     0x40008000u
#define RESETS_BASE     0x4000C000u
#define IO_BANK0_BASE   0x40014000u
#define PADS_BANK0_BASE 0x4001C000u
#define XOSC_BASE       0x40024000u
#define PLL_SYS_BASE    0x40028000u
#define RESET_IO_BANK0  (1u << 5)
#define RESET_PADS      (1u << 8)
#define RESET_PLL_SYS   (1u << 12)
#define RESET_UART0     (1u << 22)
#define POSTDIV1        6u             /* 1500 / 6 / 2 = 125 MHz */
#define PAD_ISO         0u             /* RP2040 pads have no isolation latch */
#else                                  /* RP2350 */
#define CLOCKS_BASE     0x40010000u
#define RESETS_BASE     0x40020000u
#define IO_BANK0_BASE   0x40028000u
#define PADS_BANK0_BASE 0x40038000u
#define XOSC_BASE       0x40048000u
#define PLL_SYS_BASE    0x40050000u
#define RESET_IO_BANK0  (1u << 6)
#define RESET_PADS      (1u << 9)
#define RESET_PLL_SYS   (1u << 14)
#define RESET_UART0     (1u << 26)
#define POSTDIV1        5u             /* 1500 / 5 / 2 = 150 MHz */
#define PAD_ISO         (1u << 8)      /* RP2350: pads come out of reset isolated */
#endif
#define POSTDIV2        2u
#define FBDIV           125u           /* 12 MHz x 125 = 1500 MHz VCO */

#define RESETS_RESET      REG(RESETS_BASE + 0x0u)
#define RESETS_DONE       REG(RESETS_BASE + 0x8u)
#define XOSC_CTRL         REG(XOSC_BASE + 0x0u)
#define XOSC_STATUS       REG(XOSC_BASE + 0x4u)
#define XOSC_STARTUP      REG(XOSC_BASE + 0xCu)
#define PLL_CS            REG(PLL_SYS_BASE + 0x0u)
#define PLL_PWR           REG(PLL_SYS_BASE + 0x4u)
#define PLL_FBDIV         REG(PLL_SYS_BASE + 0x8u)
#define PLL_PRIM          REG(PLL_SYS_BASE + 0xCu)
#define CLK_REF_CTRL      REG(CLOCKS_BASE + 0x30u)
#define CLK_REF_SELECTED  REG(CLOCKS_BASE + 0x38u)
#define CLK_SYS_CTRL      REG(CLOCKS_BASE + 0x3Cu)
#define CLK_SYS_SELECTED  REG(CLOCKS_BASE + 0x44u)
#define CLK_PERI_CTRL     REG(CLOCKS_BASE + 0x48u)
#define GPIO_CTRL(n)      REG(IO_BANK0_BASE + 0x4u + 8u * (n))
#define PAD_GPIO(n)       REG(PADS_BANK0_BASE + 0x4u + 4u * (n))

#define XOSC_1_15MHZ      0xAA0u
#define XOSC_ENABLE       (0xFABu << 12)
#define XOSC_STABLE       (1u << 31)
#define XOSC_DELAY        ((12000u + 128u) / 256u)   /* 1 ms of 12 MHz in units of 256 */
#define PLL_LOCK          (1u << 31)
#define PLL_PD            (1u << 0)
#define PLL_POSTDIVPD     (1u << 3)
#define PLL_VCOPD         (1u << 5)
#define REF_SRC_XOSC      2u
#define SYS_SRC_AUX       1u             /* AUXSRC 0 = pll_sys */
#define PERI_ENABLE       (1u << 11)     /* AUXSRC 0 = clk_sys */
#define FUNC_UART         2u
#define PAD_IE            (1u << 6)
#define WAIT              1000000u       /* bounded waits: ~10 ms at the ROSC's 6 MHz */

#define UART0_HZ ((uint32_t)BOARD_CLOCK_HZ)

static void unreset(uint32_t mask)
{
    uint32_t n;
    RESETS_RESET &= ~mask;
    for (n = 0; n < WAIT && (RESETS_DONE & mask) != mask; n++) {
    }
}

/* Crystal on, PLL_SYS locked at 1500 MHz, clk_sys and clk_peri from it. */
static void clock_init(void)
{
    uint32_t n;
    XOSC_CTRL = XOSC_1_15MHZ;
    XOSC_STARTUP = XOSC_DELAY;
    XOSC_CTRL = XOSC_1_15MHZ | XOSC_ENABLE;
    for (n = 0; n < WAIT && !(XOSC_STATUS & XOSC_STABLE); n++) {
    }
    CLK_SYS_CTRL = 0;                               /* clk_sys on clk_ref while we change it */
    for (n = 0; n < WAIT && CLK_SYS_SELECTED != 1u; n++) {
    }
    CLK_REF_CTRL = REF_SRC_XOSC;
    for (n = 0; n < WAIT && CLK_REF_SELECTED != (1u << REF_SRC_XOSC); n++) {
    }
    RESETS_RESET |= RESET_PLL_SYS;
    unreset(RESET_PLL_SYS);
    PLL_CS = 1u;                                    /* REFDIV 1 */
    PLL_FBDIV = FBDIV;
    PLL_PWR &= ~(PLL_PD | PLL_VCOPD);
    for (n = 0; n < WAIT && !(PLL_CS & PLL_LOCK); n++) {
    }
    PLL_PRIM = (POSTDIV1 << 16) | (POSTDIV2 << 12);
    PLL_PWR &= ~PLL_POSTDIVPD;
    CLK_SYS_CTRL = SYS_SRC_AUX;                     /* glitchless switch to pll_sys */
    for (n = 0; n < WAIT && CLK_SYS_SELECTED != 2u; n++) {
    }
    CLK_PERI_CTRL = PERI_ENABLE;
}

/* GP0/GP1 to UART0 (function 2), RX pad input enabled, pads out of isolation (RP2350). */
static void pins_init(void)
{
    unreset(RESET_IO_BANK0 | RESET_PADS | RESET_UART0);
    PAD_GPIO(0) &= ~PAD_ISO;
    PAD_GPIO(1) = (PAD_GPIO(1) | PAD_IE) & ~PAD_ISO;
    GPIO_CTRL(0) = FUNC_UART;
    GPIO_CTRL(1) = FUNC_UART;
}

void board_init(void)
{
    if (CLK_SYS_SELECTED != 2u)                     /* not already done by the bootloader */
        clock_init();
    pins_init();
    pl011_uart_init(BOARD_UART0_BASE, UART0_HZ, BOARD_BAUD);
    systick_init();
}

void board_uart_putc(uint8_t c) { pl011_uart_putc(BOARD_UART0_BASE, c); }
bool board_uart_available(void) { return pl011_uart_rx_ready(BOARD_UART0_BASE); }
uint8_t board_uart_rx(void) { return pl011_uart_rx(BOARD_UART0_BASE); }
void board_uart_flush(void) { pl011_uart_flush(BOARD_UART0_BASE); }
uint64_t board_cycles(void) { return systick_cycles(); }
