/* ARM CMSDK APB watchdog (the watchdog of the MPS2 FPGA images and of the SSE-300's S32K
 * domain, modelled by QEMU as `cmsdk-apb-watchdog`): a down-counter that raises its interrupt
 * (wired to NMI on these boards) when it first reaches zero and the system reset when it
 * reaches zero again without having been fed. */
#ifndef EBNN_CMSDK_WATCHDOG_H
#define EBNN_CMSDK_WATCHDOG_H

#include <stdint.h>

/* Counts `ticks` of its clock to the interrupt, as many again to the reset; then locks its
 * registers against stray writes. */
void cmsdk_watchdog_start(uintptr_t base, uint32_t ticks);
/* Reloads the counter (and clears a pending interrupt). */
void cmsdk_watchdog_feed(uintptr_t base);

#endif
