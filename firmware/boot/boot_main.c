/* The resident bootloader (docs/boot.md). It runs first at every reset: restores the kept
 * image when the app slot does not verify or its image failed its trial (slots.h), listens
 * briefly for the escape frame, then starts the application in the app slot (watchdog armed)
 * if that slot verifies (header, length, board, CRC) and nobody asked to stay here; otherwise
 * it serves the update protocol (docs/protocol.md "Bootloader") on UART0 until BOOT or RESET.
 * An upload replaces the app slot only after its confirmed image is kept in staging, and a new
 * image must confirm itself before it is kept, so no upload, however it ends, and no image,
 * however broken, can leave the board without a way back. */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "bootctl.h"
#include "cortexm.h"
#include "edgebnn.h"
#include "flashmap.h"
#include "image.h"
#include "print.h"
#include "proto.h"
#include "upload.h"
#include "serve.h"
#include "signature.h"
#include "slots.h"

#ifndef BOOT_VERSION
#error "BOOT_VERSION comes from the Makefile"
#endif

#define TX_CAP 192u
#define SCB_VTOR REG32(0xE000ED08u)      /* vector table offset (v7-M and v8-M) */
#define ICSR_PENDSTCLR (1u << 25)

static uint32_t rx_words[PROTO_MAX_PAYLOAD / 4];
static uint32_t tx_words[TX_CAP / 4];
static uint32_t header_words[IMAGE_HEADER_SIZE / 4];  /* the upload's header, kept in RAM */
#define RX ((uint8_t *)rx_words)
#define TX ((uint8_t *)tx_words)
#define HEADER ((uint8_t *)header_words)

static upload_state upload;   /* the image being flashed into the app slot */

/* A NUL-terminated string into TX at `at`, cut to leave room for INFO's key fingerprint
 * after the last one. */
static uint16_t put_str(uint16_t at, const char *s)
{
    while (*s && at + 1u < TX_CAP - SIG_FINGERPRINT_SIZE)
        TX[at++] = (uint8_t)*s++;
    TX[at++] = 0;
    return at;
}

static uint32_t app_offset(void) { return flashmap_offset(__app_slot); }

static uint8_t store_error(int st, uint16_t *len)
{
    proto_put32(TX, (uint32_t)st);
    *len = 4;
    return BOOT_ERR_STORE;
}

static uint8_t image_error_reply(image_error e, const char *why, uint16_t *len)
{
    proto_put32(TX, (uint32_t)e);
    *len = put_str(4, why);
    return BOOT_ERR_IMAGE;
}

static uint8_t cmd_hello(uint16_t n, uint16_t *len)
{
    if (n < 4 || proto_get16(RX + 2) < 256)
        return PROTO_ERR_BAD_REQUEST;
    TX[0] = PROTO_MAJOR;
    TX[1] = PROTO_MINOR;
    proto_put16(TX + 2, PROTO_MAX_PAYLOAD);
    proto_put32(TX + 4, BOOT_FEATURE_BOOTLOADER);
    *len = put_str(8, "boot-" BOOT_VERSION);
    return PROTO_OK;
}

/* The app slot made runnable if it can be (slots_recover), for INFO and BOOT; while an upload
 * is open the app slot is its destination and is only checked. */
static image_error app_state(image_info *info, char *why)
{
    char reverted[IMAGE_VERSION_LEN];
    if (upload.open)
        return slots_check(__app_slot, info, why);
    return slots_recover(info, why, reverted);
}

static uint8_t cmd_info(uint16_t *len)
{
    image_info info;
    char why[SLOT_WHY_CAP];
    image_error e = app_state(&info, why);
    uint16_t at;
    TX[0] = PROTO_MAJOR;
    TX[1] = PROTO_MINOR;
    proto_put16(TX + 2, PROTO_MAX_PAYLOAD);
    proto_put32(TX + 4, board_clock_hz());
    proto_put32(TX + 8, FLASHMAP_SIZE(__app_slot_size));
    /* flags: bit 0 app valid, bit 1 a signing key is provisioned */
    proto_put32(TX + 12, (e == IMAGE_OK ? 1u : 0u) | (SIG_KEY_PROVISIONED ? 2u : 0u));
    at = put_str(16, "boot-" BOOT_VERSION);
    at = put_str(at, board_name());
    at = put_str(at, e == IMAGE_OK ? info.version : "");
    at = put_str(at, why);
    sig_key_fingerprint(TX + at);      /* the provisioned key (zeros: none) */
    *len = (uint16_t)(at + SIG_FINGERPRINT_SIZE);
    return PROTO_OK;
}

static uint8_t cmd_flash_begin(uint16_t n, uint16_t *len)
{
    uint32_t slot = FLASHMAP_SIZE(__app_slot_size);
    int st;
    uint8_t err = upload_check_begin(&upload, RX, n, slot, IMAGE_HEADER_SIZE + 1u, TX, len);
    if (err != PROTO_OK)
        return err;
    st = slots_keep();   /* the way back, before the app slot is erased */
    if (st > 0)
        return image_error_reply((image_error)st, "the copy kept in staging does not verify", len);
    if (st == BOARD_STORE_OK)
        st = board_store_erase(app_offset(), slot);
    if (st != BOARD_STORE_OK)
        return store_error(st, len);
    memset(HEADER, 0xFF, IMAGE_HEADER_SIZE);
    return upload_open(&upload, RX, slot, TX, len);
}

/* Chunks are contiguous (a resent, overlapping chunk is fine) at 4-byte aligned offsets. The
 * header part stays in RAM until the commit; the body goes straight to the app slot. */
static uint8_t cmd_flash_chunk(uint16_t n, uint16_t *len)
{
    uint32_t offset, count, end, k;
    uint8_t *data = RX + 4;
    int st;
    uint8_t err = upload_check_chunk(&upload, RX, n, &offset, &count, TX, len);
    if (err != PROTO_OK)
        return err;
    if (offset % BOARD_STORE_WRITE_ALIGN)
        return PROTO_ERR_BAD_REQUEST;
    end = offset + count;
    if (offset < IMAGE_HEADER_SIZE) {
        k = count < IMAGE_HEADER_SIZE - offset ? count : IMAGE_HEADER_SIZE - offset;
        memcpy(HEADER + offset, data, k);
        offset += k;
        data += k;
        count -= k;
    }
    if (count) {
        /* Pad the tail to a word with 0xFF (leaves flash bits as erased). count % 4 != 0
         * only when n < PROTO_MAX_PAYLOAD, so the padding stays inside RX. */
        uint32_t padded = (count + 3u) & ~3u;
        memset(data + count, 0xFF, padded - count);
        st = board_store_write(app_offset() + offset, data, padded);
        if (st != BOARD_STORE_OK) {
            upload.open = false;
            return store_error(st, len);
        }
    }
    return upload_ack(&upload, end, TX, len);
}

/* Verifies the upload and writes its header: the app slot then holds the new image, on trial.
 * Anything refused or failed leaves no header, and the kept image is restored at once. */
static uint8_t flash_commit(uint16_t *len)
{
    image_info info;
    char why[SLOT_WHY_CAP];
    image_error e;
    uint32_t crc, body;
    const uint8_t *trailer;
    int st;
    uint8_t err = upload_finish(&upload, TX, len);
    if (err != PROTO_OK)
        return err;
    body = upload.size - IMAGE_HEADER_SIZE;
    crc = ebnn_crc32(ebnn_crc32(0, HEADER, IMAGE_HEADER_SIZE),
                     __app_slot + IMAGE_HEADER_SIZE, body);
    err = upload_check_crc(&upload, crc, TX, len);
    if (err != PROTO_OK)
        return err;
    e = image_check(HEADER, __app_slot + IMAGE_HEADER_SIZE, FLASHMAP_SIZE(__app_slot_size),
                    (uint32_t)(uintptr_t)__app_slot + IMAGE_HEADER_SIZE, &info, why, sizeof why);
    /* a signature trailer (signature.h) may follow the body: it covers the header and body */
    trailer = e == IMAGE_OK ? __app_slot + IMAGE_HEADER_SIZE + info.body_size : NULL;
    if (trailer && !(body == info.body_size + SIG_TRAILER_SIZE &&
                     sig_present(trailer, IMAGE_HEADER_SIZE + info.body_size)))
        trailer = NULL;
    if (e == IMAGE_OK && info.body_size != body && !trailer) {
        static const char mismatch[] = "body_size differs from the bytes uploaded after the header";
        _Static_assert(sizeof mismatch <= sizeof why, "the text must fit `why`");
        e = IMAGE_ERR_LENGTH;
        memcpy(why, mismatch, sizeof mismatch);
    }
    if (e != IMAGE_OK)
        return image_error_reply(e, why, len);
#if EBNN_SIGNED   /* the provisioned key's signature, and no rollback (docs/boot.md) */
    err = (uint8_t)sig_verify(HEADER, IMAGE_HEADER_SIZE, __app_slot + IMAGE_HEADER_SIZE,
                              info.body_size, trailer, slots_floor(), TX, len);
    if (err != SIG_OK)
        return err;
#endif
    st = board_store_write(app_offset(), HEADER, IMAGE_HEADER_CHECKED);   /* verified: install */
    if (st != BOARD_STORE_OK)
        return store_error(st, len);
    e = slots_check(__app_slot, &info, why);
    if (e != IMAGE_OK)
        return image_error_reply(e, "the installed copy does not verify", len);
    proto_put32(TX, info.body_size);
    proto_put32(TX + 4, info.body_crc);
    *len = put_str(8, info.version);
    return PROTO_OK;
}

static uint8_t cmd_flash_commit(uint16_t *len)
{
    image_info info;
    char why[SLOT_WHY_CAP];
    uint8_t status = flash_commit(len);
    if (status != PROTO_OK) {   /* the upload ends; the reply is composed, TX is not touched */
        upload.open = false;
        (void)app_state(&info, why);
    }
    return status;
}

static uint8_t cmd_boot(uint16_t *len)
{
    image_info info;
    char why[SLOT_WHY_CAP];
    image_error e = app_state(&info, why);
    return e == IMAGE_OK ? PROTO_OK : image_error_reply(e, why, len);
}

static uint8_t dispatch(uint8_t cmd, uint16_t n, uint16_t *len)
{
    *len = 0;
    switch (cmd) {
    case PROTO_HELLO: return cmd_hello(n, len);
    case PROTO_INFO: return n ? PROTO_ERR_BAD_REQUEST : cmd_info(len);
    case BOOT_CMD_ENTER: case PROTO_RESET: return n ? PROTO_ERR_BAD_REQUEST : PROTO_OK;
    case BOOT_CMD_FLASH_BEGIN: return cmd_flash_begin(n, len);
    case BOOT_CMD_FLASH_CHUNK: return cmd_flash_chunk(n, len);
    case BOOT_CMD_FLASH_COMMIT: return n ? PROTO_ERR_BAD_REQUEST : cmd_flash_commit(len);
    case BOOT_CMD_BOOT: return n ? PROTO_ERR_BAD_REQUEST : cmd_boot(len);
    case PROTO_TEST_EXIT: return n == 1 ? PROTO_OK : PROTO_ERR_BAD_REQUEST;
    default: return PROTO_ERR_UNKNOWN_CMD;
    }
}

static void after_reply(uint8_t cmd, uint8_t status)
{
    if (status != PROTO_OK)
        return;
    if (cmd == PROTO_RESET || cmd == BOOT_CMD_BOOT)
        board_reset();   /* the boot request is clear: the next boot starts the application */
    if (cmd == PROTO_TEST_EXIT)
        board_semihost_exit(RX[0]);
}

/* The escape: for BOOT_ESCAPE_MS after a reset that would start the application, an
 * ENTER_BOOTLOADER frame on UART0 keeps the board here instead, so the host can always reach
 * the bootloader, even when the application never answers. Bounded: a frame begun inside the
 * window may take one more window to finish; anything else is dropped. */
static bool escape_requested(void)
{
    proto_parser parser;
    uint32_t start = board_millis(), spent;
    proto_parser_init(&parser, RX, PROTO_MAX_PAYLOAD);
    while ((spent = board_millis() - start) < BOOT_ESCAPE_MS ||
           (proto_in_frame(&parser) && spent < 2u * BOOT_ESCAPE_MS)) {
        int c = board_uart_getc(1);
        if (c >= 0 && proto_feed(&parser, (uint8_t)c) == PROTO_EV_FRAME &&
            parser.h.cmd == BOOT_CMD_ENTER)
            return true;
    }
    return false;
}

/* Hands the core to the application as a reset would: SysTick off and nothing pending, the
 * vector table moved to the app's, its initial stack pointer loaded, its reset handler called
 * (it sets up everything else itself). A new image's start is its trial: it is marked tried
 * first, and the watchdog is armed last, for every image. */
__attribute__((noreturn)) static void start_app(void)
{
    const uint32_t *vectors = (const uint32_t *)(uintptr_t)(__app_slot + IMAGE_HEADER_SIZE);
    if (slots_trial() == SLOT_ON_TRIAL)
        (void)slots_mark_tried();
    board_uart_flush();
    SYST_CSR = 0;
    SCB_ICSR = ICSR_PENDSTCLR;
#if !defined(BOARD_NO_VTOR)   /* the Cortex-M0 has none (M0+ parts such as the RP2040 do) */
    SCB_VTOR = (uint32_t)(uintptr_t)vectors;
#endif   /* without: the application's exceptions (faults only) use our table */
    cm_dsb();
    cm_isb();
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
    __asm volatile("msr msplim, %0" ::"r"(0u));
#endif
    board_watchdog_start(BOOT_WATCHDOG_MS);
    __asm volatile("msr msp, %0\n"
                   "bx %1\n" ::"r"(vectors[0]), "r"(vectors[1]));
    __builtin_unreachable();
}

int main(void)
{
    static const proto_service service = {RX, TX, dispatch, after_reply};
    image_info info;
    char why[SLOT_WHY_CAP], reverted[IMAGE_VERSION_LEN];
    bool requested = __boot_request[0] == BOOT_REQUEST_STAY;
    image_error app;
    __boot_request[0] = 0;
    board_init();
    app = slots_recover(&info, why, reverted);
    if (reverted[0]) {
        board_uart_puts("EBNN-TRIAL app=");
        board_uart_puts(reverted);
        board_uart_puts(" was never confirmed: restored ");
        board_uart_puts(app == IMAGE_OK ? info.version : "none");
        board_uart_puts("\r\n");
    }
    if (app == IMAGE_OK && !requested)
        requested = escape_requested();
    board_uart_puts("EBNN-BOOT " BOOT_VERSION " board=");
    board_uart_puts(board_name());
    board_uart_puts(" clock=");
    print_dec(board_clock_hz());
    board_uart_puts(" app=");
    board_uart_puts(app == IMAGE_OK ? info.version : "none");
    board_uart_puts(app == IMAGE_OK && !requested ? " mode=run\r\n" : " mode=update\r\n");
    if (app == IMAGE_OK && !requested)
        start_app();

    proto_serve(&service);
}
