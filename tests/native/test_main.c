/* The C unit tests: test_native [SEED]. Each suite stops at the first failed CHECK. */
#include <time.h>

#include "testutil.h"

int main(int argc, char **argv) {
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 1;
    tb_rng r;
    clock_t start = clock();
    tb_seed(&r, seed);
    printf("test_native: seed %llu; %s\n", (unsigned long long)seed, ebnn_build_info());
    test_basics();
    printf("  basics ok\n");
    test_kernels(&r);
    printf("  kernels ok\n");
    test_loader(&r);
    printf("  loader ok\n");
    test_engine(&r);
    printf("  engine ok\n");
    test_binarize(&r);
    printf("  binarize ok\n");
    test_train_local(&r);
    printf("  train_local ok\n");
    test_train_drtp(&r);
    printf("  train_drtp ok\n");
    printf("test_native: all passed (%.2f s)\n", (double)(clock() - start) / CLOCKS_PER_SEC);
    return 0;
}
