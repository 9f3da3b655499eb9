/* The shared driver of the optimized BIN-input convolution: it turns a CONV2D/DENSE layer into
 * calls of a kernel row's xorpop (one input window against a chunk of output channels; two
 * windows through its xorpop2 where it has one) and
 * finishes each channel with the helpers of common.h, so every kernel shares one definition of
 * windows, padding and thresholds. Only groups == 1 for now; grouped layers stay on ref. */
#include "kernels.h"

#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
#define PATCH_WORDS 256u /* window copy on the stack: 1 KiB on a microcontroller */
#define CHUNK_ROWS 64u /* rows per xorpop call (32: each call and window restart cost 10 % more) */
#else
#define PATCH_WORDS 4096u
#define CHUNK_ROWS 256u
#endif
/* Output channels per pass over the pixels: their weights (about 24 KiB) stay in L1 while
 * every pixel is run against them. */
#define CHUNK_WORDS 6144u
/* BIN layers of this many output pixels or more finish through per-channel cuts */
#define CUT_PIXELS 4u

/* Copies n words, four per step (window rows). */
static inline void copy_words(uint32_t *dst, const uint32_t *src, uint32_t n) {
    uint32_t k = 0;
    for (; k + 4u <= n; k += 4u) {
        uint32_t a = src[k], b = src[k + 1u], c = src[k + 2u], d = src[k + 3u];
        dst[k] = a, dst[k + 1u] = b, dst[k + 2u] = c, dst[k + 3u] = d;
    }
    for (; k < n; k++) dst[k] = src[k];
}

/* Copies the window of (oy, ox) into patch in weight order (ky, kx, words); padded taps are
 * -1 in every channel, i.e. zero words. A window row inside the input is one run of kw * iw
 * words, copied as one (the interior pixels' case); only border rows go tap by tap. */
__attribute__((noinline)) static void gather(const ebnn_layer *l, const uint32_t *in, uint32_t iw, uint32_t oy,
                   uint32_t ox, uint32_t *patch) {
    const uint32_t kh = l->kh, kw = l->kw, in_h = l->in_h, in_w = l->in_w, run = kw * iw;
    const int32_t ix0 = (int32_t)(ox * l->sw) - (int32_t)l->pw;
    const int cols_inside = ix0 >= 0 && ix0 + (int32_t)kw <= (int32_t)in_w;
    uint32_t ky, kx, k;
    for (ky = 0; ky < kh; ky++, patch += run) {
        int32_t iy = (int32_t)(oy * l->sh + ky) - (int32_t)l->ph;
        const uint32_t *row = in + ((size_t)iy * in_w) * iw;
        if (iy < 0 || iy >= (int32_t)in_h) {
            for (k = 0; k < run; k++) patch[k] = 0;
        } else if (cols_inside) {
            copy_words(patch, row + (size_t)ix0 * iw, run);
        } else {
            for (kx = 0; kx < kw; kx++) {
                int32_t ix = ix0 + (int32_t)kx;
                uint32_t *dst = patch + kx * iw;
                if (ix < 0 || ix >= (int32_t)in_w) {
                    for (k = 0; k < iw; k++) dst[k] = 0;
                } else {
                    const uint32_t *px = row + (size_t)ix * iw;
                    for (k = 0; k < iw; k++) dst[k] = px[k];
                }
            }
        }
    }
}

/* The window of output pixel (oy, ox): in place when it is one run of the input (no padding in
 * it, and its rows adjacent: kh == 1 or rows as wide as the input), else copied into patch:
 * inside the input as kh runs of kw * iw words, at the border by gather. */
static const uint32_t *window(const ebnn_layer *l, const uint32_t *in, uint32_t iw, uint32_t oy,
                              uint32_t ox, uint32_t *patch) {
    int32_t iy = (int32_t)(oy * l->sh) - (int32_t)l->ph, ix = (int32_t)(ox * l->sw) - (int32_t)l->pw;
    if (iy >= 0 && ix >= 0 && iy + l->kh <= l->in_h && ix + l->kw <= l->in_w) {
        const uint32_t *x = in + ((size_t)iy * l->in_w + (size_t)ix) * iw;
        uint32_t run = (uint32_t)l->kw * iw, stride = (uint32_t)l->in_w * iw, ky;
        if (l->kh == 1u || l->kw == l->in_w) return x;
        for (ky = 0; ky < l->kh; ky++) copy_words(patch + ky * run, x + (size_t)ky * stride, run);
        return patch;
    }
    gather(l, in, iw, oy, ox, patch);
    return patch;
}

/* The cut of each output channel c0 .. c0 + rows - 1 (ebnn_mism_cut), once per chunk (and
 * per pass of mve_lanes.c's repack). */
void ebnn_bin_cuts(const ebnn_layer *l, uint32_t c0, uint32_t rows, uint32_t terms, uint32_t *cut) {
    uint32_t j;
    for (j = 0; j < rows; j++) {
        uint32_t c = c0 + j;
        cut[j] = ebnn_mism_cut(terms, l->thresholds[c], (l->flip[c >> 5] >> (c & 31u)) & 1u);
    }
}

/* BIN output channels c0 .. c0 + rows - 1 of one pixel (its words o) from their bits (bit j:
 * channel c0 + j), the flip bits XOR-ed in a word at a time where flip is not NULL, shifted
 * into place (c0 is a multiple of 32 unless a chunk is shorter). Nothing clears the words
 * first: a word's first write is the one at its bit 0 (a chunk starting there, or the part of
 * a chunk that spills into it), which stores; the later ones OR into it. Bits past out_c are
 * zero in what is stored. */
static inline __attribute__((always_inline)) void place_bits(uint32_t *o, const uint32_t *flip,
                                                              uint32_t c0, uint32_t rows,
                                                              const uint32_t *bits) {
    uint32_t j;
    for (j = 0; j < rows; j += 32u) {
        uint32_t c = c0 + j, sh = c & 31u, n = rows - j < 32u ? rows - j : 32u;
        uint32_t b = bits[j >> 5] ^ (flip != NULL ? ebnn_bits_at(flip, c, n) : 0u);
        if (sh == 0u) {
            o[c >> 5] = b;
        } else {
            o[c >> 5] |= b << sh;
            if (sh + n > 32u) o[(c >> 5) + 1u] = b >> (32u - sh);
        }
    }
}

/* I32 output: y = terms - 2m, as in the reference. */
static void finish_i32(int32_t *o, uint32_t rows, uint32_t terms, const uint32_t *mism) {
    uint32_t j;
    for (j = 0; j < rows; j++) o[j] = (int32_t)(terms - mism[j]) - (int32_t)mism[j];
}

/* Channels c0 .. c0 + rows - 1 of output pixel pix (cut: NULL or the chunk's cuts): BIN
 * through the row's cut_bits (flips XOR-ed in after) or, without cuts, its thresh_bits. */
static void finish(const ebnn_layer *l, void *out, size_t pix, uint32_t c0, uint32_t rows,
                   uint32_t terms, const uint32_t *mism, const uint32_t *cut,
                   ebnn_cut_bits_fn cut_bits, ebnn_thresh_bits_fn thresh_bits) {
    uint32_t *o = (uint32_t *)out + pix * ebnn_words(l->out_c), bits[CHUNK_ROWS / 32u];
    if (l->out_type == EBNN_T_BIN && cut != NULL) {
        cut_bits(mism, cut, rows, bits);
        place_bits(o, l->flip, c0, rows, bits);
    } else if (l->out_type == EBNN_T_BIN) {
        thresh_bits(mism, l->thresholds, l->flip, c0, rows, terms, bits);
        place_bits(o, NULL, c0, rows, bits);
    } else {
        finish_i32((int32_t *)out + pix * l->out_c + c0, rows, terms, mism);
    }
}

/* A layer of one output pixel whose window is the input itself (no padding, kernel rows as
 * wide as the input, none below it — a part of a layer may have kh > in_h: dense layers, a
 * 1x1 map): one xorpop per CHUNK_ROWS channels and the
 * output words written by thresh_bits in place (its words are whole output words, bits past
 * out_c zero), without the window, chunk, cut and placing logic of the general driver nor its
 * stack frame, which were most of a small layer's call (the per-call fixed cost). */
__attribute__((noinline)) static int one_pixel(const ebnn_layer *l, const uint32_t *in,
                                               void *out, const ebnn_kernel *k) {
    ebnn_thresh_bits_fn thresh_bits = k->thresh_bits != NULL ? k->thresh_bits : ebnn_ref_thresh_bits;
    uint32_t taps = (uint32_t)l->kh * l->kw, n = taps * ebnn_words(l->in_c), terms = taps * l->in_c;
    uint32_t mism[CHUNK_ROWS], c0;
    for (c0 = 0; c0 < l->out_c; c0 += CHUNK_ROWS) {
        uint32_t rows = l->out_c - c0 < CHUNK_ROWS ? l->out_c - c0 : CHUNK_ROWS;
        k->xorpop(in, l->weights + (size_t)c0 * n, n, rows, mism);
        if (l->out_type == EBNN_T_BIN)
            thresh_bits(mism, l->thresholds, l->flip, c0, rows, terms, (uint32_t *)out + (c0 >> 5));
        else
            finish_i32((int32_t *)out + c0, rows, terms, mism);
    }
    return 1;
}

/* Every other layer: windows, chunks of channels, pixel pairs. */
__attribute__((noinline)) static int many_pixels(const ebnn_layer *l, const uint32_t *in,
                                                 void *out, const ebnn_kernel *k) {
    ebnn_xorpop_fn xorpop = k->xorpop;
    ebnn_xorpop2_fn xorpop2 = k->xorpop2;
    ebnn_cut_bits_fn cut_bits = k->cut_bits != NULL ? k->cut_bits : ebnn_ref_cut_bits;
    ebnn_thresh_bits_fn thresh_bits = k->thresh_bits != NULL ? k->thresh_bits : ebnn_ref_thresh_bits;
    uint32_t patch[PATCH_WORDS], mism[2u * CHUNK_ROWS], cut[CHUNK_ROWS];
    uint32_t iw = ebnn_words(l->in_c), n = (uint32_t)l->kh * l->kw * iw;
    uint32_t terms = (uint32_t)l->kh * l->kw * l->in_c, chunk, c0, oy, ox;
    size_t pix, npix = (size_t)l->out_h * l->out_w;
    int may_gather = l->ph != 0 || l->pw != 0 || (l->kh != 1 && l->kw != l->in_w);
    /* the cuts pay for themselves from a few pixels on */
    int use_cuts = l->out_type == EBNN_T_BIN && npix >= CUT_PIXELS;
    const uint32_t *cut_or_none = use_cuts ? cut : NULL;

    if (may_gather && n > PATCH_WORDS) return 0;
    /* pairs need a patch for each window */
    if (may_gather && n > PATCH_WORDS / 2u) xorpop2 = NULL;

    chunk = (CHUNK_WORDS / n) & ~3u;
    if (chunk < 4u) chunk = 4u;
    /* whole blocks of 8 rows (the NEON and Helium blocks' 8 and 4) in every chunk; with cuts,
     * chunks on output words: the cut bits go in without shifts */
    if (chunk >= 8u) chunk &= use_cuts && chunk >= 32u ? ~31u : ~7u;
    if (chunk > CHUNK_ROWS) chunk = CHUNK_ROWS;

    for (c0 = 0; c0 < l->out_c; c0 += chunk) {
        uint32_t rows = l->out_c - c0 < chunk ? l->out_c - c0 : chunk;
        const uint32_t *w = l->weights + (size_t)c0 * n;
        if (use_cuts) ebnn_bin_cuts(l, c0, rows, terms, cut);
        for (pix = 0, oy = 0, ox = 0; pix < npix; pix++) {
            const uint32_t *x = window(l, in, iw, oy, ox, patch);
            if (++ox == l->out_w) ox = 0, oy++;
            if (xorpop2 != NULL && pix + 1u < npix) {
                xorpop2(x, window(l, in, iw, oy, ox, patch + PATCH_WORDS / 2u), w, n, rows, mism,
                        mism + CHUNK_ROWS);
                if (++ox == l->out_w) ox = 0, oy++;
                finish(l, out, pix, c0, rows, terms, mism, cut_or_none, cut_bits,
                       thresh_bits);
                finish(l, out, ++pix, c0, rows, terms, mism + CHUNK_ROWS, cut_or_none, cut_bits,
                       thresh_bits);
            } else {
                xorpop(x, w, n, rows, mism);
                finish(l, out, pix, c0, rows, terms, mism, cut_or_none, cut_bits,
                       thresh_bits);
            }
        }
    }
    return 1;
}

int ebnn_bin_conv2d(const ebnn_layer *l, const uint32_t *in, void *out, const ebnn_kernel *k) {
    if (l->in_type != EBNN_T_BIN || l->groups != 1) return 0;
    if (l->out_h == 1u && l->out_w == 1u && l->ph == 0u && l->pw == 0u && l->kw == l->in_w &&
        l->kh <= l->in_h)
        return one_pixel(l, in, out, k);
    return many_pixels(l, in, out, k);
}
