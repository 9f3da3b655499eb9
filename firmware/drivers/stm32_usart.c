/* STM32 USART, polled (stm32_usart.h). Over 16 oversampling: BRR = pclk / baud, rounded,
 * is the 12.4 fixed-point divider (mantissa and fraction) as the reference manual defines it. */
#include "stm32_usart.h"

#define USART_SR(b)   (*(volatile uint32_t *)((b) + 0x00u))
#define USART_DR(b)   (*(volatile uint32_t *)((b) + 0x04u))
#define USART_BRR(b)  (*(volatile uint32_t *)((b) + 0x08u))
#define USART_CR1(b)  (*(volatile uint32_t *)((b) + 0x0Cu))
#define USART_CR2(b)  (*(volatile uint32_t *)((b) + 0x10u))
#define USART_CR3(b)  (*(volatile uint32_t *)((b) + 0x14u))

#define SR_ORE   (1u << 3)    /* overrun: cleared by reading SR then DR */
#define SR_RXNE  (1u << 5)
#define SR_TC    (1u << 6)
#define SR_TXE   (1u << 7)
#define CR1_RE   (1u << 2)
#define CR1_TE   (1u << 3)
#define CR1_UE   (1u << 13)

void stm32_usart_init(uintptr_t base, uint32_t pclk_hz, uint32_t baud)
{
    USART_CR1(base) = 0;
    USART_CR2(base) = 0;    /* 1 stop bit */
    USART_CR3(base) = 0;    /* no flow control, no DMA */
    USART_BRR(base) = (pclk_hz + baud / 2u) / baud;
    USART_CR1(base) = CR1_UE | CR1_TE | CR1_RE;   /* 8 data bits, no parity */
    if (USART_SR(base) & (SR_ORE | SR_RXNE))
        (void)USART_DR(base);   /* a stale byte or overrun from before the reset */
}

void stm32_usart_putc(uintptr_t base, uint8_t c)
{
    while (!(USART_SR(base) & SR_TXE)) {
    }
    USART_DR(base) = c;
}

/* An overrun (a byte lost while the server was busy) also sets RXNE: reading DR clears it, and
 * the framing layer sees the gap as a bad frame. */
bool stm32_usart_rx_ready(uintptr_t base) { return (USART_SR(base) & (SR_RXNE | SR_ORE)) != 0; }

uint8_t stm32_usart_rx(uintptr_t base) { return (uint8_t)USART_DR(base); }

void stm32_usart_flush(uintptr_t base)
{
    while ((USART_SR(base) & (SR_TXE | SR_TC)) != (SR_TXE | SR_TC)) {
    }
}
