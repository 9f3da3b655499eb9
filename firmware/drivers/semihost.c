#include "semihost.h"

#define SYS_OPEN 0x01u
#define SYS_WRITE 0x05u
#define SYS_READ 0x06u
#define SYS_SEEK 0x0Au
#define SYS_GET_CMDLINE 0x15u
#define SYS_EXIT_EXTENDED 0x20u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define MODE_RW_BINARY 3u   /* fopen's "r+b" */

static uint32_t semihost_call(uint32_t op, void *arg)
{
    register uint32_t r0 __asm("r0") = op;
    register void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void semihost_exit(int status)
{
    uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)status};
    (void)semihost_call(SYS_EXIT_EXTENDED, block);
}

int semihost_cmdline(char *buf, uint32_t cap)
{
    uint32_t block[2] = {(uint32_t)(uintptr_t)buf, cap};
    if (cap == 0 || semihost_call(SYS_GET_CMDLINE, block) != 0 || block[1] >= cap)
        return -1;
    buf[block[1]] = 0;
    return 0;
}

int semihost_open(const char *path)
{
    uint32_t len = 0, block[3];
    while (path[len])
        len++;
    block[0] = (uint32_t)(uintptr_t)path;
    block[1] = MODE_RW_BINARY;
    block[2] = len;
    return (int)semihost_call(SYS_OPEN, block);
}

static int seek(int handle, uint32_t pos)
{
    uint32_t block[2] = {(uint32_t)handle, pos};
    return semihost_call(SYS_SEEK, block) == 0 ? 0 : -1;
}

/* SYS_WRITE and SYS_READ return the number of bytes NOT transferred. */
int semihost_pwrite(int handle, uint32_t pos, const void *src, uint32_t len)
{
    uint32_t block[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)src, len};
    return seek(handle, pos) == 0 && semihost_call(SYS_WRITE, block) == 0 ? 0 : -1;
}

int semihost_pread(int handle, uint32_t pos, void *dst, uint32_t len)
{
    uint32_t block[3] = {(uint32_t)handle, (uint32_t)(uintptr_t)dst, len};
    return seek(handle, pos) == 0 && semihost_call(SYS_READ, block) == 0 ? 0 : -1;
}

/* The path lives on the stack only while the file is opened (the host keeps no pointer to
 * it): 512 bytes of .bss matter on a 16 KiB part. */
int semihost_store_file(void)
{
    char path[SEMIHOST_PATH_CAP];
    static int handle = -1;
    if (handle < 0 && semihost_cmdline(path, SEMIHOST_PATH_CAP) == 0)
        handle = semihost_open(path);
    return handle;
}
