/* ARM instruction-count benchmark (edgebnn/bench_arm.py builds and runs it): every kernel this
 * build carries, and the scalar reference, on the named binary layers, each call between two
 * calls of bench_mark(). Instructions are counted outside the program, deterministically:
 *  - Linux user mode (qemu-aarch64 / qemu-arm): the TCG plugin tools/qemu_plugin/insn_count.c
 *    prints the running instruction total whenever bench_mark's first instruction executes;
 *  - bare-metal Cortex-M (qemu-system-arm -icount shift=N): bench_mark reads the SysTick count
 *    extended to 64 bits (cm_systick.c), which then advances 2^N ns per instruction.
 * The program prints, in call order, one line per measured region:
 *     region <kind> <layer> <kernel> <binary MACs> [<ticks>]
 * (ticks only on bare metal), and first an "empty" region, the cost of the marks themselves.
 * Kinds: "layer" is the whole CONV2D/DENSE call (driver, window copies, thresholds; on the
 * row's load-time repack where it has one, made before the region), "loop"
 * one xorpop call on the layer's first window against every output channel, i.e. the inner
 * loops alone ("loop2" where the kernel has xorpop2, AArch64 NEON, convolutions: one xorpop2
 * call on two windows; where the Cortex-M output-sliced path runs the layer, its blocks
 * against the first window; "xorpop"/"xorpop2" the same call where the row's own path runs the
 * layer instead of the driver, NEON 3x3 and Helium lanes: the row primitive's figure, not the
 * layer's loop), "call"/"call2" the same calls of a no-op (their own cost, which
 * the loop figures leave out), "model" one ebnn_infer of a model file (bench_models). No
 * malloc: static buffers sized for the largest layer. */
#include <string.h>

#include "edgebnn.h"
#include "kernels/kernels.h"

#if defined(EBNN_BAREMETAL)
void ta_write(const char *s);       /* cm_startup.c: semihosting output */
uint32_t ta_read_file(const char *name, void *buf, uint32_t cap); /* and host files */
uint64_t cm_ticks(void);            /* cm_systick.c */
void cm_ticks_start(void);
/* Cortex-M memory (512 KiB RAM on mps3-an547): the dense layer is scaled to 1024 x 1024. */
#define DENSE_N 1024u
#define MODEL_CAP (240u * 1024u)
#define ARENA_CAP (48u * 1024u)
#else
#include <stdio.h>
static void ta_write(const char *s) { fputs(s, stdout); }
/* The whole file, as ta_read_file on bare metal. */
static uint32_t ta_read_file(const char *name, void *buf, uint32_t cap) {
    FILE *f = fopen(name, "rb");
    size_t n;
    if (f == NULL) return UINT32_MAX;
    n = fread(buf, 1, cap, f);
    if (n == cap && fgetc(f) != EOF) n = UINT32_MAX;
    fclose(f);
    return (uint32_t)n;
}
#define DENSE_N 4096u
#define MODEL_CAP (8u << 20)
#define ARENA_CAP (8u << 20)
#endif

#define CONV_HW 28u
#define CONV_C 128u
#if defined(EBNN_BAREMETAL)
#define MAP_WORDS (CONV_HW * CONV_HW * (CONV_C / 32u))
#else
/* ResNet-18's 56x56 stage (64 channels), only where the memory is */
#define STAGE56 1
#define MAP_WORDS (56u * 56u * 2u)
#endif
#define IN_WORDS (MAP_WORDS > DENSE_N / 32u ? MAP_WORDS : DENSE_N / 32u)
#define STAGE_C 256u /* ResNet-18's 14x14 stage, more weights than the 128-channel conv */
#define W_WORDS (DENSE_N * DENSE_N / 32u > STAGE_C * 9u * (STAGE_C / 32u) ? DENSE_N * DENSE_N / 32u : STAGE_C * 9u * (STAGE_C / 32u))
#define OUT_WORDS MAP_WORDS
#define MAX_C (DENSE_N > CONV_C ? DENSE_N : CONV_C)

/* The layers' weights and, later, a model file and its arena share one pool (the runs do not
 * overlap), so the Cortex-M image fits 512 KiB of RAM. */
#define POOL_BYTES (W_WORDS * 4u > MODEL_CAP + ARENA_CAP ? W_WORDS * 4u : MODEL_CAP + ARENA_CAP)
static uint32_t pool[POOL_BYTES / 4u] __attribute__((aligned(EBNN_ALIGN)));
static uint32_t *const w_buf = pool;
/* a kernel row's load-time repack of the layer (its pack), after the weights */
static uint32_t *const pack_buf = pool + W_WORDS;
#define PACK_CAP (POOL_BYTES / 4u - W_WORDS)
static uint8_t *const model_buf = (uint8_t *)pool;
static uint8_t *const arena_buf = (uint8_t *)pool + MODEL_CAP;
static uint32_t in_buf[IN_WORDS], out_buf[OUT_WORDS];
static uint32_t thr_buf[MAX_C + MAX_C / 32u], mism[2u * MAX_C];

static uint8_t input_buf[16u * 1024u];
static int32_t scores_buf[1024];

#if defined(EBNN_BAREMETAL)
static uint64_t mark_ticks[2];
static uint32_t mark_count;
#endif

/* The marker the counters key on: never inlined, so every region starts and ends with the
 * same instructions, which the "empty" region measures. */
__attribute__((noinline)) void bench_mark(void) {
#if defined(EBNN_BAREMETAL)
    mark_ticks[mark_count++ & 1u] = cm_ticks();
#endif
    __asm volatile("" ::: "memory");
}

static void put_u64(uint64_t v) {
    char b[24];
    int i = 23;
    b[i] = 0;
    do b[--i] = (char)('0' + (int)(v % 10u)); while ((v /= 10u) != 0 && i > 0);
    ta_write(b + i);
}

static void report(const char *kind, const char *layer, const char *kernel, uint64_t macs) {
    ta_write("region ");
    ta_write(kind);
    ta_write(" ");
    ta_write(layer);
    ta_write(" ");
    ta_write(kernel);
    ta_write(" ");
    put_u64(macs);
#if defined(EBNN_BAREMETAL)
    ta_write(" ");
    put_u64(mark_ticks[1] - mark_ticks[0]);
#endif
    ta_write("\n");
}

static uint32_t rng_state = 2463534242u;
static uint32_t rnd(void) {
    uint32_t x = rng_state;
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    return rng_state = x;
}

/* A BIN-in/BIN-out layer over the static buffers, random bits and zero thresholds. */
static void make_layer(ebnn_layer *l, uint16_t hw, uint16_t c, uint16_t out_c, uint16_t k,
                       uint16_t pad) {
    uint32_t i, nw = (uint32_t)out_c * k * k * ebnn_words(c), nin = (uint32_t)hw * hw * ebnn_words(c);
    memset(l, 0, sizeof *l);
    l->op = k == hw && pad == 0 ? EBNN_OP_DENSE : EBNN_OP_CONV2D;
    l->in_type = EBNN_T_BIN, l->out_type = EBNN_T_BIN, l->groups = 1;
    l->in_h = l->in_w = hw, l->in_c = c, l->out_c = out_c;
    l->kh = l->kw = k, l->sh = l->sw = 1, l->ph = l->pw = pad;
    l->out_h = l->out_w = (uint16_t)(hw + 2u * pad - k + 1u);
    for (i = 0; i < nw; i++) w_buf[i] = rnd();
    for (i = 0; i < nin; i++) in_buf[i] = rnd();
    for (i = 0; i < out_c + ebnn_words(out_c); i++) thr_buf[i] = 0;
    l->weights = w_buf, l->thresholds = (const int32_t *)(const void *)thr_buf;
    l->flip = thr_buf + out_c;
}

/* The inner loops alone: one call of row primitive f on the first window (f2, when not NULL:
 * xorpop2 on the first two) against rows output channels. Never inlined, so the instructions of
 * the call itself (argument setup, branch, return) are the same for every kernel; main counts
 * them once with no-op primitives (the "call" and "call2" regions), and bench_arm.py leaves them
 * out of the "loop" figures, which are then the kernel's own instructions. */
__attribute__((noinline)) static void loop_region(ebnn_xorpop_fn f, ebnn_xorpop2_fn f2,
                                                  uint32_t n, uint32_t rows) {
    if (f2 != NULL) {
        bench_mark();
        f2(in_buf, in_buf + n, w_buf, n, rows, mism, mism + rows);
        bench_mark();
        return;
    }
    bench_mark();
    f(in_buf, w_buf, n, rows, mism);
    bench_mark();
}

#if defined(EBNN_SLICED)
/* The inner loop of the output-sliced path (swar_sliced.c) where it runs the layer: every block
 * of 32 output channels against the first window, whose xy words are made before the count. */
__attribute__((noinline)) static void sliced_region(const ebnn_layer *l, const uint32_t *packed) {
    static uint32_t xy[2u * 256u + 3u];
    ebnn_swar_sliced_xy(l, in_buf, -(int32_t)l->ph, -(int32_t)l->pw, l->kw, xy);
    bench_mark();
    ebnn_swar_sliced_pixel(l, packed, xy, out_buf);
    bench_mark();
}
#endif

__attribute__((noinline)) static void xorpop_none(const uint32_t *x, const uint32_t *w,
                                                  uint32_t n, uint32_t rows, uint32_t *mism_) {
    (void)x, (void)w, (void)n, (void)rows, (void)mism_;
    __asm volatile("");
}

__attribute__((noinline)) static void xorpop2_none(const uint32_t *x0, const uint32_t *x1,
                                                   const uint32_t *w, uint32_t n, uint32_t rows,
                                                   uint32_t *mism0, uint32_t *mism1) {
    (void)x0, (void)x1, (void)w, (void)n, (void)rows, (void)mism0, (void)mism1;
    __asm volatile("");
}

/* Whole layer, then its inner loops alone (loop_region), for each kernel and the reference
 * (the reference has no xorpop). */
static void bench_layer(const char *name, uint16_t hw, uint16_t c,
                        uint16_t out_c, uint16_t k, uint16_t pad) {
    ebnn_layer l;
    const ebnn_kernel *kern;
    uint32_t i, n;
    uint64_t macs;
    make_layer(&l, hw, c, out_c, k, pad);
    n = (uint32_t)k * k * ebnn_words(c);
    macs = (uint64_t)l.out_h * l.out_w * out_c * k * k * c;
    for (i = 0;; i++) {
        const uint32_t *packed = NULL;
        size_t words;
        int own;
        kern = ebnn_kernel_at(i);
        /* the row's repack of the layer, where it has one, done beforehand as ebnn_pack does
         * at load time */
        if (kern != NULL && kern->pack_size != NULL && (words = kern->pack_size(&l)) != 0 &&
            words <= PACK_CAP)
            kern->pack(&l, pack_buf), packed = pack_buf;
        bench_mark();
        if (packed != NULL) ebnn_conv2d_packed_with(kern, &l, packed, in_buf, out_buf);
        else ebnn_conv2d_with(kern, &l, in_buf, out_buf);
        bench_mark();
        report("layer", name, kern ? kern->name : "ref", macs);
        if (kern == NULL) break;
#if defined(EBNN_SLICED)
        if (packed != NULL && kern->conv_bin == ebnn_swar_sliced_conv2d) {
            sliced_region(&l, packed);
            report("loop", name, kern->name, macs / ((uint64_t)l.out_h * l.out_w));
            continue;
        }
#endif
        /* the row's own path (conv_bin: NEON 3x3, Helium lanes) took the layer, not the xorpop
         * driver, when it runs it again here (outside any region, as select.c offers it): the
         * xorpop loop below is then the row primitive's alone ("xorpop"), not this layer's */
        own = kern->conv_bin != NULL && (packed != NULL || l.out_h * l.out_w >= 2u) &&
              kern->conv_bin(&l, packed, in_buf, out_buf);
        /* layers of several pixels run two windows per call where the kernel has xorpop2
         * (ebnn_bin_conv2d) */
        if (kern->xorpop2 != NULL && l.out_h * l.out_w >= 2) {
            loop_region(kern->xorpop, kern->xorpop2, n, out_c);
            report(own ? "xorpop2" : "loop2", name, kern->name, 2u * (uint64_t)n * 32u * out_c);
        } else {
            loop_region(kern->xorpop, NULL, n, out_c);
            report(own ? "xorpop" : "loop", name, kern->name, (uint64_t)n * 32u * out_c);
        }
    }
}

/* A depthwise 3x3 BIN conv (MobileNet's; groups = channels, padding 1) as a whole layer for
 * each kernel and the reference: binary MACs = pixels x channels x 9, no xorpop loop. */
static void bench_depthwise(const char *name, uint16_t hw, uint16_t c) {
    ebnn_layer l;
    const ebnn_kernel *kern;
    uint32_t i;
    make_layer(&l, hw, c, c, 3, 1);
    l.groups = c;
    for (i = 0; i < 9u * c; i++) w_buf[i] = rnd() & 1u; /* one word per channel and tap */
    for (i = 0;; i++) {
        kern = ebnn_kernel_at(i);
        bench_mark();
        ebnn_conv2d_with(kern, &l, in_buf, out_buf);
        bench_mark();
        report("layer", name, kern ? kern->name : "ref", (uint64_t)hw * hw * c * 9u);
        if (kern == NULL) break;
    }
}

/* One inference of every model file model0.ebnn, model1.ebnn, ... in the working directory
 * (edgebnn/bench_arm.py writes them), on a zero input: "region model <i> - 0", preceded by
 * "model <i> bytes <file size> arena <arena bytes>". */
static void bench_models(void) {
    char name[] = "model0.ebnn";
    uint32_t i, size;
    for (i = 0; i < 10u; i++) {
        ebnn_model m;
        ebnn_status st;
        name[5] = (char)('0' + i);
        size = ta_read_file(name, model_buf, MODEL_CAP);
        if (size == UINT32_MAX) return;
        st = ebnn_model_load(&m, model_buf, size, NULL);
        if (st == EBNN_OK && (ebnn_arena_size(&m) > ARENA_CAP || ebnn_input_size(&m) > sizeof input_buf ||
                              m.n_classes > 1024u))
            st = EBNN_ERR_ARENA;
        ta_write("model ");
        put_u64(i);
        if (st != EBNN_OK) {
            ta_write(" error ");
            ta_write(ebnn_status_name(st));
            ta_write("\n");
            continue;
        }
        ta_write(" bytes ");
        put_u64(size);
        ta_write(" arena ");
        put_u64(ebnn_arena_size(&m));
        ta_write("\n");
        bench_mark();
        st = ebnn_infer(&m, input_buf, scores_buf, arena_buf, ARENA_CAP);
        bench_mark();
        report("model", name, st == EBNN_OK ? "ok" : ebnn_status_name(st), 0);
    }
}

int main(int argc, char **argv) {
    (void)argc, (void)argv;
#if defined(EBNN_BAREMETAL)
    cm_ticks_start();
#endif
    ta_write("bench_arm: ");
    ta_write(ebnn_build_info());
    ta_write("\n");
    bench_mark();
    bench_mark();
    report("empty", "-", "-", 0);
    loop_region(xorpop_none, NULL, 1, 1);
    report("call", "-", "-", 0);
    loop_region(xorpop_none, xorpop2_none, 1, 1);
    report("call2", "-", "-", 0);
#if DENSE_N == 4096u
    bench_layer("dense_4096x4096_b1", 1, 4096, 4096, 1, 0);
#else
    bench_layer("dense_1024x1024_b1", 1, 1024, 1024, 1, 0);
#endif
    bench_layer("conv3x3_128to128_28x28", CONV_HW, CONV_C, CONV_C, 3, 1);
    /* ResNet-18's 14x14 stage: rows of 72 words, where per-row costs weigh half as much */
    bench_layer("resnet18_conv3x3_256_14x14", 14, STAGE_C, STAGE_C, 3, 1);
#if defined(STAGE56)
    bench_layer("resnet18_conv3x3_64_56x56", 56, 64, 64, 3, 1);
#endif
    /* the small layers of microcontroller models, and the per-call fixed cost (a 1x1 layer of
     * 8 channels, where nearly everything is setup) */
    bench_layer("dense_784x256_b1", 1, 784, 256, 1, 0);
    bench_layer("dense_256x256_b1", 1, 256, 256, 1, 0);
    bench_layer("conv3x3_32to32_16x16", 16, 32, 32, 3, 1);
    bench_layer("fixed_1x1_8to8", 1, 8, 8, 1, 0);
    bench_depthwise("depthwise3x3_128_28x28", CONV_HW, CONV_C);
    bench_models();
    ta_write("bench_arm: done\n");
    return 0;
}
