/* umT5 against $LAVR_GOLDEN_DIR/t5.h5 through the check-golden code path, the padded-vs-short property,
 * and the relative-position bucket function against a double-precision derivation and the spec table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/golden.h"
#include "io/h5model.h"
#include "models/config.h"
#include "models/golden.h"
#include "models/t5.h"
#include "tests/check.h"

/* Spec §4 table for 32 buckets / max distance 128, written out range by range. */
static int64_t spec_table_bucket(int64_t delta) {
    int64_t a = delta < 0 ? -delta : delta, f;
    if (a < 8) f = a;
    else if (a <= 11) f = 8;
    else if (a <= 15) f = 9;
    else if (a <= 22) f = 10;
    else if (a <= 31) f = 11;
    else if (a <= 45) f = 12;
    else if (a <= 63) f = 13;
    else if (a <= 90) f = 14;
    else f = 15;
    return (delta > 0 ? 16 : 0) + f;
}

/* T5's bucket rule re-derived in double: exact below num_buckets/4, logarithmic above, clipped. */
static int64_t naive_bucket(int64_t delta, int64_t num_buckets, int64_t max_distance) {
    int64_t half = num_buckets / 2, exact = half / 2;
    int64_t a = llabs(delta);
    int64_t f = a < exact ? a
                          : exact + (int64_t)floor(log((double)a / exact) / log((double)max_distance / exact) *
                                                   (double)(half - exact));
    if (f > half - 1) f = half - 1;
    return (delta > 0 ? half : 0) + f;
}

static void test_buckets(void) {
    int mismatches_table = 0, mismatches_naive = 0, mismatches_wide = 0;
    for (int64_t d = -600; d <= 600; d++) {
        int64_t b = lavr_t5_relative_bucket(d, 32, 128);
        mismatches_table += b != spec_table_bucket(d);
        mismatches_naive += b != naive_bucket(d, 32, 128);
        mismatches_wide += lavr_t5_relative_bucket(d, 64, 256) != naive_bucket(d, 64, 256);
    }
    CHECK_MSG(mismatches_table == 0, "%d deltas differ from the spec table", mismatches_table);
    CHECK_MSG(mismatches_naive == 0, "%d deltas differ from the double formula", mismatches_naive);
    CHECK_MSG(mismatches_wide == 0, "%d deltas differ from the double formula (64 buckets, 256)", mismatches_wide);
    CHECK(lavr_t5_relative_bucket(0, 32, 128) == 0);
    CHECK(lavr_t5_relative_bucket(1, 32, 128) == 17);
    CHECK(lavr_t5_relative_bucket(-1, 32, 128) == 1);
    CHECK(lavr_t5_relative_bucket(600, 32, 128) == 31);
}

/* Encodes inputs/<name> (ids, mask) with the model; returns the rows (malloc'd, [n, dim]) for the
 * padded-vs-short property. The golden comparison itself is lavr_golden_run_t5's. */
static float *encode_case(lavr_h5file *f, lavr_t5 *model, const char *name, int64_t *n_out) {
    char path[128];
    lavr_arena *arena = NULL;
    lavr_tensor ids, mask;
    float *out = NULL;
    if (lavr_arena_create("test", 0, &arena)) return NULL;
    snprintf(path, sizeof path, "inputs/%s/ids", name);
    CHECK_OK(lavr_h5_read(f, path, arena, &ids));
    snprintf(path, sizeof path, "inputs/%s/mask", name);
    CHECK_OK(lavr_h5_read_f32(f, path, arena, &mask));
    if (check_failures) goto done;
    int64_t n = lavr_tensor_numel(&ids), dim = lavr_t5_config_of(model)->dim;
    out = malloc((size_t)(n * dim) * sizeof(float));
    for (int64_t i = 0; i < n * dim; i++) out[i] = NAN;
    CHECK_OK(lavr_t5_encode(model, (const int64_t *)ids.data, n, (const float *)mask.data, out));
    *n_out = n;
done:
    lavr_arena_destroy(arena);
    return out;
}

static void test_golden(const char *dir) {
    char file_path[1024];
    snprintf(file_path, sizeof file_path, "%s/t5.h5", dir);
    lavr_golden *g = NULL;
    lavr_t5_config cfg;
    lavr_t5 *model = NULL;
    CHECK_OK(lavr_golden_open(file_path, &g));
    if (!g) return;
    CHECK(g->kind == LAVR_GOLDEN_T5);
    /* both outputs within max(3 x noise_floor, 1e-2): the same run as `lavr check-golden` */
    CHECK_OK(lavr_golden_run_t5(g));
    CHECK(g->n_results == 2 && lavr_golden_failed(g) == 0);
    lavr_h5file *f = g->file;
    CHECK_OK(lavr_t5_config_from_json(g->config, &cfg));
    if (!check_failures) {
        CHECK(cfg.vocab == 300 && cfg.dim == 64 && cfg.num_heads == 4 && cfg.num_layers == 3 && cfg.dim_ffn == 160);
        CHECK_OK(lavr_t5_create(f, "weights/", &cfg, &model));
    }
    if (model) {
        int64_t n_short = 0, n_padded = 0;
        float *out_short = encode_case(f, model, "short", &n_short);
        float *out_padded = encode_case(f, model, "padded", &n_padded);
        CHECK(out_short && out_padded && n_padded > n_short);
        if (out_short && out_padded && n_padded > n_short) {
            /* Padded keys are masked and the bias depends only on key - query, so the real rows of
             * the padded run equal the short run up to summation order (bf16 rounding flips). */
            double err = lavr_golden_rel_l2(out_padded, out_short, n_short * cfg.dim);
            printf("t5 padded[0:%lld] vs short rel L2 %.6f (tolerance 1e-2)\n", (long long)n_short, err);
            CHECK(err <= 1e-2);
        }
        free(out_short);
        free(out_padded);

        /* A token id outside the vocabulary is a clear error, not a read past the table. */
        int64_t bad_ids[2] = {5, cfg.vocab};
        float *rows = malloc((size_t)(2 * cfg.dim) * sizeof(float));
        CHECK_FAILS(lavr_t5_encode(model, bad_ids, 2, NULL, rows), LAVR_E_ARG);
        free(rows);

        /* Wrong expected shapes name the tensor: loading with a larger FFN must fail. */
        lavr_t5_config wrong = cfg;
        wrong.dim_ffn = cfg.dim_ffn + 1;
        lavr_t5 *bad = NULL;
        lavr_status st = lavr_t5_create(f, "weights/", &wrong, &bad);
        CHECK(st != LAVR_OK && bad == NULL);
        CHECK_MSG(strstr(lavr_error_message(), "ffn.gate.0.weight") != NULL, "message: %s", lavr_error_message());
    }
    lavr_t5_destroy(model);
    lavr_golden_close(g);
}

int main(void) {
    test_buckets();
    const char *dir = getenv("LAVR_GOLDEN_DIR");
    if (!dir) {
        fprintf(stderr, "LAVR_GOLDEN_DIR is not set\n");
        return 1;
    }
    test_golden(dir);
    return check_summary("test_t5_golden");
}
