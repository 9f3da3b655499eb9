/* edgebnn-runtime: the edgebnn protocol server (docs/protocol.md) as a Linux program for
 * Raspberry Pi-class boards. This file owns the process: it parses the options, opens the line,
 * and supervises "boots". Each boot is a forked child that runs the unchanged firmware server
 * (app/server_main.c) on the Linux board layer; RESET ends the boot (board_reset) and the
 * supervisor forks the next, so the banner appears again and all server state starts from
 * zeroed static memory, as on a board. (Re-executing the program would do the same on a Pi,
 * but not under qemu-user without binfmt_misc, where the tests run it.)
 *
 * Exit status: the boot's (TEST_EXIT's status; 128 + signal after a fault or a kill; 0 when the
 * host closed the line), 2 for bad options. Diagnostics go to stderr only. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "board.h"
#include "runtime.h"

static const char usage[] =
    "usage: edgebnn-runtime [--tty PATH] [--baud N] [--store FILE]\n"
    "Serves the edgebnn serial protocol (docs/protocol.md) for board " BOARD_NAME ",\n"
    "firmware " FW_VERSION ", on a serial line.\n"
    "  --tty PATH  the line: /dev/ttyGS0 (USB gadget), /dev/serial0, /dev/ttyUSB0, /dev/pts/N;\n"
    "              set to raw 8N1. Without it: stdin/stdout (raw mode if a terminal)\n"
    "  --baud N    line speed for real UARTs (default 115200; ignored by ptys)\n"
    "  --store FILE  the persistent store (the committed model; created when missing).\n"
    "              Without it the store lives in memory: it survives RESET, not the exit\n"
    "  --version   print the firmware version and board, then exit\n"
    "Ends when the host closes the line (status 0), on TEST_EXIT (its status), or on a fault\n"
    "(128 + signal, after an EBNN-FAULT line). RESET restarts the server with empty memory.\n";

static volatile sig_atomic_t boot_pid, forwarded_sig;

/* SIGTERM/SIGINT/SIGHUP to the supervisor end the running boot the same way. */
static void forward_signal(int sig)
{
    forwarded_sig = sig;
    if (boot_pid > 0)
        kill((pid_t)boot_pid, sig);
    else
        _exit(128 + sig);
}

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP};

static void set_handlers(void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
        sigaction(forwarded[i], &sa, NULL);
}

/* One boot: the child serves until it resets, exits or dies. Returns -1 after a RESET, else
 * the status the runtime ends with. */
static int boot(int in_fd, int out_fd, const char *line, const int reset[2])
{
    pid_t parent = getpid(), pid = fork();
    int status;
    char byte;
    if (pid < 0) {
        fprintf(stderr, "edgebnn-runtime: fork failed: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        set_handlers(SIG_DFL);
        /* A supervisor killed outright (SIGKILL) takes its boot with it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        close(reset[0]);
        linux_board_attach(in_fd, out_fd, line, reset[1]);
        _exit(ebnn_server_main());
    }
    boot_pid = pid;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "edgebnn-runtime: waitpid failed: %s\n", strerror(errno));
            return 1;
        }
    }
    boot_pid = 0;
    if (read(reset[0], &byte, 1) == 1)
        return -1;
    if (WIFSIGNALED(status)) {
        if (WTERMSIG(status) != forwarded_sig)   /* not the stop we were asked for */
            fprintf(stderr, "edgebnn-runtime: the server was killed by signal %d (%s)\n",
                    WTERMSIG(status), strsignal(WTERMSIG(status)));
        return 128 + WTERMSIG(status);
    }
    return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"tty", required_argument, NULL, 't'},
        {"baud", required_argument, NULL, 'b'},
        {"store", required_argument, NULL, 's'},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *tty = NULL, *line = "stdin/stdout", *store = NULL;
    uint32_t baud = BOARD_BAUD;
    int in_fd = 0, out_fd = 1, reset[2], opt, status;
    char err[512], *end;
    unsigned long b;

    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 't':
            tty = line = optarg;
            break;
        case 'b':
            errno = 0;
            b = strtoul(optarg, &end, 10);
            if (errno || *end || b == 0 || b > UINT32_MAX) {
                fprintf(stderr, "edgebnn-runtime: --baud %s: expected a positive integer\n",
                        optarg);
                return 2;
            }
            baud = (uint32_t)b;
            break;
        case 's':
            store = optarg;
            break;
        case 'v':
            printf("edgebnn-runtime " FW_VERSION " board=" BOARD_NAME "\n");
            return 0;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "edgebnn-runtime: unexpected argument %s\n%s", argv[optind], usage);
        return 2;
    }

    if (tty) {
        in_fd = out_fd = linux_tty_open(tty, baud, err, sizeof err);
        if (in_fd < 0) {
            fprintf(stderr, "edgebnn-runtime: %s\n", err);
            return 2;
        }
    } else if (isatty(in_fd) && linux_tty_raw(in_fd, baud) != 0) {
        fprintf(stderr, "edgebnn-runtime: stdin: cannot set raw mode at %u baud: %s\n",
                (unsigned)baud, strerror(errno));
        return 2;
    }
    if (linux_store_open(store, err, sizeof err) != 0) {
        fprintf(stderr, "edgebnn-runtime: %s\n", err);
        return 2;
    }
    if (pipe2(reset, O_CLOEXEC) != 0 || fcntl(reset[0], F_SETFL, O_NONBLOCK) != 0) {
        fprintf(stderr, "edgebnn-runtime: pipe: %s\n", strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);   /* a vanished reader is a write error, reported as such */
    set_handlers(forward_signal);
    while ((status = boot(in_fd, out_fd, line, reset)) < 0) {
    }
    return status;
}
