/* Tests lavr_op_conv1d and lavr_op_conv3d against direct double-precision loops: strides, groups,
 * asymmetric and oversized zero padding, 4-D (kt = 1) weights, bf16/f16/fp8 weights, bias or none. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "check.h"
#include "core/rng.h"
#include "kernels/ops.h"

static uint64_t stream_no = 0;

static float *random_floats(int64_t n) {
    float *v = malloc((size_t)n * sizeof(float));
    lavr_rng_normal(9, lavr_rng_stream(LAVR_STREAM_TEST, 4, 0, 0) + stream_no++, 0, n, v);
    return v;
}

static lavr_tensor random_tensor(lavr_dtype dt, int ndim, const int64_t *shape, float amp) {
    lavr_tensor t = lavr_tensor_wrap(dt, ndim, shape, NULL);
    int64_t n = lavr_tensor_numel(&t);
    float *v = random_floats(n);
    t.data = malloc((size_t)n * lavr_dtype_size(dt));
    for (int64_t i = 0; i < n; i++) lavr_dtype_store(dt, t.data, i, v[i] * amp);
    free(v);
    return t;
}

static float *poisoned(int64_t n) {
    float *v = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) v[i] = NAN;
    return v;
}

static void conv1d_case(int64_t cin, int64_t t, int64_t cout, int64_t K, int64_t stride, int64_t pl, int64_t pr,
                        int64_t groups, lavr_dtype wdt, int with_bias) {
    int64_t wshape[3] = {cout, cin / groups, K}, bshape[1] = {cout};
    lavr_tensor w = random_tensor(wdt, 3, wshape, wdt == LAVR_FP8_E4M3 ? 4.0f : 0.2f);
    lavr_tensor b = random_tensor(LAVR_BF16, 1, bshape, 1.0f);
    float *x = random_floats(cin * t);
    const int64_t expect_tout = (t + pl + pr - K) / stride + 1;
    float *y = poisoned(cout * expect_tout);
    int64_t tout = -1;
    CHECK_OK(lavr_op_conv1d(x, cin, t, &w, with_bias ? &b : NULL, stride, pl, pr, groups, y, &tout));
    CHECK(tout == expect_tout);
    const int64_t cpg = cin / groups, opg = cout / groups;
    double worst = 0;
    for (int64_t co = 0; co < cout; co++) {
        for (int64_t o = 0; o < expect_tout; o++) {
            double ref = with_bias ? lavr_dtype_load(b.dtype, b.data, co) : 0, mag = fabs(ref);
            for (int64_t ci = 0; ci < cpg; ci++) {
                for (int64_t k = 0; k < K; k++) {
                    int64_t i = o * stride + k - pl;
                    if (i < 0 || i >= t) continue;
                    double term = lavr_dtype_load(wdt, w.data, (co * cpg + ci) * K + k) * x[((co / opg) * cpg + ci) * t + i];
                    ref += term;
                    mag += fabs(term);
                }
            }
            double e = fabs(y[co * expect_tout + o] - ref) / (mag + 1e-30);
            if (!(e <= worst)) worst = e;
        }
    }
    CHECK_MSG(worst <= 1e-5, "conv1d cin=%lld t=%lld cout=%lld K=%lld stride=%lld pad=%lld,%lld groups=%lld: err %g",
              (long long)cin, (long long)t, (long long)cout, (long long)K, (long long)stride, (long long)pl,
              (long long)pr, (long long)groups, worst);
    free(w.data);
    free(b.data);
    free(x);
    free(y);
}

/* kdims = (kt, kh, kw); weight_4d passes [Cout, Cin, kh, kw] (kt must be 1) */
static void conv3d_case(int64_t cin, const int64_t in[3], int64_t cout, const int64_t kd[3], const int64_t st[3],
                        const int64_t pad[6], lavr_dtype wdt, int with_bias, int weight_4d) {
    int64_t w5[5] = {cout, cin, kd[0], kd[1], kd[2]}, w4[4] = {cout, cin, kd[1], kd[2]}, bshape[1] = {cout};
    lavr_tensor w = weight_4d ? random_tensor(wdt, 4, w4, 0.2f) : random_tensor(wdt, 5, w5, 0.2f);
    lavr_tensor b = random_tensor(LAVR_F32, 1, bshape, 1.0f);
    float *x = random_floats(cin * in[0] * in[1] * in[2]);
    int64_t od[3];
    for (int i = 0; i < 3; i++) od[i] = (in[i] + pad[2 * i] + pad[2 * i + 1] - kd[i]) / st[i] + 1;
    const int64_t plane = od[0] * od[1] * od[2];
    float *y = poisoned(cout * plane);
    int64_t got[3] = {-1, -1, -1};
    CHECK_OK(lavr_op_conv3d(x, cin, in[0], in[1], in[2], &w, with_bias ? &b : NULL, st, pad, y, got));
    CHECK(got[0] == od[0] && got[1] == od[1] && got[2] == od[2]);
    double worst = 0;
    for (int64_t co = 0; co < cout; co++)
        for (int64_t ot = 0; ot < od[0]; ot++)
            for (int64_t oh = 0; oh < od[1]; oh++)
                for (int64_t ow = 0; ow < od[2]; ow++) {
                    double ref = with_bias ? ((float *)b.data)[co] : 0, mag = fabs(ref);
                    for (int64_t ci = 0; ci < cin; ci++)
                        for (int64_t a = 0; a < kd[0]; a++)
                            for (int64_t c = 0; c < kd[1]; c++)
                                for (int64_t e = 0; e < kd[2]; e++) {
                                    int64_t ti = ot * st[0] + a - pad[0], hi = oh * st[1] + c - pad[2],
                                            wi = ow * st[2] + e - pad[4];
                                    if (ti < 0 || ti >= in[0] || hi < 0 || hi >= in[1] || wi < 0 || wi >= in[2])
                                        continue;
                                    double term = lavr_dtype_load(wdt, w.data, (((co * cin + ci) * kd[0] + a) * kd[1] + c) * kd[2] + e) *
                                                  x[((ci * in[0] + ti) * in[1] + hi) * in[2] + wi];
                                    ref += term;
                                    mag += fabs(term);
                                }
                    double err = fabs(y[((co * od[0] + ot) * od[1] + oh) * od[2] + ow] - ref) / (mag + 1e-30);
                    if (!(err <= worst)) worst = err;
                }
    CHECK_MSG(worst <= 1e-5, "conv3d cin=%lld in=%lldx%lldx%lld k=%lldx%lldx%lld stride=%lld,%lld,%lld: err %g",
              (long long)cin, (long long)in[0], (long long)in[1], (long long)in[2], (long long)kd[0],
              (long long)kd[1], (long long)kd[2], (long long)st[0], (long long)st[1], (long long)st[2], worst);
    free(w.data);
    free(b.data);
    free(x);
    free(y);
}

int main(void) {
    /* wav2vec2 feature extractor layer 0 (1 -> C, kernel 10, stride 5) and later layers (kernel 3/2, stride 2) */
    conv1d_case(1, 403, 8, 10, 5, 0, 0, 1, LAVR_BF16, 0);
    conv1d_case(16, 81, 12, 3, 2, 0, 0, 1, LAVR_F32, 1);
    conv1d_case(16, 40, 16, 2, 2, 0, 0, 1, LAVR_F16, 1);
    /* positional conv: kernel 128, 16 groups, pad 64 both sides -> T + 1 outputs */
    conv1d_case(32, 50, 32, 128, 1, 64, 64, 16, LAVR_F32, 1);
    conv1d_case(48, 7, 64, 128, 1, 64, 64, 16, LAVR_BF16, 1);
    /* asymmetric padding, groups, fp8, padding wider than the kernel, kernel == padded length */
    conv1d_case(6, 11, 4, 3, 2, 2, 0, 2, LAVR_FP8_E4M3, 1);
    conv1d_case(3, 5, 3, 2, 3, 4, 5, 3, LAVR_BF16, 1);
    conv1d_case(2, 4, 1, 6, 1, 1, 1, 1, LAVR_F32, 0);

    {
        const int64_t in1[3] = {4, 9, 11}, k333[3] = {3, 3, 3}, s111[3] = {1, 1, 1};
        const int64_t causal[6] = {2, 0, 1, 1, 1, 1}; /* Wan CausalConv3d: all time padding in front */
        conv3d_case(3, in1, 5, k333, s111, causal, LAVR_BF16, 1, 0);
        conv3d_case(4, in1, 2, k333, s111, causal, LAVR_F32, 0, 0);
        /* spatial downsample: ZeroPad2d(0,1,0,1) then 3x3 stride 2, 4-D weight */
        const int64_t k133[3] = {1, 3, 3}, s122[3] = {1, 2, 2}, down[6] = {0, 0, 0, 1, 0, 1};
        conv3d_case(3, in1, 4, k133, s122, down, LAVR_BF16, 1, 1);
        /* 1x1x1 shortcut with a 5-D kt = 1 weight, fp8 and f16 */
        const int64_t k111[3] = {1, 1, 1}, none[6] = {0, 0, 0, 0, 0, 0};
        conv3d_case(4, in1, 6, k111, s111, none, LAVR_FP8_E4M3, 1, 0);
        conv3d_case(4, in1, 6, k111, s111, none, LAVR_F16, 0, 1);
        /* time downsample: kernel (3,1,1), stride (2,1,1) */
        const int64_t k311[3] = {3, 1, 1}, s211[3] = {2, 1, 1}, tpad[6] = {0, 0, 0, 0, 0, 0};
        const int64_t in2[3] = {7, 5, 6};
        conv3d_case(3, in2, 3, k311, s211, tpad, LAVR_BF16, 1, 0);
        /* odd everything: padding larger than the kernel, different strides per dim */
        const int64_t k223[3] = {2, 2, 3}, s232[3] = {2, 3, 2}, odd[6] = {3, 1, 2, 4, 0, 3};
        conv3d_case(2, in2, 3, k223, s232, odd, LAVR_F32, 1, 0);
    }

    /* bad shapes are refused with a message */
    {
        int64_t wshape[3] = {4, 3, 3};
        lavr_tensor w = random_tensor(LAVR_F32, 3, wshape, 1.0f);
        float x[40], y[64];
        int64_t tout;
        for (int i = 0; i < 40; i++) x[i] = 1;
        CHECK_FAILS(lavr_op_conv1d(x, 4, 10, &w, NULL, 1, 0, 0, 1, y, &tout), LAVR_E_ARG);  /* 4 != 3 channels */
        CHECK_FAILS(lavr_op_conv1d(x, 3, 2, &w, NULL, 1, 0, 0, 1, y, &tout), LAVR_E_ARG);   /* kernel too long */
        int64_t stride[3] = {1, 1, 1}, pad[6] = {0}, od[3];
        CHECK_FAILS(lavr_op_conv3d(x, 3, 1, 2, 2, &w, NULL, stride, pad, y, od), LAVR_E_ARG); /* 3-D weight */
        free(w.data);
    }

    /* speed (not checked): a wav2vec2 feature-extractor layer (kernel 3, stride 2), 256 channels */
    {
        const int64_t c = 256, T = 1600;
        int64_t wshape[3] = {c, c, 3}, tout;
        lavr_tensor w = random_tensor(LAVR_BF16, 3, wshape, 0.1f);
        float *x = random_floats(c * T), *y = malloc((size_t)(c * T) * sizeof(float));
        double t0 = omp_get_wtime();
        CHECK_OK(lavr_op_conv1d(x, c, T, &w, NULL, 2, 0, 0, 1, y, &tout));
        double dt = omp_get_wtime() - t0;
        printf("conv1d 256->256 k3 s2 on T=1600: %.3f s, %.2f GFLOP/s on %d threads\n", dt,
               2.0 * c * c * 3 * tout / dt * 1e-9, omp_get_max_threads());
        free(w.data);
        free(x);
        free(y);
    }
    /* speed (not checked): a VAE-sized causal 3x3x3 convolution, 32 -> 32 channels on 3 frames of 48x64 */
    {
        const int64_t cin = 32, cout = 32, T = 3, H = 48, W = 64;
        int64_t wshape[5] = {cout, cin, 3, 3, 3}, stride[3] = {1, 1, 1}, pad[6] = {2, 0, 1, 1, 1, 1}, od[3];
        lavr_tensor w = random_tensor(LAVR_BF16, 5, wshape, 0.1f);
        float *x = random_floats(cin * T * H * W), *y = malloc((size_t)(cout * T * H * W) * sizeof(float));
        double t0 = omp_get_wtime();
        CHECK_OK(lavr_op_conv3d(x, cin, T, H, W, &w, NULL, stride, pad, y, od));
        double dt = omp_get_wtime() - t0;
        printf("conv3d 32->32 3x3x3 on 3x48x64: %.3f s, %.2f GFLOP/s on %d threads\n", dt,
               2.0 * cout * cin * 27 * T * H * W / dt * 1e-9, omp_get_max_threads());
        free(w.data);
        free(x);
        free(y);
    }
    return check_summary("test_ops_conv");
}
