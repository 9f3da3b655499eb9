/* The persistent store of boards/board.h on Linux: the model slots of the flash map (the
 * Linux runtime has no bootloader and no application slots), memory-mapped as on the boards.
 *
 *   store = [model slot 0][model slot 1], each a 4 KiB record page + MODEL_SLOT_SIZE bytes
 *
 * The store is the static array ebnn_linux_store (the Makefile points the flash-map symbols
 * __store_base, __model_slot0/1, ... into it), replaced before the first boot by a shared
 * mapping: of the file given with --store (its contents survive the program, power loss and
 * updates of the binary), or else of anonymous memory (it survives RESET, which starts a new
 * process, but not the end of the program). Boots are forked children, so they all see the
 * one mapping. The NOR rules are boards/mapped_store.c's, compiled unchanged under other names
 * (the Makefile renames its board_store_erase/write to mapped_store_erase/write); the
 * functions here add msync, so a write is on disk when it returns, as on flash. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "board.h"
#include "runtime.h"

#ifndef MODEL_SLOT_SIZE
#error "MODEL_SLOT_SIZE comes from the Makefile"
#endif
#if MODEL_SLOT_SIZE % 4096
#error "MODEL_SLOT_SIZE must be a multiple of the 4 KiB store page on Linux"
#endif
#define STORE_SIZE (2u * (4096u + MODEL_SLOT_SIZE))
/* Mapped over with MAP_FIXED: aligned for any kernel page size up to 64 KiB. */
#define STORE_ALIGN 65536u

uint8_t ebnn_linux_store[STORE_SIZE] __attribute__((aligned(STORE_ALIGN)));

int mapped_store_erase(uint32_t offset, uint32_t len);
int mapped_store_write(uint32_t offset, const void *src, uint32_t len);

/* msync wants page-aligned starts: the pages spanning [offset, offset + len). */
static int sync_range(uint32_t offset, uint32_t len)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = ((uintptr_t)ebnn_linux_store + offset) & ~(page - 1u);
    uintptr_t end = (uintptr_t)ebnn_linux_store + offset + len;
    return msync((void *)start, end - start, MS_SYNC) == 0 ? BOARD_STORE_OK : BOARD_STORE_ERR_HW;
}

int board_store_erase(uint32_t offset, uint32_t len)
{
    int st = mapped_store_erase(offset, len);
    return st == BOARD_STORE_OK ? sync_range(offset, len) : st;
}

int board_store_write(uint32_t offset, const void *src, uint32_t len)
{
    int st = mapped_store_write(offset, src, len);
    return st == BOARD_STORE_OK ? sync_range(offset, len) : st;
}

int linux_store_open(const char *path, char *err, size_t err_size)
{
    struct stat st;
    void *at;
    int fd = -1, fresh = 1;
    if (path) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            snprintf(err, err_size, "--store %s: cannot open: %s", path, strerror(errno));
            return -1;
        }
        /* Held until the program ends: two runtimes on one store would corrupt it. */
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            snprintf(err, err_size, "--store %s: in use by another runtime (%s)", path,
                     strerror(errno));
            close(fd);
            return -1;
        }
        if (fstat(fd, &st) != 0 || (st.st_size != 0 && st.st_size != (off_t)STORE_SIZE)) {
            snprintf(err, err_size, "--store %s: %lld bytes, expected %u (2 x (4096 + "
                     "MODEL_SLOT_SIZE %u)): a store of a build with another slot size", path,
                     (long long)st.st_size, STORE_SIZE, (unsigned)MODEL_SLOT_SIZE);
            close(fd);
            return -1;
        }
        fresh = st.st_size == 0;
        if (fresh && ftruncate(fd, STORE_SIZE) != 0) {
            snprintf(err, err_size, "--store %s: cannot size it to %u bytes: %s", path,
                     STORE_SIZE, strerror(errno));
            close(fd);
            return -1;
        }
    }
    at = mmap(ebnn_linux_store, STORE_SIZE, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_FIXED | (path ? 0 : MAP_ANONYMOUS), fd, 0);
    if (at != (void *)ebnn_linux_store) {
        snprintf(err, err_size, "%s%s: cannot map the store: %s", path ? "--store " : "",
                 path ? path : "anonymous store", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (fresh && board_store_erase(0, STORE_SIZE) != BOARD_STORE_OK) {   /* new, erased flash */
        snprintf(err, err_size, "%s: cannot erase the new store: %s", path ? path : "store",
                 strerror(errno));
        return -1;
    }
    return 0;   /* fd stays open: it holds the lock (the mapping holds the file itself) */
}
