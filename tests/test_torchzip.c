/* Tests io/torchzip.c on torch-format state dicts built by the test (stored ZIP with torch's
 * 64-byte alignment, protocol-2 pickle): bf16 and f32 tensors, a strided view at a storage offset,
 * and the errors of legacy, non-zip, truncated and corrupt files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fixtures/fixture_writers.h"
#include "io/torchzip.h"

int main(void) {
    const char *tmp = getenv("LAVR_TEST_TMP");
    char path[1024], bad[1100];
    snprintf(path, sizeof path, "%s/tz-test.pth", tmp ? tmp : "/tmp");
    static uint16_t w[4 * 3];
    static float storage[30], v[2];
    for (int i = 0; i < 12; i++) w[i] = lavr_f32_to_bf16((float)i - 5.5f);
    for (int i = 0; i < 30; i++) storage[i] = (float)i * 0.5f;
    v[0] = 3.0f, v[1] = -1.0f;
    /* "view": [3, 2] at offset 4 with strides (5, 2) into a 30-element storage (transposed-like) */
    fx_tensor t[3] = {
        {.name = "layer.weight", .dtype = LAVR_BF16, .ndim = 2, .shape = {4, 3}, .data = w},
        {.name = "view", .dtype = LAVR_F32, .ndim = 2, .shape = {3, 2}, .data = storage, .storage_numel = 30, .offset = 4,
         .stride = {5, 2}},
        {.name = "bias", .dtype = LAVR_F32, .ndim = 1, .shape = {2}, .data = v},
    };
    CHECK(fx_write_torchzip(path, t, 3) == 0);
    lavr_torchzip *tz = NULL;
    CHECK_OK(lavr_tz_open(path, &tz));
    if (tz) {
        CHECK(lavr_tz_count(tz) == 3);
        const lavr_tz_tensor *a = lavr_tz_find(tz, "layer.weight");
        CHECK(a && a->dtype == LAVR_BF16 && a->ndim == 2 && a->shape[0] == 4 && a->shape[1] == 3);
        uint16_t rows[6];
        if (a) CHECK_OK(lavr_tz_read_rows(tz, a, 2, 2, rows));
        CHECK(memcmp(rows, w + 6, sizeof rows) == 0);
        const lavr_tz_tensor *vw = lavr_tz_find(tz, "view");
        CHECK(vw && vw->storage_offset == 4 && vw->stride[0] == 5 && vw->stride[1] == 2);
        float got[4];
        if (vw) CHECK_OK(lavr_tz_read_rows(tz, vw, 1, 2, got));
        /* element (r, c) = storage[4 + 5r + 2c]: rows 1..2 */
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 2; c++) CHECK_NEAR(got[r * 2 + c], storage[4 + 5 * (r + 1) + 2 * c], 0);
        float b[2];
        CHECK_OK(lavr_tz_read_rows(tz, lavr_tz_find(tz, "bias"), 0, 2, b));
        CHECK(b[0] == 3.0f && b[1] == -1.0f);
        lavr_tz_close(tz);
    }
    /* a tensor reaching past its storage */
    snprintf(bad, sizeof bad, "%s.bad", path);
    fx_tensor over = t[1];
    over.shape[0] = 6;
    CHECK(fx_write_torchzip(bad, &over, 1) == 0);
    CHECK_FAILS(lavr_tz_open(bad, &tz), LAVR_E_FORMAT);
    CHECK(strstr(lavr_error_message(), "reaches element 31 of a 30-element storage") != NULL);
    /* truncated: the central directory is gone */
    CHECK(fx_write_torchzip(bad, t, 3) == 0);
    CHECK(truncate(bad, 300) == 0);
    CHECK_FAILS(lavr_tz_open(bad, &tz), LAVR_E_IO);
    CHECK(strstr(lavr_error_message(), "truncated") != NULL);
    /* a flipped byte inside data.pkl: CRC mismatch */
    CHECK(fx_write_torchzip(bad, t, 3) == 0);
    FILE *f = fopen(bad, "r+b");
    if (f) {
        fseek(f, 64 + 20, SEEK_SET); /* data.pkl's data starts at the first 64-byte boundary */
        fputc('Z', f);
        fclose(f);
    }
    CHECK_FAILS(lavr_tz_open(bad, &tz), LAVR_E_IO);
    CHECK(strstr(lavr_error_message(), "CRC-32") != NULL);
    /* legacy pickle-only format and a file that is neither */
    f = fopen(bad, "wb");
    if (f) fwrite("\x80\x02\x8a\x0a" "lpz", 1, 7, f), fclose(f);
    CHECK_FAILS(lavr_tz_open(bad, &tz), LAVR_E_UNSUPPORTED);
    CHECK(strstr(lavr_error_message(), "legacy (pre-1.6) torch format") != NULL);
    f = fopen(bad, "wb");
    if (f) fputs("hello, not a checkpoint", f), fclose(f);
    CHECK_FAILS(lavr_tz_open(bad, &tz), LAVR_E_IO);
    CHECK(strstr(lavr_error_message(), "is not a torch checkpoint") != NULL);
    return check_summary("test_torchzip");
}
