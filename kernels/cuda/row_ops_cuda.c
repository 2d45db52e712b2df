/* CUDA row ops (kernels/cuda/row_ops_cuda.h) on bf16 row tensors: Linears are cuBLASLt GEMMs (bf16 in, fp32
 * accumulation, bias in the epilogue, bf16 out), attention the flash-style kernel of kernels/cuda/attention.cu with
 * the fp32 scores bias, the rest the kernels of kernels/cuda/rows.cu; transfers stage fp32 on the device. Each op is
 * bracketed for the context's per-op profile. */
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "kernels/ctx_internal.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/row_ops_cuda.h"
#include "kernels/cuda/rows_cuda.h"

static int64_t numel(const lavr_tensor *t) { return t->shape[0] * t->shape[1]; }
static uint16_t *bf(const lavr_tensor *t) { return (uint16_t *)t->data; }
static const float *vec(const lavr_tensor *t) { return t ? (const float *)t->data : NULL; }

/* Runs one op call under the profile category. */
#define PROFILED(c, category, call)                  \
    do {                                             \
        const int slot_ = lavr_cuda_prof_begin(c);   \
        lavr_status st_ = (call);                    \
        lavr_cuda_prof_end(c, slot_, (category));    \
        return st_;                                  \
    } while (0)

lavr_status lavr_cuda_ctx_alloc_tensor(lavr_ctx *c, lavr_dtype dt, int ndim, const int64_t *shape, const char *what,
                                       lavr_tensor *out) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    void *p = NULL;
    TRY(lavr_cuda_ctx_alloc(c, (size_t)n * lavr_dtype_size(dt), what, &p));
    *out = lavr_tensor_wrap(dt, ndim, shape, p);
    out->device = LAVR_DEVICE_CUDA;
    out->device_owner = c;
    return LAVR_OK;
}

lavr_status lavr_cuda_ctx_upload_tensor(lavr_ctx *c, const lavr_tensor *host, const char *what, lavr_tensor *out) {
    TRY(lavr_cuda_ctx_alloc_tensor(c, host->dtype, host->ndim, host->shape, what, out));
    /* synchronous: the host tensor may be freed as soon as this returns */
    const cudaError_t e = cudaMemcpy(out->data, host->data, (size_t)lavr_tensor_nbytes(host), cudaMemcpyHostToDevice);
    if (e != cudaSuccess) {
        lavr_ctx_free(c, out);
        return LAVR_FAIL(LAVR_E_CUDA, "%s: cudaMemcpy: %s", what, cudaGetErrorString(e));
    }
    return LAVR_OK;
}

lavr_status lavr_cuda_ctx_download_tensor(lavr_ctx *c, const lavr_tensor *src, lavr_tensor *host) {
    cudaStream_t s = (cudaStream_t)c->stream;
    CUDA_TRY(cudaMemcpyAsync(host->data, src->data, (size_t)lavr_tensor_nbytes(src), cudaMemcpyDeviceToHost, s));
    CUDA_TRY(cudaStreamSynchronize(s));
    return LAVR_OK;
}

/* A host tensor of any dtype as bf16 on the device. */
static lavr_status upload_bf16(lavr_ctx *c, const lavr_tensor *host, const char *what, lavr_tensor *out) {
    const int64_t n = lavr_tensor_numel(host);
    uint16_t *tmp = NULL;
    if (host->dtype != LAVR_BF16) {
        tmp = malloc((size_t)n * sizeof *tmp);
        if (!tmp) return LAVR_FAIL(LAVR_E_NOMEM, "%s: no host memory for %lld bf16 values", what, (long long)n);
        for (int64_t i = 0; i < n; i++) tmp[i] = lavr_f32_to_bf16((float)lavr_dtype_load(host->dtype, host->data, i));
    }
    lavr_status st = lavr_cuda_ctx_alloc_tensor(c, LAVR_BF16, host->ndim, host->shape, what, out);
    if (!st) {
        const cudaError_t e = cudaMemcpy(out->data, tmp ? (const void *)tmp : host->data, (size_t)n * 2,
                                         cudaMemcpyHostToDevice);
        if (e != cudaSuccess) {
            lavr_ctx_free(c, out);
            st = LAVR_FAIL(LAVR_E_CUDA, "%s: cudaMemcpy: %s", what, cudaGetErrorString(e));
        }
    }
    free(tmp);
    return st;
}

lavr_status lavr_cuda_ctx_linear_weights(lavr_ctx *c, lavr_tensor *weight, lavr_tensor *bias,
                                         lavr_linear_weights *out) {
    lavr_status st = upload_bf16(c, weight, "linear weight", &out->weight);
    if (!st && bias) st = upload_bf16(c, bias, "linear bias", &out->bias);
    if (st) {
        lavr_ctx_linear_weights_free(c, out);
        return st;
    }
    lavr_tensor_free(weight);
    if (bias) lavr_tensor_free(bias);
    return LAVR_OK;
}

lavr_status lavr_cuda_ctx_linear_weights_random(lavr_ctx *c, int64_t out, int64_t in, uint64_t seed, float a,
                                                lavr_linear_weights *w) {
    TRY(lavr_cuda_ctx_alloc_tensor(c, LAVR_BF16, 2, (int64_t[]){out, in}, "random linear weight", &w->weight));
    return lavr_cuda_rows_random(seed, a, out * in, bf(&w->weight), c->stream);
}

lavr_status lavr_cuda_rop_upload(lavr_ctx *c, const float *host, lavr_tensor *dst) {
    const int64_t n = numel(dst);
    float *staging = NULL;
    TRY(lavr_cuda_ctx_alloc(c, (size_t)n * sizeof(float), "row upload staging", (void **)&staging));
    const int slot = lavr_cuda_prof_begin(c);
    lavr_status st = LAVR_OK;
    const cudaError_t e = cudaMemcpyAsync(staging, host, (size_t)n * sizeof(float), cudaMemcpyHostToDevice,
                                          (cudaStream_t)c->stream);
    if (e != cudaSuccess) st = LAVR_FAIL(LAVR_E_CUDA, "row upload: cudaMemcpyAsync: %s", cudaGetErrorString(e));
    if (!st) st = lavr_cuda_f32_to_bf16(staging, n, bf(dst), c->stream);
    /* the host buffer is the caller's again only once the copy has run */
    if (!st) st = lavr_cuda_ctx_sync(c);
    lavr_cuda_prof_end(c, slot, LAVR_PROF_TRANSFER);
    lavr_cuda_ctx_release(c, staging);
    return st;
}

lavr_status lavr_cuda_rop_download(lavr_ctx *c, const lavr_tensor *src, float *host) {
    const int64_t n = numel(src);
    float *staging = NULL;
    TRY(lavr_cuda_ctx_alloc(c, (size_t)n * sizeof(float), "row download staging", (void **)&staging));
    const int slot = lavr_cuda_prof_begin(c);
    lavr_status st = lavr_cuda_bf16_to_f32(bf(src), n, staging, c->stream);
    if (!st) {
        const cudaError_t e = cudaMemcpyAsync(host, staging, (size_t)n * sizeof(float), cudaMemcpyDeviceToHost,
                                              (cudaStream_t)c->stream);
        if (e != cudaSuccess) st = LAVR_FAIL(LAVR_E_CUDA, "row download: cudaMemcpyAsync: %s", cudaGetErrorString(e));
    }
    if (!st) st = lavr_cuda_ctx_sync(c);
    lavr_cuda_prof_end(c, slot, LAVR_PROF_TRANSFER);
    lavr_cuda_ctx_release(c, staging);
    return st;
}

static lavr_status copy_d2d(lavr_ctx *c, const lavr_tensor *x, lavr_tensor *y) {
    CUDA_TRY(cudaMemcpyAsync(y->data, x->data, (size_t)numel(x) * 2, cudaMemcpyDeviceToDevice,
                             (cudaStream_t)c->stream));
    return LAVR_OK;
}

lavr_status lavr_cuda_rop_copy(lavr_ctx *c, const lavr_tensor *x, lavr_tensor *y) {
    PROFILED(c, LAVR_PROF_COPY, copy_d2d(c, x, y));
}

static lavr_status linear(lavr_ctx *c, const lavr_tensor *x, const lavr_linear_weights *w, lavr_tensor *y) {
    lavr_cuda_gemm_args g = {0};
    g.M = x->shape[0], g.N = w->out, g.K = w->in;
    g.x = x->data, g.ldx = w->in, g.x_type = LAVR_GEMM_BF16;
    g.w = w->weight.data, g.w_type = LAVR_GEMM_BF16;
    g.bias = w->bias.data;
    g.y = y->data, g.ldy = w->out, g.y_type = LAVR_GEMM_BF16;
    return lavr_cuda_gemm(c->blas, &g, c->stream);
}

lavr_status lavr_cuda_rop_linear(lavr_ctx *c, const lavr_tensor *x, const lavr_linear_weights *w, lavr_tensor *y) {
    if (w->weight.device != LAVR_DEVICE_CUDA || w->weight.dtype != LAVR_BF16)
        return LAVR_FAIL(LAVR_E_INTERNAL, "linear: the weights were not prepared for a CUDA context");
    PROFILED(c, LAVR_PROF_ROW_LINEAR, linear(c, x, w, y));
}

lavr_status lavr_cuda_rop_rms_norm(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *gain, float eps,
                                   lavr_tensor *y) {
    PROFILED(c, LAVR_PROF_NORM,
             lavr_cuda_rows_rms_norm(bf(x), x->shape[0], x->shape[1], vec(gain), eps, bf(y), c->stream));
}

lavr_status lavr_cuda_rop_layer_norm(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *gamma,
                                     const lavr_tensor *beta, float eps, lavr_tensor *y) {
    PROFILED(c, LAVR_PROF_NORM, lavr_cuda_rows_layer_norm(bf(x), x->shape[0], x->shape[1], vec(gamma), vec(beta), eps,
                                                          bf(y), c->stream));
}

lavr_status lavr_cuda_rop_gelu(lavr_ctx *c, const lavr_tensor *x, lavr_gelu_kind kind, lavr_tensor *y) {
    PROFILED(c, LAVR_PROF_ROW_ELEMENTWISE, lavr_cuda_rows_gelu(bf(x), numel(x), (int)kind, bf(y), c->stream));
}

lavr_status lavr_cuda_rop_binary(lavr_ctx *c, const lavr_tensor *a, const lavr_tensor *b, int mul, lavr_tensor *y) {
    PROFILED(c, mul ? LAVR_PROF_ROW_ELEMENTWISE : LAVR_PROF_ADD,
             lavr_cuda_rows_binary(bf(a), bf(b), numel(a), mul, bf(y), c->stream));
}

lavr_status lavr_cuda_rop_position_bias(lavr_ctx *c, const lavr_tensor *table, const lavr_tensor *bucket,
                                        const lavr_tensor *key_mask, lavr_tensor *bias) {
    PROFILED(c, LAVR_PROF_ROW_ELEMENTWISE,
             lavr_cuda_rows_position_bias(vec(table), (const int32_t *)bucket->data, vec(key_mask), bias->shape[0],
                                          bias->shape[1], bias->shape[2], LAVR_BF16_LOWEST, (float *)bias->data,
                                          c->stream));
}

lavr_status lavr_cuda_rop_attention(lavr_ctx *c, const lavr_tensor *q, const lavr_tensor *k, const lavr_tensor *v,
                                    int64_t heads, float scale, const lavr_tensor *bias, int round_scores,
                                    lavr_tensor *out) {
    PROFILED(c, LAVR_PROF_ATTENTION,
             lavr_cuda_attention_rows(bf(q), q->shape[0], heads, q->shape[1] / heads, bf(k), bf(v), k->shape[0], scale,
                                      vec(bias), round_scores, bf(out), c->stream));
}
