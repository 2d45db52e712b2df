/* GPU checks of the CUDA ops (kernels/cuda/ops_cuda.h) against the CPU reference ops
 * (kernels/ops.h, models/rope.h) on fresh random inputs, plus a timing table for linear, attention
 * and conv3d at DiT / VAE sizes. Exits 77 (skipped) without a CUDA device. Seed: LAVR_TEST_SEED or the clock. */
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
#include "kernels/cuda/ops_cuda.h"
#include "io/golden.h"
#include "parallel/device.h"
#include "kernels/ops.h"
#include "models/rope.h"

static uint64_t seed;
static uint64_t stream_no; /* every draw uses a new stream so inputs never repeat */

#define CU(call)                                                                                    \
    do {                                                                                            \
        cudaError_t e_ = (call);                                                                    \
        if (e_ != cudaSuccess) {                                                                    \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_));  \
            exit(1);                                                                                \
        }                                                                                           \
    } while (0)

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of host memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/* n normal samples times `scale` plus `shift`, optionally rounded to bf16. */
static float *random_floats(int64_t n, float scale, float shift, int round) {
    float *x = xmalloc((size_t)n * sizeof(float));
    lavr_rng_normal(seed, lavr_rng_stream(LAVR_STREAM_TEST, (uint32_t)++stream_no, 0, 0), 0, n, x);
    for (int64_t i = 0; i < n; i++) {
        x[i] = x[i] * scale + shift;
        if (round) x[i] = lavr_round_bf16(x[i]);
    }
    return x;
}

static uint16_t *to_bf16_host(const float *x, int64_t n) {
    uint16_t *h = xmalloc((size_t)n * sizeof(uint16_t));
    for (int64_t i = 0; i < n; i++) h[i] = lavr_f32_to_bf16(x[i]);
    return h;
}

static void *upload(const void *host, size_t bytes) {
    void *d;
    CU(cudaMalloc(&d, bytes));
    CU(cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice));
    return d;
}

/* A device buffer filled with NaN (all bits set), so unwritten outputs cannot pass. */
static void *poisoned(size_t bytes) {
    void *d;
    CU(cudaMalloc(&d, bytes));
    CU(cudaMemset(d, 0xff, bytes));
    return d;
}

static float *download(const void *dev, int64_t n) {
    float *h = xmalloc((size_t)n * sizeof(float));
    CU(cudaDeviceSynchronize());
    CU(cudaMemcpy(h, dev, (size_t)n * sizeof(float), cudaMemcpyDeviceToHost));
    return h;
}

static void expect_close(const char *what, const float *got, const float *want, int64_t n, double tol) {
    const double e = lavr_golden_rel_l2(got, want, n); /* NaN anywhere gives inf: fails */
    printf("  %-44s rel L2 %.3g (tol %.0e)\n", what, e, tol);
    CHECK_MSG(e <= tol, "%s: rel L2 %.3g > %.0e", what, e, tol);
}

/* ---- element-wise ------------------------------------------------------------------------------ */
typedef lavr_status (*gpu_map)(const float *, int64_t, float *, void *);
typedef void (*cpu_map)(const float *, int64_t, float *);

static void check_map(const char *what, gpu_map gpu, cpu_map cpu) {
    const int64_t n = 100003;
    float *x = random_floats(n, 4.0f, 0.0f, 0), *want = xmalloc((size_t)n * sizeof(float));
    cpu(x, n, want);
    float *dx = upload(x, (size_t)n * sizeof(float)), *dy = poisoned((size_t)n * sizeof(float));
    CHECK_OK(gpu(dx, n, dy, NULL));
    float *got = download(dy, n);
    /* device tanhf/erff/expf are within 2 ulp of the host's: allow 1e-6 relative (plus absolute) */
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        if (!(fabsf(got[i] - want[i]) <= 1e-6f * (1.0f + fabsf(want[i])))) bad++;
    printf("  %-44s %lld of %lld elements off by > 1e-6\n", what, (long long)bad, (long long)n);
    CHECK_MSG(bad == 0, "%s: %lld elements differ", what, (long long)bad);
    cudaFree(dx);
    cudaFree(dy);
    free(x);
    free(want);
    free(got);
}

static void test_elementwise(void) {
    printf("element-wise\n");
    check_map("gelu_tanh", lavr_cuda_gelu_tanh, lavr_op_gelu_tanh);
    check_map("gelu_erf", lavr_cuda_gelu_erf, lavr_op_gelu_erf);
    check_map("silu", lavr_cuda_silu, lavr_op_silu);

    /* rounding and casts are exact: bit-identical to core/dtype.h's RNE */
    const int64_t n = 65537;
    float *x = random_floats(n, 100.0f, 0.0f, 0);
    float *dx = upload(x, (size_t)n * sizeof(float));
    uint16_t *db = poisoned((size_t)n * sizeof(uint16_t));
    CHECK_OK(lavr_cuda_f32_to_bf16(dx, n, db, NULL));
    uint16_t *bits = xmalloc((size_t)n * sizeof(uint16_t));
    CU(cudaDeviceSynchronize());
    CU(cudaMemcpy(bits, db, (size_t)n * sizeof(uint16_t), cudaMemcpyDeviceToHost));
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) bad += bits[i] != lavr_f32_to_bf16(x[i]);
    CHECK_MSG(bad == 0, "f32_to_bf16: %lld of %lld differ", (long long)bad, (long long)n);

    float *dw = poisoned((size_t)n * sizeof(float));
    CHECK_OK(lavr_cuda_bf16_to_f32(db, n, dw, NULL));
    float *widened = download(dw, n);
    CHECK_OK(lavr_cuda_round_bf16(dx, n, NULL));
    float *rounded = download(dx, n);
    lavr_op_round_bf16(x, n);
    int64_t bad_round = 0, bad_widen = 0;
    for (int64_t i = 0; i < n; i++) {
        bad_round += memcmp(&rounded[i], &x[i], sizeof(float)) != 0;
        bad_widen += memcmp(&widened[i], &x[i], sizeof(float)) != 0;
    }
    printf("  %-44s %lld / %lld / %lld mismatches\n", "f32_to_bf16 / bf16_to_f32 / round_bf16", (long long)bad,
           (long long)bad_widen, (long long)bad_round);
    CHECK_MSG(bad_round == 0, "round_bf16: %lld differ", (long long)bad_round);
    CHECK_MSG(bad_widen == 0, "bf16_to_f32: %lld differ", (long long)bad_widen);
    cudaFree(dx);
    cudaFree(db);
    cudaFree(dw);
    free(x);
    free(bits);
    free(widened);
    free(rounded);
}

/* ---- normalisations ---------------------------------------------------------------------------- */
static void test_norms(void) {
    printf("normalisations\n");
    const int64_t rows = 67, cols = 5120, n = rows * cols;
    /* mean 3, std 0.5: a cancellation-prone LayerNorm input */
    float *x = random_floats(n, 0.5f, 3.0f, 0), *gamma = random_floats(cols, 0.3f, 1.0f, 0),
          *beta = random_floats(cols, 0.1f, 0.0f, 0);
    const int64_t vshape[1] = {cols};
    lavr_tensor tg = lavr_tensor_wrap(LAVR_F32, 1, vshape, gamma), tb = lavr_tensor_wrap(LAVR_F32, 1, vshape, beta);
    float *want = xmalloc((size_t)n * sizeof(float));
    float *dx = upload(x, (size_t)n * sizeof(float)), *dg = upload(gamma, (size_t)cols * sizeof(float)),
          *db = upload(beta, (size_t)cols * sizeof(float)), *dy = poisoned((size_t)n * sizeof(float));

    CHECK_OK(lavr_op_layernorm(x, rows, cols, &tg, &tb, 1e-6f, want));
    CHECK_OK(lavr_cuda_layernorm(dx, rows, cols, dg, db, 1e-6f, dy, NULL));
    float *got = download(dy, n);
    expect_close("layernorm (gamma, beta), 67x5120", got, want, n, 1e-5);
    free(got);

    CHECK_OK(lavr_op_layernorm(x, rows, cols, NULL, NULL, 1e-6f, want));
    CU(cudaMemset(dy, 0xff, (size_t)n * sizeof(float)));
    CHECK_OK(lavr_cuda_layernorm(dx, rows, cols, NULL, NULL, 1e-6f, dy, NULL));
    got = download(dy, n);
    expect_close("layernorm (no affine)", got, want, n, 1e-5);
    free(got);

    CHECK_OK(lavr_op_rmsnorm(x, rows, cols, 1e-6f, want));
    CHECK_OK(lavr_cuda_rmsnorm(dx, rows, cols, 1e-6f, dx, NULL)); /* in place */
    got = download(dx, n);
    expect_close("rmsnorm (in place)", got, want, n, 1e-5);
    free(got);

    cudaFree(dx);
    cudaFree(dg);
    cudaFree(db);
    cudaFree(dy);
    free(x);
    free(gamma);
    free(beta);
    free(want);
}

/* ---- linear ---------------------------------------------------------------------------------- */
/* `offset` shifts x (bf16 elements) and y (floats) inside their buffers: views less than 256-byte aligned. */
static void check_linear(lavr_cuda_blas *blas, int64_t M, int64_t K, int64_t N, int with_bias, int64_t offset) {
    float *x = random_floats(M * K, 1.0f, 0.0f, 1), *wf = random_floats(N * K, 0.05f, 0.0f, 1),
          *b = random_floats(N, 0.5f, 0.0f, 0);
    uint16_t *w = to_bf16_host(wf, N * K);
    const int64_t wshape[2] = {N, K}, bshape[1] = {N};
    lavr_tensor tw = lavr_tensor_wrap(LAVR_BF16, 2, wshape, w), tb = lavr_tensor_wrap(LAVR_F32, 1, bshape, b);
    float *want = xmalloc((size_t)(M * N) * sizeof(float));
    CHECK_OK(lavr_op_linear(x, M, K, &tw, with_bias ? &tb : NULL, want));

    /* the device path: fp32 activations -> bf16 operand (exact here: x is bf16-rounded) -> GEMM */
    float *dxf = upload(x, (size_t)(M * K) * sizeof(float));
    uint16_t *dx = poisoned((size_t)(M * K + offset) * sizeof(uint16_t));
    uint16_t *dw = upload(w, (size_t)(N * K) * sizeof(uint16_t));
    float *db = upload(b, (size_t)N * sizeof(float)), *dy = poisoned((size_t)(M * N + offset) * sizeof(float));
    CHECK_OK(lavr_cuda_f32_to_bf16(dxf, M * K, dx + offset, NULL));
    CHECK_OK(lavr_cuda_linear(blas, dx + offset, M, K, dw, N, with_bias ? db : NULL, dy + offset, NULL));
    float *got = download(dy + offset, M * N);
    char what[96];
    snprintf(what, sizeof what, "linear M=%lld K=%lld N=%lld%s%s", (long long)M, (long long)K, (long long)N,
             with_bias ? " +bias" : "", offset ? " (offset views)" : "");
    /* same exact bf16 products, fp32 sums in another order */
    expect_close(what, got, want, M * N, 1e-5);
    cudaFree(dxf);
    cudaFree(dx);
    cudaFree(dw);
    cudaFree(db);
    cudaFree(dy);
    free(x);
    free(wf);
    free(b);
    free(w);
    free(want);
    free(got);
}

static void test_linear(lavr_cuda_blas *blas) {
    printf("linear (cuBLASLt)\n");
    check_linear(blas, 77, 320, 200, 1, 0);
    check_linear(blas, 77, 320, 200, 0, 0);
    check_linear(blas, 130, 5120, 96, 1, 0);
    check_linear(blas, 1, 64, 8, 1, 0);
    check_linear(blas, 77, 320, 200, 1, 8); /* 16-byte aligned operands */
}

/* ---- attention ---------------------------------------------------------------------------------- */
typedef struct {
    int64_t Lq, H, D, q_extra;   /* q row stride = H*D + q_extra */
    int64_t len[2], kv_extra[2]; /* two segments (window, sink), row stride = H*D + kv_extra */
    int with_bias;
    double tol;
} attn_case;

static void check_attention(const attn_case *c) {
    const int64_t H = c->H, D = c->D, Lq = c->Lq, qs = H * D + c->q_extra;
    const int64_t lk = c->len[0] + c->len[1];
    const float scale = 1.0f / sqrtf((float)D);
    float *q = random_floats(Lq * qs, 1.0f, 0.0f, 1);
    lavr_kv_segment cpu_seg[2];
    lavr_cuda_kv_segment gpu_seg[2];
    uint16_t *kh[2], *vh[2];
    void *dk[2], *dv[2];
    for (int s = 0; s < 2; s++) {
        const int64_t rs = H * D + c->kv_extra[s], n = c->len[s] * rs;
        float *kf = random_floats(n > 0 ? n : 1, 1.0f, 0.0f, 0), *vf = random_floats(n > 0 ? n : 1, 1.0f, 0.0f, 0);
        kh[s] = to_bf16_host(kf, n > 0 ? n : 1);
        vh[s] = to_bf16_host(vf, n > 0 ? n : 1);
        free(kf);
        free(vf);
        dk[s] = upload(kh[s], (size_t)(n > 0 ? n : 1) * sizeof(uint16_t));
        dv[s] = upload(vh[s], (size_t)(n > 0 ? n : 1) * sizeof(uint16_t));
        cpu_seg[s] = (lavr_kv_segment){LAVR_BF16, kh[s], vh[s], c->len[s], rs};
        gpu_seg[s] = (lavr_cuda_kv_segment){dk[s], dv[s], c->len[s], rs};
    }
    float *bias = NULL, *dbias = NULL;
    if (c->with_bias) {
        bias = random_floats(H * Lq * lk, 2.0f, 0.0f, 0);
        /* head 0 row 1: every key -inf (output zeros); head H-1 row 2: T5's finite mask on every key
         * (uniform average of v); head 0 row 3: half the keys masked */
        for (int64_t j = 0; j < lk; j++) {
            if (Lq > 1) bias[(0 * Lq + 1) * lk + j] = -INFINITY;
            if (Lq > 2) bias[((H - 1) * Lq + 2) * lk + j] = -3.4028234663852886e38f;
            if (Lq > 3 && j % 2) bias[(0 * Lq + 3) * lk + j] = -INFINITY;
        }
        dbias = upload(bias, (size_t)(H * Lq * lk) * sizeof(float));
    }
    float *want = xmalloc((size_t)(Lq * H * D) * sizeof(float));
    CHECK_OK(lavr_op_attention(q, Lq, H, D, qs, cpu_seg, 2, scale, bias, want));
    float *dq = upload(q, (size_t)(Lq * qs) * sizeof(float)), *dout = poisoned((size_t)(Lq * H * D) * sizeof(float));
    CHECK_OK(lavr_cuda_attention(dq, Lq, H, D, qs, gpu_seg, 2, scale, dbias, dout, NULL));
    float *got = download(dout, Lq * H * D);
    char what[128];
    snprintf(what, sizeof what, "attention Lq=%lld H=%lld D=%lld Lk=%lld+%lld%s", (long long)Lq, (long long)H,
             (long long)D, (long long)c->len[0], (long long)c->len[1], c->with_bias ? " +bias" : "");
    expect_close(what, got, want, Lq * H * D, c->tol);
    if (c->with_bias && Lq > 1) {
        int nonzero = 0;
        for (int64_t d = 0; d < D; d++) nonzero += got[(1 * H + 0) * D + d] != 0.0f;
        CHECK_MSG(nonzero == 0, "%s: fully -inf row has %d non-zero outputs", what, nonzero);
    }
    for (int s = 0; s < 2; s++) {
        cudaFree(dk[s]);
        cudaFree(dv[s]);
        free(kh[s]);
        free(vh[s]);
    }
    cudaFree(dq);
    cudaFree(dout);
    cudaFree(dbias);
    free(q);
    free(bias);
    free(want);
    free(got);
}

static void test_attention(void) {
    printf("attention\n");
    /* tensor-core path (D 64/128): q and the softmax weights enter the MMAs as bf16 -> 1e-2;
     * the fp32 path (other D, or unaligned rows) matches to 1e-5 */
    const attn_case cases[] = {
        {150, 3, 128, 32, {200, 37}, {64, 0}, 1, 1e-2},
        {70, 2, 128, 0, {130, 0}, {0, 0}, 0, 1e-2},
        {97, 4, 64, 8, {64, 65}, {0, 16}, 1, 1e-2},
        {33, 2, 40, 3, {50, 21}, {2, 0}, 1, 1e-5},
        {45, 2, 128, 0, {70, 9}, {4, 0}, 1, 1e-5}, /* stride % 8 != 0: fp32 path */
        {20, 1, 200, 0, {30, 0}, {0, 0}, 0, 1e-5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_attention(&cases[i]);

    /* bad input is refused before any launch */
    float *buf = poisoned(4 * 128 * sizeof(float));
    lavr_cuda_kv_segment empty = {NULL, NULL, 0, 128};
    CHECK_FAILS(lavr_cuda_attention(buf, 4, 1, 128, 128, &empty, 1, 1.0f, NULL, buf, NULL), LAVR_E_ARG);
    cudaFree(buf);
}

/* ---- DiT block pieces ------------------------------------------------------------------------ */
/* Modulated LayerNorm: the fp32 statistics differ in the last bits, so the final bf16 rounding may land
 * one step of want away, and (bf16 LN) the rounded LN value one step of itself away, which moves the
 * output by up to |n (1 + scale)| / 128 = |want - shift| / 128. */
static int64_t modulated_far(const float *got, const float *want, const float *shift, int64_t rows, int64_t cols) {
    int64_t bad = 0;
    for (int64_t i = 0; i < rows * cols; i++) {
        const float tol = fabsf(want[i]) / 128.0f + fabsf(want[i] - shift[i % cols]) / 128.0f + 1e-6f;
        bad += !(fabsf(got[i] - want[i]) <= tol);
    }
    return bad;
}

static void test_dit_pieces(void) {
    printf("DiT block pieces\n");
    const int64_t rows = 300, cols = 1280, n = rows * cols;
    float *x = random_floats(n, 0.8f, 1.5f, 0), *shift = random_floats(cols, 0.3f, 0.0f, 0),
          *scale = random_floats(cols, 0.3f, 0.0f, 0), *want = xmalloc((size_t)n * sizeof(float));
    float *dx = upload(x, (size_t)n * sizeof(float)), *dshift = upload(shift, (size_t)cols * sizeof(float)),
          *dscale = upload(scale, (size_t)cols * sizeof(float)), *dy = poisoned((size_t)n * sizeof(float));
    for (int round_ln = 0; round_ln < 2; round_ln++) {
        CHECK_OK(lavr_op_modulated_layernorm(x, rows, cols, 1e-6f, round_ln, shift, scale, want));
        CU(cudaMemset(dy, 0xff, (size_t)n * sizeof(float)));
        CHECK_OK(lavr_cuda_modulated_layernorm(dx, rows, cols, 1e-6f, round_ln, dshift, dscale, dy, NULL));
        float *got = download(dy, n);
        /* fp32 statistics in another order: a rounding to bf16 may land one step away, rarely */
        const int64_t far = modulated_far(got, want, shift, rows, cols);
        int64_t differ = 0;
        for (int64_t i = 0; i < n; i++) differ += got[i] != want[i];
        printf("  %-44s %lld of %lld differ, %lld beyond a bf16 step of out and LN\n",
               round_ln ? "modulated layernorm (bf16 LN)" : "modulated layernorm", (long long)differ, (long long)n,
               (long long)far);
        CHECK_MSG(far == 0 && differ < n / 100, "modulated layernorm: %lld differ, %lld far", (long long)differ,
                  (long long)far);
        free(got);
    }

    /* gated residual: the same fp32 operations, so bit-identical */
    float *y = random_floats(n, 1.0f, 0.0f, 0), *gate = random_floats(cols, 0.5f, 0.0f, 0);
    float *dyv = upload(y, (size_t)n * sizeof(float)), *dgate = upload(gate, (size_t)cols * sizeof(float));
    for (int round = 0; round < 2; round++) {
        lavr_op_gated_residual(x, y, gate, rows, cols, round, want);
        CU(cudaMemset(dy, 0xff, (size_t)n * sizeof(float)));
        CHECK_OK(lavr_cuda_gated_residual(dx, dyv, dgate, rows, cols, round, dy, NULL));
        float *got = download(dy, n);
        int64_t differ = 0;
        for (int64_t i = 0; i < n; i++) differ += memcmp(&got[i], &want[i], sizeof(float)) != 0;
        printf("  %-44s %lld mismatches\n", round ? "gated residual (bf16)" : "gated residual", (long long)differ);
        CHECK_MSG(differ == 0, "gated residual: %lld differ", (long long)differ);
        free(got);
    }

    /* RoPE: L tokens with positions over the whole table range (and beyond), negative times included */
    const int64_t L = 700, H = 3, D = 128, stride = H * D + 8;
    float *q = random_floats(L * stride, 1.0f, 0.0f, 1), *qr = xmalloc((size_t)(L * stride) * sizeof(float));
    int64_t *pos = xmalloc((size_t)L * 3 * sizeof(int64_t));
    float *u = random_floats(L * 3, 1.0f, 0.0f, 0);
    for (int64_t i = 0; i < L * 3; i++) {
        const int64_t span = i % 3 == 0 ? 60000 : 200;
        pos[i] = (int64_t)(fabsf(u[i]) * (float)span / 3.0f) % span;
        if (i % 3 == 0 && i % 7 == 0) pos[i] = -pos[i] - 1;
    }
    memcpy(qr, q, (size_t)(L * stride) * sizeof(float));
    CHECK_OK(lavr_rope_apply(qr, L, H, D, stride, pos));
    float *dq = upload(q, (size_t)(L * stride) * sizeof(float));
    int64_t *dpos = upload(pos, (size_t)L * 3 * sizeof(int64_t));
    CHECK_OK(lavr_cuda_rope(dq, L, H, D, stride, dpos, NULL));
    float *got = download(dq, L * stride);
    int64_t differ = 0, far = 0;
    for (int64_t t = 0; t < L; t++)
        for (int64_t i = 0; i < stride; i++) {
            const float a = got[t * stride + i], b = qr[t * stride + i];
            if (i >= H * D) { /* padding between tokens is left alone */
                far += memcmp(&a, &q[t * stride + i], sizeof a) != 0;
                continue;
            }
            differ += memcmp(&a, &b, sizeof a) != 0;
            far += !(fabsf(a - b) <= fabsf(b) / 128.0f + 1e-6f);
        }
    printf("  %-44s %lld of %lld differ, %lld by more than a bf16 step\n", "rope 700 tokens, 3 heads of 128",
           (long long)differ, (long long)(L * H * D), (long long)far);
    CHECK_MSG(far == 0 && differ <= L * H * D / 10000, "rope: %lld differ, %lld far", (long long)differ, (long long)far);
    free(got);
    cudaFree(dq);
    cudaFree(dpos);
    free(q);
    free(qr);
    free(pos);
    free(u);

    cudaFree(dx);
    cudaFree(dshift);
    cudaFree(dscale);
    cudaFree(dy);
    cudaFree(dyv);
    cudaFree(dgate);
    free(x);
    free(shift);
    free(scale);
    free(want);
    free(y);
    free(gate);
}

/* ---- fp32 GEMM and convolutions --------------------------------------------------------------- */
static void test_convs(lavr_cuda_blas *blas) {
    printf("fp32 linear and convolutions\n");
    {   /* linear_f32 writing into a wider matrix (row stride N + 5) */
        const int64_t M = 77, K = 300, N = 130, ld = N + 5;
        float *x = random_floats(M * K, 1.0f, 0.0f, 0), *w = random_floats(N * K, 0.1f, 0.0f, 0),
              *b = random_floats(N, 0.5f, 0.0f, 0), *want = xmalloc((size_t)(M * N) * sizeof(float));
        const int64_t ws[2] = {N, K}, bs[1] = {N};
        lavr_tensor tw = lavr_tensor_wrap(LAVR_F32, 2, ws, w), tb = lavr_tensor_wrap(LAVR_F32, 1, bs, b);
        CHECK_OK(lavr_op_linear(x, M, K, &tw, &tb, want));
        float *dx = upload(x, (size_t)(M * K) * sizeof(float)), *dw = upload(w, (size_t)(N * K) * sizeof(float)),
              *db = upload(b, (size_t)N * sizeof(float)), *dy = poisoned((size_t)(M * ld) * sizeof(float));
        CHECK_OK(lavr_cuda_linear_f32(blas, dx, M, K, dw, N, db, dy, ld, NULL));
        float *all = download(dy, M * ld), *got = xmalloc((size_t)(M * N) * sizeof(float));
        int64_t touched = 0;
        for (int64_t r = 0; r < M; r++) {
            memcpy(got + r * N, all + r * ld, (size_t)N * sizeof(float));
            for (int64_t c = N; c < ld; c++) touched += !isnan(all[r * ld + c]);
        }
        expect_close("linear_f32 M=77 K=300 N=130 (row stride 135)", got, want, M * N, 1e-5);
        CHECK_MSG(touched == 0, "linear_f32 wrote %lld elements outside its columns", (long long)touched);
        cudaFree(dx); cudaFree(dw); cudaFree(db); cudaFree(dy);
        free(x); free(w); free(b); free(want); free(all); free(got);
    }
    {   /* the audio encoder's causal conv1d: 121 frames, strides 1 and 2 */
        const int64_t T = 121, cin = 96, cout = 64, K = 3;
        for (int64_t stride = 1; stride <= 2; stride++) {
            float *x = random_floats(T * cin, 1.0f, 0.0f, 0), *w = random_floats(cout * cin * K, 0.1f, 0.0f, 0),
                  *b = random_floats(cout, 0.5f, 0.0f, 0);
            const int64_t ws[3] = {cout, cin, K}, bs[1] = {cout}, tout = (T - 1) / stride + 1;
            lavr_tensor tw = lavr_tensor_wrap(LAVR_F32, 3, ws, w), tb = lavr_tensor_wrap(LAVR_F32, 1, bs, b);
            float *want = xmalloc((size_t)(tout * cout) * sizeof(float));
            int64_t n_out = 0;
            CHECK_OK(lavr_op_causal_conv1d(x, T, cin, &tw, &tb, stride, want, &n_out));
            float *dx = upload(x, (size_t)(T * cin) * sizeof(float)), *dw = upload(w, (size_t)(cout * cin * K) * sizeof(float)),
                  *db = upload(b, (size_t)cout * sizeof(float)), *dy = poisoned((size_t)(tout * cout) * sizeof(float)),
                  *scratch = poisoned((size_t)(tout * cin * K) * sizeof(float));
            CHECK_OK(lavr_cuda_causal_conv1d(blas, dx, T, cin, dw, cout, K, db, stride, dy, scratch, tout * cin * K, NULL));
            float *got = download(dy, tout * cout);
            expect_close(stride == 1 ? "causal conv1d T=121 96->64 stride 1" : "causal conv1d T=121 96->64 stride 2",
                         got, want, tout * cout, 1e-5);
            cudaFree(dx); cudaFree(dw); cudaFree(db); cudaFree(dy); cudaFree(scratch);
            free(x); free(w); free(b); free(want); free(got);
        }
    }
    /* the VAE's conv3d: causal 3x3x3 (pad t 2,0 / h,w 1,1), a strided one, a 1x1x1 one; small scratch
     * forces several chunks per frame */
    const struct {
        int64_t cin, t, h, w, cout, k[3], stride[3], pad[6], scratch;
    } cases[] = {
        {24, 4, 18, 22, 20, {3, 3, 3}, {1, 1, 1}, {2, 0, 1, 1, 1, 1}, 24 * 27 * 100},
        {16, 5, 17, 20, 12, {3, 3, 3}, {2, 2, 2}, {2, 0, 0, 1, 0, 1}, 16 * 27 * 1000},
        {32, 2, 9, 9, 48, {1, 1, 1}, {1, 1, 1}, {0, 0, 0, 0, 0, 0}, 32 * 7},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int64_t cin = cases[c].cin, cout = cases[c].cout, kvol = cases[c].k[0] * cases[c].k[1] * cases[c].k[2];
        const int64_t nx = cin * cases[c].t * cases[c].h * cases[c].w;
        float *x = random_floats(nx, 1.0f, 0.0f, 0), *w = random_floats(cout * cin * kvol, 0.1f, 0.0f, 0),
              *b = random_floats(cout, 0.5f, 0.0f, 0);
        const int64_t ws[5] = {cout, cin, cases[c].k[0], cases[c].k[1], cases[c].k[2]}, bs[1] = {cout};
        lavr_tensor tw = lavr_tensor_wrap(LAVR_F32, 5, ws, w), tb = lavr_tensor_wrap(LAVR_F32, 1, bs, b);
        int64_t dims[3], gdims[3] = {0, 0, 0};
        const int64_t in_dims[3] = {cases[c].t, cases[c].h, cases[c].w};
        for (int i = 0; i < 3; i++)
            dims[i] = (in_dims[i] + cases[c].pad[2 * i] + cases[c].pad[2 * i + 1] - cases[c].k[i]) / cases[c].stride[i] + 1;
        const int64_t ny = cout * dims[0] * dims[1] * dims[2];
        float *want = xmalloc((size_t)ny * sizeof(float));
        int64_t cdims[3];
        CHECK_OK(lavr_op_conv3d(x, cin, cases[c].t, cases[c].h, cases[c].w, &tw, &tb, cases[c].stride, cases[c].pad, want,
                                cdims));
        float *dx = upload(x, (size_t)nx * sizeof(float)), *dw = upload(w, (size_t)(cout * cin * kvol) * sizeof(float)),
              *db = upload(b, (size_t)cout * sizeof(float)), *dy = poisoned((size_t)ny * sizeof(float)),
              *scratch = poisoned((size_t)cases[c].scratch * sizeof(float));
        CHECK_OK(lavr_cuda_conv3d(blas, dx, cin, cases[c].t, cases[c].h, cases[c].w, dw, cout, cases[c].k, db,
                                  cases[c].stride, cases[c].pad, dy, gdims, scratch, cases[c].scratch, NULL));
        float *got = download(dy, ny);
        char what[96];
        snprintf(what, sizeof what, "conv3d %lld->%lld k%lld stride %lld, %lldx%lldx%lld out", (long long)cin,
                 (long long)cout, (long long)cases[c].k[0], (long long)cases[c].stride[0], (long long)dims[0],
                 (long long)dims[1], (long long)dims[2]);
        CHECK(gdims[0] == cdims[0] && gdims[1] == cdims[1] && gdims[2] == cdims[2] && cdims[0] == dims[0]);
        expect_close(what, got, want, ny, 1e-5);
        cudaFree(dx); cudaFree(dw); cudaFree(db); cudaFree(dy); cudaFree(scratch);
        free(x); free(w); free(b); free(want); free(got);
    }
}

/* ---- bench ----------------------------------------------------------------------------------- */
/* Fills a device buffer of n floats with a repeating block of random values. */
static float *device_random(int64_t n, float scale) {
    const int64_t block = (int64_t)1 << 20;
    float *host = random_floats(block, scale, 0.0f, 1), *d;
    CU(cudaMalloc((void **)&d, (size_t)n * sizeof(float)));
    for (int64_t i = 0; i < n; i += block)
        CU(cudaMemcpy(d + i, host, (size_t)(n - i < block ? n - i : block) * sizeof(float), cudaMemcpyHostToDevice));
    free(host);
    return d;
}

static uint16_t *device_random_bf16(int64_t n, float scale) {
    float *f = device_random(n, scale);
    uint16_t *b;
    CU(cudaMalloc((void **)&b, (size_t)n * sizeof(uint16_t)));
    CHECK_OK(lavr_cuda_f32_to_bf16(f, n, b, NULL));
    CU(cudaDeviceSynchronize());
    cudaFree(f);
    return b;
}

static void bench(lavr_cuda_blas *blas) {
    struct cudaDeviceProp prop;
    CU(cudaGetDeviceProperties(&prop, 0));
    printf("bench on %s (cudaEvents, mean of timed runs after warm-up)\n", prop.name);
    printf("  %-58s %10s %10s\n", "op", "ms", "TFLOP/s");
    cudaEvent_t t0, t1;
    CU(cudaEventCreate(&t0));
    CU(cudaEventCreate(&t1));

    const int64_t M = 3168, K = 5120, N = 5120;
    uint16_t *x = device_random_bf16(M * K, 1.0f), *w = device_random_bf16(N * K, 0.02f);
    float *b = device_random(N, 0.1f), *y;
    CU(cudaMalloc((void **)&y, (size_t)(M * N) * sizeof(float)));
    for (int bias = 1; bias >= 0; bias--) {
        for (int i = 0; i < 3; i++) CHECK_OK(lavr_cuda_linear(blas, x, M, K, w, N, bias ? b : NULL, y, NULL));
        const int iters = 20;
        CU(cudaEventRecord(t0, NULL));
        for (int i = 0; i < iters; i++) CHECK_OK(lavr_cuda_linear(blas, x, M, K, w, N, bias ? b : NULL, y, NULL));
        CU(cudaEventRecord(t1, NULL));
        CU(cudaEventSynchronize(t1));
        float ms;
        CU(cudaEventElapsedTime(&ms, t0, t1));
        ms /= iters;
        char what[96];
        snprintf(what, sizeof what, "linear bf16->f32 M=%lld K=%lld N=%lld%s", (long long)M, (long long)K,
                 (long long)N, bias ? " +bias" : "");
        printf("  %-58s %10.3f %10.1f\n", what, ms, 2.0 * M * K * N / (ms * 1e-3) / 1e12);
    }
    cudaFree(x);
    cudaFree(w);
    cudaFree(b);
    cudaFree(y);

    const int64_t Lq = 3168, H = 40, D = 128, win = 13728, sink = 1584, lk = win + sink;
    float *q = device_random(Lq * H * D, 1.0f), *out;
    uint16_t *kw = device_random_bf16(win * H * D, 1.0f), *vw = device_random_bf16(win * H * D, 1.0f);
    uint16_t *ks = device_random_bf16(sink * H * D, 1.0f), *vs = device_random_bf16(sink * H * D, 1.0f);
    CU(cudaMalloc((void **)&out, (size_t)(Lq * H * D) * sizeof(float)));
    const lavr_cuda_kv_segment segs[2] = {{kw, vw, win, H * D}, {ks, vs, sink, H * D}};
    for (int i = 0; i < 2; i++)
        CHECK_OK(lavr_cuda_attention(q, Lq, H, D, H * D, segs, 2, 1.0f / sqrtf((float)D), NULL, out, NULL));
    const int iters = 5;
    CU(cudaEventRecord(t0, NULL));
    for (int i = 0; i < iters; i++)
        CHECK_OK(lavr_cuda_attention(q, Lq, H, D, H * D, segs, 2, 1.0f / sqrtf((float)D), NULL, out, NULL));
    CU(cudaEventRecord(t1, NULL));
    CU(cudaEventSynchronize(t1));
    float ms;
    CU(cudaEventElapsedTime(&ms, t0, t1));
    ms /= iters;
    char what[96];
    snprintf(what, sizeof what, "attention Lq=%lld Lk=%lld+%lld H=%lld D=%lld", (long long)Lq, (long long)win,
             (long long)sink, (long long)H, (long long)D);
    printf("  %-58s %10.3f %10.1f\n", what, ms, 4.0 * Lq * lk * H * D / (ms * 1e-3) / 1e12);
    float *host = download(out, Lq * H * D);
    int64_t bad = 0;
    for (int64_t i = 0; i < Lq * H * D; i++) bad += !isfinite(host[i]);
    CHECK_MSG(bad == 0, "bench attention: %lld non-finite outputs", (long long)bad);
    free(host);
    cudaFree(q);
    cudaFree(out);
    cudaFree(kw);
    cudaFree(vw);
    cudaFree(ks);
    cudaFree(vs);

    /* the VAE decoder's widest full-resolution conv: 96 -> 96, 3x3x3, 6 input frames (2 cached + 4) at
     * 384x704, through 256 MiB of im2col scratch */
    const int64_t vc = 96, vt = 6, vh = 384, v_w = 704, ksz[3] = {3, 3, 3}, st[3] = {1, 1, 1}, pd[6] = {0, 0, 1, 1, 1, 1};
    const int64_t scratch_floats = ((int64_t)256 << 20) / 4;
    float *vx = device_random(vc * vt * vh * v_w, 1.0f), *vwt = device_random(vc * vc * 27, 0.05f),
          *vb = device_random(vc, 0.1f), *vy, *scratch;
    CU(cudaMalloc((void **)&vy, (size_t)(vc * 4 * vh * v_w) * sizeof(float)));
    CU(cudaMalloc((void **)&scratch, (size_t)scratch_floats * sizeof(float)));
    int64_t od[3];
    CHECK_OK(lavr_cuda_conv3d(blas, vx, vc, vt, vh, v_w, vwt, vc, ksz, vb, st, pd, vy, od, scratch, scratch_floats, NULL));
    CU(cudaEventRecord(t0, NULL));
    const int conv_iters = 3;
    for (int i = 0; i < conv_iters; i++)
        CHECK_OK(lavr_cuda_conv3d(blas, vx, vc, vt, vh, v_w, vwt, vc, ksz, vb, st, pd, vy, od, scratch, scratch_floats, NULL));
    CU(cudaEventRecord(t1, NULL));
    CU(cudaEventSynchronize(t1));
    CU(cudaEventElapsedTime(&ms, t0, t1));
    ms /= conv_iters;
    snprintf(what, sizeof what, "conv3d fp32 96->96 3x3x3 6x384x704 -> 4 frames");
    printf("  %-58s %10.3f %10.1f\n", what, ms, 2.0 * vc * vc * 27 * od[0] * od[1] * od[2] / (ms * 1e-3) / 1e12);
    cudaFree(vx);
    cudaFree(vwt);
    cudaFree(vb);
    cudaFree(vy);
    cudaFree(scratch);
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
}

int main(void) {
    if (lavr_device_count() == 0) {
        printf("test_cuda_ops: no CUDA device, skipped\n");
        return 77;
    }
    const char *env = getenv("LAVR_TEST_SEED");
    seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    printf("seed %llu (set LAVR_TEST_SEED to repeat)\n", (unsigned long long)seed);

    test_elementwise();
    test_norms();
    lavr_cuda_blas *blas = NULL;
    CHECK_OK(lavr_cuda_blas_create(0, &blas));
    if (blas) {
        test_linear(blas);
        test_attention();
        test_dit_pieces();
        test_convs(blas);
        bench(blas);
        lavr_cuda_blas_destroy(blas);
    }
    return check_summary("test_cuda_ops");
}
