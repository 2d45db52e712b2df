/* Wan2.1 VAE (model-spec §5): chunked causal encoder (video -> normalised latents) and a streaming
 * decoder whose per-conv caches live in an explicit state object that resume can checkpoint.
 *
 * The network runs on an execution context (kernels/ctx.h: the CPU, or a CUDA device with bf16 activations);
 * inputs and outputs are host tensors either way. Video/frames are float32 [3, T, H, W] in [-1, 1];
 * latents are [z_dim, T_lat, H/8, W/8] normalised with the per-channel mean/std of the spec.
 * Streaming guarantee: decoding latent frames one by one, a few at a time or all at once through
 * one state gives the same frames (bit-identical on the CPU): the very first latent of a stream
 * yields 1 frame, every later latent 4 frames, and the output equals one causal pass over the whole
 * latent sequence. */
#ifndef LAVR_MODELS_VAE_H
#define LAVR_MODELS_VAE_H

#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "core/tensor.h"
#include "io/h5model.h"
#include "kernels/ctx.h"
#include "models/config.h"

typedef struct {
    /* 1 (default): round to bf16 where the reference's bf16 autocast run does: conv inputs, conv
     * results before and after the bias add, residual sums, attention output, the encoder's
     * (μ − mean)·(1/std); 0: plain fp32 activations (weights stay as stored). */
    int bf16_activations;
    /* 0 (default): latent mean/std rounded to bf16 as LiveAvatar does (1/std then rounded again);
     * 1: the fp32 constants of Wan. Changes the latents by up to ~0.4% relative. */
    int fp32_latent_scale;
    /* Where the network runs and its weights and activations live (borrowed, must outlive the VAE);
     * NULL: the CPU, with everything in the arena given to lavr_vae_create. A CUDA context needs
     * bf16_activations = 1. */
    lavr_ctx *ctx;
} lavr_vae_options;

lavr_vae_options lavr_vae_options_default(void);

typedef struct lavr_vae lavr_vae;
typedef struct lavr_vae_decoder_state lavr_vae_decoder_state;

/* Loads every tensor under `prefix` ("weights/" in golden files, "vae/" in lavr checkpoints) with
 * the names and shapes the config implies (model-spec §5.2); a missing tensor or a wrong shape is
 * an error naming it. Weights and all scratch come from `arena`. opts may be NULL (defaults). */
lavr_status lavr_vae_create(lavr_h5file *f, const char *prefix, const lavr_vae_config *cfg,
                            const lavr_vae_options *opts, lavr_arena *arena, lavr_vae **out);
/* The same network with lavr init's deterministic random weights for seed (models/init_weights.h), for
 * benchmarks at full size without a checkpoint. */
lavr_status lavr_vae_create_generated(const lavr_vae_config *cfg, uint64_t seed, const lavr_vae_options *opts,
                                      lavr_arena *arena, lavr_vae **out);
void lavr_vae_destroy(lavr_vae *vae);
/* The context the VAE runs on. */
lavr_ctx *lavr_vae_ctx(const lavr_vae *vae);

/* Spatial factor between pixels and latents (8 for dim_mult of 4 levels). */
int64_t lavr_vae_spatial_factor(const lavr_vae *vae);

/* video F32 [3, T, H, W] with T = 1 + 4k and H, W multiples of the spatial factor ->
 * latent F32 [z_dim, 1 + k, H/8, W/8] (caller-allocated, contiguous). Processes the frames in the
 * reference's chunks {0}, {1..4}, {5..8}, ... with causal caches starting from zero history. */
lavr_status lavr_vae_encode(lavr_vae *vae, const lavr_tensor *video, lavr_tensor *latent);

/* A decoder stream for latents of h x w. Caches start as zero history (stream start); they live on the VAE's
 * context, arena holds host-side scratch. */
lavr_status lavr_vae_decoder_state_create(const lavr_vae *vae, lavr_arena *arena, int64_t h, int64_t w,
                                          lavr_vae_decoder_state **out);
void lavr_vae_decoder_state_destroy(lavr_vae_decoder_state *state);
/* Back to the stream start (zero caches, next latent yields 1 frame). */
void lavr_vae_decoder_state_reset(lavr_vae_decoder_state *state);
/* Latent frames decoded through this state so far. */
int64_t lavr_vae_decoder_state_position(const lavr_vae_decoder_state *state);
/* Frames the next decode of t latents returns: 1 + 4(t-1) at the stream start, else 4t. */
int64_t lavr_vae_decode_frame_count(const lavr_vae_decoder_state *state, int64_t t);

/* latents F32 [z_dim, T, h, w] (T >= 1, the state's h, w) -> frames F32 [3, n, 8h, 8w] with
 * n = lavr_vae_decode_frame_count(state, T), clamped to [-1, 1]; advances the state. Runs in chunks of at
 * most LAVR_VAE_DECODE_CHUNK latents (after the stream's first latent, a chunk of its own), which the
 * streaming guarantee makes equal to any other split and which bounds the activation memory. After an
 * error the state is partway through the call: reset it or restore a checkpoint. */
#define LAVR_VAE_DECODE_CHUNK 3
lavr_status lavr_vae_decode(lavr_vae *vae, lavr_vae_decoder_state *state, const lavr_tensor *latents,
                            lavr_tensor *frames);

/* Checkpointing: the state is a flat list of named tensors — "position" (I64 [1], latents decoded)
 * and "<conv module>.cache" (F32 [C, frames, h, w], the last input frames each causal conv saw; host
 * tensors on every context, so a checkpoint moves between the CPU and CUDA).
 * visit calls fn for each in a fixed order (a non-zero return stops the walk and is returned);
 * restore copies one saved tensor back by name (unknown name or shape mismatch is an error). A
 * state restored from every visited tensor continues exactly as the saved one would. */
typedef lavr_status (*lavr_vae_state_visit_fn)(const char *name, const lavr_tensor *t, void *user);
lavr_status lavr_vae_decoder_state_visit(const lavr_vae_decoder_state *state, lavr_vae_state_visit_fn fn,
                                         void *user);
lavr_status lavr_vae_decoder_state_restore(lavr_vae_decoder_state *state, const char *name,
                                           const lavr_tensor *t);

#endif
