/* The loader: valid files load; each failure of docs/format.md "Loader checks" gives its status
 * and the diag layer/field. Edits keep the CRCs valid (unless the CRC is the point) so the check
 * under test is the one reached. */
#include <string.h>

#include "testutil.h"

/* Base model: CONV2D U8 8x8x3 -> 32 (3x3, pad 1), MAXPOOL 2x2/2, CONV2D BIN groups 2 -> 16,
 * DENSE -> 10 I32 scores. */
static tb_model base;
static uint8_t *base_file;
static tb_layout lay;

enum { HDR, LAYR_ENTRY, WGHT_ENTRY, LAYER0, LAYER1, LAYER2, LAYER3, WGHT_DATA };
enum { SET, ADD };
enum { NO_CRC, TABLE_CRC, ALL_CRC }; /* what is recomputed after the edits */

typedef struct {
    uint8_t where, mode, width;
    uint32_t off, value;
} edit;

typedef struct {
    const char *name;
    edit edits[4];
    uint8_t crc;
    ebnn_status status;
    int32_t layer;
    const char *field;
} edit_case;

#define E1(w, o, n, v) {{w, SET, n, o, v}}
#define A1(w, o, n, v) {{w, ADD, n, o, v}}
#define FILE_SIZE_MINUS_8 0xFFFFFFF8u /* ADD wraps: file_size - 8 */

/* Layer record field offsets (docs/format.md). */
enum { OP = 0, FLAGS = 2, IN0 = 4, IN1 = 6, IN_TYPE = 8, OUT_TYPE = 9, GROUPS = 10, IN_H = 12,
       OUT_H = 18, OUT_W = 20, OUT_C = 22, KH = 24, KW = 26, SH = 28, PH = 32, PW = 34,
       W_OFF = 36, W_SIZE = 40, T_OFF = 44, T_SIZE = 48, RESERVED = 60 };

static const edit_case cases[] = {
    /* header */
    {"magic", E1(HDR, 0, 1, 'X'), NO_CRC, EBNN_ERR_MAGIC, -1, "magic"},
    {"version 2", E1(HDR, 4, 2, 2), NO_CRC, EBNN_ERR_VERSION, -1, "version_major"},
    {"version 0", E1(HDR, 4, 2, 0), ALL_CRC, EBNN_ERR_VERSION, -1, "version_major"},
    {"minor 7 accepted", E1(HDR, 6, 2, 7), ALL_CRC, EBNN_OK, -1, ""},
    {"header crc", E1(HDR, 26, 2, 11), NO_CRC, EBNN_ERR_HEADER_CRC, -1, "header_crc"},
    {"header reserved ignored", E1(HDR, 40, 4, 0xDEADBEEF), ALL_CRC, EBNN_OK, -1, ""},
    {"flags", E1(HDR, 12, 4, 1), ALL_CRC, EBNN_ERR_UNSUPPORTED, -1, "flags"},
    {"input_type", E1(HDR, 28, 1, 1), ALL_CRC, EBNN_ERR_UNSUPPORTED, -1, "input_type"},
    {"header reserved byte 29", E1(HDR, 29, 1, 1), ALL_CRC, EBNN_ERR_UNSUPPORTED, -1, "reserved"},
    {"file_size not /16", A1(HDR, 8, 4, FILE_SIZE_MINUS_8), ALL_CRC, EBNN_ERR_SECTION, -1,
     "file_size"},
    {"n_sections 0", E1(HDR, 16, 2, 0), ALL_CRC, EBNN_ERR_SECTION, -1, "n_sections"},
    {"n_sections 17", E1(HDR, 16, 2, 17), ALL_CRC, EBNN_ERR_SECTION, -1, "n_sections"},
    {"n_sections 3: table over LAYR", E1(HDR, 16, 2, 3), ALL_CRC, EBNN_ERR_SECTION, -1, "offset"},
    {"n_layers 0", E1(HDR, 18, 2, 0), ALL_CRC, EBNN_ERR_LIMIT, -1, "n_layers"},
    {"n_layers 256", E1(HDR, 18, 2, 256), ALL_CRC, EBNN_ERR_LIMIT, -1, "n_layers"},
    {"n_layers 3 vs LAYR size", E1(HDR, 18, 2, 3), ALL_CRC, EBNN_ERR_LAYER, -1, "size"},
    {"n_classes", E1(HDR, 26, 2, 11), ALL_CRC, EBNN_ERR_SHAPE, 3, "n_classes"},
    {"n_classes 0", E1(HDR, 26, 2, 0), ALL_CRC, EBNN_ERR_SHAPE, 3, "n_classes"},
    {"input_h", E1(HDR, 20, 2, 9), ALL_CRC, EBNN_ERR_SHAPE, 0, "in_h"},
    {"input_size limit",
     {{HDR, SET, 2, 20, 0xFFFF}, {HDR, SET, 2, 22, 0xFFFF}, {HDR, SET, 2, 24, 0xFFFF}},
     ALL_CRC, EBNN_ERR_LIMIT, -1, "input_size"},
    /* section table */
    {"table crc", A1(WGHT_ENTRY, 8, 4, 1), NO_CRC, EBNN_ERR_HEADER_CRC, -1, "section_table_crc"},
    {"section misaligned", A1(WGHT_ENTRY, 4, 4, 4), ALL_CRC, EBNN_ERR_SECTION, -1, "offset"},
    {"section inside the table", E1(WGHT_ENTRY, 4, 4, 80), ALL_CRC, EBNN_ERR_SECTION, -1,
     "offset"},
    {"section past the end", E1(WGHT_ENTRY, 4, 4, 0x10000000), ALL_CRC, EBNN_ERR_SECTION, -1,
     "offset"},
    {"section too long", E1(WGHT_ENTRY, 8, 4, 0xFFFFFFF0u), ALL_CRC, EBNN_ERR_SECTION, -1,
     "size"},
    {"sections overlap", A1(WGHT_ENTRY, 4, 4, 0xFFFFFFF0u), ALL_CRC, EBNN_ERR_SECTION, -1,
     "offset"},
    {"duplicate tag", E1(WGHT_ENTRY, 0, 4, 0x5259414Cu), ALL_CRC, EBNN_ERR_SECTION, -1, "tag"},
    {"unknown critical tag", E1(WGHT_ENTRY, 0, 4, 0x44434241u), ALL_CRC, EBNN_ERR_SECTION, -1,
     "tag"},
    {"tag not letters", E1(WGHT_ENTRY, 1, 1, '1'), ALL_CRC, EBNN_ERR_SECTION, -1, "tag"},
    {"section crc", A1(WGHT_ENTRY, 12, 4, 1), TABLE_CRC, EBNN_ERR_SECTION_CRC, -1, "crc"},
    {"weight bit flip", A1(WGHT_DATA, 0, 1, 1), TABLE_CRC, EBNN_ERR_SECTION_CRC, -1, "crc"},
    {"LAYR missing", E1(LAYR_ENTRY, 0, 1, 'l'), ALL_CRC, EBNN_ERR_MISSING_SECTION, -1, "LAYR"},
    {"WGHT missing", E1(WGHT_ENTRY, 0, 1, 'w'), ALL_CRC, EBNN_ERR_MISSING_SECTION, -1, "WGHT"},
    /* layer fields out of range */
    {"op 0", E1(LAYER1, OP, 2, 0), ALL_CRC, EBNN_ERR_LAYER, 1, "op"},
    {"op 8", E1(LAYER1, OP, 2, 8), ALL_CRC, EBNN_ERR_LAYER, 1, "op"}, /* 4 (1.1), 5..7 (1.2) */
    {"layer flags", E1(LAYER0, FLAGS, 2, 1), ALL_CRC, EBNN_ERR_LAYER, 0, "flags"},
    {"in0 not earlier", E1(LAYER2, IN0, 2, 3), ALL_CRC, EBNN_ERR_LAYER, 2, "in0"},
    {"in1 set", E1(LAYER2, IN1, 2, 0), ALL_CRC, EBNN_ERR_LAYER, 2, "in1"},
    {"in_type 3", E1(LAYER2, IN_TYPE, 1, 3), ALL_CRC, EBNN_ERR_LAYER, 2, "in_type"},
    {"out_type 7", E1(LAYER2, OUT_TYPE, 1, 7), ALL_CRC, EBNN_ERR_LAYER, 2, "out_type"},
    {"layer reserved", E1(LAYER2, RESERVED, 1, 1), ALL_CRC, EBNN_ERR_LAYER, 2, "reserved"},
    {"stride 0", E1(LAYER2, SH, 2, 0), ALL_CRC, EBNN_ERR_LAYER, 2, "sh"},
    {"kernel 0", E1(LAYER2, KH, 2, 0), ALL_CRC, EBNN_ERR_LAYER, 2, "kh"},
    {"out_c 0", E1(LAYER2, OUT_C, 2, 0), ALL_CRC, EBNN_ERR_LAYER, 2, "out_c"},
    {"groups 0", E1(LAYER2, GROUPS, 2, 0), ALL_CRC, EBNN_ERR_LAYER, 2, "groups"},
    {"groups not dividing", E1(LAYER2, GROUPS, 2, 3), ALL_CRC, EBNN_ERR_LAYER, 2, "groups"},
    {"maxpool groups", E1(LAYER1, GROUPS, 2, 2), ALL_CRC, EBNN_ERR_LAYER, 1, "groups"},
    {"dense padding", E1(LAYER3, PH, 2, 1), ALL_CRC, EBNN_ERR_LAYER, 3, "ph"},
    {"dense kernel", E1(LAYER3, KH, 2, 3), ALL_CRC, EBNN_ERR_LAYER, 3, "kh"},
    {"dense groups", E1(LAYER3, GROUPS, 2, 2), ALL_CRC, EBNN_ERR_LAYER, 3, "groups"},
    /* op/type combinations */
    {"conv I32 input", E1(LAYER2, IN_TYPE, 1, 2), ALL_CRC, EBNN_ERR_UNSUPPORTED, 2, "in_type"},
    {"conv U8 output", E1(LAYER2, OUT_TYPE, 1, 0), ALL_CRC, EBNN_ERR_UNSUPPORTED, 2, "out_type"},
    {"maxpool U8 input", E1(LAYER1, IN_TYPE, 1, 0), ALL_CRC, EBNN_ERR_UNSUPPORTED, 1, "in_type"},
    {"maxpool I32 output", E1(LAYER1, OUT_TYPE, 1, 2), ALL_CRC, EBNN_ERR_UNSUPPORTED, 1,
     "out_type"},
    /* shapes */
    {"in_h vs producer", E1(LAYER2, IN_H, 2, 5), ALL_CRC, EBNN_ERR_SHAPE, 2, "in_h"},
    {"in_type vs producer", E1(LAYER0, IN_TYPE, 1, 1), ALL_CRC, EBNN_ERR_SHAPE, 0, "in_type"},
    {"out_h formula", E1(LAYER2, OUT_H, 2, 5), ALL_CRC, EBNN_ERR_SHAPE, 2, "out_h"},
    {"maxpool out_c", E1(LAYER1, OUT_C, 2, 31), ALL_CRC, EBNN_ERR_SHAPE, 1, "out_c"},
    {"kernel larger than padded input", E1(LAYER2, KH, 2, 9), ALL_CRC, EBNN_ERR_SHAPE, 2, "kh"},
    /* limits */
    {"tensor too large",
     {{LAYER0, SET, 2, PH, 30000}, {LAYER0, SET, 2, PW, 30000}, {LAYER0, SET, 2, OUT_H, 60006},
      {LAYER0, SET, 2, OUT_W, 60006}},
     ALL_CRC, EBNN_ERR_LIMIT, 0, "out_bytes"},
    {"pre-activation range",
     {{LAYER0, SET, 2, KH, 2001}, {LAYER0, SET, 2, KW, 2001}, {LAYER0, SET, 2, PH, 1000},
      {LAYER0, SET, 2, PW, 1000}},
     ALL_CRC, EBNN_ERR_LIMIT, 0, "kh*kw*cg"},
    /* weight and threshold blobs */
    {"w_off misaligned", A1(LAYER0, W_OFF, 4, 4), ALL_CRC, EBNN_ERR_WEIGHTS, 0, "w_off"},
    {"w_size", A1(LAYER0, W_SIZE, 4, 4), ALL_CRC, EBNN_ERR_WEIGHTS, 0, "w_size"},
    {"w_off outside WGHT", E1(LAYER3, W_OFF, 4, 0x7FFFFFF0u), ALL_CRC, EBNN_ERR_WEIGHTS, 3,
     "w_off"},
    {"t_off misaligned", A1(LAYER2, T_OFF, 4, 8), ALL_CRC, EBNN_ERR_WEIGHTS, 2, "t_off"},
    {"t_size", A1(LAYER2, T_SIZE, 4, 4), ALL_CRC, EBNN_ERR_WEIGHTS, 2, "t_size"},
    {"t_off outside WGHT", E1(LAYER2, T_OFF, 4, 0xFFFFFFF0u), ALL_CRC, EBNN_ERR_WEIGHTS, 2,
     "t_off"},
    {"maxpool weights", E1(LAYER1, W_SIZE, 4, 16), ALL_CRC, EBNN_ERR_WEIGHTS, 1, "w_size"},
    {"I32 output thresholds", E1(LAYER3, T_SIZE, 4, 4), ALL_CRC, EBNN_ERR_WEIGHTS, 3, "t_size"},
};

static uint8_t *target(uint8_t *f, const edit *e) {
    switch (e->where) {
    case HDR: return f + e->off;
    case LAYR_ENTRY: return f + 64 + 16 * lay.layr_entry + e->off;
    case WGHT_ENTRY: return f + 64 + 16 * lay.wght_entry + e->off;
    case WGHT_DATA: return f + lay.wght + e->off;
    default: return f + lay.layr + 64 * (e->where - LAYER0) + e->off;
    }
}

static void apply(uint8_t *f, const edit *e) {
    uint8_t *p = target(f, e);
    uint32_t v = e->value;
    if (e->mode == ADD) v += e->width == 1 ? p[0] : e->width == 2 ? tb_get16(p) : tb_get32(p);
    if (e->width == 1) p[0] = (uint8_t)v;
    if (e->width == 2) tb_put16(p, v);
    if (e->width == 4) tb_put32(p, v);
}

static ebnn_status load(const uint8_t *f, size_t n, ebnn_diag *d, ebnn_model *m) {
    uint8_t *copy = tu_copy(f, n);
    ebnn_status s = ebnn_model_load(m, copy, n, d);
    free(copy);
    return s;
}

static void check_diag(const char *name, ebnn_status s, const ebnn_diag *d, ebnn_status want,
                       int32_t layer, const char *field) {
    CHECK(s == want, "%s: status %s, expected %s (diag layer %d field %s got %u expected %u)",
          name, ebnn_status_name(s), ebnn_status_name(want), (int)d->layer,
          d->field ? d->field : "(null)", d->got, d->expected);
    CHECK(d->layer == layer && d->field && strcmp(d->field, field) == 0,
          "%s: diag layer %d field %s, expected layer %d field %s", name, (int)d->layer,
          d->field ? d->field : "(null)", (int)layer, field);
}

static void edit_cases(void) {
    size_t i, k;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const edit_case *c = &cases[i];
        uint8_t *f = tu_copy(base_file, lay.size);
        ebnn_model m;
        ebnn_diag d;
        ebnn_status s;
        for (k = 0; k < 4 && c->edits[k].width; k++) apply(f, &c->edits[k]);
        if (c->crc != NO_CRC) tb_refresh_crcs(f, lay.size, c->crc == ALL_CRC);
        s = load(f, lay.size, &d, &m);
        check_diag(c->name, s, &d, c->status, c->layer, c->field);
        free(f);
    }
}

static void special_cases(tb_rng *r) {
    ebnn_model m;
    ebnn_diag d;
    ebnn_layer l;
    uint8_t *buf, *file;
    tb_model t;
    tb_layout tl;
    size_t n;

    /* Valid file: the descriptor and the decoded records match what was written. */
    file = tu_copy(base_file, lay.size);
    check_diag("valid", ebnn_model_load(&m, file, lay.size, &d), &d, EBNN_OK, -1, "");
    CHECK(m.n_layers == 4 && m.n_classes == 10 && m.in_h == 8 && m.in_w == 8 && m.in_c == 3,
          "model header");
    CHECK(ebnn_input_size(&m) == 192 && ebnn_arena_size(&m) > 0, "sizes");
    CHECK(ebnn_model_load(&m, file, lay.size, NULL) == EBNN_OK, "diag may be NULL");
    CHECK(ebnn_model_layer(&m, 2, &l) == EBNN_OK && l.op == 1 && l.groups == 2 && l.in_c == 32 &&
              l.out_c == 16 && l.in_h == 4 && l.kh == 3 && l.ph == 1 && l.in0 == 2 &&
              l.in1 == EBNN_TENSOR_NONE && l.weights && l.thresholds && l.flip,
          "layer 2 decoded");
    CHECK((const uint8_t *)l.weights == file + lay.wght + lay.w_off[2] &&
              (const uint8_t *)l.thresholds == file + lay.wght + lay.t_off[2] &&
              l.flip == (const uint32_t *)(const void *)(l.thresholds + 16),
          "blob pointers");
    CHECK(ebnn_model_layer(&m, 1, &l) == EBNN_OK && l.op == 3 && !l.weights && !l.thresholds,
          "maxpool has no weights");
    CHECK(ebnn_model_layer(&m, 3, &l) == EBNN_OK && l.weights && !l.thresholds && !l.flip,
          "I32 layer has no thresholds");
    CHECK(ebnn_model_layer(&m, 4, &l) == EBNN_ERR_ARG, "layer index out of range");
    CHECK(ebnn_model_layer(NULL, 0, &l) == EBNN_ERR_ARG, "NULL model");
    free(file);

    /* diag values: found and expected. */
    {
        uint8_t *f = tu_copy(base_file, lay.size);
        uint32_t w_size = tb_get32(f + lay.layr + W_SIZE);
        tb_put32(f + lay.layr + W_SIZE, w_size * 2);
        tb_refresh_crcs(f, lay.size, 1);
        CHECK(ebnn_model_load(&m, f, lay.size, &d) == EBNN_ERR_WEIGHTS && d.got == w_size * 2 &&
                  d.expected == w_size,
              "w_size diag got %u expected %u", d.got, d.expected);
        free(f);
    }

    /* Buffer length, pointer alignment, NULL. */
    check_diag("shorter than header", load(base_file, 63, &d, &m), &d, EBNN_ERR_TRUNCATED, -1,
               "size");
    check_diag("shorter than file_size", load(base_file, lay.size - 16, &d, &m), &d,
               EBNN_ERR_TRUNCATED, -1, "size");
    buf = tu_aligned(lay.size + 16);
    check_diag("empty", ebnn_model_load(&m, buf, 0, &d), &d, EBNN_ERR_TRUNCATED, -1, "size");
    memcpy(buf + 4, base_file, lay.size);
    check_diag("misaligned", ebnn_model_load(&m, buf + 4, lay.size, &d), &d, EBNN_ERR_ALIGN, -1,
               "data");
    memcpy(buf, base_file, lay.size);
    check_diag("longer buffer", ebnn_model_load(&m, buf, lay.size + 16, &d), &d, EBNN_OK, -1, "");
    CHECK(m.size == lay.size, "size is file_size, not the buffer's");
    free(buf);
    CHECK(ebnn_model_load(NULL, base_file, lay.size, &d) == EBNN_ERR_ARG, "NULL model");
    CHECK(ebnn_model_load(&m, NULL, lay.size, &d) == EBNN_ERR_ARG, "NULL data");

    /* Shuffled section order with an ancillary section; renamed ancillary still ignored. */
    n = tb_write(&base, r, &file, &tl);
    check_diag("shuffled", load(file, n, &d, &m), &d, EBNN_OK, -1, "");
    {
        size_t e;
        for (e = 0; e < tl.n_sections; e++)
            if (memcmp(file + 64 + 16 * e, "meta", 4) == 0) memcpy(file + 64 + 16 * e, "zzzz", 4);
        tb_refresh_crcs(file, n, 1);
        check_diag("unknown ancillary", load(file, n, &d, &m), &d, EBNN_OK, -1, "");
    }
    free(file);

    /* Last layer not I32. */
    memset(&t, 0, sizeof t);
    t.in_h = 2, t.in_w = 2, t.in_c = 1, t.n_classes = 4;
    tb_add(&t, r, 2, 0, EBNN_T_BIN, 0, 0, 0, 0, 0, 0, 1, 4);
    n = tb_write(&t, NULL, &file, &tl);
    check_diag("last layer BIN", load(file, n, &d, &m), &d, EBNN_ERR_SHAPE, 0, "out_type");
    free(file);
    tb_free(&t);
}

void test_loader(tb_rng *r) {
    memset(&base, 0, sizeof base);
    base.in_h = 8, base.in_w = 8, base.in_c = 3, base.n_classes = 10;
    tb_add(&base, r, 1, 0, EBNN_T_BIN, 3, 3, 1, 1, 1, 1, 1, 32);
    tb_add(&base, r, 3, 1, EBNN_T_BIN, 2, 2, 2, 2, 0, 0, 1, 0);
    tb_add(&base, r, 1, 2, EBNN_T_BIN, 3, 3, 1, 1, 1, 1, 2, 16);
    tb_add(&base, r, 2, 3, EBNN_T_I32, 0, 0, 0, 0, 0, 0, 1, 10);
    tb_write(&base, NULL, &base_file, &lay);
    edit_cases();
    special_cases(r);
    free(base_file);
    tb_free(&base);
}
