/* The board layer (boards/board.h) on Linux: UART0 is the line the supervisor attached (a tty
 * or stdin/stdout), the cycle counter is CLOCK_MONOTONIC in nanoseconds, reset ends this boot
 * so the supervisor starts a fresh one, and the semihosting exit is the process exit.
 *
 * Unlike a UART register, every read() and write() is a system call (and under qemu-user an
 * emulated one), so both directions are buffered: bytes the server writes collect in tx_buf
 * and leave when it is full, when the server waits for input (so a whole reply goes out
 * before the runtime listens again), or on board_uart_flush(). Waiting for input sleeps in
 * poll() instead of spinning as board_common.c does on bare metal. All memory is static. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "board.h"
#include "edgebnn.h"
#include "runtime.h"

#ifndef HEAP_SIZE
#error "HEAP_SIZE comes from the Makefile"
#endif

/* The counter board_cycles() runs at: nanoseconds (docs: firmware/README.md, Linux runtime). */
#define LINUX_CLOCK_HZ 1000000000u

/* The inference arena the server uses (__heap_start .. __heap_end; the Makefile defines the
 * end symbol), named as in the firmware's linker script. */
uint8_t __heap_start[HEAP_SIZE] __attribute__((aligned(EBNN_ALIGN)));

/* The word the application leaves for the bootloader before BOOT_CMD_ENTER's reset
 * (boot/bootctl.h). The Linux runtime has no bootloader (it is updated by replacing the
 * program), so the reset that follows starts the runtime again and nothing reads it. */
volatile uint32_t __boot_request[4];

static int in_fd = 0, out_fd = 1, reset_pipe = -1;
static const char *line = "stdin/stdout";
static struct timespec t0;

static uint8_t tx_buf[4096];
static size_t tx_len;
static uint8_t rx_buf[4096];
static size_t rx_pos, rx_len;

void linux_board_attach(int in, int out, const char *line_name, int reset_fd)
{
    in_fd = in;
    out_fd = out;
    line = line_name;
    reset_pipe = reset_fd;
}

int linux_write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The host closed the line (EOF, hang-up, or a write error): nobody is left to serve. */
__attribute__((noreturn)) static void line_closed(const char *what)
{
    dprintf(2, "edgebnn-runtime: %s: %s; exiting\n", line, what);
    _exit(0);
}

static void tx_drain(void)
{
    if (tx_len && linux_write_all(out_fd, tx_buf, tx_len) != 0)
        line_closed(errno == EPIPE ? "the reader went away" : "write failed (hang-up)");
    tx_len = 0;
}

/* Waits up to timeout_ms (BOARD_WAIT_FOREVER: no limit) for input; true once rx_buf has some. */
static bool rx_fill(uint32_t timeout_ms)
{
    uint64_t deadline = board_cycles() / 1000000u + timeout_ms;
    for (;;) {
        int wait = -1;
        if (timeout_ms != BOARD_WAIT_FOREVER) {
            uint64_t now = board_cycles() / 1000000u;
            wait = now >= deadline ? 0 : deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now);
        }
        struct pollfd p = {in_fd, POLLIN, 0};
        int r = poll(&p, 1, wait);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            line_closed("poll failed");
        if (r == 0)
            return false;
        ssize_t n = read(in_fd, rx_buf, sizeof rx_buf);
        if (n > 0) {
            rx_pos = 0;
            rx_len = (size_t)n;
            return true;
        }
        if (n == 0)
            line_closed("end of input (hang-up)");
        if (errno != EINTR && errno != EAGAIN)
            line_closed("read failed (hang-up)");
    }
}

void board_init(void)
{
    clock_gettime(CLOCK_MONOTONIC, &t0);
    linux_fault_install(out_fd);
}

void board_uart_putc(uint8_t c)
{
    if (tx_len == sizeof tx_buf)
        tx_drain();
    tx_buf[tx_len++] = c;
}

bool board_uart_available(void)
{
    if (rx_pos < rx_len)
        return true;
    tx_drain();
    return rx_fill(0);
}

uint8_t board_uart_rx(void) { return rx_buf[rx_pos++]; }

void board_uart_flush(void)
{
    tx_drain();
    if (isatty(out_fd))
        tcdrain(out_fd);
}

uint64_t board_cycles(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)(t.tv_sec - t0.tv_sec) * LINUX_CLOCK_HZ + (uint64_t)t.tv_nsec -
           (uint64_t)t0.tv_nsec;
}

const char *board_name(void) { return BOARD_NAME; }
uint32_t board_clock_hz(void) { return LINUX_CLOCK_HZ; }
uint32_t board_millis(void) { return (uint32_t)(board_cycles() / (LINUX_CLOCK_HZ / 1000u)); }

int board_uart_getc(uint32_t timeout_ms)
{
    if (rx_pos == rx_len) {
        tx_drain();   /* everything the server wrote leaves before it listens */
        if (!rx_fill(timeout_ms))
            return -1;
    }
    return rx_buf[rx_pos++];
}

void board_uart_write(const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n--)
        board_uart_putc(*p++);
}

void board_uart_puts(const char *s)
{
    board_uart_write(s, strlen(s));
}

/* Ends this boot; the supervisor (main.c) reads the byte and boots again. */
void board_reset(void)
{
    board_uart_flush();
    if (reset_pipe >= 0)
        (void)linux_write_all(reset_pipe, "R", 1);
    _exit(0);
}

void board_semihost_exit(int status)
{
#if EBNN_SEMIHOSTING
    board_uart_flush();
    _exit(status);
#else
    (void)status;
    board_reset();
#endif
}

/* No bootloader and no watchdog on Linux (a supervisor such as systemd restarts the runtime):
 * there is no trial to confirm and nothing to feed. */
void board_watchdog_start(uint32_t ms) { (void)ms; }
void board_watchdog_feed(void) {}
void board_app_confirm(void) {}
