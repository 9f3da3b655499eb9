/* Names and one-line descriptions of every ebnn_status. */
#include "edgebnn.h"

typedef struct {
    const char *name, *message;
} status_text;

static const status_text texts[EBNN_STATUS_COUNT] = {
    [EBNN_OK] = {"EBNN_OK", "success"},
    [EBNN_ERR_ARG] = {"EBNN_ERR_ARG", "NULL pointer or argument out of range"},
    [EBNN_ERR_TRUNCATED] = {"EBNN_ERR_TRUNCATED", "buffer shorter than the header or file_size"},
    [EBNN_ERR_MAGIC] = {"EBNN_ERR_MAGIC", "not an .ebnn file (bad magic)"},
    [EBNN_ERR_VERSION] = {"EBNN_ERR_VERSION", "format major version not supported"},
    [EBNN_ERR_HEADER_CRC] = {"EBNN_ERR_HEADER_CRC", "header or section table checksum mismatch"},
    [EBNN_ERR_SECTION] = {"EBNN_ERR_SECTION",
                          "invalid section table (bounds, alignment, overlap, unknown critical)"},
    [EBNN_ERR_SECTION_CRC] = {"EBNN_ERR_SECTION_CRC", "a section's checksum mismatch"},
    [EBNN_ERR_MISSING_SECTION] = {"EBNN_ERR_MISSING_SECTION", "LAYR or WGHT section absent"},
    [EBNN_ERR_LAYER] = {"EBNN_ERR_LAYER", "a layer record field out of range"},
    [EBNN_ERR_UNSUPPORTED] = {"EBNN_ERR_UNSUPPORTED",
                              "op or type combination not implemented by this core"},
    [EBNN_ERR_SHAPE] = {"EBNN_ERR_SHAPE", "tensor shapes inconsistent"},
    [EBNN_ERR_WEIGHTS] = {"EBNN_ERR_WEIGHTS",
                          "weight/threshold blob out of bounds, misaligned or wrong size"},
    [EBNN_ERR_ALIGN] = {"EBNN_ERR_ALIGN", "model or arena pointer not 16-byte aligned"},
    [EBNN_ERR_ARENA] = {"EBNN_ERR_ARENA", "arena smaller than ebnn_arena_size()"},
    [EBNN_ERR_LIMIT] = {"EBNN_ERR_LIMIT", "exceeds a compile-time limit"},
    [EBNN_ERR_TRAINING] = {"EBNN_ERR_TRAINING",
                           "training section absent, invalid or not matching the model"},
    [EBNN_ERR_SCRATCH] = {"EBNN_ERR_SCRATCH",
                          "scratch (training, thread stacks) smaller than its buffer size or misaligned"},
    [EBNN_ERR_PACKED] = {"EBNN_ERR_PACKED",
                         "repacked weights not from ebnn_pack() for this model and CPU, or too small"},
};

static const status_text unknown = {"EBNN_ERR_UNKNOWN", "unknown status code"};

static const status_text *lookup(ebnn_status s) {
    unsigned i = (unsigned)s;
    return i < (unsigned)EBNN_STATUS_COUNT ? &texts[i] : &unknown;
}

const char *ebnn_status_name(ebnn_status s) { return lookup(s)->name; }
const char *ebnn_status_message(ebnn_status s) { return lookup(s)->message; }
