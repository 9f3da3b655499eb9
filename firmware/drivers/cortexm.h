/* Architectural registers common to Cortex-M4/M7/M55 (ARMv7E-M, ARMv8.1-M), only the ones the
 * board layer touches. Addresses are fixed by the architecture, not by the board. */
#ifndef EBNN_CORTEXM_H
#define EBNN_CORTEXM_H

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* System Control Block */
#define SCB_ICSR   REG32(0xE000ED04u)  /* bit 26 PENDSTSET: SysTick exception pending */
#define SCB_AIRCR  REG32(0xE000ED0Cu)
#define SCB_CCR    REG32(0xE000ED14u)
#define SCB_SHCSR  REG32(0xE000ED24u)
#define SCB_CFSR   REG32(0xE000ED28u)  /* MMFSR | BFSR << 8 | UFSR << 16 */
#define SCB_HFSR   REG32(0xE000ED2Cu)
#define SCB_MMFAR  REG32(0xE000ED34u)
#define SCB_BFAR   REG32(0xE000ED38u)
#define SCB_CPACR  REG32(0xE000ED88u)

#define ICSR_PENDSTSET     (1u << 26)
#define AIRCR_SYSRESETREQ  (0x05FAu << 16 | 1u << 2)  /* VECTKEY + SYSRESETREQ */
#define CCR_DIV_0_TRP      (1u << 4)
#define SHCSR_FAULTS_EN    (1u << 16 | 1u << 17 | 1u << 18)  /* MemManage, BusFault, UsageFault */
#define CPACR_CP10_CP11    (0xFu << 20)                 /* full access to the FPU (and MVE) */

/* SysTick */
#define SYST_CSR   REG32(0xE000E010u)
#define SYST_RVR   REG32(0xE000E014u)
#define SYST_CVR   REG32(0xE000E018u)

static inline void cm_dsb(void) { __asm volatile("dsb 0xF" ::: "memory"); }
static inline void cm_isb(void) { __asm volatile("isb 0xF" ::: "memory"); }

static inline uint32_t cm_ipsr(void)
{
    uint32_t v;
    __asm volatile("mrs %0, ipsr" : "=r"(v));
    return v;
}

#endif
