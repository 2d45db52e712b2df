/* The DiT's recurring numeric steps at LiveAvatar's rounding points: bf16-output GEMMs, the q/k
 * RMSNorm with its bf16 gain product (and their tensor-parallel forms), checked scratch allocation. */
#include <math.h>
#include <stdlib.h>

#include "core/dtype.h"
#include "kernels/ops.h"
#include "models/dit_internal.h"

lavr_status dit_linear_bf16(const float *x, int64_t M, int64_t K, const lavr_dit_linear *l, float *y) {
    TRY(lavr_op_linear(x, M, K, &l->w, l->b.data ? &l->b : NULL, y));
    lavr_op_round_bf16(y, M * l->w.shape[0]);
    return LAVR_OK;
}

/* x *= gain, each product in bf16 after the normalised value is rounded to bf16 */
static lavr_status apply_gain(float *x, int64_t rows, int64_t cols, const lavr_tensor *gain) {
    float *g;
    TRY(dit_alloc(cols, "rms gain", &g));
    for (int64_t i = 0; i < cols; i++) g[i] = (float)lavr_dtype_load(gain->dtype, gain->data, i);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *v = x + r * cols;
        /* WanRMSNorm: the normalised value is cast back to bf16, then multiplied by the gain in bf16 */
        for (int64_t i = 0; i < cols; i++) v[i] = lavr_round_bf16(lavr_round_bf16(v[i]) * g[i]);
    }
    free(g);
    return LAVR_OK;
}

lavr_status dit_rms_gain(float *x, int64_t rows, int64_t cols, const lavr_tensor *gain, double eps) {
    TRY(lavr_op_rmsnorm(x, rows, cols, (float)eps, x));
    return apply_gain(x, rows, cols, gain);
}

lavr_status dit_rms_gain_tp(const lavr_dit *m, float *x, int64_t rows, int64_t cols, const lavr_tensor *gain) {
    const lavr_dit_tp *tp = &m->shard.tp;
    if (tp->size == 1) return dit_rms_gain(x, rows, cols, gain, m->cfg.eps);
    const int64_t full = cols * tp->size;
    float *ss;
    TRY(dit_alloc(rows, "rms sums of squares", &ss));
    /* the local sum in double like lavr_op_rmsnorm, exchanged as fp32 (one value per row) */
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        double sq = 0;
        for (int64_t i = 0; i < cols; i++) sq += (double)x[r * cols + i] * x[r * cols + i];
        ss[r] = (float)sq;
    }
    lavr_status st = tp->allreduce_sum(tp->ctx, ss, rows);
    if (!st) {
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            const float inv = (float)(1.0 / sqrt((double)ss[r] / (double)full + (double)(float)m->cfg.eps));
            for (int64_t i = 0; i < cols; i++) x[r * cols + i] *= inv;
        }
        st = apply_gain(x, rows, cols, gain);
    }
    free(ss);
    return st;
}

lavr_status dit_linear_reduce_bf16(const lavr_dit *m, const float *x, int64_t M, int64_t K, const lavr_dit_linear *l,
                                   float *y) {
    const lavr_dit_tp *tp = &m->shard.tp;
    if (tp->size == 1) return dit_linear_bf16(x, M, K, l, y);
    const int64_t N = l->w.shape[0];
    /* partial products of this rank's input columns; the bias joins once, after the sum */
    TRY(lavr_op_linear(x, M, K, &l->w, NULL, y));
    TRY(tp->allreduce_sum(tp->ctx, y, M * N));
    float *b;
    TRY(dit_alloc(N, "bias", &b));
    for (int64_t i = 0; i < N; i++) b[i] = (float)lavr_dtype_load(l->b.dtype, l->b.data, i);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < M; r++)
        for (int64_t i = 0; i < N; i++) y[r * N + i] = lavr_round_bf16(y[r * N + i] + b[i]);
    free(b);
    return LAVR_OK;
}

lavr_status dit_alloc(int64_t n, const char *what, float **out) {
    *out = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!*out) return LAVR_FAIL(LAVR_E_NOMEM, "dit: cannot allocate %s (%lld floats)", what, (long long)n);
    return LAVR_OK;
}
