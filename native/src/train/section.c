/* Finding and opening an ancillary section of a loaded model file: where the training rules keep
 * their state (`trnl`, `trnd`). The loader has validated the section table, so no bounds checks
 * here. */
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

ebnn_status ebnn_train_check_header(const uint8_t *h, uint32_t header, const ebnn_model *m,
                                    ebnn_diag *diag) {
    uint32_t i;
    if (h[5] != 0) return ebnn_fail(diag, EBNN_ERR_TRAINING, -1, "reserved", h[5], 0);
    if (ebnn_rd16(h + 6) != m->n_classes)
        return ebnn_fail(diag, EBNN_ERR_TRAINING, -1, "n_classes", ebnn_rd16(h + 6), m->n_classes);
    if (m->n_classes > EBNN_TRAIN_LOCAL_MAX_CLASSES) /* labels are u8 */
        return ebnn_fail(diag, EBNN_ERR_TRAINING, -1, "n_classes", m->n_classes,
                         EBNN_TRAIN_LOCAL_MAX_CLASSES);
    for (i = 16; i < header; i++)
        if (h[i] != 0) return ebnn_fail(diag, EBNN_ERR_TRAINING, -1, "reserved", h[i], 0);
    return EBNN_OK;
}

ebnn_status ebnn_train_check_size(uint32_t size, uint32_t need, ebnn_diag *diag) {
    return size < need ? ebnn_fail(diag, EBNN_ERR_TRAINING, -1, "size", size, need) : EBNN_OK;
}

ebnn_status ebnn_train_check_end(uint32_t size, uint32_t end, ebnn_diag *diag) {
    if (end != ebnn_align16(size)) return ebnn_fail(diag, EBNN_ERR_TRAINING, -1, "size", size, end);
    return EBNN_OK;
}
