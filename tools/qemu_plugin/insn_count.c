/* QEMU TCG plugin: deterministic instruction counts between marks, for the ARM benchmarks
 * (tools/bench_arm.py). Every executed translation block adds its instruction count to one
 * counter (an inline add: no callback per block), and each execution of the instruction at
 * the address given as mark=ADDR prints the running total:
 *     insn_count mark <total>
 * The program calls its mark function before and after a measured region; the difference of
 * two totals, minus that of an empty region, is the region's instruction count. QEMU runs the
 * guest in one thread (user mode, one vCPU), so the plain counter needs no atomics.
 * Build (tools/qemu_plugin/Makefile) against the qemu-plugin.h of the installed QEMU, from
 * Debian's qemu source package (tools/qemu_plugin/fetch_header.sh).
 * Use: qemu-aarch64 -plugin build/libinsn_count.so,mark=0x4005d0 -d plugin ./prog
 * Up to MAX_MARKS marks may be given (mark=A,mark=B): e.g. a function's entry and its return
 * address count one call exactly, whatever ran before it (docs/boot.md, the verifier). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

static uint64_t total;   /* instructions of every executed block so far */
#define MAX_MARKS 4
static uint64_t mark_at[MAX_MARKS]; /* guest addresses of the mark instructions */
static int n_marks;

static void on_mark(unsigned int vcpu, void *udata) {
    char line[64];
    (void)vcpu, (void)udata;
    snprintf(line, sizeof line, "insn_count mark %" PRIu64 "\n", total);
    qemu_plugin_outs(line);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    size_t n = qemu_plugin_tb_n_insns(tb), i;
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &total, n);
    for (i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        int m;
        for (m = 0; m < n_marks; m++)
            if (qemu_plugin_insn_vaddr(insn) == mark_at[m])
                qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS,
                                                       NULL);
    }
}

static void report_total(qemu_plugin_id_t id, void *udata) {
    char line[64];
    (void)id, (void)udata;
    snprintf(line, sizeof line, "insn_count total %" PRIu64 "\n", total);
    qemu_plugin_outs(line);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv) {
    int i;
    char *end;
    (void)info;
    for (i = 0; i < argc; i++) {
        if (strncmp(argv[i], "mark=", 5) != 0) {
            fprintf(stderr, "insn_count: unknown argument '%s' (expected mark=ADDRESS)\n", argv[i]);
            return -1;
        }
        if (n_marks == MAX_MARKS) {
            fprintf(stderr, "insn_count: at most %d marks\n", MAX_MARKS);
            return -1;
        }
        mark_at[n_marks] = strtoull(argv[i] + 5, &end, 0);
        if (*end != '\0' || end == argv[i] + 5 || mark_at[n_marks++] == 0) {
            fprintf(stderr, "insn_count: mark must be an address such as 0x4005d0, got '%s'\n",
                    argv[i] + 5);
            return -1;
        }
    }
    if (n_marks == 0) {
        fprintf(stderr, "insn_count: missing mark=ADDRESS\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, report_total, NULL);
    return 0;
}
