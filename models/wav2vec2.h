/* wav2vec2 (XLSR-53 layout: layer-normed conv feature extractor, stable-layer-norm encoder) on the
 * CPU in fp32, returning every hidden state as LiveAvatar's audio path needs (model-spec §3.1).
 *
 * Long audio: the encoder attends over the whole file, as the reference does; nothing here is
 * quadratic in memory. The conv stack runs in tiles of output frames (its receptive field is
 * 400 samples), the positional conv and every per-frame linear in row tiles, and attention is
 * the flash-style lavr_op_attention (no score matrix), so the footprint is a few [frames, hidden]
 * buffers (h, K, V) plus fixed-size tiles: 2.2 GB for an hour at XLSR size (T = 180,000 frames x
 * 1024 x 4 B x 3). Time stays quadratic through attention: an hour is ~3.2e15 FLOP of attention
 * (24 layers x 4 T^2 x 1024) against ~1.3e14 for everything else; at the ~5-10 GFLOP/s measured
 * for lavr_op_attention on 2 shared cores (tests' machine) that is days, so the CPU path suits
 * minutes of audio (1 min: ~9e11 + 2e12 FLOP, a few minutes). */
#ifndef LAVR_MODELS_WAV2VEC2_H
#define LAVR_MODELS_WAV2VEC2_H

#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "io/h5model.h"
#include "models/config.h"

typedef struct lavr_w2v lavr_w2v;

/* Loads the weights stored under prefix ("weights/" in golden files, "wav2vec2/" in lavr
 * checkpoints) with Hugging Face state-dict names, with or without the leading "wav2vec2."
 * (Wav2Vec2ForCTC vs Wav2Vec2Model). The positional conv may be stored as weight_g/weight_v,
 * as parametrizations.weight.original0/original1, or already fused as weight. Every tensor's
 * shape is checked against cfg. Only the stable-layer-norm (pre-LN) layout is supported. */
lavr_status lavr_w2v_create(lavr_h5file *file, const char *prefix, const lavr_w2v_config *cfg, lavr_w2v **out);
void lavr_w2v_destroy(lavr_w2v *model);
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

/* Receives hidden state `index` (0 = embedding output, num_layers = the last, see above),
 * [frames, hidden] fp32, valid only during the call. A non-zero return stops the forward. */
typedef lavr_status (*lavr_w2v_state_fn)(int64_t index, const float *state, int64_t frames, int64_t hidden,
                                         void *user);

/* Runs the network on a normalised waveform (lavr_audio_normalize) and hands the num_layers + 1
 * hidden states to fn in order. Scratch comes from work. */
lavr_status lavr_w2v_forward_states(lavr_w2v *model, const float *input, int64_t n_samples, lavr_arena *work,
                                    lavr_w2v_state_fn fn, void *user);
/* All hidden states into hidden_states [num_layers + 1, frames, hidden], frames =
 * lavr_w2v_num_frames(). */
lavr_status lavr_w2v_forward(lavr_w2v *model, const float *input, int64_t n_samples, lavr_arena *work,
                             float *hidden_states);

#endif
