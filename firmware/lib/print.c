#include "print.h"
#include "board.h"

void print_dec(uint32_t v)
{
    char buf[10];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n)
        board_uart_putc((uint8_t)buf[--n]);
}

void print_hex(uint32_t v)
{
    board_uart_puts("0x");
    for (int shift = 28; shift >= 0; shift -= 4)
        board_uart_putc((uint8_t)"0123456789abcdef"[(v >> shift) & 0xFu]);
}
