/* Every unexpected exception lands here: report it on UART0 as one line starting with
 * "EBNN-FAULT", then end the run (semihosting exit 128 + exception number under QEMU; a system
 * reset when built with SEMIHOSTING=0, i.e. for hardware without a debugger). */
#include <stdint.h>

#include "board.h"
#include "cortexm.h"
#include "print.h"

/* Own stack for the report, so a fault caused by stack overflow can still be reported. */
#define FAULT_STACK_BYTES 512
#define STR_(x) #x
#define STR(x) STR_(x)
__attribute__((used, aligned(8))) uint8_t ebnn_fault_stack[FAULT_STACK_BYTES];

extern uint32_t __ram_origin[], __boot_request[];   /* ld/common.ld, ld/flashmap.ld */

__attribute__((noreturn, used)) void fault_report(const uint32_t *frame, uint32_t exc_return);

/* r0 = the stacked frame (MSP or PSP, per EXC_RETURN bit 2), r1 = EXC_RETURN; then switch
 * to the fault stack (on v8-M first lift the stack limit) and report. Never returns. */
__attribute__((naked)) void Fault_Handler(void)
{
    __asm volatile(
#if defined(__ARM_ARCH_6M__)   /* Thumb-1: no IT blocks, no immediate TST */
        "movs r0, #4\n"
        "mov r1, lr\n"
        "tst r0, r1\n"
        "bne 1f\n"
        "mrs r0, msp\n"
        "b 2f\n"
        "1: mrs r0, psp\n"
        "2:\n"
#else
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
#endif
        "mov r1, lr\n"
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
        "movs r2, #0\n"
        "msr msplim, r2\n"
#endif
        "ldr r2, =ebnn_fault_stack + " STR(FAULT_STACK_BYTES) "\n"
        "mov sp, r2\n"
#if defined(__ARM_ARCH_6M__)   /* B reaches only +-2 KiB on Thumb-1 */
        "ldr r2, =fault_report\n"
        "bx r2\n"
#else
        "b fault_report\n"
#endif
        ".ltorg\n");
}

/* Every exception without a handler of its own comes here. */
#define WEAK_HANDLER(name) void name(void) __attribute__((weak, alias("Fault_Handler")))
WEAK_HANDLER(NMI_Handler);
WEAK_HANDLER(HardFault_Handler);
WEAK_HANDLER(MemManage_Handler);
WEAK_HANDLER(BusFault_Handler);
WEAK_HANDLER(UsageFault_Handler);
WEAK_HANDLER(SecureFault_Handler);
WEAK_HANDLER(SVC_Handler);
WEAK_HANDLER(DebugMon_Handler);
WEAK_HANDLER(PendSV_Handler);
WEAK_HANDLER(SysTick_Handler);
WEAK_HANDLER(IRQ_Handler);

static const char *exception_name(uint32_t exc)
{
    switch (exc) {
    case 2: return "NMI";
    case 3: return "HardFault";
    case 4: return "MemManage";
    case 5: return "BusFault";
    case 6: return "UsageFault";
    case 7: return "SecureFault";
    case 11: return "SVC";
    case 12: return "DebugMon";
    case 14: return "PendSV";
    case 15: return "SysTick";
    default: return exc >= 16 ? "IRQ" : "Reserved";
    }
}

static void field(const char *name, uint32_t v)
{
    board_uart_putc(' ');
    board_uart_puts(name);
    board_uart_putc('=');
    print_hex(v);
}

void fault_report(const uint32_t *frame, uint32_t exc_return)
{
    uint32_t exc = cm_ipsr() & 0x1FFu;
    board_init();   /* the fault may have come before (or during) UART set-up */
    board_uart_puts("\r\nEBNN-FAULT ");
    board_uart_puts(exception_name(exc));
    board_uart_puts(" exc=");
    print_dec(exc);
    /* The frame is only trusted if it lies wholly inside the part's RAM: anywhere there, as
     * on ARMv6-M (no VTOR) the bootloader's handler reports the application's faults too. */
    uintptr_t f = (uintptr_t)frame;
    if ((f & 3u) == 0 && f >= (uintptr_t)__ram_origin && f + 32u <= (uintptr_t)__boot_request) {
        field("pc", frame[6]);
        field("lr", frame[5]);
        field("xpsr", frame[7]);
    } else {
        field("sp", (uint32_t)f);
    }
#if !defined(__ARM_ARCH_6M__)   /* ARMv6-M has no fault status registers (reading them faults) */
    field("cfsr", SCB_CFSR);
    field("hfsr", SCB_HFSR);
    field("mmfar", SCB_MMFAR);
    field("bfar", SCB_BFAR);
#endif
    field("exc_return", exc_return);
    board_uart_puts("\r\n");
    board_semihost_exit(128 + (int)(exc > 127u ? 127u : exc));
}
