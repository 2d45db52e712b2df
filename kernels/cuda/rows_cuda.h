/* CUDA kernels of the row ops (kernels/cuda/rows.cu) on bf16 row-major memory [rows, cols], fp32 arithmetic, one
 * rounding to bf16 (RNE) at each store. Every launcher takes device pointers and a cudaStream_t as `void *stream`,
 * enqueues and returns. Callable from C11. */
#ifndef LAVR_KERNELS_CUDA_ROWS_CUDA_H
#define LAVR_KERNELS_CUDA_ROWS_CUDA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

/* T5's RMS norm: y = bf16(bf16(x * rsqrt(mean(x^2) + eps)) * gain[col]); gain fp32 [cols]. y may be x. */
lavr_status lavr_cuda_rows_rms_norm(const uint16_t *x, int64_t rows, int64_t cols, const float *gain, float eps,
                                    uint16_t *y, void *stream);
/* y = bf16(LayerNorm(x) * gamma + beta) (two-pass fp32 statistics; gamma, beta fp32 [cols] or NULL). y may be x. */
lavr_status lavr_cuda_rows_layer_norm(const uint16_t *x, int64_t rows, int64_t cols, const float *gamma,
                                      const float *beta, float eps, uint16_t *y, void *stream);
/* y = gelu(x) over n values; kind as lavr_gelu_kind (0 erf, 1 tanh, 2 tanh in bf16 steps). y may be x. */
lavr_status lavr_cuda_rows_gelu(const uint16_t *x, int64_t n, int kind, uint16_t *y, void *stream);
/* y = bf16(a * b) (mul) or bf16(a + b) over n values. y may be a or b. */
lavr_status lavr_cuda_rows_binary(const uint16_t *a, const uint16_t *b, int64_t n, int mul, uint16_t *y, void *stream);
/* bias[h, i, j] = key_mask && key_mask[j] == 0 ? lowest : table[bucket[i, j] * H + h] (fp32 out, [H, Lq, Lk]). */
lavr_status lavr_cuda_rows_position_bias(const float *table, const int32_t *bucket, const float *key_mask, int64_t H,
                                         int64_t Lq, int64_t Lk, float lowest, float *bias, void *stream);
/* w[i] = bf16(a * (2 u - 1)), u = lavr_row_random_u24(seed, i) / 2^24, over n values. */
lavr_status lavr_cuda_rows_random(uint64_t seed, float a, int64_t n, uint16_t *w, void *stream);

#ifdef __cplusplus
}
#endif

#endif
