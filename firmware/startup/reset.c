/* Reset: FPU on, C runtime set up by hand (we link with -nostartfiles), then main(). */
#include <stdint.h>

#include "board.h"
#include "cortexm.h"

extern uint32_t __data_start[], __data_end[], __data_load[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_limit[];
typedef void (*init_fn)(void);
extern init_fn __init_array_start[], __init_array_end[];

int main(void);

/* Word loops, kept as loops by -fno-tree-loop-distribute-patterns (a memcpy call here would
 * run before .data exists). The linker script 8-aligns both sections. */
__attribute__((noreturn)) void Reset_Handler(void)
{
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* Hard-float code may touch s/d/q registers anywhere, so this comes first. */
    SCB_CPACR |= CPACR_CP10_CP11;
    cm_dsb();
    cm_isb();
#endif
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
    /* v8-M has a hardware stack limit: overflow becomes a UsageFault (STKOF). */
    __asm volatile("msr msplim, %0" ::"r"(__stack_limit));
#endif
    /* Report MemManage/Bus/Usage faults as themselves (not escalated to HardFault), and trap
     * integer division by zero. */
    SCB_SHCSR |= SHCSR_FAULTS_EN;
    SCB_CCR |= CCR_DIV_0_TRP;

    for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;)
        *dst++ = *src++;
    for (uint32_t *dst = __bss_start; dst < __bss_end;)
        *dst++ = 0;
    for (init_fn *fn = __init_array_start; fn < __init_array_end; fn++)
        (*fn)();

    int status = main();
    /* main() is not expected to return; if it does, end the run with its status. */
    board_semihost_exit(status);
}
