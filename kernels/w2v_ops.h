/* wav2vec2's ops beyond kernels/row_ops.h, on the same device-aware row tensors [rows, cols] (CPU F32, CUDA BF16):
 * the time-major 1-D convolutions of its feature extractor and positional embedding, and global attention folded
 * over key chunks that arrive in several calls (an audio whose keys do not fit the device). CPU reference in
 * kernels/cpu/w2v_rows.c, CUDA in kernels/cuda/w2v_ops_cuda.c; `round` as in kernels/row_ops.h. */
#ifndef LAVR_KERNELS_W2V_OPS_H
#define LAVR_KERNELS_W2V_OPS_H

#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"
#include "kernels/ctx.h"

/* Device bytes the context can still allocate (CPU: INT64_MAX, its arena grows). */
int64_t lavr_wop_free_bytes(const lavr_ctx *c);

/* A 1-D convolution (W [Cout, Cin/groups, k], b [Cout] or NULL) prepared for the context from host tensors, which it
 * takes: the CPU keeps them as stored, CUDA uploads bf16 weights (rearranged for its GEMMs) and an fp32 bias and
 * frees the host copies. */
typedef struct {
    lavr_tensor w, b;
    int64_t cout, cin, taps, groups;
    lavr_conv_weights dense; /* CUDA, groups = 1 and cin > 1: the video ops' layout */
} lavr_wop_conv;
lavr_status lavr_wop_conv_weights(lavr_ctx *c, lavr_tensor *w, lavr_tensor *b, int64_t groups, lavr_wop_conv *out);
void lavr_wop_conv_free(lavr_ctx *c, lavr_wop_conv *w);

/* Time-major 1-D convolution: x [Tin, Cin] -> y [Tout, Cout], Tout = (pad_left + Tin + pad_right - k) / stride + 1
 * with zero padding. With round the result is round(round(conv) + bias), PyTorch's bf16 convolution followed by its
 * bias add; without it the bias starts the fp32 accumulation. CUDA: Cin = 1 is a direct kernel, dense convolutions
 * run as the video ops' convolution of a [C, 1, 1, T] view (cuDNN, or lavr's im2col + cuBLASLt kernel), grouped
 * ones as an im2col per group into cuBLASLt. y must not overlap x. */
lavr_status lavr_wop_conv1d(lavr_ctx *c, const lavr_tensor *x, const lavr_wop_conv *w, int64_t stride,
                            int64_t pad_left, int64_t pad_right, int round, lavr_tensor *y);

/* Global attention folded over key chunks (flash-style, no score matrix): q [rows, H*D] (scaled by 1/sqrt(D) here),
 * keys and values [n, H*D] per fold (first = 1 starts a run), out [rows, H*D] at finish. The state keeps fp32 running
 * max, sum and output of every (row, head). Folding K1, K2, ... equals one softmax over all keys up to float rounding
 * (CPU: the same bits as lavr_rop_attention over all keys when every chunk but the last is a multiple of
 * LAVR_ATTENTION_KEY_TILE keys). CUDA: cuDNN's fused SDPA per chunk, merged by its log-sum-exp, where the build and
 * library have it (cuDNN >= 9.13; a chunk shape it has no engine for goes through lavr's kernel and joins the same
 * way), else lavr's fp32 fold kernel (bf16 q, k, v; fp32 scores and softmax). */
typedef struct lavr_wop_attention lavr_wop_attention;
/* own_kernel: CUDA uses lavr's kernel even where cuDNN's SDPA is available. */
lavr_status lavr_wop_attention_create(lavr_ctx *c, int64_t max_rows, int64_t heads, int64_t head_dim, int own_kernel,
                                      lavr_wop_attention **out);
void lavr_wop_attention_destroy(lavr_ctx *c, lavr_wop_attention *a);
/* "the CPU's flash-style fold", "cuDNN fused SDPA, ..." or "lavr's fp32 fold kernel". */
const char *lavr_wop_attention_path(const lavr_wop_attention *a);
lavr_status lavr_wop_attention_fold(lavr_ctx *c, lavr_wop_attention *a, const lavr_tensor *q, const lavr_tensor *k,
                                    const lavr_tensor *v, int first);
lavr_status lavr_wop_attention_finish(lavr_ctx *c, lavr_wop_attention *a, int round, lavr_tensor *out);
/* Attention over all keys in one call (they fit): CUDA cuDNN's SDPA where the state has it, else lavr_rop_attention
 * (the tensor-core flash kernel); CPU lavr_rop_attention (the bits of a fold over the same keys). */
lavr_status lavr_wop_attention_all(lavr_ctx *c, lavr_wop_attention *a, const lavr_tensor *q, const lavr_tensor *k,
                                   const lavr_tensor *v, int round, lavr_tensor *out);

#endif
