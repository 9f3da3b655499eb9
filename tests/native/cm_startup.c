/* Minimal bare-metal harness for running the C kernel tests on Cortex-M under qemu-system-arm
 * (mps2-an386 M4, mps2-an500 M7, mps3-an547 M55): vector table, reset (FPU on, .data/.bss),
 * main(), and semihosting for output, reading host files and the exit status. Linked with cm_test.ld. */
#include <stdint.h>

extern uint32_t __data_start[], __data_end[], __data_load[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[];
int main(int argc, char **argv);
void ta_write(const char *s);
void Reset_Handler(void);
void Fault_Handler(void);
/* SysTick: a fault unless the image defines it (the benchmark's tick counter does). */
void SysTick_Handler(void) __attribute__((weak, alias("Fault_Handler")));

static uint32_t semihost(uint32_t op, const void *arg) {
    register uint32_t r0 __asm("r0") = op;
    register const void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void ta_write(const char *s) { (void)semihost(0x04u, s); } /* SYS_WRITE0 */

/* The host file name (relative to QEMU's working directory) read into buf: its size, or
 * UINT32_MAX when it cannot be opened or is larger than cap. SYS_OPEN/FLEN/READ/CLOSE. */
uint32_t ta_read_file(const char *name, void *buf, uint32_t cap);
uint32_t ta_read_file(const char *name, void *buf, uint32_t cap) {
    uint32_t len = 0, open_args[3] = {(uint32_t)(uintptr_t)name, 1u /* "rb" */, 0}, handle, size;
    uint32_t rw_args[3];
    while (name[len] != 0) len++;
    open_args[2] = len;
    handle = semihost(0x01u, open_args);
    if (handle == UINT32_MAX) return UINT32_MAX;
    size = semihost(0x0Cu, &handle);
    rw_args[0] = handle, rw_args[1] = (uint32_t)(uintptr_t)buf, rw_args[2] = size;
    if (size > cap || semihost(0x06u, rw_args) != 0) size = UINT32_MAX;
    (void)semihost(0x02u, &handle);
    return size;
}

static void exit_status(int status) {
    uint32_t block[2] = {0x20026u, (uint32_t)status}; /* ADP_Stopped_ApplicationExit */
    (void)semihost(0x20u, block);                      /* SYS_EXIT_EXTENDED */
    for (;;) {
    }
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)__stack_top, Reset_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, Fault_Handler, Fault_Handler, 0, 0, 0, 0, Fault_Handler, Fault_Handler, 0,
    Fault_Handler, SysTick_Handler};

void Fault_Handler(void) {
    ta_write("cm_startup: fault\n");
    exit_status(99);
}

void Reset_Handler(void) {
    uint32_t *src = __data_load, *dst;
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* CPACR: CP10/CP11 full access */
    __asm volatile("dsb\n\tisb" ::: "memory");
#endif
    for (dst = __data_start; dst < __data_end;) *dst++ = *src++;
    for (dst = __bss_start; dst < __bss_end;) *dst++ = 0;
    exit_status(main(0, 0));
}
