/* platform.h on the QEMU MPS2 boards, on firmware/'s board layer: UART0 for text, semihosting
 * to end the QEMU run with the status. */
#include "board.h"
#include "platform.h"
#include "print.h"

void platform_init(void) { board_init(); }

void platform_print(const char *text)
{
    for (; *text; text++) {
        if (*text == '\n')
            board_uart_putc('\r');
        board_uart_putc((uint8_t)*text);
    }
}

void platform_print_int(int32_t value)
{
    if (value < 0)
        board_uart_putc('-');
    print_dec(value < 0 ? 0u - (uint32_t)value : (uint32_t)value);
}

int platform_exit(int status) { board_semihost_exit(status); }
