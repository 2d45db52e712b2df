/* The causal DiT against golden/dit.h5: the whole TPP streaming run (2 clips x 4 blocks x 4 steps,
 * sink prefill, clip-1 reference replacement), comparing every velocity, latent, sink K/V and debug
 * layer state by rel L2 against max(3 x noise_floor, 1e-2); prints the worst output per kind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/dtype.h"
#include "io/h5model.h"
#include "models/dit.h"
#include "models/sampler.h"
#include "tests/check.h"

typedef struct {
    const char *kind;
    double worst_rel, worst_limit;
    char worst[128];
    int count, failed;
} kind_stat;

static lavr_h5file *gf;
static lavr_arena *arena;

static void compare(kind_stat *k, const char *path, const float *ours, int64_t n) {
    lavr_tensor ref;
    CHECK_OK(lavr_h5_read_f32(gf, path, arena, &ref));
    if (!ref.data) return;
    CHECK_MSG(lavr_tensor_numel(&ref) == n, "%s: %lld values, ours %lld", path, (long long)lavr_tensor_numel(&ref),
              (long long)n);
    double nf = 0;
    if (lavr_h5_has_attr(gf, path, "noise_floor")) CHECK_OK(lavr_h5_read_attr_double(gf, path, "noise_floor", &nf));
    double limit = 3 * nf > 1e-2 ? 3 * nf : 1e-2, num = 0, den = 0;
    const float *r = ref.data;
    for (int64_t i = 0; i < n; i++) {
        double dlt = (double)ours[i] - r[i];
        num += dlt * dlt;
        den += (double)r[i] * r[i];
    }
    double rel = den > 0 ? sqrt(num / den) : sqrt(num);
    if (rel != rel) rel = INFINITY;
    k->count++;
    if (!(rel <= limit)) {
        k->failed++;
        fprintf(stderr, "FAIL %s: rel L2 %.3e > limit %.3e\n", path, rel, limit);
    }
    check_count++;
    if (!(rel <= limit)) check_failures++;
    if (rel / limit > k->worst_rel / (k->worst_limit > 0 ? k->worst_limit : 1) || k->count == 1) {
        k->worst_rel = rel;
        k->worst_limit = limit;
        snprintf(k->worst, sizeof k->worst, "%s", path);
    }
    lavr_tensor_free(&ref);
}

static float *read_f32(const char *path, int64_t *n) {
    lavr_tensor t;
    lavr_status st = lavr_h5_read_f32(gf, path, arena, &t);
    CHECK_OK(st);
    if (st) return NULL;
    *n = lavr_tensor_numel(&t);
    float *out = malloc((size_t)*n * sizeof(float));
    memcpy(out, t.data, (size_t)*n * sizeof(float));
    lavr_tensor_free(&t);
    return out;
}

/* hook: keep the layer states of the debug forwards */
typedef struct {
    float *states; /* [layers][rows*cols] */
    int64_t layers;
} layer_capture;
static void capture(void *user, int64_t layer, const float *x, int64_t rows, int64_t cols) {
    layer_capture *c = user;
    if (layer < c->layers) memcpy(c->states + layer * rows * cols, x, (size_t)(rows * cols) * sizeof(float));
}

static void compare_sink(kind_stat *k, lavr_dit_step_cache *c, int64_t layers, int clip, int64_t sink, int64_t d) {
    float *buf = malloc((size_t)(sink * d) * sizeof(float));
    const uint16_t *kk, *vv;
    char path[128];
    struct { int64_t layer; int is_v; const char *name; } items[3] = {
        {0, 0, "cond_k_layer0"}, {0, 1, "cond_v_layer0"}, {layers - 1, 0, "cond_k_last"}};
    for (int i = 0; i < 3; i++) {
        lavr_dit_cache_sink(c, items[i].layer, &kk, &vv);
        CHECK(kk && vv);
        if (!kk || !vv) continue;
        const uint16_t *src = items[i].is_v ? vv : kk;
        for (int64_t j = 0; j < sink * d; j++) buf[j] = lavr_bf16_to_f32(src[j]);
        snprintf(path, sizeof path, "sink/clip%d/%s", clip, items[i].name);
        compare(k, path, buf, sink * d);
    }
    free(buf);
}

int main(void) {
    const char *dir = getenv("LAVR_GOLDEN_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/dit.h5", dir ? dir : "../shared/golden");
    CHECK_OK(lavr_arena_create("test", 0, &arena));
    CHECK_OK(lavr_h5_open(path, &gf));
    if (!gf) return check_summary("test_dit_golden");
    lavr_dit *m = NULL;
    CHECK_OK(lavr_dit_load(gf, "weights/", "/", &m));
    if (!m) return check_summary("test_dit_golden");
    const lavr_dit_config *cfg = &m->cfg;
    int64_t sink_d = 0, n;
    CHECK_OK(lavr_h5_read_attr_int(gf, "/", "sink_d", &sink_d));

    float *ctx = read_f32("inputs/context", &n);
    CHECK_OK(lavr_dit_set_context(m, ctx, n / cfg->text_dim));
    float *ref = read_f32("inputs/ref_latent", &n);
    float *motion = read_f32("inputs/motion_latents", &n);
    float *audio = read_f32("inputs/audio", &n);
    const int64_t audio_frames = n / (cfg->audio_num_states * cfg->audio_dim);
    const int64_t h = 16, w = 12, C = cfg->in_dim, F = cfg->frames_per_block;

    lavr_sampler smp;
    CHECK_OK(lavr_sampler_init(4, &smp));
    kind_stat k_sig = {.kind = "sampler"};
    compare(&k_sig, "sampler/sigmas", smp.sigmas, 5);
    compare(&k_sig, "sampler/timesteps", smp.timesteps, 4);

    lavr_dit_step_cache *cache[4] = {0};
    for (int s = 0; s < 4; s++) CHECK_OK(lavr_dit_cache_create(m, h, w, &cache[s]));
    const lavr_dit_geometry *g = lavr_dit_cache_geometry(cache[0]);
    const int64_t d = cfg->dim, L = g->block_tokens, blk = C * F * h * w;
    layer_capture cap = {malloc((size_t)(cfg->num_layers * L * d) * sizeof(float)), cfg->num_layers};
    float *x = malloc((size_t)blk * sizeof(float)), *v = malloc((size_t)blk * sizeof(float));
    float *ref_now = malloc((size_t)(C * h * w) * sizeof(float));
    memcpy(ref_now, ref, (size_t)(C * h * w) * sizeof(float));

    kind_stat k_vel = {.kind = "velocity"}, k_lat = {.kind = "latent_out"}, k_sink = {.kind = "sink"}, k_dbg = {.kind = "debug"};
    double forward_s = 0;
    int forwards = 0;
    for (int r = 0; r < 2; r++) {
        /* clip 0: given reference; clip 1: clean frame 0 of clip 0 block 0, sink re-prefilled */
        CHECK_OK(lavr_dit_sink_prefill(m, cache[0], ref_now, motion));
        for (int s = 1; s < 4; s++) CHECK_OK(lavr_dit_cache_copy_sink(cache[s], cache[0]));
        compare_sink(&k_sink, cache[0], cfg->num_layers, r, g->sink, d);
        snprintf(path, sizeof path, "inputs/noise/clip%d", r);
        float *noise = read_f32(path, &n);
        for (int b = 0; b < 4; b++) {
            for (int64_t c = 0; c < C; c++)
                memcpy(x + c * F * h * w, noise + (c * 12 + F * b) * h * w, (size_t)(F * h * w) * sizeof(float));
            for (int s = 0; s < 4; s++) {
                int debug = (r == 0 && b == 0 && s == 0) || (r == 1 && b == 1 && s == 2);
                for (int64_t i = 0; i < blk; i++) v[i] = NAN;
                lavr_dit_block_input in = {x, NULL, smp.timesteps[s], 4 * r + b, sink_d, audio, audio_frames,
                                           48 * r + 12 * b, debug ? capture : NULL, &cap};
                struct timespec t0, t1;
                clock_gettime(CLOCK_MONOTONIC, &t0);
                CHECK_OK(lavr_dit_block_forward(m, cache[s], &in, v));
                clock_gettime(CLOCK_MONOTONIC, &t1);
                forward_s += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
                forwards++;
                snprintf(path, sizeof path, "outputs/clip%d/block%d/step%d/velocity", r, b, s);
                compare(&k_vel, path, v, blk);
                CHECK_OK(lavr_sampler_step(&smp, s, x, v, blk));
                snprintf(path, sizeof path, "outputs/clip%d/block%d/step%d/latent_out", r, b, s);
                compare(&k_lat, path, x, blk);
                if (debug) {
                    for (int64_t l = 0; l < cfg->num_layers; l++) {
                        snprintf(path, sizeof path, "debug/clip%d_block%d_step%d/layer%lld", r, b, s, (long long)l);
                        compare(&k_dbg, path, cap.states + l * L * d, L * d);
                    }
                }
            }
            if (r == 0 && b == 0)
                for (int64_t c = 0; c < C; c++) memcpy(ref_now + c * h * w, x + c * F * h * w, (size_t)(h * w) * sizeof(float));
        }
        free(noise);
    }
    kind_stat *kinds[5] = {&k_sig, &k_vel, &k_lat, &k_sink, &k_dbg};
    for (int i = 0; i < 5; i++)
        printf("%-10s %2d outputs, %d over limit; worst %s rel L2 %.3e (limit %.3e)\n", kinds[i]->kind,
               kinds[i]->count, kinds[i]->failed, kinds[i]->worst, kinds[i]->worst_rel, kinds[i]->worst_limit);
    printf("block forward: %.1f ms average over %d calls\n", 1e3 * forward_s / (forwards ? forwards : 1), forwards);

    for (int s = 0; s < 4; s++) lavr_dit_cache_destroy(cache[s]);
    free(cap.states); free(x); free(v); free(ref_now); free(ctx); free(ref); free(motion); free(audio);
    lavr_dit_destroy(m);
    CHECK_OK(lavr_h5_close(gf));
    lavr_arena_destroy(arena);
    return check_summary("test_dit_golden");
}
