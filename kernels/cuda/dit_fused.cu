/* The DiT's fused bf16 kernels (kernels/cuda/dit_fused.h). Hand-written because no library fuses LiveAvatar's
 * exact chain of roundings (residual, gate, LayerNorm, modulation, RMSNorm with a bf16 gain, fp16 RoPE factors);
 * explicit _rn operations keep the CPU's fp32 results (no FMA contraction where the CPU has none). */
#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <math.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dit_fused.h"

namespace {

enum { THREADS = 256 };

__device__ __forceinline__ float rbf16(float v) { return __bfloat162float(__float2bfloat16_rn(v)); }
__device__ __forceinline__ float bf(uint16_t b) { return __uint_as_float((uint32_t)b << 16); }
__device__ __forceinline__ uint16_t to_bf(float v) {
    __nv_bfloat16 h = __float2bfloat16_rn(v);
    return *reinterpret_cast<uint16_t *>(&h);
}

/* Sum of v over the block; every thread gets the result. scratch holds 32 values. */
template <typename T>
__device__ T block_sum(T v, T *scratch) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    const int nwarps = blockDim.x >> 5;
    v = lane < nwarps ? scratch[lane] : (T)0;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__global__ void resnorm_kernel(lavr_resnorm_args a) {
    extern __shared__ float urow[]; /* the norm's input row */
    __shared__ float scratch[32];
    const int64_t r = blockIdx.x, cols = a.cols, base = r * cols;
    const float *gate = a.gate ? a.gate + (a.gate_group_rows ? r / a.gate_group_rows : 0) * a.gate_stride : nullptr;
    float s = 0.f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = a.x[base + c];
        bool has = true;
        float add = 0.f;
        if (a.add_bf16) add = bf(a.add_bf16[base + c]);
        else if (a.add_f32) add = rbf16(a.add_bias ? __fadd_rn(a.add_f32[base + c], bf(a.add_bias[c])) : a.add_f32[base + c]);
        else has = false;
        if (has) v = gate ? __fadd_rn(v, __fmul_rn(add, gate[c])) : __fadd_rn(v, add);
        if (a.round_sum) v = rbf16(v);
        if (a.r_out) a.r_out[base + c] = v;
        const float u = a.round_norm_input ? rbf16(v) : v;
        urow[c] = u;
        s += u;
    }
    if (a.norm == LAVR_RN_NONE) return;
    const float mean = block_sum(s, scratch) / (float)cols;
    float sq = 0.f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        const float d = urow[c] - mean;
        sq += d * d;
    }
    const float inv = rsqrtf(block_sum(sq, scratch) / (float)cols + a.eps);
    const int64_t m = a.mod_group_rows ? r / a.mod_group_rows : 0;
    const float *shift = a.shift ? a.shift + m * a.mod_stride : nullptr;
    const float *scale = a.scale ? a.scale + m * a.mod_stride : nullptr;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
        float n = __fmul_rn(urow[c] - mean, inv);
        float y;
        if (a.norm == LAVR_RN_MOD) {
            if (a.round_ln) n = rbf16(n);
            y = __fadd_rn(__fmul_rn(n, __fadd_rn(1.0f, scale[c])), shift[c]);
        } else {
            y = __fadd_rn(__fmul_rn(n, a.ln_w ? a.ln_w[c] : 1.0f), a.ln_b ? a.ln_b[c] : 0.0f);
        }
        a.y[base + c] = to_bf(y);
    }
}

__global__ void add_broadcast_kernel(const float *__restrict__ mod, int64_t n, int64_t cols,
                                     const float *__restrict__ e0, float *out) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = __fadd_rn(mod[i], e0[i % cols]);
}

__device__ double fp16_round(double v) { return (double)__half2float(__float2half_rn((float)v)); }

/* as lavr_rope_factor / kernels/cuda/rope.cu: the angle in double, cos and sin rounded to fp16 */
__global__ void rope_factor_kernel(int64_t L, int64_t D, const int64_t *__restrict__ pos, int64_t hp, int64_t wp,
                                   int64_t ref_tokens, const int64_t *__restrict__ params, float2 *fac) {
    const int64_t half = D / 2, pairs_hw = half / 3, pairs_t = half - 2 * pairs_hw;
    for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < L * half;
         idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = idx / half, j = idx % half;
        const int axis = j < pairs_t ? 0 : (j < pairs_t + pairs_hw ? 1 : 2);
        const int64_t i = axis == 0 ? j : (axis == 1 ? j - pairs_t : j - pairs_t - pairs_hw);
        const int64_t dim_axis = 2 * (axis == 0 ? pairs_t : pairs_hw);
        int64_t p;
        if (!pos) {
            const int64_t per = hp * wp;
            p = axis == 0 ? params[0] + t / per : (axis == 1 ? (t / wp) % hp : t % wp);
        } else {
            p = axis == 0 && t < ref_tokens ? params[1] : pos[t * 3 + axis];
        }
        const int64_t ap = p < 0 ? -p : p;
        const double inv = 1.0 / pow(10000.0, (double)(2 * i) / (double)dim_axis);
        const double ang = __dmul_rn((double)ap, inv);
        const double c = fp16_round(cos(ang)), s0 = fp16_round(sin(ang));
        fac[idx] = make_float2((float)c, (float)(p < 0 ? -s0 : s0));
    }
}

__device__ __forceinline__ void rotate(float a, float b, float2 f, float *o0, float *o1) {
    /* a, b bf16 values and f fp16 values: each product is exact in fp32, so one rounding of the difference
     * equals the CPU's double evaluation rounded to fp32 */
    *o0 = rbf16(__fsub_rn(__fmul_rn(a, f.x), __fmul_rn(b, f.y)));
    *o1 = rbf16(__fadd_rn(__fmul_rn(a, f.y), __fmul_rn(b, f.x)));
}

__device__ float row_inv_rms(const uint16_t *row, int64_t n, const float *ss, double full, double eps,
                             double *scratch) {
    double sq;
    if (ss) {
        sq = (double)*ss;
    } else {
        double part = 0;
        for (int64_t c = threadIdx.x; c < n; c += blockDim.x) {
            const double v = bf(row[c]);
            part += v * v;
        }
        /* as row_sumsq: the sum in double, kept as fp32 */
        sq = (double)(float)block_sum(part, scratch);
    }
    return (float)(1.0 / sqrt(sq / full + eps));
}

__global__ void qk_norm_rope_kernel(lavr_qknorm_args a) {
    __shared__ double scratch[32];
    const int64_t r = blockIdx.x, dh = a.H * a.D, half = a.D / 2;
    const uint16_t *row = a.src + r * a.ld_src;
    const double full = (double)a.full, eps = (double)a.eps;
    const int64_t slot = a.slot ? *a.slot : 0;
    const float2 *fac = a.fac ? reinterpret_cast<const float2 *>(a.fac) + r * half : nullptr;
    for (int which = 0; which < 2; which++) {
        const float *gain = which ? a.gain_k : a.gain_q;
        if (!gain) continue;
        const uint16_t *in = row + (which ? a.k_col : 0);
        const float inv = row_inv_rms(in, dh, a.ss ? a.ss + r * 2 + which : nullptr, full, eps, scratch);
        uint16_t *out = which ? (a.k_out ? a.k_out + (slot + r) * a.ld_k : nullptr) : a.q_out + r * a.ld_q;
        uint16_t *raw = which && a.k_raw_out ? a.k_raw_out + r * a.ld_k : nullptr;
        for (int64_t p = threadIdx.x; p < dh / 2; p += blockDim.x) {
            const int64_t c = 2 * p;
            const float x0 = rbf16(__fmul_rn(rbf16(__fmul_rn(bf(in[c]), inv)), gain[c]));
            const float x1 = rbf16(__fmul_rn(rbf16(__fmul_rn(bf(in[c + 1]), inv)), gain[c + 1]));
            if (raw) {
                raw[c] = to_bf(x0);
                raw[c + 1] = to_bf(x1);
            }
            if (!out) continue;
            float o0 = x0, o1 = x1;
            if (fac) rotate(x0, x1, fac[(c % a.D) / 2], &o0, &o1);
            out[c] = to_bf(o0);
            out[c + 1] = to_bf(o1);
        }
    }
    if (a.v_col >= 0 && a.v_out) {
        const uint16_t *v = row + a.v_col;
        uint16_t *vo = a.v_out + (slot + r) * a.ld_v;
        for (int64_t c = threadIdx.x; c < dh; c += blockDim.x) vo[c] = v[c];
    }
}

__global__ void qk_sumsq_kernel(const uint16_t *src, int64_t ld, int64_t dh, int64_t k_col, float *ss) {
    __shared__ double scratch[32];
    const uint16_t *row = src + blockIdx.x * ld;
    for (int which = 0; which < 2; which++) {
        if (which && k_col < 0) {
            if (threadIdx.x == 0) ss[blockIdx.x * 2 + 1] = 0.f;
            continue;
        }
        const uint16_t *in = row + (which ? k_col : 0);
        double part = 0;
        for (int64_t c = threadIdx.x; c < dh; c += blockDim.x) {
            const double v = bf(in[c]);
            part += v * v;
        }
        const double s = block_sum(part, scratch);
        if (threadIdx.x == 0) ss[blockIdx.x * 2 + which] = (float)s;
    }
}

__global__ void rope_bf16_kernel(const uint16_t *__restrict__ keys, int64_t S, int64_t dh, int64_t D,
                                 const float2 *__restrict__ fac, uint16_t *out) {
    const int64_t half = D / 2, pairs = dh / 2;
    for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < S * pairs;
         idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = idx / pairs, c = 2 * (idx % pairs);
        float o0, o1;
        rotate(bf(keys[t * dh + c]), bf(keys[t * dh + c + 1]), fac[t * half + (c % D) / 2], &o0, &o1);
        out[t * dh + c] = to_bf(o0);
        out[t * dh + c + 1] = to_bf(o1);
    }
}

__global__ void attn_merge_kernel(const uint16_t *__restrict__ o1, const float *__restrict__ l1,
                                  const uint16_t *__restrict__ o2, const float *__restrict__ l2, int64_t L, int64_t H,
                                  int64_t D, uint16_t *out) {
    const int64_t dh = H * D;
    for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < L * dh;
         idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = idx / dh, h = (idx % dh) / D;
        const float a = l1[h * L + t], b = l2[h * L + t], m = fmaxf(a, b);
        const float wa = expf(a - m), wb = expf(b - m);
        out[idx] = to_bf((bf(o1[idx]) * wa + bf(o2[idx]) * wb) / (wa + wb));
    }
}

__global__ void amax_kernel(const uint16_t *__restrict__ x, int64_t n, unsigned *amax_bits) {
    float m = 0.f;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        m = fmaxf(m, fabsf(bf(x[i])));
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    /* non-negative floats order like their bit patterns */
    if ((threadIdx.x & 31) == 0) atomicMax(amax_bits, __float_as_uint(m));
}

__global__ void quantize_fp8_kernel(const uint16_t *__restrict__ x, int64_t n, const float *__restrict__ amax,
                                    __nv_fp8_storage_t *q, float *inv_scale) {
    const float s = fminf(448.0f / *amax, 448.0f);
    if (blockIdx.x == 0 && threadIdx.x == 0) *inv_scale = 1.0f / s;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float v = fminf(fmaxf(bf(x[i]) * s, -448.0f), 448.0f);
        q[i] = __nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3);
    }
}

__global__ void silu_bf16_kernel(const float *__restrict__ x, int64_t n, uint16_t *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float v = x[i];
        y[i] = to_bf(v / (1.0f + expf(-v)));
    }
}

unsigned grid_of(int64_t n) { return grid_for(n, THREADS); }

} // namespace

lavr_status lavr_cuda_resnorm(const lavr_resnorm_args *a, void *stream) {
    CHECK_ARG(a && a->rows >= 0 && a->cols > 0 && a->cols <= 12288 && a->x,
              "cuda resnorm: bad arguments (rows %lld, cols %lld; cols <= 12288)", (long long)(a ? a->rows : -1),
              (long long)(a ? a->cols : -1));
    CHECK_ARG(a->norm == LAVR_RN_NONE || a->y, "cuda resnorm: a norm needs an output");
    CHECK_ARG(a->norm != LAVR_RN_MOD || (a->shift && a->scale), "cuda resnorm: modulation needs shift and scale");
    if (a->rows == 0) return LAVR_OK;
    resnorm_kernel<<<(unsigned)a->rows, THREADS, (size_t)a->cols * sizeof(float), as_stream(stream)>>>(*a);
    CUDA_TRY_LAUNCH("cuda resnorm");
    return LAVR_OK;
}

lavr_status lavr_cuda_add_broadcast_rows(const float *mod, int64_t rows, int64_t cols, const float *e0, float *out,
                                         void *stream) {
    CHECK_ARG(rows >= 0 && cols > 0 && (rows == 0 || (mod && e0 && out)), "cuda add_broadcast_rows: bad arguments");
    if (rows == 0) return LAVR_OK;
    add_broadcast_kernel<<<grid_of(rows * cols), THREADS, 0, as_stream(stream)>>>(mod, rows * cols, cols, e0, out);
    CUDA_TRY_LAUNCH("cuda add_broadcast_rows");
    return LAVR_OK;
}

lavr_status lavr_cuda_rope_factors(int64_t L, int64_t D, const int64_t *pos, int64_t hp, int64_t wp,
                                   int64_t ref_tokens, const int64_t *params, float *fac, void *stream) {
    CHECK_ARG(D % 2 == 0 && D >= 6 && L >= 0 && fac && params && (pos || (hp > 0 && wp > 0)),
              "cuda rope_factors: bad arguments (L=%lld, D=%lld)", (long long)L, (long long)D);
    if (L == 0) return LAVR_OK;
    rope_factor_kernel<<<grid_of(L * (D / 2)), THREADS, 0, as_stream(stream)>>>(L, D, pos, hp, wp, ref_tokens, params,
                                                                               (float2 *)fac);
    CUDA_TRY_LAUNCH("cuda rope_factors");
    return LAVR_OK;
}

lavr_status lavr_cuda_qk_norm_rope(const lavr_qknorm_args *a, void *stream) {
    CHECK_ARG(a && a->L >= 0 && a->H > 0 && a->D > 0 && a->D % 2 == 0 && a->src && a->gain_q && a->q_out &&
                  a->full >= a->H * a->D,
              "cuda qk_norm_rope: bad arguments");
    CHECK_ARG(!a->gain_k || a->k_col >= 0, "cuda qk_norm_rope: k needs its column");
    if (a->L == 0) return LAVR_OK;
    qk_norm_rope_kernel<<<(unsigned)a->L, THREADS, 0, as_stream(stream)>>>(*a);
    CUDA_TRY_LAUNCH("cuda qk_norm_rope");
    return LAVR_OK;
}

lavr_status lavr_cuda_qk_sumsq(const uint16_t *src, int64_t L, int64_t ld_src, int64_t dh, int64_t k_col, float *ss,
                               void *stream) {
    CHECK_ARG(L >= 0 && dh > 0 && ld_src >= dh && (L == 0 || (src && ss)), "cuda qk_sumsq: bad arguments");
    if (L == 0) return LAVR_OK;
    qk_sumsq_kernel<<<(unsigned)L, THREADS, 0, as_stream(stream)>>>(src, ld_src, dh, k_col, ss);
    CUDA_TRY_LAUNCH("cuda qk_sumsq");
    return LAVR_OK;
}

lavr_status lavr_cuda_rope_bf16(const uint16_t *keys, int64_t S, int64_t H, int64_t D, const float *fac,
                                uint16_t *out, void *stream) {
    CHECK_ARG(S >= 0 && H > 0 && D % 2 == 0 && (S == 0 || (keys && fac && out)), "cuda rope_bf16: bad arguments");
    if (S == 0) return LAVR_OK;
    rope_bf16_kernel<<<grid_of(S * H * D / 2), THREADS, 0, as_stream(stream)>>>(keys, S, H * D, D,
                                                                                 (const float2 *)fac, out);
    CUDA_TRY_LAUNCH("cuda rope_bf16");
    return LAVR_OK;
}

lavr_status lavr_cuda_attn_merge(const uint16_t *o1, const float *lse1, const uint16_t *o2, const float *lse2, int64_t L,
                                 int64_t H, int64_t D, uint16_t *out, void *stream) {
    CHECK_ARG(L >= 0 && H > 0 && D > 0 && (L == 0 || (o1 && lse1 && o2 && lse2 && out)), "cuda attn_merge: bad arguments");
    if (L == 0) return LAVR_OK;
    attn_merge_kernel<<<grid_of(L * H * D), THREADS, 0, as_stream(stream)>>>(o1, lse1, o2, lse2, L, H, D, out);
    CUDA_TRY_LAUNCH("cuda attn_merge");
    return LAVR_OK;
}

lavr_status lavr_cuda_amax_bf16(const uint16_t *x, int64_t n, float *amax, void *stream) {
    CHECK_ARG(n >= 0 && amax && (n == 0 || x), "cuda amax: bad arguments");
    CUDA_TRY(cudaMemsetAsync(amax, 0, sizeof(float), as_stream(stream)));
    if (n == 0) return LAVR_OK;
    amax_kernel<<<grid_of(n) < 1024 ? grid_of(n) : 1024, THREADS, 0, as_stream(stream)>>>(x, n, (unsigned *)amax);
    CUDA_TRY_LAUNCH("cuda amax");
    return LAVR_OK;
}

lavr_status lavr_cuda_quantize_fp8(const uint16_t *x, int64_t n, const float *amax, uint8_t *q, float *inv_scale,
                                   void *stream) {
    CHECK_ARG(n >= 0 && amax && inv_scale && (n == 0 || (x && q)), "cuda quantize_fp8: bad arguments");
    quantize_fp8_kernel<<<n ? grid_of(n) : 1, THREADS, 0, as_stream(stream)>>>(x, n, amax, (__nv_fp8_storage_t *)q,
                                                                            inv_scale);
    CUDA_TRY_LAUNCH("cuda quantize_fp8");
    return LAVR_OK;
}

lavr_status lavr_cuda_silu_to_bf16(const float *x, int64_t n, uint16_t *y, void *stream) {
    CHECK_ARG(n >= 0 && (n == 0 || (x && y)), "cuda silu_to_bf16: bad arguments");
    if (n == 0) return LAVR_OK;
    silu_bf16_kernel<<<grid_of(n), THREADS, 0, as_stream(stream)>>>(x, n, y);
    CUDA_TRY_LAUNCH("cuda silu_to_bf16");
    return LAVR_OK;
}
