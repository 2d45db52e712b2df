/* CPU reference of wav2vec2's row ops (kernels/cpu/w2v_rows.h): fp32 over kernels/ops.h, each result rounded to
 * bf16 at the op's output when `round` (LiveAvatar's bf16 module), convolutions through channel-major
 * lavr_op_conv1d between transposes. */
#include "kernels/cpu/w2v_rows.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"

static float *rows_of(const lavr_tensor *t) { return t->data; }

static void maybe_round(int round, float *x, int64_t n) {
    if (round) lavr_op_round_bf16(x, n);
}

/* Moves src into dst, bf16-rounding F32 values in place when round (BF16 is already; other dtypes are widened to
 * F32 first). */
static lavr_status take(lavr_tensor *src, int round, lavr_tensor *dst) {
    if (round && src->dtype != LAVR_BF16) {
        if (src->dtype != LAVR_F32) {
            lavr_tensor wide;
            TRY(lavr_tensor_alloc(src->owner, LAVR_F32, src->ndim, src->shape, "wav2vec2 weights", &wide));
            TRY(lavr_tensor_copy(&wide, src));
            lavr_tensor_free(src);
            *src = wide;
        }
        lavr_op_round_bf16(src->data, lavr_tensor_numel(src));
    }
    *dst = *src;
    memset(src, 0, sizeof *src);
    return LAVR_OK;
}

lavr_status lavr_cpu_wop_weights(lavr_tensor *w, lavr_tensor *b, int round, lavr_wop_weights *out) {
    TRY(take(w, round, &out->w));
    if (b && b->data) TRY(take(b, round, &out->b));
    return LAVR_OK;
}

lavr_status lavr_cpu_wop_linear(const lavr_tensor *x, const lavr_wop_weights *w, int round, lavr_tensor *y) {
    TRY(lavr_op_linear(rows_of(x), x->shape[0], w->k, &w->w, w->b.data ? &w->b : NULL, rows_of(y)));
    maybe_round(round, rows_of(y), lavr_tensor_numel(y));
    return LAVR_OK;
}

lavr_status lavr_cpu_wop_layernorm(const lavr_tensor *x, const lavr_tensor *gamma, const lavr_tensor *beta, float eps,
                                   int round, lavr_tensor *y) {
    TRY(lavr_op_layernorm(rows_of(x), x->shape[0], x->shape[1], gamma, beta, eps, rows_of(y)));
    maybe_round(round, rows_of(y), lavr_tensor_numel(y));
    return LAVR_OK;
}

lavr_status lavr_cpu_wop_gelu(const lavr_tensor *x, int round, lavr_tensor *y) {
    lavr_op_gelu_erf(rows_of(x), lavr_tensor_numel(x), rows_of(y));
    maybe_round(round, rows_of(y), lavr_tensor_numel(y));
    return LAVR_OK;
}

lavr_status lavr_cpu_wop_add(const lavr_tensor *a, const lavr_tensor *b, int round, lavr_tensor *y) {
    const float *pa = rows_of(a), *pb = rows_of(b);
    float *py = rows_of(y);
    const int64_t n = lavr_tensor_numel(a);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) py[i] = round ? lavr_round_bf16(pa[i] + pb[i]) : pa[i] + pb[i];
    return LAVR_OK;
}

/* y[c, r] = x[r, c] for x [rows, cols]. */
static void transpose(const float *x, int64_t rows, int64_t cols, float *y) {
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < cols; c++)
        for (int64_t r = 0; r < rows; r++) y[c * rows + r] = x[r * cols + c];
}

lavr_status lavr_cpu_wop_conv1d(const lavr_tensor *x, const lavr_wop_weights *w, int64_t stride, int64_t pad_left,
                                int64_t pad_right, int round, lavr_tensor *y) {
    const int64_t tin = x->shape[0], tout = y->shape[0];
    float *cm_in = malloc((size_t)(tin * w->cin) * sizeof(float));
    float *cm_out = malloc((size_t)(tout * w->cout) * sizeof(float));
    lavr_status st = LAVR_OK;
    if (!cm_in || !cm_out) {
        st = LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for a conv1d tile (%lld -> %lld frames)", (long long)tin,
                       (long long)tout);
        goto done;
    }
    transpose(rows_of(x), tin, w->cin, cm_in);
    const lavr_tensor *bias = w->b.data ? &w->b : NULL;
    int64_t got = 0;
    /* bf16: PyTorch rounds the convolution, then adds the bias as its own rounded op */
    TRY_GOTO(lavr_op_conv1d(cm_in, w->cin, tin, &w->w, round ? NULL : bias, stride, pad_left, pad_right, w->groups,
                            cm_out, &got), st, done);
    if (got != tout) {
        st = LAVR_FAIL(LAVR_E_INTERNAL, "conv1d gave %lld frames, expected %lld", (long long)got, (long long)tout);
        goto done;
    }
    if (round) {
        const float *b = bias ? bias->data : NULL;
#pragma omp parallel for schedule(static)
        for (int64_t c = 0; c < w->cout; c++)
            for (int64_t t = 0; t < tout; t++) {
                const float v = lavr_round_bf16(cm_out[c * tout + t]);
                cm_out[c * tout + t] = b ? lavr_round_bf16(v + b[c]) : v;
            }
    }
    transpose(cm_out, w->cout, tout, rows_of(y));
done:
    free(cm_in);
    free(cm_out);
    return st;
}

lavr_status lavr_cpu_wop_attention_fold(lavr_attention_state *st, const lavr_tensor *q, const lavr_tensor *k,
                                        const lavr_tensor *v, int64_t heads, int first) {
    const int64_t hd = q->shape[1], d = hd / heads;
    if (first) lavr_attention_state_reset(st, q->shape[0]);
    const lavr_kv_segment seg = {.dtype = LAVR_F32, .k = k->data, .v = v->data, .len = k->shape[0], .row_stride = hd};
    return lavr_op_attention_fold(rows_of(q), hd, &seg, 1, (float)(1.0 / sqrt((double)d)), st);
}

lavr_status lavr_cpu_wop_attention_finish(lavr_attention_state *st, int round, lavr_tensor *out) {
    lavr_op_attention_finish(st, rows_of(out));
    maybe_round(round, rows_of(out), lavr_tensor_numel(out));
    return LAVR_OK;
}
