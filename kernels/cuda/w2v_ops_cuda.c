/* CUDA ops of wav2vec2 (kernels/cuda/w2v_ops_cuda.h) on bf16 row tensors: the dense convolutions of the feature
 * extractor are the video ops' convolution on [C, 1, 1, T] views (cuDNN, or lavr's im2col + cuBLASLt kernel); the
 * grouped positional convolution is a per-group im2col and GEMM; attention over resident keys is one cuDNN fused SDPA
 * call (cuDNN >= 9.13) or lavr's tensor-core flash kernel, over key chunks cuDNN's SDPA per chunk merged by its
 * log-sum-exp or lavr's fp32 fold kernel (kernels/cuda/w2v.cu). */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/log.h"
#include "kernels/ctx_internal.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_arena.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/sdpa.h"
#include "kernels/cuda/video_ops_cuda.h"
#include "kernels/cuda/w2v_cuda.h"
#include "kernels/cuda/w2v_ops_cuda.h"
#include "kernels/row_ops.h"

static void device_tensor(lavr_ctx *c, lavr_dtype dt, int ndim, const int64_t *shape, void *data, lavr_tensor *out) {
    *out = lavr_tensor_wrap(dt, ndim, shape, data);
    out->device = LAVR_DEVICE_CUDA;
    out->device_owner = c;
}

static int64_t rows_of(const lavr_tensor *t) { return t->shape[0]; }

int64_t lavr_cuda_wop_free_bytes(const lavr_ctx *c) {
    return (int64_t)(lavr_device_arena_cap(c->arena) - lavr_device_arena_used(c->arena));
}

/* ---- weights ---------------------------------------------------------------------------------- */

/* values[i] = bf16(src[order(i)]) uploaded as a bf16 device tensor of `shape`. */
static lavr_status upload_bf16(lavr_ctx *c, const uint16_t *host, int ndim, const int64_t *shape, const char *what,
                               lavr_tensor *out) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    void *p = NULL;
    TRY(lavr_cuda_ctx_alloc(c, (size_t)n * 2, what, &p));
    cudaStream_t s = (cudaStream_t)c->stream;
    cudaError_t e = cudaMemcpyAsync(p, host, (size_t)n * 2, cudaMemcpyHostToDevice, s);
    if (e == cudaSuccess) e = cudaStreamSynchronize(s);
    if (e != cudaSuccess) {
        lavr_cuda_ctx_release(c, p);
        return LAVR_FAIL(LAVR_E_CUDA, "%s: upload: %s", what, cudaGetErrorString(e));
    }
    device_tensor(c, LAVR_BF16, ndim, shape, p, out);
    return LAVR_OK;
}

static uint16_t *bf16_values(const lavr_tensor *t) {
    const int64_t n = lavr_tensor_numel(t);
    uint16_t *h = malloc((size_t)n * 2);
    if (h)
        for (int64_t i = 0; i < n; i++) h[i] = lavr_f32_to_bf16((float)lavr_tensor_get_flat(t, i));
    return h;
}

/* The bias as fp32 device values of bf16 numbers (the module's bf16 parameter). */
static lavr_status bias_f32(lavr_ctx *c, const lavr_tensor *b, lavr_tensor *out) {
    const int64_t n = b->shape[0];
    float *h = malloc((size_t)n * sizeof(float));
    if (!h) return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for a bias");
    for (int64_t i = 0; i < n; i++) h[i] = lavr_round_bf16((float)lavr_tensor_get_flat(b, i));
    const lavr_status st = lavr_ctx_upload_vector(c, h, n, "wav2vec2 bias", out);
    free(h);
    return st;
}

lavr_status lavr_cuda_wop_conv_weights(lavr_ctx *c, const lavr_tensor *w, const lavr_tensor *b, lavr_wop_conv *out) {
    const int64_t cout = out->cout, cg = w->shape[1], taps = out->taps;
    if (b && b->data) TRY(bias_f32(c, b, &out->b));
    if (out->groups == 1 && out->cin > 1) {
        CHECK_ARG(lavr_video_pitch(cout) == cout && lavr_video_pitch(out->cin) == out->cin,
                  "cuda conv1d: %lld -> %lld channels (multiples of 8 on CUDA)", (long long)out->cin, (long long)cout);
        /* the video ops' convolution weights: [Cout, Cin, 1, k] and a bias (zeros when the layer has none) */
        lavr_tensor w4, b1;
        TRY(lavr_tensor_alloc(c->host, LAVR_F32, 4, (int64_t[]){cout, out->cin, 1, taps}, "conv1d weight", &w4));
        lavr_status st = lavr_tensor_alloc(c->host, LAVR_F32, 1, &cout, "conv1d bias", &b1);
        if (st) {
            lavr_tensor_free(&w4);
            return st;
        }
        float *pw = w4.data, *pb = b1.data;
        for (int64_t i = 0; i < cout * out->cin * taps; i++) pw[i] = lavr_round_bf16((float)lavr_tensor_get_flat(w, i));
        for (int64_t i = 0; i < cout; i++)
            pb[i] = b && b->data ? lavr_round_bf16((float)lavr_tensor_get_flat(b, i)) : 0.0f;
        return lavr_ctx_conv_weights(c, &w4, &b1, &out->dense);
    }
    /* one input channel: [cout][taps] as stored; grouped: tap-major [cout][taps][cg] for the per-group GEMMs */
    uint16_t *h = malloc((size_t)(cout * cg * taps) * 2);
    if (!h) return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for conv1d weights");
    for (int64_t o = 0; o < cout; o++)
        for (int64_t i = 0; i < cg; i++)
            for (int64_t j = 0; j < taps; j++)
                h[(o * taps + j) * cg + i] = lavr_f32_to_bf16((float)lavr_tensor_get_flat(w, (o * cg + i) * taps + j));
    const lavr_status st = upload_bf16(c, h, 3, (int64_t[]){cout, taps, cg}, "wav2vec2 conv1d weight", &out->w);
    free(h);
    return st;
}

/* ---- ops -------------------------------------------------------------------------------------- */

static lavr_status gemm(lavr_ctx *c, int64_t M, int64_t N, int64_t K, const void *x, int64_t ldx, const void *w,
                        const void *bias, void *y, int64_t ldy) {
    lavr_cuda_gemm_args g = {0};
    g.M = M, g.N = N, g.K = K;
    g.x = x, g.ldx = ldx, g.x_type = LAVR_GEMM_BF16;
    g.w = w, g.w_type = LAVR_GEMM_BF16;
    g.bias = bias;
    g.y = y, g.ldy = ldy, g.y_type = LAVR_GEMM_BF16;
    return lavr_cuda_gemm(c->blas, &g, c->stream);
}

/* A row tensor [T, C] as the video tensor [C, 1, 1, T] of the same memory (pitch C). */
static lavr_tensor as_video(const lavr_tensor *rows) {
    lavr_tensor v = *rows;
    const int64_t T = rows->shape[0], C = rows->shape[1];
    v.ndim = 4;
    v.shape[0] = C, v.shape[1] = 1, v.shape[2] = 1, v.shape[3] = T;
    v.stride[0] = 1, v.stride[1] = T * C, v.stride[2] = T * C, v.stride[3] = C;
    v.owner = NULL;
    return v;
}

static lavr_status grouped_conv(lavr_ctx *c, const lavr_tensor *x, const lavr_wop_conv *w, int64_t stride,
                                int64_t pad_left, lavr_tensor *y) {
    const int64_t tout = rows_of(y), cg = w->cout / w->groups, K = w->taps * cg;
    uint16_t *cols = NULL;
    TRY(lavr_cuda_ctx_alloc(c, (size_t)(tout * K) * 2, "grouped conv im2col", (void **)&cols));
    lavr_status st = LAVR_OK;
    for (int64_t g = 0; g < w->groups && !st; g++) {
        st = lavr_cuda_w2v_im2col_group(x->data, rows_of(x), w->cin, g, cg, w->taps, stride, pad_left, tout, cols,
                                        c->stream);
        if (!st)
            st = gemm(c, tout, cg, K, cols, K, (const uint16_t *)w->w.data + g * cg * K, NULL,
                      (uint16_t *)y->data + g * cg, w->cout);
    }
    lavr_cuda_ctx_release(c, cols);
    if (!st && w->b.data) st = lavr_cuda_w2v_add_bias(y->data, tout, w->cout, w->b.data, c->stream);
    return st;
}

lavr_status lavr_cuda_wop_conv1d(lavr_ctx *c, const lavr_tensor *x, const lavr_wop_conv *w, int64_t stride,
                                 int64_t pad_left, int64_t pad_right, lavr_tensor *y) {
    const int slot = lavr_cuda_prof_begin(c);
    int category = LAVR_PROF_CONV_OWN;
    lavr_status st;
    if (w->cin == 1) {
        st = lavr_cuda_w2v_conv_1ch(x->data, rows_of(x), w->w.data, w->b.data, w->cout, w->taps, stride, pad_left,
                                    rows_of(y), y->data, c->stream);
    } else if (w->groups > 1) {
        category = LAVR_PROF_CONV_GEMM;
        st = grouped_conv(c, x, w, stride, pad_left, y);
    } else {
        lavr_cuda_prof_end(c, slot, category); /* the video op times itself */
        const lavr_tensor xv = as_video(x);
        lavr_tensor yv = as_video(y);
        const int64_t s3[3] = {1, 1, stride}, pad[6] = {0, 0, 0, 0, pad_left, pad_right};
        return lavr_cuda_vop_conv(c, &xv, &w->dense, w->b.data != NULL, s3, pad, &yv);
    }
    lavr_cuda_prof_end(c, slot, category);
    return st;
}

/* ---- attention -------------------------------------------------------------------------------- */

typedef struct {
    int64_t max_rows, heads, D, rows;
    float *acc, *m, *l;       /* [heads][rows][D], [heads][rows] x2 */
    lavr_cuda_sdpa *sdpa;     /* NULL: lavr's fold kernel */
    uint16_t *o;              /* SDPA: one chunk's output [rows][heads*D] */
    float *lse;               /* SDPA: its log-sum-exp [heads][rows] */
    float *acc1, *m1, *l1;    /* SDPA: a chunk cuDNN has no engine for, through lavr's kernel (made when needed) */
    int folds;
} cuda_attention;

lavr_status lavr_cuda_wop_attention_create(lavr_ctx *c, int64_t max_rows, int64_t heads, int64_t head_dim,
                                           int own_kernel, void **out) {
    cuda_attention *a = calloc(1, sizeof *a);
    if (!a) return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for an attention state");
    a->max_rows = max_rows, a->heads = heads, a->D = head_dim;
    *out = a;
    const int64_t n = heads * max_rows;
    TRY(lavr_cuda_ctx_alloc(c, (size_t)(n * head_dim) * 4, "attention accumulator", (void **)&a->acc));
    TRY(lavr_cuda_ctx_alloc(c, (size_t)n * 4, "attention row max", (void **)&a->m));
    TRY(lavr_cuda_ctx_alloc(c, (size_t)n * 4, "attention row sum", (void **)&a->l));
    if (own_kernel || !c->dnn) return LAVR_OK;
    lavr_status st = lavr_cuda_sdpa_create(c->dnn, &a->sdpa);
    if (st == LAVR_E_UNSUPPORTED) {
        LOG_INFO("wav2vec2 attention: lavr's kernel (%s)", lavr_error_message());
        lavr_error_clear();
        a->sdpa = NULL;
        return LAVR_OK;
    }
    TRY(st);
    TRY(lavr_cuda_ctx_alloc(c, (size_t)(n * head_dim) * 2, "attention chunk output", (void **)&a->o));
    TRY(lavr_cuda_ctx_alloc(c, (size_t)n * 4, "attention chunk log-sum-exp", (void **)&a->lse));
    return LAVR_OK;
}

void lavr_cuda_wop_attention_destroy(lavr_ctx *c, void *state) {
    cuda_attention *a = state;
    if (!a) return;
    void *blocks[] = {a->acc, a->m, a->l, a->o, a->lse, a->acc1, a->m1, a->l1};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        if (blocks[i]) lavr_cuda_ctx_release(c, blocks[i]);
    lavr_cuda_sdpa_destroy(a->sdpa);
    free(a);
}

int lavr_cuda_wop_attention_has_sdpa(const void *state) { return ((const cuda_attention *)state)->sdpa != NULL; }

const char *lavr_cuda_wop_attention_path(const void *state) {
    const cuda_attention *a = state;
    return a->sdpa ? "cuDNN fused SDPA (chunks merged by log-sum-exp)"
                   : "lavr's kernels (tensor-core flash attention over resident keys, the fp32 fold over chunks)";
}

/* One chunk cuDNN has no engine for, through lavr's fold kernel into a state of its own, then given as cuDNN gives
 * it: the normalised output in o and its log-sum-exp. */
static lavr_status own_chunk(lavr_ctx *c, cuda_attention *a, const lavr_tensor *q, const lavr_tensor *k,
                             const lavr_tensor *v, float scale) {
    const int64_t rows = rows_of(q), n = a->heads * a->max_rows;
    if (!a->acc1) {
        TRY(lavr_cuda_ctx_alloc(c, (size_t)(n * a->D) * 4, "attention chunk accumulator", (void **)&a->acc1));
        TRY(lavr_cuda_ctx_alloc(c, (size_t)n * 4, "attention chunk row max", (void **)&a->m1));
        TRY(lavr_cuda_ctx_alloc(c, (size_t)n * 4, "attention chunk row sum", (void **)&a->l1));
    }
    TRY(lavr_cuda_w2v_attention_fold(q->data, rows, k->data, v->data, rows_of(k), a->heads, a->D, scale, 1, a->acc1,
                                     a->m1, a->l1, c->stream));
    TRY(lavr_cuda_w2v_attention_finish(a->acc1, a->l1, 0, rows, a->heads, a->D, a->o, c->stream));
    return lavr_cuda_w2v_attention_lse(a->m1, a->l1, a->heads * rows, a->lse, c->stream);
}

lavr_status lavr_cuda_wop_attention_fold(lavr_ctx *c, void *state, const lavr_tensor *q, const lavr_tensor *k,
                                         const lavr_tensor *v, int first) {
    cuda_attention *a = state;
    const int64_t rows = rows_of(q), nk = rows_of(k), hd = a->heads * a->D;
    const float scale = (float)(1.0 / sqrt((double)a->D));
    if (first) a->rows = rows, a->folds = 0;
    const int slot = lavr_cuda_prof_begin(c);
    lavr_status st;
    if (!a->sdpa) {
        st = lavr_cuda_w2v_attention_fold(q->data, rows, k->data, v->data, nk, a->heads, a->D, scale, first, a->acc,
                                          a->m, a->l, c->stream);
    } else {
        lavr_sdpa_args s = {.batch = 1, .heads = a->heads, .lq = rows, .lk = nk, .head_dim = a->D,
                            .q = q->data, .k = k->data, .v = v->data, .o = a->o,
                            .q_row = hd, .q_batch = rows * hd, .kv_row = hd, .kv_batch = nk * hd,
                            .o_row = hd, .o_batch = rows * hd, .stats = a->lse, .scale = scale};
        lavr_status why = LAVR_OK;
        if (lavr_cuda_sdpa_ready(a->sdpa, &s, &why)) st = lavr_cuda_sdpa_run(a->sdpa, &s);
        else st = why ? why : own_chunk(c, a, q, k, v, scale); /* the same (o, lse) from lavr's kernel */
        if (!st)
            st = lavr_cuda_w2v_attention_fold_lse(a->o, a->lse, rows, a->heads, a->D, first, a->acc, a->m, c->stream);
    }
    lavr_cuda_prof_end(c, slot, LAVR_PROF_ATTENTION);
    a->folds++;
    return st;
}

lavr_status lavr_cuda_wop_attention_finish(lavr_ctx *c, void *state, lavr_tensor *out) {
    cuda_attention *a = state;
    const int slot = lavr_cuda_prof_begin(c);
    lavr_status st;
    if (a->sdpa && a->folds == 1) /* one chunk: cuDNN's output as it is */
        st = lavr_cuda_w2v_copy(a->o, lavr_tensor_numel(out), out->data, c->stream);
    else
        st = lavr_cuda_w2v_attention_finish(a->acc, a->l, a->sdpa != NULL, a->rows, a->heads, a->D, out->data,
                                            c->stream);
    lavr_cuda_prof_end(c, slot, LAVR_PROF_ATTENTION);
    return st;
}

lavr_status lavr_cuda_wop_attention_all(lavr_ctx *c, void *state, const lavr_tensor *q, const lavr_tensor *k,
                                        const lavr_tensor *v, lavr_tensor *out) {
    cuda_attention *a = state;
    const int64_t rows = rows_of(q), nk = rows_of(k), hd = a->heads * a->D;
    lavr_sdpa_args s = {.batch = 1, .heads = a->heads, .lq = rows, .lk = nk, .head_dim = a->D,
                        .q = q->data, .k = k->data, .v = v->data, .o = out->data,
                        .q_row = hd, .q_batch = rows * hd, .kv_row = hd, .kv_batch = nk * hd,
                        .o_row = hd, .o_batch = rows * hd, .scale = (float)(1.0 / sqrt((double)a->D))};
    lavr_status why = LAVR_OK;
    if (!lavr_cuda_sdpa_ready(a->sdpa, &s, &why)) {
        TRY(why);
        return lavr_rop_attention(c, q, k, v, a->heads, s.scale, NULL, 1, out); /* no cuDNN engine for the shape */
    }
    const int slot = lavr_cuda_prof_begin(c);
    const lavr_status st = lavr_cuda_sdpa_run(a->sdpa, &s);
    lavr_cuda_prof_end(c, slot, LAVR_PROF_ATTENTION);
    return st;
}
