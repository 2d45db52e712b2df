/* CUDA kernels of the video ops (kernels/cuda/video.cu), on bf16 channels-last video memory: npos positions of
 * P channels each (P % 8 == 0, 16-byte aligned rows; the P - C pad channels read as zero and are written as
 * zero). Vectors (bias, gamma) are fp32 with at least P entries, zero past C. Every launcher takes device pointers
 * and a cudaStream_t as `void *stream`, enqueues and returns; results are rounded to bf16 (RNE) once, at the store.
 * Callable from C11. */
#ifndef LAVR_KERNELS_CUDA_VIDEO_CUDA_H
#define LAVR_KERNELS_CUDA_VIDEO_CUDA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

/* y = [silu](x' / max(||x'||, 1e-12) * sqrt(C) * gamma), x' = bf16(x + bias) when bias, per position over the
 * channels. P <= 2048. */
lavr_status lavr_cuda_video_rms_norm(const uint16_t *x, const float *bias, const float *gamma, int64_t npos, int64_t C,
                                     int64_t P, int silu, uint16_t *y, void *stream);
/* y = bf16(a' + b'), a' = bf16(a + a_bias) when a_bias (b likewise; b may be NULL: y = a'). y may be a or b. */
lavr_status lavr_cuda_video_add(const uint16_t *a, const float *a_bias, const uint16_t *b, const float *b_bias,
                                int64_t npos, int64_t P, uint16_t *y, void *stream);
/* y = clamp(x, lo, hi) over n values (NaN stays NaN). */
lavr_status lavr_cuda_video_clamp(const uint16_t *x, int64_t n, float lo, float hi, uint16_t *y, void *stream);
/* Nearest x2: x [t][h][w][P] -> y [t][2h][2w][P]. */
lavr_status lavr_cuda_video_upsample2x(const uint16_t *x, int64_t t, int64_t h, int64_t w, int64_t P, uint16_t *y,
                                       void *stream);
/* x [t][hw][Px] with 2C channels -> y [2t][hw][Py] with C channels: y[2τ+j][p][c] = bf16(x[τ][p][jC + c] + bias). */
lavr_status lavr_cuda_video_time_interleave(const uint16_t *x, const float *bias, int64_t t, int64_t hw, int64_t C,
                                            int64_t Px, int64_t Py, uint16_t *y, void *stream);

/* Layout changes between channel-major fp32 [C][n] and bf16 [n][P] (device memory on both sides). */
lavr_status lavr_cuda_video_pack(const float *x, int64_t C, int64_t n, int64_t P, uint16_t *y, void *stream);
lavr_status lavr_cuda_video_unpack(const uint16_t *x, int64_t C, int64_t n, int64_t P, float *y, void *stream);

/* Attention pieces for one frame of ntok tokens: qkv [ntok][P3] (channels q | k | v of C each) plus bias ->
 * q [ntok][C], k [ntok][C], vt [C][ntok] (v transposed), all bf16(x + bias). */
lavr_status lavr_cuda_video_qkv_split(const uint16_t *qkv, const float *bias, int64_t ntok, int64_t C, int64_t P3,
                                      uint16_t *q, uint16_t *k, uint16_t *vt, void *stream);
/* p[r][j] = bf16(softmax_j(scale * s[r][j])) in fp32, rows of `cols` values. */
lavr_status lavr_cuda_softmax_rows(const float *s, int64_t rows, int64_t cols, float scale, uint16_t *p,
                                   void *stream);

/* The own convolution's gather (kernels/cuda/conv.cu): rows q in [q0, q0 + count) of the im2col matrix of a
 * channels-last conv, cols[q - q0][((dt*kh + dh)*kw + dw)*Pin + ci] = x at that tap (0 in the padding). */
typedef struct {
    int64_t t, h, w, pin;      /* input frames, height, width, channel pitch */
    int64_t kt, kh, kw;        /* kernel */
    int64_t st, sh, sw;        /* strides */
    int64_t pt, ph, pw;        /* front / top / left padding (the back ones follow from the output size) */
    int64_t to, ho, wo;        /* output size */
} lavr_cuda_conv_geom;
lavr_status lavr_cuda_im2col_cl(const uint16_t *x, const lavr_cuda_conv_geom *g, int64_t q0, int64_t count,
                                uint16_t *cols, void *stream);

#ifdef __cplusplus
}
#endif

#endif
