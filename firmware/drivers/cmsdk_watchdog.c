/* CMSDK APB watchdog (cmsdk_watchdog.h). Every register but LOCK ignores writes while locked,
 * so each access unlocks it first and locks it again after. */
#include "cmsdk_watchdog.h"

#define WDOG_LOAD(b)     (*(volatile uint32_t *)((b) + 0x000u))
#define WDOG_CONTROL(b)  (*(volatile uint32_t *)((b) + 0x008u))
#define WDOG_INTCLR(b)   (*(volatile uint32_t *)((b) + 0x00Cu))
#define WDOG_LOCK(b)     (*(volatile uint32_t *)((b) + 0xC00u))

#define WDOG_UNLOCK_KEY  0x1ACCE551u
#define CONTROL_INTEN    (1u << 0)      /* counter and interrupt on */
#define CONTROL_RESEN    (1u << 1)      /* the second expiry resets the system */

void cmsdk_watchdog_start(uintptr_t base, uint32_t ticks)
{
    WDOG_LOCK(base) = WDOG_UNLOCK_KEY;
    WDOG_LOAD(base) = ticks;
    WDOG_INTCLR(base) = 1u;
    WDOG_CONTROL(base) = CONTROL_INTEN | CONTROL_RESEN;
    WDOG_LOCK(base) = 0u;
}

void cmsdk_watchdog_feed(uintptr_t base)
{
    WDOG_LOCK(base) = WDOG_UNLOCK_KEY;
    WDOG_INTCLR(base) = 1u;
    WDOG_LOCK(base) = 0u;
}
