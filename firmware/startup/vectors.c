/* The vector table, placed at address 0 by ld/common.ld (VTOR resets to 0 on all our boards).
 * Every handler but Reset is a weak alias of Fault_Handler, so an unexpected exception or
 * interrupt is reported over the UART (startup/fault.c) instead of spinning silently; a driver
 * takes one over by defining a function of the same name (drivers/systick.c: SysTick_Handler). */
#include <stdint.h>

#ifndef BOARD_NUM_IRQS
#error "BOARD_NUM_IRQS comes from boards.mk"
#endif

typedef void (*handler_t)(void);

extern uint32_t __stack_top[];
void Reset_Handler(void);

/* Defaults are weak aliases of Fault_Handler, defined in startup/fault.c. */
void NMI_Handler(void);
void HardFault_Handler(void);
void MemManage_Handler(void);
void BusFault_Handler(void);
void UsageFault_Handler(void);
void SecureFault_Handler(void);
void SVC_Handler(void);
void DebugMon_Handler(void);
void PendSV_Handler(void);
void SysTick_Handler(void);
void IRQ_Handler(void);

struct vector_table {
    void *initial_sp;
    handler_t system[15];              /* exceptions 1..15 */
    handler_t irq[BOARD_NUM_IRQS];     /* exceptions 16.. */
};

__attribute__((section(".vectors"), used))
const struct vector_table vector_table = {
    .initial_sp = __stack_top,
    .system = {
        Reset_Handler,        /* 1 */
        NMI_Handler,          /* 2 */
        HardFault_Handler,    /* 3 */
        MemManage_Handler,    /* 4 */
        BusFault_Handler,     /* 5 */
        UsageFault_Handler,   /* 6 */
        SecureFault_Handler,  /* 7: ARMv8-M only, reserved on v7-M */
        0, 0, 0,              /* 8..10 reserved */
        SVC_Handler,          /* 11 */
        DebugMon_Handler,     /* 12 */
        0,                    /* 13 reserved */
        PendSV_Handler,       /* 14 */
        SysTick_Handler,      /* 15 */
    },
    .irq = {[0 ... BOARD_NUM_IRQS - 1] = IRQ_Handler},
};
