/* CUDA kernels of the DiT's causal audio encoder (kernels/cuda/dit_audio_kernels.h): explicit _rn operations and
 * double statistics, so each kernel performs the CPU encoder's fp32 operations (models/dit_audio.c) in its order. */
#include <cuda_bf16.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dit_audio_kernels.h"

namespace {

enum { THREADS = 256 };

__device__ float rbf16(float v) { return __bfloat162float(__float2bfloat16_rn(v)); }

#define GRID_LOOP(i, n) \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

__global__ void mix_kernel(const float *__restrict__ audio, int64_t S, int64_t A, int64_t frames, int64_t prefix,
                           const float *__restrict__ w, float wsum, float *feat) {
    GRID_LOOP(i, (prefix + frames) * A) {
        const int64_t t = i / A, c = i % A, src = t < prefix ? 0 : t - prefix;
        float acc = 0;
        for (int64_t l = 0; l < S; l++)
            acc = __fadd_rn(acc, rbf16(__fdiv_rn(rbf16(__fmul_rn(audio[(l * A + c) * frames + src], w[l])), wsum)));
        feat[i] = rbf16(acc);
    }
}

__global__ void taps_kernel(const float *__restrict__ x, int64_t seq_stride, int64_t t_stride, int64_t cin, int64_t K,
                            int64_t stride, int64_t tout, int64_t n, float *__restrict__ cols) {
    GRID_LOOP(i, n) {
        const int64_t row = i / (cin * K), r = i % (cin * K), c = r / K, k = r % K;
        const int64_t s = row / tout, o = row % tout, src = o * stride + k - (K - 1);
        cols[i] = x[s * seq_stride + (src < 0 ? 0 : src) * t_stride + c];
    }
}

/* one block per row; the two sums in double as the CPU's, reduced in a fixed tree */
__global__ void ln_silu_kernel(float *x, int64_t cols, float eps) {
    __shared__ double part[THREADS];
    __shared__ float stat[2];
    float *row = x + blockIdx.x * cols;
    double s = 0;
    for (int64_t c = threadIdx.x; c < cols; c += THREADS) s += (double)row[c];
    part[threadIdx.x] = s;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if ((int)threadIdx.x < k) part[threadIdx.x] += part[threadIdx.x + k];
        __syncthreads();
    }
    const double mean = part[0] / (double)cols;
    __syncthreads();
    double q = 0;
    for (int64_t c = threadIdx.x; c < cols; c += THREADS) {
        const double dv = (double)row[c] - mean;
        q += dv * dv;
    }
    part[threadIdx.x] = q;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if ((int)threadIdx.x < k) part[threadIdx.x] += part[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        stat[0] = (float)mean;
        stat[1] = (float)(1.0 / sqrt(part[0] / (double)cols + (double)eps));
    }
    __syncthreads();
    const float mu = stat[0], inv = stat[1];
    for (int64_t c = threadIdx.x; c < cols; c += THREADS) {
        const float v = __fmul_rn(__fsub_rn(row[c], mu), inv);
        row[c] = __fdiv_rn(v, __fadd_rn(1.0f, expf(-v)));
    }
}

__global__ void local_tokens_kernel(const float *__restrict__ y, int64_t NT, int64_t T4, int64_t keep, int64_t F,
                                    int64_t d, const float *__restrict__ padding, float *a_loc) {
    GRID_LOOP(i, F * (NT + 1) * d) {
        const int64_t f = i / ((NT + 1) * d), n = (i / d) % (NT + 1), c = i % d;
        a_loc[i] = n < NT ? rbf16(y[(n * T4 + keep + f) * d + c]) : padding[c];
    }
}

} // namespace

lavr_status lavr_cuda_audio_mix(const float *audio, int64_t S, int64_t A, int64_t frames, int64_t prefix,
                                const float *w, float wsum, float *feat, void *stream) {
    CHECK_ARG(audio && w && feat && S > 0 && A > 0 && frames > 0 && prefix >= 0, "cuda audio_mix: bad arguments");
    const int64_t n = (prefix + frames) * A;
    mix_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(audio, S, A, frames, prefix, w, wsum, feat);
    CUDA_TRY_LAUNCH("cuda audio_mix");
    return LAVR_OK;
}

lavr_status lavr_cuda_causal_taps(const float *x, int64_t nseq, int64_t seq_stride, int64_t t_stride, int64_t T,
                                  int64_t cin, int64_t K, int64_t stride, float *cols, void *stream) {
    CHECK_ARG(x && cols && nseq > 0 && T > 0 && cin > 0 && K > 0 && stride > 0, "cuda causal_taps: bad arguments");
    const int64_t tout = (T - 1) / stride + 1, n = nseq * tout * cin * K;
    taps_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(x, seq_stride, t_stride, cin, K, stride, tout,
                                                                          n, cols);
    CUDA_TRY_LAUNCH("cuda causal_taps");
    return LAVR_OK;
}

lavr_status lavr_cuda_layernorm_silu(float *x, int64_t rows, int64_t cols, float eps, void *stream) {
    CHECK_ARG(rows >= 0 && rows <= 0x7fffffffLL && cols > 0 && (rows == 0 || x),
              "cuda layernorm_silu: bad arguments (rows=%lld, cols=%lld)", (long long)rows, (long long)cols);
    if (rows == 0) return LAVR_OK;
    ln_silu_kernel<<<(unsigned)rows, THREADS, 0, as_stream(stream)>>>(x, cols, eps);
    CUDA_TRY_LAUNCH("cuda layernorm_silu");
    return LAVR_OK;
}

lavr_status lavr_cuda_audio_local_tokens(const float *y, int64_t NT, int64_t T4, int64_t keep, int64_t F, int64_t d,
                                         const float *padding, float *a_loc, void *stream) {
    CHECK_ARG(y && padding && a_loc && NT > 0 && F > 0 && d > 0 && keep >= 0 && keep + F <= T4,
              "cuda audio_local_tokens: bad arguments");
    const int64_t n = F * (NT + 1) * d;
    local_tokens_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(y, NT, T4, keep, F, d, padding,
                                                                                  a_loc);
    CUDA_TRY_LAUNCH("cuda audio_local_tokens");
    return LAVR_OK;
}
