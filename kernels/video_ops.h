/* The ops of video networks (the Wan VAE) on device-aware tensors: each takes video tensors [C, T, H, W] made by
 * a context (kernels/ctx.h) or frame ranges of them, all on the context's device, and runs there — the CPU
 * reference in kernels/cpu/video.c, the CUDA versions in kernels/cuda/video*.{c,cu}.
 *
 * Rounding: `round` rounds every result to bf16 (RNE) at the op's output, LiveAvatar's bf16-autocast points;
 * CUDA tensors are bf16, so there it always holds (round = 0 on CUDA is an error).
 * Deferred bias: an input may come with `bias` (fp32 [C], NULL = none), the bias of the convolution that made it
 * and has not been added yet; the op reads round(x + bias[c]) (x + bias[c] without round). PyTorch's bf16
 * convolution rounds its result and then adds the bias as a second bf16 op, so a convolution with its bias
 * deferred into the next op is that op with one pass less over memory. */
#ifndef LAVR_KERNELS_VIDEO_OPS_H
#define LAVR_KERNELS_VIDEO_OPS_H

#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"
#include "kernels/ctx.h"

/* y = conv(x, w) over [Cin, T, H, W] -> [Cout, To, Ho, Wo] with zero padding pad[6] (t front/back, h top/bottom,
 * w left/right) and stride[3] (t, h, w), as lavr_op_conv3d. With_bias adds w->bias: fp32 accumulation starts
 * from it without round; with round the result is round(round(conv) + bias). y must not overlap x.
 * CUDA: 1x1x1 convolutions are cuBLASLt GEMMs, the others cuDNN or lavr's kernel (the context's path). */
lavr_status lavr_vop_conv(lavr_ctx *c, const lavr_tensor *x, const lavr_conv_weights *w, int with_bias,
                          const int64_t stride[3], const int64_t pad[6], int round, lavr_tensor *y);

/* RMSn of the Wan VAE with optional SiLU: v = x' / max(||x'||_C, 1e-12) * sqrt(C) * gamma[c] over the channels of
 * each position (F.normalize), then v = silu(v) when silu; gamma fp32 [C]. y must not overlap x. */
lavr_status lavr_vop_rms_norm(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *x_bias, const lavr_tensor *gamma,
                              int silu, int round, lavr_tensor *y);

/* y = a' + b' (b may be NULL: y = a', the way to apply a deferred bias). y may be a (in place). */
lavr_status lavr_vop_add(lavr_ctx *c, const lavr_tensor *a, const lavr_tensor *a_bias, const lavr_tensor *b,
                         const lavr_tensor *b_bias, int round, lavr_tensor *y);

/* y = x (same shape, same device; frame ranges of equal tensors). */
lavr_status lavr_vop_copy(lavr_ctx *c, const lavr_tensor *x, lavr_tensor *y);
/* y = 0. */
lavr_status lavr_vop_zero(lavr_ctx *c, lavr_tensor *y);
/* y = clamp(x, lo, hi) (NaN stays NaN). y may be x. */
lavr_status lavr_vop_clamp(lavr_ctx *c, const lavr_tensor *x, float lo, float hi, lavr_tensor *y);

/* Nearest-neighbour x2 in h and w: y [C, T, 2H, 2W], y[c, t, i, j] = x[c, t, i/2, j/2]. */
lavr_status lavr_vop_upsample2x(lavr_ctx *c, const lavr_tensor *x, lavr_tensor *y);
/* Time doubling of the Wan VAE's Up3d: x' [2C, T, H, W] -> y [C, 2T, H, W], y[c, 2t + j] = x'[j*C + c, t]. */
lavr_status lavr_vop_time_interleave(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *x_bias, int round,
                                     lavr_tensor *y);

/* The VAE's mid-block attention, per frame: qkv' [3C, T, H, W] holds q, k, v in channels [0, C), [C, 2C), [2C, 3C);
 * tokens are the H*W positions of one frame, one head of C, scale 1/sqrt(C), fp32 softmax -> out [C, T, H, W].
 * CPU: lavr_op_attention on the fp32 values. CUDA: S = QK^T by cuBLASLt in fp32, softmax in fp32, its weights
 * rounded to bf16 for P·V (fp32 accumulation), as PyTorch's bf16 attention does. */
lavr_status lavr_vop_frame_attention(lavr_ctx *c, const lavr_tensor *qkv, const lavr_tensor *qkv_bias, int round,
                                     lavr_tensor *out);

#endif
