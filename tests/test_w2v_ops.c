/* wav2vec2's CPU ops (kernels/w2v_ops.h) against double-precision loops on random inputs: the time-major conv1d with
 * one input channel (k 10, stride 5), dense (k 3, stride 2) and grouped with zero padding (k 16, 4 groups), in fp32
 * (rel L2 1e-6) and with the bf16 rounding points round(round(conv) + b) (rel L2 2e-4: a value whose fp32 and double
 * sums fall on two sides of a bf16 rounding boundary is one bf16 step off, about 1e-4 of rel L2 in these sizes;
 * measured 0); and the attention fold over
 * chunks of 64 keys and a partial one, bit-equal to one lavr_rop_attention over all keys. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "io/golden.h"
#include "kernels/row_ops.h"
#include "kernels/w2v_ops.h"

#define SEED 77u

static float *normal(int64_t n, uint64_t stream, float scale) {
    float *x = malloc((size_t)n * sizeof *x);
    lavr_rng_normal(SEED, stream, 0, n, x);
    for (int64_t i = 0; i < n; i++) x[i] *= scale;
    return x;
}

static lavr_tensor host(lavr_arena *a, int ndim, const int64_t *shape, const float *values) {
    lavr_tensor t = {0};
    CHECK_OK(lavr_tensor_alloc(a, LAVR_F32, ndim, shape, "test", &t));
    if (t.data) memcpy(t.data, values, (size_t)lavr_tensor_numel(&t) * sizeof(float));
    return t;
}

static void conv_case(lavr_ctx *c, lavr_arena *a, int64_t tin, int64_t cin, int64_t cout, int64_t k, int64_t stride,
                      int64_t groups, int64_t pad, int round) {
    const int64_t cg = cin / groups, og = cout / groups, tout = (tin + 2 * pad - k) / stride + 1;
    float *x = normal(tin * cin, 1, 1.0f), *w = normal(cout * cg * k, 2, 1.0f / sqrtf((float)(cg * k)));
    float *b = normal(cout, 3, 0.3f), *want = malloc((size_t)(tout * cout) * sizeof(float));
    for (int64_t t = 0; t < tout; t++)
        for (int64_t o = 0; o < cout; o++) {
            const int64_t g = o / og;
            double s = round ? 0.0 : b[o];
            for (int64_t i = 0; i < cg; i++)
                for (int64_t j = 0; j < k; j++) {
                    const int64_t src = t * stride + j - pad;
                    if (src >= 0 && src < tin) s += (double)x[src * cin + g * cg + i] * w[(o * cg + i) * k + j];
                }
            want[t * cout + o] = round ? lavr_round_bf16(lavr_round_bf16((float)s) + b[o]) : (float)s;
        }
    lavr_tensor wt = host(a, 3, (int64_t[]){cout, cg, k}, w), bt = host(a, 1, &cout, b), xt, yt;
    lavr_wop_conv cw = {0};
    CHECK_OK(lavr_wop_conv_weights(c, &wt, &bt, groups, &cw));
    CHECK_OK(lavr_ctx_alloc_rows(c, tin, cin, "x", &xt));
    CHECK_OK(lavr_ctx_alloc_rows(c, tout, cout, "y", &yt));
    if (xt.data && yt.data && cw.w.data) {
        CHECK_OK(lavr_rop_upload(c, x, &xt));
        CHECK_OK(lavr_wop_conv1d(c, &xt, &cw, stride, pad, pad, round, &yt));
        const double e = lavr_golden_rel_l2(yt.data, want, tout * cout), lim = round ? 2e-4 : 1e-6;
        printf("  conv1d %lld -> %lld, k %lld, stride %lld, %lld groups, pad %lld%s: rel L2 %.3g (limit %.0e)\n",
               (long long)cin, (long long)cout, (long long)k, (long long)stride, (long long)groups, (long long)pad,
               round ? ", bf16" : "", e, lim);
        CHECK(e <= lim);
    }
    lavr_ctx_free(c, &xt), lavr_ctx_free(c, &yt);
    lavr_wop_conv_free(c, &cw);
    free(x), free(w), free(b), free(want);
}

static void fold_case(lavr_ctx *c) {
    const int64_t rows = 40, keys = 200, H = 2, D = 32, hd = H * D;
    float *q = normal(rows * hd, 4, 1.0f), *k = normal(keys * hd, 5, 1.0f), *v = normal(keys * hd, 6, 1.0f);
    lavr_tensor tq, tk, tv, one, folded;
    lavr_wop_attention *att = NULL;
    CHECK_OK(lavr_ctx_alloc_rows(c, rows, hd, "q", &tq));
    CHECK_OK(lavr_ctx_alloc_rows(c, keys, hd, "k", &tk));
    CHECK_OK(lavr_ctx_alloc_rows(c, keys, hd, "v", &tv));
    CHECK_OK(lavr_ctx_alloc_rows(c, rows, hd, "one", &one));
    CHECK_OK(lavr_ctx_alloc_rows(c, rows, hd, "folded", &folded));
    CHECK_OK(lavr_wop_attention_create(c, rows, H, D, 0, &att));
    if (att && tq.data && tk.data && tv.data && one.data && folded.data) {
        CHECK_OK(lavr_rop_upload(c, q, &tq));
        CHECK_OK(lavr_rop_upload(c, k, &tk));
        CHECK_OK(lavr_rop_upload(c, v, &tv));
        CHECK_OK(lavr_wop_attention_all(c, att, &tq, &tk, &tv, 0, &one));
        for (int64_t k0 = 0; k0 < keys; k0 += 64) {
            lavr_tensor kc, vc;
            const int64_t kn = keys - k0 < 64 ? keys - k0 : 64;
            CHECK_OK(lavr_tensor_narrow(&tk, 0, k0, kn, &kc));
            CHECK_OK(lavr_tensor_narrow(&tv, 0, k0, kn, &vc));
            CHECK_OK(lavr_wop_attention_fold(c, att, &tq, &kc, &vc, k0 == 0));
        }
        CHECK_OK(lavr_wop_attention_finish(c, att, 0, &folded));
        CHECK_MSG(!memcmp(one.data, folded.data, (size_t)(rows * hd) * sizeof(float)),
                  "the fold over 64-key chunks differs from one call");
        /* and a fold whose queries change size mid-run is refused */
        lavr_tensor fewer;
        CHECK_OK(lavr_tensor_narrow(&tq, 0, 0, rows - 1, &fewer));
        CHECK_FAILS(lavr_wop_attention_fold(c, att, &fewer, &tk, &tv, 0), LAVR_E_INTERNAL);
    }
    lavr_wop_attention_destroy(c, att);
    lavr_ctx_free(c, &tq), lavr_ctx_free(c, &tk), lavr_ctx_free(c, &tv), lavr_ctx_free(c, &one);
    lavr_ctx_free(c, &folded);
    free(q), free(k), free(v);
}

int main(void) {
    lavr_arena *a = NULL;
    lavr_ctx *c = NULL;
    CHECK_OK(lavr_arena_create("test w2v ops", 0, &a));
    if (a) CHECK_OK(lavr_ctx_create_cpu(a, &c));
    if (!c) return check_summary("test_w2v_ops");
    for (int round = 0; round < 2; round++) {
        conv_case(c, a, 403, 1, 24, 10, 5, 1, 0, round);
        conv_case(c, a, 131, 24, 16, 3, 2, 1, 0, round);
        conv_case(c, a, 57, 32, 32, 16, 1, 4, 8, round);
    }
    fold_case(c);
    lavr_ctx_destroy(c);
    lavr_arena_destroy(a);
    return check_summary("test_w2v_ops");
}
