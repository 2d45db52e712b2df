/* Tests of the DiT block ops lavr_op_modulated_layernorm, lavr_op_gated_residual and
 * lavr_op_causal_conv1d against double-precision loops (bf16 results within one bf16 step). */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "kernels/ops.h"

static uint64_t stream_no = 0;

static float *random_floats(int64_t n, float scale, float shift) {
    float *v = malloc((size_t)n * sizeof(float));
    lavr_rng_normal(11, lavr_rng_stream(LAVR_STREAM_TEST, 8, 0, 0) + stream_no++, 0, n, v);
    for (int64_t i = 0; i < n; i++) v[i] = v[i] * scale + shift;
    return v;
}

/* got is want rounded to bf16: within half a bf16 spacing (<= |want| / 256), plus fp32 slack */
static int within_bf16(float got, double want) {
    return isfinite(got) && fabs(got - want) <= fabs(want) / 256.0 * 1.01 + 1e-6;
}

static void test_modulated_layernorm(int round_ln) {
    const int64_t rows = 9, cols = 640;
    float *x = random_floats(rows * cols, 0.7f, 2.0f), *shift = random_floats(cols, 0.3f, 0.0f),
          *scale = random_floats(cols, 0.3f, 0.0f), *y = malloc((size_t)(rows * cols) * sizeof(float));
    for (int64_t i = 0; i < rows * cols; i++) y[i] = NAN;
    CHECK_OK(lavr_op_modulated_layernorm(x, rows, cols, 1e-6f, round_ln, shift, scale, y));
    int64_t bad = 0;
    for (int64_t r = 0; r < rows; r++) {
        double mean = 0, var = 0;
        for (int64_t c = 0; c < cols; c++) mean += x[r * cols + c];
        mean /= (double)cols;
        for (int64_t c = 0; c < cols; c++) var += (x[r * cols + c] - mean) * (x[r * cols + c] - mean);
        var /= (double)cols;
        for (int64_t c = 0; c < cols; c++) {
            double n = (x[r * cols + c] - mean) / sqrt(var + 1e-6);
            if (round_ln) n = lavr_round_bf16((float)n);
            const double want = n * (1.0 + scale[c]) + shift[c];
            /* half a bf16 step for the final rounding; with round_ln the fp32 LN may round n one bf16
             * step away from the double one (near a tie), which moves the result by |n (1 + scale)| / 128 */
            const double slack = round_ln ? fabs(n * (1.0 + scale[c])) / 128.0 : 0.0;
            const float got = y[r * cols + c];
            bad += !(isfinite(got) && fabs(got - want) <= fabs(want) / 256.0 * 1.01 + slack + 1e-6);
        }
    }
    CHECK_MSG(bad == 0, "modulated layernorm (round_ln %d): %lld elements off", round_ln, (long long)bad);
    /* in place gives the same result */
    CHECK_OK(lavr_op_modulated_layernorm(x, rows, cols, 1e-6f, round_ln, shift, scale, x));
    int64_t differ = 0;
    for (int64_t i = 0; i < rows * cols; i++) differ += x[i] != y[i];
    CHECK(differ == 0);
    free(x);
    free(shift);
    free(scale);
    free(y);
}

static void test_gated_residual(void) {
    const int64_t rows = 7, cols = 300, n = rows * cols;
    float *x = random_floats(n, 1.0f, 0.0f), *y = random_floats(n, 1.0f, 0.0f), *g = random_floats(cols, 0.5f, 0.0f);
    float *out = malloc((size_t)n * sizeof(float));
    for (int round = 0; round < 2; round++) {
        lavr_op_gated_residual(x, y, g, rows, cols, round, out);
        int64_t bad = 0;
        for (int64_t i = 0; i < n; i++) {
            const double want = (double)x[i] + (double)y[i] * g[i % cols];
            bad += round ? !within_bf16(out[i], want) : !(fabs(out[i] - want) <= 1e-6 * (1 + fabs(want)));
        }
        CHECK_MSG(bad == 0, "gated residual (round %d): %lld elements off", round, (long long)bad);
    }
    free(x);
    free(y);
    free(g);
    free(out);
}

static void test_causal_conv1d(int64_t T, int64_t cin, int64_t cout, int64_t K, int64_t stride) {
    const int64_t wshape[3] = {cout, cin, K}, bshape[1] = {cout};
    float *x = random_floats(T * cin, 1.0f, 0.0f), *wf = random_floats(cout * cin * K, 0.2f, 0.0f),
          *bf = random_floats(cout, 0.5f, 0.0f);
    lavr_tensor w = lavr_tensor_wrap(LAVR_F32, 3, wshape, wf), b = lavr_tensor_wrap(LAVR_F32, 1, bshape, bf);
    const int64_t n = (T - 1) / stride + 1;
    float *y = malloc((size_t)(n * cout) * sizeof(float));
    for (int64_t i = 0; i < n * cout; i++) y[i] = NAN;
    int64_t tout = -1;
    CHECK_OK(lavr_op_causal_conv1d(x, T, cin, &w, &b, stride, y, &tout));
    CHECK(tout == n);
    double worst = 0;
    for (int64_t t = 0; t < n; t++)
        for (int64_t co = 0; co < cout; co++) {
            double ref = bf[co], mag = fabs(ref);
            for (int64_t c = 0; c < cin; c++)
                for (int64_t k = 0; k < K; k++) {
                    int64_t src = t * stride + k - (K - 1);
                    if (src < 0) src = 0;
                    const double term = (double)wf[(co * cin + c) * K + k] * x[src * cin + c];
                    ref += term;
                    mag += fabs(term);
                }
            const double e = fabs(y[t * cout + co] - ref) / (mag + 1e-30);
            if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
        }
    CHECK_MSG(worst < 1e-5, "causal conv1d T=%lld stride %lld: relative error %.3g", (long long)T, (long long)stride,
              worst);
    free(x);
    free(wf);
    free(bf);
    free(y);
}

int main(void) {
    test_modulated_layernorm(0);
    test_modulated_layernorm(1);
    test_gated_residual();
    test_causal_conv1d(121, 24, 16, 3, 1);
    test_causal_conv1d(121, 16, 8, 3, 2);
    test_causal_conv1d(1, 5, 3, 3, 2);
    return check_summary("test_ops_dit");
}
