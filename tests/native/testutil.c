/* See testutil.h. */
#define _POSIX_C_SOURCE 200112L
#include "testutil.h"

#include <string.h>

void *tu_aligned(size_t n) {
    void *p = NULL;
    if (n == 0) return NULL;
    if (posix_memalign(&p, EBNN_ALIGN, n) != 0) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

uint8_t *tu_copy(const uint8_t *src, size_t n) {
    uint8_t *p = tu_aligned(n);
    if (n) memcpy(p, src, n);
    return p;
}

void tu_fill_random(tb_rng *r, void *p, size_t n) {
    uint8_t *b = p;
    size_t i;
    for (i = 0; i < n; i++) b[i] = (uint8_t)tb_rand(r);
}
