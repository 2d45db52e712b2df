/* LiveAvatar's streaming block-wise sampling as lavr keys it (liveavatar-system §1.6-1.8): the
 * per-block initial noise and the per-(block, step) sink offset from the project RNG, and a
 * single-process runner (all steps, one cache per step) that `lavr dit-run` uses. */
#ifndef LAVR_MODELS_STREAMING_H
#define LAVR_MODELS_STREAMING_H

#include <stdint.h>

#include "core/status.h"
#include "models/dit.h"
#include "models/sampler.h"

#define LAVR_BLOCKS_PER_CLIP 4 /* 12 latent frames per clip / 3 per block */

typedef struct {
    uint64_t seed;
    int64_t fixed_sink_offset; /* 0: draw d in [4, 30] per (clip, block, step); 4..30: always this d */
} lavr_stream_options;

/* Initial noise of block (clip, block): [C, F, h, w] standard normals rounded to bf16, element i of the
 * block is sample i of stream (LAVR_STREAM_NOISE, clip, block, 0). */
void lavr_stream_noise(uint64_t seed, int64_t clip, int64_t block, int64_t C, int64_t F, int64_t h, int64_t w,
                       float *x);
/* The sink offset d of (clip, block, step): the fixed one, or randint(4, 30) of stream
 * (LAVR_STREAM_SINK_OFFSET, clip, block, step). */
int64_t lavr_stream_sink_offset(const lavr_stream_options *o, int64_t clip, int64_t block, int64_t step);

/* Conditioning a stream needs besides the model's text context (lavr_dit_set_context first). */
typedef struct {
    const float *ref;     /* [C, 1, h, w]: the reference latent of clip 0 */
    const float *motion;  /* [C, 19, h, w] */
    const float *audio;   /* [frames, states, audio_dim] (video frame major, bf16 values) */
    int64_t audio_frames; /* >= 48 * clips */
    int64_t h, w;
} lavr_stream_inputs;

typedef struct lavr_stream lavr_stream;
/* One step cache per denoising step; sink prefilled at clip 0 (and again at clip 1 with the clean
 * frame 0 of block 0 as the reference). */
lavr_status lavr_stream_create(const lavr_dit *m, const lavr_stream_inputs *in, const lavr_stream_options *o,
                               lavr_stream **out);
void lavr_stream_destroy(lavr_stream *s);
/* Renders the next block (blocks go 0, 1, 2, ... = 4*clip + block) through all 4 steps and writes its
 * clean latent [C, F, h, w] (bf16 values). */
lavr_status lavr_stream_next_block(lavr_stream *s, float *latent);

#endif
