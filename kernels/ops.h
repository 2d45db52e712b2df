/* The op interface every network is written against. Activations are contiguous float32 row-major
 * buffers (values may be bf16-rounded by the caller at LiveAvatar's rounding points); weights are
 * lavr_tensors in their stored dtype (bf16, f32, f16 or fp8) and are converted on the fly; every
 * reduction accumulates in fp32 or wider. CPU versions live in kernels/cpu/<op>.c (OpenMP). */
#ifndef LAVR_KERNELS_OPS_H
#define LAVR_KERNELS_OPS_H

#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"

/* y[M,N] = x[M,K] · W[N,K]^T + b[N]   (W in PyTorch Linear layout; b may be NULL). fp32 accumulation.
 * The same op serves 1x1 convolutions. W may be 2-D [N,K] or any shape whose trailing dims
 * flatten to K. y must not alias x. W and b must be contiguous; fp8 weights are used as stored
 * (no scale: a per-tensor scale is the caller's job). */
lavr_status lavr_op_linear(const float *x, int64_t M, int64_t K, const lavr_tensor *w, const lavr_tensor *b, float *y);

/* Row-wise LayerNorm over `cols`: (x-mean)/sqrt(var+eps) (biased variance, stats in fp32 or wider),
 * then *gamma + beta when given (either may be NULL). y may alias x. */
lavr_status lavr_op_layernorm(const float *x, int64_t rows, int64_t cols, const lavr_tensor *gamma,
                              const lavr_tensor *beta, float eps, float *y);
/* Row-wise RMS normalisation without gain: y = x * rsqrt(mean(x^2) + eps). y may alias x. */
lavr_status lavr_op_rmsnorm(const float *x, int64_t rows, int64_t cols, float eps, float *y);
/* Channel L2 normalisation as F.normalize(dim=channels): x is [C, n] (channels outermost) and each
 * of the n columns is divided by max(||column||, eps); the VAE's RMS norm then multiplies by
 * sqrt(C)*gamma. y may alias x. */
lavr_status lavr_op_l2norm_channels(const float *x, int64_t channels, int64_t n, float eps, float *y);

/* Element-wise (y may alias x). */
void lavr_op_gelu_tanh(const float *x, int64_t n, float *y);
void lavr_op_gelu_erf(const float *x, int64_t n, float *y);
void lavr_op_silu(const float *x, int64_t n, float *y);
/* Rounds every element to the nearest bf16 value (RNE), in place. */
void lavr_op_round_bf16(float *x, int64_t n);

/* The DiT block's modulated LayerNorm: y = bf16(n * (1 + scale) + shift) per row, n = LayerNorm(x)
 * without affine, rounded to bf16 first when round_ln (LiveAvatar rounds it when the input is bf16);
 * shift and scale are fp32 [cols]. y may alias x. */
lavr_status lavr_op_modulated_layernorm(const float *x, int64_t rows, int64_t cols, float eps, int round_ln,
                                        const float *shift, const float *scale, float *y);
/* The DiT block's gated residual: out = x + y * gate[col] in fp32, then bf16-rounded when round_bf16.
 * out may alias x. */
void lavr_op_gated_residual(const float *x, const float *y, const float *gate, int64_t rows, int64_t cols,
                            int round_bf16, float *out);

/* Multi-head attention with an online (flash-style) softmax that never stores the score matrix.
 * q: [Lq, H, D] with q_row_stride elements between tokens (H*D when packed).
 * Keys/values come in segments read in place (e.g. KV window ‖ sink): each segment holds `len`
 * tokens of [H, D] at `row_stride` elements apart, in dtype F32 or BF16.
 * bias (may be NULL): additive scores [H, Lq, Lk_total] (T5 position bias, padding masks).
 * out: [Lq, H, D] packed. scale multiplies q·k (1/sqrt(D), or 1 for T5). fp32 softmax.
 * Masking: scores are scale*q·k + bias in fp32, so a finite mask (T5's finfo.min) acts exactly as in
 * PyTorch's fp32 math (a row masked everywhere averages v uniformly); a row whose scores are all -inf
 * outputs zeros (PyTorch gives NaN). Empty segments (len 0) are allowed; at least one key is required. */
typedef struct {
    lavr_dtype dtype;
    const void *k, *v;
    int64_t len, row_stride;
} lavr_kv_segment;
lavr_status lavr_op_attention(const float *q, int64_t Lq, int64_t H, int64_t D, int64_t q_row_stride,
                              const lavr_kv_segment *segments, int nsegments, float scale, const float *bias,
                              float *out);
/* Attention as PyTorch's eager bf16 code computes it (einsum, fp32 softmax, cast back; umT5, model-spec §4), one
 * whole score row at a time: s_j = bf16(bf16(q·k_j) + bias_j), p = bf16(softmax_fp32(s)), out = sum_j p_j v_j in
 * fp32 (not rounded). q [Lq, H*D], k and v [Lk, H*D] packed rows, bias [H, Lq, Lk] or NULL, no scaling. */
lavr_status lavr_op_attention_eager(const float *q, int64_t Lq, int64_t H, int64_t D, const float *k, const float *v,
                                    int64_t Lk, const float *bias, float *out);

/* Attention over keys that arrive in several calls (wav2vec2's global attention over an audio whose
 * K/V do not fit in memory): the running max, sum and un-normalised output of every (head, query row)
 * live in the state between calls. Folding segments S1, S2, ... one call each gives the bits of one
 * lavr_op_attention over S1, S2, ... as long as every segment but the last of a run has a length
 * that is a multiple of LAVR_ATTENTION_KEY_TILE (keys are scored in tiles of that many per segment)
 * and the queries of each call are the same rows. No bias. */
#define LAVR_ATTENTION_KEY_TILE 64
typedef struct {
    int64_t Lq, H, D; /* capacity: query rows, heads, head dim */
    int64_t rows;     /* query rows of the current run (<= Lq) */
    float *acc, *row_max, *row_sum; /* [H, Lq, D], [H, Lq], [H, Lq] */
} lavr_attention_state;
lavr_status lavr_attention_state_create(int64_t Lq, int64_t H, int64_t D, lavr_attention_state **out);
void lavr_attention_state_destroy(lavr_attention_state *st);
/* Starts a run of `rows` (<= Lq) query rows: no key seen yet. */
void lavr_attention_state_reset(lavr_attention_state *st, int64_t rows);
/* Folds the segments' keys into the run; q is [rows, H, D] with q_row_stride elements between rows. */
lavr_status lavr_op_attention_fold(const float *q, int64_t q_row_stride, const lavr_kv_segment *segments,
                                   int nsegments, float scale, lavr_attention_state *st);
/* out [rows, H, D] packed: the attention of the run's queries over every key folded since the reset. */
void lavr_op_attention_finish(const lavr_attention_state *st, float *out);

/* 1-D convolution, x [Cin, T] -> y [Cout, Tout], w [Cout, Cin/groups, K], b [Cout] or NULL; zero
 * padding pad_left/pad_right; Tout = (T + pads - K) / stride + 1. */
lavr_status lavr_op_conv1d(const float *x, int64_t cin, int64_t t, const lavr_tensor *w, const lavr_tensor *b,
                           int64_t stride, int64_t pad_left, int64_t pad_right, int64_t groups, float *y,
                           int64_t *tout);

/* Causal 1-D convolution of the audio encoder, time-major: x [T, cin] -> y [Tout, cout], w [cout, cin, K],
 * b [cout] or NULL; the K-1 frames of left padding repeat frame 0; Tout = (T - 1) / stride + 1. */
lavr_status lavr_op_causal_conv1d(const float *x, int64_t T, int64_t cin, const lavr_tensor *w, const lavr_tensor *b,
                                  int64_t stride, float *y, int64_t *tout);

/* 3-D convolution, x [Cin, T, H, W] -> y [Cout, To, Ho, Wo]; w [Cout, Cin, kt, kh, kw]
 * (a 4-D [Cout, Cin, kh, kw] weight is taken as kt = 1); b [Cout] or NULL. pad[6] = zero padding
 * (t_front, t_back, h_top, h_bottom, w_left, w_right); stride[3] = (st, sh, sw).
 * out_dims[3] receives (To, Ho, Wo). */
lavr_status lavr_op_conv3d(const float *x, int64_t cin, int64_t t, int64_t h, int64_t w_, const lavr_tensor *w,
                           const lavr_tensor *b, const int64_t stride[3], const int64_t pad[6], float *y,
                           int64_t out_dims[3]);

#endif
