/*
 * edgebnn — the portable C core: load a bit-packed binary network (.ebnn, docs/format.md)
 * and run it with XNOR-popcount kernels.
 *
 * C99, no malloc, no global mutable state. The caller owns every buffer:
 *   - the model file stays where it is (flash or RAM) and is read in place;
 *   - ebnn_model is a small descriptor the caller allocates (stack or static);
 *   - inference needs an arena of ebnn_arena_size() bytes, 16-byte aligned.
 * Every function that can fail returns an ebnn_status; ebnn_status_name() names it.
 */
#ifndef EDGEBNN_H
#define EDGEBNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EBNN_FORMAT_MAJOR 1
#define EBNN_FORMAT_MINOR 2  /* the newest ops this core runs; any minor of major 1 loads */
#define EBNN_MAX_LAYERS 255
#define EBNN_MAX_SECTIONS 16
#define EBNN_ALIGN 16          /* model data and arena alignment, bytes */
#define EBNN_HEADER_SIZE 64
#define EBNN_SECTION_ENTRY_SIZE 16
#define EBNN_LAYER_RECORD_SIZE 64
#define EBNN_TENSOR_NONE 0xFFFFu

typedef enum {
    EBNN_OK = 0,
    EBNN_ERR_ARG,             /* NULL pointer or argument out of range */
    EBNN_ERR_TRUNCATED,       /* buffer shorter than the header or file_size */
    EBNN_ERR_MAGIC,           /* not an .ebnn file */
    EBNN_ERR_VERSION,         /* format major version not supported */
    EBNN_ERR_HEADER_CRC,      /* header or section table checksum mismatch */
    EBNN_ERR_SECTION,         /* section table invalid (bounds, alignment, overlap, unknown critical) */
    EBNN_ERR_SECTION_CRC,     /* a section's checksum mismatch */
    EBNN_ERR_MISSING_SECTION, /* LAYR or WGHT absent */
    EBNN_ERR_LAYER,           /* a layer record field out of range */
    EBNN_ERR_UNSUPPORTED,     /* valid op/type combination this core does not implement */
    EBNN_ERR_SHAPE,           /* tensor shapes inconsistent */
    EBNN_ERR_WEIGHTS,         /* weight/threshold blob out of bounds, misaligned or wrong size */
    EBNN_ERR_ALIGN,           /* model or arena pointer not EBNN_ALIGN-byte aligned */
    EBNN_ERR_ARENA,           /* arena smaller than ebnn_arena_size() */
    EBNN_ERR_LIMIT,           /* exceeds a compile-time limit (layers, sections) */
    EBNN_ERR_TRAINING,        /* training section absent, invalid, or not matching the model */
    EBNN_ERR_SCRATCH,         /* scratch (training, thread stacks) smaller than its _buffer_size() or misaligned */
    EBNN_ERR_PACKED,          /* repacked weights not ebnn_pack()'s for this model and CPU, or too small */
    EBNN_STATUS_COUNT
} ebnn_status;

typedef enum {
    EBNN_OP_CONV2D = 1,
    EBNN_OP_DENSE = 2,
    EBNN_OP_MAXPOOL = 3,
    EBNN_OP_BINARIZE = 4,  /* format 1.1 */
    EBNN_OP_THRESHOLD = 5, /* format 1.2: I32 -> BIN by folded thresholds */
    EBNN_OP_ADD = 6,       /* format 1.2: I32 in0 + I32 in1 -> I32 */
    EBNN_OP_GAP = 7        /* format 1.2: BIN (h,w,c) -> U8 (1,1,c), +1 count per channel */
} ebnn_op;
typedef enum { EBNN_T_U8 = 0, EBNN_T_BIN = 1, EBNN_T_I32 = 2 } ebnn_dtype;

/* Where a load failed: layer index (-1 = header/sections), field name as in docs/format.md,
 * the value found and the value expected (0 when not meaningful). */
typedef struct {
    int32_t layer;
    const char *field;
    uint32_t got;
    uint32_t expected;
} ebnn_diag;

/* A decoded layer record (docs/format.md, "Layer record"). Pointers point into the model. */
typedef struct {
    uint16_t op, in0, in1;
    uint8_t in_type, out_type;
    uint16_t groups;
    uint16_t in_h, in_w, in_c, out_h, out_w, out_c;
    uint16_t kh, kw, sh, sw, ph, pw;
    const uint32_t *weights;    /* NULL unless CONV2D or DENSE */
    const int32_t *thresholds;  /* out_c values; NULL unless out_type == EBNN_T_BIN with weights
                                 * or op THRESHOLD; BINARIZE: in_h*in_w*in_c u8 values (cast to
                                 * uint8_t *) */
    const uint32_t *flip;       /* ceil(out_c/32) words, beside thresholds */
} ebnn_layer;

/* A loaded model: a validated view of the file. Fill with ebnn_model_load(). */
typedef struct {
    const uint8_t *data;
    uint32_t size;
    const uint8_t *layer_table;
    const uint8_t *weights;
    uint32_t weights_size;
    uint16_t n_layers, n_classes;
    uint16_t in_h, in_w, in_c;
    uint32_t arena_size;        /* ebnn_arena_size(), computed once at load */
} ebnn_model;

/* ---- status ---- */
const char *ebnn_status_name(ebnn_status s);     /* "EBNN_ERR_TRUNCATED" */
const char *ebnn_status_message(ebnn_status s);  /* one-line human description */

/* ---- checksums, bit packing ---- */
uint32_t ebnn_crc32(uint32_t crc, const void *data, size_t n);   /* zlib.crc32 compatible */
static inline uint32_t ebnn_words(uint32_t bits) { return (bits + 31u) >> 5; }

/* ---- model ---- */
/* Validates the whole file (docs/format.md "Loader checks") and fills *m. data must stay valid
 * and unchanged while m is used. diag may be NULL.
 * Memory: none beyond *m (sizeof(ebnn_model)); the file is read in place (flash or RAM, 16-byte
 * aligned); up to about 3 KiB of stack (the arena plan). */
ebnn_status ebnn_model_load(ebnn_model *m, const void *data, size_t size, ebnn_diag *diag);
/* Decodes record i of a loaded model. */
ebnn_status ebnn_model_layer(const ebnn_model *m, uint32_t i, ebnn_layer *out);
/* Bytes of arena inference needs: every tensor that is live at once, 16-byte aligned. */
size_t ebnn_arena_size(const ebnn_model *m);
/* Bytes of one input sample (in_h * in_w * in_c, U8). */
size_t ebnn_input_size(const ebnn_model *m);

/* ---- inference ---- */
/* One sample: input is in_h*in_w*in_c bytes (HWC), scores receives n_classes int32.
 * Memory: an arena of ebnn_arena_size(m) bytes, EBNN_ALIGN-aligned, owned by the caller (its
 * contents need not be preserved between calls); up to about 3 KiB of stack. */
ebnn_status ebnn_infer(const ebnn_model *m, const uint8_t *input, int32_t *scores,
                       void *arena, size_t arena_size);
/* n samples, contiguous; scores is n * n_classes. Memory: as ebnn_infer (one arena, reused). */
ebnn_status ebnn_infer_batch(const ebnn_model *m, const uint8_t *inputs, uint32_t n,
                             int32_t *scores, void *arena, size_t arena_size);
/* Index of the first largest score. */
uint32_t ebnn_argmax(const int32_t *scores, uint32_t n);

/* ---- options: load-time weight repack (host, Cortex-M4/M7/M33/M55), threads (host) ----
 * Optional; ebnn_infer / ebnn_infer_batch need neither and are unchanged (what the firmware
 * calls). Both leave the scores bit-identical to ebnn_infer's. */
/* Bytes of the load-time repack of m's weights for the kernel this CPU runs: the layers that
 * kernel runs with channels in lanes (x86 AVX-512/AVX2, Helium) otherwise repack their weights
 * on every call; on Cortex-M4/M7/M33 its BIN -> BIN layers run output-sliced only on the repack
 * (about the size of their weights; none in builds with EBNN_NO_PACK). A small header only (no
 * layer benefits) elsewhere, e.g. on ARMv7-A, AArch64 and the Cortex-M0. */
size_t ebnn_pack_size(const ebnn_model *m);
/* Fills packed (EBNN_ALIGN-aligned, size >= ebnn_pack_size(m), owned by the caller and kept
 * unchanged while used) with the repacked weights. Make it again after the weights change
 * (training): the engine can tell another model or CPU (EBNN_ERR_PACKED), not stale weights. */
ebnn_status ebnn_pack(const ebnn_model *m, void *packed, size_t size);

#define EBNN_MAX_THREADS 64u
#define EBNN_THREAD_STACK (1024u * 1024u) /* bytes of caller-owned stack per worker thread */
/* Default binary MACs (CONV2D/DENSE terms, over the call's samples) per thread used: about
 * 10 us on one x86 core; below it a thread costs more to start and meet than it saves. */
#define EBNN_WORK_PER_THREAD (8ull << 20)
/* Bytes of ebnn_options.thread_buffer for `threads` threads: the stacks of the threads - 1
 * workers (the calling thread is one of the threads). 0 for threads <= 1, or in builds
 * without threads (only the host build defines EBNN_THREADS, with pthreads). */
size_t ebnn_threads_buffer_size(uint32_t threads);

typedef struct {
    const void *packed;       /* ebnn_pack()'s buffer for this model, or NULL: repack per call */
    size_t packed_size;
    uint32_t threads;         /* 0 or 1: the calling thread only; up to EBNN_MAX_THREADS */
    void *thread_buffer;      /* ebnn_threads_buffer_size(threads) bytes, EBNN_ALIGN-aligned */
    size_t thread_buffer_size;
    uint64_t work_per_thread; /* use at most work / this threads; 0: EBNN_WORK_PER_THREAD */
} ebnn_options;

/* ebnn_infer_batch with options (NULL: none). With threads > 1 the calling thread and
 * threads - 1 workers, started for this call and joined before it returns, split every layer
 * into a few chunks per thread (output rows; channels for a single output pixel), each thread
 * taking chunks as it gets to them, and meet between layers; a call uses at most one thread
 * per work_per_thread of its work, and small layers run whole. Pass a repack with threads: a
 * chunk repacks on the fly otherwise, so the repacking is multiplied. A worker that cannot be
 * started (pthread_create fails: e.g. the process's thread-local storage does not fit its
 * stack, as under ThreadSanitizer with less than about 1 MiB) leaves the call to the threads
 * that could be, with the same scores. EBNN_ERR_UNSUPPORTED
 * for threads > 1 in a build without threads; EBNN_ERR_SCRATCH when thread_buffer is short;
 * EBNN_ERR_PACKED when packed is not this model's for this CPU. */
ebnn_status ebnn_infer_with(const ebnn_model *m, const ebnn_options *opt, const uint8_t *inputs,
                            uint32_t n, int32_t *scores, void *arena, size_t arena_size);

/* ---- kernels (one sample; shapes and layouts as in docs/format.md) ---- */
/* Output bytes of a layer for one sample. */
size_t ebnn_tensor_bytes(uint8_t dtype, uint32_t h, uint32_t w, uint32_t c);
/* CONV2D/DENSE with U8 or BIN input, writing BIN (thresholds) or I32 (scores).
 * Kernels write only `out` (ebnn_tensor_bytes of the layer's output) and use no heap; the
 * optimized BIN path copies a padded window of at most 1 KiB onto the stack (Cortex-M; on
 * other hosts up to 19 KiB with the AArch64 pixel pairs, and the x86-64 lanes path up to about
 * 38 KiB for repacked weights, patches and flattened windows). */
void ebnn_conv2d(const ebnn_layer *l, const void *in, void *out);
void ebnn_maxpool(const ebnn_layer *l, const uint32_t *in, uint32_t *out);
/* BINARIZE: U8 -> BIN, element e is +1 iff in[e] >= the u8 threshold of e. */
void ebnn_binarize(const ebnn_layer *l, const uint8_t *in, uint32_t *out);
/* THRESHOLD: I32 -> BIN, channel c of each pixel through ebnn_threshold_bit (tail bits zero). */
void ebnn_threshold(const ebnn_layer *l, const int32_t *in, uint32_t *out);
/* ADD: out = a + b element-wise over in_h*in_w*in_c int32, two's-complement wrap-around. out
 * may be a or b (the arena plan computes an ADD in place over an operand it reads last). */
void ebnn_add(const ebnn_layer *l, const int32_t *a, const int32_t *b, int32_t *out);
/* GAP: BIN (in_h, in_w, in_c) -> U8 in_c values, the number of +1 bits of each channel over the
 * in_h*in_w <= 255 positions. */
void ebnn_gap(const ebnn_layer *l, const uint32_t *in, uint8_t *out);
/* Applies folded batch-norm + sign to channel c's pre-activation y. */
static inline int ebnn_threshold_bit(const ebnn_layer *l, uint32_t c, int32_t y) {
    int f = (int)((l->flip[c >> 5] >> (c & 31u)) & 1u);
    return f ? (y <= l->thresholds[c]) : (y >= l->thresholds[c]);
}

/* ---- on-device training: one interface over every rule ----
 * A rule trains a model in writable RAM, integers only, bit-identical to its Python reference:
 * a step updates the rule's state in its ancillary training section, the packed sign bits in
 * WGHT (so the unchanged inference engine runs the trained model) and the section's step
 * counter; the file's CRCs go stale until ebnn_trainer_finalize(). Every rule is one row of the
 * same shape (ebnn_trainer_rule), chosen by its id, and callers use the flat ebnn_trainer_*
 * functions: an ebnn_trainer the caller allocates, scratch it owns (ebnn_trainer_buffer_size()),
 * no heap.
 *
 * EBNN_RULE_LOCAL (docs/format.md, "Training section trnl"): gradient-free training with local
 * binary error signals, bit-identical to edgebnn/ondevice/local.py (`local_step`).
 * Layers: BINARIZE (flattened) -> DENSE BIN->BIN (T = 0, flip 0) x L -> DENSE I32. Every
 * sub-network is updated once per step, in order, from the outputs its predecessor computed
 * before its own update. Parameters: L values, the reinforcement threshold p_q of sub-network l
 * (a weight is reinforced iff its draw < p_q); the host or firmware computes it once per epoch
 * from the previous epoch's accuracy, p_q = floor(0.5 * sqrt(1 - acc) * sqrt(2 / (pi * N_in))
 * * 2^32) (edgebnn/ondevice/local.py). Statistics: argmax right, and samples that drove an update (argmax wrong
 * or margin below floor(K/4)) of the last sub-network.
 *
 * EBNN_RULE_DRTP (docs/format.md, "Training section trnd"): direct random target projection,
 * bit-identical to edgebnn/ondevice/drtp.py (`DrtpReference`): int16 fixed-point latent
 * weights, ±1 projection matrices regenerated from the section's seed (never stored). Layers:
 * [BINARIZE (flattened) ->] DENSE -> ... (BIN out, any thresholds/flips) -> DENSE I32; the first
 * DENSE may read the U8 image, later ones a flat BIN vector. Each layer in order runs on the
 * whole batch and is then updated; the next one reads the outputs computed before that update.
 * Parameters: 2 values per trained layer (output included), in order: the update shift
 * (0 ... 30) and the window (hidden: STE half-width on z - T; output: the margin). Statistics:
 * argmax right, and samples that updated the output layer. */
#define EBNN_TRAIN_LOCAL_MAX_CLASSES 256  /* labels are u8 (either rule) */
#define EBNN_TRAIN_DRTP_MAX_BATCH 4096u   /* keeps DRTP's summed updates inside int32 */

/* Rule ids: also the algorithm byte of the TRAIN command (docs/protocol.md "Training"). */
typedef enum { EBNN_RULE_LOCAL = 1, EBNN_RULE_DRTP = 2 } ebnn_rule_id;

/* The local rule's validated view of its `trnl` section. */
typedef struct {
    const ebnn_model *model;
    uint8_t *data;              /* the model file (== model->data), written by the steps */
    uint8_t *trnl;              /* the training section inside data */
    uint32_t trnl_size;
    uint16_t n_hidden;          /* L trained sub-networks */
    uint16_t first_dense;       /* LAYR index of the first hidden DENSE layer */
    uint16_t max_width;         /* largest of the input width and every K */
    uint8_t weight_bytes;       /* 1 (weight_bits <= 8) or 2 */
} ebnn_train_local;

/* DRTP's validated view of its `trnd` section. */
typedef struct {
    const ebnn_model *model;
    uint8_t *data;              /* the model file (== model->data), written by the steps */
    uint8_t *trnd;              /* the training section inside data */
    uint32_t trnd_size;
    uint16_t n_trained;         /* DENSE layers trained, the output layer included */
    uint16_t first_dense;       /* LAYR index of the first of them (1 after a BINARIZE, else 0) */
    uint16_t max_width;         /* widest BIN vector: the BINARIZE output and every hidden K */
    uint16_t max_in;            /* largest N_in of a trained layer */
} ebnn_train_drtp;

/* Per-batch outcome of the model's prediction, counted before the update: samples whose argmax
 * is the label, and samples that drove an update (the rule says which). */
typedef struct {
    uint32_t correct, wrong;
} ebnn_train_stats;

/* One rule: a row of operations behind the ebnn_trainer_* functions (native/src/train). */
typedef struct ebnn_trainer_rule ebnn_trainer_rule;

/* A model's training state under one rule; fill with ebnn_trainer_init(). */
typedef struct {
    const ebnn_trainer_rule *rule; /* NULL until ebnn_trainer_init() succeeds */
    const ebnn_model *model;
    uint8_t *data;                 /* the model file (== model->data), written by the steps */
    union {
        ebnn_train_local local;
        ebnn_train_drtp drtp;
    } state;                       /* the rule's own view, filled by its init */
} ebnn_trainer;

/* Rule number i (0, 1, ...) of those compiled in, NULL past the last. */
const ebnn_trainer_rule *ebnn_trainer_rule_at(uint32_t i);
/* The rule with this id, NULL when none has it. */
const ebnn_trainer_rule *ebnn_trainer_rule_find(uint32_t id);
uint32_t ebnn_trainer_rule_id(const ebnn_trainer_rule *r);     /* an ebnn_rule_id */
const char *ebnn_trainer_rule_name(const ebnn_trainer_rule *r); /* "local", "drtp" */
/* Validates rule `rule`'s training section against the loaded model m (whose data is the
 * writable model_data) and fills *t. EBNN_ERR_ARG for an unknown rule (field "rule");
 * EBNN_ERR_TRAINING names the failing field in diag (may be NULL). */
ebnn_status ebnn_trainer_init(ebnn_trainer *t, uint32_t rule, const ebnn_model *m,
                              uint8_t *model_data, ebnn_diag *diag);
/* Scratch bytes one step over a batch of `batch` samples needs (EBNN_ALIGN-aligned buffer); 0
 * when the batch is 0 or beyond the rule's limits. */
size_t ebnn_trainer_buffer_size(const ebnn_trainer *t, uint32_t batch);
/* One batch: n U8 samples (ebnn_input_size() bytes each), n labels (class indices); the step
 * counter then advances by one. Nothing is written unless it returns EBNN_OK: EBNN_ERR_ARG,
 * EBNN_ERR_LIMIT (batch beyond the rule's limits), EBNN_ERR_SCRATCH. stats may be NULL. */
ebnn_status ebnn_trainer_step(const ebnn_trainer *t, const uint8_t *inputs, const uint8_t *labels,
                              uint32_t n, void *scratch, size_t scratch_size,
                              ebnn_train_stats *stats);
/* The `local` rule's step in two halves, for data-parallel training on a host: every rank runs
 * ebnn_local_increments() on its shard of a batch (the same checks and statistics as
 * ebnn_trainer_step()), the ranks' int32 increments are summed element-wise, and each rank
 * applies the sum once with ebnn_local_apply() (saturation, reinforcement, WGHT bits, step
 * counter): N ranks so give exactly the weights of one step over the whole batch. The increments
 * are step 5's sums sum_b t m x of edgebnn/ondevice/local.py (`local_step(..., apply=False)`),
 * sub-network after sub-network, row-major K x N_in each, in caller-owned memory of
 * ebnn_local_increments_size() bytes; they hold only until the next apply. EBNN_ERR_ARG when t is
 * not a `local` trainer, EBNN_ERR_SCRATCH when the increments are NULL or too small. */
size_t ebnn_local_increments_size(const ebnn_trainer *t); /* 0 when t is not a local trainer */
ebnn_status ebnn_local_increments(const ebnn_trainer *t, const uint8_t *inputs,
                                  const uint8_t *labels, uint32_t n, void *scratch,
                                  size_t scratch_size, int32_t *increments,
                                  size_t increments_size, ebnn_train_stats *stats);
ebnn_status ebnn_local_apply(const ebnn_trainer *t, const int32_t *increments,
                             size_t increments_size);
/* The rule's parameters (see the rule above): how many, and parameter i's check (EBNN_ERR_ARG
 * when i or value is out of range) and setting; stored in the section, so training resumes with
 * them. A caller that sets several can check them all first and so set all or none. */
uint32_t ebnn_trainer_param_count(const ebnn_trainer *t);
ebnn_status ebnn_trainer_check_param(const ebnn_trainer *t, uint32_t i, uint32_t value);
ebnn_status ebnn_trainer_set_param(const ebnn_trainer *t, uint32_t i, uint32_t value);
uint32_t ebnn_trainer_step_index(const ebnn_trainer *t); /* batches trained so far */
/* ebnn_model_finalize() of the trained model file. */
ebnn_status ebnn_trainer_finalize(const ebnn_trainer *t);
/* Rewrites every section CRC, the section table CRC and the header CRC of a model file in place
 * (after training), so it loads again. Checks the header and section bounds first. */
ebnn_status ebnn_model_finalize(uint8_t *data, size_t size);

/* ---- build ---- */
/* Compiler, flags and the kernels compiled in, e.g. "gcc 12.2.0; kernels: ref". */
const char *ebnn_build_info(void);

#ifdef __cplusplus
}
#endif
#endif /* EDGEBNN_H */
