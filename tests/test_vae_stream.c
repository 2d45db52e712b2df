/* Streaming properties of the VAE on a small random model (weights from the Philox RNG): decoding
 * latents one by one, 3 at a time after the first, 4-then-3 and all at once gives identical frames;
 * a decoder state saved mid-stream and restored into a fresh one continues identically; the encoder
 * is causal (latent k depends only on frames up to 4k). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "io/h5model.h"
#include "models/config.h"
#include "models/vae.h"
#include "tests/check.h"

#define SEED 20240611u
#define LH 3 /* latent grid */
#define LW 2
#define NLAT 7

typedef struct {
    lavr_h5file *f;
    lavr_arena *arena;
} writer;

/* Random weights: conv kernels N(0, 1/fan_in), biases N(0, 0.05^2), RMS gains 1 + N(0, 0.2^2). */
static lavr_status write_random(const lavr_tensor_spec *spec, void *user) {
    writer *wr = user;
    lavr_tensor t;
    TRY(lavr_tensor_alloc(wr->arena, LAVR_BF16, spec->ndim, spec->shape, spec->name, &t));
    int64_t n = lavr_tensor_numel(&t), fan_in = 1;
    for (int i = 1; i < spec->ndim; i++) fan_in *= spec->shape[i];
    float *v = malloc((size_t)n * sizeof(float));
    if (!v) return LAVR_FAIL(LAVR_E_NOMEM, "test: out of memory");
    lavr_rng_normal(SEED, lavr_rng_hash(spec->name), 0, n, v);
    int is_gamma = strstr(spec->name, "gamma") != NULL, is_bias = strstr(spec->name, ".bias") != NULL;
    for (int64_t i = 0; i < n; i++) {
        double x = is_gamma ? 1.0 + 0.2 * v[i] : is_bias ? 0.05 * v[i] : v[i] / sqrt((double)fan_in);
        lavr_dtype_store(LAVR_BF16, t.data, i, x);
    }
    free(v);
    char path[200];
    snprintf(path, sizeof path, "vae/%s", spec->name);
    lavr_status st = lavr_h5_write(wr->f, path, &t, 0);
    lavr_tensor_free(&t);
    return st;
}

static float *alloc_f(int64_t n) {
    float *p = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; p && i < n; i++) p[i] = NAN;
    return p;
}

/* Decodes latents [16, NLAT, LH, LW] in calls of the given sizes on a fresh stream; returns all frames
 * concatenated [3, 1 + 4(NLAT-1), 8LH, 8LW] (malloc'd). */
static float *decode_in_calls(lavr_vae *vae, lavr_arena *arena, const float *lat, const int *sizes, int ncalls) {
    int64_t fhw = 64 * LH * LW, total = 1 + 4 * (NLAT - 1), hw = LH * LW, pos = 0, done = 0;
    float *all = alloc_f(3 * total * fhw);
    lavr_vae_decoder_state *state = NULL;
    CHECK_OK(lavr_vae_decoder_state_create(vae, arena, LH, LW, &state));
    if (!state || !all) return all;
    for (int i = 0; i < ncalls; i++) {
        int64_t t = sizes[i], n = lavr_vae_decode_frame_count(state, t);
        int64_t lshape[4] = {16, t, LH, LW}, fshape[4] = {3, n, 8 * LH, 8 * LW};
        float *part = alloc_f(16 * t * hw), *frames = alloc_f(3 * n * fhw);
        for (int64_t c = 0; c < 16; c++) memcpy(part + c * t * hw, lat + (c * NLAT + pos) * hw, (size_t)(t * hw) * sizeof(float));
        lavr_tensor tl = lavr_tensor_wrap(LAVR_F32, 4, lshape, part), tf = lavr_tensor_wrap(LAVR_F32, 4, fshape, frames);
        CHECK_OK(lavr_vae_decode(vae, state, &tl, &tf));
        for (int64_t c = 0; c < 3; c++) memcpy(all + (c * total + done) * fhw, frames + c * n * fhw, (size_t)(n * fhw) * sizeof(float));
        pos += t;
        done += n;
        free(part);
        free(frames);
    }
    CHECK(pos == NLAT && done == total);
    CHECK(lavr_vae_decoder_state_position(state) == NLAT);
    lavr_vae_decoder_state_destroy(state);
    return all;
}

static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = isnan(d) ? INFINITY : d;
    }
    return m;
}

/* ---- save / restore ---------------------------------------------------------------------------- */

typedef struct {
    int n;
    char names[256][128];
    lavr_tensor saved[256];
    lavr_arena *arena;
} snapshot;

static lavr_status save_one(const char *name, const lavr_tensor *t, void *user) {
    snapshot *s = user;
    if (s->n == 256) return LAVR_FAIL(LAVR_E_INTERNAL, "test snapshot full");
    snprintf(s->names[s->n], 128, "%s", name);
    TRY(lavr_tensor_alloc(s->arena, t->dtype, t->ndim, t->shape, name, &s->saved[s->n]));
    TRY(lavr_tensor_copy(&s->saved[s->n], t));
    s->n++;
    return LAVR_OK;
}

static void test_save_restore(lavr_vae *vae, lavr_arena *arena, const float *lat, const float *reference) {
    int64_t hw = LH * LW, fhw = 64 * hw, total = 1 + 4 * (NLAT - 1);
    lavr_vae_decoder_state *a = NULL, *b = NULL;
    CHECK_OK(lavr_vae_decoder_state_create(vae, arena, LH, LW, &a));
    CHECK_OK(lavr_vae_decoder_state_create(vae, arena, LH, LW, &b));
    if (!a || !b) return;
    /* Stream a over latents 0..3 (1 + 3), snapshot it, restore into b. */
    int64_t first[2] = {1, 3}, pos = 0;
    for (int i = 0; i < 2; i++) {
        int64_t t = first[i], n = lavr_vae_decode_frame_count(a, t);
        int64_t lshape[4] = {16, t, LH, LW}, fshape[4] = {3, n, 8 * LH, 8 * LW};
        float *part = alloc_f(16 * t * hw), *frames = alloc_f(3 * n * fhw);
        for (int64_t c = 0; c < 16; c++) memcpy(part + c * t * hw, lat + (c * NLAT + pos) * hw, (size_t)(t * hw) * sizeof(float));
        lavr_tensor tl = lavr_tensor_wrap(LAVR_F32, 4, lshape, part), tf = lavr_tensor_wrap(LAVR_F32, 4, fshape, frames);
        CHECK_OK(lavr_vae_decode(vae, a, &tl, &tf));
        pos += t;
        free(part);
        free(frames);
    }
    snapshot *snap = calloc(1, sizeof *snap);
    snap->arena = arena;
    CHECK_OK(lavr_vae_decoder_state_visit(a, save_one, snap));
    CHECK(snap->n > 1 && !strcmp(snap->names[0], "position"));
    for (int i = 0; i < snap->n; i++) CHECK_OK(lavr_vae_decoder_state_restore(b, snap->names[i], &snap->saved[i]));
    CHECK(lavr_vae_decoder_state_position(b) == 4);
    CHECK(lavr_vae_decode_frame_count(b, 3) == 12);
    /* Errors: unknown name, wrong shape. */
    CHECK_FAILS(lavr_vae_decoder_state_restore(b, "decoder.nothing.cache", &snap->saved[1]), LAVR_E_FORMAT);
    if (snap->n > 2 && !lavr_tensor_same_shape(&snap->saved[1], &snap->saved[snap->n - 1]))
        CHECK_FAILS(lavr_vae_decoder_state_restore(b, snap->names[1], &snap->saved[snap->n - 1]), LAVR_E_ARG);

    /* Both continue over latents 4..6: identical to each other and to the one-call decode. */
    int64_t t = 3, n = 12, lshape[4] = {16, t, LH, LW}, fshape[4] = {3, n, 8 * LH, 8 * LW};
    float *part = alloc_f(16 * t * hw), *fa = alloc_f(3 * n * fhw), *fb = alloc_f(3 * n * fhw);
    for (int64_t c = 0; c < 16; c++) memcpy(part + c * t * hw, lat + (c * NLAT + 4) * hw, (size_t)(t * hw) * sizeof(float));
    lavr_tensor tl = lavr_tensor_wrap(LAVR_F32, 4, lshape, part);
    lavr_tensor ta = lavr_tensor_wrap(LAVR_F32, 4, fshape, fa), tb = lavr_tensor_wrap(LAVR_F32, 4, fshape, fb);
    CHECK_OK(lavr_vae_decode(vae, a, &tl, &ta));
    CHECK_OK(lavr_vae_decode(vae, b, &tl, &tb));
    double d_ab = max_abs_diff(fa, fb, 3 * n * fhw), d_ref = 0;
    for (int64_t c = 0; c < 3; c++)
        d_ref = fmax(d_ref, max_abs_diff(fb + c * n * fhw, reference + (c * total + 13) * fhw, n * fhw));
    printf("restored state: max |diff| vs saved %.3g, vs whole decode %.3g\n", d_ab, d_ref);
    CHECK(d_ab == 0);
    CHECK(d_ref == 0);
    free(part);
    free(fa);
    free(fb);
    for (int i = 0; i < snap->n; i++) lavr_tensor_free(&snap->saved[i]);
    free(snap);
    lavr_vae_decoder_state_destroy(a);
    lavr_vae_decoder_state_destroy(b);
}

/* ---- encoder causality --------------------------------------------------------------------------- */

static void test_encoder_causal(lavr_vae *vae) {
    int64_t h = 8 * LH, w = 8 * LW, n9 = 3 * 9 * h * w, n5 = 3 * 5 * h * w, lhw = LH * LW;
    float *v9 = alloc_f(n9), *v5 = alloc_f(n5), *l9 = alloc_f(16 * 3 * lhw), *l5 = alloc_f(16 * 2 * lhw);
    double *u = malloc((size_t)n9 * sizeof(double));
    lavr_rng_uniform(SEED, 7, 0, n9, u);
    for (int64_t i = 0; i < n9; i++) v9[i] = (float)(2 * u[i] - 1);
    for (int64_t c = 0; c < 3; c++) memcpy(v5 + c * 5 * h * w, v9 + c * 9 * h * w, (size_t)(5 * h * w) * sizeof(float));
    int64_t s9[4] = {3, 9, h, w}, s5[4] = {3, 5, h, w}, z9[4] = {16, 3, LH, LW}, z5[4] = {16, 2, LH, LW};
    lavr_tensor tv9 = lavr_tensor_wrap(LAVR_F32, 4, s9, v9), tv5 = lavr_tensor_wrap(LAVR_F32, 4, s5, v5);
    lavr_tensor tl9 = lavr_tensor_wrap(LAVR_F32, 4, z9, l9), tl5 = lavr_tensor_wrap(LAVR_F32, 4, z5, l5);
    CHECK_OK(lavr_vae_encode(vae, &tv9, &tl9));
    CHECK_OK(lavr_vae_encode(vae, &tv5, &tl5));
    double d = 0, mag = 0;
    for (int64_t c = 0; c < 16; c++) {
        d = fmax(d, max_abs_diff(l5 + c * 2 * lhw, l9 + c * 3 * lhw, 2 * lhw));
        for (int64_t i = 0; i < 3 * lhw; i++) mag = fmax(mag, fabs(l9[c * 3 * lhw + i]));
    }
    printf("encoder: 5-frame prefix latents vs 9-frame ones max |diff| %.3g (max |latent| %.3g)\n", d, mag);
    CHECK(d == 0);
    CHECK(mag > 0 && isfinite(mag));
    /* 8 frames is not 1 + 4k. */
    int64_t s8[4] = {3, 8, h, w};
    lavr_tensor tv8 = lavr_tensor_wrap(LAVR_F32, 4, s8, v9);
    CHECK_FAILS(lavr_vae_encode(vae, &tv8, &tl5), LAVR_E_ARG);
    free(v9);
    free(v5);
    free(l9);
    free(l5);
    free(u);
}

static void run_model(lavr_vae *vae, lavr_arena *arena, const char *label) {
    int64_t fhw = 64 * LH * LW, total = 1 + 4 * (NLAT - 1), nlat = 16 * NLAT * LH * LW;
    float *lat = alloc_f(nlat);
    lavr_rng_normal(SEED, 11, 0, nlat, lat);
    int whole[] = {NLAT}, ones[] = {1, 1, 1, 1, 1, 1, 1}, threes[] = {1, 3, 3}, prime[] = {4, 3}, mixed[] = {2, 1, 4};
    float *ref = decode_in_calls(vae, arena, lat, whole, 1);
    struct { const char *name; int *sizes; int n; } cases[] = {
        {"1-by-1", ones, 7}, {"1 then 3s", threes, 3}, {"4 then 3", prime, 2}, {"2,1,4", mixed, 3}};
    double lo = INFINITY, hi = -INFINITY;
    int64_t interior = 0;
    for (int64_t i = 0; i < 3 * total * fhw; i++) {
        lo = fmin(lo, ref[i]);
        hi = fmax(hi, ref[i]);
        interior += fabs(ref[i]) < 1;
    }
    double frac = (double)interior / (double)(3 * total * fhw);
    printf("[%s] whole decode: %lld frames, values in [%.3f, %.3f], %.0f%% unclamped\n", label, (long long)total, lo,
           hi, 100 * frac);
    /* Clamped to [-1, 1], yet mostly inside so the equalities below compare real values. */
    CHECK(lo >= -1 && hi <= 1 && frac > 0.3);
    for (int k = 0; k < 4; k++) {
        float *got = decode_in_calls(vae, arena, lat, cases[k].sizes, cases[k].n);
        double d = max_abs_diff(got, ref, 3 * total * fhw);
        printf("[%s] %-10s max |diff| vs whole decode %.3g\n", label, cases[k].name, d);
        CHECK_MSG(d == 0, "%s: chunked decode %s differs from the whole decode by %g", label, cases[k].name, d);
        free(got);
    }
    test_save_restore(vae, arena, lat, ref);
    test_encoder_causal(vae);
    free(ref);
    free(lat);
}

int main(void) {
    const char *tmp = getenv("LAVR_TEST_TMP");
    char path[512];
    snprintf(path, sizeof path, "%s/vae_stream.h5", tmp ? tmp : "/tmp");
    lavr_arena *arena = NULL;
    CHECK_OK(lavr_arena_create("test", 0, &arena));
    /* Small model: widths 4·[1,2,2,2], one residual block per level, temporal steps at levels 2, 3. */
    lavr_vae_config cfg = {.dim = 4, .z_dim = 16, .dim_mult = {1, 2, 2, 2}, .num_res_blocks = 1,
                           .temporal_downsample = {0, 1, 1}};
    writer wr = {.arena = arena};
    CHECK_OK(lavr_h5_create(path, &wr.f));
    if (!wr.f) return check_summary("test_vae_stream");
    CHECK_OK(lavr_vae_inventory(&cfg, write_random, &wr));
    CHECK_OK(lavr_h5_close(wr.f));

    lavr_h5file *f = NULL;
    CHECK_OK(lavr_h5_open(path, &f));
    for (int mode = 0; mode < 2 && f; mode++) {
        lavr_vae_options opts = lavr_vae_options_default();
        opts.bf16_activations = mode == 0;
        lavr_vae *vae = NULL;
        CHECK_OK(lavr_vae_create(f, "vae/", &cfg, &opts, arena, &vae));
        if (vae) run_model(vae, arena, mode == 0 ? "bf16" : "fp32");
        lavr_vae_destroy(vae);
    }
    /* A checkpoint missing a tensor is a clear error. */
    lavr_vae *bad = NULL;
    lavr_vae_config wide = cfg;
    wide.dim = 8;
    if (f) CHECK(lavr_vae_create(f, "vae/", &wide, NULL, arena, &bad) != LAVR_OK);
    printf("wrong-width load error: %s\n", lavr_error_message());
    lavr_h5_close(f);
    remove(path);
    CHECK(lavr_arena_used(arena) == 0);
    lavr_arena_destroy(arena);
    return check_summary("test_vae_stream");
}
