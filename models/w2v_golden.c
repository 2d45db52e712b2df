/* wav2vec2 and LiveAvatar's audio path against a golden file: every hidden state from the file's
 * normalised input, the 30 Hz features, and the bucketed per-frame features of the whole chain from
 * the raw wave (normalise, encode, interpolate, bucket) as `lavr render` runs it, on the CPU in fp32 or
 * with bf16 rounding points, or on CUDA (bf16; its own limit, io/golden.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/arena.h"
#include "models/audio_features.h"
#include "models/golden.h"
#include "models/wav2vec2.h"

/* Transformers 5.x records each layer's output as the last hidden state (before the encoder's final
 * LayerNorm) where 4.x, which LiveAvatar runs, appends the normed one (models/wav2vec2.h); the file
 * says which produced it. */
static lavr_w2v_last_state last_state_of(const lavr_json *config) {
    const lavr_json *v = lavr_json_get(config, "transformers_version");
    if (v && v->type == LAVR_JSON_STRING && atoi(v->string) >= 5) return LAVR_W2V_LAST_RAW;
    return LAVR_W2V_LAST_NORMED;
}

lavr_status lavr_golden_run_w2v(lavr_golden *g) { return lavr_golden_run_w2v_with(g, NULL); }

lavr_status lavr_golden_run_w2v_on(lavr_golden *g, lavr_ctx *ctx) {
    const lavr_w2v_options o = {.ctx = ctx};
    return lavr_golden_run_w2v_with(g, &o);
}

lavr_status lavr_golden_run_w2v_with(lavr_golden *g, const lavr_w2v_options *o) {
    const int bf16 = o && ((o->ctx && lavr_ctx_device(o->ctx) != LAVR_DEVICE_CPU) || o->bf16);
    const double limit = bf16 ? LAVR_GOLDEN_W2V_BF16_LIMIT : LAVR_GOLDEN_W2V_LIMIT;
    lavr_w2v_config cfg;
    lavr_w2v *model = NULL;
    lavr_arena *arena = NULL, *work = NULL;
    float *wave = NULL, *normalized = NULL, *hs = NULL, *f30 = NULL;
    lavr_audio_features feats = {0};
    int64_t n = 0, n_norm = 0, clips_ref = 0;
    lavr_status st;
    TRY(lavr_w2v_config_from_json(g->config, &cfg));
    TRY(lavr_w2v_create_on(g->file, "weights/", &cfg, o, &model));
    lavr_w2v_set_last_state(model, last_state_of(g->config));
    TRY_GOTO(lavr_arena_create("golden w2v", 0, &arena), st, done);
    TRY_GOTO(lavr_arena_create("golden w2v work", 0, &work), st, done);
    TRY_GOTO(lavr_golden_read(g, "inputs/wave", &wave, &n), st, done);
    TRY_GOTO(lavr_golden_read(g, "inputs/normalized", &normalized, &n_norm), st, done);
    if (n_norm != n) {
        st = LAVR_FAIL(LAVR_E_FORMAT, "%s: inputs/normalized has %lld samples, inputs/wave %lld",
                       lavr_h5_path(g->file), (long long)n_norm, (long long)n);
        goto done;
    }
    const int64_t states = cfg.num_layers + 1, hid = cfg.hidden;
    const int64_t t50 = lavr_w2v_num_frames(&cfg, n), t30 = lavr_audio_feat30_len(t50);
    hs = malloc((size_t)(states * t50 * hid) * sizeof(float));
    f30 = malloc((size_t)(states * t30 * hid) * sizeof(float));
    if (!hs || !f30) {
        st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the wav2vec2 states");
        goto done;
    }
    for (int64_t i = 0; i < states * t50 * hid; i++) hs[i] = NAN;
    TRY_GOTO(lavr_w2v_forward(model, normalized, n, work, hs), st, done);
    TRY_GOTO(lavr_golden_compare(g, "outputs/hidden_states", hs, states * t50 * hid, limit), st, done);
    for (int64_t s = 0; s < states; s++)
        TRY_GOTO(lavr_audio_interpolate(hs + s * t50 * hid, t50, hid, t30, f30 + s * t30 * hid), st, done);
    TRY_GOTO(lavr_golden_compare(g, "outputs/feat30", f30, states * t30 * hid, limit), st, done);

    TRY_GOTO(lavr_audio_encode(model, wave, n, LAVR_VIDEO_FPS, LAVR_FRAMES_PER_CLIP, arena, work, &feats), st, done);
    TRY_GOTO(lavr_golden_compare(g, "outputs/bucketed", feats.features.data, lavr_tensor_numel(&feats.features),
                                 limit), st, done);
    /* the clip count is exact: recorded as error 0 (equal) or inf against limit 0 */
    TRY_GOTO(lavr_h5_read_attr_int(g->file, "/", "clips", &clips_ref), st, done);
    st = lavr_golden_record(g, "clips (exact)", feats.clips == clips_ref ? 0.0 : INFINITY, 0.0);
done:
    lavr_audio_features_free(&feats);
    free(wave);
    free(normalized);
    free(hs);
    free(f30);
    lavr_w2v_destroy(model);
    lavr_arena_destroy(work);
    lavr_arena_destroy(arena);
    return st;
}
