/* firmware/drivers/stm32f4_flash.c and boards/stm32f4_store.c (board.h's store contract) on the
 * host against the register-level model of the STM32F4 flash interface
 * (stm32f4_flash_model.c): geometry, erase by sector, programming only clearing bits, refused
 * writes writing nothing, every SR error flag reaching its status and BOARD_STORE_ERR_HW, the
 * BSY bound, a failed unlock; then randomized store operations against a byte-array reference.
 * The store sits where ld/flashmap-stm32f4.ld puts it: sectors 2-11 (flash + 32 KiB).
 * Usage: test_stm32f4_flash SEED ROUNDS. Run by tests/test_stm32f4_flash.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"
#include "stm32f4_flash.h"
#include "stm32f4_flash_model.h"

#define KiB 1024u
#define STORE_AT (32u * KiB)
static int failures;
static uint32_t feeds;
static uint8_t ref[MODEL_FLASH_SIZE];

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);              \
            failures++;                                                         \
        }                                                                       \
    } while (0)

void board_watchdog_feed(void) { feeds++; }

static uint32_t rng_state;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void idle_and_locked(void)
{
    CHECK(model.locked && model.busy == 0 && model.violations == 0 && model.overwrites == 0);
}

static void test_geometry(void)
{
    uint32_t n, total = 0;
    for (n = 0; n < STM32F4_SECTORS; n++) {
        CHECK(stm32f4_sector_offset(n) == total);
        CHECK(stm32f4_sector_at(total) == (int)n);
        CHECK(stm32f4_sector_at(total + stm32f4_sector_size(n) - 1u) == (int)n);
        total += stm32f4_sector_size(n);
    }
    CHECK(total == MODEL_FLASH_SIZE && stm32f4_sector_at(total) == -1);
    CHECK(stm32f4_sector_size(0) == 16u * KiB && stm32f4_sector_size(4) == 64u * KiB &&
          stm32f4_sector_size(11) == 128u * KiB);
    CHECK(board_store_base() == (uintptr_t)model.flash + STORE_AT);
    CHECK(board_store_size() == MODEL_FLASH_SIZE - STORE_AT && board_store_page_size() == 16u * KiB);
}

static int erased(uint32_t flash_off, uint32_t len)
{
    uint32_t i;
    for (i = 0; i < len; i++)
        if (model.flash[flash_off + i] != 0xFF)
            return 0;
    return 1;
}

static void test_erase_and_write(void)
{
    uint8_t data[256], before[256];
    uint32_t i;
    model_reset();
    /* the app slot, sectors 2-4: exactly those, the bootloader's and sector 5 untouched */
    CHECK(board_store_erase(0, 96u * KiB) == BOARD_STORE_OK);
    CHECK(erased(STORE_AT, 96u * KiB) && model.erases == 3);
    CHECK(model.flash[STORE_AT - 1] == 0xA5 && model.flash[128u * KiB] == 0xA5);
    idle_and_locked();
    /* a range ending inside a sector erases all of it (slots own whole sectors) */
    CHECK(board_store_erase(96u * KiB, 16u * KiB) == BOARD_STORE_OK);
    CHECK(erased(128u * KiB, 128u * KiB) && model.erases == 4);
    /* refused: not a page, not a sector start (inside sector 4), beyond the store */
    CHECK(board_store_erase(4u * KiB, 16u * KiB) == BOARD_STORE_ERR_ALIGN);
    CHECK(board_store_erase(48u * KiB, 16u * KiB) == BOARD_STORE_ERR_ALIGN);
    CHECK(board_store_erase(0, 8u * KiB) == BOARD_STORE_ERR_ALIGN);
    CHECK(board_store_erase(board_store_size() - 16u * KiB, 32u * KiB) == BOARD_STORE_ERR_RANGE);
    CHECK(model.erases == 4);
    CHECK(feeds >= 4);
    for (i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)rnd();
    CHECK(board_store_write(512, data, sizeof data) == BOARD_STORE_OK);
    CHECK(memcmp(model.flash + STORE_AT + 512, data, sizeof data) == 0);
    idle_and_locked();
    /* programming again may only clear bits: a word needing a 1 refuses the whole write */
    memcpy(before, model.flash + STORE_AT + 512, sizeof before);
    for (i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(before[i] & 0x0F);
    data[200] = 0xFF;
    if (before[200] == 0xFF)
        data[200] = 0xFF, data[201] = 0xFF, before[201] = 0;   /* force a 0 -> 1 */
    model.flash[STORE_AT + 512 + 201] = before[201];
    memcpy(before, model.flash + STORE_AT + 512, sizeof before);
    CHECK(board_store_write(512, data, sizeof data) == BOARD_STORE_ERR_NOT_ERASED);
    CHECK(memcmp(model.flash + STORE_AT + 512, before, sizeof before) == 0);
    CHECK(board_store_write(514, data, 4) == BOARD_STORE_ERR_ALIGN);
    CHECK(board_store_write(512, data, 6) == BOARD_STORE_ERR_ALIGN);
    CHECK(board_store_write(board_store_size() - 4u, data, 8) == BOARD_STORE_ERR_RANGE);
    idle_and_locked();
}

/* Each SR error flag, injected into the next operation, gives its status and ERR_HW. */
static void test_error_flags(void)
{
    static const struct { uint32_t flag; stm32f4_flash_status st; } flags[] = {
        {1u << 1, STM32F4_FLASH_ERR_OP},  {1u << 4, STM32F4_FLASH_ERR_WRP},
        {1u << 5, STM32F4_FLASH_ERR_PGA}, {1u << 6, STM32F4_FLASH_ERR_PGP},
        {1u << 7, STM32F4_FLASH_ERR_PGS},
    };
    uint32_t i, w = 0x12345678u;
    for (i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        model_reset();
        model.inject = flags[i].flag;
        CHECK(stm32f4_flash_erase(6) == flags[i].st);
        idle_and_locked();
        CHECK((model.sr & 0xF2u) == 0);   /* the flags were cleared */
        CHECK(stm32f4_flash_erase(6) == STM32F4_FLASH_OK && erased(256u * KiB, 128u * KiB));
        model.inject = flags[i].flag;
        CHECK(stm32f4_flash_program(256u * KiB, (const uint8_t *)&w, 1) == flags[i].st);
        CHECK(model.flash[256u * KiB] == 0xFF);
        model.inject = flags[i].flag;
        CHECK(board_store_write(224u * KiB, &w, 4) == BOARD_STORE_ERR_HW);
        model.inject = flags[i].flag;
        CHECK(board_store_erase(224u * KiB, 16u * KiB) == BOARD_STORE_ERR_HW);
        idle_and_locked();
    }
    /* a write-protected sector (option bytes): the model's own WRPERR */
    model_reset();
    model.wrp = 1u << 7;
    CHECK(stm32f4_flash_erase(7) == STM32F4_FLASH_ERR_WRP);
    CHECK(board_store_erase(352u * KiB, 16u * KiB) == BOARD_STORE_ERR_HW);
    CHECK(model.flash[384u * KiB] == 0xA5);
    CHECK(stm32f4_flash_erase(12) == STM32F4_FLASH_ERR_ARG);
    CHECK(stm32f4_flash_program(2, (const uint8_t *)&w, 1) == STM32F4_FLASH_ERR_ARG);
    idle_and_locked();
}

static void test_busy_bound_and_lock(void)
{
    uint32_t w = 0;
    model_reset();
    model.stuck = 1;   /* BSY never clears: the driver gives up, it does not hang */
    CHECK(stm32f4_flash_erase(5) == STM32F4_FLASH_ERR_TIMEOUT);
    CHECK(board_store_write(0, &w, 4) == BOARD_STORE_ERR_HW);
    model_reset();
    model.key_failed = 1;   /* a wrong key sequence earlier: CR stays locked until reset */
    CHECK(stm32f4_flash_erase(5) == STM32F4_FLASH_ERR_LOCKED);
    CHECK(board_store_erase(96u * KiB, 16u * KiB) == BOARD_STORE_ERR_HW);
    CHECK(model.flash[128u * KiB] == 0xA5 && model.violations == 0);
}

/* Random whole-slot erases and clear-only writes, against a byte array with the same rules. */
static void test_randomized(uint32_t rounds)
{
    static const uint32_t slots[][2] = {   /* store offset, length: ld/flashmap-stm32f4.ld */
        {0, 96u * KiB}, {96u * KiB, 96u * KiB}, {224u * KiB, 48u * KiB}, {352u * KiB, 48u * KiB},
    };
    uint8_t buf[64];
    uint32_t r, i;
    model_reset();
    memcpy(ref, model.flash, sizeof ref);
    for (r = 0; r < rounds; r++) {
        if (rnd() % 8u == 0) {
            const uint32_t *s = slots[rnd() % 4u];
            int first = stm32f4_sector_at(STORE_AT + s[0]);
            int last = stm32f4_sector_at(STORE_AT + s[0] + s[1] - 1u), n;
            CHECK(board_store_erase(s[0], s[1]) == BOARD_STORE_OK);
            for (n = first; n <= last; n++)
                memset(ref + stm32f4_sector_offset((uint32_t)n), 0xFF,
                       stm32f4_sector_size((uint32_t)n));
        } else {
            uint32_t off = (rnd() % (board_store_size() / 4u - 16u)) * 4u, len = 4u * (1u + rnd() % 16u);
            int ok = 1, st;
            for (i = 0; i < len; i++) {
                buf[i] = (uint8_t)(ref[STORE_AT + off + i] & rnd());
                if (rnd() % 64u == 0)
                    buf[i] = (uint8_t)rnd();
                if ((ref[STORE_AT + off + i] & buf[i]) != buf[i])
                    ok = 0;
            }
            st = board_store_write(off, buf, len);
            CHECK(st == (ok ? BOARD_STORE_OK : BOARD_STORE_ERR_NOT_ERASED));
            if (ok)
                memcpy(ref + STORE_AT + off, buf, len);
        }
        idle_and_locked();
    }
    CHECK(memcmp(ref, model.flash, sizeof ref) == 0);
    printf("randomized: %u rounds, %u erases, %u words programmed\n", rounds, model.erases,
           model.programs);
}

int main(int argc, char **argv)
{
    uint32_t seed = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 1u;
    uint32_t rounds = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 2000u;
    rng_state = seed ? seed : 1u;
    test_geometry();
    test_erase_and_write();
    test_error_flags();
    test_busy_bound_and_lock();
    test_randomized(rounds);
    if (failures) {
        printf("test_stm32f4_flash: %d failures (seed %u)\n", failures, seed);
        return 1;
    }
    printf("test_stm32f4_flash: all passed (seed %u)\n", seed);
    return 0;
}
