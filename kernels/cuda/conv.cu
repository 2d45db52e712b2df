/* CUDA convolutions as gather + fp32 GEMM (lavr_cuda_linear_f32): the audio encoder's causal conv1d
 * (time-major, first frame repeated on the left) and the VAE's conv3d by chunked im2col, one output
 * frame and a run of its positions per GEMM so the scratch stays bounded. */
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops_cuda.h"

namespace {

enum { THREADS = 256 };

/* cols[o, c*K + k] = x[max(0, o*stride + k - (K-1)), c] */
__global__ void causal_taps_kernel(const float *__restrict__ x, int64_t cin, int64_t K, int64_t stride, int64_t tout,
                                   float *__restrict__ cols) {
    const int64_t n = tout * cin * K;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t o = i / (cin * K), r = i % (cin * K), c = r / K, k = r % K;
        const int64_t src = o * stride + k - (K - 1);
        cols[i] = x[(src < 0 ? 0 : src) * cin + c];
    }
}

struct conv3d_geom {
    int64_t cin, t, h, w, kt, kh, kw, st, sh, sw, pt, ph, pw, Ho, Wo;
};

/* cols[q, ((ci*kt + dt)*kh + dh)*kw + dw] = the input under tap (dt, dh, dw) of output position
 * p0 + q of frame `to` (0 in the padding) */
__global__ void im2col3d_kernel(const float *__restrict__ x, conv3d_geom g, int64_t to, int64_t p0, int64_t count,
                                float *__restrict__ cols) {
    const int64_t K = g.cin * g.kt * g.kh * g.kw, n = count * K;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t q = i / K, k = i % K, p = p0 + q;
        const int64_t ho = p / g.Wo, wo = p % g.Wo;
        const int64_t dw = k % g.kw, dh = (k / g.kw) % g.kh, dt = (k / (g.kw * g.kh)) % g.kt, ci = k / (g.kw * g.kh * g.kt);
        const int64_t ti = to * g.st + dt - g.pt, hi = ho * g.sh + dh - g.ph, wi = wo * g.sw + dw - g.pw;
        const bool inside = ti >= 0 && ti < g.t && hi >= 0 && hi < g.h && wi >= 0 && wi < g.w;
        cols[i] = inside ? x[((ci * g.t + ti) * g.h + hi) * g.w + wi] : 0.0f;
    }
}

__global__ void add_channel_bias_kernel(float *y, int64_t channels, int64_t per_channel, const float *__restrict__ b) {
    const int64_t n = channels * per_channel;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] += b[i / per_channel];
}

} // namespace

lavr_status lavr_cuda_causal_conv1d(lavr_cuda_blas *blas, const float *x, int64_t T, int64_t cin, const float *w,
                                    int64_t cout, int64_t K, const float *bias, int64_t stride, float *y,
                                    float *scratch, int64_t scratch_floats, void *stream) {
    CHECK_ARG(blas && x && w && y && scratch && T > 0 && cin > 0 && cout > 0 && K > 0 && stride > 0,
              "cuda causal_conv1d: bad arguments (T=%lld, cin=%lld, cout=%lld, K=%lld, stride=%lld)", (long long)T,
              (long long)cin, (long long)cout, (long long)K, (long long)stride);
    const int64_t tout = (T - 1) / stride + 1;
    CHECK_ARG(scratch_floats >= tout * cin * K, "cuda causal_conv1d: scratch of %lld floats, needs %lld",
              (long long)scratch_floats, (long long)(tout * cin * K));
    causal_taps_kernel<<<grid_for(tout * cin * K, THREADS), THREADS, 0, as_stream(stream)>>>(x, cin, K, stride, tout,
                                                                                              scratch);
    CUDA_TRY_LAUNCH("cuda causal_conv1d taps");
    return lavr_cuda_linear_f32(blas, scratch, tout, cin * K, w, cout, bias, y, cout, stream);
}

lavr_status lavr_cuda_conv3d(lavr_cuda_blas *blas, const float *x, int64_t cin, int64_t t, int64_t h, int64_t w,
                             const float *weight, int64_t cout, const int64_t ksize[3], const float *bias,
                             const int64_t stride[3], const int64_t pad[6], float *y, int64_t out_dims[3],
                             float *scratch, int64_t scratch_floats, void *stream) {
    CHECK_ARG(blas && x && weight && y && out_dims && scratch && ksize && stride && pad && cin > 0 && t > 0 && h > 0 &&
                  w > 0 && cout > 0,
              "cuda conv3d: bad arguments (cin=%lld, t=%lld, h=%lld, w=%lld, cout=%lld)", (long long)cin, (long long)t,
              (long long)h, (long long)w, (long long)cout);
    const int64_t in_dims[3] = {t, h, w};
    int64_t dims[3];
    for (int i = 0; i < 3; i++) {
        CHECK_ARG(ksize[i] >= 1 && stride[i] >= 1 && pad[2 * i] >= 0 && pad[2 * i + 1] >= 0,
                  "cuda conv3d: bad kernel %lld / stride %lld / padding in dim %d", (long long)ksize[i],
                  (long long)stride[i], i);
        const int64_t padded = in_dims[i] + pad[2 * i] + pad[2 * i + 1];
        CHECK_ARG(padded >= ksize[i], "cuda conv3d: kernel %lld longer than padded input %lld in dim %d",
                  (long long)ksize[i], (long long)padded, i);
        dims[i] = (padded - ksize[i]) / stride[i] + 1;
    }
    const int64_t K = cin * ksize[0] * ksize[1] * ksize[2], HW = dims[1] * dims[2], total = dims[0] * HW;
    CHECK_ARG(scratch_floats >= K, "cuda conv3d: scratch of %lld floats is less than one patch (%lld)",
              (long long)scratch_floats, (long long)K);
    const int64_t chunk = scratch_floats / K < HW ? scratch_floats / K : HW;
    const conv3d_geom g = {cin, t, h, w, ksize[0], ksize[1], ksize[2], stride[0], stride[1], stride[2],
                           pad[0], pad[2], pad[4], dims[1], dims[2]};
    for (int64_t to = 0; to < dims[0]; to++)
        for (int64_t p0 = 0; p0 < HW; p0 += chunk) {
            const int64_t count = HW - p0 < chunk ? HW - p0 : chunk;
            im2col3d_kernel<<<grid_for(count * K, THREADS), THREADS, 0, as_stream(stream)>>>(x, g, to, p0, count,
                                                                                              scratch);
            CUDA_TRY_LAUNCH("cuda conv3d im2col");
            /* y[co, to, p0 + q] = sum_k weight[co, k] * cols[q, k]: weight as the GEMM's x, cols as its W */
            TRY(lavr_cuda_linear_f32(blas, weight, cout, K, scratch, count, NULL, y + to * HW + p0, total, stream));
        }
    if (bias) {
        add_channel_bias_kernel<<<grid_for(cout * total, THREADS), THREADS, 0, as_stream(stream)>>>(y, cout, total,
                                                                                                     bias);
        CUDA_TRY_LAUNCH("cuda conv3d bias");
    }
    for (int i = 0; i < 3; i++) out_dims[i] = dims[i];
    return LAVR_OK;
}
