/* ARM semihosting: the calls the test harness needs (end the simulation with a status) and the
 * host-file calls of the store on QEMU boards whose flash is ROM (boards/semihost_store.c). */
#ifndef EBNN_SEMIHOST_H
#define EBNN_SEMIHOST_H

#include <stdint.h>

/* Returns only if no debugger/QEMU handled the call (then the caller should reset). On real
 * hardware without a debugger the BKPT escalates to HardFault instead: tests only. */
void semihost_exit(int status);

/* The command line the host gave (QEMU: -semihosting-config arg=...), NUL-terminated in
 * buf[cap]; 0, or -1 when there is none or it does not fit. */
int semihost_cmdline(char *buf, uint32_t cap);
/* Opens a host file for reading and writing ("r+b"): a handle >= 0, or -1. */
int semihost_open(const char *path);
/* `len` bytes at `pos` of the file from guest memory `src` / into guest memory `dst`. The
 * host writes `dst` as a debugger does, so it may be ROM (QEMU: cpu_memory_rw_debug). 0, or -1
 * when not every byte moved. */
int semihost_pwrite(int handle, uint32_t pos, const void *src, uint32_t len);
int semihost_pread(int handle, uint32_t pos, void *dst, uint32_t len);

/* The store's host file of a QEMU board (edgebnn/device/qemu.py names it on the command line,
 * at most SEMIHOST_PATH_CAP - 1 bytes), opened at the first call: a handle, or -1 when the host
 * named none. Used by the stores that keep it (boards/semihost_store.c, nrf_nvmc_store.c). */
#define SEMIHOST_PATH_CAP 512u
int semihost_store_file(void);

#endif
