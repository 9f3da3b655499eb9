/* CRC-32 against known vectors, status names, argmax, tensor sizes. */
#include <string.h>

#include "testutil.h"

static void test_crc(void) {
    static const char digits[] = "123456789";
    uint8_t buf[1000];
    size_t i;
    CHECK(ebnn_crc32(0, digits, 9) == 0xCBF43926u, "crc32(\"123456789\")");
    CHECK(ebnn_crc32(0, "", 0) == 0, "crc32 of nothing");
    CHECK(ebnn_crc32(0, "a", 1) == 0xE8B7BE43u, "crc32(\"a\")");
    CHECK(ebnn_crc32(0, "The quick brown fox jumps over the lazy dog", 43) == 0x414FA339u,
          "crc32(fox)");
    /* Incremental use and agreement with the test builder's bitwise CRC. */
    for (i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 7 + (i >> 3));
    CHECK(ebnn_crc32(ebnn_crc32(0, buf, 333), buf + 333, sizeof buf - 333) ==
              tb_crc32(buf, sizeof buf),
          "incremental crc32");
}

static void test_status(void) {
    int s, t;
    for (s = 0; s < EBNN_STATUS_COUNT; s++) {
        const char *name = ebnn_status_name((ebnn_status)s);
        CHECK(strncmp(name, "EBNN_", 5) == 0 && strcmp(name, "EBNN_ERR_UNKNOWN") != 0,
              "status %d named %s", s, name);
        CHECK(strlen(ebnn_status_message((ebnn_status)s)) > 0, "status %d message", s);
        for (t = 0; t < s; t++)
            CHECK(strcmp(name, ebnn_status_name((ebnn_status)t)) != 0, "duplicate name %s", name);
    }
    CHECK(strcmp(ebnn_status_name(EBNN_OK), "EBNN_OK") == 0, "EBNN_OK");
    CHECK(strcmp(ebnn_status_name(EBNN_ERR_TRUNCATED), "EBNN_ERR_TRUNCATED") == 0, "TRUNCATED");
    CHECK(strcmp(ebnn_status_name(EBNN_ERR_LIMIT), "EBNN_ERR_LIMIT") == 0, "LIMIT");
    CHECK(strcmp(ebnn_status_name(EBNN_STATUS_COUNT), "EBNN_ERR_UNKNOWN") == 0, "COUNT unknown");
    CHECK(strcmp(ebnn_status_name((ebnn_status)1000), "EBNN_ERR_UNKNOWN") == 0, "1000 unknown");
    CHECK(strcmp(ebnn_status_name((ebnn_status)-1), "EBNN_ERR_UNKNOWN") == 0, "-1 unknown");
    CHECK(strlen(ebnn_status_message((ebnn_status)1000)) > 0, "unknown message");
}

static void test_misc(void) {
    static const int32_t s[] = {3, -1, 7, 7, 2};
    CHECK(ebnn_argmax(s, 5) == 2, "argmax takes the first largest");
    CHECK(ebnn_argmax(s, 1) == 0, "argmax of one");
    CHECK(ebnn_tensor_bytes(EBNN_T_U8, 2, 3, 5) == 30, "U8 bytes");
    CHECK(ebnn_tensor_bytes(EBNN_T_BIN, 2, 3, 33) == 48, "BIN bytes");
    CHECK(ebnn_tensor_bytes(EBNN_T_BIN, 1, 1, 32) == 4, "BIN bytes, whole word");
    CHECK(ebnn_tensor_bytes(EBNN_T_I32, 2, 3, 5) == 120, "I32 bytes");
    CHECK(ebnn_tensor_bytes(9, 2, 3, 5) == 0, "unknown type");
    CHECK(ebnn_tensor_bytes(EBNN_T_I32, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu) == SIZE_MAX,
          "saturates");
    CHECK(strstr(ebnn_build_info(), "kernels: ") != NULL &&
              strstr(ebnn_build_info(), "ref") != NULL,
          "build info %s", ebnn_build_info());
}

void test_basics(void) {
    test_crc();
    test_status();
    test_misc();
}
