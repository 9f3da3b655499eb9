/* Whole models: random valid stacks written by the builder, loaded, and run with an arena of
 * exactly ebnn_arena_size() bytes filled with garbage, against the naive reference. The plan
 * is also checked directly: tensors live at the same time never share arena bytes. */
#include <string.h>

#include "internal.h"
#include "naive.h"
#include "testutil.h"

/* Every pair of tensors whose lifetimes meet occupies disjoint ranges inside the arena. */
static void check_plan(const tb_model *tm, const ebnn_model *m) {
    ebnn_plan p;
    uint32_t last[TB_MAX_LAYERS + 1], bytes[TB_MAX_LAYERS + 1], n = tm->n_layers, t, u;
    CHECK(ebnn_plan_arena(m, &p) == EBNN_OK && p.size == ebnn_arena_size(m), "plan size");
    for (t = 1; t < n; t++) {
        const tb_layer *l = &tm->layers[t - 1];
        bytes[t] = (uint32_t)ebnn_tensor_bytes(l->out_type, l->out_h, l->out_w, l->out_c);
        last[t] = t - 1;
    }
    for (t = 0; t < n; t++)
        if (tm->layers[t].in0 > 0) last[tm->layers[t].in0] = t;
    for (t = 1; t < n; t++) {
        CHECK(p.offset[t] % EBNN_ALIGN == 0 && p.offset[t] + bytes[t] <= p.size,
              "tensor %u at %u+%u outside arena %u", t, p.offset[t], bytes[t], p.size);
        for (u = 1; u < t; u++)
            if (last[u] >= t - 1)
                CHECK(p.offset[u] + bytes[u] <= p.offset[t] || p.offset[t] + bytes[t] <= p.offset[u],
                      "live tensors %u and %u overlap", u, t);
    }
}

/* ebnn_infer_with: the load-time repack and 1-5 threads (all of them used, and as many as
 * the default work per thread allows) give ebnn_infer's scores exactly;
 * a repack of another model, a short repack or short thread stacks are refused. */
static void check_options(const ebnn_model *m, tb_rng *r, const uint8_t *inputs, uint32_t n,
                          const int32_t *want, uint8_t *arena, size_t arena_size, int n_case) {
    static const uint32_t counts[] = {0, 1, 2, 3, 5};
    size_t pack_size = ebnn_pack_size(m), nc = m->n_classes, t;
    uint8_t *packed = tu_aligned(pack_size), *stacks = tu_aligned(ebnn_threads_buffer_size(5));
    int32_t *got = malloc(sizeof *got * nc * n);
    ebnn_options o;
    memset(&o, 0, sizeof o);
    CHECK(ebnn_pack(m, packed, pack_size - 1) == EBNN_ERR_PACKED, "model %d: short pack", n_case);
    CHECK(ebnn_pack(m, packed, pack_size) == EBNN_OK, "model %d: pack", n_case);
    o.packed = packed, o.packed_size = pack_size, o.thread_buffer = stacks;
    o.work_per_thread = 1; /* every thread, however small the model */
    o.thread_buffer_size = ebnn_threads_buffer_size(5);
    for (t = 0; t < sizeof counts / sizeof counts[0]; t++) {
        o.threads = counts[t];
        memset(got, 0, sizeof *got * nc * n);
        tu_fill_random(r, arena, arena_size);
        CHECK(ebnn_infer_with(m, &o, inputs, n, got, arena, arena_size) == EBNN_OK &&
                  memcmp(got, want, sizeof *got * nc * n) == 0,
              "model %d: %u threads, packed: scores differ", n_case, counts[t]);
    }
    o.work_per_thread = 0;
    CHECK(ebnn_infer_with(m, &o, inputs, n, got, arena, arena_size) == EBNN_OK &&
              memcmp(got, want, sizeof *got * nc * n) == 0,
          "model %d: default work per thread: scores differ", n_case);
    o.thread_buffer_size = ebnn_threads_buffer_size(5) - 1;
    CHECK(ebnn_infer_with(m, &o, inputs, n, got, arena, arena_size) == EBNN_ERR_SCRATCH,
          "model %d: short stacks", n_case);
    o.threads = 1, o.packed_size = pack_size - 1;
    CHECK(ebnn_infer_with(m, &o, inputs, n, got, arena, arena_size) == EBNN_ERR_PACKED,
          "model %d: short packed", n_case);
    o.packed_size = pack_size, packed[8] ^= 1u; /* the model's header CRC in the repack */
    CHECK(ebnn_infer_with(m, &o, inputs, n, got, arena, arena_size) == EBNN_ERR_PACKED,
          "model %d: another model's repack", n_case);
    free(got);
    free(stacks);
    free(packed);
}

static void run_model(const tb_model *tm, tb_rng *r, int shuffle, int n_case) {
    enum { SAMPLES = 3 };
    uint8_t *file, *data;
    tb_layout lay;
    size_t size = tb_write(tm, shuffle ? r : NULL, &file, &lay), in_size, arena_size, i;
    ebnn_model m;
    ebnn_diag d;
    ebnn_status s;
    uint8_t *inputs, *arena, *shifted;
    int32_t *want, *got;
    uint32_t nc = tm->n_classes;

    data = tu_copy(file, size);
    s = ebnn_model_load(&m, data, size, &d);
    CHECK(s == EBNN_OK, "model %d: load %s at layer %d field %s (got %u, expected %u)", n_case,
          ebnn_status_name(s), (int)d.layer, d.field, d.got, d.expected);
    check_plan(tm, &m);

    in_size = ebnn_input_size(&m);
    arena_size = ebnn_arena_size(&m);
    inputs = tu_aligned(in_size * SAMPLES);
    tu_fill_random(r, inputs, in_size * SAMPLES);
    want = malloc(sizeof *want * nc * SAMPLES);
    got = malloc(sizeof *got * nc * SAMPLES);
    for (i = 0; i < SAMPLES; i++) naive_infer(tm, inputs + i * in_size, want + i * nc);

    arena = tu_aligned(arena_size);
    for (i = 0; i < SAMPLES; i++) {
        tu_fill_random(r, arena, arena_size);
        s = ebnn_infer(&m, inputs + i * in_size, got + i * nc, arena, arena_size);
        CHECK(s == EBNN_OK, "model %d: infer %s", n_case, ebnn_status_name(s));
    }
    CHECK(memcmp(got, want, sizeof *got * nc * SAMPLES) == 0, "model %d: scores differ", n_case);
    for (i = 0; i < SAMPLES; i++) {
        uint32_t a = ebnn_argmax(got + i * nc, nc), k;
        for (k = 0; k < nc; k++)
            CHECK(want[i * nc + k] < want[i * nc + a] || (k >= a && want[i * nc + k] <= want[i * nc + a]),
                  "model %d: argmax %u", n_case, a);
    }

    memset(got, 0, sizeof *got * nc * SAMPLES);
    tu_fill_random(r, arena, arena_size);
    CHECK(ebnn_infer_batch(&m, inputs, SAMPLES, got, arena, arena_size) == EBNN_OK, "batch");
    CHECK(memcmp(got, want, sizeof *got * nc * SAMPLES) == 0, "model %d: batch differs", n_case);

    check_options(&m, r, inputs, SAMPLES, want, arena, arena_size, n_case);

    /* Arena and argument errors. */
    if (arena_size > 0)
        CHECK(ebnn_infer(&m, inputs, got, arena, arena_size - 1) == EBNN_ERR_ARENA, "arena - 1");
    shifted = tu_aligned(arena_size + 16);
    CHECK(ebnn_infer(&m, inputs, got, shifted + 4, arena_size + 4) == EBNN_ERR_ALIGN, "align");
    CHECK(ebnn_infer(&m, NULL, got, arena, arena_size) == EBNN_ERR_ARG, "NULL input");
    CHECK(ebnn_infer(&m, inputs, NULL, arena, arena_size) == EBNN_ERR_ARG, "NULL scores");
    CHECK(ebnn_infer_batch(&m, inputs, 0, got, arena, arena_size) == EBNN_OK, "empty batch");

    free(shifted);
    free(arena);
    free(inputs);
    free(want);
    free(got);
    free(data);
    free(file);
}

void test_engine(tb_rng *r) {
    int n, single = 0, branched = 0;
    for (n = 0; n < 300; n++) {
        tb_model tm;
        uint32_t i;
        tb_random_model(&tm, r, 10);
        single += tm.n_layers == 1;
        for (i = 0; i < tm.n_layers; i++) branched += tm.layers[i].in0 != i;
        run_model(&tm, r, n % 2, n);
        tb_free(&tm);
    }
    CHECK(single > 0 && branched > 0, "coverage: %d single-layer models, %d branches", single,
          branched);
}
