/* Tests lavr_op_linear against a double-precision loop for every weight dtype (f32, bf16, f16, fp8
 * e4m3), with and without bias, odd sizes and a 4-D weight; prints the observed GFLOP/s. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/rng.h"
#include "kernels/ops.h"

#include <omp.h>

/* A contiguous tensor of dtype dt holding random normals * amp (rounded to dt). */
static lavr_tensor random_tensor(lavr_dtype dt, int ndim, const int64_t *shape, uint64_t stream, float amp) {
    lavr_tensor t = lavr_tensor_wrap(dt, ndim, shape, NULL);
    int64_t n = lavr_tensor_numel(&t);
    float *tmp = malloc((size_t)n * sizeof(float));
    lavr_rng_normal(7, stream, 0, n, tmp);
    t.data = malloc((size_t)n * lavr_dtype_size(dt));
    for (int64_t i = 0; i < n; i++) lavr_dtype_store(dt, t.data, i, tmp[i] * amp);
    free(tmp);
    return t;
}

static float *random_floats(int64_t n, uint64_t stream) {
    float *v = malloc((size_t)n * sizeof(float));
    lavr_rng_normal(11, stream, 0, n, v);
    return v;
}

/* Max over outputs of |y - ref| / (sum_k |x w| + |b|): fp32 accumulation error relative to the
 * magnitude of the terms. */
static double linear_error(const float *x, int64_t M, int64_t K, const lavr_tensor *w, const lavr_tensor *b,
                           const float *y) {
    int64_t N = w->shape[0];
    double worst = 0;
    for (int64_t m = 0; m < M; m++) {
        for (int64_t n = 0; n < N; n++) {
            double ref = 0, mag = 0;
            for (int64_t k = 0; k < K; k++) {
                double term = (double)x[m * K + k] * lavr_dtype_load(w->dtype, w->data, n * K + k);
                ref += term;
                mag += fabs(term);
            }
            if (b) {
                double bv = lavr_dtype_load(b->dtype, b->data, n);
                ref += bv;
                mag += fabs(bv);
            }
            double err = fabs(y[m * N + n] - ref) / (mag + 1e-30);
            if (!(err <= worst)) worst = err; /* NaN propagates */
        }
    }
    return worst;
}

static void run_case(int64_t M, int64_t K, int64_t N, lavr_dtype wdt, lavr_dtype bdt, int with_bias, uint64_t s) {
    int64_t wshape[2] = {N, K}, bshape[1] = {N};
    lavr_tensor w = random_tensor(wdt, 2, wshape, s, wdt == LAVR_FP8_E4M3 ? 8.0f : 0.05f);
    lavr_tensor b = random_tensor(bdt, 1, bshape, s + 1, 0.5f);
    float *x = random_floats(M * K, s + 2);
    float *y = malloc((size_t)(M * N) * sizeof(float));
    for (int64_t i = 0; i < M * N; i++) y[i] = NAN;
    CHECK_OK(lavr_op_linear(x, M, K, &w, with_bias ? &b : NULL, y));
    double err = linear_error(x, M, K, &w, with_bias ? &b : NULL, y);
    CHECK_MSG(err <= 1e-5, "M=%lld K=%lld N=%lld w=%s bias=%d: rel err %g", (long long)M, (long long)K,
              (long long)N, lavr_dtype_name(wdt), with_bias, err);
    free(w.data);
    free(b.data);
    free(x);
    free(y);
}

int main(void) {
    const lavr_dtype wdts[4] = {LAVR_F32, LAVR_BF16, LAVR_F16, LAVR_FP8_E4M3};
    uint64_t s = lavr_rng_stream(LAVR_STREAM_TEST, 1, 0, 0);
    for (int d = 0; d < 4; d++) {
        run_case(1, 1, 1, wdts[d], LAVR_F32, 1, s += 8);
        run_case(1, 64, 33, wdts[d], LAVR_BF16, 0, s += 8);
        run_case(7, 129, 70, wdts[d], LAVR_BF16, 1, s += 8);
        run_case(133, 96, 35, wdts[d], LAVR_F32, 1, s += 8);   /* crosses TILE_M and TILE_N edges */
        run_case(3, 1000, 5, wdts[d], LAVR_F16, 0, s += 8);
    }
    run_case(300, 256, 260, LAVR_BF16, LAVR_BF16, 1, s += 8);

    /* a 4-D 1x1-convolution weight [N, K, 1, 1] flattens to [N, K] */
    {
        int64_t shape4[4] = {6, 10, 1, 1}, shape2[2] = {6, 10};
        lavr_tensor w4 = random_tensor(LAVR_BF16, 4, shape4, s += 8, 0.3f);
        lavr_tensor w2 = lavr_tensor_wrap(LAVR_BF16, 2, shape2, w4.data);
        float *x = random_floats(5 * 10, s + 3), y[30];
        for (int i = 0; i < 30; i++) y[i] = NAN;
        CHECK_OK(lavr_op_linear(x, 5, 10, &w4, NULL, y));
        CHECK(linear_error(x, 5, 10, &w2, NULL, y) <= 1e-5);
        /* wrong K, wrong bias length and integer weights are refused */
        CHECK_FAILS(lavr_op_linear(x, 5, 9, &w4, NULL, y), LAVR_E_ARG);
        int64_t bad[1] = {5};
        lavr_tensor bb = random_tensor(LAVR_F32, 1, bad, s + 4, 1.0f);
        CHECK_FAILS(lavr_op_linear(x, 5, 10, &w4, &bb, y), LAVR_E_ARG);
        lavr_tensor wi = lavr_tensor_wrap(LAVR_I32, 2, shape2, w4.data);
        CHECK_FAILS(lavr_op_linear(x, 5, 10, &wi, NULL, y), LAVR_E_ARG);
        free(bb.data);
        free(w4.data);
        free(x);
    }

    /* speed (not checked): bf16 weights, a DiT-like shape */
    {
        int64_t M = 256, K = 1024, N = 1024, wshape[2] = {N, K};
        lavr_tensor w = random_tensor(LAVR_BF16, 2, wshape, s += 8, 0.05f);
        float *x = random_floats(M * K, s + 1), *y = malloc((size_t)(M * N) * sizeof(float));
        double t0 = omp_get_wtime();
        CHECK_OK(lavr_op_linear(x, M, K, &w, NULL, y));
        double dt = omp_get_wtime() - t0;
        printf("linear bf16 %lldx%lldx%lld: %.3f s, %.2f GFLOP/s on %d threads\n", (long long)M, (long long)K,
               (long long)N, dt, 2.0 * M * K * N / dt * 1e-9, omp_get_max_threads());
        free(w.data);
        free(x);
        free(y);
    }
    return check_summary("test_ops_linear");
}
