/* A register-level model of the STM32F4 flash interface (RM0090 ch. 3) for the host test of
 * firmware/drivers/stm32f4_flash.c, which compiles against it unchanged through its access
 * macros (-DSTM32F4_FLASH_REGS=model selects this header). The model enforces what the silicon
 * does: CR locked until KEY1 then KEY2 (a wrong key locks it until reset), CR writes ignored
 * while locked, a sector erase only with SER + SNB + STRT, programming only with PG and
 * PSIZE = x32, aligned, and only clearing bits, BSY for a while after each operation,
 * write-protected sectors (WRPERR), and error flags injected on demand. */
#ifndef STM32F4_FLASH_MODEL_H
#define STM32F4_FLASH_MODEL_H

#include <stdint.h>

#define MODEL_FLASH_SIZE (1u << 20)
enum { MODEL_ACR, MODEL_KEYR, MODEL_OPTKEYR, MODEL_SR, MODEL_CR, MODEL_OPTCR };

typedef struct {
    uint8_t flash[MODEL_FLASH_SIZE];
    uint32_t cr, sr;
    int locked, key_stage, key_failed;
    uint32_t busy;          /* BSY reads left in the current operation */
    int stuck;              /* BSY never clears */
    uint32_t wrp;           /* write-protected sectors, bit n = sector n */
    uint32_t inject;        /* SR error flags the next operation sets */
    uint32_t violations;    /* register writes the silicon would ignore or fault */
    uint32_t overwrites;    /* programs that needed a 0 -> 1 bit change */
    uint32_t erases, programs;
} flash_model;

extern flash_model model;
void model_reset(void);
uint32_t model_read(int reg);
void model_write(int reg, uint32_t v);
void model_program(uintptr_t addr, uint32_t v);

#define STM32F4_FLASH_MEM ((uintptr_t)model.flash)
#define FLASH_RD(reg) model_read(MODEL_##reg)
#define FLASH_WR(reg, v) model_write(MODEL_##reg, (v))
#define FLASH_PROGRAM(addr, v) model_program((addr), (v))
#define STM32F4_FLASH_POLLS 1000u

#endif
