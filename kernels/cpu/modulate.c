/* CPU reference of the DiT block's modulated LayerNorm and gated residual (model-spec §1.7; the
 * rounding points of LiveAvatar's bf16 block), the twins of kernels/cuda/norm.cu and elementwise.cu. */
#include "core/dtype.h"
#include "kernels/ops.h"

lavr_status lavr_op_modulated_layernorm(const float *x, int64_t rows, int64_t cols, float eps, int round_ln,
                                        const float *shift, const float *scale, float *y) {
    CHECK_ARG(rows >= 0 && cols > 0 && (rows == 0 || (x && y && shift && scale)),
              "modulated_layernorm: bad arguments (rows=%lld, cols=%lld)", (long long)rows, (long long)cols);
    TRY(lavr_op_layernorm(x, rows, cols, NULL, NULL, eps, y));
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        float *v = y + r * cols;
        for (int64_t i = 0; i < cols; i++) {
            const float n = round_ln ? lavr_round_bf16(v[i]) : v[i];
            v[i] = lavr_round_bf16(n * (1.0f + scale[i]) + shift[i]);
        }
    }
    return LAVR_OK;
}

void lavr_op_gated_residual(const float *x, const float *y, const float *gate, int64_t rows, int64_t cols,
                            int round_bf16, float *out) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < cols; i++) {
            const float v = x[r * cols + i] + y[r * cols + i] * gate[i];
            out[r * cols + i] = round_bf16 ? lavr_round_bf16(v) : v;
        }
}
