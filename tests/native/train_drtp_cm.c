/* On-device DRTP on bare-metal Cortex-M under qemu-system-arm (cm_startup.c, semihosting):
 * trains the model file `m.ebnn` on the batches of `batches.bin`, both read from QEMU's working
 * directory, and prints the CRC-32 of the finalized model and the summed statistics, which
 * tests/test_ondevice_drtp.py compares with the host build of the same C step.
 *
 * batches.bin: u16 batch count, 6 zero bytes; per batch a u16 sample count n, 6 zero bytes,
 * n input samples, n u8 labels, zero padding to a multiple of 8. */
#include <stdint.h>

#include "edgebnn.h"

uint32_t ta_read_file(const char *name, void *buf, uint32_t cap);
void ta_write(const char *s);

static uint8_t model[64 * 1024] __attribute__((aligned(EBNN_ALIGN)));
static uint8_t batches[192 * 1024];
static uint8_t scratch[32 * 1024] __attribute__((aligned(EBNN_ALIGN)));

static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }

/* Prints "name 0x0123abcd". */
static void print_hex(const char *name, uint32_t v) {
    char line[48];
    uint32_t k = 0;
    int i;
    while (*name && k < 32) line[k++] = *name++;
    line[k++] = ' ';
    for (i = 7; i >= 0; i--) line[k++] = "0123456789abcdef"[(v >> (4 * i)) & 15u];
    line[k++] = '\n';
    line[k] = 0;
    ta_write(line);
}

int main(int argc, char **argv) {
    uint32_t size = ta_read_file("m.ebnn", model, sizeof model);
    uint32_t total = ta_read_file("batches.bin", batches, sizeof batches);
    uint32_t count, in_size, i, off = 8, correct = 0, wrong = 0;
    ebnn_model m;
    ebnn_trainer t;
    ebnn_diag d;
    (void)argc;
    (void)argv;
    if (size == UINT32_MAX || total == UINT32_MAX || total < 8) return 2;
    if (ebnn_model_load(&m, model, size, &d) != EBNN_OK) return 3;
    if (ebnn_trainer_init(&t, EBNN_RULE_DRTP, &m, model, &d) != EBNN_OK) return 4;
    count = rd16(batches);
    in_size = (uint32_t)ebnn_input_size(&m);
    for (i = 0; i < count; i++) {
        ebnn_train_stats st;
        uint32_t n = off + 8 <= total ? rd16(batches + off) : 0;
        off += 8;
        if (n == 0 || off + n * (in_size + 1u) > total) return 5;
        if (ebnn_trainer_step(&t, batches + off, batches + off + n * in_size, n, scratch,
                              sizeof scratch, &st) != EBNN_OK)
            return 6;
        correct += st.correct;
        wrong += st.wrong;
        off += n * in_size + ((n + 7u) & ~7u);
    }
    if (ebnn_model_finalize(model, size) != EBNN_OK) return 7;
    print_hex("crc", ebnn_crc32(0, model, size));
    print_hex("correct", correct);
    print_hex("wrong", wrong);
    return 0;
}
