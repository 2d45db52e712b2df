/* The weight-initialisation rule of `lavr init` (models/init_weights.h): a scale class per tensor
 * name and shape, and counter-based normal samples addressed by element index. */
#include "models/init_weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/rng.h"

typedef enum { INIT_ONE, INIT_ZERO, INIT_SMALL, INIT_MIX_LOGIT, INIT_EMBEDDING, INIT_FAN_IN } init_kind;

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static init_kind kind_of(const lavr_tensor_spec *spec) {
    const char *name = spec->name;
    if (ends_with(name, ".gamma") || ends_with(name, "parametrizations.weight.original0")) return INIT_ONE;
    if (strstr(name, "norm") && ends_with(name, ".weight") && spec->ndim == 1) return INIT_ONE;
    if (strstr(name, "norm") && ends_with(name, ".bias")) return INIT_ZERO;
    if (ends_with(name, ".bias") || strstr(name, "modulation")) return INIT_SMALL;
    if (strcmp(name, "casual_audio_encoder.weights") == 0) return INIT_MIX_LOGIT;
    if (strstr(name, "token_embedding") || strstr(name, "trainable_cond_mask") || strstr(name, "padding_tokens") ||
        strstr(name, "masked_spec_embed") || strstr(name, "pos_embedding"))
        return INIT_EMBEDDING;
    return spec->ndim >= 2 ? INIT_FAN_IN : INIT_SMALL;
}

lavr_status lavr_init_tensor_rows(const lavr_tensor_spec *spec, const char *component, uint64_t seed, int64_t row0,
                                  int64_t nrows, void *out) {
    CHECK_ARG(spec && component && out, "lavr_init_tensor_rows: NULL argument");
    int64_t row = 1, fan_in = 1;
    for (int i = 1; i < spec->ndim; i++) row *= spec->shape[i];
    fan_in = row;
    int64_t rows_total = spec->ndim ? spec->shape[0] : 1;
    CHECK_ARG(row0 >= 0 && nrows >= 0 && row0 + nrows <= rows_total, "init rows [%lld, %lld) outside tensor '%s'",
              (long long)row0, (long long)(row0 + nrows), spec->name);
    const int64_t n = nrows * row;
    init_kind kind = kind_of(spec);
    float *values = malloc((size_t)(n > 0 ? n : 1) * sizeof *values);
    if (!values) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory initialising '%s' (%lld values)", spec->name, (long long)n);
    char key[256];
    snprintf(key, sizeof key, "%s/%s", component, spec->name);
    const uint64_t stream = ((uint64_t)LAVR_STREAM_WEIGHTS << 56) | (lavr_rng_hash(key) & ((1ull << 56) - 1));
    if (kind == INIT_ONE || kind == INIT_ZERO) {
        for (int64_t i = 0; i < n; i++) values[i] = kind == INIT_ONE ? 1.0f : 0.0f;
    } else {
        lavr_rng_normal(seed, stream, (uint64_t)(row0 * row), n, values);
        float scale = kind == INIT_SMALL ? 0.02f : kind == INIT_MIX_LOGIT ? 0.1f : kind == INIT_EMBEDDING ? 1.0f
                                                                                      : (float)(1.0 / sqrt((double)fan_in));
        float shift = kind == INIT_MIX_LOGIT ? 1.0f : 0.0f;
        for (int64_t i = 0; i < n; i++) values[i] = shift + scale * values[i];
    }
    switch (spec->dtype) {
    case LAVR_F32: memcpy(out, values, (size_t)n * sizeof *values); break;
    case LAVR_BF16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)out)[i] = lavr_f32_to_bf16(values[i]);
        break;
    default:
        for (int64_t i = 0; i < n; i++) lavr_dtype_store(spec->dtype, out, i, values[i]);
        break;
    }
    free(values);
    return LAVR_OK;
}
