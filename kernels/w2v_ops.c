/* Dispatch of wav2vec2's ops (kernels/w2v_ops.h): checks that every operand is a row tensor of the context's device
 * with consistent shapes, then runs the CPU reference (kernels/cpu/w2v_rows.c) or the CUDA version
 * (kernels/cuda/w2v_ops_cuda.c). */
#include "kernels/w2v_ops.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/w2v_rows.h"
#include "kernels/ctx_internal.h"
#include "kernels/row_ops.h"
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

int64_t lavr_wop_free_bytes(const lavr_ctx *c) {
#if LAVR_HAVE_CUDA
    if (c->device == LAVR_DEVICE_CUDA) return lavr_cuda_wop_free_bytes(c);
#endif
    (void)c;
    return INT64_MAX;
}

/* ---- convolutions ----------------------------------------------------------------------------- */

lavr_status lavr_wop_conv_weights(lavr_ctx *c, lavr_tensor *w, lavr_tensor *b, int64_t groups, lavr_wop_conv *out) {
    memset(out, 0, sizeof *out);
    CHECK_ARG(w && w->data && w->ndim == 3 && groups >= 1 && w->shape[0] % groups == 0 &&
                  (!b || !b->data || (b->ndim == 1 && b->shape[0] == w->shape[0])),
              "conv1d weights: W [Cout, Cin/groups, k] (Cout a multiple of groups) and b [Cout] are required");
    out->cout = w->shape[0];
    out->cin = w->shape[1] * groups;
    out->taps = w->shape[2];
    out->groups = groups;
    if (c->device == LAVR_DEVICE_CPU) {
        out->w = *w;
        memset(w, 0, sizeof *w);
        if (b && b->data) {
            out->b = *b;
            memset(b, 0, sizeof *b);
        }
        return LAVR_OK;
    }
#if LAVR_HAVE_CUDA
    const lavr_status st = lavr_cuda_wop_conv_weights(c, w, b && b->data ? b : NULL, out);
    lavr_tensor_free(w);
    if (b) lavr_tensor_free(b);
    return st;
#else
    return LAVR_FAIL(LAVR_E_INTERNAL, "a CUDA context in a build without CUDA");
#endif
}

void lavr_wop_conv_free(lavr_ctx *c, lavr_wop_conv *w) {
    if (!w) return;
    lavr_ctx_free(c, &w->w);
    lavr_ctx_free(c, &w->b);
    lavr_ctx_conv_weights_free(c, &w->dense);
    memset(w, 0, sizeof *w);
}

lavr_status lavr_wop_conv1d(lavr_ctx *c, const lavr_tensor *x, const lavr_wop_conv *w, int64_t stride,
                            int64_t pad_left, int64_t pad_right, int round, lavr_tensor *y) {
    static const char op[] = "conv1d";
    TRY(check_rows(c, x, op, "input"));
    TRY(check_rows(c, y, op, "output"));
    TRY(check_round(c, round, op));
    CHECK_ARG(stride >= 1 && pad_left >= 0 && pad_right >= 0, "conv1d: stride %lld, padding %lld/%lld",
              (long long)stride, (long long)pad_left, (long long)pad_right);
    const int64_t span = pad_left + x->shape[0] + pad_right;
    if (span < w->taps)
        return LAVR_FAIL(LAVR_E_INTERNAL, "conv1d: %lld input frames for %lld taps", (long long)span,
                         (long long)w->taps);
    TRY(check_dims(x, x->shape[0], w->cin, op, "input"));
    TRY(check_dims(y, (span - w->taps) / stride + 1, w->cout, op, "output"));
    ON_CUDA(c, lavr_cuda_wop_conv1d(c, x, w, stride, pad_left, pad_right, y));
    return lavr_cpu_wop_conv1d(x, w, stride, pad_left, pad_right, round, y);
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
    lavr_status st;
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
    return "the CPU's flash-style fold";
}

static lavr_status check_qkv(const lavr_ctx *c, const lavr_wop_attention *a, const lavr_tensor *q,
                             const lavr_tensor *k, const lavr_tensor *v) {
    static const char op[] = "attention";
    TRY(check_rows(c, q, op, "queries"));
    TRY(check_rows(c, k, op, "keys"));
    TRY(check_rows(c, v, op, "values"));
    const int64_t hd = a->heads * a->head_dim;
    if (q->shape[0] > a->max_rows || q->shape[1] != hd || k->shape[1] != hd || !lavr_tensor_same_shape(k, v))
        return LAVR_FAIL(LAVR_E_INTERNAL, "attention: queries [%lld, %lld] (at most %lld rows), keys and values "
                         "[n, %lld] are required", (long long)q->shape[0], (long long)q->shape[1],
                         (long long)a->max_rows, (long long)hd);
    return LAVR_OK;
}

lavr_status lavr_wop_attention_fold(lavr_ctx *c, lavr_wop_attention *a, const lavr_tensor *q, const lavr_tensor *k,
                                    const lavr_tensor *v, int first) {
    TRY(check_qkv(c, a, q, k, v));
    if (!first && q->shape[0] != a->rows)
        return LAVR_FAIL(LAVR_E_INTERNAL, "attention: a fold of %lld query rows into a run of %lld",
                         (long long)q->shape[0], (long long)a->rows);
    a->rows = q->shape[0];
    ON_CUDA(c, lavr_cuda_wop_attention_fold(c, a->cuda, q, k, v, first));
    return lavr_cpu_wop_attention_fold(a->cpu, q, k, v, a->heads, first);
}

lavr_status lavr_wop_attention_finish(lavr_ctx *c, lavr_wop_attention *a, int round, lavr_tensor *out) {
    TRY(check_rows(c, out, "attention", "output"));
    TRY(check_round(c, round, "attention"));
    TRY(check_dims(out, a->rows, a->heads * a->head_dim, "attention", "output"));
    ON_CUDA(c, lavr_cuda_wop_attention_finish(c, a->cuda, out));
    return lavr_cpu_wop_attention_finish(a->cpu, round, out);
}

lavr_status lavr_wop_attention_all(lavr_ctx *c, lavr_wop_attention *a, const lavr_tensor *q, const lavr_tensor *k,
                                   const lavr_tensor *v, int round, lavr_tensor *out) {
    TRY(check_qkv(c, a, q, k, v));
    const float scale = (float)(1.0 / sqrt((double)a->head_dim));
#if LAVR_HAVE_CUDA
    if (c->device == LAVR_DEVICE_CUDA && lavr_cuda_wop_attention_has_sdpa(a->cuda)) {
        TRY(check_rows(c, out, "attention", "output"));
        TRY(check_dims(out, q->shape[0], q->shape[1], "attention", "output"));
        return lavr_cuda_wop_attention_all(c, a->cuda, q, k, v, out);
    }
#endif
    return lavr_rop_attention(c, q, k, v, a->heads, scale, NULL, round, out);
}
