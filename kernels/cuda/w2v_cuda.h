/* CUDA kernels of wav2vec2's ops (kernels/cuda/w2v.cu) on bf16 row-major memory: every launcher takes device
 * pointers and a cudaStream_t as `void *stream`, enqueues and returns; bf16 results are rounded (RNE) once at the
 * store, all arithmetic is fp32. Callable from C11. */
#ifndef LAVR_KERNELS_CUDA_W2V_CUDA_H
#define LAVR_KERNELS_CUDA_W2V_CUDA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

/* y = x over n bf16 values (device to device). */
lavr_status lavr_cuda_w2v_copy(const uint16_t *x, int64_t n, uint16_t *y, void *stream);
/* y[r][c] = bf16(y[r][c] + bias[c]) (bias fp32 [cols]), PyTorch's bias add after a bf16 convolution. */
lavr_status lavr_cuda_w2v_add_bias(uint16_t *y, int64_t rows, int64_t cols, const float *bias, void *stream);
/* A one-channel convolution: x [tin] -> y [tout][cout], y = bf16(bf16(sum_j x[t*stride + j - pad] * w[c][j]) +
 * bias[c]) with zero padding, w bf16 [cout][taps], bias fp32 [cout] or NULL. */
lavr_status lavr_cuda_w2v_conv_1ch(const uint16_t *x, int64_t tin, const uint16_t *w, const float *bias, int64_t cout,
                                   int64_t taps, int64_t stride, int64_t pad, int64_t tout, uint16_t *y, void *stream);
/* One group's im2col of a time-major grouped convolution: cols[t][j*cg + i] = x[t*stride + j - pad][g*cg + i]
 * (0 outside [0, tin)), x [tin][cin] -> cols [tout][taps*cg]. */
lavr_status lavr_cuda_w2v_im2col_group(const uint16_t *x, int64_t tin, int64_t cin, int64_t g, int64_t cg,
                                       int64_t taps, int64_t stride, int64_t pad, int64_t tout, uint16_t *cols,
                                       void *stream);

/* Flash-style attention folded over key chunks, fp32 state: acc [heads][rows][D] (un-normalised output),
 * m [heads][rows] (running max of the scaled scores), l [heads][rows] (running sum). q, k, v bf16 [n][heads*D],
 * scale multiplies q·k; first starts the run. D = 16, 32 or 64. */
lavr_status lavr_cuda_w2v_attention_fold(const uint16_t *q, int64_t rows, const uint16_t *k, const uint16_t *v,
                                         int64_t nkeys, int64_t heads, int64_t D, float scale, int first, float *acc,
                                         float *m, float *l, void *stream);
/* Folds one chunk's normalised output o (bf16 [rows][heads*D]) and log-sum-exp lse (fp32 [heads][rows], of the
 * scaled scores) into the same kind of state, where m holds the log-sum-exp so far and l is unused. */
lavr_status lavr_cuda_w2v_attention_fold_lse(const uint16_t *o, const float *lse, int64_t rows, int64_t heads,
                                             int64_t D, int first, float *acc, float *m, void *stream);
/* lse[i] = m[i] + log(l[i]) over n (row, head) entries: a fold state's log-sum-exp. */
lavr_status lavr_cuda_w2v_attention_lse(const float *m, const float *l, int64_t n, float *lse, void *stream);
/* out [rows][heads*D] = bf16(acc / l) (normalised = 0: l unused, acc already normalised). */
lavr_status lavr_cuda_w2v_attention_finish(const float *acc, const float *l, int normalised, int64_t rows,
                                           int64_t heads, int64_t D, uint16_t *out, void *stream);

#ifdef __cplusplus
}
#endif

#endif
