/* The model loader: every check of docs/format.md "Loader checks", in the order of that table,
 * so that inference on a loaded model needs no bounds checks of its own. Offsets are validated
 * with subtractions against known-good bounds and are added to a pointer only afterwards. */
#include <string.h>

#include "internal.h"

#define TAG_LAYR 0x5259414Cu /* "LAYR" read little-endian */
#define TAG_WGHT 0x54484757u /* "WGHT" */

ebnn_status ebnn_fail(ebnn_diag *d, ebnn_status s, int32_t layer, const char *field,
                      uint64_t got, uint64_t expected) {
    if (d) {
        d->layer = layer;
        d->field = field;
        d->got = got > UINT32_MAX ? UINT32_MAX : (uint32_t)got;
        d->expected = expected > UINT32_MAX ? UINT32_MAX : (uint32_t)expected;
    }
    return s;
}

static int is_letter(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

void ebnn_record_decode(const uint8_t *p, ebnn_record *r) {
    ebnn_layer *l = &r->l;
    int i;
    l->op = ebnn_rd16(p + 0);
    r->flags = ebnn_rd16(p + 2);
    l->in0 = ebnn_rd16(p + 4);
    l->in1 = ebnn_rd16(p + 6);
    l->in_type = p[8];
    l->out_type = p[9];
    l->groups = ebnn_rd16(p + 10);
    l->in_h = ebnn_rd16(p + 12);
    l->in_w = ebnn_rd16(p + 14);
    l->in_c = ebnn_rd16(p + 16);
    l->out_h = ebnn_rd16(p + 18);
    l->out_w = ebnn_rd16(p + 20);
    l->out_c = ebnn_rd16(p + 22);
    l->kh = ebnn_rd16(p + 24);
    l->kw = ebnn_rd16(p + 26);
    l->sh = ebnn_rd16(p + 28);
    l->sw = ebnn_rd16(p + 30);
    l->ph = ebnn_rd16(p + 32);
    l->pw = ebnn_rd16(p + 34);
    r->w_off = ebnn_rd32(p + 36);
    r->w_size = ebnn_rd32(p + 40);
    r->t_off = ebnn_rd32(p + 44);
    r->t_size = ebnn_rd32(p + 48);
    r->reserved_zero = 1;
    for (i = 52; i < EBNN_LAYER_RECORD_SIZE; i++) r->reserved_zero &= p[i] == 0;
    l->weights = NULL;
    l->thresholds = NULL;
    l->flip = NULL;
}

/* ---- header and section table ---- */

/* Finds LAYR and WGHT after validating every section entry. */
static ebnn_status load_sections(ebnn_model *m, uint32_t file_size, ebnn_diag *diag) {
    const uint8_t *d = m->data, *table = d + EBNN_HEADER_SIZE;
    uint32_t n = ebnn_rd16(d + 16), table_end, i, j;
    const uint8_t *layr = NULL, *wght = NULL;
    uint32_t layr_size = 0;

    if (file_size % EBNN_ALIGN != 0)
        return ebnn_fail(diag, EBNN_ERR_SECTION, -1, "file_size", file_size,
                         ebnn_align16(file_size));
    if (n == 0 || n > EBNN_MAX_SECTIONS)
        return ebnn_fail(diag, EBNN_ERR_SECTION, -1, "n_sections", n, EBNN_MAX_SECTIONS);
    table_end = EBNN_HEADER_SIZE + n * EBNN_SECTION_ENTRY_SIZE;
    if (table_end > file_size)
        return ebnn_fail(diag, EBNN_ERR_SECTION, -1, "file_size", file_size, table_end);
    if (ebnn_crc32(0, table, n * EBNN_SECTION_ENTRY_SIZE) != ebnn_rd32(d + 32))
        return ebnn_fail(diag, EBNN_ERR_HEADER_CRC, -1, "section_table_crc", ebnn_rd32(d + 32),
                    ebnn_crc32(0, table, n * EBNN_SECTION_ENTRY_SIZE));

    /* Structure first (all entries), then contents (CRCs). */
    for (i = 0; i < n; i++) {
        const uint8_t *e = table + i * EBNN_SECTION_ENTRY_SIZE;
        uint32_t tag = ebnn_rd32(e), off = ebnn_rd32(e + 4), size = ebnn_rd32(e + 8);
        int critical = e[0] >= 'A' && e[0] <= 'Z';
        if (!is_letter(e[0]) || !is_letter(e[1]) || !is_letter(e[2]) || !is_letter(e[3]))
            return ebnn_fail(diag, EBNN_ERR_SECTION, -1, "tag", tag, 0);
        if (critical && tag != TAG_LAYR && tag != TAG_WGHT)
            return ebnn_fail(diag, EBNN_ERR_SECTION, -1, "tag", tag, 0);
        if (off % EBNN_ALIGN != 0)
            return ebnn_fail(diag, EBNN_ERR_SECTION, -1, "offset", off, ebnn_align16(off));
        if (off < table_end)
            return ebnn_fail(diag, EBNN_ERR_SECTION, -1, "offset", off, table_end);
        if (off > file_size) return ebnn_fail(diag, EBNN_ERR_SECTION, -1, "offset", off, file_size);
        if (size > file_size - off)
            return ebnn_fail(diag, EBNN_ERR_SECTION, -1, "size", size, file_size - off);
        for (j = 0; j < i; j++) {
            const uint8_t *f = table + j * EBNN_SECTION_ENTRY_SIZE;
            uint32_t foff = ebnn_rd32(f + 4), fsize = ebnn_rd32(f + 8);
            if (ebnn_rd32(f) == tag) return ebnn_fail(diag, EBNN_ERR_SECTION, -1, "tag", tag, 0);
            if (size != 0 && fsize != 0 && off < foff + fsize && foff < off + size)
                return ebnn_fail(diag, EBNN_ERR_SECTION, -1, "offset", off, foff + fsize);
        }
    }
    for (i = 0; i < n; i++) {
        const uint8_t *e = table + i * EBNN_SECTION_ENTRY_SIZE;
        uint32_t tag = ebnn_rd32(e), off = ebnn_rd32(e + 4), size = ebnn_rd32(e + 8);
        uint32_t crc = ebnn_crc32(0, d + off, size);
        if (crc != ebnn_rd32(e + 12))
            return ebnn_fail(diag, EBNN_ERR_SECTION_CRC, -1, "crc", ebnn_rd32(e + 12), crc);
        if (tag == TAG_LAYR) {
            layr = d + off;
            layr_size = size;
        } else if (tag == TAG_WGHT) {
            wght = d + off;
            m->weights_size = size;
        }
    }
    if (layr == NULL) return ebnn_fail(diag, EBNN_ERR_MISSING_SECTION, -1, "LAYR", 0, 0);
    if (wght == NULL) return ebnn_fail(diag, EBNN_ERR_MISSING_SECTION, -1, "WGHT", 0, 0);

    m->n_layers = ebnn_rd16(d + 18);
    if (m->n_layers == 0 || m->n_layers > EBNN_MAX_LAYERS)
        return ebnn_fail(diag, EBNN_ERR_LIMIT, -1, "n_layers", m->n_layers, EBNN_MAX_LAYERS);
    if (layr_size != (uint32_t)m->n_layers * EBNN_LAYER_RECORD_SIZE)
        return ebnn_fail(diag, EBNN_ERR_LAYER, -1, "size", layr_size,
                    (uint32_t)m->n_layers * EBNN_LAYER_RECORD_SIZE);
    m->layer_table = layr;
    m->weights = wght;
    return EBNN_OK;
}

/* ---- layer records ---- */

typedef struct {
    uint8_t type;
    uint16_t h, w, c;
} tensor_desc;

/* Type and shape of tensor t (< the layer being checked): the input, or an earlier output. */
static tensor_desc tensor_of(const ebnn_model *m, uint16_t t) {
    tensor_desc s = {EBNN_T_U8, m->in_h, m->in_w, m->in_c};
    if (t > 0) {
        ebnn_record r;
        ebnn_record_decode(m->layer_table + (size_t)(t - 1) * EBNN_LAYER_RECORD_SIZE, &r);
        s.type = r.l.out_type;
        s.h = r.l.out_h;
        s.w = r.l.out_w;
        s.c = r.l.out_c;
    }
    return s;
}

typedef struct {
    const char *name;
    uint32_t got, expected;
} field_check;

/* The first of n checks whose value differs from the expected one, or NULL. */
static const field_check *first_mismatch(const field_check *f, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if (f[i].got != f[i].expected) return &f[i];
    return NULL;
}

/* A blob inside WGHT: 16-byte aligned offset, exact size, within the section. */
static ebnn_status check_blob(const ebnn_model *m, int32_t layer, const char *off_name,
                              const char *size_name, uint32_t off, uint32_t size,
                              uint64_t expected, ebnn_diag *diag) {
    if (off % EBNN_ALIGN != 0)
        return ebnn_fail(diag, EBNN_ERR_WEIGHTS, layer, off_name, off, ebnn_align16(off));
    if (size != expected)
        return ebnn_fail(diag, EBNN_ERR_WEIGHTS, layer, size_name, size, expected);
    if (size > m->weights_size || off > m->weights_size - size)
        return ebnn_fail(diag, EBNN_ERR_WEIGHTS, layer, off_name, off,
                    size > m->weights_size ? 0 : m->weights_size - size);
    return EBNN_OK;
}

/* The input and output types each op runs with (docs/format.md "Loader checks"); a conv's
 * in_type may also be BIN and its out_type I32. */
static const struct {
    uint8_t in, out;
} op_types[] = {
    {EBNN_T_U8, EBNN_T_BIN},  /* CONV2D (U8|BIN -> BIN|I32) */
    {EBNN_T_U8, EBNN_T_BIN},  /* DENSE (likewise) */
    {EBNN_T_BIN, EBNN_T_BIN}, /* MAXPOOL */
    {EBNN_T_U8, EBNN_T_BIN},  /* BINARIZE */
    {EBNN_T_I32, EBNN_T_BIN}, /* THRESHOLD */
    {EBNN_T_I32, EBNN_T_I32}, /* ADD */
    {EBNN_T_BIN, EBNN_T_U8},  /* GAP */
};

static ebnn_status check_layer(const ebnn_model *m, uint32_t i, ebnn_diag *diag) {
    ebnn_record r;
    const ebnn_layer *l = &r.l;
    const field_check *bad;
    int32_t li = (int32_t)i;
    int conv, add, pointwise;
    uint32_t cg;
    uint64_t n, row_words, t_expected;
    tensor_desc src;

    ebnn_record_decode(m->layer_table + (size_t)i * EBNN_LAYER_RECORD_SIZE, &r);
    conv = l->op == EBNN_OP_CONV2D || l->op == EBNN_OP_DENSE;
    add = l->op == EBNN_OP_ADD;
    pointwise = l->op >= EBNN_OP_BINARIZE; /* BINARIZE and the 1.2 ops: no window */

    /* Fields out of their range: EBNN_ERR_LAYER. */
    if (l->op < EBNN_OP_CONV2D || l->op > EBNN_OP_GAP)
        return ebnn_fail(diag, EBNN_ERR_LAYER, li, "op", l->op, EBNN_OP_CONV2D);
    if (r.flags != 0) return ebnn_fail(diag, EBNN_ERR_LAYER, li, "flags", r.flags, 0);
    if (l->in0 > i) return ebnn_fail(diag, EBNN_ERR_LAYER, li, "in0", l->in0, i);
    if (add ? l->in1 > i : l->in1 != EBNN_TENSOR_NONE)
        return ebnn_fail(diag, EBNN_ERR_LAYER, li, "in1", l->in1, add ? i : EBNN_TENSOR_NONE);
    if (l->in_type > EBNN_T_I32)
        return ebnn_fail(diag, EBNN_ERR_LAYER, li, "in_type", l->in_type, EBNN_T_I32);
    if (l->out_type > EBNN_T_I32)
        return ebnn_fail(diag, EBNN_ERR_LAYER, li, "out_type", l->out_type, EBNN_T_I32);
    if (!r.reserved_zero) return ebnn_fail(diag, EBNN_ERR_LAYER, li, "reserved", 1, 0);
    {
        const uint16_t *v[] = {&l->in_h, &l->in_w, &l->in_c, &l->out_h, &l->out_w,
                               &l->out_c, &l->kh, &l->kw, &l->sh, &l->sw, &l->groups};
        static const char *const names[] = {"in_h", "in_w", "in_c", "out_h", "out_w", "out_c",
                                            "kh", "kw", "sh", "sw", "groups"};
        size_t k;
        for (k = 0; k < sizeof names / sizeof names[0]; k++)
            if (*v[k] == 0) return ebnn_fail(diag, EBNN_ERR_LAYER, li, names[k], 0, 1);
    }
    if (l->in_c % l->groups != 0 || l->out_c % l->groups != 0 ||
        (!conv && l->groups != 1))
        return ebnn_fail(diag, EBNN_ERR_LAYER, li, "groups", l->groups, 1);
    if (l->op == EBNN_OP_DENSE) {
        const field_check dense[] = {{"kh", l->kh, l->in_h}, {"kw", l->kw, l->in_w},
                                     {"sh", l->sh, 1},       {"sw", l->sw, 1},
                                     {"ph", l->ph, 0},       {"pw", l->pw, 0},
                                     {"groups", l->groups, 1}};
        bad = first_mismatch(dense, sizeof dense / sizeof dense[0]);
        if (bad) return ebnn_fail(diag, EBNN_ERR_LAYER, li, bad->name, bad->got, bad->expected);
    }
    if (pointwise) { /* a 1x1 window, stride 1, no padding */
        const field_check elementwise[] = {{"kh", l->kh, 1}, {"kw", l->kw, 1}, {"sh", l->sh, 1},
                                           {"sw", l->sw, 1}, {"ph", l->ph, 0}, {"pw", l->pw, 0}};
        bad = first_mismatch(elementwise, sizeof elementwise / sizeof elementwise[0]);
        if (bad) return ebnn_fail(diag, EBNN_ERR_LAYER, li, bad->name, bad->got, bad->expected);
    }
    if (l->op == EBNN_OP_GAP && (uint32_t)l->in_h * l->in_w > 255u) /* counts fit a u8 */
        return ebnn_fail(diag, EBNN_ERR_LAYER, li, "in_h*in_w", (uint32_t)l->in_h * l->in_w,
                         255u);

    /* Op/type combinations this core runs (op_types). */
    if (conv ? l->in_type == EBNN_T_I32 : l->in_type != op_types[l->op - 1].in)
        return ebnn_fail(diag, EBNN_ERR_UNSUPPORTED, li, "in_type", l->in_type,
                         op_types[l->op - 1].in);
    if (conv ? l->out_type == EBNN_T_U8 : l->out_type != op_types[l->op - 1].out)
        return ebnn_fail(diag, EBNN_ERR_UNSUPPORTED, li, "out_type", l->out_type,
                         op_types[l->op - 1].out);

    /* Shapes: the producer's, and the output size formula. */
    src = tensor_of(m, l->in0);
    {
        const field_check producer[] = {{"in_type", l->in_type, src.type},
                                        {"in_h", l->in_h, src.h},
                                        {"in_w", l->in_w, src.w},
                                        {"in_c", l->in_c, src.c}};
        bad = first_mismatch(producer, sizeof producer / sizeof producer[0]);
        if (bad) return ebnn_fail(diag, EBNN_ERR_SHAPE, li, bad->name, bad->got, bad->expected);
    }
    if (add) { /* the second operand: in0's type and shape */
        tensor_desc src1 = tensor_of(m, l->in1);
        const field_check second[] = {{"in1_type", src1.type, l->in_type},
                                      {"in1_h", src1.h, l->in_h},
                                      {"in1_w", src1.w, l->in_w},
                                      {"in1_c", src1.c, l->in_c}};
        bad = first_mismatch(second, sizeof second / sizeof second[0]);
        if (bad) return ebnn_fail(diag, EBNN_ERR_SHAPE, li, bad->name, bad->got, bad->expected);
    }
    if ((uint32_t)l->in_h + 2u * l->ph < l->kh)
        return ebnn_fail(diag, EBNN_ERR_SHAPE, li, "kh", l->kh, (uint32_t)l->in_h + 2u * l->ph);
    if ((uint32_t)l->in_w + 2u * l->pw < l->kw)
        return ebnn_fail(diag, EBNN_ERR_SHAPE, li, "kw", l->kw, (uint32_t)l->in_w + 2u * l->pw);
    if (l->op == EBNN_OP_BINARIZE && l->out_h == 1 && l->out_w == 1 &&
        l->out_c == (uint32_t)l->in_h * l->in_w * l->in_c) {
        /* BINARIZE may flatten its output to 1 x 1 x in_h*in_w*in_c (dense packing) */
    } else if (l->op == EBNN_OP_GAP) {
        const field_check out[] = {{"out_h", l->out_h, 1}, {"out_w", l->out_w, 1},
                                   {"out_c", l->out_c, l->in_c}};
        bad = first_mismatch(out, sizeof out / sizeof out[0]);
        if (bad) return ebnn_fail(diag, EBNN_ERR_SHAPE, li, bad->name, bad->got, bad->expected);
    } else {
        const field_check out[] = {
            {"out_h", l->out_h, ((uint32_t)l->in_h + 2u * l->ph - l->kh) / l->sh + 1u},
            {"out_w", l->out_w, ((uint32_t)l->in_w + 2u * l->pw - l->kw) / l->sw + 1u},
            {"out_c", l->out_c, conv ? l->out_c : l->in_c}};
        bad = first_mismatch(out, sizeof out / sizeof out[0]);
        if (bad) return ebnn_fail(diag, EBNN_ERR_SHAPE, li, bad->name, bad->got, bad->expected);
    }

    /* Compile-time limits: exact int32 pre-activations, 31-bit tensor sizes. */
    cg = (uint32_t)l->in_c / l->groups;
    n = (uint64_t)l->kh * l->kw * cg;
    if (conv && n * (l->in_type == EBNN_T_U8 ? 255u : 1u) > INT32_MAX)
        return ebnn_fail(diag, EBNN_ERR_LIMIT, li, "kh*kw*cg", n, 0);
    if (ebnn_tensor_bytes(l->out_type, l->out_h, l->out_w, l->out_c) > EBNN_MAX_BYTES)
        return ebnn_fail(diag, EBNN_ERR_LIMIT, li, "out_bytes",
                    ebnn_tensor_bytes(l->out_type, l->out_h, l->out_w, l->out_c),
                    EBNN_MAX_BYTES);

    /* Weight and threshold blobs. */
    row_words = l->in_type == EBNN_T_U8 ? ebnn_words((uint32_t)n)
                                        : (uint64_t)l->kh * l->kw * ebnn_words(cg);
    t_expected = (conv && l->out_type == EBNN_T_BIN) || l->op == EBNN_OP_THRESHOLD
                     ? 4u * ((uint64_t)l->out_c + ebnn_words(l->out_c))
                     : 0u;
    if (l->op == EBNN_OP_BINARIZE) t_expected = (uint64_t)l->in_h * l->in_w * l->in_c;
    {
        ebnn_status s = check_blob(m, li, "w_off", "w_size", r.w_off, r.w_size,
                                   conv ? (uint64_t)l->out_c * row_words * 4u : 0u, diag);
        if (s != EBNN_OK) return s;
        return check_blob(m, li, "t_off", "t_size", r.t_off, r.t_size, t_expected, diag);
    }
}

ebnn_status ebnn_model_load(ebnn_model *m, const void *data, size_t size, ebnn_diag *diag) {
    const uint8_t *d = (const uint8_t *)data;
    ebnn_model t;
    ebnn_plan plan;
    ebnn_record last;
    uint32_t file_size, i;
    ebnn_status s;

    ebnn_fail(diag, EBNN_OK, -1, "", 0, 0);
    if (m == NULL || d == NULL) return ebnn_fail(diag, EBNN_ERR_ARG, -1, m ? "data" : "m", 0, 0);
    if ((uintptr_t)d % EBNN_ALIGN != 0)
        return ebnn_fail(diag, EBNN_ERR_ALIGN, -1, "data", (uintptr_t)d % EBNN_ALIGN, 0);
    if (size < EBNN_HEADER_SIZE)
        return ebnn_fail(diag, EBNN_ERR_TRUNCATED, -1, "size", size, EBNN_HEADER_SIZE);
    if (memcmp(d, "EBNN", 4) != 0)
        return ebnn_fail(diag, EBNN_ERR_MAGIC, -1, "magic", ebnn_rd32(d), 0x4E4E4245u);
    if (ebnn_rd16(d + 4) != EBNN_FORMAT_MAJOR)
        return ebnn_fail(diag, EBNN_ERR_VERSION, -1, "version_major", ebnn_rd16(d + 4),
                    EBNN_FORMAT_MAJOR);
    if (ebnn_crc32(0, d, 60) != ebnn_rd32(d + 60))
        return ebnn_fail(diag, EBNN_ERR_HEADER_CRC, -1, "header_crc", ebnn_rd32(d + 60),
                    ebnn_crc32(0, d, 60));
    file_size = ebnn_rd32(d + 8);
    if (size < file_size) return ebnn_fail(diag, EBNN_ERR_TRUNCATED, -1, "size", size, file_size);
    /* Header fields this core has no support for: a non-zero flag or an unknown input type. */
    if (ebnn_rd32(d + 12) != 0)
        return ebnn_fail(diag, EBNN_ERR_UNSUPPORTED, -1, "flags", ebnn_rd32(d + 12), 0);
    if (d[28] != EBNN_T_U8)
        return ebnn_fail(diag, EBNN_ERR_UNSUPPORTED, -1, "input_type", d[28], 0);
    if (d[29] != 0 || d[30] != 0 || d[31] != 0)
        return ebnn_fail(diag, EBNN_ERR_UNSUPPORTED, -1, "reserved", 1, 0);

    memset(&t, 0, sizeof t);
    t.data = d;
    t.size = file_size;
    t.in_h = ebnn_rd16(d + 20);
    t.in_w = ebnn_rd16(d + 22);
    t.in_c = ebnn_rd16(d + 24);
    t.n_classes = ebnn_rd16(d + 26);
    s = load_sections(&t, file_size, diag);
    if (s != EBNN_OK) return s;
    if (ebnn_input_size(&t) > EBNN_MAX_BYTES)
        return ebnn_fail(diag, EBNN_ERR_LIMIT, -1, "input_size", ebnn_input_size(&t),
                         EBNN_MAX_BYTES);

    for (i = 0; i < t.n_layers; i++) {
        s = check_layer(&t, i, diag);
        if (s != EBNN_OK) return s;
    }
    ebnn_record_decode(t.layer_table + (size_t)(t.n_layers - 1) * EBNN_LAYER_RECORD_SIZE, &last);
    if (last.l.out_type != EBNN_T_I32)
        return ebnn_fail(diag, EBNN_ERR_SHAPE, t.n_layers - 1, "out_type", last.l.out_type,
                    EBNN_T_I32);
    if ((uint64_t)last.l.out_h * last.l.out_w * last.l.out_c != t.n_classes)
        return ebnn_fail(diag, EBNN_ERR_SHAPE, t.n_layers - 1, "n_classes", t.n_classes,
                    (uint64_t)last.l.out_h * last.l.out_w * last.l.out_c);

    if (ebnn_plan_arena(&t, &plan) != EBNN_OK)
        return ebnn_fail(diag, EBNN_ERR_LIMIT, -1, "arena_size", 0, EBNN_MAX_BYTES);
    t.arena_size = plan.size;
    *m = t;
    return EBNN_OK;
}

ebnn_status ebnn_model_layer(const ebnn_model *m, uint32_t i, ebnn_layer *out) {
    ebnn_record r;
    int conv;
    if (m == NULL || out == NULL || i >= m->n_layers) return EBNN_ERR_ARG;
    ebnn_record_decode(m->layer_table + (size_t)i * EBNN_LAYER_RECORD_SIZE, &r);
    conv = r.l.op == EBNN_OP_CONV2D || r.l.op == EBNN_OP_DENSE;
    if (conv) r.l.weights = (const uint32_t *)(const void *)(m->weights + r.w_off);
    if (r.l.op == EBNN_OP_BINARIZE) {
        /* u8 thresholds at a 16-aligned offset; the kernel reads them as bytes */
        r.l.thresholds = (const int32_t *)(const void *)(m->weights + r.t_off);
    } else if ((conv && r.l.out_type == EBNN_T_BIN) || r.l.op == EBNN_OP_THRESHOLD) {
        r.l.thresholds = (const int32_t *)(const void *)(m->weights + r.t_off);
        r.l.flip = (const uint32_t *)(const void *)(r.l.thresholds + r.l.out_c);
    }
    *out = r.l;
    return EBNN_OK;
}

size_t ebnn_arena_size(const ebnn_model *m) { return m ? m->arena_size : 0; }

size_t ebnn_input_size(const ebnn_model *m) {
    return m ? ebnn_tensor_bytes(EBNN_T_U8, m->in_h, m->in_w, m->in_c) : 0;
}
