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

ebnn_status ebnn_train_open_section(const void *state, const ebnn_model *m, uint8_t *model_data,
                                    const char *tag, uint32_t header, uint32_t version,
                                    uint8_t **section, uint32_t *size, ebnn_diag *diag) {
    ebnn_fail(diag, EBNN_OK, -1, "", 0, 0);
    if (state == NULL || m == NULL || model_data == NULL || m->data != model_data)
        return ebnn_fail(diag, EBNN_ERR_ARG, -1, "model_data", 0, 0);
    *section = ebnn_train_find_section(model_data, tag, size);
    if (*section == NULL) return ebnn_fail(diag, EBNN_ERR_TRAINING, -1, tag, 0, 1);
    if (*size < header) return ebnn_fail(diag, EBNN_ERR_TRAINING, -1, "size", *size, header);
    if (ebnn_rd16(*section) != version)
        return ebnn_fail(diag, EBNN_ERR_TRAINING, -1, "version", ebnn_rd16(*section), version);
    return EBNN_OK;
}
