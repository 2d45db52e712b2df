/* The CUDA versions of wav2vec2's ops (kernels/w2v_ops.h), internal to kernels/: called by kernels/w2v_ops.c once
 * it has checked devices and shapes. Row tensors are bf16; results are rounded once at each store. */
#ifndef LAVR_KERNELS_CUDA_W2V_OPS_CUDA_H
#define LAVR_KERNELS_CUDA_W2V_OPS_CUDA_H

#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"
#include "kernels/ctx.h"
#include "kernels/w2v_ops.h"

int64_t lavr_cuda_wop_free_bytes(const lavr_ctx *c);
/* Uploads; the caller frees the host tensors. */
lavr_status lavr_cuda_wop_conv_weights(lavr_ctx *c, const lavr_tensor *w, const lavr_tensor *b, lavr_wop_conv *out);
lavr_status lavr_cuda_wop_conv1d(lavr_ctx *c, const lavr_tensor *x, const lavr_wop_conv *w, int64_t stride,
                                 int64_t pad_left, int64_t pad_right, lavr_tensor *y);
lavr_status lavr_cuda_wop_attention_create(lavr_ctx *c, int64_t max_rows, int64_t heads, int64_t head_dim,
                                           int own_kernel, void **out);
void lavr_cuda_wop_attention_destroy(lavr_ctx *c, void *state);
const char *lavr_cuda_wop_attention_path(const void *state);
int lavr_cuda_wop_attention_has_sdpa(const void *state);
lavr_status lavr_cuda_wop_attention_fold(lavr_ctx *c, void *state, const lavr_tensor *q, const lavr_tensor *k,
                                         const lavr_tensor *v, int first);
lavr_status lavr_cuda_wop_attention_finish(lavr_ctx *c, void *state, lavr_tensor *out);
/* One cuDNN SDPA call over all keys into out (lavr_cuda_wop_attention_has_sdpa). */
lavr_status lavr_cuda_wop_attention_all(lavr_ctx *c, void *state, const lavr_tensor *q, const lavr_tensor *k,
                                        const lavr_tensor *v, lavr_tensor *out);

#endif
