/* CUDA row normalisations: LayerNorm (optional fp32 affine), the DiT's modulated LayerNorm and RMS
 * norm without gain, one block per row with fp32 block reductions; LayerNorm takes two passes (mean, then centred squares) like
 * the CPU reference in kernels/cpu/norm.c, so |mean| >> std loses nothing to cancellation. */
#include <cuda_bf16.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops_cuda.h"

namespace {

enum { THREADS = 256 };

/* Sum of v over the block; every thread gets the result. `scratch` holds 32 floats. */
__device__ float block_sum(float v, float *scratch) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    __syncthreads(); /* scratch may still be read by a previous call */
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    const int nwarps = blockDim.x >> 5;
    v = lane < nwarps ? scratch[lane] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__global__ void layernorm_kernel(const float *x, int64_t cols, const float *__restrict__ gamma,
                                 const float *__restrict__ beta, float eps, float *y) {
    __shared__ float scratch[32];
    const float *xr = x + blockIdx.x * cols;
    float *yr = y + blockIdx.x * cols;
    float s = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += xr[c];
    const float mean = block_sum(s, scratch) / (float)cols;
    float sq = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        const float d = xr[c] - mean;
        sq += d * d;
    }
    const float inv = rsqrtf(block_sum(sq, scratch) / (float)cols + eps);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = (xr[c] - mean) * inv;
        if (gamma) v *= gamma[c];
        if (beta) v += beta[c];
        yr[c] = v;
    }
}

__global__ void rmsnorm_kernel(const float *x, int64_t cols, float eps, float *y) {
    __shared__ float scratch[32];
    const float *xr = x + blockIdx.x * cols;
    float *yr = y + blockIdx.x * cols;
    float sq = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) sq += xr[c] * xr[c];
    const float inv = rsqrtf(block_sum(sq, scratch) / (float)cols + eps);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) yr[c] = xr[c] * inv;
}

__device__ float bf16_round(float v) { return __bfloat162float(__float2bfloat16_rn(v)); }

/* explicit _rn products and sums: no FMA contraction, the same fp32 operations as the CPU twin */
__global__ void modulated_layernorm_kernel(const float *x, int64_t cols, float eps, int round_ln,
                                           const float *__restrict__ shift, const float *__restrict__ scale, float *y) {
    __shared__ float scratch[32];
    const float *xr = x + blockIdx.x * cols;
    float *yr = y + blockIdx.x * cols;
    float s = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += xr[c];
    const float mean = block_sum(s, scratch) / (float)cols;
    float sq = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        const float d = xr[c] - mean;
        sq += d * d;
    }
    const float inv = rsqrtf(block_sum(sq, scratch) / (float)cols + eps);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        float n = __fmul_rn(xr[c] - mean, inv);
        if (round_ln) n = bf16_round(n);
        yr[c] = bf16_round(__fadd_rn(__fmul_rn(n, __fadd_rn(1.0f, scale[c])), shift[c]));
    }
}

} // namespace

lavr_status lavr_cuda_modulated_layernorm(const float *x, int64_t rows, int64_t cols, float eps, int round_ln,
                                          const float *shift, const float *scale, float *y, void *stream) {
    CHECK_ARG(rows >= 0 && rows <= 0x7fffffffLL && cols > 0 && (rows == 0 || (x && y && shift && scale)),
              "cuda modulated_layernorm: bad arguments (rows=%lld, cols=%lld)", (long long)rows, (long long)cols);
    if (rows == 0) return LAVR_OK;
    modulated_layernorm_kernel<<<(unsigned)rows, THREADS, 0, as_stream(stream)>>>(x, cols, eps, round_ln, shift, scale,
                                                                                   y);
    CUDA_TRY_LAUNCH("cuda modulated_layernorm");
    return LAVR_OK;
}

lavr_status lavr_cuda_layernorm(const float *x, int64_t rows, int64_t cols, const float *gamma, const float *beta,
                                float eps, float *y, void *stream) {
    CHECK_ARG(rows >= 0 && rows <= 0x7fffffffLL && cols > 0 && (rows == 0 || (x && y)),
              "cuda layernorm: bad arguments (rows=%lld, cols=%lld)", (long long)rows, (long long)cols);
    if (rows == 0) return LAVR_OK;
    layernorm_kernel<<<(unsigned)rows, THREADS, 0, as_stream(stream)>>>(x, cols, gamma, beta, eps, y);
    CUDA_TRY_LAUNCH("cuda layernorm");
    return LAVR_OK;
}

lavr_status lavr_cuda_rmsnorm(const float *x, int64_t rows, int64_t cols, float eps, float *y, void *stream) {
    CHECK_ARG(rows >= 0 && rows <= 0x7fffffffLL && cols > 0 && (rows == 0 || (x && y)),
              "cuda rmsnorm: bad arguments (rows=%lld, cols=%lld)", (long long)rows, (long long)cols);
    if (rows == 0) return LAVR_OK;
    rmsnorm_kernel<<<(unsigned)rows, THREADS, 0, as_stream(stream)>>>(x, cols, eps, y);
    CUDA_TRY_LAUNCH("cuda rmsnorm");
    return LAVR_OK;
}
