/* Application slot management (slots.h). */
#include "slots.h"

#include <string.h>

#include "board.h"
#include "flashmap.h"

static uint32_t app_address(void)
{
    return (uint32_t)(uintptr_t)__app_slot + IMAGE_HEADER_SIZE;
}

image_error slots_check(const uint8_t *slot, image_info *info, char *why)
{
    return image_check(slot, slot + IMAGE_HEADER_SIZE, FLASHMAP_SIZE(__app_slot_size),
                       app_address(), info, why, SLOT_WHY_CAP);
}

int slots_install(void)
{
    image_info info;
    char why[SLOT_WHY_CAP];
    uint32_t body;
    int st;
    if (slots_check(__app_staging, &info, why) != IMAGE_OK)
        return IMAGE_ERR_NONE;
    body = (info.body_size + 3u) & ~3u;
    st = board_store_erase(flashmap_offset(__app_slot), FLASHMAP_SIZE(__app_slot_size));
    if (st == BOARD_STORE_OK)
        st = board_store_write(flashmap_offset(__app_slot) + IMAGE_HEADER_SIZE,
                               __app_staging + IMAGE_HEADER_SIZE, body);
    if (st == BOARD_STORE_OK)   /* the header last: only now does the slot look valid */
        st = board_store_write(flashmap_offset(__app_slot), __app_staging, IMAGE_HEADER_SIZE);
    if (st != BOARD_STORE_OK)
        return st;
    return slots_check(__app_slot, &info, why);
}

int slots_recover(void)
{
    image_info info;
    char why[SLOT_WHY_CAP];
    if (slots_check(__app_staging, &info, why) != IMAGE_OK)
        return 0;
    if (memcmp(__app_slot, __app_staging, IMAGE_HEADER_SIZE) == 0 &&
        slots_check(__app_slot, &info, why) == IMAGE_OK)
        return 0;
    return slots_install();
}
