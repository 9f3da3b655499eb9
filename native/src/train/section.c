/* Finding an ancillary section of a loaded model file: where the training rules keep their state
 * (`trnl`, `trnd`). The loader has validated the section table, so no bounds checks here. */
#include <string.h>

#include "train_internal.h"

uint8_t *ebnn_train_find_section(uint8_t *data, const char *tag, uint32_t *size) {
    uint32_t n = ebnn_rd16(data + 16), i;
    for (i = 0; i < n; i++) {
        const uint8_t *e = data + EBNN_HEADER_SIZE + i * EBNN_SECTION_ENTRY_SIZE;
        if (memcmp(e, tag, 4) == 0) {
            *size = ebnn_rd32(e + 8);
            return data + ebnn_rd32(e + 4);
        }
    }
    *size = 0;
    return NULL;
}
