/* The two application slots and the trial-boot state machine (docs/boot.md "Trial boot"). The
 * app slot holds the image that runs; the staging slot keeps the last confirmed one, the image
 * to go back to. An upload goes straight into the (erased) app slot once its confirmed image is
 * kept in staging; a new image runs on trial until it confirms itself, and an image that was
 * started and never confirmed is replaced by the kept one at the next reset. Every copy writes
 * the header last, so a slot cut off mid-write never looks valid, and at every reset an app
 * slot that does not verify is restored from staging. */
#ifndef EBNN_SLOTS_H
#define EBNN_SLOTS_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

#define SLOT_WHY_CAP 96u

/* Trial state of the image in the app slot (the FLASHMAP_*_AT words). */
typedef enum {
    SLOT_CONFIRMED,   /* runs as is */
    SLOT_ON_TRIAL,    /* newly installed, never started: the next start is its trial */
    SLOT_FAILED       /* started on trial and never confirmed: go back to the kept image */
} slot_trial;

/* Verifies the image in a slot (header + body) for the app slot's address. */
image_error slots_check(const uint8_t *slot, image_info *info, char *why);
slot_trial slots_trial(void);
/* Before the application is started on trial: from now on a reset means it failed. */
int slots_mark_tried(void);
/* Before an upload erases the app slot: a confirmed image there is copied to staging (unless
 * staging already holds it). 0, or a board_store / image error. */
int slots_keep(void);
/* Makes the app slot runnable if it can be: when it does not verify (an upload or a copy cut
 * off) or failed its trial, the kept image in staging is copied back, confirmed. Returns the
 * app slot's state afterwards (IMAGE_OK: it can be started; IMAGE_ERR_TRIAL: a failed trial
 * with nothing kept) with `why`; `reverted` (IMAGE_VERSION_LEN bytes) gets the version of a
 * failed trial image that was replaced, else "". */
image_error slots_recover(image_info *info, char *why, char *reverted);
/* The rollback floor while an upload is open: the signed counter of the image kept in staging
 * (BEGIN keeps the confirmed application there before it erases the app slot, and only a
 * confirmed image is ever kept, so the floor advances only when an image is confirmed and
 * survives every reset); 0 when nothing signed is kept. */
uint32_t slots_floor(void);

#endif
