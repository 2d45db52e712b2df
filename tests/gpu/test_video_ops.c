/* GPU checks of the video ops (kernels/video_ops.h): each CUDA op against its CPU reference on fresh random inputs
 * (bf16 values), through two CUDA contexts (convolutions by cuDNN when the build and the machine have it, and by
 * lavr's own kernel), including frame-range operands, channel counts that are not multiples of 8 (pad channels
 * must stay zero) and host <-> device transfers. Exits 77 without a CUDA device. Seed: LAVR_TEST_SEED or the clock.
 *
 * Tolerances (rel L2 of the CUDA result against the CPU one): exact for data movement and for the fp32 adds
 * (same operations in the same order); 3e-3 for convolutions and the RMS norm, whose fp32 sums run in another
 * order, so an output may land on the other side of a bf16 rounding boundary (one ulp = 2^-8 relative) in a
 * small fraction of elements; 1e-2 for attention, whose softmax weights enter P·V as bf16 on the GPU. */
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
#include "io/golden.h"
#include "kernels/ctx.h"
#include "kernels/video_ops.h"
#include "parallel/device.h"

static uint64_t seed, stream_no;
static lavr_arena *arena;
static lavr_ctx *cpu;

#define CONV_TOL 3e-3
#define NORM_TOL 3e-3
#define ATTN_TOL 1e-2

/* Host F32 video tensor of bf16 values: scale * N(0, 1) + shift. */
static lavr_tensor host_random(int64_t c, int64_t t, int64_t h, int64_t w, float scale, float shift) {
    lavr_tensor x = {0};
    CHECK_OK(lavr_ctx_alloc_video(cpu, c, t, h, w, "random", &x));
    const int64_t n = lavr_tensor_numel(&x);
    float *p = x.data;
    lavr_rng_normal(seed, lavr_rng_stream(LAVR_STREAM_TEST, (uint32_t)++stream_no, 0, 0), 0, n, p);
    for (int64_t i = 0; i < n; i++) p[i] = lavr_round_bf16(p[i] * scale + shift);
    return x;
}

static lavr_tensor host_vector(int64_t n, float scale, float shift, lavr_ctx *ctx) {
    float *v = malloc((size_t)n * sizeof *v);
    lavr_rng_normal(seed, lavr_rng_stream(LAVR_STREAM_TEST, (uint32_t)++stream_no, 0, 0), 0, n, v);
    for (int64_t i = 0; i < n; i++) v[i] = v[i] * scale + shift;
    lavr_tensor t = {0};
    CHECK_OK(lavr_ctx_upload_vector(ctx, v, n, "vector", &t));
    free(v);
    return t;
}

/* The same vector on both contexts (same stream number). */
static void vector_pair(int64_t n, float scale, float shift, lavr_ctx *gpu, lavr_tensor *on_cpu, lavr_tensor *on_gpu) {
    const uint64_t saved = stream_no;
    *on_cpu = host_vector(n, scale, shift, cpu);
    stream_no = saved;
    *on_gpu = host_vector(n, scale, shift, gpu);
}

static lavr_tensor to_gpu(lavr_ctx *gpu, const lavr_tensor *h) {
    lavr_tensor d = {0};
    CHECK_OK(lavr_ctx_alloc_video(gpu, h->shape[0], h->shape[1], h->shape[2], h->shape[3], "device copy", &d));
    CHECK_OK(lavr_ctx_copy(gpu, h, &d));
    return d;
}

static lavr_tensor to_host(lavr_ctx *gpu, const lavr_tensor *d) {
    lavr_tensor h = {0};
    CHECK_OK(lavr_ctx_alloc_video(cpu, d->shape[0], d->shape[1], d->shape[2], d->shape[3], "host copy", &h));
    CHECK_OK(lavr_ctx_copy(gpu, d, &h));
    return h;
}

/* A device video tensor filled with NaN bits (0xffff), so unwritten outputs cannot pass. */
static lavr_tensor gpu_poisoned(lavr_ctx *gpu, int64_t c, int64_t t, int64_t h, int64_t w) {
    lavr_tensor d = {0};
    CHECK_OK(lavr_ctx_alloc_video(gpu, c, t, h, w, "poisoned", &d));
    if (d.data) cudaMemset(d.data, 0xff, (size_t)(t * h * w * d.stride[3]) * 2);
    return d;
}

/* The pad channels [C, P) of every position of a device video tensor are zero. */
static void expect_zero_pad(const char *what, const lavr_tensor *d) {
    const int64_t C = d->shape[0], P = d->stride[3], npos = d->shape[1] * d->shape[2] * d->shape[3];
    if (P == C || !d->data) return;
    uint16_t *raw = malloc((size_t)(npos * P) * 2);
    cudaDeviceSynchronize();
    cudaMemcpy(raw, d->data, (size_t)(npos * P) * 2, cudaMemcpyDeviceToHost);
    int64_t bad = 0;
    for (int64_t p = 0; p < npos; p++)
        for (int64_t c = C; c < P; c++) bad += raw[p * P + c] != 0;
    free(raw);
    CHECK_MSG(bad == 0, "%s: %lld pad channel values are not zero", what, (long long)bad);
}

static void expect(const char *what, lavr_ctx *gpu, const lavr_tensor *d, const lavr_tensor *want, double tol) {
    lavr_tensor got = to_host(gpu, d);
    if (!got.data || !want->data) return;
    const int64_t n = lavr_tensor_numel(want);
    const double rel = lavr_golden_rel_l2(got.data, want->data, n);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) bad += !isfinite(((float *)got.data)[i]);
    CHECK_MSG(bad == 0 && (tol == 0 ? rel == 0 : rel <= tol), "%s on %s: rel L2 %.3g (limit %.3g), %lld non-finite",
              what, lavr_ctx_describe(gpu), rel, tol, (long long)bad);
    if (getenv("LAVR_TEST_VERBOSE")) printf("  %-52s rel L2 %.3g\n", what, rel);
    expect_zero_pad(what, d);
    lavr_ctx_free(cpu, &got);
}

/* ---- transfers and data movement ----------------------------------------------------------------- */

static void test_movement(lavr_ctx *gpu) {
    for (int64_t c = 3; c <= 20; c += 17) { /* 3: pitch 8 with pad channels; 20: pitch 24 */
        lavr_tensor x = host_random(c, 5, 6, 7, 1.0f, 0.0f), d = to_gpu(gpu, &x);
        expect("host -> device -> host", gpu, &d, &x, 0);
        /* frame ranges on both sides */
        lavr_tensor xr, dr, big = gpu_poisoned(gpu, c, 9, 6, 7), bigr;
        CHECK_OK(lavr_tensor_narrow(&x, 1, 1, 3, &xr));
        CHECK_OK(lavr_tensor_narrow(&big, 1, 4, 3, &bigr));
        CHECK_OK(lavr_ctx_copy(gpu, &xr, &bigr));
        lavr_tensor back = {0};
        CHECK_OK(lavr_ctx_alloc_video(cpu, c, 3, 6, 7, "range", &back));
        CHECK_OK(lavr_ctx_copy(gpu, &bigr, &back));
        lavr_tensor want = {0};
        CHECK_OK(lavr_ctx_alloc_video(cpu, c, 3, 6, 7, "want", &want));
        CHECK_OK(lavr_ctx_copy(cpu, &xr, &want));
        CHECK_MSG(lavr_golden_rel_l2(back.data, want.data, lavr_tensor_numel(&want)) == 0,
                  "frame range host -> device -> host differs (C=%lld)", (long long)c);
        /* device copy, zero, clamp, upsample */
        CHECK_OK(lavr_tensor_narrow(&d, 1, 1, 3, &dr));
        lavr_tensor dcopy = gpu_poisoned(gpu, c, 3, 6, 7);
        CHECK_OK(lavr_vop_copy(gpu, &dr, &dcopy));
        expect("device frame-range copy", gpu, &dcopy, &want, 0);
        CHECK_OK(lavr_vop_zero(gpu, &dcopy));
        CHECK_OK(lavr_vop_zero(cpu, &want));
        expect("zero", gpu, &dcopy, &want, 0);

        lavr_tensor cl = gpu_poisoned(gpu, c, 5, 6, 7), clh = {0};
        CHECK_OK(lavr_ctx_alloc_video(cpu, c, 5, 6, 7, "clamp", &clh));
        CHECK_OK(lavr_vop_clamp(gpu, &d, -0.5f, 0.75f, &cl));
        CHECK_OK(lavr_vop_clamp(cpu, &x, -0.5f, 0.75f, &clh));
        expect("clamp", gpu, &cl, &clh, 0);

        lavr_tensor up = gpu_poisoned(gpu, c, 5, 12, 14), uph = {0};
        CHECK_OK(lavr_ctx_alloc_video(cpu, c, 5, 12, 14, "upsample", &uph));
        CHECK_OK(lavr_vop_upsample2x(gpu, &d, &up));
        CHECK_OK(lavr_vop_upsample2x(cpu, &x, &uph));
        expect("upsample2x", gpu, &up, &uph, 0);

        lavr_ctx_free(gpu, &up), lavr_ctx_free(cpu, &uph), lavr_ctx_free(gpu, &cl), lavr_ctx_free(cpu, &clh);
        lavr_ctx_free(gpu, &dcopy), lavr_ctx_free(cpu, &want), lavr_ctx_free(cpu, &back), lavr_ctx_free(gpu, &big);
        lavr_ctx_free(gpu, &d), lavr_ctx_free(cpu, &x);
    }
}

/* ---- element-wise with deferred biases ----------------------------------------------------------- */

static void test_add_interleave(lavr_ctx *gpu) {
    const int64_t c = 12, t = 3, h = 5, w = 9;
    lavr_tensor a = host_random(c, t, h, w, 1.0f, 0.0f), b = host_random(c, t, h, w, 2.0f, 0.5f);
    lavr_tensor da = to_gpu(gpu, &a), db = to_gpu(gpu, &b), ab, abd, bb, bbd;
    vector_pair(c, 0.3f, 0.0f, gpu, &ab, &abd);
    vector_pair(c, 0.3f, 0.1f, gpu, &bb, &bbd);
    lavr_tensor y = gpu_poisoned(gpu, c, t, h, w), yh = {0};
    CHECK_OK(lavr_ctx_alloc_video(cpu, c, t, h, w, "add", &yh));
    CHECK_OK(lavr_vop_add(gpu, &da, &abd, &db, &bbd, 1, &y));
    CHECK_OK(lavr_vop_add(cpu, &a, &ab, &b, &bb, 1, &yh));
    expect("add with both biases", gpu, &y, &yh, 0);
    CHECK_OK(lavr_vop_add(gpu, &da, &abd, NULL, NULL, 1, &da)); /* in place: a deferred bias applied */
    CHECK_OK(lavr_vop_add(cpu, &a, &ab, NULL, NULL, 1, &a));
    expect("bias in place", gpu, &da, &a, 0);

    /* Up3d's time interleave of a [2C, T] conv output with its deferred bias */
    lavr_tensor x = host_random(2 * c, t, h, w, 1.0f, 0.0f), dx = to_gpu(gpu, &x), xb, xbd;
    vector_pair(2 * c, 0.2f, 0.0f, gpu, &xb, &xbd);
    lavr_tensor ti = gpu_poisoned(gpu, c, 2 * t, h, w), tih = {0};
    CHECK_OK(lavr_ctx_alloc_video(cpu, c, 2 * t, h, w, "interleave", &tih));
    CHECK_OK(lavr_vop_time_interleave(gpu, &dx, &xbd, 1, &ti));
    CHECK_OK(lavr_vop_time_interleave(cpu, &x, &xb, 1, &tih));
    expect("time interleave", gpu, &ti, &tih, 0);
    lavr_ctx_free(gpu, &ti), lavr_ctx_free(cpu, &tih), lavr_ctx_free(gpu, &dx), lavr_ctx_free(cpu, &x);
    lavr_ctx_free(gpu, &xbd), lavr_ctx_free(cpu, &xb), lavr_ctx_free(gpu, &y), lavr_ctx_free(cpu, &yh);
    lavr_ctx_free(gpu, &abd), lavr_ctx_free(cpu, &ab), lavr_ctx_free(gpu, &bbd), lavr_ctx_free(cpu, &bb);
    lavr_ctx_free(gpu, &da), lavr_ctx_free(gpu, &db), lavr_ctx_free(cpu, &a), lavr_ctx_free(cpu, &b);
}

/* ---- RMS norm -------------------------------------------------------------------------------------- */

static void test_norm(lavr_ctx *gpu) {
    const int64_t channels[] = {3, 8, 48, 96, 192, 200, 384, 1024};
    for (size_t i = 0; i < sizeof channels / sizeof *channels; i++)
        for (int variant = 0; variant < 2; variant++) {
            const int64_t c = channels[i], t = 2, h = 7, w = 9;
            const int silu = variant == 0, with_bias = variant == 0;
            lavr_tensor x = host_random(c, t, h, w, 1.5f, 0.2f), dx = to_gpu(gpu, &x), g, gd, b = {0}, bd = {0};
            vector_pair(c, 0.2f, 1.0f, gpu, &g, &gd);
            if (with_bias) vector_pair(c, 0.1f, 0.0f, gpu, &b, &bd);
            /* the output is a frame range of a larger tensor, as in a causal conv's input */
            lavr_tensor big = gpu_poisoned(gpu, c, t + 2, h, w), ys, yh = {0};
            CHECK_OK(lavr_tensor_narrow(&big, 1, 2, t, &ys));
            CHECK_OK(lavr_ctx_alloc_video(cpu, c, t, h, w, "norm", &yh));
            CHECK_OK(lavr_vop_rms_norm(gpu, &dx, with_bias ? &bd : NULL, &gd, silu, 1, &ys));
            CHECK_OK(lavr_vop_rms_norm(cpu, &x, with_bias ? &b : NULL, &g, silu, 1, &yh));
            char what[96];
            snprintf(what, sizeof what, "rms_norm C=%lld%s%s", (long long)c, silu ? " + silu" : "",
                     with_bias ? " (deferred bias)" : "");
            expect(what, gpu, &ys, &yh, NORM_TOL);
            lavr_ctx_free(gpu, &big), lavr_ctx_free(cpu, &yh), lavr_ctx_free(gpu, &dx), lavr_ctx_free(cpu, &x);
            lavr_ctx_free(gpu, &gd), lavr_ctx_free(cpu, &g), lavr_ctx_free(gpu, &bd), lavr_ctx_free(cpu, &b);
        }
}

/* ---- convolutions ------------------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    int64_t cin, cout, kt, kh, kw, t, h, w;
    int64_t stride[3], pad[6];
    int ndim;         /* weight rank: 5, or 4 for per-frame 2-D convs */
    int into_range;   /* write the output into frames [1, 1+To) of a larger tensor (Down3d's concatenation) */
} conv_case;

static void host_weights(const conv_case *k, lavr_tensor *w, lavr_tensor *b) {
    const int64_t shape5[5] = {k->cout, k->cin, k->kt, k->kh, k->kw}, shape4[4] = {k->cout, k->cin, k->kh, k->kw};
    CHECK_OK(lavr_tensor_alloc(arena, LAVR_F32, k->ndim, k->ndim == 5 ? shape5 : shape4, "w", w));
    CHECK_OK(lavr_tensor_alloc(arena, LAVR_F32, 1, &k->cout, "b", b));
    const int64_t n = lavr_tensor_numel(w);
    float *p = w->data, *q = b->data;
    lavr_rng_normal(seed, lavr_rng_stream(LAVR_STREAM_TEST, (uint32_t)++stream_no, 0, 0), 0, n, p);
    const float scale = (float)(1.0 / sqrt((double)(k->cin * k->kt * k->kh * k->kw)));
    for (int64_t i = 0; i < n; i++) p[i] = lavr_round_bf16(p[i] * scale);
    lavr_rng_normal(seed, lavr_rng_stream(LAVR_STREAM_TEST, (uint32_t)++stream_no, 0, 0), 0, k->cout, q);
    for (int64_t i = 0; i < k->cout; i++) q[i] = 0.1f * q[i];
}

static void copy_tensor(const lavr_tensor *src, lavr_tensor *dst) {
    CHECK_OK(lavr_tensor_alloc(arena, src->dtype, src->ndim, src->shape, "copy", dst));
    memcpy(dst->data, src->data, (size_t)lavr_tensor_nbytes(src));
}

static void test_conv_case(lavr_ctx *gpu, const conv_case *k) {
    lavr_tensor w, b, w2, b2;
    host_weights(k, &w, &b);
    copy_tensor(&w, &w2);
    copy_tensor(&b, &b2);
    lavr_conv_weights cw, gw;
    CHECK_OK(lavr_ctx_conv_weights(cpu, &w, &b, &cw));
    CHECK_OK(lavr_ctx_conv_weights(gpu, &w2, &b2, &gw));
    lavr_tensor x = host_random(k->cin, k->t, k->h, k->w, 1.0f, 0.0f), dx = to_gpu(gpu, &x);
    const int64_t in[3] = {k->t, k->h, k->w}, ks[3] = {k->kt, k->kh, k->kw};
    int64_t o[3];
    for (int i = 0; i < 3; i++) o[i] = (in[i] + k->pad[2 * i] + k->pad[2 * i + 1] - ks[i]) / k->stride[i] + 1;
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        lavr_tensor yh = {0}, big = gpu_poisoned(gpu, k->cout, o[0] + (k->into_range ? 2 : 0), o[1], o[2]), y = big;
        if (k->into_range) CHECK_OK(lavr_tensor_narrow(&big, 1, 1, o[0], &y));
        CHECK_OK(lavr_ctx_alloc_video(cpu, k->cout, o[0], o[1], o[2], "conv", &yh));
        CHECK_OK(lavr_vop_conv(gpu, &dx, &gw, with_bias, k->stride, k->pad, 1, &y));
        CHECK_OK(lavr_vop_conv(cpu, &x, &cw, with_bias, k->stride, k->pad, 1, &yh));
        char what[128];
        snprintf(what, sizeof what, "conv %s%s", k->name, with_bias ? " + bias" : "");
        expect(what, gpu, &y, &yh, CONV_TOL);
        lavr_ctx_free(gpu, &big), lavr_ctx_free(cpu, &yh);
    }
    lavr_ctx_free(gpu, &dx), lavr_ctx_free(cpu, &x);
    lavr_ctx_conv_weights_free(gpu, &gw);
    lavr_ctx_conv_weights_free(cpu, &cw);
}

static void test_convs(lavr_ctx *gpu) {
    const conv_case cases[] = {
        /* name, cin, cout, kt, kh, kw, t, h, w, stride, pad, ndim, into_range */
        {"causal 3x3x3 16->32 (2 cached + 3 frames)", 16, 32, 3, 3, 3, 5, 9, 11, {1, 1, 1}, {0, 0, 1, 1, 1, 1}, 5, 0},
        {"causal 3x3x3 3->8 (video input, pitch 8)", 3, 8, 3, 3, 3, 6, 16, 12, {1, 1, 1}, {0, 0, 1, 1, 1, 1}, 5, 0},
        {"causal 3x3x3 24->3 (head, pitch 8)", 24, 3, 3, 3, 3, 4, 8, 10, {1, 1, 1}, {0, 0, 1, 1, 1, 1}, 5, 0},
        {"pointwise 32->48 (GEMM)", 32, 48, 1, 1, 1, 3, 7, 5, {1, 1, 1}, {0}, 5, 0},
        {"pointwise 20->12 (pitch 24 -> 16)", 20, 12, 1, 1, 1, 2, 5, 5, {1, 1, 1}, {0}, 5, 0},
        {"Up2d 3x3 pad 1, 2-D 32->16", 32, 16, 1, 3, 3, 3, 10, 8, {1, 1, 1}, {0, 0, 1, 1, 1, 1}, 4, 0},
        {"Down2d 3x3 stride 2 pad right/bottom 16->16", 16, 16, 1, 3, 3, 4, 12, 10, {1, 2, 2}, {0, 0, 0, 1, 0, 1}, 4,
         1},
        {"time conv (3,1,1) 16->32", 16, 32, 3, 1, 1, 5, 6, 7, {1, 1, 1}, {0}, 5, 0},
        {"time conv (3,1,1) stride 2 16->16", 16, 16, 3, 1, 1, 5, 6, 7, {2, 1, 1}, {0}, 5, 0},
        {"causal 3x3x3 96->96 at 3x48x88", 96, 96, 3, 3, 3, 5, 48, 88, {1, 1, 1}, {0, 0, 1, 1, 1, 1}, 5, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) test_conv_case(gpu, &cases[i]);
}

/* The profile's per-shape sums (lavr_ctx_conv_times) on a fresh cuDNN context: shape A three times, shape B twice and
 * a pointwise conv (a GEMM, not cuDNN) once give two rows in first-use order with those counts, the FLOPs of the
 * shapes counted here, and ms that add up to the profile's cuDNN category; nothing is summed without profiling,
 * and reset clears the sums. */
static void conv_times_case(lavr_ctx *gpu, const conv_case *k, int times) {
    lavr_tensor w, b;
    host_weights(k, &w, &b);
    lavr_conv_weights gw;
    CHECK_OK(lavr_ctx_conv_weights(gpu, &w, &b, &gw));
    lavr_tensor x = host_random(k->cin, k->t, k->h, k->w, 1.0f, 0.0f), dx = to_gpu(gpu, &x);
    const int64_t in[3] = {k->t, k->h, k->w}, ks[3] = {k->kt, k->kh, k->kw};
    int64_t o[3];
    for (int i = 0; i < 3; i++) o[i] = (in[i] + k->pad[2 * i] + k->pad[2 * i + 1] - ks[i]) / k->stride[i] + 1;
    lavr_tensor y = gpu_poisoned(gpu, k->cout, o[0], o[1], o[2]);
    for (int r = 0; r < times; r++) CHECK_OK(lavr_vop_conv(gpu, &dx, &gw, 0, k->stride, k->pad, 1, &y));
    lavr_ctx_free(gpu, &y), lavr_ctx_free(gpu, &dx), lavr_ctx_free(cpu, &x);
    lavr_ctx_conv_weights_free(gpu, &gw);
}

static void test_conv_times(void) {
    lavr_ctx_cuda_options o = {.device = 0, .mem_cap = (uint64_t)1 << 30, .conv = LAVR_CONV_CUDNN};
    lavr_ctx *gpu = NULL;
    lavr_status st = lavr_ctx_create_cuda(&o, &gpu);
    if (st == LAVR_E_UNSUPPORTED) { /* no cuDNN: run_all said so */
        lavr_error_clear();
        return;
    }
    CHECK_OK(st);
    if (!gpu) return;
    const conv_case a = {"A", 16, 32, 3, 3, 3, 5, 9, 11, {1, 1, 1}, {0, 0, 1, 1, 1, 1}, 5, 0};
    const conv_case b = {"B", 32, 16, 1, 3, 3, 3, 10, 8, {1, 1, 1}, {0, 0, 1, 1, 1, 1}, 4, 0};
    const conv_case pw = {"pointwise", 32, 48, 1, 1, 1, 3, 7, 5, {1, 1, 1}, {0}, 5, 0};
    lavr_conv_time rows[4];
    conv_times_case(gpu, &a, 1); /* not profiling: not summed */
    CHECK_OK(lavr_ctx_sync(gpu));
    CHECK(lavr_ctx_conv_times(gpu, rows, 4) == 0);
    CHECK_OK(lavr_ctx_profile(gpu, 1));
    conv_times_case(gpu, &a, 3);
    conv_times_case(gpu, &b, 2);
    conv_times_case(gpu, &pw, 1);
    double ms[LAVR_CTX_PROF_CATEGORIES];
    int64_t calls[LAVR_CTX_PROF_CATEGORIES];
    CHECK_OK(lavr_ctx_profile_take(gpu, ms, calls));
    const int n = lavr_ctx_conv_times(gpu, rows, 4);
    CHECK(n == 2);
    if (n == 2) {
        /* 2 * multiply-adds: outputs x cout x cin x taps (A: 3x9x11 outputs, 27 taps; B: 3 frames of 10x8, 9 taps) */
        const double gflop_a = 2e-9 * (3 * 9 * 11) * 32 * 16 * 27, gflop_b = 2e-9 * (3 * 10 * 8) * 16 * 32 * 9;
        CHECK(rows[0].calls == 3 && rows[1].calls == 2);
        CHECK(fabs(rows[0].gflop - gflop_a) < 1e-12 && fabs(rows[1].gflop - gflop_b) < 1e-12);
        CHECK(rows[0].ms > 0 && rows[1].ms > 0);
        CHECK(calls[LAVR_PROF_CONV_CUDNN] == 5 && calls[LAVR_PROF_CONV_GEMM] == 1);
        CHECK(fabs(rows[0].ms + rows[1].ms - ms[LAVR_PROF_CONV_CUDNN]) <= 1e-4 * ms[LAVR_PROF_CONV_CUDNN]);
        CHECK(strstr(rows[0].shape, "16->32") && strstr(rows[1].shape, "32->16"));
    }
    CHECK_OK(lavr_ctx_profile_take(gpu, ms, calls)); /* nothing new: the sums stay */
    CHECK(lavr_ctx_conv_times(gpu, rows, 4) == 2 && rows[0].calls == 3);
    lavr_ctx_conv_times_reset(gpu);
    CHECK(lavr_ctx_conv_times(gpu, rows, 4) == 0);
    lavr_ctx_destroy(gpu);
}

/* ---- attention ------------------------------------------------------------------------------------- */

static void test_attention(lavr_ctx *gpu) {
    const int64_t shapes[][4] = {{32, 2, 8, 6}, {12, 1, 5, 7}, {384, 2, 6, 11}}; /* C, T, H, W */
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        const int64_t c = shapes[i][0], t = shapes[i][1], h = shapes[i][2], w = shapes[i][3];
        lavr_tensor qkv = host_random(3 * c, t, h, w, 1.0f, 0.0f), dq = to_gpu(gpu, &qkv), b, bd;
        vector_pair(3 * c, 0.1f, 0.0f, gpu, &b, &bd);
        lavr_tensor out = gpu_poisoned(gpu, c, t, h, w), outh = {0};
        CHECK_OK(lavr_ctx_alloc_video(cpu, c, t, h, w, "attention", &outh));
        CHECK_OK(lavr_vop_frame_attention(gpu, &dq, &bd, 1, &out));
        CHECK_OK(lavr_vop_frame_attention(cpu, &qkv, &b, 1, &outh));
        char what[96];
        snprintf(what, sizeof what, "frame attention C=%lld, %lld tokens x %lld frames", (long long)c,
                 (long long)(h * w), (long long)t);
        expect(what, gpu, &out, &outh, ATTN_TOL);
        lavr_ctx_free(gpu, &out), lavr_ctx_free(cpu, &outh), lavr_ctx_free(gpu, &dq), lavr_ctx_free(cpu, &qkv);
        lavr_ctx_free(gpu, &bd), lavr_ctx_free(cpu, &b);
    }
}

/* ---- misuse is an error, not a crash -------------------------------------------------------------- */

static void test_refusals(lavr_ctx *gpu) {
    lavr_tensor x = host_random(8, 1, 4, 4, 1.0f, 0.0f), dx = to_gpu(gpu, &x), y = gpu_poisoned(gpu, 8, 1, 4, 4);
    CHECK_FAILS(lavr_vop_copy(gpu, &x, &y), LAVR_E_INTERNAL);             /* a host tensor given to CUDA */
    CHECK_FAILS(lavr_vop_add(gpu, &dx, NULL, NULL, NULL, 0, &y), LAVR_E_UNSUPPORTED); /* fp32 on CUDA */
    lavr_error_clear();
    lavr_ctx_free(gpu, &y), lavr_ctx_free(gpu, &dx), lavr_ctx_free(cpu, &x);
}

static void run_all(lavr_conv_path path) {
    lavr_ctx_cuda_options o = {.device = 0, .mem_cap = (uint64_t)2 << 30, .conv = path};
    lavr_ctx *gpu = NULL;
    lavr_status st = lavr_ctx_create_cuda(&o, &gpu);
    if (path == LAVR_CONV_CUDNN && st == LAVR_E_UNSUPPORTED) {
        printf("  no cuDNN here (%s): the cuDNN pass is skipped\n", lavr_error_message());
        lavr_error_clear();
        return;
    }
    CHECK_OK(st);
    if (!gpu) return;
    printf("context %s\n", lavr_ctx_describe(gpu));
    if (path != LAVR_CONV_OWN) {
        test_movement(gpu);
        test_add_interleave(gpu);
        test_norm(gpu);
        test_attention(gpu);
        test_refusals(gpu);
    }
    test_convs(gpu);
    CHECK_OK(lavr_ctx_sync(gpu));
    lavr_ctx_destroy(gpu);
}

int main(void) {
    if (lavr_device_count() == 0) {
        printf("test_video_ops: no CUDA device, skipped\n");
        return 77;
    }
    const char *env = getenv("LAVR_TEST_SEED");
    seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    printf("seed %llu (set LAVR_TEST_SEED to repeat)\n", (unsigned long long)seed);
    CHECK_OK(lavr_arena_create("test", 0, &arena));
    CHECK_OK(lavr_ctx_create_cpu(arena, &cpu));
    run_all(LAVR_CONV_CUDNN);
    test_conv_times();
    run_all(LAVR_CONV_OWN);
    lavr_ctx_destroy(cpu);
    lavr_arena_destroy(arena);
    return check_summary("test_video_ops");
}
