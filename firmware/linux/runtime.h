/* What the Linux runtime's own files share (the server only sees board.h). The process layout:
 * main.c is a supervisor that owns the line (a tty opened by tty.c, or stdin/stdout) and forks
 * one "boot" after another; each boot runs the unchanged firmware server on the board layer
 * (board_linux.c). RESET ends a boot and the supervisor starts the next, so every boot starts
 * from the static memory of a fresh process, as a board starts from cleared RAM. */
#ifndef EBNN_LINUX_RUNTIME_H
#define EBNN_LINUX_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

/* The server's main() (compiled with -Dmain=ebnn_server_main). */
int ebnn_server_main(void);

/* board_linux.c: the line the board layer serves (in_fd == out_fd for a tty), its name for
 * messages, and the pipe end on which board_reset() tells the supervisor "boot again". Set in
 * the supervisor before the first boot. */
void linux_board_attach(int in_fd, int out_fd, const char *line_name, int reset_fd);

/* tty.c: opens a serial line (a tty, pty slave, USB gadget port) in raw 8N1 mode at `baud`
 * (ignored by ptys). Returns the fd, or -1 with a message naming the path in err. */
int linux_tty_open(const char *path, uint32_t baud, char *err, size_t err_size);
/* Raw mode on an fd that is already open (stdin when it is a terminal). 0, or -1 + errno. */
int linux_tty_raw(int fd, uint32_t baud);

/* store_linux.c: maps the persistent store (board.h) before the first boot: the file `path`
 * (created erased when new or empty; locked against a second runtime), or anonymous memory
 * when path is NULL. 0, or -1 with a message in err. */
int linux_store_open(const char *path, char *err, size_t err_size);

/* fault.c: reports SIGILL/SIGSEGV/SIGBUS/SIGFPE on the line as one `EBNN-FAULT` line (like the
 * firmware's fault handler on UART0), then ends the boot with status 128 + signal. */
void linux_fault_install(int out_fd);

/* Writes all of buf to fd (retrying short writes and EINTR). 0, or -1 + errno. */
int linux_write_all(int fd, const void *buf, size_t n);

#endif
