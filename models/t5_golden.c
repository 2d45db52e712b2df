/* umT5 against a golden file: builds the encoder from the file's config and /weights on an execution context (CPU
 * or CUDA) and encodes both inputs (short, padded) as `lavr render` does, comparing outputs/<name>. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/arena.h"
#include "models/golden.h"
#include "models/t5.h"

static lavr_status run_case(lavr_golden *g, const lavr_t5 *model, const char *name) {
    char path[128];
    lavr_arena *arena = NULL;
    lavr_tensor ids, mask;
    float *out = NULL;
    lavr_status st;
    TRY(lavr_arena_create("golden t5", 0, &arena));
    snprintf(path, sizeof path, "inputs/%s/ids", name);
    TRY_GOTO(lavr_h5_read(g->file, path, arena, &ids), st, done);
    if (ids.dtype != LAVR_I64) {
        st = LAVR_FAIL(LAVR_E_FORMAT, "%s: %s is %s, expected int64", lavr_h5_path(g->file), path,
                       lavr_dtype_name(ids.dtype));
        goto done;
    }
    snprintf(path, sizeof path, "inputs/%s/mask", name);
    TRY_GOTO(lavr_h5_read_f32(g->file, path, arena, &mask), st, done);
    int64_t n = lavr_tensor_numel(&ids), dim = lavr_t5_config_of(model)->dim;
    if (lavr_tensor_numel(&mask) != n) {
        st = LAVR_FAIL(LAVR_E_FORMAT, "%s: %s has %lld values for %lld ids", lavr_h5_path(g->file), path,
                       (long long)lavr_tensor_numel(&mask), (long long)n);
        goto done;
    }
    out = malloc((size_t)(n * dim) * sizeof(float));
    if (!out) {
        st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the T5 output");
        goto done;
    }
    for (int64_t i = 0; i < n * dim; i++) out[i] = NAN;
    TRY_GOTO(lavr_t5_encode(model, (const int64_t *)ids.data, n, (const float *)mask.data, out), st, done);
    snprintf(path, sizeof path, "outputs/%s", name);
    st = lavr_golden_compare(g, path, out, n * dim, 0);
done:
    free(out);
    lavr_arena_destroy(arena);
    return st;
}

lavr_status lavr_golden_run_t5(lavr_golden *g) { return lavr_golden_run_t5_on(g, NULL); }

lavr_status lavr_golden_run_t5_on(lavr_golden *g, lavr_ctx *ctx) {
    lavr_t5_config cfg;
    lavr_t5 *model = NULL;
    TRY(lavr_t5_config_from_json(g->config, &cfg));
    TRY(lavr_t5_create_on(g->file, "weights/", &cfg, ctx, &model));
    lavr_status st = run_case(g, model, "short");
    if (!st) st = run_case(g, model, "padded");
    lavr_t5_destroy(model);
    return st;
}
