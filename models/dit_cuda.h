/* The causal DiT on one CUDA device (CUDA builds): a tp shard's bf16 weights, step KV caches and text K/V in a
 * capped device arena, and the layer / audio-injector / head forward of models/dit_block.c enqueued on one stream. */
#ifndef LAVR_MODELS_DIT_CUDA_H
#define LAVR_MODELS_DIT_CUDA_H

#include <stdint.h>

#include "core/status.h"
#include "kernels/cuda/device_arena.h"
#include "kernels/cuda/ops_cuda.h"
#include "models/dit.h"

/* Tensor-parallel group: the sum (and, for FP8 scales, the maximum) over the group of a device fp32 buffer,
 * enqueued on stream (NCCL). graph_safe: the collectives can be captured in a CUDA graph (NCCL can, a host
 * fallback cannot). */
typedef struct {
    int rank, size;
    lavr_status (*allreduce_sum)(void *ctx, float *buf, int64_t n, void *stream);
    void *ctx;
    lavr_status (*allreduce_max)(void *ctx, float *buf, int64_t n, void *stream);
    int graph_safe;
} lavr_dit_cuda_tp;

/* How the device model computes (lavr_dit_cuda_options_default: bf16, cuDNN attention when available, graphs). */
typedef enum { LAVR_DIT_ATTN_AUTO = 0, LAVR_DIT_ATTN_CUDNN, LAVR_DIT_ATTN_OWN } lavr_dit_attn_path;
/* Where the sink's K/V live: SHARED, one copy per rank that every step cache reads (attention = window call +
 * sink call merged by log-sum-exp); CONTIGUOUS, each cache's layer rows are [window ‖ sink] (the re-roped keys
 * and a copy of the values), so a full window is one attention call, for (caches - 1/2) sink copies more. */
typedef enum { LAVR_DIT_SINK_SHARED = 0, LAVR_DIT_SINK_CONTIGUOUS } lavr_dit_sink_layout;
typedef struct {
    int fp8;                     /* FP8 e4m3 Linears of LiveAvatar's --fp8 (per-tensor weight and dynamic activation scales) */
    lavr_dit_attn_path attention; /* AUTO: cuDNN's fused SDPA where it has an engine, else lavr's kernel */
    int graphs;                  /* replay each block-step shape as a CUDA graph after its first run */
    lavr_dit_sink_layout sink;
} lavr_dit_cuda_options;
lavr_dit_cuda_options lavr_dit_cuda_options_default(void);
/* "cudnn" / "own" / "auto" -> the path; anything else LAVR_E_ARG. */
lavr_status lavr_dit_attn_path_parse(const char *text, lavr_dit_attn_path *out);

typedef struct lavr_dit_cuda lavr_dit_cuda;
typedef struct lavr_dit_cuda_cache lavr_dit_cuda_cache;

/* Device-side activation of one forward (same fields as lavr_dit_act): x [rows, d], e [d], e0 [6, d],
 * a_loc [F][num_audio_token + 1][d], a_glob [F][d], fp32 with bf16 values. */
typedef struct {
    int prefill;
    int64_t block_index, sink_offset, rows;
    float *x, *e, *e0, *a_loc, *a_glob;
} lavr_dit_cuda_act;

/* Allocates the weights of every layer of the tp shard (whole layer range: embeddings and head too) and the
 * working buffers for latent h x w from arena; blas and stream are the caller's. Nothing is filled yet. */
lavr_status lavr_dit_cuda_create(const lavr_dit_config *cfg, const lavr_dit_cuda_tp *tp, int64_t h, int64_t w,
                                 lavr_device_arena *arena, lavr_cuda_blas *blas, void *stream, lavr_dit_cuda **out);
/* The same for the layers [layer_begin, layer_end) only (a pp shard, as lavr_dit_load_shard): the patch and
 * pose embeddings come with layer 0, the head with the last layer, the text embedding with every range;
 * caches and text K/V hold the range's layers. lavr_dit_cuda_create is the range [0, num_layers). */
lavr_status lavr_dit_cuda_create_range(const lavr_dit_config *cfg, const lavr_dit_cuda_tp *tp, int64_t layer_begin,
                                       int64_t layer_end, int64_t h, int64_t w, lavr_device_arena *arena,
                                       lavr_cuda_blas *blas, void *stream, lavr_dit_cuda **out);
/* The same with options (NULL: the defaults). */
lavr_status lavr_dit_cuda_create_opts(const lavr_dit_config *cfg, const lavr_dit_cuda_tp *tp,
                                      const lavr_dit_cuda_options *opts, int64_t layer_begin, int64_t layer_end,
                                      int64_t h, int64_t w, lavr_device_arena *arena, lavr_cuda_blas *blas,
                                      void *stream, lavr_dit_cuda **out);
/* Which attention path runs ("cuDNN 9.19.0 fused SDPA" or "lavr flash kernel (...)"), for logs. */
const char *lavr_dit_cuda_attention_path(const lavr_dit_cuda *g);
/* Device bytes held outside the arena by the model's libraries (cuDNN plan workspace). */
uint64_t lavr_dit_cuda_outside_bytes(const lavr_dit_cuda *g);

/* Per-op timing for `lavr bench --profile`: while on, every kernel/library call is bracketed by CUDA events (and
 * graphs are not used); take() waits for the stream and adds the elapsed ms per category since the last take. */
enum { LAVR_PROF_ATTENTION, LAVR_PROF_ATTN_TEXT, LAVR_PROF_ATTN_AUDIO, LAVR_PROF_GEMM, LAVR_PROF_NORM, LAVR_PROF_FP8,
       LAVR_PROF_COMM, LAVR_PROF_OTHER, LAVR_PROF_CATEGORIES };
lavr_status lavr_dit_cuda_profile(lavr_dit_cuda *g, int on);
lavr_status lavr_dit_cuda_profile_take(lavr_dit_cuda *g, double ms[LAVR_PROF_CATEGORIES], int64_t *calls);
void lavr_dit_cuda_destroy(lavr_dit_cuda *g);
/* Copies the weights of a CPU model loaded with the same tp shard and layer range (lavr_dit_load_shard). */
lavr_status lavr_dit_cuda_upload(lavr_dit_cuda *g, const lavr_dit *m);
/* The part of that upload a first pp index holds for its embeddings (patch, pose bias, type embedding, FramePack),
 * from a CPU model of the same size whose shard starts at layer 0; the other weights are left as they are. */
lavr_status lavr_dit_cuda_upload_embeddings(lavr_dit_cuda *g, const lavr_dit *m);
/* Fills the weights on the device (lavr_cuda_fill_uniform, one Philox stream per tensor name): weights
 * with variance 1/fan_in, biases and modulations 0.02 scale, norm gains 1, LayerNorm biases 0. Tensors that
 * every tp rank holds whole get identical values on every rank. For timing, not for meaningful output. */
lavr_status lavr_dit_cuda_generate(lavr_dit_cuda *g, uint64_t seed);
/* Text embedding and per-layer cross-attention K/V (bf16) of a host context [rows, text_dim] (<= text_len,
 * zero-padded), as lavr_dit_set_context; collective over the tp group. */
lavr_status lavr_dit_cuda_set_context(lavr_dit_cuda *g, const float *context, int64_t rows);

lavr_status lavr_dit_cuda_cache_create(lavr_dit_cuda *g, lavr_dit_cuda_cache **out);
void lavr_dit_cuda_cache_destroy(lavr_dit_cuda *g, lavr_dit_cuda_cache *c);
lavr_status lavr_dit_cuda_cache_copy_sink(lavr_dit_cuda *g, lavr_dit_cuda_cache *dst, const lavr_dit_cuda_cache *src);

/* An activation sized for the larger of a block and the sink, from the arena. */
lavr_status lavr_dit_cuda_act_create(lavr_dit_cuda *g, lavr_dit_cuda_act *a);
void lavr_dit_cuda_act_destroy(lavr_dit_cuda *g, lavr_dit_cuda_act *a);
/* Copies a host activation (lavr_dit_embed_sink / lavr_dit_embed_block output) to the device. */
lavr_status lavr_dit_cuda_act_upload(lavr_dit_cuda *g, const lavr_dit_act *host, lavr_dit_cuda_act *a);
/* The header fields and the time rows e, e0 only (x came from lavr_dit_cuda_embed_tokens, the audio tokens from
 * the device encoder, models/dit_audio_cuda.h). */
lavr_status lavr_dit_cuda_act_upload_time(lavr_dit_cuda *g, const lavr_dit_act *host, lavr_dit_cuda_act *a);
/* The reverse for the buffers (waits for the stream): x [rows, d], e, e0, a_loc, a_glob. The host act's header
 * fields are left as they are: the host sets them (embedding, pipeline messages) and the layers keep them. */
lavr_status lavr_dit_cuda_act_download(lavr_dit_cuda *g, const lavr_dit_cuda_act *a, lavr_dit_act *host);
/* The device buffers download and upload copy, for a transport that moves them device to device (the pp hand-off
 * over NCCL): x's first `rows` rows, e and e0 (7 d), a_loc and a_glob (F (num_audio_token + 1) d), fp32 each. */
lavr_status lavr_dit_cuda_act_regions(const lavr_dit_cuda *g, const lavr_dit_cuda_act *a, int64_t rows, float *ptr[3],
                                      int64_t count[3]);
/* Host embeddings for this model (range starting at layer 0): lavr_dit_embed_sink / lavr_dit_embed_block of the
 * CPU shard m it was uploaded from, at this model's geometry. Only m's embedding weights are read, so the
 * caller may free m's layer weights after the upload. The sink's is the reference of lavr_dit_cuda_embed_sink
 * (tests/gpu/test_dit_sink_cuda.c); the block's embeds a pose input, which the device embedding does not take. */
lavr_status lavr_dit_cuda_embed_sink_host(const lavr_dit_cuda *g, const lavr_dit *m, const float *ref,
                                          const float *motion, lavr_dit_act *a);
lavr_status lavr_dit_cuda_embed_block_host(const lavr_dit_cuda *g, const lavr_dit *m, const lavr_dit_block_input *in,
                                           lavr_dit_act *a);
/* The sink's tokens (lavr_dit_embed_sink) on the device: the host latents ref [C, 1, h, w] and motion [C, 19, h, w]
 * (fp32; rounded to bf16 on the device) are copied in, then a->x [sink, d] = bf16(bf16(patch(ref)) + type 1) ‖
 * bf16(bf16(FramePack bucket convs(motion)) + type 2), fp32 accumulation in the GEMMs; sets the prefill fields of a.
 * e/e0 (the t = 0 time rows) are left: the host computes them and uploads them (lavr_dit_cuda_act_upload_time).
 * Enqueued on the model's stream: ref and motion stay unchanged until the caller has waited for it. */
lavr_status lavr_dit_cuda_embed_sink(lavr_dit_cuda *g, const float *ref, const float *motion, lavr_dit_cuda_act *a);
/* Patch embedding of a device latent block x [C, F, h, w] into a->x: bf16(bf16(patch(x) + bf16(pose
 * bias)) + type 0) (lavr_dit_embed_block with pose NULL); sets the block fields of a. e/e0/audio are left. */
lavr_status lavr_dit_cuda_embed_tokens(lavr_dit_cuda *g, const float *x, int64_t block_index, int64_t sink_offset,
                                       lavr_dit_cuda_act *a);

/* The layers (with audio injections) on a against cache c: a prefill fills the sink, a block writes its
 * K/V into window slot (n mod 4) first, then attends window ‖ sink re-roped at max(30, f0 + sink_offset). */
lavr_status lavr_dit_cuda_forward_layers(lavr_dit_cuda *g, lavr_dit_cuda_cache *c, lavr_dit_cuda_act *a);
/* Builds the cuDNN attention plans of every shape the render's forwards meet (the window's key lengths while it
 * fills, the prompt, the sink, the audio frames), so that no block pays for a plan; c: any cache of g. */
lavr_status lavr_dit_cuda_prepare_attention(lavr_dit_cuda *g, lavr_dit_cuda_cache *c);
/* Head and unpatchify of a block: velocity [C, F, h, w] (device, bf16 values). The head's modulated norm
 * rounds to bf16 (the CPU head keeps it fp32: one extra rounding before an fp32 GEMM). */
lavr_status lavr_dit_cuda_head(lavr_dit_cuda *g, const lavr_dit_cuda_act *a, float *velocity);

/* Layer `layer` (global index, inside the range) of a cache as host bf16 bits in the CPU step cache's layout
 * (models/dit_internal.h): window [window][dh] (slot n mod 4, K after RMSNorm and RoPE, V raw) and sink
 * [sink][dh] (K before RoPE); NULL parts are skipped. Both wait for the stream. */
lavr_status lavr_dit_cuda_cache_download(lavr_dit_cuda *g, const lavr_dit_cuda_cache *c, int64_t layer,
                                         uint16_t *win_k, uint16_t *win_v, uint16_t *sink_k, uint16_t *sink_v);
lavr_status lavr_dit_cuda_cache_upload(lavr_dit_cuda *g, lavr_dit_cuda_cache *c, int64_t layer, const uint16_t *win_k,
                                       const uint16_t *win_v, const uint16_t *sink_k, const uint16_t *sink_v);
/* Whether the sink is filled (a prefill ran, or set_ready after every layer's sink was uploaded). */
int lavr_dit_cuda_cache_ready(const lavr_dit_cuda_cache *c);
void lavr_dit_cuda_cache_set_ready(lavr_dit_cuda_cache *c);

const lavr_dit_geometry *lavr_dit_cuda_geometry(const lavr_dit_cuda *g);

/* Bytes of weights resident on the device. */
uint64_t lavr_dit_cuda_weight_bytes(const lavr_dit_cuda *g);

#endif
