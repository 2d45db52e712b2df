/* LiveAvatar's audio path around wav2vec2: waveform normalisation, 50 Hz -> 30 Hz interpolation and
 * the 25 fps bucketing of all hidden states into per-video-frame features (model-spec §3.2, system §1.3). */
#ifndef LAVR_MODELS_AUDIO_FEATURES_H
#define LAVR_MODELS_AUDIO_FEATURES_H

#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "core/tensor.h"
#include "models/wav2vec2.h"

#define LAVR_AUDIO_SAMPLE_RATE 16000 /* wav2vec2 input rate (librosa.load(sr=16000)) */
#define LAVR_W2V_FRAME_RATE 50       /* wav2vec2 output rate: conv stack stride 320 at 16 kHz */
#define LAVR_AUDIO_FEAT_RATE 30      /* Wan's `video_rate`: the features are resampled to 30 Hz */
#define LAVR_VIDEO_FPS 25            /* LiveAvatar's output frame rate (system §1.3) */
#define LAVR_FRAMES_PER_CLIP 48      /* LiveAvatar's infer_frames: video frames per clip */

/* Per-utterance zero-mean unit-variance normalisation of Wav2Vec2FeatureExtractor:
 * (x - mean) / sqrt(var + 1e-7) with the population variance. out may alias wave; n >= 1. */
lavr_status lavr_audio_normalize(const float *wave, int64_t n, float *out);
/* The same in passes over chunks (a file too long to hold): sum = lavr_audio_sum over every chunk in
 * order (starting from 0), then sumsq = lavr_audio_sum_sq_dev over every chunk with mean = sum / n,
 * then norm_finish; norm_apply gives each chunk's values, bit for bit those of lavr_audio_normalize. */
typedef struct {
    double mean, inv_std;
} lavr_audio_norm;
double lavr_audio_sum(const float *wave, int64_t n, double sum);
double lavr_audio_sum_sq_dev(const float *wave, int64_t n, double mean, double sumsq);
lavr_audio_norm lavr_audio_norm_finish(double sum, double sumsq_dev, int64_t n);
void lavr_audio_norm_apply(const lavr_audio_norm *norm, const float *wave, int64_t n, float *out);

/* Length at 30 Hz of t50 frames at 50 Hz: int(t50 / 50 * 30) evaluated in double as the
 * reference does, which is one less than 3*t50/5 for some multiples of 5 (t50 = 205 -> 122). */
int64_t lavr_audio_feat30_len(int64_t t50);

/* Linear interpolation along time with align_corners=True (F.interpolate, fp32 arithmetic as in
 * PyTorch): x [t_in, dim] -> y [t_out, dim]. t_in >= 1, t_out >= 1. */
lavr_status lavr_audio_interpolate(const float *x, int64_t t_in, int64_t dim, int64_t t_out, float *y);

/* Number of clips the reference generates for t30 feature frames:
 * int(t30 / (frames_per_clip * 30 / fps)) + 1 (always at least one, one extra on an exact fit). */
int64_t lavr_audio_num_clips(int64_t t30, int64_t frames_per_clip, double fps);

/* 30 Hz feature index of video frame k out of n_video: round-half-even of k / fps * 30 as numpy
 * computes it in get_sample_indices (k * 1.2 rounded at 25 fps). */
int64_t lavr_audio_frame_index(int64_t k, int64_t n_video, double fps);

/* Bucketing of one hidden state: state [t50, dim] at 50 Hz is interpolated to t30 =
 * lavr_audio_feat30_len(t50) frames and video frame k takes feature frame
 * lavr_audio_frame_index(k) (zeros when that is >= t30). Writes out[k, state_index, :] of
 * out [n_video, num_states, dim] for every k. */
lavr_status lavr_audio_bucket_state(const float *state, int64_t t50, int64_t dim, int64_t state_index,
                                    int64_t num_states, int64_t n_video, double fps, float *out);

/* Bucketing of states that arrive in row tiles (lavr_w2v_forward_stream): every video frame of a
 * state is handed to fn as soon as the two 50 Hz rows it interpolates are in, in batches of
 * `batch` frames that end at multiples of batch (clip ends) and at the last frame, with the values
 * of lavr_audio_bucket_state. The states come one after the other, each in row order. */
typedef lavr_status (*lavr_audio_frames_fn)(void *user, int64_t state_index, int64_t first_frame, int64_t nframes,
                                            const float *frames /* [nframes, dim] */);
typedef struct lavr_audio_bucketer lavr_audio_bucketer;
lavr_status lavr_audio_bucketer_create(int64_t t50, int64_t dim, int64_t n_video, double fps, int64_t batch,
                                       lavr_audio_frames_fn fn, void *user, lavr_audio_bucketer **out);
lavr_status lavr_audio_bucketer_push(lavr_audio_bucketer *b, int64_t index, int64_t first, int64_t rows,
                                     const float *state);
void lavr_audio_bucketer_destroy(lavr_audio_bucketer *b);

/* The whole chain in constant memory: wav2vec2 over n_samples of normalised waveform from input
 * (global attention, scratch files in scratch_dir: lavr_w2v_forward_stream), every state bucketed
 * as it streams and handed to fn one clip of frames_per_clip frames of one state at a time
 * (states 0..num_layers, each over clips 0..clips-1). *clips: the clips the audio gives. */
lavr_status lavr_audio_encode_stream(lavr_w2v *model, int64_t n_samples, lavr_w2v_input_fn input, void *input_user,
                                     double fps, int64_t frames_per_clip, lavr_arena *work, const char *scratch_dir,
                                     lavr_audio_frames_fn fn, void *user, int64_t *clips);

/* The audio features of one file, as the DiT's audio encoder consumes them. */
typedef struct {
    lavr_tensor features;  /* f32 [n_video, num_layers + 1, hidden] (video frame, state, channel) */
    int64_t clips;         /* n_video = clips * frames_per_clip */
    int64_t frames_50hz;   /* wav2vec2 output frames */
    int64_t frames_30hz;   /* after interpolation */
} lavr_audio_features;

/* The whole chain on a 16 kHz mono waveform in memory: normalisation, then lavr_audio_encode_stream
 * into out->features (taken from arena; the output alone is linear in the length). */
lavr_status lavr_audio_encode(lavr_w2v *model, const float *wave, int64_t n_samples, double fps,
                              int64_t frames_per_clip, lavr_arena *arena, lavr_arena *work,
                              lavr_audio_features *out);
void lavr_audio_features_free(lavr_audio_features *f);

#endif
