/* CUDA kernels of the GPU DiT (models/dit_cuda.c) beyond kernels/cuda/ops_cuda.h: bias add, the
 * tensor-parallel q/k RMSNorm in two halves, patchify/unpatchify, the Euler step and device weights. */
#ifndef LAVR_KERNELS_CUDA_DIT_KERNELS_H
#define LAVR_KERNELS_CUDA_DIT_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

/* y[r, c] = y[r, c] + b[c] (then rounded to bf16 when round_bf16): the bias of a row-parallel GEMM added
 * after the all-reduce (models/dit_numerics.c dit_linear_reduce_bf16). */
lavr_status lavr_cuda_add_bias(float *y, int64_t rows, int64_t cols, const float *b, int round_bf16, void *stream);
/* ss[r] = sum of x[r, :]^2 (double accumulation, stored fp32): the per-row statistic a tp group
 * all-reduces before the q/k RMSNorm. */
lavr_status lavr_cuda_row_sumsq(const float *x, int64_t rows, int64_t cols, float *ss, void *stream);
/* WanRMSNorm's second half (dit_rms_gain_tp): x = bf16(bf16(x * rsqrt(ss[r]/full + eps)) * gain[c]). */
lavr_status lavr_cuda_rms_apply_gain(float *x, int64_t rows, int64_t cols, const float *ss, int64_t full, float eps,
                                     const float *gain, void *stream);
/* Patches of a kernel = stride Conv3d (the patch embedding, FramePack's buckets) over frames [first, first + frames)
 * of x [C, T, h, w] fp32: the tokens [t0, t0 + tokens) of the (f, i, j) order (floor sizes: frames / kt,
 * h / kh, w / kw), each a row (C, kt, kh, kw) of p in bf16 (RNE), the operand of the embedding's GEMM (dit_patchify). */
typedef struct {
    const float *x;
    int64_t C, T, h, w;
    int64_t first, frames;
    int64_t kt, kh, kw;
    int64_t t0, tokens;
} lavr_cuda_patch_args;
lavr_status lavr_cuda_patchify(const lavr_cuda_patch_args *a, uint16_t *p, void *stream);
/* Head output y [(F, h/2, w/2), (2, 2, C)] -> velocity [C, F, h, w] rounded to bf16 (lavr_dit_head). */
lavr_status lavr_cuda_unpatchify(const float *y, int64_t C, int64_t F, int64_t h, int64_t w, float *v, void *stream);
/* Euler step: x = bf16(x + bf16(delta * v)) (lavr_sampler_step). */
lavr_status lavr_cuda_euler_step(float *x, const float *v, int64_t n, float delta, void *stream);
/* y[i] = shift + scale * sqrt(3) * (2u - 1), u = (out[0] + 0.5) / 2^32 of Philox-4x32-10 with key seed and
 * counter (offset + i, stream) as four 32-bit words, low first: unit-variance uniform values for weights
 * made on the device. bf16 (RNE) when bf16 is set (y is uint16_t[]), else fp32. */
lavr_status lavr_cuda_fill_uniform(void *y, int bf16, int64_t n, uint64_t seed, uint64_t stream_id, uint64_t offset,
                                   float scale, float shift, void *stream);

#ifdef __cplusplus
}
#endif

#endif
