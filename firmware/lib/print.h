/* Minimal number formatting over the board UART (no printf: newlib's pulls in malloc). */
#ifndef EBNN_PRINT_H
#define EBNN_PRINT_H

#include <stdint.h>

void print_dec(uint32_t v);
void print_hex(uint32_t v);   /* 0x%08x */

#endif
