/* The Wan VAE on a CUDA context against the same VAE on the CPU (one network, models/vae*.c, on two contexts):
 * a small Wan-shaped model with lavr init's random weights (widths 12·[1,2,4,4], so channel counts that are not
 * multiples of 8 exercise the pad channels), the encode of 9 frames and a render's decode stream (priming with 7
 * latents, then blocks of 3); a decoder state saved on the GPU continues bit-identically on the GPU and within the
 * tolerance on the CPU; and the golden file through the check-golden path on the GPU. Both convolution paths
 * (cuDNN where available, lavr's own kernel). Exits 77 without a CUDA device.
 *
 * Tolerance, CUDA vs CPU (rel L2): 2e-2 for latents and frames. Both run bf16 with the same rounding points; only
 * the fp32 summation orders differ, so values flip across bf16 rounding boundaries and the flips propagate through
 * ~60 layers. The golden limits (bf16 reference vs an fp32 one, x3) are 2.1e-2 (encode) and ~4e-2 (decode). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/rng.h"
#include "io/golden.h"
#include "kernels/ctx.h"
#include "models/decode_stream.h"
#include "models/golden.h"
#include "models/vae.h"
#include "parallel/device.h"

#define SEED 4242u
#define LH 6 /* latent grid */
#define LW 5
#define BLOCKS 3
#define TOL 2e-2

static const lavr_vae_config cfg = {.dim = 12, .z_dim = 16, .dim_mult = {1, 2, 4, 4}, .num_res_blocks = 2,
                                    .temporal_downsample = {0, 1, 1}};

static float *floats(int64_t n) {
    float *p = malloc((size_t)n * sizeof *p);
    for (int64_t i = 0; p && i < n; i++) p[i] = NAN;
    return p;
}

static void compare(const char *what, const float *got, const float *want, int64_t n, double tol) {
    const double rel = lavr_golden_rel_l2(got, want, n);
    printf("  %-44s rel L2 %.3g (limit %.3g)\n", what, rel, tol);
    CHECK_MSG(rel <= tol, "%s: CUDA vs CPU rel L2 %.3g over %.3g", what, rel, tol);
}

/* ---- decoder state snapshots ---------------------------------------------------------------------- */

typedef struct {
    int n;
    char names[64][128];
    lavr_tensor saved[64];
    lavr_arena *arena;
} snapshot;

static lavr_status save_one(const char *name, const lavr_tensor *t, void *user) {
    snapshot *s = user;
    if (s->n == 64) return LAVR_FAIL(LAVR_E_INTERNAL, "test snapshot full");
    CHECK_MSG(t->device == LAVR_DEVICE_CPU, "state tensor %s is not a host tensor", name);
    snprintf(s->names[s->n], 128, "%s", name);
    TRY(lavr_tensor_alloc(s->arena, t->dtype, t->ndim, t->shape, name, &s->saved[s->n]));
    TRY(lavr_tensor_copy(&s->saved[s->n], t));
    s->n++;
    return LAVR_OK;
}

static void restore_all(lavr_decode_stream *d, const snapshot *s) {
    for (int i = 0; i < s->n; i++) CHECK_OK(lavr_decode_stream_restore(d, s->names[i], &s->saved[i]));
}

/* ---- one context against the CPU ------------------------------------------------------------------- */

static void run(lavr_ctx *gpu, lavr_vae *cpu_vae, lavr_arena *arena, const lavr_tensor *video, const float *cpu_latent,
                const lavr_tensor *motion, const float *blocks, float *const *cpu_frames) {
    lavr_vae_options o = lavr_vae_options_default();
    o.ctx = gpu;
    lavr_vae *vae = NULL;
    CHECK_OK(lavr_vae_create_generated(&cfg, SEED, &o, arena, &vae));
    if (!vae) return;
    printf("%s\n", lavr_ctx_describe(gpu));
    const int64_t nlat = 1 + (video->shape[1] - 1) / 4, lat_n = 16 * nlat * LH * LW;
    float *latent = floats(lat_n);
    int64_t lshape[4] = {16, nlat, LH, LW};
    lavr_tensor tl = lavr_tensor_wrap(LAVR_F32, 4, lshape, latent);
    CHECK_OK(lavr_vae_encode(vae, video, &tl));
    compare("encode 9 frames", latent, cpu_latent, lat_n, TOL);

    /* a render's stream; the state after block 0 is saved */
    const int64_t fplane = 64 * LH * LW, fn = 3 * 12 * fplane, bn = 16 * 3 * LH * LW;
    float *frames = floats(fn), *after = floats(fn), *cpu_after = floats(fn);
    lavr_decode_stream *ds = NULL, *again = NULL, *on_cpu = NULL;
    snapshot *snap = calloc(1, sizeof *snap);
    snap->arena = arena;
    CHECK_OK(lavr_decode_stream_create(vae, motion, arena, &ds));
    for (int b = 0; ds && b < BLOCKS; b++) {
        int64_t count = 0;
        CHECK_OK(lavr_decode_stream_push(ds, blocks + b * bn, frames, &count));
        char what[64];
        snprintf(what, sizeof what, "decode stream block %d (%lld frames)", b, (long long)count);
        compare(what, frames, cpu_frames[b], 3 * count * fplane, TOL);
        if (b == 0) CHECK_OK(lavr_decode_stream_visit(ds, save_one, snap));
        if (b == 1) memcpy(after, frames, (size_t)(3 * count * fplane) * sizeof(float));
    }
    /* the saved state continues bit-identically on the GPU and within the tolerance on the CPU */
    CHECK_OK(lavr_decode_stream_create(vae, motion, arena, &again));
    CHECK_OK(lavr_decode_stream_create(cpu_vae, motion, arena, &on_cpu));
    if (again && on_cpu && snap->n > 1) {
        int64_t count = 0;
        restore_all(again, snap);
        restore_all(on_cpu, snap);
        CHECK_OK(lavr_decode_stream_push(again, blocks + bn, frames, &count));
        CHECK_MSG(count == 12 && !memcmp(frames, after, (size_t)(3 * count * fplane) * sizeof(float)),
                  "a GPU decoder state restored on the GPU does not continue bit-identically");
        CHECK_OK(lavr_decode_stream_push(on_cpu, blocks + bn, cpu_after, &count));
        compare("GPU state continued on the CPU", cpu_after, after, 3 * 12 * fplane, TOL);
    }
    printf("  peak device memory %.1f MiB\n", (double)lavr_ctx_peak_bytes(gpu) / (1 << 20));
    for (int i = 0; i < snap->n; i++) lavr_tensor_free(&snap->saved[i]);
    free(snap);
    lavr_decode_stream_destroy(on_cpu);
    lavr_decode_stream_destroy(again);
    lavr_decode_stream_destroy(ds);
    free(frames);
    free(after);
    free(cpu_after);
    free(latent);
    lavr_vae_destroy(vae);
}

static void golden(lavr_ctx *gpu) {
    const char *dir = getenv("LAVR_GOLDEN_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/vae.h5", dir ? dir : "../shared/golden");
    lavr_golden *g = NULL;
    CHECK_OK(lavr_golden_open(path, &g));
    if (!g) return;
    CHECK_OK(lavr_golden_run_on(g, gpu));
    CHECK_MSG(g->n_results == 6 && lavr_golden_failed(g) == 0, "golden on %s: %lld outputs, %lld failed",
              lavr_ctx_describe(gpu), (long long)g->n_results, (long long)lavr_golden_failed(g));
    lavr_golden_close(g);
}

int main(void) {
    if (lavr_device_count() == 0) {
        printf("test_vae_cuda: no CUDA device, skipped\n");
        return 77;
    }
    lavr_arena *arena = NULL;
    CHECK_OK(lavr_arena_create("test", 0, &arena));
    lavr_vae *cpu_vae = NULL;
    CHECK_OK(lavr_vae_create_generated(&cfg, SEED, NULL, arena, &cpu_vae));
    if (!cpu_vae) return check_summary("test_vae_cuda");

    /* inputs: 9 frames in [-1, 1]; motion latents (7 prime the stream) and BLOCKS blocks of 3, N(0, 1) */
    const int64_t H = 8 * LH, W = 8 * LW, vn = 3 * 9 * H * W, mn = 16 * 7 * LH * LW, bn = 16 * 3 * LH * LW;
    float *v = floats(vn), *mot = floats(mn), *blocks = floats(BLOCKS * bn), *latent = floats(16 * 3 * LH * LW);
    double *u = malloc((size_t)vn * sizeof *u);
    lavr_rng_uniform(SEED, 1, 0, vn, u);
    for (int64_t i = 0; i < vn; i++) v[i] = (float)(2 * u[i] - 1);
    free(u);
    lavr_rng_normal(SEED, 2, 0, mn, mot);
    lavr_rng_normal(SEED, 3, 0, BLOCKS * bn, blocks);
    int64_t vshape[4] = {3, 9, H, W}, lshape[4] = {16, 3, LH, LW}, mshape[4] = {16, 7, LH, LW};
    lavr_tensor video = lavr_tensor_wrap(LAVR_F32, 4, vshape, v), tl = lavr_tensor_wrap(LAVR_F32, 4, lshape, latent);
    lavr_tensor motion = lavr_tensor_wrap(LAVR_F32, 4, mshape, mot);

    /* the CPU reference */
    CHECK_OK(lavr_vae_encode(cpu_vae, &video, &tl));
    float *cpu_frames[BLOCKS];
    lavr_decode_stream *ds = NULL;
    CHECK_OK(lavr_decode_stream_create(cpu_vae, &motion, arena, &ds));
    int64_t unclamped = 0, total = 0;
    for (int b = 0; b < BLOCKS; b++) {
        int64_t count = 0;
        cpu_frames[b] = floats(3 * 12 * 64 * LH * LW);
        if (ds) CHECK_OK(lavr_decode_stream_push(ds, blocks + b * bn, cpu_frames[b], &count));
        for (int64_t i = 0; i < 3 * count * 64 * LH * LW; i++, total++) unclamped += fabsf(cpu_frames[b][i]) < 1.0f;
    }
    lavr_decode_stream_destroy(ds);
    printf("CPU reference: %.0f%% of the decoded values inside (-1, 1)\n", 100.0 * (double)unclamped / (double)total);
    CHECK(unclamped > total / 4); /* the comparisons see real values, not a wall of clamped ones */

    const lavr_conv_path paths[2] = {LAVR_CONV_AUTO, LAVR_CONV_OWN};
    for (int p = 0; p < 2; p++) {
        lavr_ctx_cuda_options o = {.device = 0, .mem_cap = (uint64_t)2 << 30, .conv = paths[p]};
        lavr_ctx *gpu = NULL;
        CHECK_OK(lavr_ctx_create_cuda(&o, &gpu));
        if (!gpu) continue;
        run(gpu, cpu_vae, arena, &video, latent, &motion, blocks, cpu_frames);
        golden(gpu);
        lavr_ctx_destroy(gpu);
    }
    for (int b = 0; b < BLOCKS; b++) free(cpu_frames[b]);
    free(v);
    free(mot);
    free(blocks);
    free(latent);
    lavr_vae_destroy(cpu_vae);
    lavr_arena_destroy(arena);
    return check_summary("test_vae_cuda");
}
