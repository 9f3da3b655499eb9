/* Loader fuzzer, built with ASan + UBSan:  fuzz_loader SEED CASES [CORPUS_DIR]
 *
 * Each case takes a valid model (fresh from the test builder, or a .ebnn file of CORPUS_DIR),
 * mutates it (bit flips, byte sets, truncation, extension, and edits aimed at the counts,
 * offsets and sizes of the header, section table and layer records), usually recomputes the
 * CRCs so the deeper checks are reached, and loads it from an exact-size buffer. A model that
 * loads is run with an arena of exactly ebnn_arena_size() bytes. Any sanitizer report aborts;
 * a loaded model that fails to run exits 1. The last line counts the cases per status. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "builder.h"
#include "edgebnn.h"

#define POOL 64                      /* generated models mutated in turn */
#define MAX_CORPUS 256
#define MAX_ARENA ((size_t)64 << 20) /* larger models load but are not run, */
#define CHEAP_MACS 1e6                /* models up to this cost always run ... */
#define MAX_MACS 5e7                  /* ... costlier ones 1 time in 32, none beyond this */

typedef struct {
    uint8_t *data;
    size_t size;
} blob;

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "fuzz_loader: out of memory\n");
        exit(2);
    }
    return p;
}

static void *aligned(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, EBNN_ALIGN, n ? n : 1) != 0) {
        fprintf(stderr, "fuzz_loader: out of memory\n");
        exit(2);
    }
    return p;
}

/* ---- mutations ---- */

static const uint32_t interesting[] = {0,      1,          2,          3,          15,
                                       16,     17,         31,         32,         33,
                                       63,     64,         255,        256,        0x7FFF,
                                       0x8000, 0xFFFF,     0x10000,    0x7FFFFFFF, 0x80000000u,
                                       0xFFFFFFF0u, 0xFFFFFFFFu};

static uint32_t pick_value(tb_rng *r, uint32_t old) {
    switch (tb_range(r, 0, 4)) {
    case 0: return interesting[tb_range(r, 0, sizeof interesting / sizeof *interesting - 1)];
    case 1: return old + tb_range(r, 1, 4);
    case 2: return old - tb_range(r, 1, 4);
    case 3: return old ^ (1u << tb_range(r, 0, 31));
    default: return old + 16u * tb_range(r, 1, 4) - 32u;
    }
}

static void set_field(tb_rng *r, uint8_t *p, int width) {
    uint32_t old = width == 1 ? p[0] : width == 2 ? tb_get16(p) : tb_get32(p);
    uint32_t v = pick_value(r, old);
    if (width == 1) p[0] = (uint8_t)v;
    if (width == 2) tb_put16(p, v & 0xFFFFu);
    if (width == 4) tb_put32(p, v);
}

/* Offset and width of a random field: header counts/shape, a section entry, a layer record. */
static int pick_field(tb_rng *r, const uint8_t *f, size_t size, size_t *at) {
    static const uint8_t header[][2] = {{4, 2},  {8, 4},  {12, 4}, {16, 2}, {18, 2},
                                        {20, 2}, {22, 2}, {24, 2}, {26, 2}, {28, 1}};
    static const uint8_t entry[][2] = {{0, 1}, {4, 4}, {8, 4}};
    static const uint8_t record[][2] = {{0, 2},  {2, 2},  {4, 2},  {6, 2},  {8, 1},  {9, 1},
                                        {10, 2}, {12, 2}, {14, 2}, {16, 2}, {18, 2}, {20, 2},
                                        {22, 2}, {24, 2}, {26, 2}, {28, 2}, {30, 2}, {32, 2},
                                        {34, 2}, {36, 4}, {40, 4}, {44, 4}, {48, 4}, {52, 1}};
    size_t n_sec = tb_get16(f + 16), i, k;
    uint32_t kind = tb_range(r, 0, 9);
    if (kind < 2) {
        k = tb_range(r, 0, sizeof header / sizeof *header - 1);
        *at = header[k][0];
        return header[k][1];
    }
    if (n_sec > 16) n_sec = 16;
    if (kind < 4 && n_sec > 0) {
        i = tb_range(r, 0, (uint32_t)n_sec - 1);
        k = tb_range(r, 0, sizeof entry / sizeof *entry - 1);
        *at = 64 + 16 * i + entry[k][0];
        return 64 + 16 * i + 16 <= size ? entry[k][1] : 0;
    }
    /* A layer record: find LAYR in the table. */
    for (i = 0; i < n_sec && 64 + 16 * i + 16 <= size; i++) {
        const uint8_t *e = f + 64 + 16 * i;
        uint32_t off = tb_get32(e + 4), len = tb_get32(e + 8);
        if (memcmp(e, "LAYR", 4) == 0 && len >= 64 && off <= size && len <= size - off) {
            size_t rec = off + 64 * tb_range(r, 0, len / 64 - 1);
            k = tb_range(r, 0, sizeof record / sizeof *record - 1);
            *at = rec + record[k][0];
            return record[k][1];
        }
    }
    return 0;
}

/* Applies 1-4 mutations; returns the new size (the buffer has room for 'cap'). */
static size_t mutate(tb_rng *r, uint8_t *f, size_t size, size_t cap) {
    uint32_t n = tb_range(r, 1, 4), i;
    for (i = 0; i < n && size > 0; i++) {
        size_t at;
        int width;
        switch (tb_range(r, 0, 9)) {
        case 0: f[tb_range(r, 0, (uint32_t)size - 1)] ^= (uint8_t)(1u << tb_range(r, 0, 7)); break;
        case 1: f[tb_range(r, 0, (uint32_t)size - 1)] = (uint8_t)pick_value(r, 0); break;
        case 2: size = tb_range(r, 0, (uint32_t)size - 1); break;
        case 3: /* truncate to a 16-byte boundary and keep file_size consistent */
            size &= ~(size_t)15;
            size = size > 64 ? size - 16 * tb_range(r, 1, 4) : size;
            if (size >= 64) tb_put32(f + 8, (uint32_t)size);
            break;
        case 4: { /* extend, sometimes announcing the new bytes in file_size */
            size_t extra = 16 * tb_range(r, 1, 4);
            if (size + extra > cap) break;
            memset(f + size, (int)tb_range(r, 0, 255), extra);
            size += extra;
            if (size >= 64 && tb_range(r, 0, 1)) tb_put32(f + 8, (uint32_t)size);
            break;
        }
        default:
            if (size < 64) break;
            width = pick_field(r, f, size, &at);
            if (width && at + (size_t)width <= size) set_field(r, f + at, width);
            break;
        }
    }
    return size;
}

/* ---- running a loaded model ---- */

/* Multiply-accumulates of one inference, to skip models too slow to run under ASan. */
static double cost(const ebnn_model *m) {
    double total = 0;
    uint32_t i;
    for (i = 0; i < m->n_layers; i++) {
        ebnn_layer l;
        ebnn_model_layer(m, i, &l);
        total += (double)l.out_h * l.out_w * l.out_c * l.kh * l.kw *
                 (l.in_type == EBNN_T_U8 ? (double)l.in_c / l.groups
                                         : (double)ebnn_words(l.in_c / l.groups));
    }
    return total;
}

/* Returns 1 if run, 0 if skipped as too large; exits on a failure. */
static int run(const ebnn_model *m, tb_rng *r, uint64_t case_no) {
    size_t arena_size = ebnn_arena_size(m), in_size = ebnn_input_size(m), i;
    uint8_t *arena, *input;
    int32_t *scores;
    ebnn_status s;
    double macs = cost(m);
    if (arena_size > MAX_ARENA || in_size > MAX_ARENA || macs > MAX_MACS) return 0;
    if (macs > CHEAP_MACS && tb_range(r, 0, 31) != 0) return 0;
    arena = aligned(arena_size);
    input = xmalloc(in_size);
    scores = xmalloc(sizeof *scores * m->n_classes);
    for (i = 0; i < in_size; i++) input[i] = (uint8_t)tb_rand(r);
    for (i = 0; i < arena_size; i++) arena[i] = (uint8_t)tb_rand(r);
    s = ebnn_infer(m, input, scores, arena, arena_size);
    if (s == EBNN_OK && arena_size > 0)
        s = ebnn_infer(m, input, scores, arena, arena_size - 1) == EBNN_ERR_ARENA
                ? EBNN_OK
                : EBNN_ERR_ARENA;
    if (s != EBNN_OK) {
        fprintf(stderr, "fuzz_loader: case %llu: loaded model fails to run: %s\n",
                (unsigned long long)case_no, ebnn_status_name(s));
        exit(1);
    }
    free(arena);
    free(input);
    free(scores);
    return 1;
}

/* ---- corpus ---- */

static int by_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Reads the .ebnn files of dir in name order, so a seed means the same cases everywhere. */
static size_t read_corpus(const char *dir, blob *out) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char *names[MAX_CORPUS];
    size_t n_names = 0, n = 0, i;
    if (!d) {
        fprintf(stderr, "fuzz_loader: cannot open corpus directory %s\n", dir);
        exit(2);
    }
    while ((e = readdir(d)) != NULL && n_names < MAX_CORPUS) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".ebnn") != 0) continue;
        names[n_names] = xmalloc(strlen(dir) + len + 2);
        sprintf(names[n_names++], "%s/%s", dir, e->d_name);
    }
    closedir(d);
    qsort(names, n_names, sizeof *names, by_name);
    for (i = 0; i < n_names; i++) {
        FILE *f = fopen(names[i], "rb");
        long size;
        if (f && fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 && size < (16L << 20) &&
            fseek(f, 0, SEEK_SET) == 0) {
            out[n].data = xmalloc((size_t)size);
            out[n].size = fread(out[n].data, 1, (size_t)size, f);
            n++;
        }
        if (f) fclose(f);
        free(names[i]);
    }
    return n;
}

int main(int argc, char **argv) {
    uint64_t seed, cases, c;
    blob pool[POOL], corpus[MAX_CORPUS];
    size_t n_corpus = 0, i;
    uint64_t counts[EBNN_STATUS_COUNT] = {0}, ran = 0, skipped = 0, corpus_cases = 0;
    tb_rng r;
    struct timespec t0, t1;

    if (argc < 3) {
        fprintf(stderr, "usage: fuzz_loader SEED CASES [CORPUS_DIR]\n");
        return 2;
    }
    seed = strtoull(argv[1], NULL, 0);
    cases = strtoull(argv[2], NULL, 0);
    if (argc > 3) n_corpus = read_corpus(argv[3], corpus);
    tb_seed(&r, seed);
    clock_gettime(CLOCK_MONOTONIC, &t0);

    for (i = 0; i < POOL; i++) {
        tb_model m;
        tb_layout lay;
        tb_random_model(&m, &r, 8);
        pool[i].size = tb_write(&m, i % 2 ? &r : NULL, &pool[i].data, &lay);
        tb_free(&m);
    }

    for (c = 0; c < cases; c++) {
        int from_corpus = n_corpus > 0 && tb_range(&r, 0, 3) == 0;
        const blob *base = from_corpus ? &corpus[tb_range(&r, 0, (uint32_t)n_corpus - 1)]
                                       : &pool[tb_range(&r, 0, POOL - 1)];
        size_t cap = base->size + 64, size;
        uint8_t *work = xmalloc(cap), *buf;
        ebnn_model m;
        ebnn_diag d;
        ebnn_status s;
        int fix_crcs = tb_range(&r, 0, 3) != 0;

        corpus_cases += (uint64_t)from_corpus;
        memcpy(work, base->data, base->size);
        size = c % 16 == 0 ? base->size : mutate(&r, work, base->size, cap); /* some unmutated */
        if (fix_crcs) tb_refresh_crcs(work, size, tb_range(&r, 0, 7) != 0);
        buf = aligned(size); /* exact size: ASan catches any read past the end */
        memcpy(buf, work, size);
        s = ebnn_model_load(&m, buf, size, &d);
        if ((unsigned)s >= EBNN_STATUS_COUNT || (s != EBNN_OK && d.field == NULL)) {
            fprintf(stderr, "fuzz_loader: case %llu: bad status %d or diag\n",
                    (unsigned long long)c, (int)s);
            return 1;
        }
        counts[s]++;
        if (s == EBNN_OK) {
            if (run(&m, &r, c))
                ran++;
            else
                skipped++;
        }
        free(buf);
        free(work);
    }

    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("fuzz_loader: seed=%llu cases=%llu corpus_files=%zu corpus_cases=%llu ran=%llu "
           "skipped_large=%llu time=%.2fs statuses:",
           (unsigned long long)seed, (unsigned long long)cases, n_corpus,
           (unsigned long long)corpus_cases, (unsigned long long)ran,
           (unsigned long long)skipped,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    for (i = 0; i < EBNN_STATUS_COUNT; i++)
        if (counts[i]) printf(" %s=%llu", ebnn_status_name((ebnn_status)i), (unsigned long long)counts[i]);
    printf("\n");
    for (i = 0; i < POOL; i++) free(pool[i].data);
    for (i = 0; i < n_corpus; i++) free(corpus[i].data);
    return 0;
}
