/* GPU checks of the DiT's fused kernels (kernels/cuda/dit_fused.h), the general GEMM (bf16 bias/GELU epilogues,
 * FP8) and cuDNN's fused attention (kernels/cuda/sdpa.h) against double-precision host loops of the same
 * formulas on fresh random inputs. Exits 77 (skipped) without a CUDA device. Seed: LAVR_TEST_SEED or the clock. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "kernels/cuda/cudnn_graph.h"
#include "kernels/cuda/dit_fused.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/sdpa.h"
#include "models/rope.h"
#include "parallel/device.h"

static uint64_t seed;
static uint32_t draw_no;

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) exit(1);
    return p;
}

static float *rnd(int64_t n, float scale, float shift, int round) {
    float *x = xmalloc((size_t)n * sizeof(float));
    lavr_rng_normal(seed, lavr_rng_stream(LAVR_STREAM_TEST, ++draw_no, 0, 0), 0, n, x);
    for (int64_t i = 0; i < n; i++) {
        x[i] = x[i] * scale + shift;
        if (round) x[i] = lavr_round_bf16(x[i]);
    }
    return x;
}

static void *dev(const void *host, size_t bytes) {
    void *d = NULL;
    if (cudaMalloc(&d, bytes ? bytes : 1) != cudaSuccess) exit(1);
    if (host && cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice) != cudaSuccess) exit(1);
    if (!host) cudaMemset(d, 0xff, bytes ? bytes : 1); /* NaN-poisoned: unwritten outputs show */
    return d;
}

static uint16_t *dev_bf16(const float *x, int64_t n) {
    uint16_t *h = xmalloc((size_t)n * 2);
    for (int64_t i = 0; i < n; i++) h[i] = lavr_f32_to_bf16(x[i]);
    uint16_t *d = dev(h, (size_t)n * 2);
    free(h);
    return d;
}

static float *host_of_bf16(const uint16_t *d, int64_t n) {
    uint16_t *h = xmalloc((size_t)n * 2);
    float *f = xmalloc((size_t)n * 4);
    if (cudaDeviceSynchronize() != cudaSuccess || cudaMemcpy(h, d, (size_t)n * 2, cudaMemcpyDeviceToHost) != cudaSuccess)
        exit(1);
    for (int64_t i = 0; i < n; i++) f[i] = lavr_bf16_to_f32(h[i]);
    free(h);
    return f;
}

static float *host_of_f32(const float *d, int64_t n) {
    float *f = xmalloc((size_t)n * 4);
    if (cudaDeviceSynchronize() != cudaSuccess || cudaMemcpy(f, d, (size_t)n * 4, cudaMemcpyDeviceToHost) != cudaSuccess)
        exit(1);
    return f;
}

static double rel_l2(const float *a, const double *ref, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += (a[i] - ref[i]) * (a[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    const double e = sqrt(num / (den > 0 ? den : 1e-300));
    return isnan(e) ? INFINITY : e;
}

static double rb(double v) { return (double)lavr_round_bf16((float)v); }

/* ---- resnorm ---------------------------------------------------------------------------------------------- */
/* the host formula of lavr_resnorm_args in double (the norm statistics in double) */
static void resnorm_ref(const lavr_resnorm_args *a, const float *x, const float *addb, const float *addf,
                        const float *bias, const float *gate, const float *shift, const float *scale, const float *w,
                        const float *b, double *r_out, double *y) {
    const int64_t C = a->cols;
    double *u = xmalloc((size_t)C * sizeof(double));
    for (int64_t r = 0; r < a->rows; r++) {
        const float *gt = gate ? gate + (a->gate_group_rows ? r / a->gate_group_rows : 0) * a->gate_stride : NULL;
        double mean = 0;
        for (int64_t c = 0; c < C; c++) {
            double v = x[r * C + c], add = 0;
            if (addb) add = addb[r * C + c];
            else if (addf) add = rb((double)addf[r * C + c] + (bias ? bias[c] : 0));
            v = (float)(v + (float)(add * (gt ? gt[c] : 1.0)));
            if (a->round_sum) v = rb(v);
            r_out[r * C + c] = v;
            u[c] = a->round_norm_input ? rb(v) : v;
            mean += u[c];
        }
        mean /= (double)C;
        double var = 0;
        for (int64_t c = 0; c < C; c++) var += (u[c] - mean) * (u[c] - mean);
        const double inv = 1.0 / sqrt(var / (double)C + a->eps);
        const int64_t m = a->mod_group_rows ? r / a->mod_group_rows : 0;
        for (int64_t c = 0; c < C; c++) {
            double n = (u[c] - mean) * inv;
            if (a->norm == LAVR_RN_MOD) {
                if (a->round_ln) n = rb(n);
                y[r * C + c] = rb(n * (1.0 + scale[m * a->mod_stride + c]) + shift[m * a->mod_stride + c]);
            } else if (a->norm == LAVR_RN_AFFINE) {
                y[r * C + c] = rb(n * w[c] + b[c]);
            }
        }
    }
    free(u);
}

static void check_resnorm(int mode) {
    const int64_t rows = 37, C = 640, groups = 3, per = 13; /* rows of a modulation group (last one short) */
    float *x = rnd(rows * C, 1.0f, 0.0f, 1), *addb = rnd(rows * C, 0.5f, 0.0f, 1), *addf = rnd(rows * C, 0.5f, 0.0f, 0);
    float *bias = rnd(C, 0.1f, 0.0f, 1), *gate = rnd(groups * C, 0.3f, 0.0f, 0), *shift = rnd(groups * C, 0.2f, 0, 0);
    float *scale = rnd(groups * C, 0.2f, 0.0f, 0), *w = rnd(C, 0.1f, 1.0f, 0), *b = rnd(C, 0.1f, 0.0f, 0);
    float *dx = dev(x, rows * C * 4), *daf = dev(addf, rows * C * 4), *dg = dev(gate, groups * C * 4);
    float *dsh = dev(shift, groups * C * 4), *dsc = dev(scale, groups * C * 4), *dw = dev(w, C * 4), *db = dev(b, C * 4);
    uint16_t *dab = dev_bf16(addb, rows * C), *dbias = dev_bf16(bias, C), *dy = dev(NULL, rows * C * 2);
    float *dr = dev(NULL, rows * C * 4);
    lavr_resnorm_args a;
    memset(&a, 0, sizeof a);
    a.rows = rows, a.cols = C, a.x = dx, a.r_out = dr, a.y = dy, a.eps = 1e-6f;
    const char *name = "";
    switch (mode) {
    case 0: /* a layer's opening norm */
        a.norm = LAVR_RN_MOD, a.round_ln = 1, a.shift = dsh, a.scale = dsc, name = "modulated LN (round_ln)";
        break;
    case 1: /* x32 = x + o gate; bf16(LN(bf16(x32)) w + b) */
        a.add_bf16 = dab, a.gate = dg, a.norm = LAVR_RN_AFFINE, a.round_norm_input = 1, a.ln_w = dw, a.ln_b = db;
        name = "gate + residual + affine LN";
        break;
    case 2: /* the tp form: fp32 sums + bias, modulated LN of the fp32 stream */
        a.add_f32 = daf, a.add_bias = dbias, a.norm = LAVR_RN_MOD, a.shift = dsh, a.scale = dsc;
        name = "tp residual + modulated LN";
        break;
    case 3: /* closing residual rounded + the next layer's norm */
        a.add_bf16 = dab, a.gate = dg, a.round_sum = 1, a.norm = LAVR_RN_MOD, a.round_ln = 1, a.shift = dsh;
        a.scale = dsc, name = "gate + residual + round + next modulated LN";
        break;
    default: /* the injector's AdaLN: one (shift, scale) per frame of `per` rows */
        a.norm = LAVR_RN_MOD, a.shift = dsh, a.scale = dsc, a.mod_group_rows = per, a.mod_stride = C, a.eps = 1e-5f;
        a.gate = dg, a.gate_group_rows = per, a.gate_stride = C, a.add_bf16 = dab;
        name = "per-frame AdaLN";
        break;
    }
    CHECK_OK(lavr_cuda_resnorm(&a, NULL));
    double *rr = xmalloc((size_t)(rows * C) * 8), *yr = xmalloc((size_t)(rows * C) * 8);
    resnorm_ref(&a, x, a.add_bf16 ? addb : NULL, a.add_f32 ? addf : NULL, bias, a.gate ? gate : NULL, shift, scale, w, b,
                rr, yr);
    float *hr = host_of_f32(dr, rows * C), *hy = host_of_bf16(dy, rows * C);
    const double er = rel_l2(hr, rr, rows * C), ey = rel_l2(hy, yr, rows * C);
    /* the residual is the same fp32 arithmetic; the norm output may differ by one bf16 rounding near ties */
    CHECK_MSG(er <= 1e-7, "%s: residual rel L2 %.3g", name, er);
    CHECK_MSG(ey <= 4e-3, "%s: output rel L2 %.3g", name, ey);
    printf("resnorm %-45s residual %.2e  output %.2e (limits 1e-7, 4e-3)\n", name, er, ey);
    free(rr), free(yr), free(hr), free(hy);
    free(x), free(addb), free(addf), free(bias), free(gate), free(shift), free(scale), free(w), free(b);
    cudaFree(dx), cudaFree(daf), cudaFree(dg), cudaFree(dsh), cudaFree(dsc), cudaFree(dw), cudaFree(db);
    cudaFree(dab), cudaFree(dbias), cudaFree(dy), cudaFree(dr);
}

/* ---- RoPE factors, q/k norm + RoPE, sink re-rope ------------------------------------------------------- */
static void check_qk(void) {
    const int64_t H = 3, D = 128, dh = H * D, L = 2 * 5 * 7, hp = 5, wp = 7, half = D / 2;
    const int64_t params[2] = {123456, 31}; /* a late first frame (long renders) and a reference frame */
    int64_t *dparams = dev(params, sizeof params);
    /* block mode against lavr_rope_factor */
    float *dfac = dev(NULL, (size_t)(L * half) * 8);
    CHECK_OK(lavr_cuda_rope_factors(L, D, NULL, hp, wp, 0, dparams, dfac, NULL));
    float *fac = host_of_f32(dfac, L * half * 2);
    int exact = 1;
    for (int64_t t = 0; t < L; t++)
        for (int64_t j = 0; j < half; j++) {
            const int64_t pos[3] = {params[0] + t / (hp * wp), (t / wp) % hp, t % wp};
            double c, s;
            lavr_rope_factor(D, j, pos, &c, &s);
            exact &= fac[(t * half + j) * 2] == (float)c && fac[(t * half + j) * 2 + 1] == (float)s;
        }
    CHECK_MSG(exact, "block RoPE factors differ from lavr_rope_factor");
    /* table mode: negative frames (conjugate) and the reference override of the first tokens */
    int64_t *pos = xmalloc((size_t)(L * 3) * 8);
    for (int64_t t = 0; t < L; t++) pos[t * 3] = t - 40, pos[t * 3 + 1] = t % 9, pos[t * 3 + 2] = t % 11;
    int64_t *dpos = dev(pos, (size_t)(L * 3) * 8);
    float *dfs = dev(NULL, (size_t)(L * half) * 8);
    const int64_t ref_tokens = 6;
    CHECK_OK(lavr_cuda_rope_factors(L, D, dpos, 0, 0, ref_tokens, dparams, dfs, NULL));
    float *fs = host_of_f32(dfs, L * half * 2);
    exact = 1;
    for (int64_t t = 0; t < L; t++)
        for (int64_t j = 0; j < half; j++) {
            int64_t p[3] = {t < ref_tokens ? params[1] : pos[t * 3], pos[t * 3 + 1], pos[t * 3 + 2]};
            double c, s;
            lavr_rope_factor(D, j, p, &c, &s);
            exact &= fs[(t * half + j) * 2] == (float)c && fs[(t * half + j) * 2 + 1] == (float)s;
        }
    CHECK_MSG(exact, "table RoPE factors differ from lavr_rope_factor");

    /* q/k/v from a [L, 3dh] GEMM output; k and v into a window at slot 3*L... of a larger buffer */
    float *src = rnd(L * 3 * dh, 1.0f, 0.0f, 1), *gq = rnd(dh, 0.2f, 1.0f, 1), *gk = rnd(dh, 0.2f, 1.0f, 1);
    uint16_t *dsrc = dev_bf16(src, L * 3 * dh);
    float *dgq = dev(gq, dh * 4), *dgk = dev(gk, dh * 4);
    const int64_t slot = 2 * L, W = 4 * L;
    int64_t *dslot = dev(&slot, 8);
    uint16_t *dq = dev(NULL, L * dh * 2), *dk = dev(NULL, W * dh * 2), *dv = dev(NULL, W * dh * 2);
    uint16_t *draw = dev(NULL, L * dh * 2);
    lavr_qknorm_args a;
    memset(&a, 0, sizeof a);
    a.L = L, a.H = H, a.D = D, a.full = dh, a.src = dsrc, a.ld_src = 3 * dh, a.k_col = dh, a.v_col = 2 * dh;
    a.gain_q = dgq, a.gain_k = dgk, a.eps = 1e-6f, a.fac = dfac, a.q_out = dq, a.k_out = dk, a.k_raw_out = draw;
    a.v_out = dv, a.ld_q = dh, a.ld_k = dh, a.ld_v = dh, a.slot = dslot;
    CHECK_OK(lavr_cuda_qk_norm_rope(&a, NULL));
    double *qr = xmalloc((size_t)(L * dh) * 8), *kr = xmalloc((size_t)(L * dh) * 8), *rawr = xmalloc((size_t)(L * dh) * 8);
    for (int64_t r = 0; r < L; r++)
        for (int which = 0; which < 2; which++) {
            const float *in = src + r * 3 * dh + which * dh, *gain = which ? gk : gq;
            double sq = 0;
            for (int64_t c = 0; c < dh; c++) sq += (double)in[c] * in[c];
            const float inv = (float)(1.0 / sqrt((double)(float)sq / (double)dh + (double)1e-6f));
            double *o = which ? kr : qr;
            for (int64_t c = 0; c < dh; c += 2) {
                const double x0 = rb(rb((double)(in[c] * inv)) * gain[c]);
                const double x1 = rb(rb((double)(in[c + 1] * inv)) * gain[c + 1]);
                const float *f = fac + (r * half + (c % D) / 2) * 2;
                if (which) rawr[r * dh + c] = x0, rawr[r * dh + c + 1] = x1;
                o[r * dh + c] = rb((float)(x0 * f[0] - x1 * f[1]));
                o[r * dh + c + 1] = rb((float)(x0 * f[1] + x1 * f[0]));
            }
        }
    float *hq = host_of_bf16(dq, L * dh), *hk = host_of_bf16(dk + slot * dh, L * dh), *hraw = host_of_bf16(draw, L * dh);
    float *hv = host_of_bf16(dv + slot * dh, L * dh);
    double eq = rel_l2(hq, qr, L * dh), ek = rel_l2(hk, kr, L * dh), eraw = rel_l2(hraw, rawr, L * dh);
    int v_same = 1;
    for (int64_t r = 0; r < L; r++)
        for (int64_t c = 0; c < dh; c++) v_same &= hv[r * dh + c] == src[r * 3 * dh + 2 * dh + c];
    /* one rounding of the fp32 rsqrt factor may differ from the host's near ties */
    CHECK_MSG(eq <= 2e-3 && ek <= 2e-3 && eraw <= 2e-3, "qk norm+rope rel L2 q %.3g k %.3g raw %.3g", eq, ek, eraw);
    CHECK_MSG(v_same, "v not copied into the window slot");
    printf("qk norm + RoPE: q %.2e, k %.2e, k before RoPE %.2e (limit 2e-3), v copy %s\n", eq, ek, eraw,
           v_same ? "exact" : "WRONG");
    /* the sink re-rope equals the RoPE step of the kernel */
    uint16_t *dro = dev(NULL, L * dh * 2);
    CHECK_OK(lavr_cuda_rope_bf16(draw, L, H, D, dfac, dro, NULL));
    float *hro = host_of_bf16(dro, L * dh);
    int same = 1;
    for (int64_t i = 0; i < L * dh; i++) same &= hro[i] == hk[i];
    CHECK_MSG(same, "rope_bf16 of the raw keys differs from the fused kernel's roped keys");
    free(fac), free(fs), free(pos), free(src), free(gq), free(gk), free(qr), free(kr), free(rawr);
    free(hq), free(hk), free(hraw), free(hv), free(hro);
    cudaFree(dparams), cudaFree(dfac), cudaFree(dpos), cudaFree(dfs), cudaFree(dsrc), cudaFree(dgq), cudaFree(dgk);
    cudaFree(dslot), cudaFree(dq), cudaFree(dk), cudaFree(dv), cudaFree(draw), cudaFree(dro);
}

/* ---- attention: cuDNN SDPA (+ statistics and the merge) and lavr's bf16 kernel ----------------------------- */
/* host attention in double over keys [k0, k1): out [Lq, H, D], lse [H, Lq] */
static void attn_ref(const float *q, const float *k, const float *v, int64_t Lq, int64_t H, int64_t D, int64_t k0,
                     int64_t k1, double *out, double *lse) {
    const double scale = 1.0 / sqrt((double)D);
    double *s = xmalloc((size_t)(k1 - k0) * 8);
    for (int64_t i = 0; i < Lq; i++)
        for (int64_t h = 0; h < H; h++) {
            double m = -INFINITY, sum = 0;
            for (int64_t j = k0; j < k1; j++) {
                double dot = 0;
                for (int64_t e = 0; e < D; e++) dot += (double)q[(i * H + h) * D + e] * k[(j * H + h) * D + e];
                s[j - k0] = dot * scale;
                if (s[j - k0] > m) m = s[j - k0];
            }
            for (int64_t j = k0; j < k1; j++) sum += exp(s[j - k0] - m);
            for (int64_t e = 0; e < D; e++) {
                double acc = 0;
                for (int64_t j = k0; j < k1; j++) acc += exp(s[j - k0] - m) * v[(j * H + h) * D + e];
                out[(i * H + h) * D + e] = acc / sum;
            }
            if (lse) lse[h * Lq + i] = m + log(sum);
        }
    free(s);
}

static void check_attention(lavr_cuda_sdpa *sdpa) {
    const int64_t H = 2, D = 128, dh = H * D, Lq = 200, Lk1 = 333, Lk2 = 170, Lk = Lk1 + Lk2;
    float *q = rnd(Lq * dh, 1.0f, 0.0f, 1), *k = rnd(Lk * dh, 1.0f, 0.0f, 1), *v = rnd(Lk * dh, 1.0f, 0.0f, 1);
    uint16_t *dq = dev_bf16(q, Lq * dh), *dk = dev_bf16(k, Lk * dh), *dv = dev_bf16(v, Lk * dh);
    double *ref = xmalloc((size_t)(Lq * dh) * 8), *ref1 = xmalloc((size_t)(Lq * dh) * 8);
    double *ref2 = xmalloc((size_t)(Lq * dh) * 8), *lse1 = xmalloc((size_t)(H * Lq) * 8), *lse2 = xmalloc((size_t)(H * Lq) * 8);
    attn_ref(q, k, v, Lq, H, D, 0, Lk, ref, NULL);
    attn_ref(q, k, v, Lq, H, D, 0, Lk1, ref1, lse1);
    attn_ref(q, k, v, Lq, H, D, Lk1, Lk, ref2, lse2);
    /* lavr's kernel, both segments in one call */
    uint16_t *dout = dev(NULL, Lq * dh * 2);
    const lavr_cuda_kv_segment segs[2] = {{dk, dv, Lk1, dh}, {dk + Lk1 * dh, dv + Lk1 * dh, Lk2, dh}};
    CHECK_OK(lavr_cuda_attention_bf16(dq, Lq, H, D, dh, segs, 2, (float)(1.0 / sqrt((double)D)), dout, dh, NULL));
    float *h = host_of_bf16(dout, Lq * dh);
    const double e_own = rel_l2(h, ref, Lq * dh);
    CHECK_MSG(e_own <= 1e-2, "lavr bf16 attention rel L2 %.3g", e_own);
    printf("attention (own kernel, bf16 in/out, 2 segments): rel L2 %.2e (limit 1e-2)\n", e_own);
    free(h);
    /* the merge of two exact halves (bf16-rounded) */
    float *o1 = xmalloc((size_t)(Lq * dh) * 4), *o2 = xmalloc((size_t)(Lq * dh) * 4);
    float *l1 = xmalloc((size_t)(H * Lq) * 4), *l2 = xmalloc((size_t)(H * Lq) * 4);
    for (int64_t i = 0; i < Lq * dh; i++) o1[i] = (float)ref1[i], o2[i] = (float)ref2[i];
    for (int64_t i = 0; i < H * Lq; i++) l1[i] = (float)lse1[i], l2[i] = (float)lse2[i];
    uint16_t *do1 = dev_bf16(o1, Lq * dh), *do2 = dev_bf16(o2, Lq * dh);
    float *dl1 = dev(l1, H * Lq * 4), *dl2 = dev(l2, H * Lq * 4);
    CHECK_OK(lavr_cuda_attn_merge(do1, dl1, do2, dl2, Lq, H, D, do1, NULL));
    h = host_of_bf16(do1, Lq * dh);
    const double e_merge = rel_l2(h, ref, Lq * dh);
    CHECK_MSG(e_merge <= 6e-3, "attention merge rel L2 %.3g", e_merge);
    printf("attention merge of two halves by log-sum-exp: rel L2 %.2e (limit 6e-3)\n", e_merge);
    free(h);
    if (sdpa) {
        /* cuDNN over segment 1 with statistics */
        lavr_sdpa_args a;
        memset(&a, 0, sizeof a);
        a.batch = 1, a.heads = H, a.lq = Lq, a.lk = Lk1, a.head_dim = D, a.q = dq, a.k = dk, a.v = dv, a.o = dout;
        a.q_row = dh, a.q_batch = Lq * dh, a.kv_row = dh, a.kv_batch = Lk1 * dh, a.o_row = dh, a.o_batch = Lq * dh;
        float *dst = dev(NULL, H * Lq * 4);
        a.stats = dst, a.scale = (float)(1.0 / sqrt((double)D));
        lavr_status st;
        const int ok = lavr_cuda_sdpa_ready(sdpa, &a, &st);
        CHECK_OK(st);
        CHECK_MSG(ok, "cuDNN has no engine for Lq %lld x Lk %lld", (long long)Lq, (long long)Lk1);
        if (ok) {
            CHECK_OK(lavr_cuda_sdpa_run(sdpa, &a));
            h = host_of_bf16(dout, Lq * dh);
            float *hs = host_of_f32(dst, H * Lq);
            const double e1 = rel_l2(h, ref1, Lq * dh), es = rel_l2(hs, lse1, H * Lq);
            CHECK_MSG(e1 <= 1e-2 && es <= 1e-4, "cuDNN SDPA rel L2 %.3g, statistics %.3g", e1, es);
            printf("cuDNN SDPA: output rel L2 %.2e (limit 1e-2), log-sum-exp statistics %.2e (limit 1e-4)\n", e1, es);
            free(h), free(hs);
        }
        /* batched, v with its own strides (the audio injector's layout: v rows 2dh apart in a k|v buffer) */
        const int64_t B = 3, P = 40, NA = 9;
        float *bq = rnd(B * P * dh, 1.0f, 0.0f, 1), *bkv = rnd(B * NA * 2 * dh, 1.0f, 0.0f, 1);
        float *kk = xmalloc((size_t)(B * NA * dh) * 4), *vv = xmalloc((size_t)(B * NA * dh) * 4);
        for (int64_t r = 0; r < B * NA; r++)
            for (int64_t c = 0; c < dh; c++) kk[r * dh + c] = bkv[r * 2 * dh + c], vv[r * dh + c] = bkv[r * 2 * dh + dh + c];
        uint16_t *dbq = dev_bf16(bq, B * P * dh), *dkv = dev_bf16(bkv, B * NA * 2 * dh), *dkk = dev_bf16(kk, B * NA * dh);
        uint16_t *dbo = dev(NULL, B * P * dh * 2);
        memset(&a, 0, sizeof a);
        a.batch = B, a.heads = H, a.lq = P, a.lk = NA, a.head_dim = D, a.q = dbq, a.k = dkk, a.v = dkv + dh, a.o = dbo;
        a.q_row = dh, a.q_batch = P * dh, a.kv_row = dh, a.kv_batch = NA * dh, a.v_row = 2 * dh, a.v_batch = NA * 2 * dh;
        a.o_row = dh, a.o_batch = P * dh, a.scale = (float)(1.0 / sqrt((double)D));
        const int okb = lavr_cuda_sdpa_ready(sdpa, &a, &st);
        CHECK_OK(st);
        if (okb) {
            CHECK_OK(lavr_cuda_sdpa_run(sdpa, &a));
            h = host_of_bf16(dbo, B * P * dh);
            double worst = 0;
            double *rb_ = xmalloc((size_t)(P * dh) * 8);
            for (int64_t f = 0; f < B; f++) {
                attn_ref(bq + f * P * dh, kk + f * NA * dh, vv + f * NA * dh, P, H, D, 0, NA, rb_, NULL);
                const double e = rel_l2(h + f * P * dh, rb_, P * dh);
                if (e > worst) worst = e;
            }
            CHECK_MSG(worst <= 1e-2, "cuDNN batched SDPA rel L2 %.3g", worst);
            printf("cuDNN SDPA batched (%lld x %lld queries, %lld keys, strided v): worst rel L2 %.2e (limit 1e-2)\n",
                   (long long)B, (long long)P, (long long)NA, worst);
            free(rb_), free(h);
        } else {
            printf("cuDNN SDPA batched: no engine for this shape (the DiT uses lavr's kernel there)\n");
        }
        free(bq), free(bkv), free(kk), free(vv);
        cudaFree(dbq), cudaFree(dkv), cudaFree(dkk), cudaFree(dbo), cudaFree(dst);
    }
    free(q), free(k), free(v), free(ref), free(ref1), free(ref2), free(lse1), free(lse2), free(o1), free(o2), free(l1);
    free(l2);
    cudaFree(dq), cudaFree(dk), cudaFree(dv), cudaFree(dout), cudaFree(do1), cudaFree(do2), cudaFree(dl1), cudaFree(dl2);
}

/* ---- GEMMs: bf16 with bias and GELU epilogue; FP8 with the activation quantiser ------------------------------ */
static double gelu_tanh(double x) { return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }

static void check_gemm(lavr_cuda_blas *blas) {
    const int64_t M = 150, K = 512, N = 384;
    float *x = rnd(M * K, 1.0f, 0.0f, 1), *w = rnd(N * K, 0.05f, 0.0f, 1), *b = rnd(N, 0.1f, 0.0f, 1);
    uint16_t *dx = dev_bf16(x, M * K), *dw = dev_bf16(w, N * K), *db = dev_bf16(b, N), *dy = dev(NULL, M * N * 2);
    double *ref = xmalloc((size_t)(M * N) * 8), *refg = xmalloc((size_t)(M * N) * 8);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double acc = b[j];
            for (int64_t e = 0; e < K; e++) acc += (double)x[i * K + e] * w[j * K + e];
            ref[i * N + j] = acc, refg[i * N + j] = gelu_tanh(acc);
        }
    for (int gelu = 0; gelu < 2; gelu++) {
        lavr_cuda_gemm_args a;
        memset(&a, 0, sizeof a);
        a.M = M, a.N = N, a.K = K, a.x = dx, a.x_type = LAVR_GEMM_BF16, a.w = dw, a.w_type = LAVR_GEMM_BF16;
        a.bias = db, a.epilogue = gelu ? LAVR_GEMM_EPI_GELU : LAVR_GEMM_EPI_NONE, a.y = dy, a.y_type = LAVR_GEMM_BF16;
        CHECK_OK(lavr_cuda_gemm(blas, &a, NULL));
        float *h = host_of_bf16(dy, M * N);
        const double e = rel_l2(h, gelu ? refg : ref, M * N);
        CHECK_MSG(e <= 5e-3, "bf16 GEMM%s rel L2 %.3g", gelu ? " + GELU" : "", e);
        printf("GEMM bf16 -> bf16 + bias%s: rel L2 %.2e (limit 5e-3)\n", gelu ? " + GELU (tanh) epilogue" : "", e);
        free(h);
    }
    /* FP8: the per-tensor quantiser against the host e4m3 conversion, then the GEMM against the dequantised operands */
    float *damax = dev(NULL, 4), *dinvx = dev(NULL, 4), *dinvw = dev(NULL, 4);
    uint8_t *dxq = dev(NULL, M * K), *dwq = dev(NULL, N * K);
    CHECK_OK(lavr_cuda_amax_bf16(dx, M * K, damax, NULL));
    float *hamax = host_of_f32(damax, 1);
    float amax = 0;
    for (int64_t i = 0; i < M * K; i++) amax = fmaxf(amax, fabsf(x[i]));
    CHECK_MSG(*hamax == amax, "amax %g, expected %g", *hamax, amax);
    CHECK_OK(lavr_cuda_quantize_fp8(dx, M * K, damax, dxq, dinvx, NULL));
    CHECK_OK(lavr_cuda_amax_bf16(dw, N * K, damax, NULL));
    CHECK_OK(lavr_cuda_quantize_fp8(dw, N * K, damax, dwq, dinvw, NULL));
    uint8_t *hxq = xmalloc((size_t)(M * K));
    float *hinv = host_of_f32(dinvx, 1);
    cudaMemcpy(hxq, dxq, (size_t)(M * K), cudaMemcpyDeviceToHost);
    const float s = fminf(448.0f / amax, 448.0f);
    int same = fabsf(*hinv - 1.0f / s) <= 1e-7f * (1.0f / s);
    for (int64_t i = 0; i < M * K; i++) same &= hxq[i] == lavr_f32_to_fp8e4m3(fminf(fmaxf(x[i] * s, -448.0f), 448.0f));
    CHECK_MSG(same, "FP8 quantisation differs from the host e4m3 of x * min(448/amax, 448)");
    float *hinvw = host_of_f32(dinvw, 1);
    uint8_t *hwq = xmalloc((size_t)(N * K));
    cudaMemcpy(hwq, dwq, (size_t)(N * K), cudaMemcpyDeviceToHost);
    double *ref8 = xmalloc((size_t)(M * N) * 8);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double acc = 0;
            for (int64_t e = 0; e < K; e++) acc += (double)lavr_fp8e4m3_to_f32(hxq[i * K + e]) * lavr_fp8e4m3_to_f32(hwq[j * K + e]);
            ref8[i * N + j] = rb(acc * *hinv * *hinvw + b[j]);
        }
    lavr_cuda_gemm_args a;
    memset(&a, 0, sizeof a);
    a.M = M, a.N = N, a.K = K, a.x = dxq, a.x_type = LAVR_GEMM_FP8, a.w = dwq, a.w_type = LAVR_GEMM_FP8;
    a.x_scale = dinvx, a.w_scale = dinvw, a.bias = db, a.y = dy, a.y_type = LAVR_GEMM_BF16;
    CHECK_OK(lavr_cuda_gemm(blas, &a, NULL));
    float *h8 = host_of_bf16(dy, M * N);
    const double e8 = rel_l2(h8, ref8, M * N), e8b = rel_l2(h8, ref, M * N);
    CHECK_MSG(e8 <= 5e-3, "FP8 GEMM rel L2 %.3g against its dequantised operands", e8);
    CHECK_MSG(e8b <= 8e-2, "FP8 GEMM rel L2 %.3g against bf16", e8b);
    printf("GEMM FP8 e4m3 (per-tensor scales, fast accumulation): rel L2 %.2e vs dequantised operands (limit 5e-3), "
           "%.2e vs bf16 (limit 8e-2)\n", e8, e8b);
    /* the FP8 forms the DiT uses beyond this: GELU epilogue (ffn.0), 3 rows (AdaLN), fp32 partial sums (tp) */
    a.epilogue = LAVR_GEMM_EPI_GELU;
    CHECK_OK(lavr_cuda_gemm(blas, &a, NULL));
    a.epilogue = LAVR_GEMM_EPI_NONE, a.M = 3;
    CHECK_OK(lavr_cuda_gemm(blas, &a, NULL));
    float *dy32 = dev(NULL, M * N * 4);
    a.M = M, a.bias = NULL, a.y = dy32, a.y_type = LAVR_GEMM_F32;
    CHECK_OK(lavr_cuda_gemm(blas, &a, NULL));
    float *h32 = host_of_f32(dy32, M * N);
    double *ref32 = xmalloc((size_t)(M * N) * 8);
    for (int64_t i = 0; i < M * N; i++) ref32[i] = ref8[i] - b[i % N];
    const double e32 = rel_l2(h32, ref32, M * N);
    CHECK_MSG(e32 <= 5e-3, "FP8 GEMM to fp32 rel L2 %.3g", e32);
    free(h32), free(ref32);
    cudaFree(dy32);
    free(x), free(w), free(b), free(ref), free(refg), free(hamax), free(hxq), free(hinv), free(hinvw), free(hwq);
    free(ref8), free(h8);
    cudaFree(dx), cudaFree(dw), cudaFree(db), cudaFree(dy), cudaFree(damax), cudaFree(dinvx), cudaFree(dinvw);
    cudaFree(dxq), cudaFree(dwq);
}

int main(void) {
    if (lavr_device_count() < 1) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    const char *env = getenv("LAVR_TEST_SEED");
    seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    printf("seed %llu (LAVR_TEST_SEED replays)\n", (unsigned long long)seed);
    cudaSetDevice(0);
    for (int mode = 0; mode < 5; mode++) check_resnorm(mode);
    check_qk();
    lavr_cudnn *dnn = NULL;
    lavr_cuda_sdpa *sdpa = NULL;
    char ver[64];
    lavr_cudnn_describe(ver, sizeof ver);
    if (lavr_cudnn_version() >= LAVR_CUDNN_SDPA_MIN_VERSION) {
        CHECK_OK(lavr_cudnn_create(NULL, &dnn));
        if (dnn) CHECK_OK(lavr_cuda_sdpa_create(dnn, &sdpa));
    }
    printf("%s: %s\n", ver, sdpa ? "fused SDPA checked" : "no fused SDPA (own kernel only)");
    check_attention(sdpa);
    lavr_cuda_blas *blas = NULL;
    CHECK_OK(lavr_cuda_blas_create(0, &blas));
    if (blas) check_gemm(blas);
    lavr_cuda_blas_destroy(blas);
    lavr_cuda_sdpa_destroy(sdpa);
    lavr_cudnn_destroy(dnn);
    return check_summary("test_dit_fused");
}
