/* STM32 USART (F2/F4/F7 register layout: SR, DR, BRR, CR1), polled, 8N1. The block of
 * QEMU's `stm32f2xx-usart` (netduinoplus2) and of the ST-LINK virtual COM port of the
 * Nucleo-F411RE/F446RE boards (USART2); clocks and pins are the board file's business. */
#ifndef EBNN_STM32_USART_H
#define EBNN_STM32_USART_H

#include <stdbool.h>
#include <stdint.h>

/* `pclk_hz`: the clock of the bus the USART sits on (APB1 for USART2, APB2 for USART1). */
void stm32_usart_init(uintptr_t base, uint32_t pclk_hz, uint32_t baud);
void stm32_usart_putc(uintptr_t base, uint8_t c);
bool stm32_usart_rx_ready(uintptr_t base);
uint8_t stm32_usart_rx(uintptr_t base);      /* call only when stm32_usart_rx_ready() */
void stm32_usart_flush(uintptr_t base);

#endif
