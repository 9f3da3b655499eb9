/* Application slots and trial boot (slots.h). */
#include "slots.h"

#include <string.h>

#include "board.h"
#include "flashmap.h"
#include "signature.h"

static uint32_t app_address(void)
{
    return (uint32_t)(uintptr_t)__app_slot + IMAGE_HEADER_SIZE;
}

image_error slots_check(const uint8_t *slot, image_info *info, char *why)
{
    return image_check(slot, slot + IMAGE_HEADER_SIZE, FLASHMAP_SIZE(__app_slot_size),
                       app_address(), info, why, SLOT_WHY_CAP);
}

static bool word_set(const uint8_t *slot, uint32_t at)
{
    return *(const volatile uint32_t *)(uintptr_t)(slot + at) != 0xFFFFFFFFu;
}

static int set_word(const uint8_t *slot, uint32_t at)
{
    static const uint32_t zero = 0;
    return word_set(slot, at) ? BOARD_STORE_OK
                              : board_store_write(flashmap_offset(slot) + at, &zero, 4);
}

slot_trial slots_trial(void)
{
    if (word_set(__app_slot, FLASHMAP_CONFIRMED_AT))
        return SLOT_CONFIRMED;
    return word_set(__app_slot, FLASHMAP_TRIED_AT) ? SLOT_FAILED : SLOT_ON_TRIAL;
}

int slots_mark_tried(void) { return set_word(__app_slot, FLASHMAP_TRIED_AT); }

/* The bytes after the header of a verified image in `slot`: its body, and its signature
 * trailer when it has one (a copy keeps it: the counter is the rollback floor). */
static uint32_t stored_size(const uint8_t *slot, uint32_t body_size)
{
    const uint8_t *trailer = slot + IMAGE_HEADER_SIZE + body_size;
    return body_size +
           (sig_present(trailer, IMAGE_HEADER_SIZE + body_size) ? SIG_TRAILER_SIZE : 0u);
}

/* Copies the verified image in `from` to `to`: erase, body, the confirmed word if asked, the
 * checked header bytes last; then verifies the copy. */
static int copy_slot(const uint8_t *from, const uint8_t *to, bool confirmed)
{
    image_info info;
    char why[SLOT_WHY_CAP];
    uint32_t size = FLASHMAP_SIZE(__app_slot_size);
    int st;
    if (slots_check(from, &info, why) != IMAGE_OK)
        return IMAGE_ERR_NONE;
    st = board_store_erase(flashmap_offset(to), size);
    if (st == BOARD_STORE_OK)
        st = board_store_write(flashmap_offset(to) + IMAGE_HEADER_SIZE, from + IMAGE_HEADER_SIZE,
                               (stored_size(from, info.body_size) + 3u) & ~3u);
    if (st == BOARD_STORE_OK && confirmed)
        st = set_word(to, FLASHMAP_CONFIRMED_AT);
    if (st == BOARD_STORE_OK)   /* the header last: only now does the slot look valid */
        st = board_store_write(flashmap_offset(to), from, IMAGE_HEADER_CHECKED);
    if (st != BOARD_STORE_OK)
        return st;
    return slots_check(to, &info, why);
}

/* Whether the app slot and staging, holding the same header and body, have the same trailer
 * or none: the same body re-signed with another counter is another image. */
static bool same_trailer(uint32_t body_size)
{
    uint32_t n = stored_size(__app_slot, body_size);
    return n == stored_size(__app_staging, body_size) &&
           memcmp(__app_slot + IMAGE_HEADER_SIZE + body_size,
                  __app_staging + IMAGE_HEADER_SIZE + body_size, n - body_size) == 0;
}

int slots_keep(void)
{
    image_info info;
    char why[SLOT_WHY_CAP];
    if (slots_check(__app_slot, &info, why) != IMAGE_OK || slots_trial() != SLOT_CONFIRMED)
        return 0;   /* nothing confirmed to keep: staging keeps the image it has */
    if (memcmp(__app_slot, __app_staging, IMAGE_HEADER_CHECKED) == 0 &&
        slots_check(__app_staging, &info, why) == IMAGE_OK && same_trailer(info.body_size))
        return 0;   /* kept already */
    return copy_slot(__app_slot, __app_staging, false);
}

image_error slots_recover(image_info *info, char *why, char *reverted)
{
    static const char failed[] = "started on trial and never confirmed; no previous image kept";
    image_info kept;
    char kept_why[SLOT_WHY_CAP];
    image_error e = slots_check(__app_slot, info, why);
    bool trial_failed = e == IMAGE_OK && slots_trial() == SLOT_FAILED;
    reverted[0] = 0;
    if (e == IMAGE_OK && !trial_failed)
        return IMAGE_OK;
    if (slots_check(__app_staging, &kept, kept_why) == IMAGE_OK) {
        if (trial_failed)
            memcpy(reverted, info->version, IMAGE_VERSION_LEN);
        (void)copy_slot(__app_staging, __app_slot, true);
        return slots_check(__app_slot, info, why);
    }
    if (!trial_failed)
        return e;
    _Static_assert(sizeof failed <= SLOT_WHY_CAP, "the text must fit `why`");
    memcpy(why, failed, sizeof failed);
    return IMAGE_ERR_TRIAL;
}

uint32_t slots_floor(void)
{
    image_info info;
    char why[SLOT_WHY_CAP];
    uint32_t covered;
    if (slots_check(__app_staging, &info, why) != IMAGE_OK)
        return 0;
    covered = IMAGE_HEADER_SIZE + info.body_size;
    return sig_counter(__app_staging, covered, IMAGE_HEADER_SIZE +
                                                   stored_size(__app_staging, info.body_size));
}
