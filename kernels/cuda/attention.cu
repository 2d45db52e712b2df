/* lavr_cuda_attention: flash-style attention over bf16 K/V segments read in place. A tensor-core
 * kernel (mma.sync m16n8k16 bf16, fp32 accumulate, online softmax in registers) serves D = 64/128;
 * an fp32 CUDA-core kernel (one warp per query row and head) serves every other shape. ROUND_S (umT5's
 * eager attention) rounds each score to bf16 before and after its bias, as PyTorch's bf16 einsum and add do;
 * the fp32 kernel then also rounds the normalised probabilities (two passes), the one-pass tensor-core kernel
 * its unnormalised exp(s - running max), as for every call. */
#include <cuda_bf16.h>
#include <math.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops_cuda.h"

namespace {

/* The segments as a kernel argument; empty ones are dropped, `base` is each one's first key in
 * the concatenated key order (the bias column). */
struct seg_table {
    const __nv_bfloat16 *k[LAVR_CUDA_MAX_SEGMENTS], *v[LAVR_CUDA_MAX_SEGMENTS];
    int64_t len[LAVR_CUDA_MAX_SEGMENTS], stride[LAVR_CUDA_MAX_SEGMENTS], base[LAVR_CUDA_MAX_SEGMENTS];
    int n;
    int64_t total;
};

constexpr float LOG2E = 1.4426950408889634f;

/* ------------------------------------------------------------------------------------------------
 * Tensor-core kernel. A block of 4 warps takes 64 query rows of one head; warp w owns rows
 * 16w..16w+15 and keeps Q (bf16 A fragments), the 16x64 score tile and the 16xD output in
 * registers. Key tiles of 64 rows are copied (cp.async, two stages) into shared memory, rows
 * padded by 8 elements so the ldmatrix row addresses fall in distinct banks. Fragment layout of
 * m16n8k16 (g = lane/4, t = lane%4): A rows g and g+8, columns 2t,2t+1 (+8); B column g, rows
 * 2t,2t+1 (+8); C rows g and g+8, columns 2t, 2t+1. */
enum { TC_WARPS = 4, TC_ROWS = 16 * TC_WARPS, TC_KEYS = 64, TC_PAD = 8 };
/* Blocks per SM the register allocation aims at (tuning knob). 3 caps D=128 at 168 registers with
 * ~48 bytes spilled and ran 11% faster on an H100 than 2 (172 registers, no spills). */
#ifndef LAVR_ATTN_MIN_BLOCKS
#define LAVR_ATTN_MIN_BLOCKS 3
#endif

__device__ __forceinline__ float round_bf16(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi); /* .x (low half) = lo */
    return *reinterpret_cast<uint32_t *>(&v);
}

__device__ __forceinline__ void mma_bf16(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
    __trap(); /* the launcher only picks this kernel on sm_80 and newer */
#endif
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void *row_addr) {
    const unsigned a = (unsigned)__cvta_generic_to_shared(row_addr);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const void *row_addr) {
    const unsigned a = (unsigned)__cvta_generic_to_shared(row_addr);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

__device__ __forceinline__ void cp_async16(void *smem_dst, const void *gmem_src) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    const unsigned d = (unsigned)__cvta_generic_to_shared(smem_dst);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(d), "l"(gmem_src));
#else
    *reinterpret_cast<uint4 *>(smem_dst) = *reinterpret_cast<const uint4 *>(gmem_src);
#endif
}

__device__ __forceinline__ void cp_async_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::);
#endif
}

/* Waits until at most `pending` of this thread's committed copy groups are still in flight. */
template <int pending>
__device__ __forceinline__ void cp_async_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;\n" ::"n"(pending));
#endif
}

/* Shared memory of the tensor-core kernel: two stages of (K tile, V tile), so the copy of the next
 * key tile overlaps the MMAs on the current one. */
template <int D>
constexpr size_t tc_smem_bytes() {
    return 2 * 2 * (size_t)TC_KEYS * (D + TC_PAD) * sizeof(__nv_bfloat16);
}

/* Starts the asynchronous copy of keys [k0, k0+64) of one segment (head offset applied) into a
 * stage; rows past the segment end are zeroed so that 0-weight keys cannot bring in NaN. */
template <int D>
__device__ __forceinline__ void tc_load_tile(__nv_bfloat16 *ks, __nv_bfloat16 *vs, const __nv_bfloat16 *kbase,
                                             const __nv_bfloat16 *vbase, int64_t stride, int64_t len, int64_t k0) {
    constexpr int LD = D + TC_PAD, CHUNKS = D / 8;
    for (int idx = threadIdx.x; idx < TC_KEYS * CHUNKS; idx += TC_WARPS * 32) {
        const int row = idx / CHUNKS, c8 = (idx % CHUNKS) * 8;
        if (k0 + row < len) {
            cp_async16(ks + row * LD + c8, kbase + (k0 + row) * stride + c8);
            cp_async16(vs + row * LD + c8, vbase + (k0 + row) * stride + c8);
        } else {
            *reinterpret_cast<uint4 *>(ks + row * LD + c8) = make_uint4(0, 0, 0, 0);
            *reinterpret_cast<uint4 *>(vs + row * LD + c8) = make_uint4(0, 0, 0, 0);
        }
    }
    cp_async_commit();
}

__device__ __forceinline__ float ld_f(const float *p) { return *p; }
__device__ __forceinline__ float ld_f(const __nv_bfloat16 *p) { return __bfloat162float(*p); }
__device__ __forceinline__ void st_f2(float *p, float a, float b) { *reinterpret_cast<float2 *>(p) = make_float2(a, b); }
__device__ __forceinline__ void st_f2(__nv_bfloat16 *p, float a, float b) {
    *reinterpret_cast<__nv_bfloat162 *>(p) = __floats2bfloat162_rn(a, b);
}

/* QT/OT: float or __nv_bfloat16 queries and outputs; out rows o_stride elements apart. */
template <int D, typename QT, typename OT, bool ROUND_S>
__global__ void __launch_bounds__(TC_WARPS * 32, LAVR_ATTN_MIN_BLOCKS)
    attention_tc_kernel(const QT *__restrict__ q, int64_t Lq, int64_t H, int64_t q_stride, seg_table segs,
                        float scale, const float *__restrict__ bias, OT *__restrict__ out, int64_t o_stride) {
    constexpr int LD = D + TC_PAD; /* shared row length in elements (row bytes a multiple of 16) */
    constexpr int KSTEPS = D / 16, DTILES = D / 8, STAGE = TC_KEYS * LD;
    extern __shared__ __align__(16) unsigned char tc_smem[];
    __nv_bfloat16 *const stages = reinterpret_cast<__nv_bfloat16 *>(tc_smem); /* [2][K tile, V tile] */

    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int64_t h = blockIdx.y;
    const int64_t r0 = (int64_t)blockIdx.x * TC_ROWS + warp * 16 + g, r1 = r0 + 8;

    /* the first tile's copy runs while Q is converted */
    tc_load_tile<D>(stages, stages + STAGE, segs.k[0] + h * D, segs.v[0] + h * D, segs.stride[0], segs.len[0], 0);

    uint32_t qa[KSTEPS][4];
    {
        const QT *q0 = q + r0 * q_stride + h * D, *q1 = q + r1 * q_stride + h * D;
        const bool ok0 = r0 < Lq, ok1 = r1 < Lq;
#pragma unroll
        for (int kk = 0; kk < KSTEPS; kk++) {
            const int c = kk * 16 + 2 * t;
            qa[kk][0] = pack_bf16(ok0 ? ld_f(q0 + c) : 0.f, ok0 ? ld_f(q0 + c + 1) : 0.f);
            qa[kk][1] = pack_bf16(ok1 ? ld_f(q1 + c) : 0.f, ok1 ? ld_f(q1 + c + 1) : 0.f);
            qa[kk][2] = pack_bf16(ok0 ? ld_f(q0 + c + 8) : 0.f, ok0 ? ld_f(q0 + c + 9) : 0.f);
            qa[kk][3] = pack_bf16(ok1 ? ld_f(q1 + c + 8) : 0.f, ok1 ? ld_f(q1 + c + 9) : 0.f);
        }
    }
    float o[DTILES][4];
#pragma unroll
    for (int j = 0; j < DTILES; j++) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.f, 0.f}; /* row_sum: this thread's share */
    const float *bias0 = bias && r0 < Lq ? bias + (h * Lq + r0) * segs.total : nullptr;
    const float *bias1 = bias && r1 < Lq ? bias + (h * Lq + r1) * segs.total : nullptr;

    /* ldmatrix row addresses: lane i serves row i%8 of 8x8 matrix i/8 */
    const int mi = lane >> 3, mr = lane & 7;

    int stage = 0;
    for (int sgi = 0; sgi < segs.n; sgi++) {
        const int64_t len = segs.len[sgi], base = segs.base[sgi];
        for (int64_t k0 = 0; k0 < len; k0 += TC_KEYS, stage ^= 1) {
            /* prefetch the next tile (this segment's next, or the next segment's first) */
            const bool more_here = k0 + TC_KEYS < len, more = more_here || sgi + 1 < segs.n;
            if (more) {
                const int ns = more_here ? sgi : sgi + 1;
                __nv_bfloat16 *nk = stages + (stage ^ 1) * 2 * STAGE;
                tc_load_tile<D>(nk, nk + STAGE, segs.k[ns] + h * D, segs.v[ns] + h * D, segs.stride[ns], segs.len[ns],
                                more_here ? k0 + TC_KEYS : 0);
                cp_async_wait<1>();
            } else {
                cp_async_wait<0>();
            }
            __syncthreads(); /* the current stage has landed for every thread */
            const __nv_bfloat16 *ks = stages + stage * 2 * STAGE, *vs = ks + STAGE;

            /* S = Q K^T for 64 keys: n-tile j holds keys 8j..8j+7 */
            float s[TC_KEYS / 8][4];
#pragma unroll
            for (int j = 0; j < TC_KEYS / 8; j++) {
                s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
                for (int kk = 0; kk < KSTEPS; kk += 2) {
                    /* matrices: (kk, lo), (kk, hi), (kk+1, lo), (kk+1, hi) of keys 8j.. */
                    uint32_t b[4];
                    ldmatrix_x4(b, ks + (j * 8 + mr) * LD + (kk + (mi >> 1)) * 16 + (mi & 1) * 8);
                    mma_bf16(s[j], qa[kk], b[0], b[1]);
                    mma_bf16(s[j], qa[kk + 1], b[2], b[3]);
                }
            }
            /* scale, bias, mask past the segment end (only the segment's last tile can reach past it);
             * tile maxima per row (rows g and g+8) */
            const bool partial = k0 + TC_KEYS > len;
            float tmax[2] = {-INFINITY, -INFINITY};
#pragma unroll
            for (int j = 0; j < TC_KEYS / 8; j++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int64_t key = k0 + j * 8 + 2 * t + (e & 1);
                    const float *brow = e < 2 ? bias0 : bias1;
                    float v = s[j][e] * scale;
                    if (ROUND_S) v = round_bf16(v);
                    if (partial && key >= len) v = -INFINITY;
                    else if (brow) v += brow[base + key];
                    if (ROUND_S) v = round_bf16(v); /* -inf and bf16's lowest (the mask) stay as they are */
                    s[j][e] = v;
                    tmax[e >> 1] = fmaxf(tmax[e >> 1], v);
                }
            }
            float corr[2], mref[2];
#pragma unroll
            for (int i = 0; i < 2; i++) {
                tmax[i] = fmaxf(tmax[i], __shfl_xor_sync(0xffffffffu, tmax[i], 1));
                tmax[i] = fmaxf(tmax[i], __shfl_xor_sync(0xffffffffu, tmax[i], 2));
                const float m_new = fmaxf(row_max[i], tmax[i]);
                /* all scores -inf so far: use 0 as the reference so no -inf - -inf = NaN appears */
                mref[i] = m_new == -INFINITY ? 0.f : m_new;
                corr[i] = exp2f((row_max[i] - mref[i]) * LOG2E);
                row_max[i] = m_new;
                row_sum[i] *= corr[i];
            }
#pragma unroll
            for (int j = 0; j < DTILES; j++) {
                o[j][0] *= corr[0];
                o[j][1] *= corr[0];
                o[j][2] *= corr[1];
                o[j][3] *= corr[1];
            }
#pragma unroll
            for (int j = 0; j < TC_KEYS / 8; j++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const float p = exp2f((s[j][e] - mref[e >> 1]) * LOG2E);
                    s[j][e] = p;
                    row_sum[e >> 1] += p;
                }
            }
            /* O += P V: P's C fragments become A fragments (keys 16kk..16kk+15 = n-tiles 2kk, 2kk+1) */
#pragma unroll
            for (int kk = 0; kk < TC_KEYS / 16; kk++) {
                const uint32_t pa[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                                        pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                        pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
                for (int j = 0; j < DTILES; j += 2) {
                    /* matrices: (keys lo, d-tile j), (keys hi, j), (lo, j+1), (hi, j+1), transposed */
                    uint32_t b[4];
                    ldmatrix_x4_trans(b, vs + (kk * 16 + (mi & 1) * 8 + mr) * LD + (j + (mi >> 1)) * 8);
                    mma_bf16(o[j], pa, b[0], b[1]);
                    mma_bf16(o[j + 1], pa, b[2], b[3]);
                }
            }
            __syncthreads(); /* every warp is done with this stage before it is refilled */
        }
    }
    float inv[2];
#pragma unroll
    for (int i = 0; i < 2; i++) {
        float l = row_sum[i];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        inv[i] = l > 0.f ? 1.f / l : 0.f; /* rows that saw only -inf output zeros */
    }
    OT *o0 = out + r0 * o_stride + h * D, *o1 = out + r1 * o_stride + h * D;
#pragma unroll
    for (int j = 0; j < DTILES; j++) {
        const int c = j * 8 + 2 * t;
        if (r0 < Lq) st_f2(o0 + c, o[j][0] * inv[0], o[j][1] * inv[0]);
        if (r1 < Lq) st_f2(o1 + c, o[j][2] * inv[1], o[j][3] * inv[1]);
    }
}

/* ------------------------------------------------------------------------------------------------
 * fp32 CUDA-core kernel: one warp per (query row, head), lane l owns dimensions l, l+32, ...;
 * keys are folded one at a time into the running max / sum / accumulator. ROUND_S takes two passes
 * over the keys instead: the first finds the row's max and sum, the second adds bf16(softmax) · v,
 * the probabilities PyTorch's eager attention rounds (the output needs no normalisation then). */
enum { GEN_WARPS = 4 };

__device__ __forceinline__ void st_f(float *p, float a) { *p = a; }
__device__ __forceinline__ void st_f(__nv_bfloat16 *p, float a) { *p = __float2bfloat16_rn(a); }

/* scale · q·k + bias of one key, every lane holding the whole sum */
template <int PER_LANE, bool ROUND_S>
__device__ __forceinline__ float generic_score(const float (&qv)[PER_LANE], const __nv_bfloat16 *kr, int lane,
                                               int64_t D, float scale, const float *bias_at) {
    float dot = 0.f;
#pragma unroll
    for (int i = 0; i < PER_LANE; i++) {
        const int64_t d = lane + 32 * i;
        if (d < D) dot += qv[i] * __bfloat162float(kr[d]);
    }
    for (int off = 16; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
    float sc = dot * scale;
    if (ROUND_S) sc = round_bf16(sc);
    if (bias_at) sc += *bias_at;
    if (ROUND_S) sc = round_bf16(sc);
    return sc;
}

template <int PER_LANE, typename QT, typename OT, bool ROUND_S>
__global__ void __launch_bounds__(GEN_WARPS * 32) attention_generic_kernel(const QT *__restrict__ q, int64_t Lq,
                                                                            int64_t H, int64_t D, int64_t q_stride,
                                                                            seg_table segs, float scale,
                                                                            const float *__restrict__ bias,
                                                                            OT *__restrict__ out, int64_t o_stride) {
    const int lane = threadIdx.x & 31;
    const int64_t item = (int64_t)blockIdx.x * GEN_WARPS + (threadIdx.x >> 5);
    if (item >= Lq * H) return;
    const int64_t row = item / H, h = item % H;
    float qv[PER_LANE], acc[PER_LANE];
#pragma unroll
    for (int i = 0; i < PER_LANE; i++) {
        const int64_t d = lane + 32 * i;
        qv[i] = d < D ? ld_f(q + row * q_stride + h * D + d) : 0.f;
        acc[i] = 0.f;
    }
    const float *brow = bias ? bias + (h * Lq + row) * segs.total : nullptr;
    float m = -INFINITY, l = 0.f;
    for (int pass = ROUND_S ? 0 : 1; pass < 2; pass++) {
        const float inv_sum = l > 0.f ? 1.f / l : 0.f; /* the second pass of ROUND_S */
        for (int sgi = 0; sgi < segs.n; sgi++) {
            const __nv_bfloat16 *kbase = segs.k[sgi] + h * D, *vbase = segs.v[sgi] + h * D;
            for (int64_t key = 0; key < segs.len[sgi]; key++) {
                const __nv_bfloat16 *kr = kbase + key * segs.stride[sgi], *vr = vbase + key * segs.stride[sgi];
                const float sc = generic_score<PER_LANE, ROUND_S>(qv, kr, lane, D, scale,
                                                                  brow ? brow + segs.base[sgi] + key : nullptr);
                if (ROUND_S && pass == 1) {
                    const float p = m == -INFINITY ? 0.f : round_bf16(expf(sc - m) * inv_sum);
#pragma unroll
                    for (int i = 0; i < PER_LANE; i++) {
                        const int64_t d = lane + 32 * i;
                        if (d < D) acc[i] += p * __bfloat162float(vr[d]);
                    }
                    continue;
                }
                const float m_new = fmaxf(m, sc);
                if (m_new == -INFINITY) continue; /* nothing but -inf so far */
                const float corr = expf(m - m_new), p = expf(sc - m_new);
                m = m_new;
                l = l * corr + p;
                if (!ROUND_S) { /* ROUND_S's first pass: max and sum only */
#pragma unroll
                    for (int i = 0; i < PER_LANE; i++) {
                        const int64_t d = lane + 32 * i;
                        acc[i] = acc[i] * corr + (d < D ? p * __bfloat162float(vr[d]) : 0.f);
                    }
                }
            }
        }
    }
    const float inv = ROUND_S ? 1.f : l > 0.f ? 1.f / l : 0.f;
#pragma unroll
    for (int i = 0; i < PER_LANE; i++) {
        const int64_t d = lane + 32 * i;
        if (d < D) st_f(out + row * o_stride + h * D + d, acc[i] * inv);
    }
}

template <int PER_LANE, bool ROUND_S, typename QT, typename OT>
void launch_generic(const QT *q, int64_t Lq, int64_t H, int64_t D, int64_t q_stride, const seg_table &segs,
                    float scale, const float *bias, OT *out, int64_t o_stride, cudaStream_t stream) {
    const int64_t blocks = (Lq * H + GEN_WARPS - 1) / GEN_WARPS;
    attention_generic_kernel<PER_LANE, QT, OT, ROUND_S>
        <<<(unsigned)blocks, GEN_WARPS * 32, 0, stream>>>(q, Lq, H, D, q_stride, segs, scale, bias, out, o_stride);
}

/* Compute capability major of the current device, asked once per device. */
lavr_status device_major(int *major) {
    static int cached[64];
    int dev = 0;
    CUDA_TRY(cudaGetDevice(&dev));
    if (dev < 0 || dev >= 64) return LAVR_FAIL(LAVR_E_CUDA, "cuda attention: device %d", dev);
    if (!cached[dev]) {
        int m = 0;
        CUDA_TRY(cudaDeviceGetAttribute(&m, cudaDevAttrComputeCapabilityMajor, dev));
        cached[dev] = m;
    }
    *major = cached[dev];
    return LAVR_OK;
}

bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

} // namespace

/* The table of non-empty segments, checked; vec_ok tells whether the tensor-core kernel can read them. */
static lavr_status make_segs(int64_t H, int64_t D, const lavr_cuda_kv_segment *segments, int nsegments,
                             seg_table *segs, bool *vec_ok) {
    CHECK_ARG(segments && nsegments >= 1 && nsegments <= LAVR_CUDA_MAX_SEGMENTS,
              "cuda attention: %d key/value segments (1 to %d)", nsegments, LAVR_CUDA_MAX_SEGMENTS);
    *segs = seg_table{};
    bool ok = D == 64 || D == 128; /* the tensor-core kernel's shapes and 16-byte row alignment */
    for (int i = 0; i < nsegments; i++) {
        const lavr_cuda_kv_segment *g = &segments[i];
        CHECK_ARG(g->len >= 0, "cuda attention: segment %d has length %lld", i, (long long)g->len);
        if (g->len == 0) continue;
        CHECK_ARG(g->k && g->v, "cuda attention: segment %d has no key or value data", i);
        CHECK_ARG(g->row_stride >= H * D, "cuda attention: segment %d row stride %lld < H*D = %lld", i,
                  (long long)g->row_stride, (long long)(H * D));
        ok = ok && g->row_stride % 8 == 0 && aligned16(g->k) && aligned16(g->v);
        segs->k[segs->n] = (const __nv_bfloat16 *)g->k;
        segs->v[segs->n] = (const __nv_bfloat16 *)g->v;
        segs->len[segs->n] = g->len;
        segs->stride[segs->n] = g->row_stride;
        segs->base[segs->n] = segs->total;
        segs->total += g->len;
        segs->n++;
    }
    CHECK_ARG(segs->total > 0, "cuda attention: all %d key/value segments are empty", nsegments);
    *vec_ok = ok;
    return LAVR_OK;
}

template <bool ROUND_S, typename QT, typename OT>
static lavr_status attention_launch(const QT *q, int64_t Lq, int64_t H, int64_t D, int64_t q_row_stride,
                                    const lavr_cuda_kv_segment *segments, int nsegments, float scale,
                                    const float *bias, OT *out, int64_t o_row_stride, void *stream) {
    CHECK_ARG(q && out && Lq >= 0 && H > 0 && H <= 65535 && D > 0 && D <= 512,
              "cuda attention: bad arguments (Lq=%lld, H=%lld, D=%lld; H <= 65535, D <= 512)", (long long)Lq,
              (long long)H, (long long)D);
    CHECK_ARG(q_row_stride >= H * D && o_row_stride >= H * D,
              "cuda attention: query / output row stride %lld / %lld < H*D = %lld", (long long)q_row_stride,
              (long long)o_row_stride, (long long)(H * D));
    seg_table segs;
    bool vec_ok;
    TRY(make_segs(H, D, segments, nsegments, &segs, &vec_ok));
    if (Lq == 0) return LAVR_OK;
    int major = 0;
    TRY(device_major(&major));
    const cudaStream_t st = as_stream(stream);
    if (vec_ok && major >= 8 && aligned16(out) && o_row_stride % 8 == 0) {
        const dim3 grid((unsigned)((Lq + TC_ROWS - 1) / TC_ROWS), (unsigned)H);
        if (D == 128) {
            static bool attr_set[2][2];
            bool &done = attr_set[sizeof(QT) == 2][sizeof(OT) == 2];
            if (!done) {
                CUDA_TRY(cudaFuncSetAttribute(attention_tc_kernel<128, QT, OT, ROUND_S>,
                                              cudaFuncAttributeMaxDynamicSharedMemorySize, (int)tc_smem_bytes<128>()));
                done = true;
            }
            attention_tc_kernel<128, QT, OT, ROUND_S><<<grid, TC_WARPS * 32, tc_smem_bytes<128>(), st>>>(
                q, Lq, H, q_row_stride, segs, scale, bias, out, o_row_stride);
        } else {
            attention_tc_kernel<64, QT, OT, ROUND_S><<<grid, TC_WARPS * 32, tc_smem_bytes<64>(), st>>>(
                q, Lq, H, q_row_stride, segs, scale, bias, out, o_row_stride);
        }
    } else if (D <= 64) {
        launch_generic<2, ROUND_S>(q, Lq, H, D, q_row_stride, segs, scale, bias, out, o_row_stride, st);
    } else if (D <= 128) {
        launch_generic<4, ROUND_S>(q, Lq, H, D, q_row_stride, segs, scale, bias, out, o_row_stride, st);
    } else if (D <= 256) {
        launch_generic<8, ROUND_S>(q, Lq, H, D, q_row_stride, segs, scale, bias, out, o_row_stride, st);
    } else {
        launch_generic<16, ROUND_S>(q, Lq, H, D, q_row_stride, segs, scale, bias, out, o_row_stride, st);
    }
    CUDA_TRY_LAUNCH("cuda attention");
    return LAVR_OK;
}

lavr_status lavr_cuda_attention(const float *q, int64_t Lq, int64_t H, int64_t D, int64_t q_row_stride,
                                const lavr_cuda_kv_segment *segments, int nsegments, float scale, const float *bias,
                                float *out, void *stream) {
    return attention_launch<false>(q, Lq, H, D, q_row_stride, segments, nsegments, scale, bias, out, H * D, stream);
}

lavr_status lavr_cuda_attention_bf16(const uint16_t *q, int64_t Lq, int64_t H, int64_t D, int64_t q_row_stride,
                                     const lavr_cuda_kv_segment *segments, int nsegments, float scale, uint16_t *out,
                                     int64_t out_row_stride, void *stream) {
    return attention_launch<false>((const __nv_bfloat16 *)q, Lq, H, D, q_row_stride, segments, nsegments, scale, NULL,
                                   (__nv_bfloat16 *)out, out_row_stride, stream);
}

lavr_status lavr_cuda_attention_rows(const uint16_t *q, int64_t Lq, int64_t H, int64_t D, const uint16_t *k,
                                     const uint16_t *v, int64_t Lk, float scale, const float *bias, int round_scores,
                                     uint16_t *out, void *stream) {
    const lavr_cuda_kv_segment seg = {k, v, Lk, H * D};
    const __nv_bfloat16 *qb = (const __nv_bfloat16 *)q;
    __nv_bfloat16 *ob = (__nv_bfloat16 *)out;
    return round_scores ? attention_launch<true>(qb, Lq, H, D, H * D, &seg, 1, scale, bias, ob, H * D, stream)
                        : attention_launch<false>(qb, Lq, H, D, H * D, &seg, 1, scale, bias, ob, H * D, stream);
}
