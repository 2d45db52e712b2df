/* LiveAvatar's audio feature path: normalisation, 50 -> 30 Hz interpolation and 25 fps bucketing
 * (Wan's linear_interpolation + get_audio_embed_bucket_fps with m = 0), mirroring the reference's
 * floating-point formulas where they decide an integer (lengths, indices, clip counts). */
#include "models/audio_features.h"

#include <math.h>
#include <string.h>

lavr_status lavr_audio_normalize(const float *wave, int64_t n, float *out) {
    CHECK_ARG(wave && out && n >= 1, "lavr_audio_normalize: need a non-empty waveform (got %lld samples)", (long long)n);
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += wave[i];
    const double mean = sum / (double)n;
    double sumsq = 0.0;
    for (int64_t i = 0; i < n; i++) sumsq += ((double)wave[i] - mean) * ((double)wave[i] - mean);
    const double inv_std = 1.0 / sqrt(sumsq / (double)n + 1e-7);
    for (int64_t i = 0; i < n; i++) out[i] = (float)(((double)wave[i] - mean) * inv_std);
    return LAVR_OK;
}

int64_t lavr_audio_feat30_len(int64_t t50) {
    /* int(seq_len * output_fps) with seq_len = T / float(input_fps): both steps in double. */
    return (int64_t)((double)t50 / (double)LAVR_W2V_FRAME_RATE * (double)LAVR_AUDIO_FEAT_RATE);
}

/* PyTorch's align_corners scale and source index, in fp32 as its upsample kernels compute them. */
static float interp_scale(int64_t t_in, int64_t t_out) {
    return t_out > 1 ? (float)(t_in - 1) / (float)(t_out - 1) : 0.0f;
}

static void interp_row(const float *x, int64_t t_in, int64_t dim, float scale, int64_t j, float *y) {
    const float u = scale * (float)j;
    int64_t i0 = (int64_t)u;
    if (i0 > t_in - 1) i0 = t_in - 1;
    const int64_t i1 = i0 < t_in - 1 ? i0 + 1 : i0;
    float l1 = u - (float)i0;
    l1 = l1 < 0.0f ? 0.0f : (l1 > 1.0f ? 1.0f : l1);
    const float l0 = 1.0f - l1;
    const float *a = x + i0 * dim, *b = x + i1 * dim;
    for (int64_t c = 0; c < dim; c++) y[c] = l0 * a[c] + l1 * b[c];
}

lavr_status lavr_audio_interpolate(const float *x, int64_t t_in, int64_t dim, int64_t t_out, float *y) {
    CHECK_ARG(x && y && t_in >= 1 && t_out >= 1 && dim >= 1,
              "lavr_audio_interpolate: bad sizes (t_in %lld, t_out %lld, dim %lld)", (long long)t_in,
              (long long)t_out, (long long)dim);
    const float scale = interp_scale(t_in, t_out);
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < t_out; j++) interp_row(x, t_in, dim, scale, j, y + j * dim);
    return LAVR_OK;
}

int64_t lavr_audio_num_clips(int64_t t30, int64_t frames_per_clip, double fps) {
    /* min_batch_num = int(audio_frame_num / (batch_frames * scale)) + 1, scale = video_rate / fps */
    const double scale = (double)LAVR_AUDIO_FEAT_RATE / fps;
    return (int64_t)((double)t30 / ((double)frames_per_clip * scale)) + 1;
}

int64_t lavr_audio_frame_index(int64_t k, int64_t n_video, double fps) {
    /* get_sample_indices(fixed_start=0): np.linspace(0, n/fps, n, endpoint=False) is k * step with
     * step = (n/fps)/n; np.round(t * 30) rounds half to even, as nearbyint does. Its final clip to
     * total_frames - 1 never binds: total_frames = ceil(n/fps*30) exceeds every index. */
    const double step = ((double)n_video / fps) / (double)n_video;
    return (int64_t)nearbyint((double)k * step * (double)LAVR_AUDIO_FEAT_RATE);
}

lavr_status lavr_audio_bucket_state(const float *state, int64_t t50, int64_t dim, int64_t state_index,
                                    int64_t num_states, int64_t n_video, double fps, float *out) {
    CHECK_ARG(state && out && dim >= 1 && n_video >= 1 && fps > 0.0 && state_index >= 0 && state_index < num_states,
              "lavr_audio_bucket_state: bad arguments (state %lld of %lld, dim %lld, %lld frames)",
              (long long)state_index, (long long)num_states, (long long)dim, (long long)n_video);
    const int64_t t30 = lavr_audio_feat30_len(t50);
    CHECK_ARG(t30 >= 1, "audio too short: %lld wav2vec2 frames give no 30 Hz feature frame", (long long)t50);
    const float scale = interp_scale(t50, t30);
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < n_video; k++) {
        float *dst = out + (k * num_states + state_index) * dim;
        const int64_t j = lavr_audio_frame_index(k, n_video, fps);
        if (j < t30)
            interp_row(state, t50, dim, scale, j, dst);
        else
            memset(dst, 0, (size_t)dim * sizeof(float));
    }
    return LAVR_OK;
}

typedef struct {
    float *out;
    int64_t num_states, n_video;
    double fps;
} bucket_target;

static lavr_status bucket_into(int64_t index, const float *state, int64_t frames, int64_t hidden, void *user) {
    const bucket_target *t = user;
    return lavr_audio_bucket_state(state, frames, hidden, index, t->num_states, t->n_video, t->fps, t->out);
}

lavr_status lavr_audio_encode(lavr_w2v *model, const float *wave, int64_t n_samples, double fps,
                              int64_t frames_per_clip, lavr_arena *arena, lavr_arena *work,
                              lavr_audio_features *out) {
    CHECK_ARG(model && wave && arena && work && out, "lavr_audio_encode: model, wave, arenas and out are required");
    CHECK_ARG(fps > 0.0 && frames_per_clip > 0, "lavr_audio_encode: fps %g and frames per clip %lld must be positive",
              fps, (long long)frames_per_clip);
    memset(out, 0, sizeof *out);
    const lavr_w2v_config *cfg = lavr_w2v_config_of(model);
    const int64_t t50 = lavr_w2v_num_frames(cfg, n_samples);
    const int64_t t30 = lavr_audio_feat30_len(t50);
    CHECK_ARG(t30 >= 1, "audio too short: %lld samples (%.3f s at 16 kHz) give %lld wav2vec2 frames and no 30 Hz frame",
              (long long)n_samples, (double)n_samples / LAVR_AUDIO_SAMPLE_RATE, (long long)t50);
    const int64_t clips = lavr_audio_num_clips(t30, frames_per_clip, fps);
    const int64_t n_video = clips * frames_per_clip, num_states = cfg->num_layers + 1;

    float *normalized = NULL;
    lavr_status st;
    TRY_GOTO(lavr_arena_alloc(work, (size_t)n_samples * sizeof(float), "normalized audio", (void **)&normalized), st,
             fail);
    TRY_GOTO(lavr_audio_normalize(wave, n_samples, normalized), st, fail);
    TRY_GOTO(lavr_tensor_alloc(arena, LAVR_F32, 3, (int64_t[]){n_video, num_states, cfg->hidden}, "audio features",
                               &out->features), st, fail);
    bucket_target target = {.out = out->features.data, .num_states = num_states, .n_video = n_video, .fps = fps};
    TRY_GOTO(lavr_w2v_forward_states(model, normalized, n_samples, work, bucket_into, &target), st, fail);
    lavr_arena_free(work, normalized);
    out->clips = clips;
    out->frames_50hz = t50;
    out->frames_30hz = t30;
    return LAVR_OK;
fail:
    lavr_arena_free(work, normalized);
    lavr_audio_features_free(out);
    return st;
}

void lavr_audio_features_free(lavr_audio_features *f) {
    if (!f) return;
    lavr_tensor_free(&f->features);
    memset(f, 0, sizeof *f);
}
