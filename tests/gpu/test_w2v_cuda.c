/* wav2vec2 on a CUDA context against the same network on the CPU with LiveAvatar's bf16 rounding points (one network,
 * models/wav2vec2.c, on two contexts; generated weights of tests/w2v_small.h): 3 s of audio, and 86 s (4,299 frames:
 * two query blocks of the device's 4,096) with the states resident, streamed through scratch files with keys folded
 * in chunks of 1,000 (cuDNN SDPA merged by log-sum-exp), and both again with lavr's attention kernels
 * (--attention own: the tensor-core kernel over all keys, the fp32 fold kernel over chunks); the ops alone
 * (one-channel, dense and grouped convolutions, the attention fold) against the CPU ops; and the golden file through
 * check-golden's path on the GPU (LAVR_GOLDEN_DIR). Exits 77 without a CUDA device.
 *
 * Tolerance, CUDA vs CPU bf16 (rel L2 per state): 2e-2. Both round at the same points; the GEMMs and convolutions
 * sum in another order and the softmax weights enter P·V as bf16 on the GPU, so values flip across bf16 rounding
 * boundaries and the flips propagate: on the CPU alone, a 6e-8 relative perturbation of the input moves the bf16
 * run's states by 1.1e-3, 3.0e-3 and 4.6e-3 (the bf16 rounding points themselves move them 1.3e-2 to 1.7e-2 from
 * fp32, tests/test_w2v_fold.c). Ops: 1e-2 (convolutions), 2e-2 (attention). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/dtype.h"
#include "io/golden.h"
#include "kernels/ctx.h"
#include "kernels/row_ops.h"
#include "kernels/w2v_ops.h"
#include "models/golden.h"
#include "parallel/device.h"
#include "w2v_small.h"

#define SEED 2026u
#define TOL 2e-2

static void compare(const char *what, const float *got, const float *want, int64_t n, double tol) {
    const double rel = lavr_golden_rel_l2(got, want, n);
    printf("  %-52s rel L2 %.3g (limit %.3g)\n", what, rel, tol);
    CHECK_MSG(rel <= tol, "%s: rel L2 %.3g over %.3g", what, rel, tol);
}

/* ---- ops ---------------------------------------------------------------------------------------- */

static float *random_floats(int64_t n, uint64_t stream, float scale) {
    float *x = malloc((size_t)n * sizeof *x);
    if (x) lavr_rng_normal(SEED, stream, 0, n, x);
    for (int64_t i = 0; x && i < n; i++) x[i] = lavr_round_bf16(scale * x[i]);
    return x;
}

/* A host tensor of bf16 values (the device's weights are bf16; the CPU then computes on the same numbers). */
static lavr_tensor host_tensor(lavr_arena *a, int ndim, const int64_t *shape, uint64_t stream, float scale) {
    lavr_tensor t = {0};
    CHECK_OK(lavr_tensor_alloc(a, LAVR_F32, ndim, shape, "test weights", &t));
    float *v = random_floats(lavr_tensor_numel(&t), stream, scale);
    if (t.data && v) memcpy(t.data, v, (size_t)lavr_tensor_numel(&t) * sizeof *v);
    free(v);
    return t;
}

/* One convolution on both contexts: x [tin, cin] -> y [tout, cout]. */
static void conv_case(lavr_ctx *cpu, lavr_ctx *gpu, lavr_arena *a, const char *what, int64_t tin, int64_t cin,
                      int64_t cout, int64_t k, int64_t stride, int64_t groups, int64_t pad) {
    const int64_t tout = (tin + 2 * pad - k) / stride + 1, cg = cin / groups;
    lavr_wop_conv wc = {0}, wg = {0};
    for (int side = 0; side < 2; side++) {
        lavr_tensor w = host_tensor(a, 3, (int64_t[]){cout, cg, k}, 11, 1.0f / sqrtf((float)(cg * k)));
        lavr_tensor b = host_tensor(a, 1, &cout, 12, 0.1f);
        CHECK_OK(lavr_wop_conv_weights(side ? gpu : cpu, &w, &b, groups, side ? &wg : &wc));
    }
    float *x = random_floats(tin * cin, 13, 1.0f), *want = malloc((size_t)(tout * cout) * sizeof(float));
    float *got = malloc((size_t)(tout * cout) * sizeof(float));
    lavr_tensor xc, yc, xg, yg;
    CHECK_OK(lavr_ctx_alloc_rows(cpu, tin, cin, "x", &xc));
    CHECK_OK(lavr_ctx_alloc_rows(cpu, tout, cout, "y", &yc));
    CHECK_OK(lavr_ctx_alloc_rows(gpu, tin, cin, "x", &xg));
    CHECK_OK(lavr_ctx_alloc_rows(gpu, tout, cout, "y", &yg));
    if (x && want && got && xc.data && yc.data && xg.data && yg.data) {
        CHECK_OK(lavr_rop_upload(cpu, x, &xc));
        CHECK_OK(lavr_rop_upload(gpu, x, &xg));
        CHECK_OK(lavr_wop_conv1d(cpu, &xc, &wc, stride, pad, pad, 1, &yc));
        CHECK_OK(lavr_wop_conv1d(gpu, &xg, &wg, stride, pad, pad, 1, &yg));
        CHECK_OK(lavr_rop_download(cpu, &yc, want));
        CHECK_OK(lavr_rop_download(gpu, &yg, got));
        compare(what, got, want, tout * cout, 1e-2);
    }
    lavr_ctx_free(cpu, &xc), lavr_ctx_free(cpu, &yc), lavr_ctx_free(gpu, &xg), lavr_ctx_free(gpu, &yg);
    lavr_wop_conv_free(cpu, &wc), lavr_wop_conv_free(gpu, &wg);
    free(x), free(want), free(got);
}

/* The fold over chunks of 700 keys (CPU: one state folded in chunks, the reference). */
static void fold_case(lavr_ctx *cpu, lavr_ctx *gpu, int own) {
    const int64_t rows = 300, keys = 2500, H = 4, D = 64, hd = H * D, chunk = 700;
    float *q = random_floats(rows * hd, 21, 1.0f), *k = random_floats(keys * hd, 22, 1.0f);
    float *v = random_floats(keys * hd, 23, 1.0f), *want = malloc((size_t)(rows * hd) * sizeof(float));
    float *got = malloc((size_t)(rows * hd) * sizeof(float));
    lavr_ctx *ctx[2] = {cpu, gpu};
    for (int side = 0; side < 2 && q && k && v && want && got; side++) {
        lavr_ctx *c = ctx[side];
        lavr_tensor tq, tk, tv, to;
        lavr_wop_attention *att = NULL;
        CHECK_OK(lavr_ctx_alloc_rows(c, rows, hd, "q", &tq));
        CHECK_OK(lavr_ctx_alloc_rows(c, keys, hd, "k", &tk));
        CHECK_OK(lavr_ctx_alloc_rows(c, keys, hd, "v", &tv));
        CHECK_OK(lavr_ctx_alloc_rows(c, rows, hd, "out", &to));
        CHECK_OK(lavr_wop_attention_create(c, rows, H, D, own, &att));
        if (att && tq.data && tk.data && tv.data && to.data) {
            CHECK_OK(lavr_rop_upload(c, q, &tq));
            CHECK_OK(lavr_rop_upload(c, k, &tk));
            CHECK_OK(lavr_rop_upload(c, v, &tv));
            for (int64_t k0 = 0; k0 < keys; k0 += chunk) {
                lavr_tensor kc, vc;
                const int64_t kn = keys - k0 < chunk ? keys - k0 : chunk;
                CHECK_OK(lavr_tensor_narrow(&tk, 0, k0, kn, &kc));
                CHECK_OK(lavr_tensor_narrow(&tv, 0, k0, kn, &vc));
                CHECK_OK(lavr_wop_attention_fold(c, att, &tq, &kc, &vc, k0 == 0));
            }
            CHECK_OK(lavr_wop_attention_finish(c, att, 1, &to));
            CHECK_OK(lavr_rop_download(c, &to, side ? got : want));
            if (side) printf("  attention fold: %s\n", lavr_wop_attention_path(att));
        }
        lavr_wop_attention_destroy(c, att);
        lavr_ctx_free(c, &tq), lavr_ctx_free(c, &tk), lavr_ctx_free(c, &tv), lavr_ctx_free(c, &to);
    }
    compare(own ? "attention fold, 4 chunks (own kernel)" : "attention fold, 4 chunks (auto)", got, want, rows * hd,
            2e-2);
    free(q), free(k), free(v), free(want), free(got);
}

/* ---- the network ------------------------------------------------------------------------------- */

static void network_case(lavr_ctx *gpu, const char *what, const float *wave, int64_t n, const float *want,
                         const lavr_w2v_options *o, lavr_arena *work) {
    lavr_w2v *m = NULL;
    CHECK_OK(lavr_w2v_create_generated(&W2V_SMALL, SEED, o, &m));
    if (!m) return;
    lavr_ctx_reset_peak(gpu);
    float *got = w2v_small_states(m, wave, n, work);
    CHECK_MSG(got != NULL, "%s: forward failed: %s", what, lavr_error_message());
    const int64_t per = lavr_w2v_num_frames(&W2V_SMALL, n) * W2V_SMALL.hidden;
    for (int64_t s = 0; got && s <= W2V_SMALL.num_layers; s++) {
        char label[128];
        snprintf(label, sizeof label, "%s, state %lld", what, (long long)s);
        compare(label, got + s * per, want + s * per, per, TOL);
    }
    printf("    (%s; device peak %.1f MiB)\n", lavr_w2v_describe(m), (double)lavr_ctx_peak_bytes(gpu) / (1 << 20));
    free(got);
    lavr_w2v_destroy(m);
}

static void golden(lavr_ctx *gpu) {
    const char *dir = getenv("LAVR_GOLDEN_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/w2v.h5", dir ? dir : "../shared/golden");
    lavr_golden *g = NULL;
    CHECK_OK(lavr_golden_open(path, &g));
    if (!g) return;
    CHECK_OK(lavr_golden_run_on(g, gpu));
    CHECK_MSG(g->n_results == 4 && lavr_golden_failed(g) == 0, "golden on %s: %lld outputs, %lld failed",
              lavr_ctx_describe(gpu), (long long)g->n_results, (long long)lavr_golden_failed(g));
    lavr_golden_close(g);
}

int main(void) {
    if (lavr_device_count() == 0) {
        printf("test_w2v_cuda: no CUDA device, skipped\n");
        return 77;
    }
    lavr_arena *host = NULL, *work = NULL;
    CHECK_OK(lavr_arena_create("test w2v host", 0, &host));
    CHECK_OK(lavr_arena_create("test w2v work", 0, &work));
    lavr_ctx_cuda_options o = {.device = 0, .mem_cap = (uint64_t)2 << 30, .name = "test w2v"};
    lavr_ctx *gpu = NULL, *cpu = NULL;
    CHECK_OK(lavr_ctx_create_cuda(&o, &gpu));
    CHECK_OK(lavr_ctx_create_cpu(host, &cpu));
    if (!gpu || !cpu || !work) return check_summary("test_w2v_cuda");
    printf("%s\n", lavr_ctx_describe(gpu));

    conv_case(cpu, gpu, host, "conv1d, 1 channel (k 10, stride 5)", 4000, 1, 64, 10, 5, 1, 0);
    conv_case(cpu, gpu, host, "conv1d, dense 64 -> 64 (k 3, stride 2)", 799, 64, 64, 3, 2, 1, 0);
    conv_case(cpu, gpu, host, "conv1d, grouped 256, 16 groups (k 128, pad 64)", 300, 256, 256, 128, 1, 16, 64);
    fold_case(cpu, gpu, 0);
    fold_case(cpu, gpu, 1);

    const int64_t lengths[2] = {3 * 16000, 86 * 16000};
    for (int i = 0; i < 2; i++) {
        const int64_t n = lengths[i];
        printf("%lld s of audio, %lld frames\n", (long long)(n / 16000), (long long)lavr_w2v_num_frames(&W2V_SMALL, n));
        float *wave = w2v_small_wave(n, SEED);
        lavr_w2v *ref = NULL;
        const lavr_w2v_options bf16 = {.bf16 = 1};
        CHECK_OK(lavr_w2v_create_generated(&W2V_SMALL, SEED, &bf16, &ref));
        float *want = ref && wave ? w2v_small_states(ref, wave, n, work) : NULL;
        lavr_w2v_destroy(ref);
        CHECK(want != NULL);
        if (want) {
            const lavr_w2v_options resident = {.ctx = gpu}, own = {.ctx = gpu, .own_attention = 1};
            const lavr_w2v_options streamed = {.ctx = gpu, .stream_states = 1, .key_chunk = 1000};
            const lavr_w2v_options streamed_own = {.ctx = gpu, .stream_states = 1, .key_chunk = 1000, .own_attention = 1};
            network_case(gpu, "resident", wave, n, want, &resident, work);
            network_case(gpu, "resident, own attention", wave, n, want, &own, work);
            if (i == 1) {
                network_case(gpu, "streamed, 1000-key chunks", wave, n, want, &streamed, work);
                network_case(gpu, "streamed, 1000-key chunks, own kernel", wave, n, want, &streamed_own, work);
            }
        }
        free(want);
        free(wave);
    }
    golden(gpu);
    lavr_ctx_destroy(cpu);
    lavr_ctx_destroy(gpu);
    lavr_arena_destroy(work);
    lavr_arena_destroy(host);
    return check_summary("test_w2v_cuda");
}
