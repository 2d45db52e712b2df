/* CPU reference of the video ops (kernels/video_ops.h), internal to kernels/: the same arguments without the
 * context, on host F32 video tensors whose channels each hold t*h*w contiguous values (contiguous tensors and
 * frame ranges of them). The dispatcher (kernels/video_ops.c) has checked devices and shapes. */
#ifndef LAVR_KERNELS_CPU_VIDEO_H
#define LAVR_KERNELS_CPU_VIDEO_H

#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "core/tensor.h"
#include "kernels/ctx.h"

lavr_status lavr_cpu_vop_conv(lavr_arena *scratch, const lavr_tensor *x, const lavr_conv_weights *w, int with_bias,
                              const int64_t stride[3], const int64_t pad[6], int round, lavr_tensor *y);
lavr_status lavr_cpu_vop_rms_norm(const lavr_tensor *x, const lavr_tensor *x_bias, const lavr_tensor *gamma, int silu,
                                  int round, lavr_tensor *y);
lavr_status lavr_cpu_vop_add(const lavr_tensor *a, const lavr_tensor *a_bias, const lavr_tensor *b,
                             const lavr_tensor *b_bias, int round, lavr_tensor *y);
lavr_status lavr_cpu_vop_copy(const lavr_tensor *x, lavr_tensor *y);
lavr_status lavr_cpu_vop_zero(lavr_tensor *y);
lavr_status lavr_cpu_vop_clamp(const lavr_tensor *x, float lo, float hi, lavr_tensor *y);
lavr_status lavr_cpu_vop_upsample2x(const lavr_tensor *x, lavr_tensor *y);
lavr_status lavr_cpu_vop_time_interleave(const lavr_tensor *x, const lavr_tensor *x_bias, int round, lavr_tensor *y);
lavr_status lavr_cpu_vop_frame_attention(lavr_arena *scratch, const lavr_tensor *qkv, const lavr_tensor *qkv_bias,
                                         int round, lavr_tensor *out);

#endif
