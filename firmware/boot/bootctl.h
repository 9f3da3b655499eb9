/* What the application and the bootloader agree on (docs/boot.md, docs/protocol.md
 * "Bootloader"): the command codes of the update protocol, the HELLO feature bit that says
 * "this is the bootloader", and the boot request word that carries "stay in the bootloader"
 * across a reset. */
#ifndef EBNN_BOOTCTL_H
#define EBNN_BOOTCTL_H

#include <stdint.h>

#include "flashmap.h"

enum {
    BOOT_CMD_ENTER = 0x40,          /* app: reset into the bootloader (the bootloader: OK) */
    BOOT_CMD_FLASH_BEGIN = 0x41,    /* bootloader: u32 image size, u32 CRC-32 of the image */
    BOOT_CMD_FLASH_CHUNK = 0x42,    /* bootloader: u32 offset, data */
    BOOT_CMD_FLASH_COMMIT = 0x43,   /* bootloader: verify, then install */
    BOOT_CMD_BOOT = 0x44            /* bootloader: reset into the installed application */
};

/* Reply status of FLASH_COMMIT for an image the bootloader refuses: detail u32 reason
 * (enum image_error, boot/image.h) and a NUL-terminated explanation. */
#define BOOT_ERR_IMAGE 0x20u

/* Reply status of a failed flash erase/program (bootloader uploads, the application's model
 * save): detail i32, the board_store or model_store error. */
#define BOOT_ERR_STORE 0x21u

/* HELLO feature bit set by the bootloader, never by the application. */
#define BOOT_FEATURE_BOOTLOADER (1u << 31)

/* The word at __boot_request (the last 16 bytes of RAM, outside every image): the
 * application writes BOOT_REQUEST_STAY and resets; the bootloader reads and clears it. RAM
 * keeps its contents across a system reset (not across power loss, which is fine: then the
 * bootloader starts the application, which can be asked again). */
#define BOOT_REQUEST_STAY 0xB007B007u

/* How long the bootloader listens for the escape frame (ENTER_BOOTLOADER) after a reset
 * before it starts the application (docs/boot.md "The escape"). */
#define BOOT_ESCAPE_MS 50u

/* The watchdog the bootloader arms before it starts an application: NMI after this long
 * without a feed, a system reset after as long again (docs/boot.md "Trial boot"). */
#define BOOT_WATCHDOG_MS 2000u

#endif
