/* Dispatch of wav2vec2's row ops (kernels/w2v_ops.h): checks that every operand is a row tensor of the context's
 * device with consistent shapes, then runs the CPU reference (kernels/cpu/w2v_rows.c) or the CUDA version
 * (kernels/cuda/w2v_ops_cuda.c). */
#include "kernels/w2v_ops.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "kernels/cpu/w2v_rows.h"
#include "kernels/ctx_internal.h"
#if LAVR_HAVE_CUDA
#include "kernels/cuda/w2v_ops_cuda.h"
#endif

#if LAVR_HAVE_CUDA
#define ON_CUDA(c, call) \
    if ((c)->device == LAVR_DEVICE_CUDA) return (call)
#else
#define ON_CUDA(c, call) \
    if ((c)->device == LAVR_DEVICE_CUDA) return LAVR_FAIL(LAVR_E_INTERNAL, "a CUDA context in a build without CUDA")
#endif

/* A row operand of the context: [rows, cols] with packed rows, F32 on the CPU, BF16 on CUDA. */
static lavr_status check_rows(const lavr_ctx *c, const lavr_tensor *t, const char *op, const char *what) {
    char buf[96];
    if (!t || !t->data) return LAVR_FAIL(LAVR_E_INTERNAL, "%s: no %s tensor", op, what);
    const lavr_dtype want = c->device == LAVR_DEVICE_CUDA ? LAVR_BF16 : LAVR_F32;
    if (t->device != c->device || t->dtype != want || t->ndim != 2 || t->stride[1] != 1 || t->stride[0] != t->shape[1])
        return LAVR_FAIL(LAVR_E_INTERNAL, "%s: %s %s is not a row tensor of a %s context", op, what,
                         lavr_tensor_describe(t, buf, sizeof buf), c->device == LAVR_DEVICE_CUDA ? "cuda" : "cpu");
    return LAVR_OK;
}

static lavr_status check_round(const lavr_ctx *c, int round, const char *op) {
    if (c->device == LAVR_DEVICE_CUDA && !round)
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "%s: CUDA row tensors are bf16, so results are always rounded", op);
    return LAVR_OK;
}

static lavr_status check_dims(const lavr_tensor *t, int64_t rows, int64_t cols, const char *op, const char *what) {
    if (t->shape[0] != rows || t->shape[1] != cols)
        return LAVR_FAIL(LAVR_E_INTERNAL, "%s: %s is [%lld, %lld], expected [%lld, %lld]", op, what,
                         (long long)t->shape[0], (long long)t->shape[1], (long long)rows, (long long)cols);
    return LAVR_OK;
}

lavr_status lavr_wop_alloc(lavr_ctx *c, int64_t rows, int64_t cols, const char *what, lavr_tensor *out) {
    memset(out, 0, sizeof *out);
    CHECK_ARG(rows > 0 && cols > 0, "%s: row tensor [%lld, %lld]", what, (long long)rows, (long long)cols);
    if (c->device == LAVR_DEVICE_CPU)
        return lavr_tensor_alloc(c->host, LAVR_F32, 2, (int64_t[]){rows, cols}, what, out);
    ON_CUDA(c, lavr_cuda_wop_alloc(c, rows, cols, what, out));
    return LAVR_FAIL(LAVR_E_INTERNAL, "unknown device");
}

lavr_status lavr_wop_upload(lavr_ctx *c, const float *host, lavr_tensor *y) {
    TRY(check_rows(c, y, "upload", "destination"));
    if (c->device == LAVR_DEVICE_CPU) {
        memcpy(y->data, host, (size_t)lavr_tensor_numel(y) * sizeof(float));
        return LAVR_OK;
    }
    ON_CUDA(c, lavr_cuda_wop_upload(c, host, y));
    return LAVR_FAIL(LAVR_E_INTERNAL, "unknown device");
}

lavr_status lavr_wop_download(lavr_ctx *c, const lavr_tensor *x, float *host) {
    TRY(check_rows(c, x, "download", "source"));
    if (c->device == LAVR_DEVICE_CPU) {
        memcpy(host, x->data, (size_t)lavr_tensor_numel(x) * sizeof(float));
        return LAVR_OK;
    }
    ON_CUDA(c, lavr_cuda_wop_download(c, x, host));
    return LAVR_FAIL(LAVR_E_INTERNAL, "unknown device");
}

lavr_status lavr_wop_copy(lavr_ctx *c, const lavr_tensor *x, lavr_tensor *y) {
    TRY(check_rows(c, x, "copy", "input"));
    TRY(check_rows(c, y, "copy", "output"));
    TRY(check_dims(y, x->shape[0], x->shape[1], "copy", "output"));
    if (c->device == LAVR_DEVICE_CPU) {
        memmove(y->data, x->data, (size_t)lavr_tensor_numel(x) * sizeof(float));
        return LAVR_OK;
    }
    ON_CUDA(c, lavr_cuda_wop_copy(c, x, y));
    return LAVR_FAIL(LAVR_E_INTERNAL, "unknown device");
}

int64_t lavr_wop_free_bytes(const lavr_ctx *c) {
#if LAVR_HAVE_CUDA
    if (c->device == LAVR_DEVICE_CUDA) return lavr_cuda_wop_free_bytes(c);
#endif
    (void)c;
    return INT64_MAX;
}

/* ---- weights ---------------------------------------------------------------------------------- */

#if LAVR_HAVE_CUDA
/* The host tensors are spent once uploaded (or failed to be). */
static lavr_status take_uploaded(lavr_tensor *w, lavr_tensor *b, lavr_status st) {
    lavr_tensor_free(w);
    if (b) lavr_tensor_free(b);
    return st;
}
#endif

lavr_status lavr_wop_linear_weights(lavr_ctx *c, lavr_tensor *w, lavr_tensor *b, int round, lavr_wop_weights *out) {
    memset(out, 0, sizeof *out);
    CHECK_ARG(w && w->ndim == 2 && (!b || !b->data || (b->ndim == 1 && b->shape[0] == w->shape[0])),
              "linear weights: W [N, K] and b [N] are required");
    TRY(check_round(c, round, "linear weights"));
    out->n = w->shape[0];
    out->k = w->shape[1];
    if (c->device == LAVR_DEVICE_CPU) return lavr_cpu_wop_weights(w, b, round, out);
    ON_CUDA(c, take_uploaded(w, b, lavr_cuda_wop_linear_weights(c, w, b, out)));
    return LAVR_FAIL(LAVR_E_INTERNAL, "unknown device");
}

lavr_status lavr_wop_conv_weights(lavr_ctx *c, lavr_tensor *w, lavr_tensor *b, int64_t groups, int round,
                                  lavr_wop_weights *out) {
    memset(out, 0, sizeof *out);
    CHECK_ARG(w && w->ndim == 3 && groups >= 1 && w->shape[0] % groups == 0 &&
                  (!b || !b->data || (b->ndim == 1 && b->shape[0] == w->shape[0])),
              "conv1d weights: W [Cout, Cin/groups, k] (Cout a multiple of groups) and b [Cout] are required");
    TRY(check_round(c, round, "conv1d weights"));
    out->cout = w->shape[0];
    out->cin = w->shape[1] * groups;
    out->taps = w->shape[2];
    out->groups = groups;
    if (c->device == LAVR_DEVICE_CPU) return lavr_cpu_wop_weights(w, b, round, out);
    ON_CUDA(c, take_uploaded(w, b, lavr_cuda_wop_conv_weights(c, w, b, out)));
    return LAVR_FAIL(LAVR_E_INTERNAL, "unknown device");
}

lavr_status lavr_wop_vector(lavr_ctx *c, lavr_tensor *v, int round, lavr_tensor *out) {
    memset(out, 0, sizeof *out);
    CHECK_ARG(v && v->ndim == 1 && v->shape[0] > 0, "row op vector: a 1-D tensor is required");
    TRY(check_round(c, round, "row op vector"));
    const int64_t n = v->shape[0];
    lavr_tensor tmp;
    TRY(lavr_tensor_alloc(c->host, LAVR_F32, 1, &n, "row op vector", &tmp));
    float *p = tmp.data;
    for (int64_t i = 0; i < n; i++) p[i] = round ? lavr_round_bf16((float)lavr_tensor_get_flat(v, i))
                                                 : (float)lavr_tensor_get_flat(v, i);
    lavr_tensor_free(v);
    if (c->device == LAVR_DEVICE_CPU) {
        *out = tmp;
        return LAVR_OK;
    }
    const lavr_status st = lavr_ctx_upload_vector(c, p, n, "row op vector", out);
    lavr_tensor_free(&tmp);
    return st;
}

void lavr_wop_weights_free(lavr_ctx *c, lavr_wop_weights *w) {
    if (!w) return;
    lavr_ctx_free(c, &w->w);
    lavr_ctx_free(c, &w->b);
    lavr_ctx_conv_weights_free(c, &w->conv);
    memset(w, 0, sizeof *w);
}

/* ---- ops -------------------------------------------------------------------------------------- */

lavr_status lavr_wop_linear(lavr_ctx *c, const lavr_tensor *x, const lavr_wop_weights *w, int round, lavr_tensor *y) {
    static const char op[] = "linear";
    TRY(check_rows(c, x, op, "input"));
    TRY(check_rows(c, y, op, "output"));
    TRY(check_round(c, round, op));
    TRY(check_dims(x, x->shape[0], w->k, op, "input"));
    TRY(check_dims(y, x->shape[0], w->n, op, "output"));
    if (c->device == LAVR_DEVICE_CPU) return lavr_cpu_wop_linear(x, w, round, y);
    ON_CUDA(c, lavr_cuda_wop_linear(c, x, w, y));
    return LAVR_FAIL(LAVR_E_INTERNAL, "unknown device");
}

lavr_status lavr_wop_layernorm(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *gamma, const lavr_tensor *beta,
                               float eps, int round, lavr_tensor *y) {
    static const char op[] = "layernorm";
    TRY(check_rows(c, x, op, "input"));
    TRY(check_rows(c, y, op, "output"));
    TRY(check_round(c, round, op));
    TRY(check_dims(y, x->shape[0], x->shape[1], op, "output"));
    CHECK_ARG(gamma && beta && gamma->shape[0] == x->shape[1] && beta->shape[0] == x->shape[1] &&
                  gamma->device == c->device && beta->device == c->device,
              "layernorm: gamma and beta of %lld values on the context's device are required", (long long)x->shape[1]);
    if (c->device == LAVR_DEVICE_CPU) return lavr_cpu_wop_layernorm(x, gamma, beta, eps, round, y);
    ON_CUDA(c, lavr_cuda_wop_layernorm(c, x, gamma, beta, eps, y));
    return LAVR_FAIL(LAVR_E_INTERNAL, "unknown device");
}

lavr_status lavr_wop_gelu(lavr_ctx *c, const lavr_tensor *x, int round, lavr_tensor *y) {
    TRY(check_rows(c, x, "gelu", "input"));
    TRY(check_rows(c, y, "gelu", "output"));
    TRY(check_round(c, round, "gelu"));
    TRY(check_dims(y, x->shape[0], x->shape[1], "gelu", "output"));
    if (c->device == LAVR_DEVICE_CPU) return lavr_cpu_wop_gelu(x, round, y);
    ON_CUDA(c, lavr_cuda_wop_gelu(c, x, y));
    return LAVR_FAIL(LAVR_E_INTERNAL, "unknown device");
}

lavr_status lavr_wop_add(lavr_ctx *c, const lavr_tensor *a, const lavr_tensor *b, int round, lavr_tensor *y) {
    TRY(check_rows(c, a, "add", "a"));
    TRY(check_rows(c, b, "add", "b"));
    TRY(check_rows(c, y, "add", "output"));
    TRY(check_round(c, round, "add"));
    TRY(check_dims(b, a->shape[0], a->shape[1], "add", "b"));
    TRY(check_dims(y, a->shape[0], a->shape[1], "add", "output"));
    if (c->device == LAVR_DEVICE_CPU) return lavr_cpu_wop_add(a, b, round, y);
    ON_CUDA(c, lavr_cuda_wop_add(c, a, b, y));
    return LAVR_FAIL(LAVR_E_INTERNAL, "unknown device");
}

lavr_status lavr_wop_conv1d(lavr_ctx *c, const lavr_tensor *x, const lavr_wop_weights *w, int64_t stride,
                            int64_t pad_left, int64_t pad_right, int round, lavr_tensor *y) {
    static const char op[] = "conv1d";
    TRY(check_rows(c, x, op, "input"));
    TRY(check_rows(c, y, op, "output"));
    TRY(check_round(c, round, op));
    CHECK_ARG(stride >= 1 && pad_left >= 0 && pad_right >= 0, "conv1d: stride %lld, padding %lld/%lld",
              (long long)stride, (long long)pad_left, (long long)pad_right);
    const int64_t span = pad_left + x->shape[0] + pad_right;
    if (span < w->taps) return LAVR_FAIL(LAVR_E_INTERNAL, "conv1d: %lld input frames for %lld taps", (long long)span,
                                         (long long)w->taps);
    TRY(check_dims(x, x->shape[0], w->cin, op, "input"));
    TRY(check_dims(y, (span - w->taps) / stride + 1, w->cout, op, "output"));
    if (c->device == LAVR_DEVICE_CPU) return lavr_cpu_wop_conv1d(x, w, stride, pad_left, pad_right, round, y);
    ON_CUDA(c, lavr_cuda_wop_conv1d(c, x, w, stride, pad_left, pad_right, y));
    return LAVR_FAIL(LAVR_E_INTERNAL, "unknown device");
}

/* ---- attention -------------------------------------------------------------------------------- */

struct lavr_wop_attention {
    int64_t max_rows, heads, head_dim, rows;
    lavr_attention_state *cpu;
    void *cuda; /* kernels/cuda/w2v_ops_cuda.c */
};

lavr_status lavr_wop_attention_create(lavr_ctx *c, int64_t max_rows, int64_t heads, int64_t head_dim, int own_kernel,
                                      lavr_wop_attention **out) {
    CHECK_ARG(max_rows > 0 && heads > 0 && head_dim > 0, "attention state: %lld rows, %lld heads, head dim %lld",
              (long long)max_rows, (long long)heads, (long long)head_dim);
    *out = NULL;
    lavr_wop_attention *a = calloc(1, sizeof *a);
    if (!a) return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for an attention state");
    a->max_rows = max_rows, a->heads = heads, a->head_dim = head_dim;
    lavr_status st = LAVR_OK;
    if (c->device == LAVR_DEVICE_CPU) {
        st = lavr_attention_state_create(max_rows, heads, head_dim, &a->cpu);
    } else {
#if LAVR_HAVE_CUDA
        st = lavr_cuda_wop_attention_create(c, max_rows, heads, head_dim, own_kernel, &a->cuda);
#else
        st = LAVR_FAIL(LAVR_E_INTERNAL, "a CUDA context in a build without CUDA");
#endif
    }
    (void)own_kernel;
    if (st) {
        lavr_wop_attention_destroy(c, a);
        return st;
    }
    *out = a;
    return LAVR_OK;
}

void lavr_wop_attention_destroy(lavr_ctx *c, lavr_wop_attention *a) {
    if (!a) return;
    lavr_attention_state_destroy(a->cpu);
#if LAVR_HAVE_CUDA
    if (a->cuda) lavr_cuda_wop_attention_destroy(c, a->cuda);
#endif
    (void)c;
    free(a);
}

const char *lavr_wop_attention_path(const lavr_wop_attention *a) {
#if LAVR_HAVE_CUDA
    if (a->cuda) return lavr_cuda_wop_attention_path(a->cuda);
#endif
    (void)a;
    return "cpu";
}

lavr_status lavr_wop_attention_fold(lavr_ctx *c, lavr_wop_attention *a, const lavr_tensor *q, const lavr_tensor *k,
                                    const lavr_tensor *v, int first) {
    static const char op[] = "attention";
    TRY(check_rows(c, q, op, "queries"));
    TRY(check_rows(c, k, op, "keys"));
    TRY(check_rows(c, v, op, "values"));
    const int64_t hd = a->heads * a->head_dim;
    CHECK_ARG(q->shape[0] <= a->max_rows && q->shape[1] == hd && k->shape[1] == hd && lavr_tensor_same_shape(k, v),
              "attention: queries [%lld, %lld] (at most %lld rows), keys and values [n, %lld] are required",
              (long long)q->shape[0], (long long)q->shape[1], (long long)a->max_rows, (long long)hd);
    if (!first && q->shape[0] != a->rows)
        return LAVR_FAIL(LAVR_E_INTERNAL, "attention: a fold of %lld query rows into a run of %lld",
                         (long long)q->shape[0], (long long)a->rows);
    a->rows = q->shape[0];
    if (c->device == LAVR_DEVICE_CPU) return lavr_cpu_wop_attention_fold(a->cpu, q, k, v, a->heads, first);
    ON_CUDA(c, lavr_cuda_wop_attention_fold(c, a->cuda, q, k, v, first));
    return LAVR_FAIL(LAVR_E_INTERNAL, "unknown device");
}

lavr_status lavr_wop_attention_finish(lavr_ctx *c, lavr_wop_attention *a, int round, lavr_tensor *out) {
    TRY(check_rows(c, out, "attention", "output"));
    TRY(check_round(c, round, "attention"));
    TRY(check_dims(out, a->rows, a->heads * a->head_dim, "attention", "output"));
    if (c->device == LAVR_DEVICE_CPU) return lavr_cpu_wop_attention_finish(a->cpu, round, out);
    ON_CUDA(c, lavr_cuda_wop_attention_finish(c, a->cuda, out));
    return LAVR_FAIL(LAVR_E_INTERNAL, "unknown device");
}
