/* CUDA twin of lavr_rope_apply (models/rope.c): one thread per (token, pair) computes LiveAvatar's
 * fp16-rounded cos/sin factor in double and rotates that pair in every head; explicit _rn double
 * operations keep the CPU's rounding (no FMA), so results match it bit for bit in practice. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops_cuda.h"

namespace {

enum { THREADS = 128 };

__device__ double fp16_round(double v) { return (double)__half2float(__float2half_rn((float)v)); }

__global__ void rope_kernel(float *x, int64_t L, int64_t H, int64_t D, int64_t row_stride,
                            const int64_t *__restrict__ pos) {
    const int64_t half = D / 2;
    const int64_t pairs_hw = half / 3, pairs_t = half - 2 * pairs_hw; /* 22/21/21 for D = 128 */
    for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < L * half;
         idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = idx / half, j = idx % half;
        const int axis = j < pairs_t ? 0 : (j < pairs_t + pairs_hw ? 1 : 2);
        const int64_t i = axis == 0 ? j : (axis == 1 ? j - pairs_t : j - pairs_t - pairs_hw);
        const int64_t dim_axis = 2 * (axis == 0 ? pairs_t : pairs_hw);
        const int64_t p = pos[t * 3 + axis], ap = p < 0 ? -p : p;
        const double inv = 1.0 / pow(10000.0, (double)(2 * i) / (double)dim_axis);
        const double ang = __dmul_rn((double)ap, inv);
        const double c = fp16_round(cos(ang)), s0 = fp16_round(sin(ang)), s = p < 0 ? -s0 : s0;
        float *v = x + t * row_stride + 2 * j;
        for (int64_t h = 0; h < H; h++, v += D) {
            const double a = v[0], b = v[1];
            v[0] = __bfloat162float(__float2bfloat16_rn((float)__dadd_rn(__dmul_rn(a, c), -__dmul_rn(b, s))));
            v[1] = __bfloat162float(__float2bfloat16_rn((float)__dadd_rn(__dmul_rn(a, s), __dmul_rn(b, c))));
        }
    }
}

} // namespace

lavr_status lavr_cuda_rope(float *x, int64_t L, int64_t H, int64_t D, int64_t row_stride, const int64_t *pos,
                           void *stream) {
    CHECK_ARG(D % 2 == 0 && D >= 6 && D <= 1024, "cuda rope: head dim %lld must be even, in [6, 1024]", (long long)D);
    CHECK_ARG(L >= 0 && H > 0 && row_stride >= H * D && (L == 0 || (x && pos)),
              "cuda rope: bad arguments (L=%lld, H=%lld, row stride %lld)", (long long)L, (long long)H,
              (long long)row_stride);
    if (L == 0) return LAVR_OK;
    rope_kernel<<<grid_for(L * (D / 2), THREADS), THREADS, 0, as_stream(stream)>>>(x, L, H, D, row_stride, pos);
    CUDA_TRY_LAUNCH("cuda rope");
    return LAVR_OK;
}
