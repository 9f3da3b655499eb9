/* Rewrites a model file's checksums in place after on-device training changed its sections.
 * Only the bounds needed to hash safely are checked here; ebnn_model_load() checks the rest. */
#include "train_internal.h"

ebnn_status ebnn_model_finalize(uint8_t *data, size_t size) {
    uint32_t file_size, n, i;
    uint8_t *table;
    if (data == NULL) return EBNN_ERR_ARG;
    if (size < EBNN_HEADER_SIZE) return EBNN_ERR_TRUNCATED;
    file_size = ebnn_rd32(data + 8);
    n = ebnn_rd16(data + 16);
    if (size < file_size) return EBNN_ERR_TRUNCATED;
    if (n == 0 || n > EBNN_MAX_SECTIONS ||
        EBNN_HEADER_SIZE + n * EBNN_SECTION_ENTRY_SIZE > file_size)
        return EBNN_ERR_SECTION;
    table = data + EBNN_HEADER_SIZE;
    for (i = 0; i < n; i++) { /* every section inside the file before any write */
        const uint8_t *e = table + i * EBNN_SECTION_ENTRY_SIZE;
        uint32_t off = ebnn_rd32(e + 4), sz = ebnn_rd32(e + 8);
        if (off > file_size || sz > file_size - off) return EBNN_ERR_SECTION;
    }
    for (i = 0; i < n; i++) {
        uint8_t *e = table + i * EBNN_SECTION_ENTRY_SIZE;
        ebnn_wr32(e + 12, ebnn_crc32(0, data + ebnn_rd32(e + 4), ebnn_rd32(e + 8)));
    }
    ebnn_wr32(data + 32, ebnn_crc32(0, table, n * EBNN_SECTION_ENTRY_SIZE));
    ebnn_wr32(data + 60, ebnn_crc32(0, data, 60));
    return EBNN_OK;
}
