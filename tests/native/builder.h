/* A test-only writer of .ebnn files, written from docs/format.md independently of the core:
 * its own CRC, bit packing and little-endian output. Models are described with unpacked ±1
 * weights so the naive reference (naive.h) can run the same description. */
#ifndef EBNN_TEST_BUILDER_H
#define EBNN_TEST_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#define TB_MAX_LAYERS 24

/* xorshift64*: deterministic, seedable. */
typedef struct {
    uint64_t s;
} tb_rng;
void tb_seed(tb_rng *r, uint64_t seed);
uint32_t tb_rand(tb_rng *r);
uint32_t tb_range(tb_rng *r, uint32_t lo, uint32_t hi); /* inclusive */

typedef struct {
    uint16_t op, in0;
    uint8_t in_type, out_type;
    uint16_t groups;
    uint16_t in_h, in_w, in_c, out_h, out_w, out_c, kh, kw, sh, sw, ph, pw;
    int8_t *w;     /* ±1 weights [out_c][kh][kw][in_c/groups]; NULL for MAXPOOL */
    int32_t *T;    /* [out_c] thresholds, when a conv outputs BIN */
    uint8_t *flip; /* [out_c] 0/1, beside T */
} tb_layer;

typedef struct {
    uint16_t in_h, in_w, in_c, n_classes, n_layers;
    tb_layer layers[TB_MAX_LAYERS];
} tb_model;

/* Tensor t of a model: type and shape (t = 0 is the U8 input). */
typedef struct {
    uint8_t type;
    uint16_t h, w, c;
} tb_tensor;
tb_tensor tb_tensor_of(const tb_model *m, uint32_t t);

/* Appends a layer reading tensor in0, with its input shape taken from that tensor, the output
 * shape from the format's formula, and random ±1 weights and thresholds. For DENSE, kernel,
 * stride, padding and groups are forced to the dense values. Returns the layer. */
tb_layer *tb_add(tb_model *m, tb_rng *r, uint16_t op, uint16_t in0, uint8_t out_type,
                 uint16_t kh, uint16_t kw, uint16_t sh, uint16_t sw, uint16_t ph, uint16_t pw,
                 uint16_t groups, uint16_t out_c);

/* Fills a layer's thresholds randomly around its reachable pre-activations, with flips and the
 * always-on/always-off extremes. */
void tb_random_thresholds(tb_layer *l, tb_rng *r);

/* A random valid model: CONV2D U8 -> (CONV2D BIN | MAXPOOL | DENSE)* -> DENSE/CONV2D I32, with
 * occasional branches (a layer reading an earlier tensor) and dead I32 side outputs. */
void tb_random_model(tb_model *m, tb_rng *r, uint32_t max_layers);
void tb_free(tb_model *m);

/* Byte offsets of what tb_write placed, for targeted edits. */
typedef struct {
    uint32_t size, n_sections;
    uint32_t layr, wght, meta;    /* section data offsets (meta = 0 when absent) */
    int layr_entry, wght_entry;   /* their index in the section table */
    uint32_t w_off[TB_MAX_LAYERS], t_off[TB_MAX_LAYERS]; /* inside WGHT */
} tb_layout;

/* Writes the file into a malloc'ed buffer (*out, caller frees); returns its size. shuffle
 * randomizes section order in the table and in the file and adds an ancillary meta section. */
size_t tb_write(const tb_model *m, tb_rng *shuffle, uint8_t **out, tb_layout *lay);

/* Recomputes the CRCs of a (possibly edited) file wherever the structure still allows:
 * section CRCs (if sections is non-zero), the section table CRC and the header CRC. */
void tb_refresh_crcs(uint8_t *buf, size_t size, int sections);

uint32_t tb_crc32(const uint8_t *p, size_t n);
void tb_put16(uint8_t *p, uint32_t v);
void tb_put32(uint8_t *p, uint32_t v);
uint32_t tb_get16(const uint8_t *p);
uint32_t tb_get32(const uint8_t *p);

/* Packing, as the format lays it out. Word counts: */
size_t tb_weight_words(const tb_layer *l);
void tb_pack_weights(const tb_layer *l, uint32_t *dst);
void tb_pack_thresholds(const tb_layer *l, uint32_t *dst); /* T[out_c] then flip words */
void tb_pack_bin(const int32_t *v, size_t pixels, uint32_t c, uint32_t *dst); /* ±1 -> bits */

#endif /* EBNN_TEST_BUILDER_H */
