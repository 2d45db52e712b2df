/* The ops of wav2vec2 (models/wav2vec2.c) on device-aware row tensors [rows, cols] made by a context (kernels/ctx.h):
 * CPU F32 contiguous (the reference, over kernels/ops.h), CUDA BF16 contiguous (kernels/cuda/w2v_ops_cuda.c).
 *
 * Rounding: with `round` every result is rounded to bf16 (RNE) where LiveAvatar's bf16 module rounds it (each
 * PyTorch op's output); CUDA tensors are bf16, so there it always holds. Without it the CPU computes in fp32 (the
 * Hugging Face fp32 reference). Row ranges (lavr_tensor_narrow along dim 0) are valid operands everywhere. */
#ifndef LAVR_KERNELS_W2V_OPS_H
#define LAVR_KERNELS_W2V_OPS_H

#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"
#include "kernels/ctx.h"

/* ---- tensors and transfers ------------------------------------------------------------------- */
/* A row tensor [rows, cols] of the context, uninitialised (CUDA: cols % 8 == 0). */
lavr_status lavr_wop_alloc(lavr_ctx *c, int64_t rows, int64_t cols, const char *what, lavr_tensor *out);
/* y = host[rows, cols] (fp32; CUDA rounds to bf16). Returns when host may be reused. */
lavr_status lavr_wop_upload(lavr_ctx *c, const float *host, lavr_tensor *y);
/* host[rows, cols] = x as fp32. Returns once the values have landed. */
lavr_status lavr_wop_download(lavr_ctx *c, const lavr_tensor *x, float *host);
/* y = x (same shape). */
lavr_status lavr_wop_copy(lavr_ctx *c, const lavr_tensor *x, lavr_tensor *y);
/* Device bytes the context can still allocate (CPU: INT64_MAX, its arena grows). */
int64_t lavr_wop_free_bytes(const lavr_ctx *c);

/* ---- weights ------------------------------------------------------------------------------- */
/* A Linear (W [N, K], b [N] or NULL) or a 1-D convolution (W [Cout, Cin/groups, k], b [Cout] or NULL) prepared
 * for the context from host tensors, which it takes: the CPU keeps them as stored (bf16-rounded first when round
 * and stored wider), CUDA uploads bf16 (convolutions rearranged for its GEMMs) and frees the host copies. */
typedef struct {
    lavr_tensor w, b;
    int64_t n, k;                    /* Linear: N outputs, K inputs */
    int64_t cout, cin, taps, groups; /* convolution */
    lavr_conv_weights conv;          /* CUDA, dense convolutions with cin > 1: the video ops' layout */
} lavr_wop_weights;
lavr_status lavr_wop_linear_weights(lavr_ctx *c, lavr_tensor *w, lavr_tensor *b, int round, lavr_wop_weights *out);
lavr_status lavr_wop_conv_weights(lavr_ctx *c, lavr_tensor *w, lavr_tensor *b, int64_t groups, int round,
                                  lavr_wop_weights *out);
/* A per-column vector (LayerNorm gamma/beta) as fp32 on the context, bf16-rounded first when round (the module's
 * bf16 parameters); takes v like the weights above. */
lavr_status lavr_wop_vector(lavr_ctx *c, lavr_tensor *v, int round, lavr_tensor *out);
void lavr_wop_weights_free(lavr_ctx *c, lavr_wop_weights *w);

/* ---- ops ----------------------------------------------------------------------------------- */
/* y = x · W^T + b, fp32 accumulation, one rounding (PyTorch's addmm with the bias in the epilogue). y must not
 * overlap x. */
lavr_status lavr_wop_linear(lavr_ctx *c, const lavr_tensor *x, const lavr_wop_weights *w, int round, lavr_tensor *y);
/* Row-wise LayerNorm over the columns (fp32 statistics) * gamma + beta. y may be x. */
lavr_status lavr_wop_layernorm(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *gamma, const lavr_tensor *beta,
                               float eps, int round, lavr_tensor *y);
/* y = gelu_erf(x). y may be x. */
lavr_status lavr_wop_gelu(lavr_ctx *c, const lavr_tensor *x, int round, lavr_tensor *y);
/* y = a + b. y may be a or b. */
lavr_status lavr_wop_add(lavr_ctx *c, const lavr_tensor *a, const lavr_tensor *b, int round, lavr_tensor *y);

/* Time-major 1-D convolution: x [Tin, Cin] -> y [Tout, Cout], Tout = (pad_left + Tin + pad_right - k) / stride + 1
 * with zero padding, w from lavr_wop_conv_weights. With round the result is round(round(conv) + bias), PyTorch's
 * bf16 convolution followed by its bias add; without it the bias starts the fp32 accumulation. CUDA: Cin = 1 is a
 * direct kernel, dense convolutions cuDNN or lavr's own kernel (kernels/video_ops.h's path), grouped ones an
 * im2col per group into cuBLASLt. y must not overlap x. */
lavr_status lavr_wop_conv1d(lavr_ctx *c, const lavr_tensor *x, const lavr_wop_weights *w, int64_t stride,
                            int64_t pad_left, int64_t pad_right, int round, lavr_tensor *y);

/* Global attention folded over key chunks (flash-style, no score matrix): q [rows, H*D] (1/sqrt(D) applied here),
 * keys and values [n, H*D] per fold, out [rows, H*D]. The state keeps fp32 running max, sum and output of every
 * (row, head). Folding chunks K1, K2, ... equals one softmax over all keys up to float rounding (CPU: the same bits
 * when every chunk but the last is a multiple of LAVR_ATTENTION_KEY_TILE keys; CUDA: cuDNN's fused SDPA per chunk
 * with its log-sum-exp when the build and library have it, else lavr's fp32 kernel, so bf16 q, k, v with fp32
 * scores and softmax). */
typedef struct lavr_wop_attention lavr_wop_attention;
lavr_status lavr_wop_attention_create(lavr_ctx *c, int64_t max_rows, int64_t heads, int64_t head_dim, int own_kernel,
                                      lavr_wop_attention **out);
void lavr_wop_attention_destroy(lavr_ctx *c, lavr_wop_attention *a);
/* "cuDNN fused SDPA" or "lavr's kernel" (CUDA), "cpu". */
const char *lavr_wop_attention_path(const lavr_wop_attention *a);
lavr_status lavr_wop_attention_fold(lavr_ctx *c, lavr_wop_attention *a, const lavr_tensor *q, const lavr_tensor *k,
                                    const lavr_tensor *v, int first);
lavr_status lavr_wop_attention_finish(lavr_ctx *c, lavr_wop_attention *a, int round, lavr_tensor *out);

#endif
