/* CUDA kernels of the video ops (kernels/cuda/video_cuda.h) on bf16 channels-last memory: the VAE's RMS norm
 * (+ deferred bias, + SiLU) with a power-of-two thread group per position, the residual/bias add, clamp, nearest
 * upsampling, Up3d's time interleave, layout packing, and the attention's qkv split and row softmax. Memory-bound,
 * so loads and stores move 8 channels (16 bytes) at a time wherever the pitch allows (always: P % 8 == 0). */
#include <cuda_bf16.h>
#include <math.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/video_cuda.h"

namespace {

enum { THREADS = 256 };

__device__ __forceinline__ float round_bf(float v) { return __bfloat162float(__float2bfloat16_rn(v)); }

__device__ __forceinline__ void load8(const uint16_t *p, float out[8]) {
    const uint4 raw = *reinterpret_cast<const uint4 *>(p);
    const __nv_bfloat162 *h = reinterpret_cast<const __nv_bfloat162 *>(&raw);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const float2 f = __bfloat1622float2(h[i]);
        out[2 * i] = f.x;
        out[2 * i + 1] = f.y;
    }
}

__device__ __forceinline__ void store8(uint16_t *p, const float in[8]) {
    uint4 raw;
    __nv_bfloat162 *h = reinterpret_cast<__nv_bfloat162 *>(&raw);
#pragma unroll
    for (int i = 0; i < 4; i++) h[i] = __floats2bfloat162_rn(in[2 * i], in[2 * i + 1]);
    *reinterpret_cast<uint4 *>(p) = raw;
}

__device__ __forceinline__ float load1(const uint16_t *p) {
    return __bfloat162float(*reinterpret_cast<const __nv_bfloat16 *>(p));
}

__device__ __forceinline__ void store1(uint16_t *p, float v) {
    *reinterpret_cast<__nv_bfloat16 *>(p) = __float2bfloat16_rn(v);
}

/* One group of 2^lg threads (at most 32, so groups never straddle a warp) per position; each thread keeps up to
 * VPT vectors of 8 channels in registers between the sum of squares and the scaled store. Every thread of the grid
 * reaches the shuffles (positions past npos work on zeros and store nothing). SiLU uses the hardware exp2 and
 * reciprocal (__expf, __fdividef: a few fp32 ulps, against the 2^-8 of the bf16 store): IEEE expf and reciprocal
 * cost about as much as the kernel's memory traffic (with them and 64-bit index divisions, 6.22 ms of norms per
 * 704*384 decode block on an H100; 5.08 ms without). */
template <int VPT>
__global__ void rms_norm_kernel(const uint16_t *__restrict__ x, const float *__restrict__ bias,
                                const float *__restrict__ gamma, int64_t npos, int nvec, int lg, float scale,
                                int silu, uint16_t *__restrict__ y) {
    const int group = 1 << lg;
    const int64_t gt = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    const int64_t pos = gt >> lg;
    const int lane = (int)(gt & (group - 1));
    const bool valid = pos < npos;
    const int64_t row = pos * (int64_t)nvec * 8;
    float v[VPT][8];
    float sq = 0.0f;
#pragma unroll
    for (int k = 0; k < VPT; k++) {
        const int vi = lane + k * group;
        if (valid && vi < nvec) {
            load8(x + row + vi * 8, v[k]);
#pragma unroll
            for (int e = 0; e < 8; e++) {
                if (bias) v[k][e] = round_bf(v[k][e] + bias[vi * 8 + e]);
                sq += v[k][e] * v[k][e];
            }
        } else {
#pragma unroll
            for (int e = 0; e < 8; e++) v[k][e] = 0.0f;
        }
    }
    for (int o = group / 2; o > 0; o >>= 1) sq += __shfl_xor_sync(0xffffffffu, sq, o);
    const float inv = 1.0f / fmaxf(sqrtf(sq), 1e-12f); /* F.normalize: x / max(||x||, eps) */
#pragma unroll
    for (int k = 0; k < VPT; k++) {
        const int vi = lane + k * group;
        if (!valid || vi >= nvec) continue;
        float o[8];
#pragma unroll
        for (int e = 0; e < 8; e++) {
            float t = v[k][e] * inv;
            t = t * scale;
            t = t * gamma[vi * 8 + e];
            if (silu) t = __fdividef(t, 1.0f + __expf(-t)); /* -0 once e^-t overflows (t < -88) */
            o[e] = t;
        }
        store8(y + row + vi * 8, o);
    }
}

/* a, b and y may alias (in-place residual and bias adds), so no __restrict__ on them. I: the index type, 32 bits
 * wherever the element count allows (64-bit divisions cost more than these kernels' memory traffic). */
template <typename I>
__global__ void add_kernel(const uint16_t *a, const float *__restrict__ a_bias, const uint16_t *b,
                           const float *__restrict__ b_bias, I nvec, I pv, uint16_t *y) {
    for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < nvec; i += (I)gridDim.x * blockDim.x) {
        const I c0 = i % pv * 8;
        float av[8];
        load8(a + i * 8, av);
        if (a_bias)
#pragma unroll
            for (int e = 0; e < 8; e++) av[e] = round_bf(av[e] + a_bias[c0 + e]);
        if (b) {
            float bv[8];
            load8(b + i * 8, bv);
#pragma unroll
            for (int e = 0; e < 8; e++) {
                if (b_bias) bv[e] = round_bf(bv[e] + b_bias[c0 + e]);
                av[e] += bv[e];
            }
        }
        store8(y + i * 8, av);
    }
}

__global__ void clamp_kernel(const uint16_t *x, int64_t nvec, float lo, float hi, uint16_t *y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < nvec; i += (int64_t)gridDim.x * blockDim.x) {
        float v[8];
        load8(x + i * 8, v);
#pragma unroll
        for (int e = 0; e < 8; e++) v[e] = v[e] < lo ? lo : v[e] > hi ? hi : v[e];
        store8(y + i * 8, v);
    }
}

/* One thread per input vector, stored to its 2x2 output positions. */
template <typename I>
__global__ void upsample2x_kernel(const uint16_t *__restrict__ x, I t, I h, I w, I nvec, uint16_t *__restrict__ y) {
    const I n = t * h * w * nvec;
    for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
        const I vi = i % nvec, px = i / nvec, j = px % w, r = px / w, ii = r % h, f = r / h;
        const uint4 v = reinterpret_cast<const uint4 *>(x)[i];
        uint4 *out = reinterpret_cast<uint4 *>(y) + ((f * 2 * h + 2 * ii) * 2 * w + 2 * j) * nvec + vi;
        out[0] = v;
        out[nvec] = v;
        out[2 * w * nvec] = v;
        out[2 * w * nvec + nvec] = v;
    }
}

/* One thread per output vector of 8 channels (its sources need not be 16-byte aligned: jC + c). */
template <typename I>
__global__ void time_interleave_kernel(const uint16_t *__restrict__ x, const float *__restrict__ bias, I t, I hw, I C,
                                       I Px, I Py, uint16_t *__restrict__ y) {
    const I nv = Py / 8, n = 2 * t * hw * nv;
    for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
        const I cv = i % nv, rest = i / nv, p = rest % hw, f2 = rest / hw, tau = f2 / 2, j = f2 % 2;
        const uint16_t *src = x + (tau * hw + p) * Px + j * C;
        float v[8];
#pragma unroll
        for (int e = 0; e < 8; e++) {
            const I c = cv * 8 + e;
            v[e] = 0.0f;
            if (c < C) {
                v[e] = load1(src + c);
                if (bias) v[e] = round_bf(v[e] + bias[j * C + c]);
            }
        }
        store8(y + i * 8, v);
    }
}

/* pos fastest: coalesced fp32 reads of each channel row */
__global__ void pack_kernel(const float *__restrict__ x, int64_t C, int64_t n, int64_t P, uint16_t *__restrict__ y) {
    const int64_t total = P * n;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = i / n, pos = i % n;
        store1(y + pos * P + c, c < C ? x[c * n + pos] : 0.0f);
    }
}

__global__ void unpack_kernel(const uint16_t *__restrict__ x, int64_t C, int64_t n, int64_t P, float *__restrict__ y) {
    const int64_t total = C * n;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = i / n, pos = i % n;
        y[i] = load1(x + pos * P + c);
    }
}

__global__ void qkv_split_kernel(const uint16_t *__restrict__ qkv, const float *__restrict__ bias, int64_t ntok,
                                 int64_t C, int64_t P3, uint16_t *__restrict__ q, uint16_t *__restrict__ k,
                                 uint16_t *__restrict__ vt) {
    const int64_t n = ntok * 3 * C;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c3 = i % (3 * C), tok = i / (3 * C), which = c3 / C, c = c3 % C;
        float v = load1(qkv + tok * P3 + c3);
        if (bias) v = round_bf(v + bias[c3]);
        if (which == 0) store1(q + tok * C + c, v);
        else if (which == 1) store1(k + tok * C + c, v);
        else store1(vt + c * ntok + tok, v);
    }
}

__device__ float block_reduce(float v, float *scratch, bool is_max) {
    for (int o = 16; o > 0; o >>= 1) {
        const float other = __shfl_xor_sync(0xffffffffu, v, o);
        v = is_max ? fmaxf(v, other) : v + other;
    }
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nwarps = blockDim.x >> 5;
    __syncthreads(); /* scratch may still be read by a previous call */
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nwarps ? scratch[lane] : (is_max ? -INFINITY : 0.0f);
    for (int o = 16; o > 0; o >>= 1) {
        const float other = __shfl_xor_sync(0xffffffffu, v, o);
        v = is_max ? fmaxf(v, other) : v + other;
    }
    return v;
}

__global__ void softmax_rows_kernel(const float *__restrict__ s, int64_t cols, float scale, uint16_t *__restrict__ p) {
    __shared__ float scratch[32];
    const float *sr = s + blockIdx.x * cols;
    uint16_t *pr = p + blockIdx.x * cols;
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, scale * sr[j]);
    m = block_reduce(m, scratch, true);
    float sum = 0.0f;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) sum += expf(scale * sr[j] - m);
    const float inv = 1.0f / block_reduce(sum, scratch, false);
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) store1(pr + j, expf(scale * sr[j] - m) * inv);
}

__global__ void im2col_cl_kernel(const uint16_t *__restrict__ x, lavr_cuda_conv_geom g, int64_t q0, int64_t count,
                                 uint16_t *__restrict__ cols) {
    const int64_t taps = g.kt * g.kh * g.kw, nv = g.pin / 8, n = count * taps * nv;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t v = i % nv, rest = i / nv, tap = rest % taps, r = rest / taps, q = q0 + r;
        const int64_t wo = q % g.wo, ho = (q / g.wo) % g.ho, to = q / (g.wo * g.ho);
        const int64_t dw = tap % g.kw, dh = (tap / g.kw) % g.kh, dt = tap / (g.kw * g.kh);
        const int64_t ti = to * g.st + dt - g.pt, hi = ho * g.sh + dh - g.ph, wi = wo * g.sw + dw - g.pw;
        uint4 val = make_uint4(0, 0, 0, 0);
        if (ti >= 0 && ti < g.t && hi >= 0 && hi < g.h && wi >= 0 && wi < g.w)
            val = reinterpret_cast<const uint4 *>(x)[((ti * g.h + hi) * g.w + wi) * nv + v];
        reinterpret_cast<uint4 *>(cols)[i] = val;
    }
}

lavr_status check_pitch(int64_t P, const char *what) {
    CHECK_ARG(P > 0 && P % 8 == 0, "%s: channel pitch %lld is not a positive multiple of 8", what, (long long)P);
    return LAVR_OK;
}

} // namespace

lavr_status lavr_cuda_video_rms_norm(const uint16_t *x, const float *bias, const float *gamma, int64_t npos, int64_t C,
                                     int64_t P, int silu, uint16_t *y, void *stream) {
    TRY(check_pitch(P, "cuda rms_norm"));
    CHECK_ARG(x && gamma && y && npos >= 0 && C > 0 && C <= P && P <= 2048,
              "cuda rms_norm: bad arguments (npos=%lld, C=%lld, P=%lld)", (long long)npos, (long long)C, (long long)P);
    if (npos == 0) return LAVR_OK;
    /* A group that divides the position's vectors leaves no lane idle: 96, 192 and 384 channels (12, 24, 48
     * vectors) take 4, 8 and 16 lanes with 3 vectors each, three 16-byte loads in flight per thread. Widths
     * without such a divisor take the power of two that covers them (up to 8 vectors a lane). */
    const int nvec = (int)(P / 8);
    int group = 1;
    while (group < 32 && nvec % (2 * group) == 0) group <<= 1;
    if ((nvec + group - 1) / group > 4) {
        group = 1;
        while (group < nvec && group < 32) group <<= 1;
    }
    const int vpt = (nvec + group - 1) / group;
    int lg = 0;
    while ((1 << lg) < group) lg++;
    const int64_t threads = npos * group, blocks = (threads + THREADS - 1) / THREADS;
    CHECK_ARG(blocks <= 0x7fffffffLL, "cuda rms_norm: %lld positions is too many for one launch", (long long)npos);
    const float scale = (float)sqrt((double)C);
    cudaStream_t s = as_stream(stream);
    const unsigned nb = (unsigned)blocks;
    if (vpt <= 1) rms_norm_kernel<1><<<nb, THREADS, 0, s>>>(x, bias, gamma, npos, nvec, lg, scale, silu, y);
    else if (vpt <= 2) rms_norm_kernel<2><<<nb, THREADS, 0, s>>>(x, bias, gamma, npos, nvec, lg, scale, silu, y);
    else if (vpt <= 3) rms_norm_kernel<3><<<nb, THREADS, 0, s>>>(x, bias, gamma, npos, nvec, lg, scale, silu, y);
    else if (vpt <= 4) rms_norm_kernel<4><<<nb, THREADS, 0, s>>>(x, bias, gamma, npos, nvec, lg, scale, silu, y);
    else rms_norm_kernel<8><<<nb, THREADS, 0, s>>>(x, bias, gamma, npos, nvec, lg, scale, silu, y);
    CUDA_TRY_LAUNCH("cuda rms_norm");
    return LAVR_OK;
}

lavr_status lavr_cuda_video_add(const uint16_t *a, const float *a_bias, const uint16_t *b, const float *b_bias,
                                int64_t npos, int64_t P, uint16_t *y, void *stream) {
    TRY(check_pitch(P, "cuda video add"));
    CHECK_ARG(a && y && npos >= 0 && (b || !b_bias), "cuda video add: bad arguments (npos=%lld)", (long long)npos);
    const int64_t nvec = npos * P / 8;
    if (nvec == 0) return LAVR_OK;
    if (nvec < ((int64_t)1 << 31))
        add_kernel<uint32_t><<<grid_for(nvec, THREADS), THREADS, 0, as_stream(stream)>>>(
            a, a_bias, b, b_bias, (uint32_t)nvec, (uint32_t)(P / 8), y);
    else
        add_kernel<int64_t><<<grid_for(nvec, THREADS), THREADS, 0, as_stream(stream)>>>(a, a_bias, b, b_bias, nvec,
                                                                                         P / 8, y);
    CUDA_TRY_LAUNCH("cuda video add");
    return LAVR_OK;
}

lavr_status lavr_cuda_video_clamp(const uint16_t *x, int64_t n, float lo, float hi, uint16_t *y, void *stream) {
    CHECK_ARG(x && y && n >= 0 && n % 8 == 0, "cuda clamp: bad arguments (n=%lld)", (long long)n);
    if (n == 0) return LAVR_OK;
    clamp_kernel<<<grid_for(n / 8, THREADS), THREADS, 0, as_stream(stream)>>>(x, n / 8, lo, hi, y);
    CUDA_TRY_LAUNCH("cuda clamp");
    return LAVR_OK;
}

lavr_status lavr_cuda_video_upsample2x(const uint16_t *x, int64_t t, int64_t h, int64_t w, int64_t P, uint16_t *y,
                                       void *stream) {
    TRY(check_pitch(P, "cuda upsample2x"));
    CHECK_ARG(x && y && t >= 0 && h > 0 && w > 0, "cuda upsample2x: bad arguments");
    const int64_t n = t * h * w * (P / 8);
    if (n == 0) return LAVR_OK;
    /* 32-bit indices while the largest output index fits */
    if (4 * n < ((int64_t)1 << 31))
        upsample2x_kernel<uint32_t><<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(
            x, (uint32_t)t, (uint32_t)h, (uint32_t)w, (uint32_t)(P / 8), y);
    else
        upsample2x_kernel<int64_t><<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(x, t, h, w, P / 8, y);
    CUDA_TRY_LAUNCH("cuda upsample2x");
    return LAVR_OK;
}

lavr_status lavr_cuda_video_time_interleave(const uint16_t *x, const float *bias, int64_t t, int64_t hw, int64_t C,
                                            int64_t Px, int64_t Py, uint16_t *y, void *stream) {
    TRY(check_pitch(Py, "cuda time_interleave"));
    CHECK_ARG(x && y && t >= 0 && hw > 0 && C > 0 && Px >= 2 * C && Py >= C,
              "cuda time_interleave: bad arguments (C=%lld, Px=%lld, Py=%lld)", (long long)C, (long long)Px,
              (long long)Py);
    const int64_t n = 2 * t * hw * Py;
    if (n == 0) return LAVR_OK;
    if (n < ((int64_t)1 << 31) && t * hw * Px < ((int64_t)1 << 31))
        time_interleave_kernel<uint32_t><<<grid_for(n / 8, THREADS), THREADS, 0, as_stream(stream)>>>(
            x, bias, (uint32_t)t, (uint32_t)hw, (uint32_t)C, (uint32_t)Px, (uint32_t)Py, y);
    else
        time_interleave_kernel<int64_t><<<grid_for(n / 8, THREADS), THREADS, 0, as_stream(stream)>>>(x, bias, t, hw, C,
                                                                                                     Px, Py, y);
    CUDA_TRY_LAUNCH("cuda time_interleave");
    return LAVR_OK;
}

lavr_status lavr_cuda_video_pack(const float *x, int64_t C, int64_t n, int64_t P, uint16_t *y, void *stream) {
    CHECK_ARG(x && y && C > 0 && P >= C && n >= 0, "cuda video pack: bad arguments");
    if (n == 0) return LAVR_OK;
    pack_kernel<<<grid_for(P * n, THREADS), THREADS, 0, as_stream(stream)>>>(x, C, n, P, y);
    CUDA_TRY_LAUNCH("cuda video pack");
    return LAVR_OK;
}

lavr_status lavr_cuda_video_unpack(const uint16_t *x, int64_t C, int64_t n, int64_t P, float *y, void *stream) {
    CHECK_ARG(x && y && C > 0 && P >= C && n >= 0, "cuda video unpack: bad arguments");
    if (n == 0) return LAVR_OK;
    unpack_kernel<<<grid_for(C * n, THREADS), THREADS, 0, as_stream(stream)>>>(x, C, n, P, y);
    CUDA_TRY_LAUNCH("cuda video unpack");
    return LAVR_OK;
}

lavr_status lavr_cuda_video_qkv_split(const uint16_t *qkv, const float *bias, int64_t ntok, int64_t C, int64_t P3,
                                      uint16_t *q, uint16_t *k, uint16_t *vt, void *stream) {
    CHECK_ARG(qkv && q && k && vt && ntok >= 0 && C > 0 && P3 >= 3 * C, "cuda qkv split: bad arguments");
    if (ntok == 0) return LAVR_OK;
    qkv_split_kernel<<<grid_for(ntok * 3 * C, THREADS), THREADS, 0, as_stream(stream)>>>(qkv, bias, ntok, C, P3, q, k,
                                                                                          vt);
    CUDA_TRY_LAUNCH("cuda qkv split");
    return LAVR_OK;
}

lavr_status lavr_cuda_softmax_rows(const float *s, int64_t rows, int64_t cols, float scale, uint16_t *p,
                                   void *stream) {
    CHECK_ARG(s && p && rows >= 0 && rows <= 0x7fffffffLL && cols > 0, "cuda softmax rows: bad arguments");
    if (rows == 0) return LAVR_OK;
    softmax_rows_kernel<<<(unsigned)rows, THREADS, 0, as_stream(stream)>>>(s, cols, scale, p);
    CUDA_TRY_LAUNCH("cuda softmax rows");
    return LAVR_OK;
}

lavr_status lavr_cuda_im2col_cl(const uint16_t *x, const lavr_cuda_conv_geom *g, int64_t q0, int64_t count,
                                uint16_t *cols, void *stream) {
    TRY(check_pitch(g->pin, "cuda im2col"));
    CHECK_ARG(x && cols && q0 >= 0 && count >= 0 && q0 + count <= g->to * g->ho * g->wo, "cuda im2col: bad arguments");
    const int64_t n = count * g->kt * g->kh * g->kw * (g->pin / 8);
    if (n == 0) return LAVR_OK;
    im2col_cl_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(x, *g, q0, count, cols);
    CUDA_TRY_LAUNCH("cuda im2col");
    return LAVR_OK;
}
