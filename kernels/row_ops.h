/* The ops of token networks (umT5, wav2vec2's transformer) on device-aware row tensors [rows, cols] made by an
 * execution context (kernels/ctx.h): the CPU reference calls kernels/cpu (kernels/row_ops.c), the CUDA versions are
 * kernels/cuda/row_ops_cuda.c, picked by where the tensors live. A network is written once against these.
 *
 * Row tensors: CPU F32, CUDA BF16 (fp32 accumulation in every op); contiguous [rows, cols]; a range of whole rows
 * (lavr_tensor_narrow along dim 0) is a valid operand on both devices.
 * Rounding: `round` rounds every result to bf16 (RNE) at the op's output — LiveAvatar's bf16-autocast points; CUDA
 * row tensors are bf16, so there it always holds (round = 0 on CUDA is an error). Outputs may not overlap inputs
 * unless the op says so. */
#ifndef LAVR_KERNELS_ROW_OPS_H
#define LAVR_KERNELS_ROW_OPS_H

#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"
#include "kernels/ctx.h"

/* ---- tensors ---------------------------------------------------------------------------------------- */
/* A row tensor [rows, cols] of the context (CPU F32, CUDA BF16), uninitialised; frees with lavr_ctx_free. */
lavr_status lavr_ctx_alloc_rows(lavr_ctx *c, int64_t rows, int64_t cols, const char *what, lavr_tensor *out);
/* An F32 tensor of any shape on the context's device (attention bias tables), uninitialised. */
lavr_status lavr_ctx_alloc_f32(lavr_ctx *c, int ndim, const int64_t *shape, const char *what, lavr_tensor *out);
/* A copy of a contiguous host tensor (F32, I32 or I64: tables, masks, indices) on the context's device, same dtype
 * and shape (CPU: a copy in the context's host arena). */
lavr_status lavr_ctx_upload(lavr_ctx *c, const lavr_tensor *host, const char *what, lavr_tensor *out);
/* The way back: a contiguous tensor of the context into a contiguous host tensor of the same dtype and shape,
 * bytes as they are; returns after the copy has landed. */
lavr_status lavr_ctx_download(lavr_ctx *c, const lavr_tensor *src, lavr_tensor *host);

/* dst = host values (rows * cols floats, row-major); CUDA rounds them to bf16 (RNE). */
lavr_status lavr_rop_upload(lavr_ctx *c, const float *host, lavr_tensor *dst);
/* host (rows * cols floats) = src; returns after the copy has landed. */
lavr_status lavr_rop_download(lavr_ctx *c, const lavr_tensor *src, float *host);
/* y = x (same shape). */
lavr_status lavr_rop_copy(lavr_ctx *c, const lavr_tensor *x, lavr_tensor *y);

/* ---- linear weights ------------------------------------------------------------------------------------ */
/* One Linear prepared for the context: weight [out, in] (PyTorch layout), bias [out] or none (bias.data NULL).
 * CPU: the tensors as stored (any dtype lavr_op_linear takes). CUDA: weight BF16 [out, in], bias BF16 [out] (the
 * GEMM's output type; cuBLASLt adds it in fp32 before the one rounding, as PyTorch's bf16 addmm). */
typedef struct {
    lavr_tensor weight, bias;
    int64_t out, in;
} lavr_linear_weights;
/* Takes the host tensors (bias may be NULL): the CPU keeps them, CUDA uploads them and frees the host copies. */
lavr_status lavr_ctx_linear_weights(lavr_ctx *c, lavr_tensor *weight, lavr_tensor *bias, lavr_linear_weights *out);
/* Weights made where they live, for benchmarks of full-size networks without a checkpoint: element i of the
 * weight is bf16(a * (2 u_i - 1)), a = sqrt(3 / in) (variance 1/in), u_i the 24-bit uniform of
 * lavr_row_random_u24(seed, i); the same values on both devices. No bias. */
lavr_status lavr_ctx_linear_weights_random(lavr_ctx *c, int64_t out, int64_t in, uint64_t seed,
                                           lavr_linear_weights *w);
/* The same with every element times gain (standard deviation gain / sqrt(in)). */
lavr_status lavr_ctx_linear_weights_random_scaled(lavr_ctx *c, int64_t out, int64_t in, uint64_t seed, float gain,
                                                  lavr_linear_weights *w);
void lavr_ctx_linear_weights_free(lavr_ctx *c, lavr_linear_weights *w);
/* The generator of lavr_ctx_linear_weights_random: a 24-bit uniform integer from (seed, index) (splitmix64). */
uint32_t lavr_row_random_u24(uint64_t seed, uint64_t index);

/* ---- ops ----------------------------------------------------------------------------------------------- */
/* y[M, out] = x[M, in] · W^T (+ bias), fp32 accumulation. CUDA: cuBLASLt. */
lavr_status lavr_rop_linear(lavr_ctx *c, const lavr_tensor *x, const lavr_linear_weights *w, int round,
                            lavr_tensor *y);

/* T5's RMS norm (T5LayerNorm) per row: n = x * rsqrt(mean(x^2) + eps) (fp32 statistics); y = n * gain[col].
 * With round the normalised row is rounded before the gain and the product again (the bf16 reference casts n to
 * the gain's dtype, then multiplies in bf16). gain: F32 [cols] from lavr_ctx_upload_vector. y may be x. */
lavr_status lavr_rop_rms_norm(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *gain, float eps, int round,
                              lavr_tensor *y);
/* LayerNorm per row (biased variance, fp32 statistics), then * gamma + beta (F32 [cols] vectors; either NULL). One
 * rounding at the output. y may be x. */
lavr_status lavr_rop_layer_norm(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *gamma, const lavr_tensor *beta,
                                float eps, int round, lavr_tensor *y);

typedef enum {
    LAVR_GELU_ERF = 0,        /* 0.5 x (1 + erf(x / sqrt 2)) in fp32 */
    LAVR_GELU_TANH = 1,       /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) in fp32 */
    LAVR_GELU_TANH_BF16 = 2,  /* the tanh form as bf16 tensor arithmetic (Wan's T5 GELU): every one of its
                                 operations rounds to bf16 (x^3, 0.044715 x^3, the sum, the scaled sum, tanh,
                                 1 + tanh, 0.5 x, the product), whatever `round` says */
} lavr_gelu_kind;
/* y = gelu(x). y may be x. */
lavr_status lavr_rop_gelu(lavr_ctx *c, const lavr_tensor *x, lavr_gelu_kind kind, int round, lavr_tensor *y);
/* y = a + b (the residual stream). y may be a or b. */
lavr_status lavr_rop_add(lavr_ctx *c, const lavr_tensor *a, const lavr_tensor *b, int round, lavr_tensor *y);
/* y = a * b element-wise (gated FFNs). y may be a or b. */
lavr_status lavr_rop_mul(lavr_ctx *c, const lavr_tensor *a, const lavr_tensor *b, int round, lavr_tensor *y);

/* The most negative finite bf16, what T5 writes into the scores of padded keys (torch.finfo(bfloat16).min). */
#define LAVR_BF16_LOWEST (-3.38953139e38f)
/* Scores bias of relative-position attention: bias[h, i, j] = table[bucket[i, j], h], or LAVR_BF16_LOWEST where
 * key_mask[j] == 0. table F32 [buckets, H], bucket I32 [Lq, Lk] (values in [0, buckets)), key_mask F32 [Lk] or
 * NULL (all real), bias F32 [H, Lq, Lk] (lavr_ctx_alloc_f32); all from lavr_ctx_upload / the context. */
lavr_status lavr_rop_position_bias(lavr_ctx *c, const lavr_tensor *table, const lavr_tensor *bucket,
                                   const lavr_tensor *key_mask, lavr_tensor *bias);

/* Multi-head attention: q [Lq, H*D], k and v [Lk, H*D] (head h in columns [h*D, (h+1)*D)), out [Lq, H*D];
 * scores scale * q·k + bias[h, i, j] in fp32 (bias F32 [H, Lq, Lk] or NULL), fp32 softmax, never stored whole.
 * CPU: lavr_op_attention on the fp32 values (softmax weights in fp32). CUDA: the flash-style tensor-core kernel of
 * kernels/cuda/attention.cu for D = 64 / 128 (q and the softmax weights enter the MMAs as bf16, as PyTorch's bf16
 * attention rounds its probabilities), an fp32 kernel for other D. */
lavr_status lavr_rop_attention(lavr_ctx *c, const lavr_tensor *q, const lavr_tensor *k, const lavr_tensor *v,
                               int64_t heads, float scale, const lavr_tensor *bias, int round, lavr_tensor *out);
/* The same shapes with the rounding points of PyTorch's eager bf16 attention (umT5, model-spec §4): no scaling,
 * s = bf16(bf16(q·k) + bias), p = bf16(softmax_fp32(s)), out = bf16(p·v). CPU: lavr_op_attention_eager, exactly
 * that. CUDA: the kernels of lavr_rop_attention with the scores rounded the same way; being one-pass, the
 * tensor-core kernel feeds bf16(exp(s - running max)) to P·V and normalises at the end instead of rounding the
 * normalised p (2^-9 relative per weight either way; docs/numerics.md). */
lavr_status lavr_rop_attention_eager(lavr_ctx *c, const lavr_tensor *q, const lavr_tensor *k, const lavr_tensor *v,
                                     int64_t heads, const lavr_tensor *bias, lavr_tensor *out);

#endif
