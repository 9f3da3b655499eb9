/* Board layer for STM32F4 parts whose console is USART2 on PA2/PA3 (AF7): the ST-LINK virtual
 * COM port of Nucleo-64 boards (F411RE, F446RE) and QEMU's netduinoplus2 (STM32F405RG), and
 * SysTick at the core clock. board_init runs the core at BOARD_CLOCK_HZ = 168 MHz from the
 * 16 MHz HSI through the PLL (M=16, N=336, P=2, Q=7), flash at 5 wait states, APB1 at /4
 * (42 MHz: the USART2 clock), APB2 at /2. QEMU 7.2 models neither the RCC nor the GPIOs (reads
 * 0, writes ignored; its CPU clock is 168 MHz anyway), so the PLL wait ends at its bound there
 * and the clock and pin setup is "built, not run"; the USART itself is modelled. */
#include "board.h"
#include "stm32_usart.h"
#include "systick.h"

#define REG(a) (*(volatile uint32_t *)(uintptr_t)(a))
#define RCC_CR       REG(0x40023800u)
#define RCC_PLLCFGR  REG(0x40023804u)
#define RCC_CFGR     REG(0x40023808u)
#define RCC_AHB1ENR  REG(0x40023830u)
#define RCC_APB1ENR  REG(0x40023840u)
#define PWR_CR       REG(0x40007000u)
#define FLASH_ACR    REG(0x40023C00u)
#define GPIOA_MODER  REG(0x40020000u)
#define GPIOA_AFRL   REG(0x40020020u)

#define CR_PLLON     (1u << 24)
#define CR_PLLRDY    (1u << 25)
#define CFGR_SW_PLL  2u
#define CFGR_SWS     (3u << 2)
#define CFGR_SWS_PLL (2u << 2)
#define CFGR_BUSES   ((5u << 10) | (4u << 13))          /* PPRE1 = /4, PPRE2 = /2 */
#define PLLCFGR_168  (16u | (336u << 6) | (0u << 16) | (7u << 24))   /* HSI source: bit 22 = 0 */
#define ACR_5WS      (5u | (1u << 8) | (1u << 9) | (1u << 10))      /* + prefetch, I/D caches */
#define APB1_HZ      (BOARD_CLOCK_HZ / 4u)
#define PLL_WAIT     100000u   /* bounded waits: ~1 ms on silicon, a no-op where RCC is absent */

#define UART ((uintptr_t)BOARD_UART0_BASE)

/* From reset (HSI) to the PLL; nothing to do when the bootloader already did it. */
static void clock_init(void)
{
    uint32_t n;
    if ((RCC_CFGR & CFGR_SWS) == CFGR_SWS_PLL)
        return;
    RCC_APB1ENR |= 1u << 28;                /* PWREN */
    PWR_CR |= 1u << 14;                     /* VOS: scale 1, needed above 144 MHz */
    RCC_PLLCFGR = PLLCFGR_168;
    RCC_CR |= CR_PLLON;
    for (n = 0; n < PLL_WAIT && !(RCC_CR & CR_PLLRDY); n++) {
    }
    if (!(RCC_CR & CR_PLLRDY))
        return;                             /* no PLL: stay on the HSI */
    FLASH_ACR = ACR_5WS;                    /* wait states before the clock goes up */
    RCC_CFGR = CFGR_BUSES | CFGR_SW_PLL;
    for (n = 0; n < PLL_WAIT && (RCC_CFGR & CFGR_SWS) != CFGR_SWS_PLL; n++) {
    }
}

/* PA2 (TX) and PA3 (RX) to alternate function 7, USART2's. */
static void pins_init(void)
{
    RCC_AHB1ENR |= 1u << 0;                 /* GPIOAEN */
    RCC_APB1ENR |= 1u << 17;                /* USART2EN */
    GPIOA_MODER = (GPIOA_MODER & ~(0xFu << 4)) | (0xAu << 4);
    GPIOA_AFRL = (GPIOA_AFRL & ~(0xFFu << 8)) | (0x77u << 8);
}

void board_init(void)
{
    clock_init();
    pins_init();
    stm32_usart_init(UART, APB1_HZ, BOARD_BAUD);
    systick_init();
}

void board_uart_putc(uint8_t c) { stm32_usart_putc(UART, c); }
bool board_uart_available(void) { return stm32_usart_rx_ready(UART); }
uint8_t board_uart_rx(void) { return stm32_usart_rx(UART); }
void board_uart_flush(void) { stm32_usart_flush(UART); }
uint64_t board_cycles(void) { return systick_cycles(); }
