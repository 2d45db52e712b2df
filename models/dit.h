/* LiveAvatar's causal DiT (CausalWanModel_S2V, model-spec §1-2) on the CPU: weights and per-prompt
 * text K/V (lavr_dit), one per-denoising-step KV cache (lavr_dit_step_cache), the sink prefill and
 * the block forward that the streaming sampler and the distributed render call. */
#ifndef LAVR_MODELS_DIT_H
#define LAVR_MODELS_DIT_H

#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "core/tensor.h"
#include "io/h5model.h"
#include "models/config.h"

typedef struct {
    lavr_tensor w, b;
} lavr_dit_linear;

typedef struct {
    lavr_tensor modulation; /* [1,6,d] */
    lavr_dit_linear sq, sk, sv, so, cq, ck, cv, co, ffn0, ffn2;
    lavr_tensor s_norm_q, s_norm_k, c_norm_q, c_norm_k, norm3_w, norm3_b;
} lavr_dit_layer;

typedef struct {
    lavr_dit_linear q, k, v, o, adain;
    lavr_tensor norm_q, norm_k;
} lavr_dit_injector;

typedef struct {
    lavr_tensor layer_logits; /* casual_audio_encoder.weights [1,S,1,1] */
    lavr_dit_linear conv1_local, conv1_global, conv2, conv3, final_linear;
    lavr_tensor padding_tokens; /* [1,1,1,d] */
} lavr_dit_audio_encoder;

/* Tensor-parallel group and layer range of a shard (see "Sharded model" below). */
typedef struct {
    int rank, size; /* size 1: no communication */
    /* in-place fp32 sum over the tp group; must give bit-identical results on every rank */
    lavr_status (*allreduce_sum)(void *ctx, float *buf, int64_t n);
    void *ctx;
} lavr_dit_tp;

typedef struct {
    int64_t layer_begin, layer_end; /* layer_end = -1: up to the last layer */
    lavr_dit_tp tp;
    /* 1: only what the host embeddings read (first shard: patch, cond, time, audio encoder, FramePack); the
     * layers, injectors, text MLP and head are not loaded (a device engine that makes its own weights) */
    int embeddings_only;
} lavr_dit_shard;

typedef struct lavr_dit {
    lavr_dit_config cfg;
    lavr_arena *arena; /* owns the weights and the text K/V */
    lavr_dit_linear patch, cond, text0, text2, time0, time2, time_proj, head, fp_proj, fp_proj2, fp_proj4;
    lavr_tensor head_modulation, cond_mask;
    lavr_dit_audio_encoder audio;
    lavr_dit_layer *layers;       /* the shard's layers: layers[l - shard.layer_begin] */
    lavr_dit_injector *injectors; /* [n_inject]; loaded only for the shard's injection layers */
    int *inject_of_layer; /* injector index after layer l (global index), or -1 */
    /* cross-attention K/V of the prompt, [shard layers][text_len][width] (bf16 values); NULL until set */
    float *text_k, *text_v;
    lavr_dit_shard shard; /* layer_end resolved; the full model is [0, num_layers) with tp size 1 */
    int64_t heads, width, ffn; /* this shard's attention heads, their width heads*head_dim, FFN columns */
} lavr_dit;

/* Loads every DiT tensor from an open HDF5 file. prefix is the group of the state dict
 * ("weights/" in the golden files, "dit/" in lavr checkpoints); config_obj the object holding the
 * JSON `config` attribute ("/" or "/dit"). A missing tensor or a wrong shape is an error naming it. */
lavr_status lavr_dit_load(lavr_h5file *f, const char *prefix, const char *config_obj, lavr_dit **out);
void lavr_dit_destroy(lavr_dit *m);

/* Embeds the prompt (T5 output [rows, text_dim], rows <= text_len, zero-padded to text_len) and
 * computes the cross-attention K/V of the shard's layers and heads once (model-spec §1.7); with
 * tp.size > 1 it is collective over the tp group (the K RMSNorm statistics are all-reduced). */
lavr_status lavr_dit_set_context(lavr_dit *m, const float *context, int64_t rows);

/* Token geometry of a latent grid h x w (multiples of 2). */
typedef struct {
    int64_t h, w;        /* latent size */
    int64_t hp, wp, P;   /* patch grid and tokens per latent frame */
    int64_t block_tokens;/* frames_per_block * P */
    int64_t window;      /* tokens of the rolling window: 4 blocks */
    int64_t n_post, n_2x, n_4x, sink; /* FramePack groups and the sink: P + n_post + n_2x + n_4x */
} lavr_dit_geometry;
lavr_status lavr_dit_geometry_of(const lavr_dit_config *c, int64_t h, int64_t w, lavr_dit_geometry *g);

/* One denoising step's KV state: per layer a rolling window of 4 blocks (slot = block mod 4,
 * K after RMSNorm and RoPE, V raw) and the sink (K after RMSNorm, before RoPE; V raw), bf16. */
typedef struct lavr_dit_step_cache lavr_dit_step_cache;
lavr_status lavr_dit_cache_create(const lavr_dit *m, int64_t h, int64_t w, lavr_dit_step_cache **out);
void lavr_dit_cache_destroy(lavr_dit_step_cache *c);
const lavr_dit_geometry *lavr_dit_cache_geometry(const lavr_dit_step_cache *c);
/* Copies the sink (K, V, positions) of src into dst (same model and geometry). */
lavr_status lavr_dit_cache_copy_sink(lavr_dit_step_cache *dst, const lavr_dit_step_cache *src);
/* The sink of layer `layer` (global index): [sink, width] bf16 bits each (the shard's heads); NULL
 * before a prefill or for a layer outside the cache's shard. */
void lavr_dit_cache_sink(const lavr_dit_step_cache *c, int64_t layer, const uint16_t **k, const uint16_t **v);
/* Checkpointing: the window of layer `layer` (global index), [window, width] bf16 bits each (the shard's
 * heads), writable; NULL for a layer outside the shard. */
void lavr_dit_cache_window(lavr_dit_step_cache *c, int64_t layer, uint16_t **k, uint16_t **v);
/* Checkpointing: the sink of layer `layer`, writable, for restoring it; marks the sink ready. */
void lavr_dit_cache_sink_restore(lavr_dit_step_cache *c, int64_t layer, uint16_t **k, uint16_t **v);

/* Called with the hidden state [rows, d] after each transformer layer (before its audio injection). */
typedef void (*lavr_dit_layer_hook)(void *user, int64_t layer, const float *x, int64_t rows, int64_t cols);

/* FramePack takes this many motion latents (buckets 16/2/1, model-spec §1.6). */
#define LAVR_DIT_MOTION_LATENTS 19

/* Sink prefill (model-spec §2.3): reference latent [C,1,h,w] and motion latents [C,19,h,w]
 * (fp32, rounded to bf16 on entry) at t = 0 fill the sink of the cache. */
lavr_status lavr_dit_sink_prefill(const lavr_dit *m, lavr_dit_step_cache *c, const float *ref, const float *motion);

/* Per-block inputs of the forward. */
typedef struct {
    const float *x;        /* noisy latent block [C, F, h, w] (bf16 values) */
    const float *pose;     /* pose latent block [cond_dim, F, h, w] or NULL (zeros) */
    float timestep;        /* t_s of this step */
    int64_t block_index;   /* absolute block n = 4*clip + block; first frame f0 = F*n */
    int64_t sink_offset;   /* d in [4,30]: reference frame position max(30, f0 + d) */
    /* audio features [states, audio_dim, total_frames] (bf16 values) and the block's first video
     * frame; the block uses 4*F frames */
    const float *audio;
    int64_t audio_frames, audio_first;
    lavr_dit_layer_hook hook;
    void *hook_user;
} lavr_dit_block_input;

/* One DiT forward of the block against its step cache (writes the block's K/V
 * into slot n mod 4 first) and returns the velocity [C, F, h, w] (bf16 values). The sink prefill and
 * the block forward need a shard with both ends (the full model when tp.size == 1); they are
 * lavr_dit_embed_* + lavr_dit_forward_layers (+ lavr_dit_head) below. */
lavr_status lavr_dit_block_forward(const lavr_dit *m, lavr_dit_step_cache *c, const lavr_dit_block_input *in,
                                   float *velocity);

/* ---- Sharded model (issue 6): tensor parallel over heads / FFN columns, layer ranges ------------
 * A shard holds layers [layer_begin, layer_end) and, with tp.size > 1, heads
 * [tp.rank*H/size, (tp.rank+1)*H/size) of every attention (self, text cross, audio injector) and the
 * same share of FFN columns (Megatron: q/k/v/ffn.0 split by output rows, o/ffn.2 by input columns,
 * one all-reduce of fp32 partial sums after each o (self, text cross, audio) and after ffn.2, bias
 * added after the sum, then the same bf16 rounding as the full model). The q/k RMSNorms span the
 * full width, so their per-row sums of squares are all-reduced too. The embeddings (patch, pose,
 * time, audio encoder, FramePack) live on the shard with layer_begin == 0, the head on the one with
 * layer_end == num_layers; the text embedding MLP on every shard (its layers need the text K/V);
 * audio injector j on the shard holding layer inject_layers[j]. Step caches hold only the shard's
 * layers and heads. With tp.size 1 a shard of any layer range computes exactly the bits of the full
 * model. Loading checks that tp divides the heads and the FFN width and that the range lies inside
 * the model (LAVR_E_ARG otherwise). */
/* The whole model on one rank (what lavr_dit_load uses). */
lavr_dit_shard lavr_dit_shard_full(void);
/* Loads only what the shard needs (row/column hyperslabs of the split tensors). */
lavr_status lavr_dit_load_shard(lavr_h5file *f, const char *prefix, const char *config_obj,
                                const lavr_dit_shard *shard, lavr_dit **out);
const lavr_dit_shard *lavr_dit_shard_of(const lavr_dit *m);

/* What one forward hands from a layer range to the next (pipeline messages carry it as the header
 * ints plus the float buffer): hidden x [rows, d] (bf16 values) after the previous layer, the
 * time embedding e [d] and projection e0 [6, d] of the tokens' timestep, and for a block the audio
 * tokens a_loc [F][num_audio_token + 1][d] and a_glob [F][d]. Token positions are not carried:
 * they follow from prefill / block_index / sink_offset and the geometry. */
typedef struct {
    int64_t prefill;      /* 1: the sink's tokens at t = 0 */
    int64_t block_index;  /* block forwards: n = 4*clip + block */
    int64_t sink_offset;  /* block forwards: d of the reference position max(30, f0 + d) */
    int64_t rows;         /* tokens: block_tokens or sink */
    float timestep;
    float *buf;           /* [x | e | e0 | a_loc | a_glob], floats() long, owned */
    int64_t floats;
    float *x, *e, *e0, *a_loc, *a_glob; /* views into buf */
} lavr_dit_act;

/* Sized for the larger of a block and the sink of geometry g. */
lavr_status lavr_dit_act_create(const lavr_dit *m, const lavr_dit_geometry *g, lavr_dit_act **out);
void lavr_dit_act_destroy(lavr_dit_act *a);
/* First shard only: embed the sink tokens (reference + FramePack motion, t = 0) / a noisy block. */
lavr_status lavr_dit_embed_sink(const lavr_dit *m, const lavr_dit_step_cache *c, const float *ref,
                                const float *motion, lavr_dit_act *a);
lavr_status lavr_dit_embed_block(const lavr_dit *m, const lavr_dit_step_cache *c, const lavr_dit_block_input *in,
                                 lavr_dit_act *a);
/* The two parts of a block's embedding that do not read its latent (first shard): the time embedding e [d] and
 * projection e0 [6, d] of timestep t, and the audio tokens a_loc / a_glob of in's audio frames. They depend only
 * on t and on the block's audio, so a rank may keep them across its steps (ranks/dit_engine_cuda.c does). */
lavr_status lavr_dit_time_embedding(const lavr_dit *m, float t, float *e, float *e0);
lavr_status lavr_dit_audio_tokens(const lavr_dit *m, const lavr_dit_block_input *in, float *a_loc, float *a_glob);
/* The shard's layers (with their audio injections) on a, against the step cache; a prefill fills
 * the sink of the shard's layers (and marks the cache ready), a block writes its K/V slot first. */
lavr_status lavr_dit_forward_layers(const lavr_dit *m, lavr_dit_step_cache *c, lavr_dit_act *a,
                                    lavr_dit_layer_hook hook, void *hook_user);
/* Last shard only: head and unpatchify of a block -> velocity [C, F, h, w] (bf16 values). */
lavr_status lavr_dit_head(const lavr_dit *m, const lavr_dit_step_cache *c, const lavr_dit_act *a, float *velocity);

#endif
