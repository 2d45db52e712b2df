/* LiveAvatar's audio feature path: normalisation, 50 -> 30 Hz interpolation and 25 fps bucketing
 * (Wan's linear_interpolation + get_audio_embed_bucket_fps with m = 0), mirroring the reference's
 * floating-point formulas where they decide an integer (lengths, indices, clip counts). */
#include "models/audio_features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double lavr_audio_sum(const float *wave, int64_t n, double sum) {
    for (int64_t i = 0; i < n; i++) sum += wave[i];
    return sum;
}

double lavr_audio_sum_sq_dev(const float *wave, int64_t n, double mean, double sumsq) {
    for (int64_t i = 0; i < n; i++) sumsq += ((double)wave[i] - mean) * ((double)wave[i] - mean);
    return sumsq;
}

lavr_audio_norm lavr_audio_norm_finish(double sum, double sumsq_dev, int64_t n) {
    return (lavr_audio_norm){.mean = sum / (double)n, .inv_std = 1.0 / sqrt(sumsq_dev / (double)n + 1e-7)};
}

void lavr_audio_norm_apply(const lavr_audio_norm *norm, const float *wave, int64_t n, float *out) {
    for (int64_t i = 0; i < n; i++) out[i] = (float)(((double)wave[i] - norm->mean) * norm->inv_std);
}

lavr_status lavr_audio_normalize(const float *wave, int64_t n, float *out) {
    CHECK_ARG(wave && out && n >= 1, "lavr_audio_normalize: need a non-empty waveform (got %lld samples)", (long long)n);
    const double sum = lavr_audio_sum(wave, n, 0.0);
    const lavr_audio_norm norm = lavr_audio_norm_finish(sum, lavr_audio_sum_sq_dev(wave, n, sum / (double)n, 0.0), n);
    lavr_audio_norm_apply(&norm, wave, n, out);
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

/* Source rows i0, i1 and weights of output frame j (PyTorch's linear upsampling, align_corners). */
typedef struct {
    int64_t i0, i1;
    float l0, l1;
} interp_point;

static interp_point interp_at(int64_t t_in, float scale, int64_t j) {
    const float u = scale * (float)j;
    interp_point p;
    p.i0 = (int64_t)u;
    if (p.i0 > t_in - 1) p.i0 = t_in - 1;
    p.i1 = p.i0 < t_in - 1 ? p.i0 + 1 : p.i0;
    p.l1 = u - (float)p.i0;
    p.l1 = p.l1 < 0.0f ? 0.0f : (p.l1 > 1.0f ? 1.0f : p.l1);
    p.l0 = 1.0f - p.l1;
    return p;
}

static void blend(const float *a, const float *b, const interp_point *p, int64_t dim, float *y) {
    for (int64_t c = 0; c < dim; c++) y[c] = p->l0 * a[c] + p->l1 * b[c];
}

static void interp_row(const float *x, int64_t t_in, int64_t dim, float scale, int64_t j, float *y) {
    const interp_point p = interp_at(t_in, scale, j);
    blend(x + p.i0 * dim, x + p.i1 * dim, &p, dim, y);
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

/* ---- bucketing while the states stream ----------------------------------------------------------- */

struct lavr_audio_bucketer {
    int64_t t50, t30, dim, n_video, batch;
    double fps;
    float scale;
    lavr_audio_frames_fn fn;
    void *user;
    int64_t state;     /* the state being bucketed, -1 before the first row */
    int64_t next_row;  /* its rows seen so far */
    int64_t next_frame;
    float *prev;       /* the last row seen (rows of a push may interpolate with it) */
    float *frames;     /* [batch, dim] frames not yet handed on */
    int64_t nframes;
};

lavr_status lavr_audio_bucketer_create(int64_t t50, int64_t dim, int64_t n_video, double fps, int64_t batch,
                                       lavr_audio_frames_fn fn, void *user, lavr_audio_bucketer **out) {
    CHECK_ARG(out && fn && dim >= 1 && n_video >= 1 && fps > 0.0 && batch >= 1,
              "lavr_audio_bucketer_create: bad arguments (dim %lld, %lld frames, batch %lld)", (long long)dim,
              (long long)n_video, (long long)batch);
    *out = NULL;
    const int64_t t30 = lavr_audio_feat30_len(t50);
    CHECK_ARG(t30 >= 1, "audio too short: %lld wav2vec2 frames give no 30 Hz feature frame", (long long)t50);
    lavr_audio_bucketer *b = calloc(1, sizeof *b);
    if (b) {
        b->prev = malloc((size_t)dim * sizeof(float));
        b->frames = malloc((size_t)(batch * dim) * sizeof(float));
    }
    if (!b || !b->prev || !b->frames) {
        lavr_audio_bucketer_destroy(b);
        return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the audio bucketing of %lld x %lld", (long long)batch,
                         (long long)dim);
    }
    *b = (lavr_audio_bucketer){.t50 = t50, .t30 = t30, .dim = dim, .n_video = n_video, .batch = batch, .fps = fps,
                               .scale = interp_scale(t50, t30), .fn = fn, .user = user, .state = -1,
                               .prev = b->prev, .frames = b->frames};
    *out = b;
    return LAVR_OK;
}

void lavr_audio_bucketer_destroy(lavr_audio_bucketer *b) {
    if (!b) return;
    free(b->prev);
    free(b->frames);
    free(b);
}

static lavr_status hand_on(lavr_audio_bucketer *b) {
    if (b->nframes == 0) return LAVR_OK;
    lavr_status st = b->fn(b->user, b->state, b->next_frame - b->nframes, b->nframes, b->frames);
    b->nframes = 0;
    return st;
}

/* Frames of the current state whose source rows are in: rows [first, first + rows) of `rows`, and
 * row first - 1 in b->prev. Frames past the 30 Hz features are zeros. */
static lavr_status emit(lavr_audio_bucketer *b, int64_t first, int64_t rows, const float *state) {
    const int64_t dim = b->dim, end = first + rows;
    while (b->next_frame < b->n_video) {
        const int64_t j = lavr_audio_frame_index(b->next_frame, b->n_video, b->fps);
        float *dst = b->frames + b->nframes * dim;
        if (j < b->t30) {
            const interp_point p = interp_at(b->t50, b->scale, j);
            if (p.i1 >= end) break; /* waits for the next rows */
            if (p.i0 < first - 1)
                return LAVR_FAIL(LAVR_E_INTERNAL, "audio bucketing: row %lld is gone (rows from %lld)",
                                 (long long)p.i0, (long long)first);
            const float *a = p.i0 < first ? b->prev : state + (p.i0 - first) * dim;
            const float *c = p.i1 < first ? b->prev : state + (p.i1 - first) * dim;
            blend(a, c, &p, dim, dst);
        } else {
            memset(dst, 0, (size_t)dim * sizeof(float));
        }
        b->nframes++;
        b->next_frame++;
        /* batches end at multiples of batch (clip boundaries) and at the last frame */
        if (b->next_frame % b->batch == 0 || b->next_frame == b->n_video) TRY(hand_on(b));
    }
    return LAVR_OK;
}

lavr_status lavr_audio_bucketer_push(lavr_audio_bucketer *b, int64_t index, int64_t first, int64_t rows,
                                     const float *state) {
    CHECK_ARG(b && state && rows >= 1, "lavr_audio_bucketer_push: bad arguments");
    if (index != b->state) {
        CHECK_ARG(b->state < 0 || b->next_row == b->t50, "audio bucketing: state %lld began before state %lld ended",
                  (long long)index, (long long)b->state);
        b->state = index, b->next_row = 0, b->next_frame = 0, b->nframes = 0;
    }
    CHECK_ARG(first == b->next_row && first + rows <= b->t50,
              "audio bucketing: rows [%lld, %lld) of state %lld out of order (expected row %lld of %lld)",
              (long long)first, (long long)(first + rows), (long long)index, (long long)b->next_row, (long long)b->t50);
    TRY(emit(b, first, rows, state));
    memcpy(b->prev, state + (rows - 1) * b->dim, (size_t)b->dim * sizeof(float));
    b->next_row = first + rows;
    if (b->next_row == b->t50 && b->next_frame < b->n_video)
        return LAVR_FAIL(LAVR_E_INTERNAL, "audio bucketing: state %lld ended with %lld of %lld frames",
                         (long long)index, (long long)b->next_frame, (long long)b->n_video);
    return LAVR_OK;
}

/* ---- whole states in memory -------------------------------------------------------------------------- */

typedef struct {
    float *out;
    int64_t num_states, dim;
} frame_target;

static lavr_status store_frames(void *user, int64_t state_index, int64_t first, int64_t n, const float *frames) {
    const frame_target *t = user;
    for (int64_t k = 0; k < n; k++)
        memcpy(t->out + ((first + k) * t->num_states + state_index) * t->dim, frames + k * t->dim,
               (size_t)t->dim * sizeof(float));
    return LAVR_OK;
}

lavr_status lavr_audio_bucket_state(const float *state, int64_t t50, int64_t dim, int64_t state_index,
                                    int64_t num_states, int64_t n_video, double fps, float *out) {
    CHECK_ARG(state && out && dim >= 1 && n_video >= 1 && fps > 0.0 && state_index >= 0 && state_index < num_states,
              "lavr_audio_bucket_state: bad arguments (state %lld of %lld, dim %lld, %lld frames)",
              (long long)state_index, (long long)num_states, (long long)dim, (long long)n_video);
    frame_target target = {.out = out, .num_states = num_states, .dim = dim};
    lavr_audio_bucketer *b = NULL;
    TRY(lavr_audio_bucketer_create(t50, dim, n_video, fps, LAVR_FRAMES_PER_CLIP, store_frames, &target, &b));
    lavr_status st = lavr_audio_bucketer_push(b, state_index, 0, t50, state);
    lavr_audio_bucketer_destroy(b);
    return st;
}

static lavr_status read_normalized(void *user, int64_t first, int64_t n, float *out) {
    memcpy(out, (const float *)user + first, (size_t)n * sizeof(float));
    return LAVR_OK;
}

static lavr_status bucket_rows(void *user, int64_t index, int64_t first, int64_t rows, int64_t frames, int64_t hidden,
                               const float *state) {
    (void)frames, (void)hidden;
    return lavr_audio_bucketer_push(user, index, first, rows, state);
}

lavr_status lavr_audio_encode_stream(lavr_w2v *model, int64_t n_samples, lavr_w2v_input_fn input, void *input_user,
                                     double fps, int64_t frames_per_clip, lavr_arena *work, const char *scratch_dir,
                                     lavr_audio_frames_fn fn, void *user, int64_t *clips) {
    CHECK_ARG(model && input && work && fn && clips, "lavr_audio_encode_stream: NULL argument");
    CHECK_ARG(fps > 0.0 && frames_per_clip > 0, "lavr_audio_encode: fps %g and frames per clip %lld must be positive",
              fps, (long long)frames_per_clip);
    const lavr_w2v_config *cfg = lavr_w2v_config_of(model);
    const int64_t t50 = lavr_w2v_num_frames(cfg, n_samples), t30 = lavr_audio_feat30_len(t50);
    CHECK_ARG(t30 >= 1, "audio too short: %lld samples (%.3f s at 16 kHz) give %lld wav2vec2 frames and no 30 Hz frame",
              (long long)n_samples, (double)n_samples / LAVR_AUDIO_SAMPLE_RATE, (long long)t50);
    *clips = lavr_audio_num_clips(t30, frames_per_clip, fps);
    lavr_audio_bucketer *b = NULL;
    TRY(lavr_audio_bucketer_create(t50, cfg->hidden, *clips * frames_per_clip, fps, frames_per_clip, fn, user, &b));
    lavr_status st = lavr_w2v_forward_stream(model, n_samples, input, input_user, work, scratch_dir, bucket_rows, b);
    lavr_audio_bucketer_destroy(b);
    return st;
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
    frame_target target = {.out = out->features.data, .num_states = num_states, .dim = cfg->hidden};
    int64_t got_clips = 0;
    TRY_GOTO(lavr_audio_encode_stream(model, n_samples, read_normalized, normalized, fps, frames_per_clip, work, NULL,
                                      store_frames, &target, &got_clips), st, fail);
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
