/* SysTick counts down from 0xFFFFFF at the core clock and interrupts on each wrap (every
 * 0.67 s at 25 MHz), so it barely perturbs the program; the handler extends it to 64 bits.
 * Under QEMU's -icount the count is deterministic: it measures executed instructions. */
#include "systick.h"
#include "cortexm.h"

#define RELOAD 0xFFFFFFu
#define CSR_ENABLE_TICKINT_CPUCLK 7u

static volatile uint32_t wraps;
static uint64_t last;   /* latest value returned, for the monotonic clamp below */

void SysTick_Handler(void)
{
    wraps++;
}

void systick_init(void)
{
    wraps = 0;
    last = 0;
    SYST_RVR = RELOAD;
    SYST_CVR = 0;
    SYST_CSR = CSR_ENABLE_TICKINT_CPUCLK;
}

uint64_t systick_cycles(void)
{
    uint32_t w, v, pending;
    do {
        w = wraps;
        v = SYST_CVR;
        pending = SCB_ICSR & ICSR_PENDSTSET;
    } while (w != wraps);
    /* A wrap whose interrupt has not run yet (interrupts masked, or we are in a handler):
     * v has already reloaded high, so count that wrap ourselves. */
    if (pending && v > RELOAD / 2)
        w++;
    uint64_t now = (uint64_t)w * (RELOAD + 1u) + (RELOAD - v);
    /* QEMU without -icount runs its timer callbacks asynchronously: VAL can already read as
     * reloaded while the wrap is not yet pending, which would make time step back ~2^24
     * cycles. That wrap has happened: count it here (the interrupt, when it comes, makes `w`
     * agree). Clamping to `last` instead would stop the clock until then, and a command that
     * ran in that window would measure 0 cycles. Exact hardware and QEMU -icount never take
     * this branch. */
    while (now < last)
        now += (uint64_t)RELOAD + 1u;
    last = now;
    return now;
}
