/* Shared helpers of the C unit tests: a CHECK that stops with a message, exact-size aligned
 * buffers (so ASan flags any byte read past the end), and the suites' entry points. */
#ifndef EBNN_TEST_UTIL_H
#define EBNN_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "builder.h"
#include "edgebnn.h"

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);      \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

/* A 16-byte aligned heap buffer of exactly n bytes (NULL when n is 0); free() it. */
void *tu_aligned(size_t n);
/* An aligned exact-size copy of n bytes. */
uint8_t *tu_copy(const uint8_t *src, size_t n);
void tu_fill_random(tb_rng *r, void *p, size_t n);

void test_basics(void);
void test_kernels(tb_rng *r);
void test_loader(tb_rng *r);
void test_engine(tb_rng *r);
void test_binarize(tb_rng *r);
void test_train_local(tb_rng *r);
void test_train_drtp(tb_rng *r);

#endif /* EBNN_TEST_UTIL_H */
