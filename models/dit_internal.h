/* Internals shared by the DiT files (dit.c, dit_block.c, dit_embed.c, dit_audio.c, framepack.c,
 * dit_cache.c): the step-cache layout and the bf16-rounding helpers at LiveAvatar's rounding points. */
#ifndef LAVR_MODELS_DIT_INTERNAL_H
#define LAVR_MODELS_DIT_INTERNAL_H

#include <stdint.h>

#include "models/dit.h"

struct lavr_dit_step_cache {
    lavr_dit_geometry g;
    int64_t layer_begin, layers, dim; /* the shard's layers [layer_begin, +layers); dim = its heads' width */
    uint16_t *win_k, *win_v;   /* [layers][window][dim] */
    uint16_t *sink_k, *sink_v; /* [layers][sink][dim]; K before RoPE */
    int64_t *sink_pos;         /* [sink][3] from the geometry; the reference frame is re-placed per forward */
    int sink_ready;
};

/* y = bf16(x W^T + b): a GEMM whose output the reference keeps in bf16. */
lavr_status dit_linear_bf16(const float *x, int64_t M, int64_t K, const lavr_dit_linear *l, float *y);
/* WanRMSNorm over the full width: bf16(bf16(x * rsqrt(mean x^2 + eps)) * g), in place. */
lavr_status dit_rms_gain(float *x, int64_t rows, int64_t cols, const lavr_tensor *gain, double eps);
/* Row-parallel GEMM of a tp shard: x [M, K] (this rank's input columns) -> y [M, N] =
 * bf16(sum over the tp group of x W^T, then + b). With tp size 1 it is dit_linear_bf16. */
lavr_status dit_linear_reduce_bf16(const lavr_dit *m, const float *x, int64_t M, int64_t K, const lavr_dit_linear *l,
                                   float *y);
/* dit_rms_gain over the full width when x holds this rank's `cols` of it: the per-row sums of squares
 * are all-reduced (fp32) over the tp group; the gain holds this rank's slice. */
lavr_status dit_rms_gain_tp(const lavr_dit *m, float *x, int64_t rows, int64_t cols, const lavr_tensor *gain);
/* malloc'd float buffer or LAVR_E_NOMEM naming what. */
lavr_status dit_alloc(int64_t n, const char *what, float **out);

/* The sinusoid (float64, cos first) -> time_embedding -> e [d] and time_projection -> e0 [6,d], fp32. */
lavr_status dit_time_embed(const lavr_dit *m, double t, float *e, float *e0);
/* Conv3d with kernel = stride (patch embeddings, FramePack) of x [C,T,h,w] (rounded to bf16 on the
 * way in); writes tokens [(f,i,j), d] as bf16 values and returns their count. */
lavr_status dit_patchify(const lavr_dit_linear *l, const float *x, int64_t C, int64_t T, int64_t h, int64_t w,
                         float *tokens, int64_t *ntok);

/* FramePack bucket k (0: the newest motion latent, 1: the two before it, 2: the 16 oldest): motion latents
 * [first, first + n) through a Conv3d of kernel = stride (kt, kh, kw) give `count` tokens (floor sizes). */
typedef struct {
    int64_t first, n, kt, kh, kw, count;
} dit_fp_bucket;
void dit_framepack_buckets(const lavr_dit_geometry *g, dit_fp_bucket b[3]);
/* FramePack motion tokens [n_post + n_2x + n_4x, d] (type embedding added). */
lavr_status dit_framepack(const lavr_dit *m, const lavr_dit_geometry *g, const float *motion, float *tokens);
/* RoPE positions [sink][3] of the sink tokens (reference at frame 30, then the FramePack groups):
 * a function of the geometry alone, so shards that never embed know them. */
lavr_status dit_sink_positions(const lavr_dit_geometry *g, int64_t *pos);

/* The encoder's layer weights w [audio_num_states] = bf16(silu(logits)), and (returned) their bf16 sum: the
 * layer mix of dit_audio_encode, shared with the device encoder (models/dit_audio_cuda.c). */
float dit_audio_layer_weights(const lavr_dit *m, float *w);
/* The causal audio encoder on the block's 4F video frames: a_loc [F][tokens+1][d], a_glob [F][d]. */
lavr_status dit_audio_encode(const lavr_dit *m, const float *audio, int64_t total_frames, int64_t first,
                             int64_t video_frames, float *a_loc, float *a_glob);
/* Adds audio injector j's output to the noisy tokens x [F*P, d] (per-frame AdaLN + cross-attention,
 * the shard's heads; collective over the tp group). */
lavr_status dit_audio_inject(const lavr_dit *m, int j, float *x, int64_t F, int64_t P, const float *a_loc,
                             const float *a_glob);

/* Self-attention keys/values of one layer call. */
typedef struct {
    int prefill;          /* 1: sink tokens attend to themselves; their pre-RoPE K and V go to the sink */
    int64_t slot;         /* block mode: window token offset the block's K/V are written to */
    int64_t n_valid;      /* block mode: window tokens attended (including the block) */
    const int64_t *sink_pos; /* block mode: positions of the sink keys for this forward */
} dit_attn_plan;

/* One transformer layer l (global index, within the shard) on x [L, d] (bf16 values, in place) with
 * modulation e0 [6,d] of the tokens' timestep and positions pos [L,3]; collective over the tp group. */
lavr_status dit_layer_forward(const lavr_dit *m, int64_t l, lavr_dit_step_cache *c, const dit_attn_plan *plan,
                              float *x, int64_t L, const float *e0, const int64_t *pos);

#endif
