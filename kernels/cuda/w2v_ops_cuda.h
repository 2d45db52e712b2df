/* The CUDA versions of wav2vec2's row ops (kernels/w2v_ops.h), internal to kernels/: called by kernels/w2v_ops.c
 * once it has checked devices and shapes. Row tensors are bf16; results are rounded once at each store. */
#ifndef LAVR_KERNELS_CUDA_W2V_OPS_CUDA_H
#define LAVR_KERNELS_CUDA_W2V_OPS_CUDA_H

#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"
#include "kernels/ctx.h"
#include "kernels/w2v_ops.h"

lavr_status lavr_cuda_wop_alloc(lavr_ctx *c, int64_t rows, int64_t cols, const char *what, lavr_tensor *out);
lavr_status lavr_cuda_wop_upload(lavr_ctx *c, const float *host, lavr_tensor *y);
lavr_status lavr_cuda_wop_download(lavr_ctx *c, const lavr_tensor *x, float *host);
lavr_status lavr_cuda_wop_copy(lavr_ctx *c, const lavr_tensor *x, lavr_tensor *y);
int64_t lavr_cuda_wop_free_bytes(const lavr_ctx *c);
lavr_status lavr_cuda_wop_linear_weights(lavr_ctx *c, const lavr_tensor *w, const lavr_tensor *b,
                                         lavr_wop_weights *out);
lavr_status lavr_cuda_wop_conv_weights(lavr_ctx *c, const lavr_tensor *w, const lavr_tensor *b, lavr_wop_weights *out);
lavr_status lavr_cuda_wop_linear(lavr_ctx *c, const lavr_tensor *x, const lavr_wop_weights *w, lavr_tensor *y);
lavr_status lavr_cuda_wop_layernorm(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *gamma,
                                    const lavr_tensor *beta, float eps, lavr_tensor *y);
lavr_status lavr_cuda_wop_gelu(lavr_ctx *c, const lavr_tensor *x, lavr_tensor *y);
lavr_status lavr_cuda_wop_add(lavr_ctx *c, const lavr_tensor *a, const lavr_tensor *b, lavr_tensor *y);
lavr_status lavr_cuda_wop_conv1d(lavr_ctx *c, const lavr_tensor *x, const lavr_wop_weights *w, int64_t stride,
                                 int64_t pad_left, int64_t pad_right, lavr_tensor *y);
lavr_status lavr_cuda_wop_attention_create(lavr_ctx *c, int64_t max_rows, int64_t heads, int64_t head_dim,
                                           int own_kernel, void **out);
void lavr_cuda_wop_attention_destroy(lavr_ctx *c, void *state);
const char *lavr_cuda_wop_attention_path(const void *state);
lavr_status lavr_cuda_wop_attention_fold(lavr_ctx *c, void *state, const lavr_tensor *q, const lavr_tensor *k,
                                         const lavr_tensor *v, int first);
lavr_status lavr_cuda_wop_attention_finish(lavr_ctx *c, void *state, lavr_tensor *out);

#endif
