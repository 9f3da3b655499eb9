/* The two application slots (docs/boot.md): the app slot the application runs from, and the
 * staging slot an upload goes to. An image reaches the app slot only by `slots_install`, after
 * it was verified in staging, and a header is always written after the bytes it describes, so
 * an interrupted upload or install never leaves a slot that looks valid but is not. */
#ifndef EBNN_SLOTS_H
#define EBNN_SLOTS_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

#define SLOT_WHY_CAP 96u

/* Verifies the image in a slot (header + body) for the app slot's address. */
image_error slots_check(const uint8_t *slot, image_info *info, char *why);
/* Copies the verified staging image into the app slot (erase, body, then header) and
 * verifies the result; a board_store error or an image_error otherwise. */
int slots_install(void);
/* At boot: when staging holds a verified image the app slot does not (an install cut off by
 * a reset or power loss), finish that install. Returns what slots_install returned, or 0. */
int slots_recover(void);

#endif
