/* wav2vec2 (XLSR-53 layout: layer-normed conv feature extractor, stable-layer-norm encoder), written once against
 * the row ops of kernels/w2v_ops.h: on the CPU in fp32 (the Hugging Face reference) or with LiveAvatar's bf16
 * rounding points, on CUDA in bf16 storage with fp32 accumulation; it returns every hidden state as LiveAvatar's
 * audio path needs (model-spec §3.1).
 *
 * Long audio: the encoder attends over the whole file, as the reference does, in constant memory.
 * The conv stack runs in tiles of output frames (its receptive field is 400 samples), the
 * positional conv and every per-frame linear in row tiles, and attention folds chunks of keys into
 * a flash-style state (no score matrix). The whole audio's [frames, hidden] states (h in and out, K, V)
 * stay on the device when they fit its arena (4 x 368 MB of bf16 for an hour at XLSR size), else live in
 * scratch files (models/w2v_states.h; 4 x 737 MB on disk for an hour, T = 180,000 frames x 1024 x 4 B), so
 * the process holds fixed tiles (~70 MB on the CPU at XLSR size). Time stays quadratic through attention:
 * docs/aux.md gives the cost of 1 h and 10,000 s. */
#ifndef LAVR_MODELS_WAV2VEC2_H
#define LAVR_MODELS_WAV2VEC2_H

#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "io/h5model.h"
#include "kernels/ctx.h"
#include "models/config.h"

typedef struct lavr_w2v lavr_w2v;

typedef struct {
    lavr_ctx *ctx;     /* where it runs (borrowed, outlives the model); NULL: the CPU */
    int bf16;          /* CPU: LiveAvatar's bf16 rounding points (weights and every op's output) instead of fp32;
                          CUDA: always */
    int stream_states; /* CUDA: keep the whole audio's states in scratch files even when they fit the device */
    int own_attention; /* CUDA: lavr's attention kernel even where cuDNN's fused SDPA is available */
    int64_t key_chunk; /* keys per attention fold when the states are streamed (0: 4096 on the CPU, 16384 on CUDA;
                          tests fold many small chunks) */
} lavr_w2v_options;

/* Loads the weights stored under prefix ("weights/" in golden files, "wav2vec2/" in lavr
 * checkpoints) with Hugging Face state-dict names, with or without the leading "wav2vec2."
 * (Wav2Vec2ForCTC vs Wav2Vec2Model). The positional conv may be stored as weight_g/weight_v,
 * as parametrizations.weight.original0/original1, or already fused as weight. Every tensor's
 * shape is checked against cfg. Only the stable-layer-norm (pre-LN) layout is supported. */
lavr_status lavr_w2v_create(lavr_h5file *file, const char *prefix, const lavr_w2v_config *cfg, lavr_w2v **out);
/* The same on o's context and precision (o NULL: the CPU in fp32). */
lavr_status lavr_w2v_create_on(lavr_h5file *file, const char *prefix, const lavr_w2v_config *cfg,
                               const lavr_w2v_options *o, lavr_w2v **out);
/* A model of cfg with weights generated where it lives, for benchmarks and tests of full-size networks without a
 * checkpoint (models/w2v_generated.c): the same values on every device for one seed. */
lavr_status lavr_w2v_create_generated(const lavr_w2v_config *cfg, uint64_t seed, const lavr_w2v_options *o,
                                      lavr_w2v **out);
void lavr_w2v_destroy(lavr_w2v *model);
/* "cpu (fp32)", "cpu (bf16 rounding points)" or the CUDA context. */
const char *lavr_w2v_describe(const lavr_w2v *model);
/* How the last forward ran: its frames, where the whole-audio states lived, the attention path ("" before one). */
const char *lavr_w2v_last_run(const lavr_w2v *model);
const lavr_w2v_config *lavr_w2v_config_of(const lavr_w2v *model);

/* What the last of the num_layers + 1 hidden states is. Transformers 4.x (what LiveAvatar runs,
 * model-spec §3.1) appends the output of the encoder's final LayerNorm: the default. Transformers
 * 5.x (which produced golden/w2v.h5, config "transformers_version": "5.17.0") records each layer's
 * output instead, so its last state is the last layer's output before that LayerNorm. */
typedef enum { LAVR_W2V_LAST_NORMED = 0, LAVR_W2V_LAST_RAW = 1 } lavr_w2v_last_state;
void lavr_w2v_set_last_state(lavr_w2v *model, lavr_w2v_last_state which);

/* 50 Hz frames the conv stack yields for n_samples input samples; 0 when the input is shorter
 * than the receptive field (400 samples). */
int64_t lavr_w2v_num_frames(const lavr_w2v_config *cfg, int64_t n_samples);

/* Supplies samples [first, first + n) of the normalised waveform (lavr_audio_norm_apply's values). */
typedef lavr_status (*lavr_w2v_input_fn)(void *user, int64_t first, int64_t n, float *out);
/* Receives rows [first, first + rows) of hidden state `index` (0 = embedding output, num_layers = the
 * last, see above) of `frames` in all, [rows, hidden] fp32, valid only during the call. Rows come in
 * order, every state whole before the next. A non-zero return stops the forward. */
typedef lavr_status (*lavr_w2v_rows_fn)(void *user, int64_t index, int64_t first, int64_t rows, int64_t frames,
                                        int64_t hidden, const float *state);

/* Runs the network on n_samples of normalised waveform read through `input` (each sample range is
 * asked for once per tile of 256 frames on the CPU, 1024 on CUDA; consecutive tiles overlap by 80 samples)
 * and hands the num_layers + 1 hidden states to fn in row tiles. The whole audio's [frames, hidden] states (a
 * layer's input and output, K and V) stay on the device when they fit, else go to four scratch files in
 * scratch_dir (NULL: $TMPDIR or /tmp, see io/scratch.h); the CPU's tiles of fixed size come from work. */
lavr_status lavr_w2v_forward_stream(lavr_w2v *model, int64_t n_samples, lavr_w2v_input_fn input, void *input_user,
                                    lavr_arena *work, const char *scratch_dir, lavr_w2v_rows_fn fn, void *user);
/* All hidden states of an in-memory waveform into hidden_states [num_layers + 1, frames, hidden],
 * frames = lavr_w2v_num_frames(). */
lavr_status lavr_w2v_forward(lavr_w2v *model, const float *input, int64_t n_samples, lavr_arena *work,
                             float *hidden_states);

#endif
