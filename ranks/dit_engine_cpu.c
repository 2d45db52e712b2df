/* The CPU backend of the DiT engine (ranks/dit_engine.h): the rank's shard of models/dit.h, its tp
 * all-reduce over MPI (parallel/tp_mpi.h), host step caches, act and block latent (Euler step: models/sampler.h). */
#include <stdlib.h>
#include <string.h>

#include "parallel/tp_mpi.h"
#include "ranks/dit_ckpt.h"
#include "ranks/dit_engine_internal.h"

typedef struct {
    lavr_dit *m;
    lavr_dit_tp tp;
    lavr_dit_step_cache *cache[4];
    int ncaches;
    lavr_dit_act *act;
    float *latent, *velocity; /* [C, F, h, w] the block being denoised, its velocity */
    int64_t latent_n;
} cpu_engine;

static void cpu_close(void *impl) {
    cpu_engine *e = impl;
    for (int i = 0; i < 4; i++) lavr_dit_cache_destroy(e->cache[i]);
    lavr_dit_act_destroy(e->act);
    free(e->latent);
    free(e->velocity);
    lavr_dit_destroy(e->m);
    lavr_tp_mpi_destroy(&e->tp);
    free(e);
}

static const lavr_dit_config *cpu_config(const void *impl) { return &((const cpu_engine *)impl)->m->cfg; }

static void cpu_shard(const void *impl, int64_t *head_begin, int64_t *heads, int64_t *layer_begin,
                      int64_t *layer_end) {
    lavr_dit_engine_ranges(((const cpu_engine *)impl)->m, head_begin, heads, layer_begin, layer_end);
}

static lavr_status cpu_prepare(void *impl, const float *context, int64_t rows, int64_t h, int64_t w, int ncaches) {
    cpu_engine *e = impl;
    TRY(lavr_dit_set_context(e->m, context, rows));
    for (int i = 0; i < ncaches; i++) TRY(lavr_dit_cache_create(e->m, h, w, &e->cache[i]));
    e->ncaches = ncaches;
    const lavr_dit_config *c = &e->m->cfg;
    e->latent_n = c->in_dim * c->frames_per_block * h * w;
    e->latent = malloc((size_t)e->latent_n * sizeof(float));
    e->velocity = malloc((size_t)(c->out_dim * c->frames_per_block * h * w) * sizeof(float));
    if (!e->latent || !e->velocity)
        return LAVR_FAIL(LAVR_E_NOMEM, "DiT engine (cpu): latent and velocity of %lld floats", (long long)e->latent_n);
    return lavr_dit_act_create(e->m, lavr_dit_cache_geometry(e->cache[0]), &e->act);
}

static const lavr_dit_geometry *cpu_geometry(const void *impl) {
    return lavr_dit_cache_geometry(((const cpu_engine *)impl)->cache[0]);
}

static lavr_dit_act *cpu_act(void *impl) { return ((cpu_engine *)impl)->act; }
static lavr_status cpu_act_noop(void *impl) {
    (void)impl;
    return LAVR_OK;
}

static lavr_status cpu_embed_sink(void *impl, int cache, const float *ref, const float *motion) {
    cpu_engine *e = impl;
    return lavr_dit_embed_sink(e->m, e->cache[cache], ref, motion, e->act);
}

static lavr_status cpu_embed_block(void *impl, int cache, const lavr_dit_block_input *in) {
    cpu_engine *e = impl;
    lavr_dit_block_input own = *in;
    if (!own.x) own.x = e->latent;
    return lavr_dit_embed_block(e->m, e->cache[cache], &own, e->act);
}

static lavr_status cpu_latent_put(void *impl, const float *x) {
    cpu_engine *e = impl;
    memcpy(e->latent, x, (size_t)e->latent_n * sizeof(float));
    return LAVR_OK;
}

static lavr_status cpu_latent_get(void *impl, float *x) {
    cpu_engine *e = impl;
    memcpy(x, e->latent, (size_t)e->latent_n * sizeof(float));
    return LAVR_OK;
}

static lavr_status cpu_head_step(void *impl, int cache, const lavr_sampler *s, int step) {
    cpu_engine *e = impl;
    TRY(lavr_dit_head(e->m, e->cache[cache], e->act, e->velocity));
    return lavr_sampler_step(s, step, e->latent, e->velocity, e->latent_n);
}

static lavr_status cpu_forward(void *impl, int cache) {
    cpu_engine *e = impl;
    return lavr_dit_forward_layers(e->m, e->cache[cache], e->act, NULL, NULL);
}

static lavr_status cpu_head(void *impl, int cache, float *velocity) {
    cpu_engine *e = impl;
    return lavr_dit_head(e->m, e->cache[cache], e->act, velocity);
}

static lavr_status cpu_copy_sink(void *impl, int dst, int src) {
    cpu_engine *e = impl;
    return lavr_dit_cache_copy_sink(e->cache[dst], e->cache[src]);
}

static lavr_dit_ckpt_heads heads_of(const cpu_engine *e) {
    int64_t head_begin, heads, lb, le;
    cpu_shard(e, &head_begin, &heads, &lb, &le);
    return (lavr_dit_ckpt_heads){.num_heads = e->m->cfg.num_heads, .head_begin = head_begin, .heads = heads,
                                 .head_dim = e->m->cfg.dim / e->m->cfg.num_heads};
}

static lavr_status cpu_save(void *impl, int cache, int step, int write_sink, lavr_ckpt_writer *w) {
    cpu_engine *e = impl;
    lavr_dit_step_cache *c = e->cache[cache];
    const lavr_dit_geometry *g = lavr_dit_cache_geometry(c);
    const lavr_dit_shard *s = lavr_dit_shard_of(e->m);
    lavr_dit_ckpt_heads hd = heads_of(e);
    char name[96];
    for (int64_t l = s->layer_begin; l < s->layer_end; l++) {
        uint16_t *kv[2];
        lavr_dit_cache_window(c, l, &kv[0], &kv[1]);
        for (int v = 0; v < 2; v++) {
            lavr_dit_ckpt_window_name(name, sizeof name, step, l, v);
            TRY(lavr_dit_ckpt_put(w, name, kv[v], g->window, &hd));
        }
        if (!write_sink) continue;
        const uint16_t *sk[2];
        lavr_dit_cache_sink(c, l, &sk[0], &sk[1]);
        if (!sk[0]) return LAVR_FAIL(LAVR_E_INTERNAL, "checkpoint of a step cache whose sink was never filled");
        for (int v = 0; v < 2; v++) {
            lavr_dit_ckpt_sink_name(name, sizeof name, l, v);
            TRY(lavr_dit_ckpt_put(w, name, sk[v], g->sink, &hd));
        }
    }
    return LAVR_OK;
}

static lavr_status cpu_load(void *impl, int cache, int step, lavr_ckpt *ck) {
    cpu_engine *e = impl;
    lavr_dit_step_cache *c = e->cache[cache];
    const lavr_dit_geometry *g = lavr_dit_cache_geometry(c);
    const lavr_dit_shard *s = lavr_dit_shard_of(e->m);
    lavr_dit_ckpt_heads hd = heads_of(e);
    char name[96];
    for (int64_t l = s->layer_begin; l < s->layer_end; l++) {
        uint16_t *kv[2], *sk[2];
        lavr_dit_cache_window(c, l, &kv[0], &kv[1]);
        lavr_dit_cache_sink_restore(c, l, &sk[0], &sk[1]);
        for (int v = 0; v < 2; v++) {
            lavr_dit_ckpt_window_name(name, sizeof name, step, l, v);
            TRY(lavr_dit_ckpt_get(ck, name, kv[v], g->window, &hd));
            lavr_dit_ckpt_sink_name(name, sizeof name, l, v);
            TRY(lavr_dit_ckpt_get(ck, name, sk[v], g->sink, &hd));
        }
    }
    return LAVR_OK;
}

static uint64_t cpu_peak_bytes(const void *impl) {
    (void)impl;
    return 0;
}

static const lavr_dit_engine_ops cpu_ops = {
    .close = cpu_close, .config = cpu_config, .shard = cpu_shard, .prepare = cpu_prepare,
    .geometry = cpu_geometry, .act = cpu_act, .act_to_host = cpu_act_noop, .act_from_host = cpu_act_noop,
    .embed_sink = cpu_embed_sink, .embed_block = cpu_embed_block, .forward = cpu_forward, .head = cpu_head,
    .latent_put = cpu_latent_put, .latent_get = cpu_latent_get, .head_step = cpu_head_step, .copy_sink = cpu_copy_sink, .save = cpu_save, .load = cpu_load, .peak_bytes = cpu_peak_bytes,
    .reserved_bytes = cpu_peak_bytes, /* nothing on a device */
};

lavr_status lavr_dit_engine_cpu_open(const lavr_dit_engine_options *o, const lavr_dit_engine_ops **ops, void **impl) {
    CHECK_ARG(!o->fp8, "--fp8 runs on the CUDA backend only (this DiT rank computes on the CPU)");
    cpu_engine *e = calloc(1, sizeof *e);
    if (!e) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the CPU DiT engine");
    lavr_status st = lavr_dit_engine_load_host(o, &e->tp, &e->m);
    if (st) {
        cpu_close(e);
        return st;
    }
    *ops = &cpu_ops;
    *impl = e;
    return LAVR_OK;
}
