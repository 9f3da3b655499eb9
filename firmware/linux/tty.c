/* Opening the serial line the runtime serves: a UART (/dev/ttyAMA0, /dev/serial0), a USB
 * gadget port (/dev/ttyGS0), a USB serial adapter, or a pseudo-terminal slave (tests, and
 * `edgebnn board run linux:…`). The protocol is binary, so the line goes to raw mode: no echo,
 * no line editing, no CR/LF translation, no flow-control characters, 8 data bits, and the modem
 * lines ignored (CLOCAL) so a cable without DCD still works. Reads never wait inside the
 * kernel for a byte count (VMIN 1, VTIME 0): the board layer waits in poll() with its own
 * timeouts. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "runtime.h"

/* The termios speed constant for a baud rate; B0 if the rate is not a standard one. */
static speed_t speed_of(uint32_t baud)
{
    static const struct { uint32_t baud; speed_t speed; } rates[] = {
        {9600, B9600}, {19200, B19200}, {38400, B38400}, {57600, B57600}, {115200, B115200},
        {230400, B230400}, {460800, B460800}, {921600, B921600}, {1000000, B1000000},
        {2000000, B2000000}, {3000000, B3000000}, {4000000, B4000000},
    };
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
        if (rates[i].baud == baud)
            return rates[i].speed;
    return B0;
}

int linux_tty_raw(int fd, uint32_t baud)
{
    struct termios t;
    speed_t speed = speed_of(baud);
    if (speed == B0) {
        errno = EINVAL;
        return -1;
    }
    if (tcgetattr(fd, &t) != 0)
        return -1;
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cflag &= ~(tcflag_t)(CSTOPB | PARENB | CRTSCTS);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (cfsetispeed(&t, speed) != 0 || cfsetospeed(&t, speed) != 0)
        return -1;
    if (tcsetattr(fd, TCSANOW, &t) != 0)
        return -1;
    /* Bytes that arrived before the runtime started belong to no request. */
    tcflush(fd, TCIFLUSH);
    return 0;
}

int linux_tty_open(const char *path, uint32_t baud, char *err, size_t err_size)
{
    int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_size, "--tty %s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (!isatty(fd)) {
        snprintf(err, err_size, "--tty %s: not a terminal device (expected a tty such as "
                 "/dev/ttyAMA0, /dev/ttyGS0 or /dev/pts/N)", path);
        close(fd);
        return -1;
    }
    if (linux_tty_raw(fd, baud) != 0) {
        snprintf(err, err_size, "--tty %s: cannot set raw mode at %u baud: %s", path,
                 (unsigned)baud, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}
