/* The VAE side of a render (liveavatar-system §1.9): a streaming decoder primed with the first 7 motion
 * latents (their 25 frames discarded), then one clean latent block of 3 latents at a time -> 12 video
 * frames, the first 3 frames of the video dropped. Used by `lavr decode-latents` and the render's aux rank.
 *
 * Frame count: B blocks give 12·B - 3 frames, i.e. 48·clips - 3 for the 4 blocks of each clip. */
#ifndef LAVR_MODELS_DECODE_STREAM_H
#define LAVR_MODELS_DECODE_STREAM_H

#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "core/tensor.h"
#include "models/vae.h"

#define LAVR_DECODE_PRIME_LATENTS 7 /* motion latents decoded before the first block */
#define LAVR_DECODE_BLOCK_LATENTS 3 /* latents per block (liveavatar-system §1.7) */
#define LAVR_DECODE_BLOCK_FRAMES 12 /* frames a block decodes to after the priming: 4 per latent */
#define LAVR_DECODE_DROP_FRAMES 3   /* frames of the first block that are not written */

typedef struct lavr_decode_stream lavr_decode_stream;

/* A stream for latents of h x w given by motion: F32 [z_dim, T >= 7, h, w], whose first 7 latents prime
 * the decoder caches. The decoder state and the priming scratch come from arena. A resumed stream is
 * created the same way, then restored (lavr_decode_stream_restore overwrites the primed state). */
lavr_status lavr_decode_stream_create(lavr_vae *vae, const lavr_tensor *motion, lavr_arena *arena,
                                      lavr_decode_stream **out);
void lavr_decode_stream_destroy(lavr_decode_stream *s);

/* Frames the next push writes: 9 for the video's first block, 12 after. */
int64_t lavr_decode_stream_frame_count(const lavr_decode_stream *s);
/* Blocks decoded so far (0 = the next block is the video's first). */
int64_t lavr_decode_stream_blocks(const lavr_decode_stream *s);

/* latent: one clean block, contiguous float [z_dim, 3, h, w]. frames: room for [3, 12, 8h, 8w] floats;
 * receives *count = lavr_decode_stream_frame_count(s) frames as a contiguous [3, *count, 8h, 8w] in
 * [-1, 1]. After an error the stream is partway through the block: restore a checkpoint. */
lavr_status lavr_decode_stream_push(lavr_decode_stream *s, const float *latent, float *frames, int64_t *count);

/* Checkpointing: "blocks" (I64 [1]) followed by the decoder state's tensors (lavr_vae_decoder_state_visit
 * names). restore takes any of them back by name; a stream restored from every visited tensor continues
 * exactly as the saved one. */
lavr_status lavr_decode_stream_visit(const lavr_decode_stream *s, lavr_vae_state_visit_fn fn, void *user);
lavr_status lavr_decode_stream_restore(lavr_decode_stream *s, const char *name, const lavr_tensor *t);

#endif
