/* The STM32F4 flash interface model (stm32f4_flash_model.h). */
#include "stm32f4_flash_model.h"

#include <string.h>

#include "stm32f4_flash.h"

#define KEY1 0x45670123u
#define KEY2 0xCDEF89ABu
#define SR_BSY (1u << 16)
#define SR_EOP 1u
#define SR_W1C 0xF3u           /* EOP, OPERR, WRPERR, PGAERR, PGPERR, PGSERR */
#define SR_WRPERR (1u << 4)
#define SR_PGAERR (1u << 5)
#define SR_PGPERR (1u << 6)
#define SR_PGSERR (1u << 7)
#define CR_PG 1u
#define CR_SER 2u
#define CR_PSIZE(cr) (((cr) >> 8) & 3u)
#define CR_SNB(cr) (((cr) >> 3) & 0xFu)
#define CR_STRT (1u << 16)
#define CR_LOCK (1u << 31)
#define ERASE_POLLS 40u
#define PROGRAM_POLLS 3u

flash_model model;

void model_reset(void)
{
    memset(&model, 0, sizeof model);
    memset(model.flash, 0xA5, sizeof model.flash);   /* not erased */
    model.locked = 1;
}

uint32_t model_read(int reg)
{
    switch (reg) {
    case MODEL_SR:
        if (model.stuck)
            return model.sr | SR_BSY;
        if (model.busy) {
            model.busy--;
            return model.sr | SR_BSY;
        }
        return model.sr;
    case MODEL_CR:
        return model.cr | (model.locked ? CR_LOCK : 0u);
    default:
        return 0;
    }
}

/* An operation ends: its injected errors, else EOP; BSY for `polls` reads. */
static void operate(uint32_t polls, uint32_t errors)
{
    errors |= model.inject;
    model.inject = 0;
    model.sr |= errors ? errors : SR_EOP;
    model.busy = polls;
}

static void erase(uint32_t n)
{
    if (n >= STM32F4_SECTORS || (model.wrp >> n & 1u)) {
        operate(1, SR_WRPERR);
        return;
    }
    memset(model.flash + stm32f4_sector_offset(n), 0xFF, stm32f4_sector_size(n));
    model.erases++;
    operate(ERASE_POLLS, 0);
}

void model_write(int reg, uint32_t v)
{
    if (model.busy && reg != MODEL_SR) {
        model.violations++;    /* RM0090: no register write while BSY */
        return;
    }
    switch (reg) {
    case MODEL_KEYR:
        if (model.key_failed || !model.locked) {
            model.key_failed = 1;   /* a key while unlocked is a wrong sequence too */
            model.locked = 1;
        } else if (model.key_stage == 0 && v == KEY1) {
            model.key_stage = 1;
        } else if (model.key_stage == 1 && v == KEY2) {
            model.key_stage = 0;
            model.locked = 0;
        } else {
            model.key_failed = 1;   /* locked until the next reset */
        }
        break;
    case MODEL_SR:
        model.sr &= ~(v & SR_W1C);
        break;
    case MODEL_CR:
        if (model.locked) {
            model.violations++;
            break;
        }
        if (v & CR_LOCK) {
            model.locked = 1;
            model.cr = 0;
            break;
        }
        model.cr = v & ~CR_STRT;
        if ((v & CR_STRT) && (v & CR_SER) && !(v & CR_PG))
            erase(CR_SNB(v));
        else if (v & CR_STRT)
            operate(1, SR_PGSERR);
        break;
    default:
        model.violations++;
    }
}

void model_program(uintptr_t addr, uint32_t v)
{
    uintptr_t off = addr - (uintptr_t)model.flash;
    uint32_t old;
    int n;
    if (off >= MODEL_FLASH_SIZE || model.busy) {
        model.violations++;
        return;
    }
    n = stm32f4_sector_at((uint32_t)off);
    if (model.locked || !(model.cr & CR_PG) || (model.cr & CR_SER)) {
        operate(1, SR_PGSERR);
        return;
    }
    if (off % 4u) {
        operate(1, SR_PGAERR);
        return;
    }
    if (CR_PSIZE(model.cr) != 2u) {
        operate(1, SR_PGPERR);
        return;
    }
    if (model.wrp >> n & 1u) {
        operate(1, SR_WRPERR);
        return;
    }
    if (model.inject) {   /* a failed program leaves the word as it was */
        operate(1, 0);
        return;
    }
    memcpy(&old, model.flash + off, 4);
    if ((old & v) != v)
        model.overwrites++;
    old &= v;                  /* flash only clears bits */
    memcpy(model.flash + off, &old, 4);
    model.programs++;
    operate(PROGRAM_POLLS, 0);
}
