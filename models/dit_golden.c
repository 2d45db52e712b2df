/* The causal DiT against a golden file: the whole streaming run it holds (sampler schedule, sink
 * prefill per clip, every block and step with one KV cache per step, the clip-1 reference
 * replacement, the file's fixed sink offset `sink_d` and noise), comparing velocities, latents,
 * sink K/V and the per-layer debug states wherever the file has them. The run drives a small
 * backend table: the CPU model here, the CUDA model in models/dit_golden_cuda.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "models/dit.h"
#include "models/dit_golden.h"
#include "models/golden.h"
#include "models/sampler.h"

/* keeps the layer states of the forwards the file has debug states for */
typedef struct {
    float *states; /* [layers][rows*cols] */
    int64_t layers;
} layer_capture;

static void capture(void *user, int64_t layer, const float *x, int64_t rows, int64_t cols) {
    layer_capture *c = user;
    if (layer < c->layers) memcpy(c->states + layer * rows * cols, x, (size_t)(rows * cols) * sizeof(float));
}

static lavr_status compare_sink(lavr_golden *g, const lavr_dit_golden_backend *be, int64_t layers, int clip,
                                int64_t sink, int64_t d, uint16_t *kv, float *buf) {
    const struct {
        int64_t layer;
        int is_v;
        const char *name;
    } items[3] = {{0, 0, "cond_k_layer0"}, {0, 1, "cond_v_layer0"}, {layers - 1, 0, "cond_k_last"}};
    for (int i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path, "sink/clip%d/%s", clip, items[i].name);
        if (!lavr_h5_exists(g->file, path)) continue;
        TRY(be->sink(be->impl, items[i].layer, kv, kv + sink * d));
        const uint16_t *src = items[i].is_v ? kv + sink * d : kv;
        for (int64_t j = 0; j < sink * d; j++) buf[j] = lavr_bf16_to_f32(src[j]);
        TRY(lavr_golden_compare(g, path, buf, sink * d, 0));
    }
    return LAVR_OK;
}

typedef struct {
    float *ctx, *ref, *motion, *audio, *noise, *x, *v, *ref_now, *sink_buf;
    uint16_t *sink_kv;
    layer_capture cap;
    int steps;
} dit_run;

static lavr_status expect(lavr_golden *g, const char *what, int64_t n, int64_t want) {
    if (n == want) return LAVR_OK;
    return LAVR_FAIL(LAVR_E_FORMAT, "%s: %s has %lld values, expected %lld", lavr_h5_path(g->file), what,
                     (long long)n, (long long)want);
}

static lavr_status alloc_f32(float **p, int64_t n) {
    *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    return *p ? LAVR_OK : LAVR_FAIL(LAVR_E_NOMEM, "out of memory (%lld floats) for the DiT run", (long long)n);
}

static lavr_status run(lavr_golden *g, const lavr_dit_config *cfg, const lavr_dit_golden_backend *be, dit_run *R) {
    int64_t sink_d = 0, n, clips = 0;
    char path[160];
    TRY(lavr_h5_read_attr_int(g->file, "/", "sink_d", &sink_d));
    TRY(lavr_golden_read(g, "inputs/context", &R->ctx, &n));
    const int64_t ctx_rows = n / cfg->text_dim;
    lavr_tensor desc;
    TRY(lavr_h5_info(g->file, "inputs/ref_latent", &desc));
    if (desc.ndim != 4 || desc.shape[0] != cfg->in_dim || desc.shape[1] != 1)
        return LAVR_FAIL(LAVR_E_FORMAT, "%s: inputs/ref_latent must be [%lld, 1, h, w]", lavr_h5_path(g->file),
                         (long long)cfg->in_dim);
    const int64_t C = cfg->in_dim, F = cfg->frames_per_block, h = desc.shape[2], w = desc.shape[3];
    TRY(lavr_golden_read(g, "inputs/ref_latent", &R->ref, &n));
    TRY(lavr_golden_read(g, "inputs/motion_latents", &R->motion, &n));
    TRY(expect(g, "inputs/motion_latents", n, C * ((cfg->motion_frames + 3) / 4) * h * w)); /* 73 video frames -> 19 latents */
    TRY(lavr_golden_read(g, "inputs/audio", &R->audio, &n));
    const int64_t audio_frames = n / (cfg->audio_num_states * cfg->audio_dim);

    /* the schedule: as many steps as the file has timesteps */
    TRY(lavr_h5_info(g->file, "sampler/timesteps", &desc));
    R->steps = (int)lavr_tensor_numel(&desc);
    lavr_sampler smp;
    TRY(lavr_sampler_init(R->steps, &smp));
    TRY(lavr_golden_compare(g, "sampler/sigmas", smp.sigmas, R->steps + 1, 0));
    TRY(lavr_golden_compare(g, "sampler/timesteps", smp.timesteps, R->steps, 0));

    const lavr_dit_geometry *geo = NULL;
    TRY(be->prepare(be->impl, R->ctx, ctx_rows, h, w, R->steps, &geo));
    const int64_t d = cfg->dim, L = geo->block_tokens, blk = C * F * h * w;
    R->cap.layers = cfg->num_layers;
    TRY(alloc_f32(&R->cap.states, cfg->num_layers * L * d));
    TRY(alloc_f32(&R->x, blk));
    TRY(alloc_f32(&R->v, blk));
    TRY(alloc_f32(&R->ref_now, C * h * w));
    TRY(alloc_f32(&R->sink_buf, geo->sink * d));
    R->sink_kv = malloc((size_t)(2 * geo->sink * d) * sizeof *R->sink_kv);
    if (!R->sink_kv) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the sink K/V");
    memcpy(R->ref_now, R->ref, (size_t)(C * h * w) * sizeof(float));

    for (;; clips++) {
        snprintf(path, sizeof path, "inputs/noise/clip%lld", (long long)clips);
        if (!lavr_h5_exists(g->file, path)) break;
    }
    if (clips == 0) return LAVR_FAIL(LAVR_E_FORMAT, "%s: no inputs/noise/clip0", lavr_h5_path(g->file));
    for (int64_t r = 0; r < clips; r++) {
        /* clip 0 uses the given reference; later clips the clean frame 0 of clip 0 block 0, with the
         * sink prefilled again */
        TRY(be->prefill(be->impl, R->ref_now, R->motion));
        TRY(compare_sink(g, be, cfg->num_layers, (int)r, geo->sink, d, R->sink_kv, R->sink_buf));
        snprintf(path, sizeof path, "inputs/noise/clip%lld", (long long)r);
        free(R->noise);
        R->noise = NULL;
        TRY(lavr_golden_read(g, path, &R->noise, &n));
        const int64_t T = n / (C * h * w), blocks = T / F;
        if (T * C * h * w != n || T % F)
            return LAVR_FAIL(LAVR_E_FORMAT, "%s: %s must be [%lld, k*%lld, %lld, %lld]", lavr_h5_path(g->file), path,
                             (long long)C, (long long)F, (long long)h, (long long)w);
        for (int64_t b = 0; b < blocks; b++) {
            for (int64_t c = 0; c < C; c++)
                memcpy(R->x + c * F * h * w, R->noise + (c * T + F * b) * h * w, (size_t)(F * h * w) * sizeof(float));
            for (int s = 0; s < R->steps; s++) {
                char dbg[96];
                snprintf(dbg, sizeof dbg, "debug/clip%lld_block%lld_step%d", (long long)r, (long long)b, s);
                const int debug = be->layer_states && lavr_h5_exists(g->file, dbg);
                for (int64_t i = 0; i < blk; i++) R->v[i] = NAN;
                lavr_dit_block_input in = {R->x, NULL, smp.timesteps[s], blocks * r + b, sink_d,
                                           R->audio, audio_frames, 4 * F * (blocks * r + b),
                                           debug ? capture : NULL, &R->cap};
                TRY(be->block(be->impl, s, &in, R->v));
                snprintf(path, sizeof path, "outputs/clip%lld/block%lld/step%d/velocity", (long long)r, (long long)b, s);
                TRY(lavr_golden_compare(g, path, R->v, blk, 0));
                TRY(lavr_sampler_step(&smp, s, R->x, R->v, blk));
                snprintf(path, sizeof path, "outputs/clip%lld/block%lld/step%d/latent_out", (long long)r, (long long)b, s);
                TRY(lavr_golden_compare(g, path, R->x, blk, 0));
                for (int64_t l = 0; debug && l < cfg->num_layers; l++) {
                    snprintf(path, sizeof path, "%s/layer%lld", dbg, (long long)l);
                    TRY(lavr_golden_compare(g, path, R->cap.states + l * L * d, L * d, 0));
                }
            }
            if (r == 0 && b == 0)
                for (int64_t c = 0; c < C; c++)
                    memcpy(R->ref_now + c * h * w, R->x + c * F * h * w, (size_t)(h * w) * sizeof(float));
        }
    }
    return LAVR_OK;
}

lavr_status lavr_dit_golden_drive(lavr_golden *g, const lavr_dit_config *cfg, const lavr_dit_golden_backend *be) {
    dit_run R = {0};
    lavr_status st = run(g, cfg, be, &R);
    float *bufs[] = {R.ctx, R.ref, R.motion, R.audio, R.noise, R.x, R.v, R.ref_now, R.sink_buf, R.cap.states};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(R.sink_kv);
    return st;
}

/* ---- the CPU backend -------------------------------------------------------------------------------- */
typedef struct {
    lavr_dit *m;
    lavr_dit_step_cache **cache;
    int steps;
} cpu_run;

static lavr_status cpu_prepare(void *impl, const float *context, int64_t rows, int64_t h, int64_t w, int steps,
                               const lavr_dit_geometry **geo) {
    cpu_run *c = impl;
    TRY(lavr_dit_set_context(c->m, context, rows));
    c->cache = calloc((size_t)steps, sizeof *c->cache);
    if (!c->cache) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the step caches");
    c->steps = steps;
    for (int s = 0; s < steps; s++) TRY(lavr_dit_cache_create(c->m, h, w, &c->cache[s]));
    *geo = lavr_dit_cache_geometry(c->cache[0]);
    return LAVR_OK;
}

static lavr_status cpu_prefill(void *impl, const float *ref, const float *motion) {
    cpu_run *c = impl;
    TRY(lavr_dit_sink_prefill(c->m, c->cache[0], ref, motion));
    for (int s = 1; s < c->steps; s++) TRY(lavr_dit_cache_copy_sink(c->cache[s], c->cache[0]));
    return LAVR_OK;
}

static lavr_status cpu_block(void *impl, int step, const lavr_dit_block_input *in, float *velocity) {
    cpu_run *c = impl;
    return lavr_dit_block_forward(c->m, c->cache[step], in, velocity);
}

static lavr_status cpu_sink(void *impl, int64_t layer, uint16_t *k, uint16_t *v) {
    cpu_run *c = impl;
    const uint16_t *sk, *sv;
    lavr_dit_cache_sink(c->cache[0], layer, &sk, &sv);
    if (!sk || !sv) return LAVR_FAIL(LAVR_E_INTERNAL, "sink of layer %lld empty after prefill", (long long)layer);
    const lavr_dit_geometry *geo = lavr_dit_cache_geometry(c->cache[0]);
    const size_t n = (size_t)(geo->sink * c->m->cfg.dim) * sizeof *k;
    memcpy(k, sk, n);
    memcpy(v, sv, n);
    return LAVR_OK;
}

lavr_status lavr_golden_run_dit(lavr_golden *g) {
    cpu_run c = {0};
    TRY(lavr_dit_load(g->file, "weights/", "/", &c.m));
    const lavr_dit_golden_backend be = {&c, cpu_prepare, cpu_prefill, cpu_block, cpu_sink, 1};
    lavr_status st = lavr_dit_golden_drive(g, &c.m->cfg, &be);
    for (int s = 0; c.cache && s < c.steps; s++) lavr_dit_cache_destroy(c.cache[s]);
    free(c.cache);
    lavr_dit_destroy(c.m);
    return st;
}
