/* Depthwise BIN convolution on ARM (every kernel; groups = in_c = out_c, any kernel size up to
 * 63 taps, strides, padding), bit-sliced: 32 channels at once in one word. For a word k of
 * channels, the weights of each tap are first gathered into one word (bit j: channel 32k + j),
 * so x XOR w is the 32 channels' mismatches at that tap; the mismatch counts m (<= 63) are kept
 * as six bit planes (c0 = bit 0 of every channel's count, ...) and each tap is added by a
 * ripple of half adders. The output bit is a comparison of m against a per-channel bound,
 * itself bit-sliced once per word k, so 32 outputs cost one bit-sliced compare: about 5
 * instructions per output channel and pixel for a 3x3 kernel, where the reference spends more
 * than that per tap. State per word k is a few words on the stack (no limit on in_c).
 *
 * With T taps, y = T - 2m, and the reference's bit, flip ? y <= t : y >= t, is
 *   flip = 0: y >= t  <=>  m <= floor((T - t) / 2)
 *   flip = 1: y <= t  <=>  m >= ceil((T - t) / 2)  <=>  NOT (m <= ceil((T - t) / 2) - 1),
 * i.e. (m <= B) XOR inv, with B clamped to [0, T] and channels whose B < 0 never "<=". Padded
 * taps are zero words (all -1), as in the reference. */
#include "kernels.h"

#if defined(__arm__) || defined(__aarch64__)
#include <string.h>

#define LEVELS 6u                   /* bit planes of the counts */
#define MAX_TAPS ((1u << LEVELS) - 1u)

/* Words of channels per step: 4 (128 channels) in a NEON or Helium vector, else 1. The same
 * code runs on both through GCC's generic vectors (^, &, | and ~ lane by lane). */
#if defined(__ARM_NEON) || (defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1))
#define LANES 4u
typedef uint32_t lanes_t __attribute__((vector_size(16)));
#else
#define LANES 1u
typedef uint32_t lanes_t;
#endif

/* The bound planes b[], inv and never of channels 32k .. 32k + count - 1 (see above): the
 * bound is the channel's mismatch cut less one (ebnn_mism_cut, common.h: m <= B is m < cut). */
static void bounds(const ebnn_layer *l, uint32_t k, uint32_t count, uint32_t taps, uint32_t *b,
                   uint32_t *inv, uint32_t *never) {
    uint32_t j, i;
    for (i = 0; i < LEVELS; i++) b[i] = 0;
    *inv = l->flip[k], *never = 0;
    for (j = 0; j < count; j++) {
        uint32_t c = 32u * k + j, cut = ebnn_mism_cut(taps, l->thresholds[c], (*inv >> j) & 1u);
        if (cut == 0) {
            *never |= 1u << j;
            continue;
        }
        for (i = 0; i < LEVELS; i++) b[i] |= (((cut - 1u) >> i) & 1u) << j;
    }
}

/* Bit-sliced m <= b in every lane, from the top plane down. */
static inline lanes_t less_equal(const lanes_t *m, const lanes_t *b) {
    lanes_t lt = (lanes_t){0}, eq = ~lt;
    int i;
    for (i = (int)LEVELS - 1; i >= 0; i--) {
        lt |= eq & b[i] & ~m[i];
        eq &= ~(m[i] ^ b[i]);
    }
    return lt | eq;
}

/* The cw <= LANES words at p as lanes, the others zero. */
static inline lanes_t load_lanes(const uint32_t *p, uint32_t cw) {
    lanes_t v = (lanes_t){0};
    if (cw == LANES)
        memcpy(&v, p, sizeof v); /* one vector load */
    else
        memcpy(&v, p, 4u * cw);
    return v;
}

/* The words k .. k + cw - 1 (cw <= LANES, 32 channels each) of every output pixel. */
static void depthwise_words(const ebnn_layer *l, const uint32_t *in, void *out, uint32_t k,
                            uint32_t cw) {
    /* the shape in locals: the stores through out could alias *l, so fields read in the
     * pixel loop would be loaded again at every pixel */
    const uint32_t kh = l->kh, kw = l->kw, sh = l->sh, sw = l->sw, in_h = l->in_h, in_w = l->in_w;
    const uint32_t out_h = l->out_h, out_w = l->out_w;
    const int32_t ph = l->ph, pw = l->pw;
    const int bin_out = l->out_type == EBNN_T_BIN;
    uint32_t taps = kh * kw, nw = ebnn_words(l->in_c), t, j, i, q, oy, ox;
    uint32_t w[LANES], bw[LEVELS][LANES], invw[LANES], neverw[LANES], validw[LANES];
    lanes_t wt[MAX_TAPS], b[LEVELS], inv = (lanes_t){0}, never = inv, valid = inv;
    size_t pix = 0;
    memset(w, 0, sizeof w), memset(bw, 0, sizeof bw);
    memset(invw, 0, sizeof invw), memset(neverw, 0, sizeof neverw), memset(validw, 0, sizeof validw);
    /* tap t's weight bit of channel c is bit 0 of word c * taps + t */
    for (t = 0; t < taps; t++) {
        for (q = 0; q < cw; q++) {
            uint32_t c0 = 32u * (k + q), count = l->in_c - c0 < 32u ? l->in_c - c0 : 32u;
            const uint32_t *src = l->weights + (size_t)c0 * taps + t;
            for (w[q] = 0, j = 0; j < count; j++) w[q] |= (src[(size_t)j * taps] & 1u) << j;
        }
        memcpy(&wt[t], w, sizeof w);
    }
    for (q = 0; q < cw; q++) {
        uint32_t count = l->in_c - 32u * (k + q) < 32u ? l->in_c - 32u * (k + q) : 32u, pl[LEVELS];
        validw[q] = count == 32u ? ~0u : (1u << count) - 1u;
        if (!bin_out) continue;
        bounds(l, k + q, count, taps, pl, &invw[q], &neverw[q]);
        for (i = 0; i < LEVELS; i++) bw[i][q] = pl[i];
    }
    for (i = 0; i < LEVELS; i++) memcpy(&b[i], bw[i], sizeof bw[i]);
    memcpy(&inv, invw, sizeof invw), memcpy(&never, neverw, sizeof neverw);
    memcpy(&valid, validw, sizeof validw);
    for (oy = 0; oy < out_h; oy++) {
        for (ox = 0; ox < out_w; ox++, pix++) {
            lanes_t m[LEVELS], r;
            uint32_t ky, kx, mw[LEVELS][LANES], tap = 0, top = 1;
            const lanes_t *wp = wt;
            for (i = 0; i < LEVELS; i++) m[i] = (lanes_t){0};
            for (ky = 0; ky < kh; ky++) {
                int32_t iy = (int32_t)(oy * sh + ky) - ph;
                int row = iy >= 0 && iy < (int32_t)in_h;
                for (kx = 0; kx < kw; kx++) {
                    int32_t ix = (int32_t)(ox * sw + kx) - pw;
                    lanes_t v = *wp++, carry;
                    if (row && ix >= 0 && ix < (int32_t)in_w)
                        v ^= load_lanes(in + ((size_t)iy * in_w + (size_t)ix) * nw + k, cw);
                    /* m += v, plane by plane up to the highest the count can reach: after
                     * tap + 1 taps it is <= tap + 1, below 2^top */
                    if (++tap >> top) top++;
                    for (j = 0; j < top; j++) {
                        carry = m[j] & v;
                        m[j] ^= v;
                        v = carry;
                    }
                }
            }
            if (bin_out) {
                r = ((less_equal(m, b) & ~never) ^ inv) & valid;
                if (cw == LANES)
                    memcpy((uint32_t *)out + pix * nw + k, &r, sizeof r);
                else
                    memcpy((uint32_t *)out + pix * nw + k, &r, 4u * cw);
                continue;
            }
            for (i = 0; i < LEVELS; i++) memcpy(mw[i], &m[i], sizeof mw[i]);
            for (q = 0; q < cw; q++) {
                uint32_t c0 = 32u * (k + q), count = l->in_c - c0 < 32u ? l->in_c - c0 : 32u;
                int32_t *o = (int32_t *)out + pix * l->out_c + c0;
                for (j = 0; j < count; j++) {
                    uint32_t mm = 0;
                    for (i = 0; i < LEVELS; i++) mm |= ((mw[i][q] >> j) & 1u) << i;
                    o[j] = (int32_t)taps - 2 * (int32_t)mm;
                }
            }
        }
    }
}

int ebnn_arm_depthwise_conv2d(const ebnn_layer *l, const uint32_t *in, void *out) {
    uint32_t nw = ebnn_words(l->in_c), k;
    if (l->op != EBNN_OP_CONV2D || l->in_type != EBNN_T_BIN || l->groups != l->in_c ||
        l->out_c != l->in_c || (uint32_t)l->kh * l->kw > MAX_TAPS)
        return 0;
    for (k = 0; k < nw; k += LANES) depthwise_words(l, in, out, k, nw - k < LANES ? nw - k : LANES);
    return 1;
}

#else
typedef int ebnn_arm_depthwise_unused; /* ISO C forbids an empty translation unit. */
#endif
