/* The device-side op interface (CUDA backend), callable from C11: every launcher takes device
 * pointers and a cudaStream_t passed as `void *stream` (NULL = legacy default stream), enqueues its
 * work and returns without synchronising. Activations are fp32 on the device (the same buffers the
 * CPU ops in kernels/ops.h take); GEMM inputs, weights and K/V caches are bf16 (stored as uint16_t
 * bit patterns); small per-channel vectors (bias, gamma, beta) are fp32. A launch error is
 * reported as LAVR_E_CUDA; an error of the kernel itself shows up at the caller's next sync. */
#ifndef LAVR_KERNELS_CUDA_OPS_CUDA_H
#define LAVR_KERNELS_CUDA_OPS_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

/* Device discovery is parallel/device.h (lavr_device_count). */

/* ---- element-wise (y may alias x; n may be 0) ----------------------------------------------- */
lavr_status lavr_cuda_gelu_tanh(const float *x, int64_t n, float *y, void *stream);
lavr_status lavr_cuda_gelu_erf(const float *x, int64_t n, float *y, void *stream);
lavr_status lavr_cuda_silu(const float *x, int64_t n, float *y, void *stream);
/* Rounds every element to the nearest bf16 value (RNE), in place: LiveAvatar's rounding point. */
lavr_status lavr_cuda_round_bf16(float *x, int64_t n, void *stream);
/* Narrowing (RNE) and widening casts between fp32 activations and bf16 GEMM operands. */
lavr_status lavr_cuda_f32_to_bf16(const float *x, int64_t n, uint16_t *y, void *stream);
lavr_status lavr_cuda_bf16_to_f32(const uint16_t *x, int64_t n, float *y, void *stream);

/* ---- normalisations (same semantics as lavr_op_layernorm / lavr_op_rmsnorm; y may alias x) -- */
/* Row-wise LayerNorm over cols (biased variance, fp32 two-pass statistics), then *gamma + beta
 * when given (fp32 [cols] device vectors, either may be NULL). */
lavr_status lavr_cuda_layernorm(const float *x, int64_t rows, int64_t cols, const float *gamma, const float *beta,
                                float eps, float *y, void *stream);
/* y = x * rsqrt(mean(x^2) + eps) per row, no gain. */
lavr_status lavr_cuda_rmsnorm(const float *x, int64_t rows, int64_t cols, float eps, float *y, void *stream);

/* ---- linear through cuBLASLt ------------------------------------------------------------------ */
/* A cuBLASLt handle, its workspace and a small cache of matmul plans (one per shape). Bound to the
 * device that was current at creation; not thread-safe (one per stream owner). */
typedef struct lavr_cuda_blas lavr_cuda_blas;
/* workspace_bytes 0 picks 32 MiB (what Hopper's fastest kernels ask for). */
lavr_status lavr_cuda_blas_create(size_t workspace_bytes, lavr_cuda_blas **out);
void lavr_cuda_blas_destroy(lavr_cuda_blas *blas);
/* y[M,N] (fp32) = x[M,K] (bf16) · W[N,K]^T (bf16, PyTorch Linear layout) + bias[N] (fp32 or NULL),
 * fp32 accumulation, bias added in the GEMM epilogue. Rows are packed (x row stride K, y row
 * stride N); y must not alias x. Uses the blas workspace, so calls sharing a blas must be ordered
 * (same stream). */
lavr_status lavr_cuda_linear(lavr_cuda_blas *blas, const uint16_t *x, int64_t M, int64_t K, const uint16_t *w,
                             int64_t N, const float *bias, float *y, void *stream);

/* The general GEMM: y[M,N] = x[M,K] · W[N,K]^T (+ bias[N]) (then GELU-tanh when epilogue is
 * LAVR_GEMM_EPI_GELU), fp32 accumulation, one rounding to y's type. x rows ldx elements apart (0 = K),
 * y rows ldy apart (0 = N), W packed. Operand types: bf16 x bf16, FP8 e4m3 x FP8 e4m3 (per-tensor
 * dequantisation factors x_scale, w_scale: device fp32 scalars; fast accumulation as LiveAvatar's
 * _scaled_mm; bf16 output, or fp32 without bias; K % 16 == 0), or fp32 x fp32. The bias has y's type. */
typedef enum { LAVR_GEMM_F32 = 0, LAVR_GEMM_BF16 = 1, LAVR_GEMM_FP8 = 2 } lavr_gemm_type;
typedef enum { LAVR_GEMM_EPI_NONE = 0, LAVR_GEMM_EPI_GELU = 1 } lavr_gemm_epilogue;
typedef struct {
    int64_t M, N, K;
    const void *x;
    int64_t ldx;
    lavr_gemm_type x_type;
    const void *w;
    lavr_gemm_type w_type;
    const float *x_scale, *w_scale;
    const void *bias;
    lavr_gemm_epilogue epilogue;
    void *y;
    int64_t ldy;
    lavr_gemm_type y_type;
} lavr_cuda_gemm_args;
lavr_status lavr_cuda_gemm(lavr_cuda_blas *blas, const lavr_cuda_gemm_args *args, void *stream);
/* Bytes of the blas workspace (device memory outside any arena; the planner counts it). */
size_t lavr_cuda_blas_workspace_bytes(const lavr_cuda_blas *blas);

/* Pure fp32 GEMM (no TF32) for the convolutions: y[M,N] = x[M,K] · W[N,K]^T + bias[N] (or NULL), y rows
 * y_row_stride floats apart (>= N), so a GEMM can fill a column block of a wider matrix. */
lavr_status lavr_cuda_linear_f32(lavr_cuda_blas *blas, const float *x, int64_t M, int64_t K, const float *w, int64_t N,
                                 const float *bias, float *y, int64_t y_row_stride, void *stream);

/* ---- DiT block pieces (CPU twins in kernels/ops.h and models/rope.h) ----------------------------- */
/* lavr_op_modulated_layernorm: y = bf16(n * (1 + scale) + shift), n = LayerNorm(x) without affine
 * (rounded to bf16 first when round_ln); shift and scale fp32 [cols]. y may alias x. */
lavr_status lavr_cuda_modulated_layernorm(const float *x, int64_t rows, int64_t cols, float eps, int round_ln,
                                          const float *shift, const float *scale, float *y, void *stream);
/* lavr_op_gated_residual: out = x + y * gate[col] (then rounded to bf16 when round_bf16); out may alias x. */
lavr_status lavr_cuda_gated_residual(const float *x, const float *y, const float *gate, int64_t rows, int64_t cols,
                                     int round_bf16, float *out, void *stream);
/* lavr_rope_apply: rotates x [L, H, D] (row_stride floats apart) in place with LiveAvatar's factors
 * (fp16-rounded cos/sin of the 3-D positions pos [L, 3] int64 on the device, adjacent pairs, the
 * t/h/w split of the head dim, negative times as the conjugate), products in double, result bf16. */
lavr_status lavr_cuda_rope(float *x, int64_t L, int64_t H, int64_t D, int64_t row_stride, const int64_t *pos,
                           void *stream);

/* ---- convolutions (gather + lavr_cuda_linear_f32, fp32 throughout) ------------------------------- */
/* lavr_op_causal_conv1d: x [T, cin] time-major, w fp32 [cout, cin, K], bias fp32 [cout] or NULL;
 * left padding K-1 repeats frame 0; y [Tout, cout], Tout = (T-1)/stride + 1. scratch holds the
 * gathered taps: at least Tout * cin * K floats. */
lavr_status lavr_cuda_causal_conv1d(lavr_cuda_blas *blas, const float *x, int64_t T, int64_t cin, const float *w,
                                    int64_t cout, int64_t K, const float *bias, int64_t stride, float *y,
                                    float *scratch, int64_t scratch_floats, void *stream);
/* lavr_op_conv3d: x [cin, t, h, w], weight fp32 [cout, cin, kt, kh, kw], bias fp32 [cout] or NULL,
 * stride[3] (t, h, w), pad[6] (t front/back, h top/bottom, w left/right, zeros) -> y [cout, To, Ho, Wo]
 * (out_dims gets To, Ho, Wo). Chunked im2col: each chunk of output positions of one frame gathers its
 * patches into scratch (at least cin*kt*kh*kw floats; larger scratch means fewer, larger GEMMs). */
lavr_status lavr_cuda_conv3d(lavr_cuda_blas *blas, const float *x, int64_t cin, int64_t t, int64_t h, int64_t w,
                             const float *weight, int64_t cout, const int64_t ksize[3], const float *bias,
                             const int64_t stride[3], const int64_t pad[6], float *y, int64_t out_dims[3],
                             float *scratch, int64_t scratch_floats, void *stream);

/* ---- attention ---------------------------------------------------------------------------------- */
/* A key/value segment read in place: len tokens of bf16 [H, D] at row_stride elements apart. */
typedef struct {
    const uint16_t *k, *v;
    int64_t len, row_stride;
} lavr_cuda_kv_segment;
#define LAVR_CUDA_MAX_SEGMENTS 8
/* Same semantics as lavr_op_attention with bf16 K/V: q fp32 [Lq, H, D] (q_row_stride apart), out
 * fp32 [Lq, H, D] packed, bias fp32 [H, Lq, Lk_total] or NULL, online softmax in fp32 that never
 * stores the score matrix; a row whose scores are all -inf outputs zeros. For D = 64 or 128 with
 * 16-byte aligned K/V rows (row_stride % 8 == 0) a tensor-core kernel runs: q and the softmax
 * weights enter the MMAs as bf16 (as in PyTorch's bf16 flash attention) with fp32 accumulation;
 * other shapes (D <= 512) use an fp32 CUDA-core kernel. At most LAVR_CUDA_MAX_SEGMENTS segments. */
lavr_status lavr_cuda_attention(const float *q, int64_t Lq, int64_t H, int64_t D, int64_t q_row_stride,
                                const lavr_cuda_kv_segment *segments, int nsegments, float scale, const float *bias,
                                float *out, void *stream);

/* The same on bf16 queries and outputs (the DiT's activations between kernels): q [Lq, H, D] bf16 rows
 * q_row_stride apart, out bf16 rows out_row_stride apart (one rounding of the fp32 result), no bias. The
 * fallback of the cuDNN path (kernels/cuda/sdpa.h); it takes all key segments in one pass. */
lavr_status lavr_cuda_attention_bf16(const uint16_t *q, int64_t Lq, int64_t H, int64_t D, int64_t q_row_stride,
                                     const lavr_cuda_kv_segment *segments, int nsegments, float scale, uint16_t *out,
                                     int64_t out_row_stride, void *stream);

/* Packed bf16 rows with an fp32 scores bias: q and out [Lq, H*D], k and v [Lk, H*D], bias [H, Lq, Lk] or NULL
 * (the T5 position bias with its padding mask), one rounding of the fp32 result (kernels/row_ops.h). round_scores:
 * s = bf16(bf16(scale·q·k) + bias), the rounding points of PyTorch's eager bf16 attention (umT5). */
lavr_status lavr_cuda_attention_rows(const uint16_t *q, int64_t Lq, int64_t H, int64_t D, const uint16_t *k,
                                     const uint16_t *v, int64_t Lk, float scale, const float *bias, int round_scores,
                                     uint16_t *out, void *stream);

#ifdef __cplusplus
}
#endif

#endif
