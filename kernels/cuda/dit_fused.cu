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

/* VEC consecutive columns per thread step: 4 for rows whose every pointer and width allow 16-byte fp32 and 8-byte
 * bf16 accesses (the DiT's), 1 otherwise. */
template <int VEC>
__device__ __forceinline__ void ld_f32(const float *p, float *v) {
    if (VEC == 4) {
        const float4 t = *reinterpret_cast<const float4 *>(p);
        v[0] = t.x, v[1] = t.y, v[2] = t.z, v[3] = t.w;
    } else {
        v[0] = *p;
    }
}
template <int VEC>
__device__ __forceinline__ void st_f32(float *p, const float *v) {
    if (VEC == 4) *reinterpret_cast<float4 *>(p) = make_float4(v[0], v[1], v[2], v[3]);
    else *p = v[0];
}
template <int VEC>
__device__ __forceinline__ void ld_bf(const uint16_t *p, float *v) {
    if (VEC == 4) {
        const uint2 t = *reinterpret_cast<const uint2 *>(p);
        v[0] = __uint_as_float(t.x << 16), v[1] = __uint_as_float(t.x & 0xffff0000u);
        v[2] = __uint_as_float(t.y << 16), v[3] = __uint_as_float(t.y & 0xffff0000u);
    } else {
        v[0] = bf(*p);
    }
}
template <int VEC>
__device__ __forceinline__ void st_bf(uint16_t *p, const float *v) {
    if (VEC == 4) {
        uint2 t;
        t.x = (uint32_t)to_bf(v[0]) | ((uint32_t)to_bf(v[1]) << 16);
        t.y = (uint32_t)to_bf(v[2]) | ((uint32_t)to_bf(v[3]) << 16);
        *reinterpret_cast<uint2 *>(p) = t;
    } else {
        *p = to_bf(v[0]);
    }
}

template <int VEC>
__global__ void resnorm_kernel(lavr_resnorm_args a) {
    extern __shared__ float urow[]; /* the norm's input row */
    __shared__ float scratch[32];
    const int64_t r = blockIdx.x, cols = a.cols, base = r * cols;
    const float *gate = a.gate ? a.gate + (a.gate_group_rows ? r / a.gate_group_rows : 0) * a.gate_stride : nullptr;
    float s = 0.f;
    for (int64_t c = (int64_t)threadIdx.x * VEC; c < cols; c += (int64_t)blockDim.x * VEC) {
        float v[VEC], add[VEC], g[VEC], bias[VEC];
        ld_f32<VEC>(a.x + base + c, v);
        const bool has = a.add_bf16 || a.add_f32;
        if (a.add_bf16) {
            ld_bf<VEC>(a.add_bf16 + base + c, add);
        } else if (a.add_f32) {
            ld_f32<VEC>(a.add_f32 + base + c, add);
            if (a.add_bias) {
                ld_bf<VEC>(a.add_bias + c, bias);
                for (int i = 0; i < VEC; i++) add[i] = __fadd_rn(add[i], bias[i]);
            }
            for (int i = 0; i < VEC; i++) add[i] = rbf16(add[i]);
        }
        if (gate) ld_f32<VEC>(gate + c, g);
        for (int i = 0; i < VEC; i++) {
            if (has) v[i] = gate ? __fadd_rn(v[i], __fmul_rn(add[i], g[i])) : __fadd_rn(v[i], add[i]);
            if (a.round_sum) v[i] = rbf16(v[i]);
        }
        if (a.r_out) st_f32<VEC>(a.r_out + base + c, v);
        for (int i = 0; i < VEC; i++) {
            const float u = a.round_norm_input ? rbf16(v[i]) : v[i];
            urow[c + i] = u;
            s += u;
        }
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
    float amax = 0.f;
    for (int64_t c = (int64_t)threadIdx.x * VEC; c < cols; c += (int64_t)blockDim.x * VEC) {
        float y[VEC], p[VEC], q[VEC];
        if (a.norm == LAVR_RN_MOD) {
            ld_f32<VEC>(scale + c, p);
            ld_f32<VEC>(shift + c, q);
        } else {
            for (int i = 0; i < VEC; i++) p[i] = 1.0f, q[i] = 0.0f;
            if (a.ln_w) ld_f32<VEC>(a.ln_w + c, p);
            if (a.ln_b) ld_f32<VEC>(a.ln_b + c, q);
        }
        for (int i = 0; i < VEC; i++) {
            float n = __fmul_rn(urow[c + i] - mean, inv);
            if (a.norm == LAVR_RN_MOD) {
                if (a.round_ln) n = rbf16(n);
                y[i] = __fadd_rn(__fmul_rn(n, __fadd_rn(1.0f, p[i])), q[i]);
            } else {
                y[i] = __fadd_rn(__fmul_rn(n, p[i]), q[i]);
            }
            amax = fmaxf(amax, fabsf(rbf16(y[i])));
        }
        st_bf<VEC>(a.y + base + c, y);
    }
    if (a.y_amax) {
        for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
        /* non-negative floats order like their bit patterns */
        if ((threadIdx.x & 31) == 0) atomicMax(reinterpret_cast<unsigned *>(a.y_amax), __float_as_uint(amax));
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

/* 1 / rms of a bf16 row of n values (n % 4 == 0, 8-byte aligned): the sum of squares in double kept as fp32
 * (as row_sumsq), or *ss when the tp group's sum is given */
__device__ float row_inv_rms(const uint16_t *row, int64_t n, const float *ss, double full, double eps,
                             double *scratch) {
    double sq;
    if (ss) {
        sq = (double)*ss;
    } else {
        double part = 0;
        for (int64_t c = 4 * (int64_t)threadIdx.x; c < n; c += 4 * (int64_t)blockDim.x) {
            float v[4];
            ld_bf<4>(row + c, v);
            for (int i = 0; i < 4; i++) part += (double)v[i] * v[i];
        }
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
        /* two adjacent pairs per step */
        for (int64_t c = 4 * (int64_t)threadIdx.x; c < dh; c += 4 * (int64_t)blockDim.x) {
            float x[4], gv[4], o[4];
            ld_bf<4>(in + c, x);
            ld_f32<4>(gain + c, gv);
            for (int i = 0; i < 4; i++) x[i] = rbf16(__fmul_rn(rbf16(__fmul_rn(x[i], inv)), gv[i]));
            if (raw) st_bf<4>(raw + c, x);
            if (!out) continue;
            for (int i = 0; i < 4; i += 2) {
                if (fac) rotate(x[i], x[i + 1], fac[((c + i) % a.D) / 2], &o[i], &o[i + 1]);
                else o[i] = x[i], o[i + 1] = x[i + 1];
            }
            st_bf<4>(out + c, o);
        }
    }
    if (a.v_col >= 0 && a.v_out) {
        const uint16_t *v = row + a.v_col;
        uint16_t *vo = a.v_out + (slot + r) * a.ld_v;
        for (int64_t c = 4 * (int64_t)threadIdx.x; c < dh; c += 4 * (int64_t)blockDim.x)
            *reinterpret_cast<uint2 *>(vo + c) = *reinterpret_cast<const uint2 *>(v + c);
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
    const int64_t half = D / 2, quads = dh / 4;
    for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < S * quads;
         idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = idx / quads, c = 4 * (idx % quads);
        float x[4], o[4];
        ld_bf<4>(keys + t * dh + c, x);
        rotate(x[0], x[1], fac[t * half + (c % D) / 2], &o[0], &o[1]);
        rotate(x[2], x[3], fac[t * half + ((c + 2) % D) / 2], &o[2], &o[3]);
        st_bf<4>(out + t * dh + c, o);
    }
}

/* eight consecutive values of one (token, head) per thread */
__global__ void attn_merge_kernel(const uint16_t *__restrict__ o1, const float *__restrict__ l1,
                                  const uint16_t *__restrict__ o2, const float *__restrict__ l2, int64_t L, int64_t H,
                                  int64_t D, uint16_t *out) {
    const int64_t dh = H * D, octs = L * dh / 8;
    for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < octs;
         idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t e = idx * 8, t = e / dh, h = (e % dh) / D;
        const float a = l1[h * L + t], b = l2[h * L + t], m = fmaxf(a, b);
        const float wa = expf(a - m), wb = expf(b - m), inv = 1.0f / (wa + wb);
        float x[4], y[4], z[4];
        for (int half = 0; half < 2; half++) {
            ld_bf<4>(o1 + e + 4 * half, x);
            ld_bf<4>(o2 + e + 4 * half, y);
            for (int i = 0; i < 4; i++) z[i] = (x[i] * wa + y[i] * wb) * inv;
            st_bf<4>(out + e + 4 * half, z);
        }
    }
}

/* VEC = 8: eight bf16 values (16 bytes) per step; 1 for unaligned or odd sizes */
template <int VEC>
__global__ void amax_kernel(const uint16_t *__restrict__ x, int64_t n, unsigned *amax_bits) {
    float m = 0.f;
    for (int64_t i = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) * VEC; i < n;
         i += (int64_t)gridDim.x * blockDim.x * VEC) {
        float v[8];
        if (VEC == 8) {
            ld_bf<4>(x + i, v);
            ld_bf<4>(x + i + 4, v + 4);
        } else {
            v[0] = bf(x[i]);
        }
        for (int k = 0; k < VEC; k++) m = fmaxf(m, fabsf(v[k]));
    }
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    /* non-negative floats order like their bit patterns */
    if ((threadIdx.x & 31) == 0) atomicMax(amax_bits, __float_as_uint(m));
}

template <int VEC>
__global__ void quantize_fp8_kernel(const uint16_t *__restrict__ x, int64_t n, const float *__restrict__ amax,
                                    __nv_fp8_storage_t *q, float *inv_scale) {
    const float s = fminf(448.0f / *amax, 448.0f);
    if (blockIdx.x == 0 && threadIdx.x == 0) *inv_scale = 1.0f / s;
    for (int64_t i = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) * VEC; i < n;
         i += (int64_t)gridDim.x * blockDim.x * VEC) {
        float v[8];
        if (VEC == 8) {
            ld_bf<4>(x + i, v);
            ld_bf<4>(x + i + 4, v + 4);
        } else {
            v[0] = bf(x[i]);
        }
        uint8_t o[8];
        for (int k = 0; k < VEC; k++)
            o[k] = __nv_cvt_float_to_fp8(fminf(fmaxf(v[k] * s, -448.0f), 448.0f), __NV_SATFINITE, __NV_E4M3);
        if (VEC == 8) {
            uint2 w;
            w.x = (uint32_t)o[0] | ((uint32_t)o[1] << 8) | ((uint32_t)o[2] << 16) | ((uint32_t)o[3] << 24);
            w.y = (uint32_t)o[4] | ((uint32_t)o[5] << 8) | ((uint32_t)o[6] << 16) | ((uint32_t)o[7] << 24);
            *reinterpret_cast<uint2 *>(q + i) = w;
        } else {
            q[i] = o[0];
        }
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
    const uintptr_t bits = (uintptr_t)a->x | (uintptr_t)a->add_f32 | (uintptr_t)a->gate | (uintptr_t)a->r_out |
                           (uintptr_t)a->shift | (uintptr_t)a->scale | (uintptr_t)a->ln_w | (uintptr_t)a->ln_b |
                           (uintptr_t)(a->mod_stride * 4) | (uintptr_t)(a->gate_stride * 4);
    const uintptr_t bits_bf = (uintptr_t)a->add_bf16 | (uintptr_t)a->add_bias | (uintptr_t)a->y;
    const size_t smem = (size_t)a->cols * sizeof(float);
    if (a->cols % 4 == 0 && (bits & 15) == 0 && (bits_bf & 7) == 0)
        resnorm_kernel<4><<<(unsigned)a->rows, THREADS, smem, as_stream(stream)>>>(*a);
    else
        resnorm_kernel<1><<<(unsigned)a->rows, THREADS, smem, as_stream(stream)>>>(*a);
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
    const uintptr_t bits = (uintptr_t)a->src | (uintptr_t)a->q_out | (uintptr_t)a->k_out | (uintptr_t)a->k_raw_out |
                           (uintptr_t)a->v_out | (uintptr_t)(a->ld_src * 2) | (uintptr_t)(a->ld_q * 2) |
                           (uintptr_t)(a->ld_k * 2) | (uintptr_t)(a->ld_v * 2) | (uintptr_t)(a->k_col * 2) |
                           (uintptr_t)((a->v_col > 0 ? a->v_col : 0) * 2) | (uintptr_t)(a->H * a->D * 2);
    CHECK_ARG((bits & 7) == 0 && ((uintptr_t)a->gain_q & 15) == 0 && ((uintptr_t)a->gain_k & 15) == 0,
              "cuda qk_norm_rope: rows, columns and buffers must be 4-value aligned (head width %lld)",
              (long long)(a->H * a->D));
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
    CHECK_ARG(S >= 0 && H > 0 && D % 4 == 0 && (S == 0 || (keys && fac && out)) && (((uintptr_t)keys | (uintptr_t)out) & 7) == 0,
              "cuda rope_bf16: bad arguments");
    if (S == 0) return LAVR_OK;
    rope_bf16_kernel<<<grid_of(S * H * D / 4), THREADS, 0, as_stream(stream)>>>(keys, S, H * D, D,
                                                                                 (const float2 *)fac, out);
    CUDA_TRY_LAUNCH("cuda rope_bf16");
    return LAVR_OK;
}

lavr_status lavr_cuda_attn_merge(const uint16_t *o1, const float *lse1, const uint16_t *o2, const float *lse2, int64_t L,
                                 int64_t H, int64_t D, uint16_t *out, void *stream) {
    CHECK_ARG(L >= 0 && H > 0 && D > 0 && D % 8 == 0 && (L == 0 || (o1 && lse1 && o2 && lse2 && out)) &&
                  (((uintptr_t)o1 | (uintptr_t)o2 | (uintptr_t)out) & 15) == 0,
              "cuda attn_merge: bad arguments");
    if (L == 0) return LAVR_OK;
    attn_merge_kernel<<<grid_of(L * H * D / 8), THREADS, 0, as_stream(stream)>>>(o1, lse1, o2, lse2, L, H, D, out);
    CUDA_TRY_LAUNCH("cuda attn_merge");
    return LAVR_OK;
}

lavr_status lavr_cuda_amax_bf16(const uint16_t *x, int64_t n, float *amax, void *stream) {
    CHECK_ARG(n >= 0 && amax && (n == 0 || x), "cuda amax: bad arguments");
    CUDA_TRY(cudaMemsetAsync(amax, 0, sizeof(float), as_stream(stream)));
    if (n == 0) return LAVR_OK;
    if (n % 8 == 0 && ((uintptr_t)x & 15) == 0) {
        const unsigned blocks = grid_of(n / 8);
        amax_kernel<8><<<blocks < 1024 ? blocks : 1024, THREADS, 0, as_stream(stream)>>>(x, n, (unsigned *)amax);
    } else {
        amax_kernel<1><<<grid_of(n) < 1024 ? grid_of(n) : 1024, THREADS, 0, as_stream(stream)>>>(x, n, (unsigned *)amax);
    }
    CUDA_TRY_LAUNCH("cuda amax");
    return LAVR_OK;
}

lavr_status lavr_cuda_quantize_fp8(const uint16_t *x, int64_t n, const float *amax, uint8_t *q, float *inv_scale,
                                   void *stream) {
    CHECK_ARG(n >= 0 && amax && inv_scale && (n == 0 || (x && q)), "cuda quantize_fp8: bad arguments");
    if (n % 8 == 0 && (((uintptr_t)x | (uintptr_t)q) & 15) == 0 && n > 0)
        quantize_fp8_kernel<8><<<grid_of(n / 8), THREADS, 0, as_stream(stream)>>>(x, n, amax, (__nv_fp8_storage_t *)q,
                                                                                  inv_scale);
    else
        quantize_fp8_kernel<1><<<n ? grid_of(n) : 1, THREADS, 0, as_stream(stream)>>>(x, n, amax,
                                                                                     (__nv_fp8_storage_t *)q, inv_scale);
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
