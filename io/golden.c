/* Golden-file access shared by `lavr check-golden` and the golden ctest cases: open and recognise
 * the network, rel L2 against the README's limits, and the table of results. */
#include "io/golden.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"

/* A tensor name each network's official state dict has and the others lack. */
static const struct {
    lavr_golden_kind kind;
    const char *weight;
} signatures[] = {
    {LAVR_GOLDEN_DIT, "weights/patch_embedding.weight"},
    {LAVR_GOLDEN_VAE, "weights/decoder.conv1.weight"},
    {LAVR_GOLDEN_T5, "weights/token_embedding.weight"},
    {LAVR_GOLDEN_W2V, "weights/wav2vec2.feature_extractor.conv_layers.0.conv.weight"},
    {LAVR_GOLDEN_W2V, "weights/feature_extractor.conv_layers.0.conv.weight"},
};

const char *lavr_golden_kind_name(lavr_golden_kind kind) {
    switch (kind) {
    case LAVR_GOLDEN_DIT: return "DiT";
    case LAVR_GOLDEN_VAE: return "VAE";
    case LAVR_GOLDEN_T5: return "T5";
    case LAVR_GOLDEN_W2V: return "wav2vec2";
    }
    return "?";
}

lavr_status lavr_golden_open(const char *path, lavr_golden **out) {
    *out = NULL;
    lavr_golden *g = calloc(1, sizeof *g);
    if (!g) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory opening %s", path);
    g->print = 1;
    lavr_status st = lavr_h5_open(path, &g->file);
    if (st) goto fail;
    if (!lavr_h5_has_attr(g->file, "/", "config") || !lavr_h5_exists(g->file, "weights")) {
        st = LAVR_FAIL(LAVR_E_FORMAT, "%s is not a golden file (no root 'config' attribute and /weights group)", path);
        goto fail;
    }
    int found = 0;
    for (size_t i = 0; i < sizeof signatures / sizeof signatures[0] && !found; i++)
        if (lavr_h5_exists(g->file, signatures[i].weight)) g->kind = signatures[i].kind, found = 1;
    if (!found) {
        st = LAVR_FAIL(LAVR_E_FORMAT, "%s: unrecognised golden file (its /weights are not a DiT, VAE, T5 or wav2vec2)",
                       path);
        goto fail;
    }
    TRY_GOTO(lavr_h5_read_attr_string(g->file, "/", "config", &g->config_text), st, fail);
    TRY_GOTO(lavr_json_parse(g->config_text, &g->config), st, fail);
    *out = g;
    return LAVR_OK;
fail:
    lavr_golden_close(g);
    return st;
}

void lavr_golden_close(lavr_golden *g) {
    if (!g) return;
    lavr_h5_close(g->file);
    lavr_json_free(g->config);
    free(g->config_text);
    free(g->results);
    free(g);
}

double lavr_golden_rel_l2(const float *out, const float *ref, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = (double)out[i] - (double)ref[i];
        num += e * e;
        den += (double)ref[i] * (double)ref[i];
    }
    double rel = den > 0 ? sqrt(num / den) : sqrt(num);
    return rel == rel ? rel : INFINITY;
}

double lavr_golden_limit(double noise_floor) { return fmax(3 * noise_floor, 1e-2); }

lavr_status lavr_golden_record(lavr_golden *g, const char *name, double rel_l2, double limit) {
    if (g->n_results == g->cap_results) {
        int64_t cap = g->cap_results ? 2 * g->cap_results : 64;
        lavr_golden_result *r = realloc(g->results, (size_t)cap * sizeof *r);
        if (!r) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory recording golden results");
        g->results = r, g->cap_results = cap;
    }
    lavr_golden_result *r = &g->results[g->n_results++];
    snprintf(r->name, sizeof r->name, "%s", name);
    r->rel_l2 = rel_l2, r->limit = limit, r->passed = rel_l2 <= limit;
    if (g->print)
        printf("%-48s rel L2 %.3e  limit %.3e  %s\n", name, rel_l2, limit, r->passed ? "pass" : "FAIL");
    return LAVR_OK;
}

lavr_status lavr_golden_read(lavr_golden *g, const char *path, float **out, int64_t *n) {
    lavr_arena *arena = NULL;
    lavr_tensor t;
    *out = NULL;
    TRY(lavr_arena_create("golden", 0, &arena));
    lavr_status st = lavr_h5_read_f32(g->file, path, arena, &t);
    if (!st) {
        *n = lavr_tensor_numel(&t);
        *out = malloc((size_t)(*n ? *n : 1) * sizeof(float));
        if (*out) memcpy(*out, t.data, (size_t)*n * sizeof(float));
        else st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory reading %s", path);
        lavr_tensor_free(&t);
    }
    lavr_arena_destroy(arena);
    return st;
}

lavr_status lavr_golden_compare(lavr_golden *g, const char *path, const float *out, int64_t n, double limit) {
    float *ref = NULL;
    int64_t n_ref = 0;
    TRY(lavr_golden_read(g, path, &ref, &n_ref));
    if (n_ref != n) {
        free(ref);
        return LAVR_FAIL(LAVR_E_FORMAT, "%s: golden output has %lld values, ours %lld", path, (long long)n_ref,
                         (long long)n);
    }
    if (limit <= 0) {
        double floor_ = 0;
        if (lavr_h5_has_attr(g->file, path, "noise_floor")) {
            lavr_status st = lavr_h5_read_attr_double(g->file, path, "noise_floor", &floor_);
            if (st) {
                free(ref);
                return st;
            }
        }
        limit = lavr_golden_limit(floor_);
    }
    double rel = lavr_golden_rel_l2(out, ref, n);
    free(ref);
    return lavr_golden_record(g, path, rel, limit);
}

int64_t lavr_golden_failed(const lavr_golden *g) {
    int64_t failed = 0;
    for (int64_t i = 0; i < g->n_results; i++) failed += !g->results[i].passed;
    return failed;
}
