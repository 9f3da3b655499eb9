/* nRF5 NVMC (nrf_nvmc.h). CONFIG selects what a bus write to the flash does (WEN: program the
 * word, EEN: erase), READY is 0 while the flash is busy; the CPU stalls on flash reads
 * meanwhile, so READY is polled from code that may itself run from flash (the product
 * specification's sequence: CONFIG, wait READY, act, wait READY, CONFIG back to read-only). */
#include "nrf_nvmc.h"

#define REG(a) (*(volatile uint32_t *)(uintptr_t)(a))
#define NVMC_READY      REG(0x4001E400u)
#define NVMC_CONFIG     REG(0x4001E504u)
#define NVMC_ERASEPAGE  REG(0x4001E508u)
#define FICR_CODEPAGESIZE REG(0x10000010u)

#define CONFIG_REN 0u
#define CONFIG_WEN 1u
#define CONFIG_EEN 2u

static void wait_ready(void)
{
    while (NVMC_READY == 0) {
    }
}

uint32_t nrf_nvmc_page_size(void) { return FICR_CODEPAGESIZE; }

void nrf_nvmc_erase_page(uintptr_t addr)
{
    NVMC_CONFIG = CONFIG_EEN;
    wait_ready();
    NVMC_ERASEPAGE = (uint32_t)addr;
    wait_ready();
    NVMC_CONFIG = CONFIG_REN;
    wait_ready();
}

void nrf_nvmc_write(uintptr_t addr, const uint32_t *words, uint32_t n)
{
    volatile uint32_t *dst = (volatile uint32_t *)addr;
    uint32_t i;
    NVMC_CONFIG = CONFIG_WEN;
    wait_ready();
    for (i = 0; i < n; i++) {
        dst[i] = words[i];
        wait_ready();
    }
    NVMC_CONFIG = CONFIG_REN;
    wait_ready();
}
