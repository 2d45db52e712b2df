/* CUDA video ops (kernels/cuda/video_ops_cuda.h) on bf16 channels-last tensors: element-wise ops are the kernels of
 * kernels/cuda/video.cu; 1x1x1 convolutions are cuBLASLt GEMMs over positions x channels; the other convolutions go
 * to cuDNN (kernels/cuda/conv_cudnn.c) or, where the context has none or cuDNN has no engine for the shape, to the
 * own kernel: a chunked channels-last im2col into bf16 and a cuBLASLt GEMM with fp32 accumulation (hand-written
 * because cuDNN is optional and cuBLASLt has no convolution). The mid-block attention is per frame: S = QK^T in
 * fp32 (cuBLASLt), a row softmax, then P·V. */
#include <cuda_runtime_api.h>
#include <math.h>

#include "kernels/ctx_internal.h"
#include "kernels/cuda/conv_cudnn.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_arena.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/video_cuda.h"
#include "kernels/cuda/video_ops_cuda.h"

/* scratch bound of the own convolution's im2col chunk and of the attention's score block */
#define CONV_SCRATCH_BYTES ((int64_t)64 << 20)
#define ATTN_SCORE_BYTES ((int64_t)128 << 20)

static int64_t positions(const lavr_tensor *t) { return t->shape[1] * t->shape[2] * t->shape[3]; }
static int64_t pitch(const lavr_tensor *t) { return t->stride[3]; }
static const float *vec(const lavr_tensor *v) { return v ? (const float *)v->data : NULL; }

/* y[M, N] (bf16, rows ldy apart) = x[M, K] (bf16, rows ldx apart) · w[N, K]^T (bf16 packed), fp32 accumulation */
static lavr_status gemm_bf16(lavr_ctx *c, int64_t M, int64_t N, int64_t K, const void *x, int64_t ldx, const void *w,
                             void *y, int64_t ldy, lavr_gemm_type y_type) {
    lavr_cuda_gemm_args g = {0};
    g.M = M, g.N = N, g.K = K;
    g.x = x, g.ldx = ldx, g.x_type = LAVR_GEMM_BF16;
    g.w = w, g.w_type = LAVR_GEMM_BF16;
    g.y = y, g.ldy = ldy, g.y_type = y_type;
    return lavr_cuda_gemm(c->blas, &g, c->stream);
}

/* The own kernel: im2col rows of at most CONV_SCRATCH_BYTES, each chunk one GEMM writing its output rows. */
static lavr_status own_conv(lavr_ctx *c, const lavr_tensor *x, const lavr_conv_weights *w, const int64_t stride[3],
                            const int64_t pad[6], lavr_tensor *y) {
    const lavr_cuda_conv_geom g = {.t = x->shape[1], .h = x->shape[2], .w = x->shape[3], .pin = pitch(x),
                                   .kt = w->kt, .kh = w->kh, .kw = w->kw,
                                   .st = stride[0], .sh = stride[1], .sw = stride[2],
                                   .pt = pad[0], .ph = pad[2], .pw = pad[4],
                                   .to = y->shape[1], .ho = y->shape[2], .wo = y->shape[3]};
    const int64_t K = g.kt * g.kh * g.kw * g.pin, total = g.to * g.ho * g.wo, pout = pitch(y);
    int64_t rows = CONV_SCRATCH_BYTES / (K * 2);
    if (rows < 1) rows = 1;
    if (rows > total) rows = total;
    uint16_t *cols = NULL;
    TRY(lavr_cuda_ctx_alloc(c, (size_t)(rows * K) * 2, "conv im2col", (void **)&cols));
    lavr_status st = LAVR_OK;
    for (int64_t q0 = 0; q0 < total && !st; q0 += rows) {
        const int64_t count = total - q0 < rows ? total - q0 : rows;
        st = lavr_cuda_im2col_cl(x->data, &g, q0, count, cols, c->stream);
        if (!st)
            st = gemm_bf16(c, count, pout, K, cols, K, w->weight.data, (uint16_t *)y->data + q0 * pout, pout,
                           LAVR_GEMM_BF16);
    }
    lavr_cuda_ctx_release(c, cols);
    return st;
}

/* The convolution itself (no bias); *category tells the profile which path ran. */
static lavr_status conv_raw(lavr_ctx *c, const lavr_tensor *x, const lavr_conv_weights *w, const int64_t stride[3],
                            const int64_t pad[6], lavr_tensor *y, int *category, int *entry) {
    const int64_t pin = pitch(x), pout = pitch(y);
    int pointwise = w->kt == 1 && w->kh == 1 && w->kw == 1;
    for (int i = 0; i < 3; i++) pointwise = pointwise && stride[i] == 1 && pad[2 * i] == 0 && pad[2 * i + 1] == 0;
    if (pointwise) {
        *category = LAVR_PROF_CONV_GEMM;
        return gemm_bf16(c, positions(x), pout, pin, x->data, pin, w->weight.data, y->data, pout, LAVR_GEMM_BF16);
    }
    /* kt = 1 without time padding or stride is a 2-D conv over the frames as a batch */
    const int two_d = w->kt == 1 && stride[0] == 1 && pad[0] == 0 && pad[1] == 0;
    lavr_cudnn_conv_shape s = {.cin = pin, .cout = pout, .spatial = two_d ? 2 : 3};
    s.n = two_d ? x->shape[1] : 1;
    const int64_t k[3] = {w->kt, w->kh, w->kw};
    for (int i = 0, d = two_d ? 1 : 0; d < 3; i++, d++) {
        s.in[i] = x->shape[1 + d];
        s.k[i] = k[d];
        s.out[i] = y->shape[1 + d];
        s.stride[i] = stride[d];
        s.pre[i] = pad[2 * d];
        s.post[i] = pad[2 * d + 1];
    }
    int ran = 0;
    if (c->convs) TRY(lavr_cuda_convs_run(c->convs, &s, x->data, w->weight.data, y->data, &ran, entry));
    *category = ran ? LAVR_PROF_CONV_CUDNN : LAVR_PROF_CONV_OWN;
    if (ran) return LAVR_OK;
    return own_conv(c, x, w, stride, pad, y);
}

lavr_status lavr_cuda_vop_conv(lavr_ctx *c, const lavr_tensor *x, const lavr_conv_weights *w, int with_bias,
                               const int64_t stride[3], const int64_t pad[6], lavr_tensor *y) {
    int category = LAVR_PROF_CONV_OWN, entry = -1;
    const int slot = lavr_cuda_prof_begin(c);
    lavr_status st = conv_raw(c, x, w, stride, pad, y, &category, &entry);
    lavr_cuda_prof_conv_entry(c, slot, entry);
    if (!st && with_bias)
        st = lavr_cuda_video_add(y->data, w->bias.data, NULL, NULL, positions(y), pitch(y), y->data, c->stream);
    lavr_cuda_prof_end(c, slot, category);
    return st;
}

lavr_status lavr_cuda_vop_rms_norm(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *x_bias,
                                   const lavr_tensor *gamma, int silu, lavr_tensor *y) {
    const int slot = lavr_cuda_prof_begin(c);
    const lavr_status st = lavr_cuda_video_rms_norm(x->data, vec(x_bias), gamma->data, positions(x), x->shape[0], pitch(x), silu,
                                    y->data, c->stream);
    lavr_cuda_prof_end(c, slot, LAVR_PROF_NORM);
    return st;
}

lavr_status lavr_cuda_vop_add(lavr_ctx *c, const lavr_tensor *a, const lavr_tensor *a_bias, const lavr_tensor *b,
                              const lavr_tensor *b_bias, lavr_tensor *y) {
    const int slot = lavr_cuda_prof_begin(c);
    const lavr_status st = lavr_cuda_video_add(a->data, vec(a_bias), b ? b->data : NULL, vec(b_bias), positions(a), pitch(a), y->data,
                               c->stream);
    lavr_cuda_prof_end(c, slot, LAVR_PROF_ADD);
    return st;
}

lavr_status lavr_cuda_vop_copy(lavr_ctx *c, const lavr_tensor *x, lavr_tensor *y) {
    const size_t bytes = (size_t)(positions(x) * pitch(x)) * 2; /* frame ranges of one pitch are contiguous */
    if (!bytes) return LAVR_OK;
    const int slot = lavr_cuda_prof_begin(c);
    const cudaError_t e = cudaMemcpyAsync(y->data, x->data, bytes, cudaMemcpyDeviceToDevice, (cudaStream_t)c->stream);
    lavr_cuda_prof_end(c, slot, LAVR_PROF_COPY);
    CUDA_TRY_NAMED(e, "video copy (cudaMemcpyAsync)");
    return LAVR_OK;
}

lavr_status lavr_cuda_vop_zero(lavr_ctx *c, lavr_tensor *y) {
    const size_t bytes = (size_t)(positions(y) * pitch(y)) * 2;
    if (!bytes) return LAVR_OK;
    const int slot = lavr_cuda_prof_begin(c);
    const cudaError_t e = cudaMemsetAsync(y->data, 0, bytes, (cudaStream_t)c->stream);
    lavr_cuda_prof_end(c, slot, LAVR_PROF_COPY);
    CUDA_TRY_NAMED(e, "video zero (cudaMemsetAsync)");
    return LAVR_OK;
}

lavr_status lavr_cuda_vop_clamp(lavr_ctx *c, const lavr_tensor *x, float lo, float hi, lavr_tensor *y) {
    const int slot = lavr_cuda_prof_begin(c);
    const lavr_status st = lavr_cuda_video_clamp(x->data, positions(x) * pitch(x), lo, hi, y->data, c->stream);
    lavr_cuda_prof_end(c, slot, LAVR_PROF_RESAMPLE);
    return st;
}

lavr_status lavr_cuda_vop_upsample2x(lavr_ctx *c, const lavr_tensor *x, lavr_tensor *y) {
    const int slot = lavr_cuda_prof_begin(c);
    const lavr_status st = lavr_cuda_video_upsample2x(x->data, x->shape[1], x->shape[2], x->shape[3], pitch(x), y->data, c->stream);
    lavr_cuda_prof_end(c, slot, LAVR_PROF_RESAMPLE);
    return st;
}

lavr_status lavr_cuda_vop_time_interleave(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *x_bias,
                                          lavr_tensor *y) {
    const int slot = lavr_cuda_prof_begin(c);
    const lavr_status st = lavr_cuda_video_time_interleave(x->data, vec(x_bias), x->shape[1], x->shape[2] * x->shape[3], y->shape[0],
                                           pitch(x), pitch(y), y->data, c->stream);
    lavr_cuda_prof_end(c, slot, LAVR_PROF_RESAMPLE);
    return st;
}

lavr_status lavr_cuda_vop_frame_attention(lavr_ctx *c, const lavr_tensor *qkv, const lavr_tensor *qkv_bias,
                                          lavr_tensor *out) {
    const int64_t C = out->shape[0], T = out->shape[1], ntok = out->shape[2] * out->shape[3];
    const int64_t p3 = pitch(qkv), po = pitch(out);
    /* query rows per block, so that the fp32 scores stay within ATTN_SCORE_BYTES */
    int64_t rows = ATTN_SCORE_BYTES / (ntok * 4);
    if (rows < 1) rows = 1;
    if (rows > ntok) rows = ntok;
    uint16_t *q = NULL, *k = NULL, *vt = NULL, *p = NULL;
    float *s = NULL;
    lavr_status st;
    TRY_GOTO(lavr_cuda_ctx_alloc(c, (size_t)(ntok * C) * 2, "attention q", (void **)&q), st, done);
    TRY_GOTO(lavr_cuda_ctx_alloc(c, (size_t)(ntok * C) * 2, "attention k", (void **)&k), st, done);
    TRY_GOTO(lavr_cuda_ctx_alloc(c, (size_t)(ntok * C) * 2, "attention v^T", (void **)&vt), st, done);
    TRY_GOTO(lavr_cuda_ctx_alloc(c, (size_t)(rows * ntok) * 4, "attention scores", (void **)&s), st, done);
    TRY_GOTO(lavr_cuda_ctx_alloc(c, (size_t)(rows * ntok) * 2, "attention weights", (void **)&p), st, done);
    const float scale = (float)(1.0 / sqrt((double)C));
    const int slot = lavr_cuda_prof_begin(c);
    for (int64_t f = 0; f < T; f++) {
        const uint16_t *qkv_f = (const uint16_t *)qkv->data + f * ntok * p3;
        uint16_t *out_f = (uint16_t *)out->data + f * ntok * po;
        TRY_GOTO(lavr_cuda_video_qkv_split(qkv_f, qkv_bias ? qkv_bias->data : NULL, ntok, C, p3, q, k, vt, c->stream),
                 st, done);
        if (po != C) { /* the GEMM writes C columns of each row: the pad channels must read as zero */
            const cudaError_t e = cudaMemsetAsync(out_f, 0, (size_t)(ntok * po) * 2, (cudaStream_t)c->stream);
            if (e != cudaSuccess) {
                st = LAVR_FAIL(LAVR_E_CUDA, "attention output pad: %s", cudaGetErrorString(e));
                goto done;
            }
        }
        for (int64_t r0 = 0; r0 < ntok; r0 += rows) {
            const int64_t nr = ntok - r0 < rows ? ntok - r0 : rows;
            TRY_GOTO(gemm_bf16(c, nr, ntok, C, q + r0 * C, C, k, s, ntok, LAVR_GEMM_F32), st, done);
            TRY_GOTO(lavr_cuda_softmax_rows(s, nr, ntok, scale, p, c->stream), st, done);
            TRY_GOTO(gemm_bf16(c, nr, C, ntok, p, ntok, vt, out_f + r0 * po, po, LAVR_GEMM_BF16), st, done);
        }
    }
    lavr_cuda_prof_end(c, slot, LAVR_PROF_ATTENTION);
    st = LAVR_OK;
done:
    if (q) lavr_cuda_ctx_release(c, q);
    if (k) lavr_cuda_ctx_release(c, k);
    if (vt) lavr_cuda_ctx_release(c, vt);
    if (s) lavr_cuda_ctx_release(c, s);
    if (p) lavr_cuda_ctx_release(c, p);
    return st;
}
