/* Golden-file access (io/golden.h) on tiny files written here with io/h5model.h: bf16 raw-bit and
 * float32 datasets read exactly, rel L2 and limits, network recognition, and clear errors naming a
 * missing or misnamed tensor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/dtype.h"
#include "io/golden.h"
#include "io/h5model.h"
#include "models/config.h"
#include "models/golden.h"
#include "tests/check.h"

static lavr_arena *arena;

static void write_1d(lavr_h5file *f, const char *path, lavr_dtype dtype, const float *v, int64_t n) {
    lavr_tensor t;
    CHECK_OK(lavr_tensor_alloc(arena, dtype, 1, &n, path, &t));
    if (!t.data) return;
    for (int64_t i = 0; i < n; i++) {
        if (dtype == LAVR_BF16) ((uint16_t *)t.data)[i] = lavr_f32_to_bf16(v[i]);
        else ((float *)t.data)[i] = v[i];
    }
    CHECK_OK(lavr_h5_write(f, path, &t, 0));
    lavr_tensor_free(&t);
}

/* A file recognised as T5 (it has weights/token_embedding.weight) with a tiny config, the given
 * reference outputs and nothing else of the state dict. */
static void write_file(const char *path, const float *ref, const float *bf16_ref, int64_t n) {
    lavr_h5file *f = NULL;
    lavr_t5_config c = {.vocab = 8, .dim = 4, .dim_attn = 4, .dim_ffn = 8, .num_heads = 2, .num_layers = 1,
                        .num_buckets = 32, .max_distance = 128, .eps = 1e-6};
    char *json = lavr_t5_config_to_json(&c);
    CHECK_OK(lavr_h5_create(path, &f));
    if (!f) return;
    CHECK_OK(lavr_h5_write_attr_string(f, "/", "config", json));
    float emb[32];
    for (int i = 0; i < 32; i++) emb[i] = 0.25f * (float)i;
    lavr_tensor t;
    int64_t shape[2] = {8, 4};
    CHECK_OK(lavr_tensor_alloc(arena, LAVR_BF16, 2, shape, "emb", &t));
    for (int i = 0; i < 32; i++) ((uint16_t *)t.data)[i] = lavr_f32_to_bf16(emb[i]);
    CHECK_OK(lavr_h5_write(f, "weights/token_embedding.weight", &t, 0));
    lavr_tensor_free(&t);
    write_1d(f, "outputs/f32", LAVR_F32, ref, n);
    CHECK_OK(lavr_h5_write_attr_double(f, "outputs/f32", "noise_floor", 0.02));
    write_1d(f, "outputs/bf16", LAVR_BF16, bf16_ref, n);
    CHECK_OK(lavr_h5_close(f));
    free(json);
}

static void test_datasets(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/golden-loader.h5", dir);
    /* f32 values no bf16 holds; bf16 values written as raw bits (1 + 2^-7 steps, a negative, a tiny) */
    const float ref[5] = {1.0f + 1e-6f, -3.14159265f, 1e-30f, 65504.5f, 0.1f};
    const float bf16_ref[5] = {1.0078125f, -2.5f, 0.5f, 3.0e-20f, 1024.0f};
    write_file(path, ref, bf16_ref, 5);

    lavr_golden *g = NULL;
    CHECK_OK(lavr_golden_open(path, &g));
    if (!g) return;
    CHECK(g->kind == LAVR_GOLDEN_T5);
    g->print = 0;
    float *v = NULL;
    int64_t n = 0;
    CHECK_OK(lavr_golden_read(g, "outputs/f32", &v, &n));
    CHECK(n == 5 && v && memcmp(v, ref, sizeof ref) == 0);
    free(v);
    v = NULL;
    CHECK_OK(lavr_golden_read(g, "outputs/bf16", &v, &n));
    for (int i = 0; v && i < 5; i++) CHECK(v[i] == lavr_round_bf16(bf16_ref[i]));
    CHECK(v && v[0] == 1.0078125f && v[1] == -2.5f); /* exact bf16 values come back unchanged */
    free(v);

    /* compare: exact match passes, the limit comes from noise_floor (3 x 0.02) or 1e-2 without one */
    CHECK_OK(lavr_golden_compare(g, "outputs/f32", ref, 5, 0));
    CHECK(g->n_results == 1 && g->results[0].passed && g->results[0].rel_l2 == 0);
    CHECK_NEAR(g->results[0].limit, 0.06, 1e-12);
    float off[5];
    for (int i = 0; i < 5; i++) off[i] = bf16_ref[i] * 1.05f;
    CHECK_OK(lavr_golden_compare(g, "outputs/bf16", off, 5, 0));
    CHECK(g->n_results == 2 && !g->results[1].passed);
    CHECK_NEAR(g->results[1].rel_l2, 0.05, 1e-6);
    CHECK_NEAR(g->results[1].limit, 1e-2, 1e-15);
    CHECK(lavr_golden_failed(g) == 1);

    /* a missing tensor and a count mismatch are errors naming the tensor */
    CHECK_FAILS(lavr_golden_compare(g, "outputs/nope", ref, 5, 0), LAVR_E_FORMAT);
    CHECK_MSG(strstr(lavr_error_message(), "outputs/nope") != NULL, "message: %s", lavr_error_message());
    CHECK_FAILS(lavr_golden_compare(g, "outputs/f32", ref, 4, 0), LAVR_E_FORMAT);
    CHECK_MSG(strstr(lavr_error_message(), "outputs/f32") && strstr(lavr_error_message(), "5 values"), "message: %s",
              lavr_error_message());
    /* the T5 run needs tensors the file lacks: the error names the first one */
    CHECK(lavr_golden_run_t5(g) != LAVR_OK);
    CHECK_MSG(strstr(lavr_error_message(), "weights/") != NULL && strstr(lavr_error_message(), "not found"),
              "message: %s", lavr_error_message());
    printf("missing-tensor error: %s\n", lavr_error_message());
    lavr_golden_close(g);
}

static void test_recognition(const char *dir) {
    char path[1024];
    lavr_h5file *f = NULL;
    lavr_golden *g = NULL;
    const float one = 1.0f;
    /* /weights with names of no known network */
    snprintf(path, sizeof path, "%s/golden-unknown.h5", dir);
    CHECK_OK(lavr_h5_create(path, &f));
    CHECK_OK(lavr_h5_write_attr_string(f, "/", "config", "{}"));
    write_1d(f, "weights/token_embeddings.weight", LAVR_F32, &one, 1); /* misspelt T5 name */
    CHECK_OK(lavr_h5_close(f));
    CHECK_FAILS(lavr_golden_open(path, &g), LAVR_E_FORMAT);
    CHECK(g == NULL);
    CHECK_MSG(strstr(lavr_error_message(), "unrecognised") && strstr(lavr_error_message(), "golden-unknown.h5"),
              "message: %s", lavr_error_message());
    /* no root config: not a golden file */
    snprintf(path, sizeof path, "%s/golden-noconfig.h5", dir);
    CHECK_OK(lavr_h5_create(path, &f));
    write_1d(f, "weights/token_embedding.weight", LAVR_F32, &one, 1);
    CHECK_OK(lavr_h5_close(f));
    CHECK_FAILS(lavr_golden_open(path, &g), LAVR_E_FORMAT);
    CHECK_MSG(strstr(lavr_error_message(), "not a golden file"), "message: %s", lavr_error_message());
    /* missing file */
    snprintf(path, sizeof path, "%s/golden-none.h5", dir);
    remove(path);
    CHECK_FAILS(lavr_golden_open(path, &g), LAVR_E_IO);
    CHECK_MSG(strstr(lavr_error_message(), "golden-none.h5"), "message: %s", lavr_error_message());
}

static void test_helpers(void) {
    const float ref[3] = {3, 0, 4}, out[3] = {3, 0, 4.5f}, nan3[3] = {NAN, 0, 4};
    CHECK_NEAR(lavr_golden_rel_l2(out, ref, 3), 0.1, 1e-12); /* 0.5 / 5 */
    CHECK(isinf(lavr_golden_rel_l2(nan3, ref, 3)));
    CHECK_NEAR(lavr_golden_limit(0.001), 1e-2, 0);
    CHECK_NEAR(lavr_golden_limit(0.02), 0.06, 1e-15);
}

int main(void) {
    const char *dir = getenv("LAVR_TEST_TMP");
    if (!dir) dir = "/tmp";
    CHECK_OK(lavr_arena_create("test", 0, &arena));
    test_helpers();
    test_datasets(dir);
    test_recognition(dir);
    lavr_arena_destroy(arena);
    return check_summary("test_golden_loader");
}
