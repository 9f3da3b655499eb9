/* The Linux counterpart of startup/fault.c: a crash of the serving code (an undefined
 * instruction, a bad address, a bus error, an arithmetic trap) is reported on the line as one
 * line starting with "EBNN-FAULT", then this boot ends with status 128 + the signal number
 * (the supervisor exits with it, as QEMU does with the firmware's semihosting status).
 *
 *   EBNN-FAULT SIGILL sig=4 code=1 addr=0x0000000000401234
 *
 * The handler runs on its own static stack, so a stack overflow can still be reported, and
 * uses only async-signal-safe calls (write, _exit). */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"

static int fault_fd = 1;
static uint8_t fault_stack[65536] __attribute__((aligned(16)));

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGILL: return "SIGILL";
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    default: return "SIGFPE";
    }
}

/* Appends s to the line being built at *at (bounded by end). */
static void put(char **at, const char *end, const char *s)
{
    while (*s && *at < end)
        *(*at)++ = *s++;
}

static void put_num(char **at, const char *end, uintptr_t v, unsigned base, int digits)
{
    char buf[2 * sizeof v + 1];
    int n = 0;
    do {
        buf[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v || n < digits);
    while (n && *at < end)
        *(*at)++ = buf[--n];
}

static void on_fault(int sig, siginfo_t *info, void *context)
{
    char msg[128], *at = msg;
    const char *end = msg + sizeof msg;
    (void)context;
    put(&at, end, "\r\nEBNN-FAULT ");
    put(&at, end, signal_name(sig));
    put(&at, end, " sig=");
    put_num(&at, end, (uintptr_t)sig, 10, 1);
    put(&at, end, info->si_code < 0 ? " code=-" : " code=");
    put_num(&at, end, (uintptr_t)(info->si_code < 0 ? -info->si_code : info->si_code), 10, 1);
    put(&at, end, " addr=0x");
    put_num(&at, end, (uintptr_t)info->si_addr, 16, (int)(2 * sizeof(uintptr_t)));
    put(&at, end, "\r\n");
    (void)linux_write_all(fault_fd, msg, (size_t)(at - msg));
    _exit(128 + sig);
}

void linux_fault_install(int out_fd)
{
    static const int sigs[] = {SIGILL, SIGSEGV, SIGBUS, SIGFPE};
    stack_t ss;
    struct sigaction sa;
    fault_fd = out_fd;
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = fault_stack;
    ss.ss_size = sizeof fault_stack;
    sigaltstack(&ss, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}
