/* The CUDA versions of the video ops (kernels/video_ops.h), internal to kernels/: called by the dispatcher once it
 * has checked devices and shapes (kernels/cuda/video_ops_cuda.c). Results are bf16, rounded once at each store. */
#ifndef LAVR_KERNELS_CUDA_VIDEO_OPS_CUDA_H
#define LAVR_KERNELS_CUDA_VIDEO_OPS_CUDA_H

#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"
#include "kernels/ctx.h"

lavr_status lavr_cuda_vop_conv(lavr_ctx *c, const lavr_tensor *x, const lavr_conv_weights *w, int with_bias,
                               const int64_t stride[3], const int64_t pad[6], lavr_tensor *y);
lavr_status lavr_cuda_vop_rms_norm(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *x_bias,
                                   const lavr_tensor *gamma, int silu, lavr_tensor *y);
lavr_status lavr_cuda_vop_add(lavr_ctx *c, const lavr_tensor *a, const lavr_tensor *a_bias, const lavr_tensor *b,
                              const lavr_tensor *b_bias, lavr_tensor *y);
lavr_status lavr_cuda_vop_copy(lavr_ctx *c, const lavr_tensor *x, lavr_tensor *y);
lavr_status lavr_cuda_vop_zero(lavr_ctx *c, lavr_tensor *y);
lavr_status lavr_cuda_vop_clamp(lavr_ctx *c, const lavr_tensor *x, float lo, float hi, lavr_tensor *y);
lavr_status lavr_cuda_vop_upsample2x(lavr_ctx *c, const lavr_tensor *x, lavr_tensor *y);
lavr_status lavr_cuda_vop_time_interleave(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *x_bias,
                                          lavr_tensor *y);
lavr_status lavr_cuda_vop_frame_attention(lavr_ctx *c, const lavr_tensor *qkv, const lavr_tensor *qkv_bias,
                                          lavr_tensor *out);

#endif
