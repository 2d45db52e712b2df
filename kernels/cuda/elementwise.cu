/* CUDA element-wise ops: GELU (tanh and erf forms), SiLU, the bf16 rounding point, the
 * fp32 <-> bf16 casts and the DiT's gated residual, with the fp32 formulas of the CPU reference (kernels/cpu/activation.c). */
#include <cuda_bf16.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops_cuda.h"

namespace {

enum { THREADS = 256 };

struct gelu_tanh_fn {
    __device__ float operator()(float v) const {
        const float k = 0.7978845608028654f; /* sqrt(2/pi) */
        return 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
};
struct gelu_erf_fn {
    __device__ float operator()(float v) const { return 0.5f * v * (1.0f + erff(v * 0.7071067811865476f)); }
};
struct silu_fn {
    /* expf, not __expf: matches the CPU op to an ulp or two */
    __device__ float operator()(float v) const { return v / (1.0f + expf(-v)); }
};
struct round_bf16_fn {
    __device__ float operator()(float v) const { return __bfloat162float(__float2bfloat16_rn(v)); }
};

template <typename F>
__global__ void map_kernel(const float *__restrict__ x, int64_t n, float *y, F f) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = f(x[i]);
}

__global__ void to_bf16_kernel(const float *__restrict__ x, int64_t n, __nv_bfloat16 *__restrict__ y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = __float2bfloat16_rn(x[i]);
}

__global__ void from_bf16_kernel(const __nv_bfloat16 *__restrict__ x, int64_t n, float *__restrict__ y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = __bfloat162float(x[i]);
}

/* out = x + y * gate[col] with explicit _rn operations (no FMA), as the CPU twin computes it */
__global__ void gated_residual_kernel(const float *x, const float *__restrict__ y, const float *__restrict__ gate,
                                      int64_t n, int64_t cols, int round_bf16, float *out) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float v = __fadd_rn(x[i], __fmul_rn(y[i], gate[i % cols]));
        out[i] = round_bf16 ? __bfloat162float(__float2bfloat16_rn(v)) : v;
    }
}

template <typename F>
lavr_status launch_map(const char *what, const float *x, int64_t n, float *y, void *stream) {
    CHECK_ARG(n >= 0 && (n == 0 || (x && y)), "%s: bad arguments (n=%lld)", what, (long long)n);
    if (n == 0) return LAVR_OK;
    map_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(x, n, y, F());
    CUDA_TRY_LAUNCH(what);
    return LAVR_OK;
}

} // namespace

lavr_status lavr_cuda_gelu_tanh(const float *x, int64_t n, float *y, void *stream) {
    return launch_map<gelu_tanh_fn>("cuda gelu_tanh", x, n, y, stream);
}
lavr_status lavr_cuda_gelu_erf(const float *x, int64_t n, float *y, void *stream) {
    return launch_map<gelu_erf_fn>("cuda gelu_erf", x, n, y, stream);
}
lavr_status lavr_cuda_silu(const float *x, int64_t n, float *y, void *stream) {
    return launch_map<silu_fn>("cuda silu", x, n, y, stream);
}
lavr_status lavr_cuda_round_bf16(float *x, int64_t n, void *stream) {
    return launch_map<round_bf16_fn>("cuda round_bf16", x, n, x, stream);
}

lavr_status lavr_cuda_f32_to_bf16(const float *x, int64_t n, uint16_t *y, void *stream) {
    CHECK_ARG(n >= 0 && (n == 0 || (x && y)), "cuda f32_to_bf16: bad arguments (n=%lld)", (long long)n);
    if (n == 0) return LAVR_OK;
    to_bf16_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(x, n, (__nv_bfloat16 *)y);
    CUDA_TRY_LAUNCH("cuda f32_to_bf16");
    return LAVR_OK;
}

lavr_status lavr_cuda_bf16_to_f32(const uint16_t *x, int64_t n, float *y, void *stream) {
    CHECK_ARG(n >= 0 && (n == 0 || (x && y)), "cuda bf16_to_f32: bad arguments (n=%lld)", (long long)n);
    if (n == 0) return LAVR_OK;
    from_bf16_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>((const __nv_bfloat16 *)x, n, y);
    CUDA_TRY_LAUNCH("cuda bf16_to_f32");
    return LAVR_OK;
}

lavr_status lavr_cuda_gated_residual(const float *x, const float *y, const float *gate, int64_t rows, int64_t cols,
                                     int round_bf16, float *out, void *stream) {
    CHECK_ARG(rows >= 0 && cols > 0 && (rows == 0 || (x && y && gate && out)),
              "cuda gated_residual: bad arguments (rows=%lld, cols=%lld)", (long long)rows, (long long)cols);
    const int64_t n = rows * cols;
    if (n == 0) return LAVR_OK;
    gated_residual_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(x, y, gate, n, cols, round_bf16, out);
    CUDA_TRY_LAUNCH("cuda gated_residual");
    return LAVR_OK;
}
