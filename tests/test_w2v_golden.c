/* wav2vec2 and the 25 fps audio bucketing against golden/w2v.h5: the check-golden run (hidden states,
 * feat30, bucketed, clips) plus normalisation, 4.x last-state mode, interpolation, zero frames, errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "io/golden.h"
#include "io/h5model.h"
#include "models/audio_features.h"
#include "models/config.h"
#include "models/golden.h"
#include "models/wav2vec2.h"
#include "tests/check.h"

#define W2V_TOL 1e-4 /* golden/README.md: the wav2vec2 reference is fp32 */

/* Double-precision LayerNorm of rows [rows, cols] with gamma/beta tensors (any dtype). */
static void layernorm_ref(const float *x, int64_t rows, int64_t cols, const lavr_tensor *g, const lavr_tensor *b,
                          double eps, float *y) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        double mean = 0.0, var = 0.0;
        for (int64_t c = 0; c < cols; c++) mean += xr[c];
        mean /= (double)cols;
        for (int64_t c = 0; c < cols; c++) var += (xr[c] - mean) * (xr[c] - mean);
        var /= (double)cols;
        for (int64_t c = 0; c < cols; c++)
            y[r * cols + c] = (float)((xr[c] - mean) / sqrt(var + eps) * lavr_tensor_get_flat(g, c) +
                                      lavr_tensor_get_flat(b, c));
    }
}

static void poison(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = NAN;
}

static void compare(const char *what, const float *out, const float *ref, int64_t n) {
    const double e = lavr_golden_rel_l2(out, ref, n);
    printf("  %-28s rel L2 %.3e (limit %.0e)\n", what, e, W2V_TOL);
    CHECK_MSG(e <= W2V_TOL, "%s rel L2 %.3e", what, e);
}

int main(void) {
    const char *dir = getenv("LAVR_GOLDEN_DIR");
    if (!dir) {
        fprintf(stderr, "LAVR_GOLDEN_DIR is not set\n");
        return 1;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/w2v.h5", dir);
    lavr_h5file *f = NULL;
    CHECK_OK(lavr_h5_open(path, &f));
    if (!f) return check_summary("test_w2v_golden");

    lavr_arena *arena = NULL, *work = NULL;
    CHECK_OK(lavr_arena_create("test", 0, &arena));
    CHECK_OK(lavr_arena_create("work", 0, &work));

    char *config_text = NULL;
    lavr_json *json = NULL;
    lavr_w2v_config cfg;
    CHECK_OK(lavr_h5_read_attr_string(f, "/", "config", &config_text));
    CHECK_OK(lavr_json_parse(config_text, &json));
    CHECK_OK(lavr_w2v_config_from_json(json, &cfg));

    lavr_tensor wave = {0}, normalized = {0}, hs_ref = {0}, feat30_ref = {0}, bucketed_ref = {0};
    CHECK_OK(lavr_h5_read_f32(f, "inputs/wave", arena, &wave));
    CHECK_OK(lavr_h5_read_f32(f, "inputs/normalized", arena, &normalized));
    CHECK_OK(lavr_h5_read_f32(f, "outputs/hidden_states", arena, &hs_ref));
    CHECK_OK(lavr_h5_read_f32(f, "outputs/feat30", arena, &feat30_ref));
    CHECK_OK(lavr_h5_read_f32(f, "outputs/bucketed", arena, &bucketed_ref));
    int64_t clips_ref = 0;
    CHECK_OK(lavr_h5_read_attr_int(f, "/", "clips", &clips_ref));

    const int64_t n = wave.shape[0], states = cfg.num_layers + 1, hid = cfg.hidden;
    const int64_t t50 = lavr_w2v_num_frames(&cfg, n), t30 = lavr_audio_feat30_len(t50);
    printf("wave %lld samples -> %lld frames at 50 Hz, %lld at 30 Hz\n", (long long)n, (long long)t50, (long long)t30);
    CHECK(hs_ref.ndim == 3 && hs_ref.shape[0] == states && hs_ref.shape[1] == t50 && hs_ref.shape[2] == hid);
    CHECK(feat30_ref.ndim == 3 && feat30_ref.shape[0] == states && feat30_ref.shape[1] == t30);

    /* 1. normalisation of the raw wave vs the feature extractor's output */
    float *norm = malloc((size_t)n * sizeof(float));
    poison(norm, n);
    CHECK_OK(lavr_audio_normalize(wave.data, n, norm));
    compare("normalized", norm, normalized.data, n);

    /* 2. hidden states, feat30 and bucketed (whole chain from the raw wave) plus the clip count: the
     * same run as `lavr check-golden` (the golden file comes from transformers 5.x, whose last state
     * is the last layer's output before the final LayerNorm). */
    lavr_golden *g = NULL;
    CHECK_OK(lavr_golden_open(path, &g));
    if (g) {
        CHECK(g->kind == LAVR_GOLDEN_W2V);
        CHECK_OK(lavr_golden_run_w2v(g));
        CHECK(g->n_results == 4 && lavr_golden_failed(g) == 0);
        lavr_golden_close(g);
    }
    /* 1b. LiveAvatar's bf16 rounding points (the CUDA numerics) on the CPU stay within the bf16 limit of the fp32
     * reference, and clearly away from fp32 (the rounding is there) */
    g = NULL;
    CHECK_OK(lavr_golden_open(path, &g));
    if (g) {
        const lavr_w2v_options bf16 = {.bf16 = 1};
        CHECK_OK(lavr_golden_run_w2v_with(g, &bf16));
        CHECK(g->n_results == 4 && lavr_golden_failed(g) == 0);
        for (int64_t i = 0; i + 1 < g->n_results; i++) {
            printf("  bf16 %-24s rel L2 %.3e (limit %.0e)\n", g->results[i].name, g->results[i].rel_l2,
                   LAVR_GOLDEN_W2V_BF16_LIMIT);
            CHECK(g->results[i].rel_l2 > 10 * LAVR_GOLDEN_W2V_LIMIT);
        }
        lavr_golden_close(g);
    }
    lavr_w2v *model = NULL;
    CHECK_OK(lavr_w2v_create(f, "weights/", &cfg, &model));
    const int64_t hs_n = states * t50 * hid, last = cfg.num_layers * t50 * hid;
    float *hs = malloc((size_t)hs_n * sizeof(float));

    /* 2b. the default (transformers 4.x, what LiveAvatar runs): the last state is the encoder's
     * final LayerNorm of the golden last layer output, the others are unchanged. */
    lavr_tensor ln_w = {0}, ln_b = {0};
    CHECK_OK(lavr_h5_read(f, "weights/wav2vec2.encoder.layer_norm.weight", arena, &ln_w));
    CHECK_OK(lavr_h5_read(f, "weights/wav2vec2.encoder.layer_norm.bias", arena, &ln_b));
    float *normed_ref = malloc((size_t)(t50 * hid) * sizeof(float));
    layernorm_ref((const float *)hs_ref.data + last, t50, hid, &ln_w, &ln_b, cfg.eps, normed_ref);
    float *hs_normed = malloc((size_t)hs_n * sizeof(float));
    poison(hs_normed, hs_n);
    if (model) {
        lavr_w2v_set_last_state(model, LAVR_W2V_LAST_NORMED);
        CHECK_OK(lavr_w2v_forward(model, normalized.data, n, work, hs_normed));
    }
    compare("states 0..L-1 (normed mode)", hs_normed, hs_ref.data, last);
    compare("LN(last) (normed mode)", hs_normed + last, normed_ref, t50 * hid);

    /* 3. 50 -> 30 Hz of every state */
    const int64_t f30_n = states * t30 * hid;
    float *f30 = malloc((size_t)f30_n * sizeof(float));
    /* the interpolation alone, from the golden hidden states */
    poison(f30, f30_n);
    for (int64_t s = 0; s < states; s++)
        CHECK_OK(lavr_audio_interpolate((const float *)hs_ref.data + s * t50 * hid, t50, hid, t30, f30 + s * t30 * hid));
    compare("feat30 (from golden states)", f30, feat30_ref.data, f30_n);

    /* 4. properties of the whole chain from the raw wave (its rel L2 is checked in 2) */
    lavr_audio_features feats = {0};
    if (model) lavr_w2v_set_last_state(model, LAVR_W2V_LAST_RAW);
    if (model)
        CHECK_OK(lavr_audio_encode(model, wave.data, n, LAVR_VIDEO_FPS, LAVR_FRAMES_PER_CLIP, arena, work, &feats));
    printf("  clips %lld (golden %lld), %lld video frames\n", (long long)feats.clips, (long long)clips_ref,
           (long long)feats.features.shape[0]);
    CHECK(feats.clips == clips_ref);
    CHECK(feats.frames_50hz == t50 && feats.frames_30hz == t30);
    CHECK(lavr_tensor_same_shape(&feats.features, &bucketed_ref));

    /* frames whose 30 Hz index round(1.2 k) is past the audio are exact zeros in both */
    int64_t zero_frames = 0, zero_mismatch = 0;
    const int64_t n_video = bucketed_ref.shape[0], row = states * hid;
    for (int64_t k = 0; k < n_video && feats.features.data; k++) {
        const int past_end = (12 * k + 5) / 10 >= t30;
        zero_frames += past_end;
        for (int64_t i = 0; i < row; i++) {
            const float ref = ((const float *)bucketed_ref.data)[k * row + i];
            const float got = ((const float *)feats.features.data)[k * row + i];
            zero_mismatch += past_end ? (ref != 0.0f || got != 0.0f) : (ref == 0.0f && got != 0.0f);
        }
    }
    printf("  %lld zero frames past the audio\n", (long long)zero_frames);
    CHECK(zero_frames == n_video - 57); /* round(1.2 k) < 68 for k <= 56 */
    CHECK(zero_mismatch == 0);

    /* 5. bad inputs are one-line errors */
    lavr_w2v *bad = NULL;
    CHECK_FAILS(lavr_w2v_create(f, "nowhere/", &cfg, &bad), LAVR_E_FORMAT);
    lavr_w2v_config wrong = cfg;
    wrong.intermediate = cfg.intermediate * 2;
    CHECK_FAILS(lavr_w2v_create(f, "weights", &wrong, &bad), LAVR_E_FORMAT);
    printf("  wrong-shape error: %s\n", lavr_error_message());
    CHECK(strstr(lavr_error_message(), "intermediate_dense") != NULL);
    if (model) CHECK_FAILS(lavr_w2v_forward(model, wave.data, 399, work, hs), LAVR_E_ARG);

    lavr_audio_features_free(&feats);
    lavr_w2v_destroy(model);
    free(norm);
    free(hs);
    free(f30);
    free(normed_ref);
    free(hs_normed);
    lavr_tensor_free(&ln_w);
    lavr_tensor_free(&ln_b);
    lavr_tensor_free(&wave);
    lavr_tensor_free(&normalized);
    lavr_tensor_free(&hs_ref);
    lavr_tensor_free(&feat30_ref);
    lavr_tensor_free(&bucketed_ref);
    lavr_json_free(json);
    free(config_text);
    CHECK(lavr_arena_used(work) == 0);
    lavr_arena_destroy(work);
    lavr_arena_destroy(arena);
    lavr_h5_close(f);
    return check_summary("test_w2v_golden");
}
