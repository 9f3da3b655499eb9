/* Inference: runs the layers in file order, tensors placed by the arena plan. Host options
 * (ebnn_infer_with): weights repacked at load time (pack.c) and worker threads. Threads split
 * each layer into chunks of output rows (or, for one output pixel, of channels in whole
 * words), take the chunks as they get to them and meet at a barrier after every layer; every
 * chunk is an exact integer computation of its own outputs, so the result does not depend on
 * the thread count. */
#if defined(EBNN_THREADS)
#define _POSIX_C_SOURCE 200112L /* pthread_attr_setstack under -std=c99 */
#include <pthread.h>
#endif

#include "internal.h"

#if defined(EBNN_THREADS)
/* The threads' meeting point after every layer. It spins a while before it sleeps: a layer of
 * a small model takes microseconds, and waking a thread that sleeps costs tens of them on a
 * loaded machine (pthread_barrier_wait always sleeps). */
#define SPINS 4000u
typedef struct {
    unsigned arrived, parts, phase;
    unsigned ticket; /* the next chunk of the current layer to take; 0 again at each phase */
    pthread_mutex_t lock;
    pthread_cond_t wake;
} barrier;

/* Moves b past phase, waking the threads that wait for it. */
static void next_phase(barrier *b, unsigned phase) {
    (void)pthread_mutex_lock(&b->lock);
    __atomic_store_n(&b->phase, phase + 1u, __ATOMIC_RELEASE);
    (void)pthread_cond_broadcast(&b->wake);
    (void)pthread_mutex_unlock(&b->lock);
}

/* Returns once b has moved past phase: spinning first, then asleep. */
static void wait_past(barrier *b, unsigned phase) {
    unsigned i;
    for (i = 0; i < SPINS; i++) {
        if (__atomic_load_n(&b->phase, __ATOMIC_ACQUIRE) != phase) return;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    (void)pthread_mutex_lock(&b->lock);
    while (__atomic_load_n(&b->phase, __ATOMIC_ACQUIRE) == phase)
        (void)pthread_cond_wait(&b->wake, &b->lock);
    (void)pthread_mutex_unlock(&b->lock);
}

static void barrier_wait(barrier *b) {
    unsigned phase = __atomic_load_n(&b->phase, __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&b->arrived, 1u, __ATOMIC_ACQ_REL) == b->parts) {
        __atomic_store_n(&b->arrived, 0u, __ATOMIC_RELAXED); /* published by the phase */
        __atomic_store_n(&b->ticket, 0u, __ATOMIC_RELAXED);
        next_phase(b, phase);
    } else {
        wait_past(b, phase);
    }
}
#endif

/* Where tensor t lives: the caller's input (t = 0) or its place in the arena. */
static const void *tensor_at(const ebnn_plan *p, const uint8_t *input, const uint8_t *arena,
                             uint16_t t) {
    return t == 0 ? (const void *)input : (const void *)(arena + p->offset[t]);
}

/* One layer (or a part of one, see part_of) on its tensors. */
static void run_layer(const ebnn_layer *l, const uint32_t *packed, const void *in,
                      const void *in1, void *out) {
    switch (l->op) {
    case EBNN_OP_MAXPOOL:
        ebnn_maxpool(l, (const uint32_t *)in, (uint32_t *)out);
        break;
    case EBNN_OP_BINARIZE:
        ebnn_binarize(l, (const uint8_t *)in, (uint32_t *)out);
        break;
    case EBNN_OP_THRESHOLD:
        ebnn_threshold(l, (const int32_t *)in, (uint32_t *)out);
        break;
    case EBNN_OP_ADD: /* the loader checked in1 like in0 */
        ebnn_add(l, (const int32_t *)in, (const int32_t *)in1, (int32_t *)out);
        break;
    case EBNN_OP_GAP:
        ebnn_gap(l, (const uint32_t *)in, (uint8_t *)out);
        break;
    default: /* CONV2D, DENSE */
        ebnn_conv2d_packed(l, packed, in, out);
    }
}

/* Part `id` of `parts` of layer l as a layer of its own: *sub with byte offsets into the
 * input(s) and the output; 0 when that part is empty (the layer is not split, or has fewer
 * rows than parts). Windowed ops (CONV2D, DENSE, MAXPOOL) split output rows: the part's
 * input starts at its first window's first row inside the input, the top padding shrinks by
 * what lies above it, and the bottom stays implicit in in_h. A single output pixel of a
 * CONV2D/DENSE with groups == 1 splits its channels in whole output words (32) instead.
 * THRESHOLD and ADD split rows of pixels; BINARIZE and GAP run whole in part 0. */
static int part_of(const ebnn_layer *l, uint32_t id, uint32_t parts, ebnn_layer *sub,
                   size_t *in_off, size_t *out_off, const uint32_t **packed) {
    int windowed = l->op == EBNN_OP_CONV2D || l->op == EBNN_OP_DENSE || l->op == EBNN_OP_MAXPOOL;
    uint32_t rows = l->op == EBNN_OP_ADD ? l->in_h : l->out_h, per, r0, r1;
    *sub = *l, *in_off = *out_off = 0;
    if (parts == 1u) return 1;
    if (l->op == EBNN_OP_BINARIZE || l->op == EBNN_OP_GAP) return id == 0;
    if (windowed && l->op != EBNN_OP_MAXPOOL && rows * l->out_w == 1u && l->groups == 1u) {
        uint32_t c0, c1, wpc = l->in_type == EBNN_T_U8 ? ebnn_words((uint32_t)l->kh * l->kw * l->in_c)
                                                        : (uint32_t)l->kh * l->kw * ebnn_words(l->in_c);
        per = (ebnn_words(l->out_c) + parts - 1u) / parts * 32u;
        c0 = id * per, c1 = c0 + per < l->out_c ? c0 + per : l->out_c;
        if (c0 >= l->out_c) return 0;
        sub->out_c = (uint16_t)(c1 - c0);
        sub->weights = l->weights + (size_t)c0 * wpc;
        if (l->thresholds != NULL) sub->thresholds = l->thresholds + c0, sub->flip = l->flip + c0 / 32u;
        *out_off = ebnn_tensor_bytes(l->out_type, 1, 1, c0);
        *packed = NULL; /* one pixel never takes the lanes path */
        return 1;
    }
    per = (rows + parts - 1u) / parts;
    r0 = id * per, r1 = r0 + per < rows ? r0 + per : rows;
    if (windowed && (rows - 1u) / per * per * l->sh >= (uint32_t)l->in_h + l->ph)
        return id == 0; /* the last part's windows would start in the bottom padding: whole */
    if (r0 >= rows) return 0;
    sub->out_h = (uint16_t)(r1 - r0);
    *out_off = ebnn_tensor_bytes(l->out_type, r0, l->out_w, l->out_c);
    if (windowed) {
        int32_t start = (int32_t)(r0 * l->sh) - (int32_t)l->ph;
        uint32_t first = start > 0 ? (uint32_t)start : 0u;
        sub->ph = (uint16_t)((int32_t)first - start);
        sub->in_h = (uint16_t)(l->in_h - first);
        *in_off = ebnn_tensor_bytes(l->in_type, first, l->in_w, l->in_c);
    } else { /* THRESHOLD, ADD: pointwise, input and output of one shape */
        sub->in_h = sub->out_h;
        *in_off = ebnn_tensor_bytes(l->in_type, r0, l->in_w, l->in_c);
    }
    return 1;
}

/* Part id of parts of layer l on its tensors. */
static void run_split(const ebnn_layer *l, const uint32_t *packed, const uint8_t *in,
                      const uint8_t *in1, uint8_t *out, uint32_t id, uint32_t parts) {
    ebnn_layer sub;
    size_t in_off, out_off;
    if (part_of(l, id, parts, &sub, &in_off, &out_off, &packed))
        run_layer(&sub, packed, in + in_off, in1 ? in1 + in_off : NULL, out + out_off);
}

/* Binary MACs of layer l (kh * kw * in_c / groups terms per output value), or its output
 * elements for the ops without weights. */
static uint64_t layer_work(const ebnn_layer *l) {
    uint64_t values = (uint64_t)l->out_h * l->out_w * l->out_c;
    if (l->op != EBNN_OP_CONV2D && l->op != EBNN_OP_DENSE) return values;
    return values * l->kh * l->kw * (l->in_c / l->groups);
}

/* Chunks of layer l among `threads` threads, `per` work per thread: a few per thread, so that
 * a thread slowed by another process's use of its core takes fewer (chunks are taken as
 * threads get to them); each at least a block of 8 output pixels (the lanes paths' unit) and
 * a quarter of per. 1: the layer is not split. */
#define CHUNKS_PER_THREAD 4u
static uint32_t chunks_of(const ebnn_layer *l, uint32_t threads, uint64_t per) {
    uint64_t by_work = layer_work(l) / (per / CHUNKS_PER_THREAD ? per / CHUNKS_PER_THREAD : 1u);
    uint32_t most, want = threads * CHUNKS_PER_THREAD;
    int windowed = l->op == EBNN_OP_CONV2D || l->op == EBNN_OP_DENSE || l->op == EBNN_OP_MAXPOOL;
    if (threads == 1u) return 1;
    if (windowed && l->out_h * l->out_w == 1u) most = ebnn_words(l->out_c);
    else if (windowed) most = l->out_h / ((8u + l->out_w - 1u) / l->out_w);
    else most = l->out_h;
    if (by_work < most) most = (uint32_t)by_work;
    return most < 1u ? 1u : most < want ? most : want;
}

/* What every thread of one call shares: a model's inference, or one layer (layer != NULL). */
typedef struct {
    const ebnn_model *m;
    const ebnn_plan *plan;
    const void *packed;
    const uint8_t *inputs;
    uint32_t n, parts;
    uint64_t per;               /* work per thread (ebnn_options.work_per_thread) */
    int32_t *scores;
    uint8_t *arena;
    const ebnn_layer *layer;
    const uint32_t *layer_packed;
    const uint8_t *layer_in;
    uint8_t *layer_out;
#if defined(EBNN_THREADS)
    barrier meet;
#endif
} job;

/* Thread id's share of layer l: the chunks it takes, or the whole layer on the calling thread
 * (id 0) when it is not split. */
static void run_chunks(job *j, uint32_t id, const ebnn_layer *l, const uint32_t *packed,
                       const uint8_t *in, const uint8_t *in1, uint8_t *out) {
#if defined(EBNN_THREADS)
    uint32_t c, chunks = chunks_of(l, j->parts, j->per);
    if (chunks > 1u) {
        while ((c = __atomic_fetch_add(&j->meet.ticket, 1u, __ATOMIC_RELAXED)) < chunks)
            run_split(l, packed, in, in1, out, c, chunks);
        return;
    }
#else
    (void)j;
#endif
    if (id == 0) run_split(l, packed, in, in1, out, 0, 1);
}

/* 1 when record i of m is split among the job's threads. */
static int split_at(const job *j, uint32_t i) {
    ebnn_layer l;
    (void)ebnn_model_layer(j->m, i, &l);
    return chunks_of(&l, j->parts, j->per) > 1u;
}

/* Every layer of every sample, thread id's share of each. The threads meet between two layers
 * when either is split, so a layer reads only tensors that every chunk has finished and
 * overwrites none that a chunk still reads; a run of layers that the calling thread runs
 * whole needs no meeting. */
static void run_part(job *j, uint32_t id) {
    const uint8_t *input = j->inputs;
    int32_t *scores = j->scores;
    size_t in_size;
    uint32_t s, i;
    int split_next;
    if (j->layer != NULL) {
        run_chunks(j, id, j->layer, j->layer_packed, j->layer_in, NULL, j->layer_out);
        return;
    }
    in_size = ebnn_input_size(j->m);
    split_next = j->n > 0 && split_at(j, 0);
    for (s = 0; s < j->n; s++, input += in_size, scores += j->m->n_classes) {
        for (i = 0; i < j->m->n_layers; i++) {
            ebnn_layer l;
            const uint8_t *in, *in1 = NULL;
            uint8_t *out;
            int split_here = split_next, last = s + 1 == j->n && i + 1 == j->m->n_layers;
            (void)ebnn_model_layer(j->m, i, &l); /* i < n_layers: cannot fail */
            in = (const uint8_t *)tensor_at(j->plan, input, j->arena, l.in0);
            if (l.op == EBNN_OP_ADD) in1 = (const uint8_t *)tensor_at(j->plan, input, j->arena, l.in1);
            out = i + 1 == j->m->n_layers ? (uint8_t *)scores : j->arena + j->plan->offset[i + 1];
            run_chunks(j, id, &l, ebnn_packed_layer(j->packed, i), in, in1, out);
            split_next = !last && split_at(j, i + 1 == j->m->n_layers ? 0 : i + 1);
#if defined(EBNN_THREADS)
            if (split_here || split_next) barrier_wait(&j->meet);
#else
            (void)split_here; /* one thread: nothing is split */
#endif
        }
    }
}

#if defined(EBNN_THREADS)
typedef struct {
    job *j;
    uint32_t id;
} worker;

/* Phase 0 of the barrier is the start gate: workers wait until every thread that could be
 * created is, so that the barrier counts exactly the threads that exist (fewer parts if
 * pthread_create fails). */
static void *worker_main(void *arg) {
    const worker *w = (const worker *)arg;
    wait_past(&w->j->meet, 0u);
    if (w->id < w->j->parts) run_part(w->j, w->id);
    return NULL;
}

/* Parts 1 .. parts-1 on threads with the caller's stacks, part 0 on the calling thread. */
static ebnn_status run_threads(job *j, uint8_t *stacks) {
    pthread_t tid[EBNN_MAX_THREADS];
    worker w[EBNN_MAX_THREADS];
    uint32_t t, started = 0;
    j->meet.arrived = j->meet.phase = j->meet.ticket = 0;
    if (pthread_mutex_init(&j->meet.lock, NULL) != 0) return EBNN_ERR_LIMIT;
    if (pthread_cond_init(&j->meet.wake, NULL) != 0) {
        (void)pthread_mutex_destroy(&j->meet.lock);
        return EBNN_ERR_LIMIT;
    }
    for (t = 1; t < j->parts; t++) {
        pthread_attr_t attr;
        int ok;
        w[t].j = j, w[t].id = t;
        if (pthread_attr_init(&attr) != 0) break;
        ok = pthread_attr_setstack(&attr, stacks + (size_t)(t - 1u) * EBNN_THREAD_STACK,
                                   EBNN_THREAD_STACK) == 0 &&
             pthread_create(&tid[t], &attr, worker_main, &w[t]) == 0;
        (void)pthread_attr_destroy(&attr);
        if (!ok) break;
        started++;
    }
    j->parts = j->meet.parts = started + 1u;
    next_phase(&j->meet, 0u); /* open the gate */
    run_part(j, 0);
    for (t = 1; t <= started; t++) (void)pthread_join(tid[t], NULL);
    (void)pthread_cond_destroy(&j->meet.wake);
    (void)pthread_mutex_destroy(&j->meet.lock);
    return EBNN_OK;
}
#endif

size_t ebnn_threads_buffer_size(uint32_t threads) {
#if defined(EBNN_THREADS)
    return threads > 1u && threads <= EBNN_MAX_THREADS ? (size_t)(threads - 1u) * EBNN_THREAD_STACK : 0;
#else
    (void)threads;
    return 0;
#endif
}

/* Binary MACs (kh * kw * in_c terms per output value) of the CONV2D/DENSE layers of m, per
 * sample: what decides how many threads a call is worth. */
static uint64_t model_work(const ebnn_model *m) {
    uint64_t work = 0;
    uint32_t i;
    for (i = 0; i < m->n_layers; i++) {
        ebnn_layer l;
        (void)ebnn_model_layer(m, i, &l);
        if (l.op == EBNN_OP_CONV2D || l.op == EBNN_OP_DENSE)
            work += (uint64_t)l.out_h * l.out_w * l.out_c * l.kh * l.kw * (l.in_c / l.groups);
    }
    return work;
}

/* Checks the thread options: the parts to run (1 without threads). */
static ebnn_status thread_parts(uint32_t threads, const void *buffer, size_t size, uint32_t *parts) {
    *parts = 1;
    if (threads > EBNN_MAX_THREADS) return EBNN_ERR_ARG;
    if (threads <= 1u) return EBNN_OK;
#if defined(EBNN_THREADS)
    if (buffer == NULL || size < ebnn_threads_buffer_size(threads)) return EBNN_ERR_SCRATCH;
    if ((uintptr_t)buffer % EBNN_ALIGN != 0) return EBNN_ERR_ALIGN;
    *parts = threads;
    return EBNN_OK;
#else
    (void)buffer, (void)size;
    return EBNN_ERR_UNSUPPORTED;
#endif
}

/* Runs job j on its parts: threads where there are several. */
static ebnn_status run_job(job *j, void *stacks) {
#if defined(EBNN_THREADS)
    if (j->parts > 1u) return run_threads(j, (uint8_t *)stacks);
#endif
    (void)stacks;
    run_part(j, 0);
    return EBNN_OK;
}

ebnn_status ebnn_layer_threads(const ebnn_layer *l, const uint32_t *packed, const void *in,
                               void *out, uint32_t threads, void *stacks, size_t stacks_size) {
    job j;
    ebnn_status st = thread_parts(threads, stacks, stacks_size, &j.parts);
    if (st != EBNN_OK) return st;
    j.layer = l, j.layer_packed = packed, j.layer_in = (const uint8_t *)in, j.per = EBNN_WORK_PER_THREAD;
    j.layer_out = (uint8_t *)out;
    return run_job(&j, stacks);
}

ebnn_status ebnn_infer_with(const ebnn_model *m, const ebnn_options *opt, const uint8_t *inputs,
                            uint32_t n, int32_t *scores, void *arena, size_t arena_size) {
    ebnn_plan plan;
    ebnn_status st;
    job j;

    if (m == NULL || inputs == NULL || scores == NULL) return EBNN_ERR_ARG;
    if (arena_size < m->arena_size) return EBNN_ERR_ARENA;
    if (arena == NULL && m->arena_size != 0) return EBNN_ERR_ARG;
    if ((uintptr_t)arena % EBNN_ALIGN != 0) return EBNN_ERR_ALIGN;
    j.m = m, j.plan = &plan, j.inputs = inputs, j.n = n, j.scores = scores;
    j.arena = (uint8_t *)arena, j.packed = NULL, j.layer = NULL, j.per = EBNN_WORK_PER_THREAD;
    st = thread_parts(opt ? opt->threads : 1u, opt ? opt->thread_buffer : NULL,
                      opt ? opt->thread_buffer_size : 0u, &j.parts);
    if (st == EBNN_OK && opt != NULL) st = ebnn_packed_check(m, opt->packed, opt->packed_size);
    if (st == EBNN_OK) st = ebnn_plan_arena(m, &plan);
    if (st != EBNN_OK) return st;
    if (j.parts > 1u) { /* no more threads than the work is worth; the scores are the same */
        uint64_t worth;
        j.per = opt->work_per_thread ? opt->work_per_thread : EBNN_WORK_PER_THREAD;
        worth = model_work(m) * n / j.per;
        if (worth < j.parts) j.parts = worth > 1u ? (uint32_t)worth : 1u;
    }
    if (opt != NULL) j.packed = opt->packed;
    return run_job(&j, opt ? opt->thread_buffer : NULL);
}

ebnn_status ebnn_infer_batch(const ebnn_model *m, const uint8_t *inputs, uint32_t n,
                             int32_t *scores, void *arena, size_t arena_size) {
    return ebnn_infer_with(m, NULL, inputs, n, scores, arena, arena_size);
}

ebnn_status ebnn_infer(const ebnn_model *m, const uint8_t *input, int32_t *scores, void *arena,
                       size_t arena_size) {
    return ebnn_infer_batch(m, input, 1, scores, arena, arena_size);
}

uint32_t ebnn_argmax(const int32_t *scores, uint32_t n) {
    uint32_t i, best = 0;
    for (i = 1; i < n; i++)
        if (scores[i] > scores[best]) best = i;
    return best;
}
