"""cffi (API mode) build of the C core into edgebnn._native.

The C sources are compiled as they are for the devices; only the declarations Python calls
are listed here. Run by setup.py at install time."""
from __future__ import annotations

from pathlib import Path

from cffi import FFI

ROOT = Path(__file__).resolve().parents[2]
NATIVE = ROOT / "native"

CDEF = """
typedef enum { EBNN_OK = 0, ... } ebnn_status;
typedef struct { int32_t layer; const char *field; uint32_t got; uint32_t expected; } ebnn_diag;
typedef struct { uint16_t n_layers, n_classes; uint16_t in_h, in_w, in_c;
                 uint32_t size; uint32_t arena_size; ...; } ebnn_model;
const char *ebnn_status_name(ebnn_status s);
const char *ebnn_status_message(ebnn_status s);
uint32_t ebnn_crc32(uint32_t crc, const void *data, size_t n);
ebnn_status ebnn_model_load(ebnn_model *m, const void *data, size_t size, ebnn_diag *diag);
size_t ebnn_arena_size(const ebnn_model *m);
size_t ebnn_input_size(const ebnn_model *m);
ebnn_status ebnn_infer_batch(const ebnn_model *m, const uint8_t *inputs, uint32_t n,
                             int32_t *scores, void *arena, size_t arena_size);
const char *ebnn_build_info(void);
/* host options: load-time repack, threads */
size_t ebnn_pack_size(const ebnn_model *m);
ebnn_status ebnn_pack(const ebnn_model *m, void *packed, size_t size);
size_t ebnn_threads_buffer_size(uint32_t threads);
#define EBNN_MAX_THREADS ...
typedef struct { const void *packed; size_t packed_size; uint32_t threads; void *thread_buffer;
                 size_t thread_buffer_size; uint64_t work_per_thread; } ebnn_options;
ebnn_status ebnn_infer_with(const ebnn_model *m, const ebnn_options *opt, const uint8_t *inputs,
                            uint32_t n, int32_t *scores, void *arena, size_t arena_size);
/* on-device training, the `local` rule */
typedef struct { uint16_t n_hidden; ...; } ebnn_train_local;
typedef struct { uint32_t correct, wrong; } ebnn_train_stats;
ebnn_status ebnn_train_local_init(ebnn_train_local *t, const ebnn_model *m, uint8_t *model_data,
                                  ebnn_diag *diag);
size_t ebnn_train_local_buffer_size(const ebnn_train_local *t, uint32_t batch);
ebnn_status ebnn_train_local_step(const ebnn_train_local *t, const uint8_t *inputs,
                                  const uint8_t *labels, uint32_t n, void *scratch,
                                  size_t scratch_size, ebnn_train_stats *stats);
ebnn_status ebnn_train_local_set_threshold(const ebnn_train_local *t, uint32_t layer,
                                           uint32_t p_q);
uint32_t ebnn_train_local_step_index(const ebnn_train_local *t);
ebnn_status ebnn_model_finalize(uint8_t *data, size_t size);
/* on-device training, DRTP */
typedef struct { uint16_t n_trained; ...; } ebnn_train_drtp;
ebnn_status ebnn_train_drtp_init(ebnn_train_drtp *t, const ebnn_model *m, uint8_t *model_data,
                                 ebnn_diag *diag);
size_t ebnn_train_drtp_buffer_size(const ebnn_train_drtp *t, uint32_t batch);
ebnn_status ebnn_train_drtp_step(const ebnn_train_drtp *t, const uint8_t *inputs,
                                 const uint8_t *labels, uint32_t n, void *scratch,
                                 size_t scratch_size, ebnn_train_stats *stats);
ebnn_status ebnn_train_drtp_set_hyper(const ebnn_train_drtp *t, uint32_t layer, uint32_t shift,
                                      uint32_t window);
uint32_t ebnn_train_drtp_step_index(const ebnn_train_drtp *t);
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "edgebnn._native",
    '#include "edgebnn.h"',
    sources=[str(p.relative_to(ROOT)) for p in sorted((NATIVE / "src").rglob("*.c"))],
    include_dirs=[str(NATIVE / "include"), str(NATIVE / "src")],
    extra_compile_args=["-std=c99", "-O3"],
    # the host build's optional worker threads (ebnn_infer_with); device builds have none
    define_macros=[("EBNN_THREADS", "1")],
    extra_link_args=["-pthread"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
