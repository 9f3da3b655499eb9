/* The STM32F4 flash interface (RM0090 ch. 3: FLASH at 0x40023C00) for parts with 1 MiB in
 * 12 sectors (4 x 16, 64, 7 x 128 KiB): unlock, sector erase, word programming, each bounded
 * in time and ending locked. Used by boards/stm32f4_store.c; tested against a register-level
 * model on the host (tests/native/stm32f4/stm32f4_flash_model.c). */
#ifndef EBNN_STM32F4_FLASH_H
#define EBNN_STM32F4_FLASH_H

#include <stdint.h>

#define STM32F4_SECTORS 12u

/* What went wrong, one value per SR error flag (and the driver's own checks). */
typedef enum {
    STM32F4_FLASH_OK = 0,
    STM32F4_FLASH_ERR_LOCKED = -1,    /* the key sequence did not unlock CR */
    STM32F4_FLASH_ERR_TIMEOUT = -2,   /* BSY stayed set past STM32F4_FLASH_POLLS reads */
    STM32F4_FLASH_ERR_PGS = -3,       /* PGSERR: programming sequence */
    STM32F4_FLASH_ERR_PGP = -4,       /* PGPERR: parallelism (PSIZE) */
    STM32F4_FLASH_ERR_PGA = -5,       /* PGAERR: alignment */
    STM32F4_FLASH_ERR_WRP = -6,       /* WRPERR: write-protected sector */
    STM32F4_FLASH_ERR_OP = -7,        /* OPERR: operation */
    STM32F4_FLASH_ERR_VERIFY = -8,    /* a programmed word reads back different */
    STM32F4_FLASH_ERR_ARG = -9        /* no such sector / not a word address */
} stm32f4_flash_status;

/* Sector n's offset from the flash start and its size; the sector holding `offset` (-1 when
 * beyond the 1 MiB). */
uint32_t stm32f4_sector_offset(uint32_t n);
uint32_t stm32f4_sector_size(uint32_t n);
int stm32f4_sector_at(uint32_t offset);

/* Erases sector n (all bytes 0xFF). */
stm32f4_flash_status stm32f4_flash_erase(uint32_t n);
/* Programs `count` words at flash offset `offset` (4-byte aligned), 32 bits at a time, and
 * reads them back. Flash only clears bits: the caller checks that the words are erased enough. */
stm32f4_flash_status stm32f4_flash_program(uint32_t offset, const uint8_t *src, uint32_t count);

#endif
