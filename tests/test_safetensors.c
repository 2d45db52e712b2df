/* Tests io/safetensors.c: tensors written by the test's own writer read back row range by row range
 * (bf16, f16, f32, 0-dim), metadata, and each corrupt input's own error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fixtures/fixture_writers.h"
#include "io/safetensors.h"

int main(void) {
    const char *tmp = getenv("LAVR_TEST_TMP");
    char path[1024], bad[1100];
    snprintf(path, sizeof path, "%s/st-test.safetensors", tmp ? tmp : "/tmp");
    static uint16_t a[6 * 5], h[7];
    static float f[3], scalar = 2.5f;
    for (int i = 0; i < 30; i++) a[i] = lavr_f32_to_bf16(0.25f * (float)i - 3.0f);
    for (int i = 0; i < 7; i++) h[i] = lavr_f32_to_f16((float)i / 3.0f);
    for (int i = 0; i < 3; i++) f[i] = 1.0f / (float)(i + 1);
    fx_tensor t[4] = {
        {.name = "a", .dtype = LAVR_BF16, .ndim = 2, .shape = {6, 5}, .data = a},
        {.name = "half", .dtype = LAVR_F16, .ndim = 1, .shape = {7}, .data = h},
        {.name = "f", .dtype = LAVR_F32, .ndim = 1, .shape = {3}, .data = f},
        {.name = "scalar", .dtype = LAVR_F32, .ndim = 0, .data = &scalar},
    };
    CHECK(fx_write_safetensors(path, t, 4, "\"format\": \"pt\", \"lora_alpha\": \"64\"") == 0);
    lavr_safetensors *st = NULL;
    CHECK_OK(lavr_st_open(path, &st));
    if (st) {
        CHECK(lavr_st_count(st) == 4);
        CHECK(lavr_st_metadata(st, "lora_alpha") && strcmp(lavr_st_metadata(st, "lora_alpha"), "64") == 0);
        CHECK(lavr_st_metadata(st, "absent") == NULL);
        const lavr_st_tensor *ta = lavr_st_find(st, "a");
        CHECK(ta && ta->dtype == LAVR_BF16 && ta->ndim == 2 && ta->shape[0] == 6 && ta->shape[1] == 5);
        uint16_t rows[10];
        CHECK_OK(lavr_st_read_rows(st, ta, 3, 2, rows));
        CHECK(memcmp(rows, a + 15, sizeof rows) == 0);
        uint16_t hh[7];
        CHECK_OK(lavr_st_read_rows(st, lavr_st_find(st, "half"), 0, 7, hh));
        CHECK(memcmp(hh, h, sizeof hh) == 0);
        float s = 0;
        const lavr_st_tensor *ts = lavr_st_find(st, "scalar");
        CHECK(ts && ts->ndim == 0);
        CHECK_OK(lavr_st_read_rows(st, ts, 0, 1, &s));
        CHECK(s == 2.5f);
        CHECK_FAILS(lavr_st_read_rows(st, ta, 5, 2, rows), LAVR_E_ARG);
        lavr_st_close(st);
    }
    /* truncated data */
    snprintf(bad, sizeof bad, "%s.trunc", path);
    CHECK(fx_write_safetensors(bad, t, 4, NULL) == 0);
    FILE *sz = fopen(bad, "rb");
    long size = 0;
    if (sz) fseek(sz, 0, SEEK_END), size = ftell(sz), fclose(sz);
    CHECK(truncate(bad, size - 4) == 0); /* the last tensor loses its last 4 bytes */
    CHECK_FAILS(lavr_st_open(bad, &st), LAVR_E_IO);
    CHECK(strstr(lavr_error_message(), "is truncated: tensor") != NULL);
    /* a header length beyond the file */
    FILE *fp = fopen(bad, "wb");
    if (fp) fwrite("\xff\xff\x00\x00\x00\x00\x00\x00{}", 1, 10, fp), fclose(fp);
    CHECK_FAILS(lavr_st_open(bad, &st), LAVR_E_IO);
    CHECK(strstr(lavr_error_message(), "header length") != NULL);
    /* broken JSON */
    fp = fopen(bad, "wb");
    if (fp) fwrite("\x08\x00\x00\x00\x00\x00\x00\x00{\"a\": [}", 1, 16, fp), fclose(fp);
    CHECK_FAILS(lavr_st_open(bad, &st), LAVR_E_FORMAT);
    /* data_offsets that disagree with the shape */
    const char *hdr = "{\"x\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 4]}}";
    fp = fopen(bad, "wb");
    if (fp) {
        uint64_t n = strlen(hdr);
        fwrite(&n, 8, 1, fp), fwrite(hdr, 1, n, fp), fwrite("12345678", 1, 8, fp), fclose(fp);
    }
    CHECK_FAILS(lavr_st_open(bad, &st), LAVR_E_FORMAT);
    CHECK(strstr(lavr_error_message(), "has 4 data bytes but its shape and dtype need 8") != NULL);
    /* unsupported dtype */
    hdr = "{\"x\": {\"dtype\": \"I8\", \"shape\": [2], \"data_offsets\": [0, 2]}}";
    fp = fopen(bad, "wb");
    if (fp) {
        uint64_t n = strlen(hdr);
        fwrite(&n, 8, 1, fp), fwrite(hdr, 1, n, fp), fwrite("12", 1, 2, fp), fclose(fp);
    }
    CHECK_FAILS(lavr_st_open(bad, &st), LAVR_E_UNSUPPORTED);
    CHECK_FAILS(lavr_st_open("/nonexistent/x.safetensors", &st), LAVR_E_IO);
    return check_summary("test_safetensors");
}
