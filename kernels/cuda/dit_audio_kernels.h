/* The small kernels of the DiT's causal audio encoder on the device (models/dit_audio_cuda.c), hand-written
 * because each reproduces a rounding point of the CPU encoder (models/dit_audio.c) that no library op has: the
 * bf16 layer mix, the gather of causal taps over strided sequences, LayerNorm + SiLU with double statistics, and
 * the scatter of the kept frames into the injector's token layout. The convolutions themselves are cuBLASLt fp32
 * GEMMs (lavr_cuda_linear_f32). */
#ifndef LAVR_KERNELS_CUDA_DIT_AUDIO_KERNELS_H
#define LAVR_KERNELS_CUDA_DIT_AUDIO_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

/* The layer mix of dit_audio_encode: audio [S * A][frames] (state l, channel c at row l * A + c), w [S] the bf16
 * silu(logits), wsum their bf16 sum; feat [prefix + frames][A], frame t < prefix reading frame 0:
 * feat[t][c] = bf16(sum over l, in order, of bf16(bf16(audio * w[l]) / wsum)). */
lavr_status lavr_cuda_audio_mix(const float *audio, int64_t S, int64_t A, int64_t frames, int64_t prefix,
                                const float *w, float wsum, float *feat, void *stream);
/* The taps of a causal Conv1d (left padding K-1 repeating frame 0) over nseq sequences of T frames: element
 * (s, t, c) at x[s * seq_stride + t * t_stride + c]; cols [nseq * Tout][cin * K], row s * Tout + o holds
 * x(s, max(0, o * stride + k - (K-1)), c) at column c * K + k; Tout = (T-1)/stride + 1. */
lavr_status lavr_cuda_causal_taps(const float *x, int64_t nseq, int64_t seq_stride, int64_t t_stride, int64_t T,
                                  int64_t cin, int64_t K, int64_t stride, float *cols, void *stream);
/* In place x = silu(LayerNorm(x)) over rows of cols (no affine): mean and centred sum of squares in double,
 * (x - (float)mean) * (float)(1/sqrt(var + eps)) in fp32, then v / (1 + exp(-v)) (lavr_op_layernorm, lavr_op_silu). */
lavr_status lavr_cuda_layernorm_silu(float *x, int64_t rows, int64_t cols, float eps, void *stream);
/* The injector's tokens from conv3's output y [nseq][T4][d] (sequences 0..NT-1 the local tokens): a_loc
 * [F][NT + 1][d] = bf16(y[n][keep + f]) for n < NT, then padding [d]. */
lavr_status lavr_cuda_audio_local_tokens(const float *y, int64_t NT, int64_t T4, int64_t keep, int64_t F, int64_t d,
                                         const float *padding, float *a_loc, void *stream);

#ifdef __cplusplus
}
#endif

#endif
