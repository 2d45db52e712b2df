/* CUDA kernels of the row ops (kernels/cuda/rows_cuda.h): per-row norms (one block per row, fp32 block reductions),
 * element-wise GELU / add / mul, the relative-position scores bias and the bench's random weights. Memory-bound and
 * small next to the GEMMs of the networks that use them, so they stay simple: grid-stride loops over bf16 values. */
#include <cuda_bf16.h>
#include <math.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/rows_cuda.h"

namespace {

enum { THREADS = 256 };

__device__ __forceinline__ float ld(const __nv_bfloat16 *p, int64_t i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ float rbf(float v) { return __bfloat162float(__float2bfloat16_rn(v)); }

/* Sum of v over the block (THREADS threads); every thread gets the result. */
__device__ float block_sum(float v, float *shared) {
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    __syncthreads(); /* shared may still be read from the previous reduction */
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    float total = 0.f;
    for (int w = 0; w < THREADS / 32; w++) total += shared[w];
    return total;
}

__global__ void rms_norm_kernel(const __nv_bfloat16 *x, int64_t cols, const float *__restrict__ gain,
                                float eps, __nv_bfloat16 *y) {
    __shared__ float red[THREADS / 32];
    const __nv_bfloat16 *xr = x + blockIdx.x * cols;
    __nv_bfloat16 *yr = y + blockIdx.x * cols;
    float sq = 0.f;
    for (int64_t i = threadIdx.x; i < cols; i += THREADS) {
        const float v = ld(xr, i);
        sq += v * v;
    }
    const float inv = 1.0f / sqrtf(block_sum(sq, red) / (float)cols + eps);
    for (int64_t i = threadIdx.x; i < cols; i += THREADS) yr[i] = __float2bfloat16_rn(rbf(ld(xr, i) * inv) * gain[i]);
}

__global__ void layer_norm_kernel(const __nv_bfloat16 *x, int64_t cols, const float *__restrict__ gamma,
                                  const float *__restrict__ beta, float eps, __nv_bfloat16 *y) {
    __shared__ float red[THREADS / 32];
    const __nv_bfloat16 *xr = x + blockIdx.x * cols;
    __nv_bfloat16 *yr = y + blockIdx.x * cols;
    float s = 0.f;
    for (int64_t i = threadIdx.x; i < cols; i += THREADS) s += ld(xr, i);
    const float mean = block_sum(s, red) / (float)cols;
    float sq = 0.f; /* two passes: no cancellation when |mean| >> std */
    for (int64_t i = threadIdx.x; i < cols; i += THREADS) {
        const float d = ld(xr, i) - mean;
        sq += d * d;
    }
    const float inv = 1.0f / sqrtf(block_sum(sq, red) / (float)cols + eps);
    for (int64_t i = threadIdx.x; i < cols; i += THREADS) {
        float v = (ld(xr, i) - mean) * inv;
        if (gamma) v *= gamma[i];
        if (beta) v += beta[i];
        yr[i] = __float2bfloat16_rn(v);
    }
}

__device__ __forceinline__ float gelu(float v, int kind) {
    if (kind == 0) return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    if (kind == 1) return 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
    /* Wan's T5 GELU as bf16 tensor arithmetic (kernels/row_ops.c) */
    const float cube = rbf(v * v * v);
    const float inner = rbf(v + rbf(0.044715f * cube));
    const float t = rbf(tanhf(rbf(0.7978845608f * inner)));
    return rbf(0.5f * v) * rbf(1.0f + t);
}

__global__ void gelu_kernel(const __nv_bfloat16 *x, int64_t n, int kind, __nv_bfloat16 *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = __float2bfloat16_rn(gelu(ld(x, i), kind));
}

__global__ void binary_kernel(const __nv_bfloat16 *a, const __nv_bfloat16 *b, int64_t n, int mul, __nv_bfloat16 *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float u = ld(a, i), v = ld(b, i);
        y[i] = __float2bfloat16_rn(mul ? u * v : u + v);
    }
}

__global__ void position_bias_kernel(const float *__restrict__ table, const int32_t *__restrict__ bucket,
                                     const float *__restrict__ mask, int64_t H, int64_t Lq, int64_t Lk, float lowest,
                                     float *__restrict__ bias) {
    const int64_t n = H * Lq * Lk;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t j = e % Lk, i = (e / Lk) % Lq, h = e / (Lk * Lq);
        bias[e] = mask && mask[j] == 0.0f ? lowest : table[(int64_t)bucket[i * Lk + j] * H + h];
    }
}

/* the same splitmix64 as lavr_row_random_u24 (kernels/row_ops.c) */
__device__ __forceinline__ uint32_t random_u24(uint64_t seed, uint64_t index) {
    uint64_t z = seed + (index + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (uint32_t)(z >> 40);
}

__global__ void random_kernel(uint64_t seed, float a, int64_t n, __nv_bfloat16 *w) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        w[i] = __float2bfloat16_rn(a * (2.0f * ((float)random_u24(seed, (uint64_t)i) * 0x1p-24f) - 1.0f));
}

} // namespace

lavr_status lavr_cuda_rows_rms_norm(const uint16_t *x, int64_t rows, int64_t cols, const float *gain, float eps,
                                    uint16_t *y, void *stream) {
    CHECK_ARG(x && y && gain && rows > 0 && rows <= 2147483647 && cols > 0, "cuda rows rms_norm: bad arguments");
    rms_norm_kernel<<<(unsigned)rows, THREADS, 0, as_stream(stream)>>>((const __nv_bfloat16 *)x, cols, gain, eps,
                                                                       (__nv_bfloat16 *)y);
    CUDA_TRY_LAUNCH("cuda rows rms_norm");
    return LAVR_OK;
}

lavr_status lavr_cuda_rows_layer_norm(const uint16_t *x, int64_t rows, int64_t cols, const float *gamma,
                                      const float *beta, float eps, uint16_t *y, void *stream) {
    CHECK_ARG(x && y && rows > 0 && rows <= 2147483647 && cols > 0, "cuda rows layer_norm: bad arguments");
    layer_norm_kernel<<<(unsigned)rows, THREADS, 0, as_stream(stream)>>>((const __nv_bfloat16 *)x, cols, gamma, beta,
                                                                         eps, (__nv_bfloat16 *)y);
    CUDA_TRY_LAUNCH("cuda rows layer_norm");
    return LAVR_OK;
}

lavr_status lavr_cuda_rows_gelu(const uint16_t *x, int64_t n, int kind, uint16_t *y, void *stream) {
    CHECK_ARG(x && y && n > 0 && kind >= 0 && kind <= 2, "cuda rows gelu: bad arguments");
    gelu_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>((const __nv_bfloat16 *)x, n, kind,
                                                                          (__nv_bfloat16 *)y);
    CUDA_TRY_LAUNCH("cuda rows gelu");
    return LAVR_OK;
}

lavr_status lavr_cuda_rows_binary(const uint16_t *a, const uint16_t *b, int64_t n, int mul, uint16_t *y, void *stream) {
    CHECK_ARG(a && b && y && n > 0, "cuda rows binary: bad arguments");
    binary_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(
        (const __nv_bfloat16 *)a, (const __nv_bfloat16 *)b, n, mul, (__nv_bfloat16 *)y);
    CUDA_TRY_LAUNCH("cuda rows binary");
    return LAVR_OK;
}

lavr_status lavr_cuda_rows_position_bias(const float *table, const int32_t *bucket, const float *key_mask, int64_t H,
                                         int64_t Lq, int64_t Lk, float lowest, float *bias, void *stream) {
    CHECK_ARG(table && bucket && bias && H > 0 && Lq > 0 && Lk > 0, "cuda rows position_bias: bad arguments");
    const int64_t n = H * Lq * Lk;
    position_bias_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(table, bucket, key_mask, H, Lq, Lk,
                                                                                   lowest, bias);
    CUDA_TRY_LAUNCH("cuda rows position_bias");
    return LAVR_OK;
}

lavr_status lavr_cuda_rows_random(uint64_t seed, float a, int64_t n, uint16_t *w, void *stream) {
    CHECK_ARG(w && n > 0, "cuda rows random: bad arguments");
    random_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(seed, a, n, (__nv_bfloat16 *)w);
    CUDA_TRY_LAUNCH("cuda rows random");
    return LAVR_OK;
}
