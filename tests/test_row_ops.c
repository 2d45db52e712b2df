/* The row ops (kernels/row_ops.h) on a CPU context against double-precision loops: linear (+ bias), T5's RMS norm
 * and LayerNorm with and without the bf16 rounding points, the three GELUs, add / mul, the relative-position bias
 * with its key mask, attention with a bias (on row ranges too) and with umT5's eager bf16 rounding points, transfers, the random weights' formula, and the
 * checks that refuse mismatched operands. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "kernels/row_ops.h"

static lavr_ctx *ctx;
static uint64_t stream_no = 1;

static void fill(lavr_tensor *t, float amp) {
    lavr_rng_normal(11, lavr_rng_stream(LAVR_STREAM_TEST, 61, 0, 0) + stream_no++, 0, lavr_tensor_numel(t), t->data);
    float *v = t->data;
    for (int64_t i = 0; i < lavr_tensor_numel(t); i++) v[i] *= amp;
}

static lavr_tensor rows(int64_t r, int64_t c, float amp) {
    lavr_tensor t;
    CHECK_OK(lavr_ctx_alloc_rows(ctx, r, c, "test rows", &t));
    if (amp > 0) fill(&t, amp);
    return t;
}

static lavr_tensor host_f32(int ndim, const int64_t *shape, lavr_arena *a, float amp) {
    lavr_tensor t;
    CHECK_OK(lavr_tensor_alloc(a, LAVR_F32, ndim, shape, "test host", &t));
    fill(&t, amp);
    return t;
}

/* max |got - want| / max(|want|, floor) */
static double max_rel(const float *got, const double *want, int64_t n, double floor) {
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs(got[i] - want[i]) / fmax(fabs(want[i]), floor);
        if (!(d <= worst)) worst = isnan(d) ? INFINITY : d;
    }
    return worst;
}

static int all_bf16(const float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (lavr_round_bf16(v[i]) != v[i]) return 0;
    return 1;
}

static void test_linear(lavr_arena *a) {
    const int64_t M = 7, K = 33, N = 12;
    lavr_tensor x = rows(M, K, 1), y = rows(M, N, 0), yr = rows(M, N, 0);
    lavr_tensor w = host_f32(2, (int64_t[]){N, K}, a, 0.2f), b = host_f32(1, (int64_t[]){N}, a, 1);
    double want[M * N];
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = ((float *)b.data)[n];
            for (int64_t k = 0; k < K; k++) s += (double)((float *)x.data)[m * K + k] * ((float *)w.data)[n * K + k];
            want[m * N + n] = s;
        }
    lavr_linear_weights lw;
    CHECK_OK(lavr_ctx_linear_weights(ctx, &w, &b, &lw));
    CHECK_OK(lavr_rop_linear(ctx, &x, &lw, 0, &y));
    CHECK_MSG(max_rel(y.data, want, M * N, 1) < 1e-5, "linear: %.3g", max_rel(y.data, want, M * N, 1));
    CHECK_OK(lavr_rop_linear(ctx, &x, &lw, 1, &yr));
    int same = 1;
    for (int64_t i = 0; i < M * N; i++) same &= ((float *)yr.data)[i] == lavr_round_bf16(((float *)y.data)[i]);
    CHECK_MSG(same, "linear with round is not the bf16 rounding of the fp32 result");
    /* a range of rows is an operand */
    lavr_tensor x2, y2;
    CHECK_OK(lavr_tensor_narrow(&x, 0, 3, 2, &x2));
    CHECK_OK(lavr_tensor_narrow(&yr, 0, 0, 2, &y2));
    CHECK_OK(lavr_rop_linear(ctx, &x2, &lw, 0, &y2));
    CHECK_MSG(max_rel(y2.data, want + 3 * N, 2 * N, 1) < 1e-5, "linear on a row range");
    CHECK_FAILS(lavr_rop_linear(ctx, &y, &lw, 0, &x), LAVR_E_INTERNAL); /* [M, N] is not [M, K] */
    lavr_ctx_linear_weights_free(ctx, &lw);
    lavr_ctx_free(ctx, &x), lavr_ctx_free(ctx, &y), lavr_ctx_free(ctx, &yr);
}

static void test_norms(lavr_arena *a) {
    const int64_t R = 5, C = 48;
    const float eps = 1e-6f;
    lavr_tensor x = rows(R, C, 3), y = rows(R, C, 0);
    lavr_tensor g_host = host_f32(1, (int64_t[]){C}, a, 1), b_host = host_f32(1, (int64_t[]){C}, a, 1), g, b;
    CHECK_OK(lavr_ctx_upload(ctx, &g_host, "gain", &g));
    CHECK_OK(lavr_ctx_upload(ctx, &b_host, "beta", &b));
    const float *xv = x.data, *gv = g.data, *bv = b.data;
    double rms[R * C], rms_rounded[R * C], ln[R * C];
    for (int64_t r = 0; r < R; r++) {
        double sq = 0, s = 0, d2 = 0;
        for (int64_t i = 0; i < C; i++) sq += (double)xv[r * C + i] * xv[r * C + i], s += xv[r * C + i];
        const double inv = 1 / sqrt(sq / C + eps), mean = s / C;
        for (int64_t i = 0; i < C; i++) d2 += (xv[r * C + i] - mean) * (xv[r * C + i] - mean);
        const double linv = 1 / sqrt(d2 / C + eps);
        for (int64_t i = 0; i < C; i++) {
            rms[r * C + i] = xv[r * C + i] * inv * gv[i];
            rms_rounded[r * C + i] = lavr_round_bf16(lavr_round_bf16((float)(xv[r * C + i] * inv)) * gv[i]);
            ln[r * C + i] = (xv[r * C + i] - mean) * linv * gv[i] + bv[i];
        }
    }
    CHECK_OK(lavr_rop_rms_norm(ctx, &x, &g, eps, 0, &y));
    CHECK_MSG(max_rel(y.data, rms, R * C, 1e-3) < 1e-5, "rms norm: %.3g", max_rel(y.data, rms, R * C, 1e-3));
    CHECK_OK(lavr_rop_rms_norm(ctx, &x, &g, eps, 1, &y));
    /* the double's normalised value may sit on the other side of a bf16 boundary: one ulp of each rounding */
    CHECK_MSG(max_rel(y.data, rms_rounded, R * C, 1e-3) < 1.6e-2 && all_bf16(y.data, R * C), "rounded rms norm");
    CHECK_OK(lavr_rop_layer_norm(ctx, &x, &g, &b, eps, 0, &y));
    CHECK_MSG(max_rel(y.data, ln, R * C, 1) < 1e-5, "layer norm: %.3g", max_rel(y.data, ln, R * C, 1));
    CHECK_OK(lavr_rop_layer_norm(ctx, &x, &g, &b, eps, 1, &x)); /* in place, rounded */
    CHECK_MSG(max_rel(x.data, ln, R * C, 1) < 4e-3 && all_bf16(x.data, R * C), "rounded layer norm in place");
    lavr_tensor short_gain;
    CHECK_OK(lavr_tensor_narrow(&g, 0, 0, C - 1, &short_gain));
    CHECK_FAILS(lavr_rop_rms_norm(ctx, &x, &short_gain, eps, 0, &y), LAVR_E_INTERNAL);
    lavr_ctx_free(ctx, &x), lavr_ctx_free(ctx, &y), lavr_ctx_free(ctx, &g), lavr_ctx_free(ctx, &b);
}

static void test_elementwise(void) {
    const int64_t R = 4, C = 64, n = R * C;
    lavr_tensor x = rows(R, C, 2), y = rows(R, C, 0), z = rows(R, C, 1);
    const float *xv = x.data, *zv = z.data;
    double erf_w[n], tanh_w[n], sum[n], prod[n];
    for (int64_t i = 0; i < n; i++) {
        const double v = xv[i];
        erf_w[i] = 0.5 * v * (1 + erf(v / sqrt(2.0)));
        tanh_w[i] = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
        sum[i] = lavr_round_bf16(xv[i] + zv[i]);
        prod[i] = lavr_round_bf16(xv[i] * zv[i]);
    }
    CHECK_OK(lavr_rop_gelu(ctx, &x, LAVR_GELU_ERF, 0, &y));
    CHECK_MSG(max_rel(y.data, erf_w, n, 1) < 1e-5, "gelu erf");
    CHECK_OK(lavr_rop_gelu(ctx, &x, LAVR_GELU_TANH, 0, &y));
    CHECK_MSG(max_rel(y.data, tanh_w, n, 1) < 1e-5, "gelu tanh");
    /* eight bf16 roundings: within a few bf16 ulps of the exact tanh GELU, and bf16 values */
    CHECK_OK(lavr_rop_gelu(ctx, &x, LAVR_GELU_TANH_BF16, 0, &y));
    CHECK_MSG(max_rel(y.data, tanh_w, n, 0.1) < 4e-2 && all_bf16(y.data, n), "gelu tanh in bf16 steps: %.3g",
              max_rel(y.data, tanh_w, n, 0.1));
    CHECK_OK(lavr_rop_add(ctx, &x, &z, 1, &y));
    CHECK_MSG(max_rel(y.data, sum, n, 1e-30) == 0, "add");
    CHECK_OK(lavr_rop_mul(ctx, &x, &z, 1, &x)); /* in place */
    CHECK_MSG(max_rel(x.data, prod, n, 1e-30) == 0, "mul in place");
    lavr_tensor bad = rows(R, C / 2, 1);
    CHECK_FAILS(lavr_rop_add(ctx, &x, &bad, 1, &y), LAVR_E_INTERNAL);
    lavr_ctx_free(ctx, &x), lavr_ctx_free(ctx, &y), lavr_ctx_free(ctx, &z), lavr_ctx_free(ctx, &bad);
}

static void test_attention(lavr_arena *a) {
    enum { H = 3, D = 8, LQ = 5, LK = 7, NB = 6 };
    lavr_tensor q = rows(LQ, H * D, 1), k = rows(LK, H * D, 1), v = rows(LK, H * D, 1), o = rows(LQ, H * D, 0);
    lavr_tensor table_h = host_f32(2, (int64_t[]){NB, H}, a, 1), bucket_h, mask_h, table, bucket, mask, bias;
    CHECK_OK(lavr_tensor_alloc(a, LAVR_I32, 2, (int64_t[]){LQ, LK}, "bucket", &bucket_h));
    CHECK_OK(lavr_tensor_alloc(a, LAVR_F32, 1, (int64_t[]){LK}, "mask", &mask_h));
    for (int i = 0; i < LQ * LK; i++) ((int32_t *)bucket_h.data)[i] = (i * 5 + 1) % NB;
    for (int j = 0; j < LK; j++) ((float *)mask_h.data)[j] = j == 2 || j == 5 ? 0.0f : 1.0f;
    CHECK_OK(lavr_ctx_upload(ctx, &table_h, "table", &table));
    CHECK_OK(lavr_ctx_upload(ctx, &bucket_h, "bucket", &bucket));
    CHECK_OK(lavr_ctx_upload(ctx, &mask_h, "mask", &mask));
    CHECK_OK(lavr_ctx_alloc_f32(ctx, 3, (int64_t[]){H, LQ, LK}, "bias", &bias));
    CHECK_OK(lavr_rop_position_bias(ctx, &table, &bucket, &mask, &bias));
    const float *tb = table.data, *bs = bias.data, *mk = mask.data;
    const int32_t *bk = bucket.data;
    int exact = 1;
    for (int h = 0; h < H; h++)
        for (int i = 0; i < LQ; i++)
            for (int j = 0; j < LK; j++)
                exact &= bs[(h * LQ + i) * LK + j] == (mk[j] == 0 ? LAVR_BF16_LOWEST : tb[bk[i * LK + j] * H + h]);
    CHECK_MSG(exact, "position bias");
    const float scale = 0.7f;
    double want[LQ * H * D];
    const float *qv = q.data, *kv = k.data, *vv = v.data;
    for (int h = 0; h < H; h++)
        for (int i = 0; i < LQ; i++) {
            double s[LK], mx = -INFINITY, z = 0;
            for (int j = 0; j < LK; j++) {
                double d = 0;
                for (int e = 0; e < D; e++) d += (double)qv[i * H * D + h * D + e] * kv[j * H * D + h * D + e];
                s[j] = scale * d + bs[(h * LQ + i) * LK + j];
                mx = fmax(mx, s[j]);
            }
            for (int j = 0; j < LK; j++) z += s[j] = exp(s[j] - mx);
            for (int e = 0; e < D; e++) {
                double acc = 0;
                for (int j = 0; j < LK; j++) acc += s[j] / z * vv[j * H * D + h * D + e];
                want[i * H * D + h * D + e] = acc;
            }
        }
    CHECK_OK(lavr_rop_attention(ctx, &q, &k, &v, H, scale, &bias, 0, &o));
    CHECK_MSG(max_rel(o.data, want, LQ * H * D, 1) < 1e-5, "attention: %.3g", max_rel(o.data, want, LQ * H * D, 1));
    CHECK_FAILS(lavr_rop_attention(ctx, &q, &k, &v, 5, scale, &bias, 0, &o), LAVR_E_ARG); /* 24 % 5 */
    CHECK_FAILS(lavr_rop_attention(ctx, &q, &k, &v, H, scale, NULL, 0, &q), LAVR_E_INTERNAL);

    /* umT5's eager rounding points, no scaling: s = bf16(bf16(q·k) + bias), p = bf16(softmax(s)), out = bf16(p·v);
     * the sums in double, so the one bf16 rounding of the output leaves at most 2^-9 relative (checked: 2^-8) */
    double eager[LQ * H * D];
    for (int h = 0; h < H; h++)
        for (int i = 0; i < LQ; i++) {
            double p[LK], mx = -INFINITY, z = 0;
            for (int j = 0; j < LK; j++) {
                double d = 0;
                for (int e = 0; e < D; e++) d += (double)qv[i * H * D + h * D + e] * kv[j * H * D + h * D + e];
                p[j] = lavr_round_bf16(lavr_round_bf16((float)d) + bs[(h * LQ + i) * LK + j]);
                mx = fmax(mx, p[j]);
            }
            for (int j = 0; j < LK; j++) z += p[j] = exp(p[j] - mx);
            for (int j = 0; j < LK; j++) p[j] = lavr_round_bf16((float)(p[j] / z));
            for (int e = 0; e < D; e++) {
                double acc = 0;
                for (int j = 0; j < LK; j++) acc += p[j] * vv[j * H * D + h * D + e];
                eager[i * H * D + h * D + e] = acc;
            }
        }
    CHECK_OK(lavr_rop_attention_eager(ctx, &q, &k, &v, H, &bias, &o));
    CHECK_MSG(max_rel(o.data, eager, LQ * H * D, 1) <= 0x1p-8, "eager attention: %.3g",
              max_rel(o.data, eager, LQ * H * D, 1));
    float want_f[LQ * H * D];
    for (int i = 0; i < LQ * H * D; i++) want_f[i] = (float)want[i];
    /* the rounding points matter here: lavr_rop_attention's result would miss the limit */
    CHECK_MSG(max_rel(want_f, eager, LQ * H * D, 1) > 0x1p-8, "eager vs fp32 attention: only %.3g apart",
              max_rel(want_f, eager, LQ * H * D, 1));
    CHECK_MSG(((float *)o.data)[0] == lavr_round_bf16(((float *)o.data)[0]), "eager attention output is not bf16");
    CHECK_FAILS(lavr_rop_attention_eager(ctx, &q, &k, &v, 5, &bias, &o), LAVR_E_ARG);
    lavr_ctx_free(ctx, &q), lavr_ctx_free(ctx, &k), lavr_ctx_free(ctx, &v), lavr_ctx_free(ctx, &o);
    lavr_ctx_free(ctx, &table), lavr_ctx_free(ctx, &bucket), lavr_ctx_free(ctx, &mask), lavr_ctx_free(ctx, &bias);
}

static void test_transfers_and_random(void) {
    float host[6] = {1.5f, -2.25f, 3.0f, 0.1f, 7.0f, -0.5f}, back[6];
    lavr_tensor t = rows(2, 3, 0), u = rows(2, 3, 0);
    CHECK_OK(lavr_rop_upload(ctx, host, &t));
    CHECK_OK(lavr_rop_copy(ctx, &t, &u));
    CHECK_OK(lavr_rop_download(ctx, &u, back));
    CHECK(!memcmp(host, back, sizeof host));
    lavr_linear_weights w;
    CHECK_OK(lavr_ctx_linear_weights_random(ctx, 3, 12, 99, &w));
    int ok = w.weight.dtype == LAVR_BF16 && w.out == 3 && w.in == 12 && !w.bias.data;
    double sq = 0;
    for (int64_t i = 0; ok && i < 36; i++) {
        const double u24 = (double)lavr_row_random_u24(99, (uint64_t)i);
        const double want = sqrt(3.0 / 12) * (2 * u24 / 16777216.0 - 1);
        const double got = lavr_dtype_load(LAVR_BF16, w.weight.data, i);
        ok &= fabs(got - want) <= fabs(want) * 0x1p-8 + 1e-7 && u24 < 16777216.0;
        sq += got * got;
    }
    CHECK_MSG(ok, "random weights do not follow their formula");
    CHECK_MSG(sq / 36 > 0.25 / 12 && sq / 36 < 4.0 / 12, "random weights: variance %.3g, expected ~1/12", sq / 36);
    lavr_ctx_linear_weights_free(ctx, &w);
    lavr_ctx_free(ctx, &t), lavr_ctx_free(ctx, &u);
}

int main(void) {
    lavr_arena *arena = NULL;
    CHECK_OK(lavr_arena_create("test row ops", 0, &arena));
    CHECK_OK(lavr_ctx_create_cpu(arena, &ctx));
    test_linear(arena);
    test_norms(arena);
    test_elementwise();
    test_attention(arena);
    test_transfers_and_random();
    lavr_ctx_destroy(ctx);
    lavr_arena_destroy(arena);
    return check_summary("test_row_ops");
}
