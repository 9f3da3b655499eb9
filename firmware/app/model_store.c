/* Model persistence on the board's store (model_store.h). A slot is
 *   page 0: record  u32 magic "EBMS", u32 sequence, u32 size, u32 CRC-32 of the model,
 *                   u32 CRC-32 of these 16 bytes      (0xFF...: empty)
 *           at 32:  char[32] name, u32 CRC-32 of it   (written before the record; a record of
 *                   1.1 firmware has none: its name reads as "")
 *   page 1..: the model bytes
 * The newest record is the valid one with the highest sequence (wrapping compare). */
#include "model_store.h"

#include <string.h>

#include "board.h"
#include "edgebnn.h"
#include "flashmap.h"
#include "proto.h"

#define RECORD_MAGIC 0x534D4245u   /* "EBMS" */
#define RECORD_SIZE 20u
#define NAME_OFFSET 32u          /* in the record page: name, then its CRC */

static const uint8_t *slot(int i) { return i ? __model_slot1 : __model_slot0; }
static uint32_t page(void) { return FLASHMAP_SIZE(__store_page); }

uint32_t model_store_capacity(void) { return FLASHMAP_SIZE(__model_slot_size) - page(); }

/* The slot's record, if its header and the model bytes both check out. */
static bool record_valid(int i, uint32_t *seq, uint32_t *size)
{
    const uint8_t *r = slot(i);
    if (proto_get32(r) != RECORD_MAGIC || ebnn_crc32(0, r, 16) != proto_get32(r + 16))
        return false;
    *seq = proto_get32(r + 4);
    *size = proto_get32(r + 8);
    return *size <= model_store_capacity() &&
           ebnn_crc32(0, slot(i) + page(), *size) == proto_get32(r + 12);
}

/* Index of the newest valid slot, or -1. */
static int newest(uint32_t *seq, uint32_t *size)
{
    uint32_t s[2], n[2];
    bool ok0 = record_valid(0, &s[0], &n[0]), ok1 = record_valid(1, &s[1], &n[1]);
    int best = ok0 && ok1 ? ((int32_t)(s[1] - s[0]) > 0) : ok1 ? 1 : ok0 ? 0 : -1;
    if (best >= 0) {
        *seq = s[best];
        *size = n[best];
    }
    return best;
}

int model_store_save(const uint8_t *model, uint32_t size, const char *name)
{
    uint32_t seq = 0, old_size, whole = size & ~3u, base, crc = ebnn_crc32(0, model, size), i;
    uint8_t record[RECORD_SIZE], tail[4] = {0xFF, 0xFF, 0xFF, 0xFF};
    uint8_t named[MODEL_NAME_SIZE + 4] = {0};
    int cur = newest(&seq, &old_size), target = cur == 0 ? 1 : 0, st;
    if (size > model_store_capacity())
        return MODEL_STORE_ERR_TOO_LARGE;
    base = flashmap_offset(slot(target));
    st = board_store_erase(base, FLASHMAP_SIZE(__model_slot_size));
    if (st == BOARD_STORE_OK)
        st = board_store_write(base + page(), model, whole);
    if (st == BOARD_STORE_OK && whole < size) {   /* the last bytes, padded to a word */
        memcpy(tail, model + whole, size - whole);
        st = board_store_write(base + page() + whole, tail, 4);
    }
    if (st != BOARD_STORE_OK)
        return st;
    if (ebnn_crc32(0, slot(target) + page(), size) != crc)
        return MODEL_STORE_ERR_VERIFY;
    for (i = 0; i + 1 < MODEL_NAME_SIZE && name[i]; i++)
        named[i] = (uint8_t)name[i];
    proto_put32(named + MODEL_NAME_SIZE, ebnn_crc32(0, named, MODEL_NAME_SIZE));
    st = board_store_write(base + NAME_OFFSET, named, sizeof named);   /* before the record */
    if (st != BOARD_STORE_OK)
        return st;
    proto_put32(record, RECORD_MAGIC);
    proto_put32(record + 4, cur < 0 ? 1u : seq + 1u);
    proto_put32(record + 8, size);
    proto_put32(record + 12, crc);
    proto_put32(record + 16, ebnn_crc32(0, record, 16));
    return board_store_write(base, record, RECORD_SIZE);   /* last: the commit point */
}

uint32_t model_store_restore(uint8_t *dst, uint32_t cap, model_store_entry *stored)
{
    uint32_t seq, size;
    int i = newest(&seq, &size);
    memset(stored, 0, sizeof *stored);
    if (i < 0)
        return 0;
    stored->size = size;
    stored->crc = proto_get32(slot(i) + 12);
    if (ebnn_crc32(0, slot(i) + NAME_OFFSET, MODEL_NAME_SIZE) ==
        proto_get32(slot(i) + NAME_OFFSET + MODEL_NAME_SIZE))
        memcpy(stored->name, slot(i) + NAME_OFFSET, MODEL_NAME_SIZE - 1);
    if (size > cap)
        return 0;
    memcpy(dst, slot(i) + page(), size);
    return size;
}
