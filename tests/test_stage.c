/* The latent stage file (io/stage.h): blocks appended and read back bit-exactly as bf16, the render's
 * identity attributes, each append flushed (a byte copy taken mid-run opens with the blocks so far),
 * reopen for appending, truncate, the h5model dtype convention, and the errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/rng.h"
#include "io/h5model.h"
#include "io/stage.h"
#include "tests/check.h"

enum { C = 16, F = 3, H = 4, W = 6, N = C * F * H * W };

static void fill(uint32_t k, float *x) {
    lavr_rng_normal(3, lavr_rng_stream(LAVR_STREAM_TEST, 60 + k, 0, 0), 0, N, x);
}

static int same_bf16(const float *got, const float *src) {
    for (int i = 0; i < N; i++)
        if (got[i] != lavr_round_bf16(src[i])) return 0;
    return 1;
}

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    int ok = a && b;
    char buf[65536];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b) ok = fclose(b) == 0 && ok;
    return ok;
}

int main(void) {
    const char *tmp = getenv("LAVR_TEST_TMP");
    char path[512], copy[512], other[512];
    snprintf(path, sizeof path, "%s/stage_test.h5", tmp ? tmp : ".");
    snprintf(copy, sizeof copy, "%s/stage_test_copy.h5", tmp ? tmp : ".");
    snprintf(other, sizeof other, "%s/stage_test_other.h5", tmp ? tmp : ".");
    float blocks[4][N], got[N];
    for (int k = 0; k < 4; k++) fill((uint32_t)k, blocks[k]);

    lavr_stage_info info = {.C = C, .F = F, .h = H, .w = W, .seed = 42, .layout = "dit-run", .model = "tiny.h5",
                            .inputs = "synthetic seed=42", .fixed_sink_offset = 17};
    lavr_stage *s = NULL;
    CHECK_OK(lavr_stage_create(path, &info, &s));
    if (!s) return check_summary("test_stage");
    CHECK(lavr_stage_blocks(s) == 0);
    for (int k = 0; k < 3; k++) CHECK_OK(lavr_stage_append(s, blocks[k]));
    CHECK(lavr_stage_blocks(s) == 3);
    /* flushed: a copy of the bytes taken now, with the writer still open, is a complete file */
    CHECK(copy_file(path, copy));
    lavr_stage *c = NULL;
    CHECK_OK(lavr_stage_open(copy, 0, &c));
    if (c) {
        CHECK(lavr_stage_blocks(c) == 3);
        CHECK_OK(lavr_stage_read(c, 2, got));
        CHECK(same_bf16(got, blocks[2]));
        CHECK_OK(lavr_stage_close(c));
    }
    CHECK_OK(lavr_stage_read(s, 1, got));
    CHECK(same_bf16(got, blocks[1]));
    CHECK_FAILS(lavr_stage_read(s, 3, got), LAVR_E_ARG);
    CHECK_OK(lavr_stage_close(s));

    /* read-only: identity, shape, data; appending refused */
    CHECK_OK(lavr_stage_open(path, 0, &s));
    if (s) {
        const lavr_stage_info *i = lavr_stage_info_of(s);
        CHECK(i->C == C && i->F == F && i->h == H && i->w == W && i->seed == 42 && i->fixed_sink_offset == 17);
        CHECK(strcmp(i->layout, "dit-run") == 0 && strcmp(i->model, "tiny.h5") == 0 &&
              strcmp(i->inputs, "synthetic seed=42") == 0);
        CHECK(lavr_stage_blocks(s) == 3);
        CHECK_OK(lavr_stage_read(s, 0, got));
        CHECK(same_bf16(got, blocks[0]));
        CHECK_FAILS(lavr_stage_append(s, blocks[3]), LAVR_E_ARG);
        CHECK_FAILS(lavr_stage_truncate(s, 1), LAVR_E_ARG);
        CHECK_OK(lavr_stage_close(s));
    }

    /* resume: drop the last block, append another */
    CHECK_OK(lavr_stage_open(path, 1, &s));
    if (s) {
        CHECK_FAILS(lavr_stage_truncate(s, 4), LAVR_E_ARG);
        CHECK_OK(lavr_stage_truncate(s, 2));
        CHECK(lavr_stage_blocks(s) == 2);
        CHECK_OK(lavr_stage_append(s, blocks[3]));
        CHECK_OK(lavr_stage_close(s));
    }
    CHECK_OK(lavr_stage_open(path, 0, &s));
    if (s) {
        CHECK(lavr_stage_blocks(s) == 3);
        CHECK_OK(lavr_stage_read(s, 2, got));
        CHECK(same_bf16(got, blocks[3]));
        CHECK_OK(lavr_stage_read(s, 1, got));
        CHECK(same_bf16(got, blocks[1]));
        CHECK_OK(lavr_stage_close(s));
    }

    /* h5model reads /latents as a bf16 tensor of shape [3, C, F, h, w] */
    lavr_h5file *f = NULL;
    CHECK_OK(lavr_h5_open(path, &f));
    if (f) {
        lavr_tensor d;
        CHECK_OK(lavr_h5_info(f, "/latents", &d));
        CHECK(d.dtype == LAVR_BF16 && d.ndim == 5 && d.shape[0] == 3 && d.shape[1] == C && d.shape[2] == F &&
              d.shape[3] == H && d.shape[4] == W);
        char *fmt = NULL;
        CHECK_OK(lavr_h5_read_attr_string(f, "/", "format", &fmt));
        CHECK(fmt && strcmp(fmt, "lavr-latents") == 0);
        free(fmt);
        lavr_h5_close(f);
    }

    /* errors: missing file, not HDF5, HDF5 but not a stage file */
    CHECK_FAILS(lavr_stage_open("/nonexistent/stage.h5", 0, &s), LAVR_E_IO);
    FILE *junk = fopen(other, "wb");
    if (junk) {
        fputs("not hdf5", junk);
        fclose(junk);
    }
    CHECK_FAILS(lavr_stage_open(other, 0, &s), LAVR_E_IO);
    CHECK_OK(lavr_h5_create(other, &f));
    if (f) {
        CHECK_OK(lavr_h5_write_attr_string(f, "/", "format", "lavr-model"));
        lavr_h5_close(f);
    }
    CHECK_FAILS(lavr_stage_open(other, 0, &s), LAVR_E_FORMAT);
    CHECK(strstr(lavr_error_message(), "not a latent stage file") != NULL);
    return check_summary("test_stage");
}
