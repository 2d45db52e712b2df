/* Tests lavr_op_attention against a double-precision softmax(q·kᵀ·scale + bias)·v over the
 * concatenated key segments: 1-3 segments of mixed f32/bf16 with padded row strides, strided
 * queries, additive bias with finite and infinite masking, Lq = 1, D = 64/128, H = 1..4; and the
 * state-carrying fold over keys given in several calls, bit for bit against one call. */
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/rng.h"
#include "kernels/ops.h"

static uint64_t stream_no = 0;

static void fill_normal(float *v, int64_t n, float amp) {
    lavr_rng_normal(3, lavr_rng_stream(LAVR_STREAM_TEST, 3, 0, 0) + stream_no++, 0, n, v);
    for (int64_t i = 0; i < n; i++) v[i] *= amp;
}

/* A segment of len tokens x [H, D] stored as dtype with row_stride elements per token; the padding
 * between rows holds NaN so that a read outside [H*D] shows in the output. */
static lavr_kv_segment make_segment(lavr_dtype dt, int64_t len, int64_t row_stride, int64_t H, int64_t D) {
    lavr_kv_segment s = {dt, NULL, NULL, len, row_stride};
    int64_t n = len * row_stride;
    void *kv[2];
    float *tmp = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int which = 0; which < 2; which++) {
        kv[which] = malloc((size_t)(n > 0 ? n : 1) * lavr_dtype_size(dt));
        fill_normal(tmp, n, 1.0f);
        for (int64_t i = 0; i < n; i++)
            lavr_dtype_store(dt, kv[which], i, (i % row_stride) < H * D ? tmp[i] : NAN);
    }
    free(tmp);
    s.k = kv[0];
    s.v = kv[1];
    return s;
}

/* Expected output. Scores are rounded to fp32 after adding the bias, as PyTorch's fp32 math does
 * (so a row masked everywhere with -FLT_MAX becomes a uniform average); a row whose scores are all
 * -inf gives 0 by the op's convention. */
static void reference(const float *q, int64_t Lq, int64_t H, int64_t D, int64_t qs, const lavr_kv_segment *segs,
                      int nseg, float scale, const float *bias, double *out) {
    int64_t lk = 0;
    for (int g = 0; g < nseg; g++) lk += segs[g].len;
    double *p = malloc((size_t)lk * sizeof(double));
    for (int64_t h = 0; h < H; h++) {
        for (int64_t i = 0; i < Lq; i++) {
            double mx = -INFINITY;
            int64_t j = 0;
            for (int g = 0; g < nseg; g++) {
                for (int64_t t = 0; t < segs[g].len; t++, j++) {
                    double dotp = 0;
                    for (int64_t d = 0; d < D; d++)
                        dotp += (double)q[i * qs + h * D + d] *
                                lavr_dtype_load(segs[g].dtype, segs[g].k, t * segs[g].row_stride + h * D + d);
                    double sc = scale * dotp + (bias ? bias[(h * Lq + i) * lk + j] : 0.0);
                    p[j] = (float)sc;
                    if (p[j] > mx) mx = p[j];
                }
            }
            double sum = 0;
            for (j = 0; j < lk; j++) {
                p[j] = mx == -INFINITY ? 0 : exp(p[j] - mx);
                sum += p[j];
            }
            for (int64_t d = 0; d < D; d++) {
                double acc = 0;
                j = 0;
                for (int g = 0; g < nseg; g++)
                    for (int64_t t = 0; t < segs[g].len; t++, j++)
                        if (p[j] != 0)
                            acc += p[j] * lavr_dtype_load(segs[g].dtype, segs[g].v, t * segs[g].row_stride + h * D + d);
                out[(i * H + h) * D + d] = sum > 0 ? acc / sum : 0;
            }
        }
    }
    free(p);
}

/* Runs one configuration; mask: 0 none, 1 random bias plus scattered -inf / -FLT_MAX entries and
 * one fully -FLT_MAX row and one fully -inf row. Returns the max abs error. */
static double run_case(int64_t Lq, int64_t H, int64_t D, int64_t q_pad, int nseg, const lavr_dtype *dts,
                       const int64_t *lens, const int64_t *pads, int with_bias) {
    const int64_t qs = H * D + q_pad;
    float *q = malloc((size_t)(Lq * qs) * sizeof(float));
    fill_normal(q, Lq * qs, 1.0f);
    lavr_kv_segment segs[3];
    int64_t lk = 0;
    for (int g = 0; g < nseg; g++) {
        segs[g] = make_segment(dts[g], lens[g], H * D + pads[g], H, D);
        lk += lens[g];
    }
    float *bias = NULL;
    if (with_bias) {
        bias = malloc((size_t)(H * Lq * lk) * sizeof(float));
        fill_normal(bias, H * Lq * lk, 2.0f);
        for (int64_t i = 0; i < H * Lq * lk; i++) {
            if (i % 7 == 3) bias[i] = -INFINITY;
            if (i % 11 == 5) bias[i] = -FLT_MAX; /* T5's finfo.min padding mask */
        }
        if (Lq >= 3) {
            for (int64_t j = 0; j < lk; j++) bias[(0 * Lq + 1) * lk + j] = -FLT_MAX; /* head 0 row 1 */
            for (int64_t j = 0; j < lk; j++) bias[((H - 1) * Lq + 2) * lk + j] = -INFINITY;
        }
    }
    const float scale = 1.0f / sqrtf((float)D);
    float *out = malloc((size_t)(Lq * H * D) * sizeof(float));
    for (int64_t i = 0; i < Lq * H * D; i++) out[i] = NAN;
    double *ref = malloc((size_t)(Lq * H * D) * sizeof(double));
    CHECK_OK(lavr_op_attention(q, Lq, H, D, qs, segs, nseg, scale, bias, out));
    reference(q, Lq, H, D, qs, segs, nseg, scale, bias, ref);
    double worst = 0;
    for (int64_t i = 0; i < Lq * H * D; i++) {
        double e = fabs(out[i] - ref[i]);
        if (!(e <= worst)) worst = e;
    }
    CHECK_MSG(worst <= 1e-5, "Lq=%lld H=%lld D=%lld nseg=%d bias=%d: max abs err %g", (long long)Lq, (long long)H,
              (long long)D, nseg, with_bias, worst);
    if (with_bias && Lq >= 3) { /* the fully -inf row is exactly zero */
        int zero = 1;
        for (int64_t d = 0; d < D; d++) zero &= out[(2 * H + H - 1) * D + d] == 0.0f;
        CHECK(zero);
    }
    for (int g = 0; g < nseg; g++) {
        free((void *)segs[g].k);
        free((void *)segs[g].v);
    }
    free(q);
    free(bias);
    free(out);
    free(ref);
    return worst;
}

/* Keys in chunks of `chunk` (last one ragged) folded call by call, with two query runs through one
 * state, against one lavr_op_attention over all keys: the same bits when chunk is a multiple of
 * the key tile, else within the reference's tolerance. */
static void fold_case(int64_t Lq, int64_t H, int64_t D, int64_t lk, int64_t chunk) {
    const int64_t hd = H * D, qs = hd + 5;
    float *q = malloc((size_t)(Lq * qs) * sizeof(float));
    fill_normal(q, Lq * qs, 1.0f);
    lavr_kv_segment all = make_segment(LAVR_F32, lk, hd, H, D);
    float *whole = malloc((size_t)(Lq * hd) * sizeof(float)), *folded = malloc((size_t)(Lq * hd) * sizeof(float));
    double *ref = malloc((size_t)(Lq * hd) * sizeof(double));
    const float scale = 1.0f / sqrtf((float)D);
    CHECK_OK(lavr_op_attention(q, Lq, H, D, qs, &all, 1, scale, NULL, whole));
    reference(q, Lq, H, D, qs, &all, 1, scale, NULL, ref);
    lavr_attention_state *st = NULL;
    CHECK_OK(lavr_attention_state_create(Lq, H, D, &st));
    CHECK(st != NULL);
    if (!st) return;
    for (int64_t i = 0; i < Lq * hd; i++) folded[i] = NAN;
    const int64_t split = Lq / 2 / 32 * 32; /* query runs start at multiples of the kernel's query block */
    const int64_t run_at[2] = {0, split}, run_len[2] = {split, Lq - split};
    for (int run = 0; run < 2; run++) {
        lavr_attention_state_reset(st, run_len[run]);
        for (int64_t k0 = 0; k0 < lk; k0 += chunk) {
            lavr_kv_segment part = all;
            part.k = (const float *)all.k + k0 * hd;
            part.v = (const float *)all.v + k0 * hd;
            part.len = lk - k0 < chunk ? lk - k0 : chunk;
            CHECK_OK(lavr_op_attention_fold(q + run_at[run] * qs, qs, &part, 1, scale, st));
        }
        lavr_op_attention_finish(st, folded + run_at[run] * hd);
    }
    double worst = 0;
    for (int64_t i = 0; i < Lq * hd; i++) {
        double e = fabs(folded[i] - ref[i]);
        if (!(e <= worst)) worst = e;
    }
    CHECK_MSG(worst <= 1e-5, "fold Lq=%lld lk=%lld chunk=%lld: max abs err %g", (long long)Lq, (long long)lk,
              (long long)chunk, worst);
    if (chunk % LAVR_ATTENTION_KEY_TILE == 0)
        CHECK_MSG(memcmp(folded, whole, (size_t)(Lq * hd) * sizeof(float)) == 0,
                  "fold Lq=%lld lk=%lld chunk=%lld differs from one call", (long long)Lq, (long long)lk, (long long)chunk);
    lavr_attention_state_destroy(st);
    free((void *)all.k);
    free((void *)all.v);
    free(q);
    free(whole);
    free(folded);
    free(ref);
}

int main(void) {
    fold_case(100, 4, 16, 300, 128); /* wav2vec2-tiny heads: 4 x 16 */
    fold_case(70, 2, 64, 64 * 5, 64);
    fold_case(40, 1, 64, 129, 50);   /* not tile-aligned: same values within tolerance */
    fold_case(33, 3, 16, 17, 4096);  /* one chunk */

    {
        lavr_dtype d[1] = {LAVR_F32};
        int64_t len[1] = {1}, pad[1] = {0};
        run_case(1, 1, 64, 0, 1, d, len, pad, 0); /* a single key: output = v */
        len[0] = 200;
        run_case(1, 2, 128, 0, 1, d, len, pad, 0);
        run_case(1, 1, 64, 0, 1, d, len, pad, 1);
    }
    {
        lavr_dtype d[2] = {LAVR_BF16, LAVR_F32};
        int64_t len[2] = {70, 64}, pad[2] = {3, 256}; /* pad = H*D: K and V rows interleaved in a cache */
        run_case(37, 2, 128, 8, 2, d, len, pad, 0);
        run_case(33, 3, 64, 0, 2, d, len, pad, 1);
    }
    {
        lavr_dtype d[3] = {LAVR_F32, LAVR_BF16, LAVR_BF16};
        int64_t len[3] = {100, 1, 65}, pad[3] = {0, 5, 64};
        run_case(70, 4, 64, 3, 3, d, len, pad, 1);
        run_case(5, 1, 128, 0, 3, d, len, pad, 0);
        int64_t len0[3] = {0, 40, 9}; /* an empty segment is skipped */
        run_case(9, 2, 64, 0, 3, d, len0, pad, 1);
    }

    /* bad arguments */
    {
        float q[64] = {0}, out[64];
        lavr_kv_segment seg = {LAVR_F16, q, q, 1, 64};
        CHECK_FAILS(lavr_op_attention(q, 1, 1, 64, 64, &seg, 1, 1.0f, NULL, out), LAVR_E_ARG);
        seg.dtype = LAVR_F32;
        seg.row_stride = 32;
        CHECK_FAILS(lavr_op_attention(q, 1, 1, 64, 64, &seg, 1, 1.0f, NULL, out), LAVR_E_ARG);
        seg.row_stride = 64;
        seg.len = 0;
        CHECK_FAILS(lavr_op_attention(q, 1, 1, 64, 64, &seg, 1, 1.0f, NULL, out), LAVR_E_ARG);
    }

    /* speed (not checked) */
    {
        const int64_t Lq = 1024, H = 4, D = 128, lk = 1024;
        float *q = malloc((size_t)(Lq * H * D) * sizeof(float)), *out = malloc((size_t)(Lq * H * D) * sizeof(float));
        fill_normal(q, Lq * H * D, 1.0f);
        lavr_kv_segment seg = make_segment(LAVR_BF16, lk, H * D, H, D);
        double t0 = omp_get_wtime();
        CHECK_OK(lavr_op_attention(q, Lq, H, D, H * D, &seg, 1, 1.0f / sqrtf((float)D), NULL, out));
        double dt = omp_get_wtime() - t0;
        printf("attention Lq=Lk=%lld H=%lld D=%lld bf16 kv: %.3f s, %.2f GFLOP/s on %d threads\n", (long long)Lq,
               (long long)H, (long long)D, dt, 4.0 * Lq * lk * H * D / dt * 1e-9, omp_get_max_threads());
        free((void *)seg.k);
        free((void *)seg.v);
        free(q);
        free(out);
    }
    return check_summary("test_ops_attention");
}
