/* Channels-in-lanes BIN convolution for x86 (AVX-512 VPOPCNTDQ and AVX2), the path most
 * convolutions take on the host. The weights of a group of output channels (16 for AVX-512,
 * 8 for AVX2) are repacked word-major, so that one vector holds word j of every channel of the
 * group. Each input word of the window is then broadcast and XOR-ed with that vector, and the
 * lanes accumulate per-channel mismatch counts directly: no horizontal reduction per output,
 * no scalar tail for rows that are not a whole number of vectors, and the threshold, the flip
 * and the bit packing of the outputs are one vector compare. On AVX-512 eight output pixels
 * share every loaded weight vector; on AVX2 each pixel's window runs through a carry-save tree
 * (mismatches8). The windows of a block of pixels are found once for as many channel groups
 * as fit in the repacked-weights buffer; a window read in place whose left neighbour is too is
 * that window moved on by a stride (one add per kernel row). Why not xorpop row by row: a 3x3x128
 * window is 36 words, so the row primitive spends a large share of its time in tails and
 * reductions (docs/performance.md).
 *
 * The repacking costs a pass over the weights, so layers with a single output pixel (dense
 * batch 1) stay on xorpop (bin_conv.c). A caller that runs a model many times can repack once
 * at load time (ebnn_pack, pack.c, through the row's pack) and hand the result in. */
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include "x86_bytes.h"
#include "x86_finish.h"

#define PIX 8u          /* output pixels per block (lanes16 names its 8 accumulators) */
#define MAX_SEGS 16u    /* window rows (kh) of a padded / strided conv handled here */
/* Stack: about 38 KiB in all (the repacked weights, the patch, the flattened windows, the
 * groups, the block). */
#define WL_WORDS 4096u  /* repacked weights of the groups of one pass: window words x lanes */
#define PATCH_WORDS 2304u /* gathered windows of edge pixels, plus a zero row: (PIX+1) x 256 */
#define MAX_GROUPS 32u

/* A block of PIX output pixels: the window of pixel p is segs runs of len words, run s at
 * x[s * PIX + p]. Pixels past the layer's last repeat it; only npix are written. */
typedef struct {
    const uint32_t *x[MAX_SEGS * PIX];
    uint32_t segs, len;
    size_t pix0;
    uint32_t npix;
    const uint32_t *flat; /* AVX2: window of pixel p as one run, flat[p * segs * len ...] */
} block;

/* Counts the block against the group's repacked weights wl and writes the outputs. */
typedef void (*lanes_fn)(const uint32_t *wl, const block *b, const group *g);

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vpopcntdq")))
#define AVX2 __attribute__((target("avx2")))

/* One accumulator per pixel of the block, as named variables: an array of them is zeroed
 * through memory by the compiler on every call. */
#define STEP16(p, a) a = _mm512_add_epi32(a, _mm512_popcnt_epi32(_mm512_xor_si512(wv, _mm512_set1_epi32((int)x[p][k]))))

static AVX512 void lanes16(const uint32_t *wl, const block *b, const group *g) {
    const fin16 f = fin16_of(g);
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
            a7 = a0;
    uint32_t s, k, npix;
    size_t pix0;
    for (s = 0; s < b->segs; s++) {
        const uint32_t *const *x = b->x + s * PIX, *w = wl + (size_t)s * b->len * 16u;
        for (k = 0; k < b->len; k++) {
            __m512i wv = _mm512_loadu_si512((const void *)(w + 16u * k));
            STEP16(0, a0), STEP16(1, a1), STEP16(2, a2), STEP16(3, a3);
            STEP16(4, a4), STEP16(5, a5), STEP16(6, a6), STEP16(7, a7);
        }
    }
    pix0 = b->pix0, npix = b->npix; /* not reloaded after each output store */
    finish16(&f, pix0, a0);
    if (npix > 1u) finish16(&f, pix0 + 1u, a1);
    if (npix > 2u) finish16(&f, pix0 + 2u, a2);
    if (npix > 3u) finish16(&f, pix0 + 3u, a3);
    if (npix > 4u) finish16(&f, pix0 + 4u, a4);
    if (npix > 5u) finish16(&f, pix0 + 5u, a5);
    if (npix > 6u) finish16(&f, pix0 + 6u, a6);
    if (npix > 7u) finish16(&f, pix0 + 7u, a7);
}

/* Byte counters (<= 8 per word) into the 32-bit lane sums: 31 words at most in between. */
static AVX2 inline __m256i widen(__m256i bytes) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(bytes, _mm256_set1_epi8(1)), _mm256_set1_epi16(1));
}

/* Bit counts of the bytes of v (nibble lookup). */
static AVX2 inline __m256i count_bytes8(__m256i v, __m256i lut, __m256i low) {
    __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
}

/* Window word i of the pixel against word i of the 8 channels. */
#define XW(i) _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(w + 8u * (i))), \
                               _mm256_set1_epi32((int)x[i]))

/* Per-lane mismatch counts of one pixel's window x (n words, one run) against the 8 channels'
 * word-major weights wl: Harley-Seal carry-save over 8 words at a time, so that a lookup count
 * runs once per 8 words (on the eights) instead of once per word: about 6 vector operations per
 * word against the nibble lookup's 8. The ones, twos and fours left over, and the last n % 8
 * words, are counted by lookup at the end. */
static AVX2 __m256i mismatches8(const uint32_t *wl, const uint32_t *x, uint32_t n, __m256i lut,
                                __m256i low) {
    __m256i ones = _mm256_setzero_si256(), twos = ones, fours = ones, eights = ones, sum8 = ones;
    __m256i twoA, twoB, fourA, fourB, eight, small;
    uint32_t j = 0, since = 0;
    for (; j + 8u <= n; j += 8u, x += 8u) {
        const uint32_t *w = wl + 8u * j;
        EBNN_AVX2_CSA(twoA, ones, ones, XW(0), XW(1));
        EBNN_AVX2_CSA(twoB, ones, ones, XW(2), XW(3));
        EBNN_AVX2_CSA(fourA, twos, twos, twoA, twoB);
        EBNN_AVX2_CSA(twoA, ones, ones, XW(4), XW(5));
        EBNN_AVX2_CSA(twoB, ones, ones, XW(6), XW(7));
        EBNN_AVX2_CSA(fourB, twos, twos, twoA, twoB);
        EBNN_AVX2_CSA(eight, fours, fours, fourA, fourB);
        eights = _mm256_add_epi8(eights, count_bytes8(eight, lut, low)); /* <= 8 per byte */
        if (++since == 31u) {
            sum8 = _mm256_add_epi32(sum8, widen(eights)), eights = _mm256_setzero_si256();
            since = 0;
        }
    }
    /* bytes: 4 x fours + 2 x twos + ones + the last words, at most 32 + 16 + 8 + 56 */
    small = count_bytes8(fours, lut, low);
    small = _mm256_add_epi8(small, small);
    small = _mm256_add_epi8(small, count_bytes8(twos, lut, low));
    small = _mm256_add_epi8(small, small);
    small = _mm256_add_epi8(small, count_bytes8(ones, lut, low));
    for (; j < n; j++, x++) {
        const uint32_t *w = wl + 8u * j;
        small = _mm256_add_epi8(small, count_bytes8(XW(0), lut, low));
    }
    sum8 = _mm256_add_epi32(sum8, widen(eights));
    return _mm256_add_epi32(_mm256_slli_epi32(sum8, 3), widen(small));
}

static AVX2 void lanes8(const uint32_t *wl, const block *b, const group *g) {
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1,
                                         1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0F);
    const fin8 f = fin8_of(g);
    const uint32_t *flat = b->flat;
    uint32_t n = b->segs * b->len, npix = b->npix, p;
    size_t pix0 = b->pix0;
    for (p = 0; p < npix; p++)
        finish8(&f, pix0 + p, mismatches8(wl, flat + (size_t)p * n, n, lut, low));
}

/* Window runs of pixel p of the block: one run when windows are contiguous in the input
 * (segs == 1), else one per kernel row: in place, the zero row for rows in the padding, or a
 * copy in the pixel's patch when the row reaches into the horizontal padding. */
static void window(const ebnn_layer *l, const uint32_t *in, uint32_t iw, uint32_t oy,
                   uint32_t ox, uint32_t p, block *b, uint32_t *patch, const uint32_t *zero) {
    uint32_t ky, kx, k;
    int32_t iy0 = (int32_t)(oy * l->sh) - (int32_t)l->ph;
    int32_t ix0 = (int32_t)(ox * l->sw) - (int32_t)l->pw;
    int inside = ix0 >= 0 && ix0 + (int32_t)l->kw <= (int32_t)l->in_w;
    for (ky = 0; ky < b->segs; ky++) {
        int32_t iy = iy0 + (int32_t)ky;
        uint32_t *row = patch + (size_t)ky * b->len;
        if (iy < 0 || iy >= (int32_t)l->in_h) {
            b->x[ky * PIX + p] = zero;
        } else if (inside) {
            b->x[ky * PIX + p] = in + ((size_t)iy * l->in_w + (size_t)ix0) * iw;
        } else {
            for (kx = 0; kx < l->kw; kx++) {
                int32_t ix = ix0 + (int32_t)kx;
                int pad = ix < 0 || ix >= (int32_t)l->in_w;
                const uint32_t *px = pad ? zero : in + ((size_t)iy * l->in_w + (size_t)ix) * iw;
                for (k = 0; k < iw; k++) row[kx * iw + k] = px[k];
            }
            b->x[ky * PIX + p] = row;
        }
    }
}

/* 1 when output row oy's windows read no padding row: the rows whose columns lo..hi (in_place)
 * read their windows in place. */
static int row_in_place(const ebnn_layer *l, uint32_t oy) {
    uint32_t iy = oy * l->sh; /* the window's first row, in padded rows */
    return iy >= l->ph && iy - l->ph + l->kh <= (uint32_t)l->in_h;
}

/* The output columns lo..hi whose windows reach into no horizontal padding (none: hi <= lo
 * serves as well, since only the columns after lo are stepped to). */
static void in_place(const ebnn_layer *l, uint32_t *lo, uint32_t *hi) {
    uint32_t right = (uint32_t)l->in_w + l->pw; /* the input's end, in padded columns */
    *lo = ((uint32_t)l->pw + l->sw - 1u) / l->sw;
    *hi = right < l->kw ? 0u : (right - l->kw) / l->sw;
}

/* Group g's weights word-major: wl[j * lanes + c] = word j of channel c0 + c (zero past
 * out_c). */
typedef void (*repack_fn)(const ebnn_layer *l, uint32_t n, const group *g, uint32_t *wl);

/* AVX-512: 16 x 16 blocks transposed in registers (32-bit, then 64-bit interleaves, then two
 * rounds of 128-bit lane shuffles); a scalar or gather repack costs as much as the conv itself
 * on small maps (ResNet-18's last stages). */
static AVX512 void repack16(const ebnn_layer *l, uint32_t n, const group *g, uint32_t *wl) {
    const uint32_t *w = l->weights + (size_t)g->c0 * n;
    __m512i r[16], t[16], u[16];
    uint32_t j0, c, q, m;
    for (j0 = 0; j0 < n; j0 += 16u) {
        uint32_t cols = n - j0 < 16u ? n - j0 : 16u;
        __mmask16 load = (__mmask16)((1u << cols) - 1u);
        for (c = 0; c < 16u; c++)
            r[c] = c < g->valid ? _mm512_maskz_loadu_epi32(load, w + (size_t)c * n + j0)
                                : _mm512_setzero_si512();
        for (c = 0; c < 16u; c += 2u) {
            t[c] = _mm512_unpacklo_epi32(r[c], r[c + 1u]);
            t[c + 1u] = _mm512_unpackhi_epi32(r[c], r[c + 1u]);
        }
        for (q = 0; q < 16u; q += 4u) { /* u[q + m]: rows q..q+3, column m + 4L in lane L */
            u[q] = _mm512_unpacklo_epi64(t[q], t[q + 2u]);
            u[q + 1u] = _mm512_unpackhi_epi64(t[q], t[q + 2u]);
            u[q + 2u] = _mm512_unpacklo_epi64(t[q + 1u], t[q + 3u]);
            u[q + 3u] = _mm512_unpackhi_epi64(t[q + 1u], t[q + 3u]);
        }
        for (m = 0; m < 4u; m++) {
            __m512i x0 = _mm512_shuffle_i32x4(u[m], u[4u + m], 0x44);
            __m512i x1 = _mm512_shuffle_i32x4(u[m], u[4u + m], 0xEE);
            __m512i y0 = _mm512_shuffle_i32x4(u[8u + m], u[12u + m], 0x44);
            __m512i y1 = _mm512_shuffle_i32x4(u[8u + m], u[12u + m], 0xEE);
            __m512i col[4];
            uint32_t L;
            col[0] = _mm512_shuffle_i32x4(x0, y0, 0x88), col[1] = _mm512_shuffle_i32x4(x0, y0, 0xDD);
            col[2] = _mm512_shuffle_i32x4(x1, y1, 0x88), col[3] = _mm512_shuffle_i32x4(x1, y1, 0xDD);
            for (L = 0; L < 4u; L++)
                if (m + 4u * L < cols)
                    _mm512_storeu_si512((void *)(wl + 16u * (j0 + m + 4u * L)), col[L]);
        }
    }
}

static void repack8(const ebnn_layer *l, uint32_t n, const group *g, uint32_t *wl) {
    uint32_t c, j;
    for (c = 0; c < 8u; c++) {
        const uint32_t *w = l->weights + (size_t)(g->c0 + c) * n;
        for (j = 0; j < n; j++) wl[(size_t)j * 8u + c] = c < g->valid ? w[j] : 0u;
    }
}

/* How a kernel runs layers in lanes: its lane count and functions. */
typedef struct {
    uint32_t lanes;
    int flat; /* the kernel reads each pixel's window as one run (block.flat) */
    lanes_fn run;
    repack_fn repack;
} lanes_kind;

static const lanes_kind LANES16 = {16u, 0, lanes16, repack16};
static const lanes_kind LANES8 = {8u, 1, lanes8, repack8};

/* How kind k runs layer l: the window's words and segments; 0 when the layer is not one it
 * handles. */
typedef struct {
    const lanes_kind *k;
    uint32_t n, iw;
} lanes_plan;

static int plan(const lanes_kind *k, const ebnn_layer *l, lanes_plan *p, block *b) {
    p->k = k, p->iw = ebnn_words(l->in_c), p->n = (uint32_t)l->kh * l->kw * p->iw;
    if (l->in_type != EBNN_T_BIN || l->groups != 1 || (size_t)l->out_h * l->out_w < 2u) return 0;
    if ((size_t)p->n * k->lanes > WL_WORDS) return 0;
    b->segs = (l->kh == 1u || l->kw == l->in_w) && ebnn_no_padding(l) ? 1u : l->kh;
    b->len = p->n / b->segs;
    return b->segs <= MAX_SEGS && (size_t)(PIX + 1u) * p->n <= PATCH_WORDS;
}

static size_t packed_words(const lanes_kind *k, const ebnn_layer *l) {
    lanes_plan p;
    block b;
    if (!plan(k, l, &p, &b)) return 0;
    return (size_t)(l->out_c + p.k->lanes - 1u) / p.k->lanes * p.n * p.k->lanes;
}

static void pack(const lanes_kind *k, const ebnn_layer *l, uint32_t *wl) {
    lanes_plan p;
    block b;
    group g;
    uint32_t c0;
    if (!plan(k, l, &p, &b)) return;
    for (c0 = 0; c0 < l->out_c; c0 += p.k->lanes, wl += (size_t)p.n * p.k->lanes) {
        ebnn_group_init(&g, l, NULL, c0, p.k->lanes, 1);
        p.k->repack(l, p.n, &g, wl);
    }
}

static int conv2d(const lanes_kind *k, const ebnn_layer *l, const uint32_t *packed,
                  const uint32_t *in, void *out) {
    uint32_t buf[WL_WORDS], patch[PATCH_WORDS], flat[PATCH_WORDS];
    uint32_t p, c0, per, i, oy, ox, s, k2, lo, hi, step;
    int row_in;
    size_t pixels = (size_t)l->out_h * l->out_w;
    lanes_plan lp;
    group g[MAX_GROUPS];
    block b;

    if (!plan(k, l, &lp, &b)) return 0;
    b.flat = flat;
    for (p = 0; p < b.len; p++) patch[PIX * lp.n + p] = 0; /* the zero row */
    per = WL_WORDS / (lp.n * lp.k->lanes); /* channel groups whose weights fit in buf at once */
    if (per > MAX_GROUPS) per = MAX_GROUPS;
    in_place(l, &lo, &hi);
    step = l->sw * lp.iw;

    for (c0 = 0; c0 < l->out_c; c0 += per * lp.k->lanes) {
        /* this pass's groups: in the caller's packed weights, or repacked into buf now */
        const uint32_t *wl = packed ? packed + (size_t)(c0 / lp.k->lanes) * lp.n * lp.k->lanes : buf;
        uint32_t ng = 0;
        for (; ng < per && c0 + ng * lp.k->lanes < l->out_c; ng++) {
            ebnn_group_init(&g[ng], l, out, c0 + ng * lp.k->lanes, lp.k->lanes, 1);
            if (!packed) lp.k->repack(l, lp.n, &g[ng], buf + (size_t)ng * lp.n * lp.k->lanes);
        }
        /* every pixel's groups run in channel order: ebnn_put_bits stores the first of a word */
        for (b.pix0 = 0, oy = ox = 0, row_in = row_in_place(l, 0); b.pix0 < pixels; b.pix0 += PIX) {
            b.npix = pixels - b.pix0 < PIX ? (uint32_t)(pixels - b.pix0) : PIX;
            for (p = 0; p < PIX; p++) {
                /* the pixel before, for p = 0 the last of the previous block */
                const uint32_t *const *left = b.x + (p ? p - 1u : PIX - 1u);
                if (p >= b.npix) { /* pixels past the last repeat it */
                    for (s = 0; s < b.segs; s++) b.x[s * PIX + p] = left[s * PIX];
                    continue;
                }
                if (row_in && ox > lo && ox <= hi) /* it and its left neighbour in place */
                    for (s = 0; s < b.segs; s++) b.x[s * PIX + p] = left[s * PIX] + step;
                else
                    window(l, in, lp.iw, oy, ox, p, &b, patch + (size_t)p * lp.n,
                           patch + (size_t)PIX * lp.n);
                if (++ox == l->out_w) ox = 0, oy++, row_in = row_in_place(l, oy);
            }
            if (lp.k->flat) /* once per block for all the pass's groups */
                for (p = 0; p < b.npix; p++)
                    for (s = 0; s < b.segs; s++)
                        for (k2 = 0; k2 < b.len; k2++)
                            flat[(size_t)p * lp.n + s * b.len + k2] = b.x[s * PIX + p][k2];
            for (i = 0; i < ng; i++) lp.k->run(wl + (size_t)i * lp.n * lp.k->lanes, &b, &g[i]);
        }
    }
    return 1;
}

/* The rows' entries (x86.c): AVX-512 (16 lanes) and AVX2 (8). */
#define LANES_ENTRIES(isa, kind)                                                           \
    int ebnn_##isa##_lanes_conv2d(const ebnn_layer *l, const uint32_t *packed,             \
                                  const uint32_t *in, void *out) {                         \
        return conv2d(&kind, l, packed, in, out);                                          \
    }                                                                                      \
    size_t ebnn_##isa##_lanes_pack_size(const ebnn_layer *l) { return packed_words(&kind, l); } \
    void ebnn_##isa##_lanes_pack(const ebnn_layer *l, uint32_t *packed) { pack(&kind, l, packed); }
LANES_ENTRIES(avx512, LANES16)
LANES_ENTRIES(avx2, LANES8)

#else
/* ISO C forbids an empty translation unit. */
typedef int ebnn_x86_lanes_unused;
#endif
