/* Bring-up application for the board layer and the serial link. The protocol server replaces
 * it; nothing else should build on its behaviour.
 *
 * Prints one banner line, then echoes every received byte. A byte sequence ESC ESC 'E' 'B'
 * followed by a command byte (all echoed like any other byte) acts on the board:
 *   'X' <status>  end the QEMU run with exit status <status> (semihosting; tests only)
 *   'R'           system reset via AIRCR (the banner is printed again)
 *   'F'           execute an undefined instruction, to exercise the fault report
 */
#include <stdint.h>

#include "board.h"
#include "print.h"

#ifndef FW_VERSION
#error "FW_VERSION comes from the Makefile"
#endif

static const uint8_t magic[4] = {0x1B, 0x1B, 'E', 'B'};

/* Length of the longest suffix of the input that is a prefix of `magic` after byte c. */
static unsigned match_step(unsigned matched, uint8_t c)
{
    if (c == magic[matched])
        return matched + 1;
    if (c == 0x1B)                 /* ESC ESC ESC: the last two still start the magic */
        return matched == 2 ? 2 : 1;
    return 0;
}

int main(void)
{
    board_init();
    board_uart_puts("EBNN-FW " FW_VERSION " board=");
    board_uart_puts(board_name());
    board_uart_puts(" clock=");
    print_dec(board_clock_hz());
    board_uart_puts("\r\n");

    unsigned matched = 0;
    int command = 0;
    for (;;) {
        uint8_t c = (uint8_t)board_uart_getc(BOARD_WAIT_FOREVER);
        board_uart_putc(c);
        if (command == 'X')
            board_semihost_exit(c);
        command = 0;
        if (matched == sizeof magic) {
            matched = 0;
            if (c == 'X') {
                command = 'X';     /* the next byte is the status */
                continue;
            }
            if (c == 'R')
                board_reset();
            if (c == 'F') {
                board_uart_flush();
                __asm volatile("udf #0");
            }
        }
        matched = match_step(matched, c);
    }
}
