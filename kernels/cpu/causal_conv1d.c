/* CPU reference of lavr_op_causal_conv1d (the DiT audio encoder's causal convolutions): the K taps of
 * every output frame gathered with frame 0 repeated on the left, then one lavr_op_linear. */
#include <stdlib.h>

#include "kernels/cpu/helpers.h"
#include "kernels/ops.h"

lavr_status lavr_op_causal_conv1d(const float *x, int64_t T, int64_t cin, const lavr_tensor *w, const lavr_tensor *b,
                                  int64_t stride, float *y, int64_t *tout) {
    char buf[96];
    TRY(check_float_tensor(w, "causal conv1d weight"));
    CHECK_ARG(x && y && tout && T > 0 && cin > 0 && stride >= 1,
              "causal conv1d: bad arguments (T=%lld, cin=%lld, stride=%lld)", (long long)T, (long long)cin,
              (long long)stride);
    CHECK_ARG(w->ndim == 3 && w->shape[1] == cin, "causal conv1d: weight %s is not [cout, %lld, K]",
              lavr_tensor_describe(w, buf, (int)sizeof buf), (long long)cin);
    const int64_t K = w->shape[2], n = (T - 1) / stride + 1;
    float *cols = malloc((size_t)(n * cin * K) * sizeof(float));
    if (!cols) return LAVR_FAIL(LAVR_E_NOMEM, "causal conv1d: %lld x %lld taps", (long long)n, (long long)(cin * K));
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < n; t++)
        for (int64_t c = 0; c < cin; c++)
            for (int64_t k = 0; k < K; k++) {
                const int64_t src = t * stride + k - (K - 1);
                cols[(t * cin + c) * K + k] = x[(src < 0 ? 0 : src) * cin + c];
            }
    lavr_status st = lavr_op_linear(cols, n, cin * K, w, b, y);
    free(cols);
    *tout = n;
    return st;
}
