/* STM32F4 flash programming (stm32f4_flash.h), after RM0090 3.5-3.6: unlock with the two KEYR
 * keys, clear stale SR errors, set PSIZE = x32 (2.7-3.6 V) and SER+SNB or PG, start, poll BSY
 * with a bound, turn every SR error flag into its status, lock again. The register block and the
 * flash array are reached through STM32F4_FLASH_REGS / STM32F4_FLASH_MEM and the two access
 * macros, so the host test compiles this file unchanged against its model. */
#include "stm32f4_flash.h"

#include <string.h>

typedef struct {
    volatile uint32_t ACR, KEYR, OPTKEYR, SR, CR, OPTCR;
} stm32f4_flash_regs;

#ifndef STM32F4_FLASH_REGS
#define STM32F4_FLASH_REGS ((stm32f4_flash_regs *)0x40023C00u)
#define STM32F4_FLASH_MEM ((uintptr_t)0x08000000u)
#define FLASH_RD(reg) (STM32F4_FLASH_REGS->reg)
#define FLASH_WR(reg, v) (STM32F4_FLASH_REGS->reg = (v))
#define FLASH_PROGRAM(addr, v) (*(volatile uint32_t *)(addr) = (v))
#else
/* The host model provides these (tests/native/stm32f4/stm32f4_flash_model.h). */
#include "stm32f4_flash_model.h"
#endif
/* BSY polls before giving up: a 128 KiB sector takes up to 2 s (RM0090 / datasheet tERASE128KB);
 * a poll is >= 4 cycles, so at 168 MHz this bound is >= 2.6 s. */
#ifndef STM32F4_FLASH_POLLS
#define STM32F4_FLASH_POLLS 110000000u
#endif

#define KEY1 0x45670123u
#define KEY2 0xCDEF89ABu
#define SR_OPERR   (1u << 1)
#define SR_WRPERR  (1u << 4)
#define SR_PGAERR  (1u << 5)
#define SR_PGPERR  (1u << 6)
#define SR_PGSERR  (1u << 7)
#define SR_ERRORS  (SR_OPERR | SR_WRPERR | SR_PGAERR | SR_PGPERR | SR_PGSERR)
#define SR_EOP     (1u << 0)
#define SR_BSY     (1u << 16)
#define CR_PG      (1u << 0)
#define CR_SER     (1u << 1)
#define CR_SNB(n)  ((uint32_t)(n) << 3)
#define CR_PSIZE32 (2u << 8)
#define CR_STRT    (1u << 16)
#define CR_LOCK    (1u << 31)

uint32_t stm32f4_sector_size(uint32_t n)
{
    return n < 4u ? 16u << 10 : n == 4u ? 64u << 10 : 128u << 10;
}

uint32_t stm32f4_sector_offset(uint32_t n)
{
    return n <= 4u ? n * (16u << 10) : (n - 4u) * (128u << 10);   /* sector 5 at 128 KiB */
}

int stm32f4_sector_at(uint32_t offset)
{
    uint32_t n;
    for (n = 0; n < STM32F4_SECTORS; n++)
        if (offset - stm32f4_sector_offset(n) < stm32f4_sector_size(n))
            return (int)n;
    return -1;
}

static stm32f4_flash_status wait_idle(void)
{
    uint32_t n;
    for (n = 0; n < STM32F4_FLASH_POLLS; n++)
        if (!(FLASH_RD(SR) & SR_BSY))
            return STM32F4_FLASH_OK;
    return STM32F4_FLASH_ERR_TIMEOUT;
}

/* The first error flag set, as a status; the flags are cleared (write 1). */
static stm32f4_flash_status take_errors(void)
{
    uint32_t sr = FLASH_RD(SR);
    FLASH_WR(SR, sr & (SR_ERRORS | SR_EOP));
    if (sr & SR_WRPERR) return STM32F4_FLASH_ERR_WRP;
    if (sr & SR_PGAERR) return STM32F4_FLASH_ERR_PGA;
    if (sr & SR_PGPERR) return STM32F4_FLASH_ERR_PGP;
    if (sr & SR_PGSERR) return STM32F4_FLASH_ERR_PGS;
    if (sr & SR_OPERR) return STM32F4_FLASH_ERR_OP;
    return STM32F4_FLASH_OK;
}

/* Idle, unlocked, no stale error flags: ready for one operation. */
static stm32f4_flash_status begin(void)
{
    stm32f4_flash_status st = wait_idle();
    if (st != STM32F4_FLASH_OK)
        return st;
    if (FLASH_RD(CR) & CR_LOCK) {
        FLASH_WR(KEYR, KEY1);
        FLASH_WR(KEYR, KEY2);
        if (FLASH_RD(CR) & CR_LOCK)
            return STM32F4_FLASH_ERR_LOCKED;
    }
    (void)take_errors();
    return STM32F4_FLASH_OK;
}

/* Waits for the operation, collects its errors, clears the mode bits and locks. */
static stm32f4_flash_status finish(void)
{
    stm32f4_flash_status st = wait_idle();
    stm32f4_flash_status err = take_errors();
    FLASH_WR(CR, CR_LOCK);
    return st != STM32F4_FLASH_OK ? st : err;
}

stm32f4_flash_status stm32f4_flash_erase(uint32_t n)
{
    stm32f4_flash_status st;
    if (n >= STM32F4_SECTORS)
        return STM32F4_FLASH_ERR_ARG;
    st = begin();
    if (st != STM32F4_FLASH_OK)
        return st;
    FLASH_WR(CR, CR_SER | CR_SNB(n) | CR_PSIZE32);
    FLASH_WR(CR, CR_SER | CR_SNB(n) | CR_PSIZE32 | CR_STRT);
    return finish();
}

stm32f4_flash_status stm32f4_flash_program(uint32_t offset, const uint8_t *src, uint32_t count)
{
    stm32f4_flash_status st;
    uint32_t i, w;
    if (offset % 4u || stm32f4_sector_at(offset) < 0 ||
        (count && stm32f4_sector_at(offset + 4u * count - 1u) < 0))
        return STM32F4_FLASH_ERR_ARG;
    for (i = 0; i < count; i++) {
        memcpy(&w, src + 4u * i, 4);
        st = begin();
        if (st != STM32F4_FLASH_OK)
            return st;
        FLASH_WR(CR, CR_PG | CR_PSIZE32);
        FLASH_PROGRAM(STM32F4_FLASH_MEM + offset + 4u * i, w);
        st = finish();
        if (st != STM32F4_FLASH_OK)
            return st;
        if (*(const volatile uint32_t *)(STM32F4_FLASH_MEM + offset + 4u * i) != w)
            return STM32F4_FLASH_ERR_VERIFY;
    }
    return STM32F4_FLASH_OK;
}
