/* CUDA kernels of the GPU DiT (kernels/cuda/dit_kernels.h): element-wise and row kernels that mirror the
 * CPU DiT's rounding points (models/dit_numerics.c, dit_embed.c, dit.c, sampler.c) and a Philox fill. */
#include <cuda_bf16.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/dit_kernels.h"

namespace {

enum { THREADS = 256 };

__device__ float rbf16(float v) { return __bfloat162float(__float2bfloat16_rn(v)); }

#define GRID_LOOP(i, n) \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

__global__ void add_bias_kernel(float *y, int64_t n, int64_t cols, const float *__restrict__ b, int round) {
    GRID_LOOP(i, n) {
        const float v = __fadd_rn(y[i], b[i % cols]);
        y[i] = round ? rbf16(v) : v;
    }
}

/* one block per row */
__global__ void row_sumsq_kernel(const float *__restrict__ x, int64_t cols, float *ss) {
    __shared__ double part[THREADS];
    const float *row = x + blockIdx.x * cols;
    double s = 0;
    for (int64_t i = threadIdx.x; i < cols; i += THREADS) s += (double)row[i] * row[i];
    part[threadIdx.x] = s;
    __syncthreads();
    for (int k = THREADS / 2; k > 0; k >>= 1) {
        if ((int)threadIdx.x < k) part[threadIdx.x] += part[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) ss[blockIdx.x] = (float)part[0];
}

__global__ void rms_gain_kernel(float *x, int64_t n, int64_t cols, const float *__restrict__ ss, double full,
                                double eps, const float *__restrict__ gain) {
    GRID_LOOP(i, n) {
        const float inv = (float)(1.0 / sqrt((double)ss[i / cols] / full + eps));
        x[i] = rbf16(__fmul_rn(rbf16(__fmul_rn(x[i], inv)), gain[i % cols]));
    }
}

__global__ void patchify_kernel(lavr_cuda_patch_args a, __nv_bfloat16 *p) {
    const int64_t Ho = a.h / a.kh, Wo = a.w / a.kw, kk = a.kt * a.kh * a.kw, K = a.C * kk, n = a.tokens * K;
    GRID_LOOP(e, n) {
        const int64_t t = a.t0 + e / K, k = e % K, c = k / kk, r = k % kk;
        const int64_t dt = r / (a.kh * a.kw), u = (r / a.kw) % a.kh, v = r % a.kw;
        const int64_t f = t / (Ho * Wo), i = (t / Wo) % Ho, j = t % Wo;
        p[e] = __float2bfloat16_rn(a.x[((c * a.T + a.first + f * a.kt + dt) * a.h + i * a.kh + u) * a.w + j * a.kw + v]);
    }
}

__global__ void unpatchify_kernel(const float *__restrict__ y, int64_t C, int64_t F, int64_t h, int64_t w, float *v) {
    const int64_t hp = h / 2, wp = w / 2, n = C * F * h * w;
    GRID_LOOP(e, n) {
        const int64_t xx = e % w, yy = (e / w) % h, f = (e / (w * h)) % F, ch = e / (w * h * F);
        const int64_t t = (f * hp + yy / 2) * wp + xx / 2, p = yy % 2, q = xx % 2;
        v[e] = rbf16(y[t * 4 * C + (p * 2 + q) * C + ch]);
    }
}

__global__ void euler_kernel(float *x, const float *__restrict__ v, int64_t n, float delta) {
    GRID_LOOP(i, n) x[i] = rbf16(__fadd_rn(x[i], rbf16(__fmul_rn(delta, v[i]))));
}

__device__ uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t *hi) {
    const uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

/* Philox-4x32-10, the generator of core/rng.c; returns the first output word */
__device__ uint32_t philox_first(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, hi1;
        const uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0), lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
        const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0, c1 = lo1, c2 = n2, c3 = lo0;
        k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
    }
    return c0;
}

__global__ void fill_kernel(void *y, int bf16, int64_t n, uint64_t seed, uint64_t stream_id, uint64_t offset,
                            float scale, float shift) {
    GRID_LOOP(i, n) {
        const uint64_t c = offset + (uint64_t)i;
        const uint32_t r = philox_first((uint32_t)c, (uint32_t)(c >> 32), (uint32_t)stream_id,
                                        (uint32_t)(stream_id >> 32), (uint32_t)seed, (uint32_t)(seed >> 32));
        const double u = ((double)r + 0.5) / 4294967296.0;
        /* explicit roundings (no FMA contraction), so the host formula gives the same value */
        const float v = (float)__dadd_rn((double)shift, __dmul_rn(__dmul_rn((double)scale, 1.7320508075688772), 2.0 * u - 1.0));
        if (bf16) ((__nv_bfloat16 *)y)[i] = __float2bfloat16_rn(v);
        else ((float *)y)[i] = v;
    }
}

} // namespace

lavr_status lavr_cuda_add_bias(float *y, int64_t rows, int64_t cols, const float *b, int round_bf16, void *stream) {
    CHECK_ARG(rows >= 0 && cols > 0 && (rows == 0 || (y && b)), "cuda add_bias: bad arguments");
    if (rows == 0) return LAVR_OK;
    add_bias_kernel<<<grid_for(rows * cols, THREADS), THREADS, 0, as_stream(stream)>>>(y, rows * cols, cols, b,
                                                                                      round_bf16);
    CUDA_TRY_LAUNCH("cuda add_bias");
    return LAVR_OK;
}

lavr_status lavr_cuda_row_sumsq(const float *x, int64_t rows, int64_t cols, float *ss, void *stream) {
    CHECK_ARG(rows >= 0 && rows < (1ll << 31) && cols > 0 && (rows == 0 || (x && ss)), "cuda row_sumsq: bad arguments");
    if (rows == 0) return LAVR_OK;
    row_sumsq_kernel<<<(unsigned)rows, THREADS, 0, as_stream(stream)>>>(x, cols, ss);
    CUDA_TRY_LAUNCH("cuda row_sumsq");
    return LAVR_OK;
}

lavr_status lavr_cuda_rms_apply_gain(float *x, int64_t rows, int64_t cols, const float *ss, int64_t full, float eps,
                                     const float *gain, void *stream) {
    CHECK_ARG(rows >= 0 && cols > 0 && full >= cols && (rows == 0 || (x && ss && gain)),
              "cuda rms_apply_gain: bad arguments");
    if (rows == 0) return LAVR_OK;
    rms_gain_kernel<<<grid_for(rows * cols, THREADS), THREADS, 0, as_stream(stream)>>>(
        x, rows * cols, cols, ss, (double)full, (double)eps, gain);
    CUDA_TRY_LAUNCH("cuda rms_apply_gain");
    return LAVR_OK;
}

lavr_status lavr_cuda_patchify(const lavr_cuda_patch_args *a, uint16_t *p, void *stream) {
    CHECK_ARG(a->x && p && a->C > 0 && a->kt > 0 && a->kh > 0 && a->kw > 0 && a->first >= 0 && a->frames >= a->kt &&
                  a->first + a->frames <= a->T && a->h >= a->kh && a->w >= a->kw && a->t0 >= 0 && a->tokens >= 0 &&
                  a->t0 + a->tokens <= a->frames / a->kt * (a->h / a->kh) * (a->w / a->kw),
              "cuda patchify: bad arguments (C=%lld frames [%lld, +%lld) of %lld, %lldx%lld, kernel %lldx%lldx%lld, "
              "tokens [%lld, +%lld))", (long long)a->C, (long long)a->first, (long long)a->frames, (long long)a->T,
              (long long)a->h, (long long)a->w, (long long)a->kt, (long long)a->kh, (long long)a->kw, (long long)a->t0,
              (long long)a->tokens);
    const int64_t n = a->tokens * a->C * a->kt * a->kh * a->kw;
    if (n == 0) return LAVR_OK;
    patchify_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(*a, (__nv_bfloat16 *)p);
    CUDA_TRY_LAUNCH("cuda patchify");
    return LAVR_OK;
}

lavr_status lavr_cuda_unpatchify(const float *y, int64_t C, int64_t F, int64_t h, int64_t w, float *v, void *stream) {
    CHECK_ARG(C > 0 && F > 0 && h > 0 && w > 0 && h % 2 == 0 && w % 2 == 0 && y && v, "cuda unpatchify: bad arguments");
    const int64_t n = C * F * h * w;
    unpatchify_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(y, C, F, h, w, v);
    CUDA_TRY_LAUNCH("cuda unpatchify");
    return LAVR_OK;
}

lavr_status lavr_cuda_euler_step(float *x, const float *v, int64_t n, float delta, void *stream) {
    CHECK_ARG(n >= 0 && (n == 0 || (x && v)), "cuda euler_step: bad arguments");
    if (n == 0) return LAVR_OK;
    euler_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(x, v, n, delta);
    CUDA_TRY_LAUNCH("cuda euler_step");
    return LAVR_OK;
}

lavr_status lavr_cuda_fill_uniform(void *y, int bf16, int64_t n, uint64_t seed, uint64_t stream_id, uint64_t offset,
                                   float scale, float shift, void *stream) {
    CHECK_ARG(n >= 0 && (n == 0 || y), "cuda fill_uniform: bad arguments");
    if (n == 0) return LAVR_OK;
    fill_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(y, bf16, n, seed, stream_id, offset, scale,
                                                                        shift);
    CUDA_TRY_LAUNCH("cuda fill_uniform");
    return LAVR_OK;
}
