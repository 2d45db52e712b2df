/* The CUDA versions of the row ops (kernels/row_ops.h), internal to kernels/: called by the dispatcher
 * (kernels/row_ops.c) once it has checked devices and shapes; implemented in kernels/cuda/row_ops_cuda.c. */
#ifndef LAVR_KERNELS_CUDA_ROW_OPS_CUDA_H
#define LAVR_KERNELS_CUDA_ROW_OPS_CUDA_H

#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"
#include "kernels/row_ops.h"

lavr_status lavr_cuda_ctx_alloc_tensor(lavr_ctx *c, lavr_dtype dt, int ndim, const int64_t *shape, const char *what,
                                       lavr_tensor *out);
lavr_status lavr_cuda_ctx_upload_tensor(lavr_ctx *c, const lavr_tensor *host, const char *what, lavr_tensor *out);
lavr_status lavr_cuda_ctx_download_tensor(lavr_ctx *c, const lavr_tensor *src, lavr_tensor *host);
lavr_status lavr_cuda_ctx_linear_weights(lavr_ctx *c, lavr_tensor *weight, lavr_tensor *bias,
                                         lavr_linear_weights *out);
lavr_status lavr_cuda_ctx_linear_weights_random(lavr_ctx *c, int64_t out, int64_t in, uint64_t seed, float a,
                                                lavr_linear_weights *w);
lavr_status lavr_cuda_rop_upload(lavr_ctx *c, const float *host, lavr_tensor *dst);
lavr_status lavr_cuda_rop_download(lavr_ctx *c, const lavr_tensor *src, float *host);
lavr_status lavr_cuda_rop_copy(lavr_ctx *c, const lavr_tensor *x, lavr_tensor *y);
lavr_status lavr_cuda_rop_linear(lavr_ctx *c, const lavr_tensor *x, const lavr_linear_weights *w, lavr_tensor *y);
lavr_status lavr_cuda_rop_rms_norm(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *gain, float eps,
                                   lavr_tensor *y);
lavr_status lavr_cuda_rop_layer_norm(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *gamma,
                                     const lavr_tensor *beta, float eps, lavr_tensor *y);
lavr_status lavr_cuda_rop_gelu(lavr_ctx *c, const lavr_tensor *x, lavr_gelu_kind kind, lavr_tensor *y);
lavr_status lavr_cuda_rop_binary(lavr_ctx *c, const lavr_tensor *a, const lavr_tensor *b, int mul, lavr_tensor *y);
lavr_status lavr_cuda_rop_position_bias(lavr_ctx *c, const lavr_tensor *table, const lavr_tensor *bucket,
                                        const lavr_tensor *key_mask, lavr_tensor *bias);
/* round_scores: lavr_rop_attention_eager's bf16 scores (before and after the bias) */
lavr_status lavr_cuda_rop_attention(lavr_ctx *c, const lavr_tensor *q, const lavr_tensor *k, const lavr_tensor *v,
                                    int64_t heads, float scale, const lavr_tensor *bias, int round_scores,
                                    lavr_tensor *out);

#endif
