/* CUDA kernels of wav2vec2's ops (kernels/cuda/w2v_cuda.h): the bias add after a convolution, the one-channel first
 * convolution, the grouped positional convolution's per-group im2col, and the fp32 attention fold (hand-written: the
 * online softmax must carry its state across key chunks that arrive in several calls, which no library kernel exposes except cuDNN's log-sum-exp output,
 * folded here too). Memory-bound kernels; the GEMMs are cuBLASLt's (kernels/cuda/w2v_ops_cuda.c). */
#include <cuda_bf16.h>
#include <math.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/w2v_cuda.h"

namespace {

enum { THREADS = 256, ATT_ROWS = 64, ATT_KEYS = 64 };

__device__ __forceinline__ float ld(const uint16_t *p) {
    return __bfloat162float(*reinterpret_cast<const __nv_bfloat16 *>(p));
}
__device__ __forceinline__ void st(uint16_t *p, float v) {
    *reinterpret_cast<__nv_bfloat16 *>(p) = __float2bfloat16_rn(v);
}
__device__ __forceinline__ float round_bf(float v) { return __bfloat162float(__float2bfloat16_rn(v)); }

__global__ void add_bias_kernel(uint16_t *y, int64_t n, int64_t cols, const float *__restrict__ bias) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        st(y + i, ld(y + i) + bias[i % cols]);
}

__global__ void conv_1ch_kernel(const uint16_t *__restrict__ x, int64_t tin, const uint16_t *__restrict__ w,
                                const float *__restrict__ bias, int64_t cout, int64_t taps, int64_t stride, int64_t pad,
                                int64_t n, uint16_t *__restrict__ y) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = i / cout, c = i % cout;
        float acc = 0.0f;
        for (int64_t j = 0; j < taps; j++) {
            const int64_t s = t * stride + j - pad;
            if (s >= 0 && s < tin) acc += ld(x + s) * ld(w + c * taps + j);
        }
        st(y + i, bias ? round_bf(acc) + bias[c] : acc);
    }
}

__global__ void im2col_group_kernel(const uint16_t *__restrict__ x, int64_t tin, int64_t cin, int64_t g, int64_t cg,
                                    int64_t taps, int64_t stride, int64_t pad, int64_t n, uint16_t *__restrict__ cols) {
    const int64_t width = taps * cg;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = i / width, r = i % width, j = r / cg, ci = r % cg;
        const int64_t s = t * stride + j - pad;
        cols[i] = s >= 0 && s < tin ? x[s * cin + g * cg + ci] : (uint16_t)0;
    }
}

/* One thread per (query row, head), ATT_ROWS rows of one head per block; keys and values of the head pass through
 * shared memory ATT_KEYS at a time; the online softmax rescales only when a tile raises the row's max. */
template <int D>
__global__ void attention_fold_kernel(const uint16_t *__restrict__ q, int64_t rows, const uint16_t *__restrict__ k,
                                      const uint16_t *__restrict__ v, int64_t nkeys, int64_t heads, float scale,
                                      int first, float *__restrict__ acc_g, float *__restrict__ m_g,
                                      float *__restrict__ l_g) {
    __shared__ float ks[ATT_KEYS][D], vs[ATT_KEYS][D];
    const int64_t h = blockIdx.y, r = blockIdx.x * (int64_t)ATT_ROWS + threadIdx.x, hd = heads * D;
    const bool valid = r < rows;
    float qr[D], acc[D], m = -INFINITY, l = 0.0f;
    float *acc_row = acc_g + (h * rows + (valid ? r : 0)) * D;
#pragma unroll
    for (int d = 0; d < D; d++) {
        qr[d] = valid ? ld(q + r * hd + h * D + d) * scale : 0.0f;
        acc[d] = valid && !first ? acc_row[d] : 0.0f;
    }
    if (valid && !first) {
        m = m_g[h * rows + r];
        l = l_g[h * rows + r];
    }
    for (int64_t k0 = 0; k0 < nkeys; k0 += ATT_KEYS) {
        const int kn = (int)(nkeys - k0 < ATT_KEYS ? nkeys - k0 : ATT_KEYS);
        __syncthreads();
        for (int i = threadIdx.x; i < ATT_KEYS * D; i += blockDim.x) {
            const int j = i / D, d = i % D;
            ks[j][d] = j < kn ? ld(k + (k0 + j) * hd + h * D + d) : 0.0f;
            vs[j][d] = j < kn ? ld(v + (k0 + j) * hd + h * D + d) : 0.0f;
        }
        __syncthreads();
        float s[ATT_KEYS], tile_max = -INFINITY;
#pragma unroll
        for (int j = 0; j < ATT_KEYS; j++) {
            float dot = 0.0f;
#pragma unroll
            for (int d = 0; d < D; d++) dot += qr[d] * ks[j][d];
            s[j] = j < kn ? dot : -INFINITY;
            tile_max = fmaxf(tile_max, s[j]);
        }
        if (tile_max > m) {
            const float f = expf(m - tile_max); /* 0 on the first tile (m = -inf) */
            l *= f;
#pragma unroll
            for (int d = 0; d < D; d++) acc[d] *= f;
            m = tile_max;
        }
#pragma unroll
        for (int j = 0; j < ATT_KEYS; j++) {
            const float p = expf(s[j] - m);
            l += p;
#pragma unroll
            for (int d = 0; d < D; d++) acc[d] += p * vs[j][d];
        }
    }
    if (!valid) return;
#pragma unroll
    for (int d = 0; d < D; d++) acc_row[d] = acc[d];
    m_g[h * rows + r] = m;
    l_g[h * rows + r] = l;
}

/* acc/m hold a normalised output and its log-sum-exp: merge one more chunk's (o, lse). */
__global__ void fold_lse_kernel(const uint16_t *__restrict__ o, const float *__restrict__ lse, int64_t rows,
                                int64_t heads, int64_t D, int first, float *__restrict__ acc, float *__restrict__ m) {
    const int64_t n = heads * rows * D;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t h = i / (rows * D), r = (i / D) % rows, d = i % D;
        const float oc = ld(o + r * heads * D + h * D + d), lc = lse[h * rows + r];
        if (first) {
            acc[i] = oc;
        } else {
            const float lo = m[h * rows + r], mx = fmaxf(lo, lc);
            const float wo = expf(lo - mx), wc = expf(lc - mx);
            acc[i] = (acc[i] * wo + oc * wc) / (wo + wc);
        }
    }
}

/* the log-sum-exp update after every element of a row has used the old value */
__global__ void lse_update_kernel(const float *__restrict__ lse, int64_t n, int first, float *__restrict__ m) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        if (first) {
            m[i] = lse[i];
        } else {
            const float mx = fmaxf(m[i], lse[i]);
            m[i] = mx + logf(expf(m[i] - mx) + expf(lse[i] - mx));
        }
    }
}

__global__ void lse_of_kernel(const float *__restrict__ m, const float *__restrict__ l, int64_t n, float *lse) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        lse[i] = m[i] + logf(l[i]);
}

__global__ void finish_kernel(const float *__restrict__ acc, const float *__restrict__ l, int normalised, int64_t rows,
                              int64_t heads, int64_t D, uint16_t *__restrict__ out) {
    const int64_t n = heads * rows * D;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t h = i / (rows * D), r = (i / D) % rows, d = i % D;
        const float sum = normalised ? 1.0f : l[h * rows + r];
        st(out + r * heads * D + h * D + d, sum > 0.0f ? acc[i] / sum : 0.0f);
    }
}

} // namespace

extern "C" {

lavr_status lavr_cuda_w2v_copy(const uint16_t *x, int64_t n, uint16_t *y, void *stream) {
    if (n <= 0) return LAVR_OK;
    CUDA_TRY(cudaMemcpyAsync(y, x, (size_t)n * 2, cudaMemcpyDeviceToDevice, as_stream(stream)));
    return LAVR_OK;
}

lavr_status lavr_cuda_w2v_add_bias(uint16_t *y, int64_t rows, int64_t cols, const float *bias, void *stream) {
    const int64_t n = rows * cols;
    if (n <= 0) return LAVR_OK;
    add_bias_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(y, n, cols, bias);
    CUDA_TRY_LAUNCH("cuda w2v bias");
    return LAVR_OK;
}

lavr_status lavr_cuda_w2v_conv_1ch(const uint16_t *x, int64_t tin, const uint16_t *w, const float *bias, int64_t cout,
                                   int64_t taps, int64_t stride, int64_t pad, int64_t tout, uint16_t *y, void *stream) {
    const int64_t n = tout * cout;
    if (n <= 0) return LAVR_OK;
    conv_1ch_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(x, tin, w, bias, cout, taps, stride, pad,
                                                                             n, y);
    CUDA_TRY_LAUNCH("cuda w2v one-channel conv");
    return LAVR_OK;
}

lavr_status lavr_cuda_w2v_im2col_group(const uint16_t *x, int64_t tin, int64_t cin, int64_t g, int64_t cg,
                                       int64_t taps, int64_t stride, int64_t pad, int64_t tout, uint16_t *cols,
                                       void *stream) {
    const int64_t n = tout * taps * cg;
    if (n <= 0) return LAVR_OK;
    im2col_group_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(x, tin, cin, g, cg, taps, stride, pad,
                                                                                 n, cols);
    CUDA_TRY_LAUNCH("cuda w2v grouped im2col");
    return LAVR_OK;
}

lavr_status lavr_cuda_w2v_attention_fold(const uint16_t *q, int64_t rows, const uint16_t *k, const uint16_t *v,
                                         int64_t nkeys, int64_t heads, int64_t D, float scale, int first, float *acc,
                                         float *m, float *l, void *stream) {
    CHECK_ARG(rows > 0 && heads > 0 && heads <= 65535 && nkeys >= 0, "cuda w2v attention: bad shape");
    const dim3 grid((unsigned)((rows + ATT_ROWS - 1) / ATT_ROWS), (unsigned)heads);
    cudaStream_t s = as_stream(stream);
    switch (D) {
    case 16: attention_fold_kernel<16><<<grid, ATT_ROWS, 0, s>>>(q, rows, k, v, nkeys, heads, scale, first, acc, m, l);
        break;
    case 32: attention_fold_kernel<32><<<grid, ATT_ROWS, 0, s>>>(q, rows, k, v, nkeys, heads, scale, first, acc, m, l);
        break;
    case 64: attention_fold_kernel<64><<<grid, ATT_ROWS, 0, s>>>(q, rows, k, v, nkeys, heads, scale, first, acc, m, l);
        break;
    default: return LAVR_FAIL(LAVR_E_UNSUPPORTED, "cuda w2v attention: head dim %lld (16, 32 or 64)", (long long)D);
    }
    CUDA_TRY_LAUNCH("cuda w2v attention fold");
    return LAVR_OK;
}

lavr_status lavr_cuda_w2v_attention_fold_lse(const uint16_t *o, const float *lse, int64_t rows, int64_t heads,
                                             int64_t D, int first, float *acc, float *m, void *stream) {
    const int64_t n = heads * rows * D;
    if (n <= 0) return LAVR_OK;
    fold_lse_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(o, lse, rows, heads, D, first, acc, m);
    CUDA_TRY_LAUNCH("cuda w2v attention fold (lse)");
    lse_update_kernel<<<grid_for(heads * rows, THREADS), THREADS, 0, as_stream(stream)>>>(lse, heads * rows, first, m);
    CUDA_TRY_LAUNCH("cuda w2v attention lse update");
    return LAVR_OK;
}

lavr_status lavr_cuda_w2v_attention_lse(const float *m, const float *l, int64_t n, float *lse, void *stream) {
    if (n <= 0) return LAVR_OK;
    lse_of_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(m, l, n, lse);
    CUDA_TRY_LAUNCH("cuda w2v attention log-sum-exp");
    return LAVR_OK;
}

lavr_status lavr_cuda_w2v_attention_finish(const float *acc, const float *l, int normalised, int64_t rows,
                                           int64_t heads, int64_t D, uint16_t *out, void *stream) {
    const int64_t n = heads * rows * D;
    if (n <= 0) return LAVR_OK;
    finish_kernel<<<grid_for(n, THREADS), THREADS, 0, as_stream(stream)>>>(acc, l, normalised, rows, heads, D, out);
    CUDA_TRY_LAUNCH("cuda w2v attention finish");
    return LAVR_OK;
}

} // extern "C"
