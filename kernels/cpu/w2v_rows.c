/* CPU reference of wav2vec2's ops (kernels/cpu/w2v_rows.h): fp32 over kernels/ops.h, each result rounded to bf16 at
 * the op's output when `round` (LiveAvatar's bf16 module); the time-major convolutions run channel-major
 * lavr_op_conv1d between transposes, attention folds into lavr_attention_state. */
#include "kernels/cpu/w2v_rows.h"

#include <math.h>
#include <stdlib.h>

#include "core/dtype.h"

static float *rows_of(const lavr_tensor *t) { return t->data; }

static void maybe_round(int round, float *x, int64_t n) {
    if (round) lavr_op_round_bf16(x, n);
}

/* y[c, r] = x[r, c] for x [rows, cols]. */
static void transpose(const float *x, int64_t rows, int64_t cols, float *y) {
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < cols; c++)
        for (int64_t r = 0; r < rows; r++) y[c * rows + r] = x[r * cols + c];
}

lavr_status lavr_cpu_wop_conv1d(const lavr_tensor *x, const lavr_wop_conv *w, int64_t stride, int64_t pad_left,
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
#pragma omp parallel for schedule(static)
        for (int64_t c = 0; c < w->cout; c++) {
            const float b = bias ? (float)lavr_tensor_get_flat(bias, c) : 0.0f;
            for (int64_t t = 0; t < tout; t++) {
                const float v = lavr_round_bf16(cm_out[c * tout + t]);
                cm_out[c * tout + t] = bias ? lavr_round_bf16(v + b) : v;
            }
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
