/* Tests the CPU normalisations and element-wise ops against double-precision formulas: layernorm
 * (affine or not, bf16/f32 gamma/beta, in place), rmsnorm, l2norm_channels, GELU, SiLU, round_bf16. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/rng.h"
#include "kernels/ops.h"

static uint64_t stream_no = 100;

static float *random_floats(int64_t n, float amp, float offset) {
    float *v = malloc((size_t)n * sizeof(float));
    lavr_rng_normal(5, lavr_rng_stream(LAVR_STREAM_TEST, 2, 0, 0) + stream_no++, 0, n, v);
    for (int64_t i = 0; i < n; i++) v[i] = v[i] * amp + offset;
    return v;
}

static float *poisoned(int64_t n) {
    float *v = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) v[i] = NAN;
    return v;
}

/* |a - b| <= rel * max(|b|, 1) elementwise, NaN fails */
static int close_all(const float *a, const double *b, int64_t n, double rel) {
    for (int64_t i = 0; i < n; i++) {
        double tol = rel * (fabs(b[i]) > 1 ? fabs(b[i]) : 1);
        if (!(fabs(a[i] - b[i]) <= tol)) {
            fprintf(stderr, "  element %lld: %.9g vs %.9g\n", (long long)i, a[i], b[i]);
            return 0;
        }
    }
    return 1;
}

static void test_layernorm(int64_t rows, int64_t cols, lavr_dtype gdt, int affine, int in_place, float offset) {
    float *x = random_floats(rows * cols, 2.0f, offset);
    float *graw = random_floats(cols, 1.0f, 1.0f), *braw = random_floats(cols, 1.0f, 0.0f);
    lavr_tensor g = lavr_tensor_wrap(gdt, 1, &cols, malloc((size_t)cols * 4));
    lavr_tensor b = lavr_tensor_wrap(gdt, 1, &cols, malloc((size_t)cols * 4));
    for (int64_t c = 0; c < cols; c++) {
        lavr_dtype_store(gdt, g.data, c, graw[c]);
        lavr_dtype_store(gdt, b.data, c, braw[c]);
    }
    double *ref = malloc((size_t)(rows * cols) * sizeof(double));
    const float eps = 1e-6f;
    for (int64_t r = 0; r < rows; r++) {
        double mean = 0, var = 0;
        for (int64_t c = 0; c < cols; c++) mean += x[r * cols + c];
        mean /= cols;
        for (int64_t c = 0; c < cols; c++) var += (x[r * cols + c] - mean) * (x[r * cols + c] - mean);
        var /= cols;
        for (int64_t c = 0; c < cols; c++) {
            double v = (x[r * cols + c] - mean) / sqrt(var + eps);
            if (affine) v = v * lavr_dtype_load(gdt, g.data, c) + lavr_dtype_load(gdt, b.data, c);
            ref[r * cols + c] = v;
        }
    }
    float *y = in_place ? x : poisoned(rows * cols);
    CHECK_OK(lavr_op_layernorm(x, rows, cols, affine ? &g : NULL, affine ? &b : NULL, eps, y));
    CHECK_MSG(close_all(y, ref, rows * cols, 1e-5), "layernorm %lldx%lld affine=%d in_place=%d offset=%g",
              (long long)rows, (long long)cols, affine, in_place, offset);
    if (!in_place) free(y);
    free(x);
    free(graw);
    free(braw);
    free(g.data);
    free(b.data);
    free(ref);
}

static void test_rmsnorm(int64_t rows, int64_t cols, int in_place) {
    float *x = random_floats(rows * cols, 3.0f, 0.5f);
    double *ref = malloc((size_t)(rows * cols) * sizeof(double));
    const float eps = 1e-6f;
    for (int64_t r = 0; r < rows; r++) {
        double ms = 0;
        for (int64_t c = 0; c < cols; c++) ms += (double)x[r * cols + c] * x[r * cols + c];
        ms /= cols;
        for (int64_t c = 0; c < cols; c++) ref[r * cols + c] = x[r * cols + c] / sqrt(ms + eps);
    }
    float *y = in_place ? x : poisoned(rows * cols);
    CHECK_OK(lavr_op_rmsnorm(x, rows, cols, eps, y));
    CHECK_MSG(close_all(y, ref, rows * cols, 1e-5), "rmsnorm %lldx%lld", (long long)rows, (long long)cols);
    if (!in_place) free(y);
    free(x);
    free(ref);
}

static void test_l2norm(int64_t channels, int64_t n, int in_place) {
    float *x = random_floats(channels * n, 1.0f, 0.0f);
    x[0 * n + 0] = 0; /* column 0 all zero: divided by eps, stays 0 */
    for (int64_t c = 0; c < channels; c++) x[c * n + 0] = 0;
    const float eps = 1e-12f;
    double *ref = malloc((size_t)(channels * n) * sizeof(double));
    for (int64_t j = 0; j < n; j++) {
        double sq = 0;
        for (int64_t c = 0; c < channels; c++) sq += (double)x[c * n + j] * x[c * n + j];
        double d = sqrt(sq) > eps ? sqrt(sq) : eps;
        for (int64_t c = 0; c < channels; c++) ref[c * n + j] = x[c * n + j] / d;
    }
    float *y = in_place ? x : poisoned(channels * n);
    CHECK_OK(lavr_op_l2norm_channels(x, channels, n, eps, y));
    CHECK_MSG(close_all(y, ref, channels * n, 1e-6), "l2norm %lldx%lld", (long long)channels, (long long)n);
    if (!in_place) free(y);
    free(x);
    free(ref);
}

static void test_elementwise(void) {
    const int64_t n = 40000; /* above the parallel threshold */
    float *x = random_floats(n, 4.0f, 0.0f);
    x[0] = -100.0f; x[1] = 100.0f; x[2] = 0.0f; x[3] = -20.0f;
    double *ref = malloc((size_t)n * sizeof(double));
    float *y = poisoned(n);

    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        ref[i] = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    }
    lavr_op_gelu_tanh(x, n, y);
    CHECK_MSG(close_all(y, ref, n, 2e-6), "gelu_tanh");

    for (int64_t i = 0; i < n; i++) ref[i] = 0.5 * x[i] * (1 + erf(x[i] / sqrt(2.0)));
    for (int64_t i = 0; i < n; i++) y[i] = NAN;
    lavr_op_gelu_erf(x, n, y);
    CHECK_MSG(close_all(y, ref, n, 2e-6), "gelu_erf");

    for (int64_t i = 0; i < n; i++) ref[i] = x[i] / (1 + exp(-(double)x[i]));
    for (int64_t i = 0; i < n; i++) y[i] = NAN;
    lavr_op_silu(x, n, y);
    CHECK_MSG(close_all(y, ref, n, 2e-6), "silu");

    /* in place */
    memcpy(y, x, (size_t)n * sizeof(float));
    lavr_op_silu(y, n, y);
    CHECK_MSG(close_all(y, ref, n, 2e-6), "silu in place");

    /* round_bf16: the result is a bf16 value, within half a bf16 ulp (2^-8 relative), ties to even */
    memcpy(y, x, (size_t)n * sizeof(float));
    y[4] = 1.0f + 0x1p-8f;           /* tie between 1 and 1+2^-7: even is 1 */
    y[5] = 1.0f + 3 * 0x1p-8f;       /* tie between 1+2^-7 and 1+2^-6: even is 1+2^-6 */
    lavr_op_round_bf16(y, n);
    int ok = 1;
    for (int64_t i = 6; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &y[i], 4);
        if ((bits & 0xffffu) != 0 || !(fabs((double)y[i] - x[i]) <= fabs((double)x[i]) * 0x1p-8)) ok = 0;
    }
    CHECK(ok);
    CHECK(y[4] == 1.0f);
    CHECK(y[5] == 1.0f + 0x1p-6f);
    free(x);
    free(y);
    free(ref);
}

int main(void) {
    test_layernorm(1, 1, LAVR_F32, 1, 0, 0.0f);
    test_layernorm(5, 37, LAVR_BF16, 1, 0, 0.0f);
    test_layernorm(17, 512, LAVR_F32, 0, 1, 0.0f);
    test_layernorm(9, 1280, LAVR_BF16, 1, 1, 0.0f);
    test_layernorm(4, 300, LAVR_F16, 1, 0, 100.0f); /* |mean| >> std */
    /* gamma only (no beta) */
    {
        int64_t cols = 8;
        float x[16], y[16], gv[8];
        for (int i = 0; i < 16; i++) x[i] = (float)(i * i % 7);
        for (int i = 0; i < 8; i++) gv[i] = 0.5f * i;
        lavr_tensor g = lavr_tensor_wrap(LAVR_F32, 1, &cols, gv);
        CHECK_OK(lavr_op_layernorm(x, 2, 8, &g, NULL, 1e-5f, y));
        double mean = 0, var = 0;
        for (int c = 0; c < 8; c++) mean += x[8 + c] / 8.0;
        for (int c = 0; c < 8; c++) var += (x[8 + c] - mean) * (x[8 + c] - mean) / 8.0;
        CHECK_NEAR(y[8 + 5], (x[8 + 5] - mean) / sqrt(var + 1e-5) * 2.5, 1e-5);
        int64_t wrong = 7;
        lavr_tensor gw = lavr_tensor_wrap(LAVR_F32, 1, &wrong, gv);
        CHECK_FAILS(lavr_op_layernorm(x, 2, 8, &gw, NULL, 1e-5f, y), LAVR_E_ARG);
    }
    test_rmsnorm(1, 1, 0);
    test_rmsnorm(13, 128, 0);
    test_rmsnorm(6, 4096, 1);
    test_l2norm(16, 1, 0);
    test_l2norm(96, 3072 + 17, 0);
    test_l2norm(3, 700, 1);
    test_elementwise();
    return check_summary("test_ops_norm");
}
