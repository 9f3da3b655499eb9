/* The nRF5 non-volatile memory controller (NVMC at 0x4001E000, the same registers on nRF51 and
 * nRF52): page erase and word write of the part's own flash, each waited for on READY. The
 * page size is the part's (FICR CODEPAGESIZE: 1 KiB on the nRF51, 4 KiB on the nRF52). */
#ifndef EBNN_NRF_NVMC_H
#define EBNN_NRF_NVMC_H

#include <stdint.h>

uint32_t nrf_nvmc_page_size(void);
/* Erases the flash page at `addr` (a multiple of the page size) to 0xFF. */
void nrf_nvmc_erase_page(uintptr_t addr);
/* Writes `n` words at `addr` (4-byte aligned); like any NOR flash it only clears bits. */
void nrf_nvmc_write(uintptr_t addr, const uint32_t *words, uint32_t n);

#endif
