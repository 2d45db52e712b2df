/* Test helper: writes a tiny-preset model file with lavr init's weights (all four components, their
 * configs and optionally the synthetic tokenizer), with norm gains optionally perturbed so a gain that
 * is applied wrongly (or not at all) changes the outputs. Header-only, like check.h. */
#ifndef LAVR_TEST_TINY_MODEL_H
#define LAVR_TEST_TINY_MODEL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "io/h5model.h"
#include "models/config.h"
#include "models/init_weights.h"
#include "models/tokenizer.h"

typedef struct {
    lavr_h5file *f;
    const char *component;
    uint64_t seed;
    int perturb_gains;
} tiny_writer;

/* RMSNorm / LayerNorm gains and the VAE's `gamma` (all 1 under lavr init) */
static int tiny_is_gain(const char *name) {
    const char *last = strrchr(name, '.');
    last = last ? last + 1 : name;
    return strcmp(last, "gamma") == 0 || (strstr(name, "norm") && strcmp(last, "weight") == 0);
}

static lavr_status tiny_write_tensor(const lavr_tensor_spec *s, void *user) {
    tiny_writer *w = user;
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->shape[i];
    void *buf = malloc((size_t)(n > 0 ? n : 1) * lavr_dtype_size(s->dtype));
    if (!buf) return LAVR_FAIL(LAVR_E_NOMEM, "test weights");
    lavr_status st = lavr_init_tensor_rows(s, w->component, w->seed, 0, s->ndim ? s->shape[0] : 1, buf);
    if (!st && w->perturb_gains && tiny_is_gain(s->name)) {
        float *z = malloc((size_t)n * sizeof(float));
        if (!z) st = LAVR_FAIL(LAVR_E_NOMEM, "test weights");
        else {
            lavr_rng_normal(w->seed, lavr_rng_stream(LAVR_STREAM_TEST, 9, 0, 0) ^ lavr_rng_hash(s->name), 0, n, z);
            for (int64_t i = 0; i < n; i++)
                lavr_dtype_store(s->dtype, buf, i, lavr_dtype_load(s->dtype, buf, i) + 0.2 * z[i]);
            free(z);
        }
    }
    char path[256];
    snprintf(path, sizeof path, "/%s/%s", w->component, s->name);
    lavr_tensor t = lavr_tensor_wrap(s->dtype, s->ndim, s->shape, buf);
    if (!st) st = lavr_h5_write(w->f, path, &t, 0);
    free(buf);
    return st;
}

static lavr_status tiny_model_write(const char *path, uint64_t seed, int perturb_gains, int with_tokenizer,
                                    lavr_model_config *cfg) {
    TRY(lavr_config_preset("tiny", cfg));
    tiny_writer w = {NULL, NULL, seed, perturb_gains};
    TRY(lavr_h5_create(path, &w.f));
    lavr_status st = lavr_h5_write_attr_string(w.f, "/", "format", "lavr-model");
    char *json[4] = {lavr_dit_config_to_json(&cfg->dit), lavr_t5_config_to_json(&cfg->t5),
                     lavr_vae_config_to_json(&cfg->vae), lavr_w2v_config_to_json(&cfg->w2v)};
    static const char *const groups[4] = {"dit", "t5", "vae", "wav2vec2"};
    for (int k = 0; k < 4 && !st; k++) {
        w.component = groups[k];
        st = k == 0   ? lavr_dit_inventory(&cfg->dit, tiny_write_tensor, &w)
             : k == 1 ? lavr_t5_inventory(&cfg->t5, tiny_write_tensor, &w)
             : k == 2 ? lavr_vae_inventory(&cfg->vae, tiny_write_tensor, &w)
                      : lavr_w2v_inventory(&cfg->w2v, tiny_write_tensor, &w);
        char group[32];
        snprintf(group, sizeof group, "/%s", groups[k]);
        if (!st) st = json[k] ? lavr_h5_write_attr_string(w.f, group, "config", json[k]) : LAVR_FAIL(LAVR_E_NOMEM, "json");
    }
    for (int k = 0; k < 4; k++) free(json[k]);
    if (!st && with_tokenizer) {
        char *text = NULL;
        st = lavr_tokenizer_tiny_json(cfg->t5.vocab, &text);
        if (!st) st = lavr_tokenizer_store(w.f, LAVR_TOKENIZER_KIND_JSON, (const uint8_t *)text, (int64_t)strlen(text));
        free(text);
    }
    lavr_status cst = lavr_h5_close(w.f);
    return st ? st : cst;
}

#endif
