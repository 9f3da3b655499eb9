/* Declarations shared by the core's translation units; not part of the public API. */
#ifndef EDGEBNN_INTERNAL_H
#define EDGEBNN_INTERNAL_H

#include "edgebnn.h"

/* The kernels read packed words and int32 values in native byte order; the format is LE. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "edgebnn requires a little-endian target"
#endif

/* Largest tensor, input sample and arena the loader accepts (EBNN_ERR_LIMIT beyond). Keeps every
 * byte count and index within 31 bits, so size_t arithmetic is safe on 32-bit targets too. */
#define EBNN_MAX_BYTES 0x7FFFFFF0u

/* Little-endian reads by byte assembly: no alignment or aliasing assumptions. */
static inline uint16_t ebnn_rd16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t ebnn_rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint32_t ebnn_align16(uint32_t n) { return (n + 15u) & ~15u; }

/* A decoded layer record with the fields ebnn_layer leaves out (model.c). */
typedef struct {
    ebnn_layer l;
    uint16_t flags;
    uint32_t w_off, w_size, t_off, t_size;
    int reserved_zero;          /* 1 when bytes 52..63 are all zero */
} ebnn_record;

void ebnn_record_decode(const uint8_t *rec, ebnn_record *r);

/* Fills diag (when not NULL) with where a check failed, values clamped to 32 bits, and returns
 * s: every validating parser (model.c, train/) reports through it. */
ebnn_status ebnn_fail(ebnn_diag *d, ebnn_status s, int32_t layer, const char *field,
                      uint64_t got, uint64_t expected);

/* Arena placement of every tensor (plan.c). offset[t] is tensor t's byte offset in the arena;
 * tensor 0 (the caller's input) and tensor n_layers (the caller's scores) take no arena. */
typedef struct {
    uint32_t offset[EBNN_MAX_LAYERS + 1];
    uint32_t size;              /* peak: bytes of arena needed */
} ebnn_plan;

/* Plans the arena of a model whose records are already validated (shapes consistent); fails with
 * EBNN_ERR_LIMIT when the arena would exceed EBNN_MAX_BYTES. */
ebnn_status ebnn_plan_arena(const ebnn_model *m, ebnn_plan *p);

/* Load-time repack (pack.c): EBNN_OK when packed is NULL or ebnn_pack()'s for m on this CPU;
 * layer i's repacked weights in it, or NULL (none, or packed is NULL). */
ebnn_status ebnn_packed_check(const ebnn_model *m, const void *packed, size_t size);
const uint32_t *ebnn_packed_layer(const void *packed, uint32_t i);
/* CONV2D/DENSE reading layer l's repacked weights where given (NULL: ebnn_conv2d). */
void ebnn_conv2d_packed(const ebnn_layer *l, const uint32_t *packed, const void *in, void *out);

/* One layer split across threads as ebnn_infer_with splits each (engine.c), for benchmarks and
 * tests: packed is the layer's repacked weights or NULL; stacks as ebnn_options' thread_buffer. */
ebnn_status ebnn_layer_threads(const ebnn_layer *l, const uint32_t *packed, const void *in,
                               void *out, uint32_t threads, void *stacks, size_t stacks_size);

/* The scalar reference kernels (kernels/ref.c); kernels/select.c dispatches to them. */
void ebnn_ref_conv2d(const ebnn_layer *l, const void *in, void *out);
void ebnn_ref_maxpool(const ebnn_layer *l, const uint32_t *in, uint32_t *out);
void ebnn_ref_binarize(const ebnn_layer *l, const uint8_t *in, uint32_t *out); /* binarize_ref.c */
void ebnn_ref_threshold(const ebnn_layer *l, const int32_t *in, uint32_t *out); /* residual.c */

#endif /* EDGEBNN_INTERNAL_H */
