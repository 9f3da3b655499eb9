/* Instruction counter of the Cortex-M benchmark image: SysTick at the core clock, wrapping
 * every 2^24 ticks, extended to 64 bits by its interrupt. Under qemu-system-arm -icount
 * shift=N,align=off,sleep=off each instruction advances virtual time by 2^N ns, so
 * instructions = ticks / (f_cpu * 2^N * 1e-9), exactly once rounded (shift >= 7). QEMU 7.2
 * does not model the DWT cycle counter, hence SysTick. */
#include <stdint.h>

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define WRAP (1u << 24)

static volatile uint32_t wraps;

void SysTick_Handler(void); /* cm_startup.c's vector table names it */
void cm_ticks_start(void);
uint64_t cm_ticks(void);

void SysTick_Handler(void) { wraps++; }

void cm_ticks_start(void) {
    SYST_RVR = WRAP - 1u;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* processor clock, interrupt, enable */
}

/* Ticks since cm_ticks_start. A wrap between the two reads is seen as a changed count: read
 * again (the counter counts down from WRAP - 1). */
uint64_t cm_ticks(void) {
    uint32_t w, v;
    do {
        w = wraps;
        v = SYST_CVR;
    } while (w != wraps);
    return (uint64_t)w * WRAP + (WRAP - 1u - v);
}
