/* The identities the VAE's bias fold (models/vae_layers.c, vae_net_forward) relies on, bit for bit on the CPU video
 * ops in bf16 mode: a res block's norm and residual add given a layer's deferred bias give what they give when that
 * bias was added first (norm(x; b) = norm(x + b), add(y; yb, x; xb) = add(y; yb, x + xb)), with and without SiLU,
 * at the decoder's widths, on random bf16 values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/rng.h"
#include "kernels/ctx.h"
#include "kernels/video_ops.h"
#include "tests/check.h"

#define SEED 20261206u

static lavr_ctx *cpu;
static uint32_t stream_no;

static lavr_tensor random_video(int64_t c, int64_t t, int64_t h, int64_t w, float scale) {
    lavr_tensor x = {0};
    CHECK_OK(lavr_ctx_alloc_video(cpu, c, t, h, w, "random", &x));
    const int64_t n = lavr_tensor_numel(&x);
    float *p = x.data;
    lavr_rng_normal(SEED, lavr_rng_stream(LAVR_STREAM_TEST, ++stream_no, 0, 0), 0, n, p);
    for (int64_t i = 0; i < n; i++) p[i] = lavr_round_bf16(p[i] * scale);
    return x;
}

static lavr_tensor random_vector(int64_t n, float scale, float shift) {
    float *v = malloc((size_t)n * sizeof *v);
    CHECK(v != NULL);
    lavr_rng_normal(SEED, lavr_rng_stream(LAVR_STREAM_TEST, ++stream_no, 0, 0), 0, n, v);
    for (int64_t i = 0; i < n; i++) v[i] = v[i] * scale + shift;
    lavr_tensor t = {0};
    CHECK_OK(lavr_ctx_upload_vector(cpu, v, n, "vector", &t));
    free(v);
    return t;
}

static void expect_same(const char *what, const lavr_tensor *a, const lavr_tensor *b) {
    const size_t bytes = (size_t)lavr_tensor_nbytes(a);
    CHECK_MSG(bytes == (size_t)lavr_tensor_nbytes(b) && memcmp(a->data, b->data, bytes) == 0,
              "%s: the folded bias gives other values than the bias added first", what);
}

static void check_width(int64_t c) {
    const int64_t t = 3, h = 5, w = 7;
    lavr_tensor x = random_video(c, t, h, w, 2.0f), y = random_video(c, t, h, w, 2.0f);
    lavr_tensor xb = random_vector(c, 0.3f, 0.0f), yb = random_vector(c, 0.3f, 0.0f), g = random_vector(c, 0.2f, 1.0f);
    lavr_tensor settled = {0}, a = {0}, b = {0};
    CHECK_OK(lavr_ctx_alloc_video(cpu, c, t, h, w, "settled", &settled));
    CHECK_OK(lavr_ctx_alloc_video(cpu, c, t, h, w, "a", &a));
    CHECK_OK(lavr_ctx_alloc_video(cpu, c, t, h, w, "b", &b));
    CHECK_OK(lavr_vop_add(cpu, &x, &xb, NULL, NULL, 1, &settled)); /* the pass the fold saves */
    char what[64];
    for (int silu = 0; silu < 2; silu++) {
        CHECK_OK(lavr_vop_rms_norm(cpu, &x, &xb, &g, silu, 1, &a));
        CHECK_OK(lavr_vop_rms_norm(cpu, &settled, NULL, &g, silu, 1, &b));
        snprintf(what, sizeof what, "norm%s at %lld channels", silu ? " + SiLU" : "", (long long)c);
        expect_same(what, &a, &b);
    }
    CHECK_OK(lavr_vop_add(cpu, &y, &yb, &x, &xb, 1, &a));
    CHECK_OK(lavr_vop_add(cpu, &y, &yb, &settled, NULL, 1, &b));
    snprintf(what, sizeof what, "residual add at %lld channels", (long long)c);
    expect_same(what, &a, &b);
    lavr_tensor *all[] = {&x, &y, &xb, &yb, &g, &settled, &a, &b};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) lavr_ctx_free(cpu, all[i]);
}

int main(void) {
    lavr_arena *arena = NULL;
    CHECK_OK(lavr_arena_create("test", 0, &arena));
    CHECK_OK(lavr_ctx_create_cpu(arena, &cpu));
    const int64_t widths[] = {8, 16, 96, 192, 384};
    for (size_t i = 0; i < sizeof widths / sizeof *widths; i++) check_width(widths[i]);
    lavr_ctx_destroy(cpu);
    lavr_arena_destroy(arena);
    return check_summary("test_vae_bias_fold");
}
