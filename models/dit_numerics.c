/* The DiT's recurring numeric steps at LiveAvatar's rounding points: bf16-output GEMMs, the q/k
 * RMSNorm with its bf16 gain product, and checked scratch allocation. */
#include <stdlib.h>

#include "core/dtype.h"
#include "kernels/ops.h"
#include "models/dit_internal.h"

lavr_status dit_linear_bf16(const float *x, int64_t M, int64_t K, const lavr_dit_linear *l, float *y) {
    TRY(lavr_op_linear(x, M, K, &l->w, l->b.data ? &l->b : NULL, y));
    lavr_op_round_bf16(y, M * l->w.shape[0]);
    return LAVR_OK;
}

lavr_status dit_rms_gain(float *x, int64_t rows, int64_t cols, const lavr_tensor *gain, double eps) {
    TRY(lavr_op_rmsnorm(x, rows, cols, (float)eps, x));
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

lavr_status dit_alloc(int64_t n, const char *what, float **out) {
    *out = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!*out) return LAVR_FAIL(LAVR_E_NOMEM, "dit: cannot allocate %s (%lld floats)", what, (long long)n);
    return LAVR_OK;
}
