/* The DiT golden run on a CUDA device: the backend table of models/dit_golden.h over the device model
 * (models/dit_cuda.h), the sink embedded on the device as the render's CUDA engine does (the blocks on the host),
 * so `lavr check-golden --backend cuda dit.h5` judges the same kernels a render runs, against the official outputs. */
#include "models/dit_golden_cuda.h"

#if LAVR_HAVE_CUDA

#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_arena.h"
#include "kernels/cuda/ops_cuda.h"
#include "models/dit_cuda.h"
#include "models/dit_golden.h"
#include "parallel/device.h"

/* the golden model is small: a 2 GiB arena holds it with room to spare */
#define GOLDEN_ARENA_BYTES ((size_t)2 << 30)

typedef struct {
    lavr_dit *m;
    lavr_dit_cuda_options opts;
    lavr_device_arena *arena;
    lavr_cuda_blas *blas;
    cudaStream_t stream;
    lavr_dit_cuda *g;
    lavr_dit_cuda_cache **cache;
    int steps;
    lavr_dit_cuda_act dact;
    int dact_made;
    lavr_dit_act *act;
    float *dvel;
    int64_t vel_n;
} cuda_run;

static lavr_status wait(cuda_run *c) {
    CUDA_TRY(cudaStreamSynchronize(c->stream));
    return LAVR_OK;
}

static lavr_status cuda_prepare(void *impl, const float *context, int64_t rows, int64_t h, int64_t w, int steps,
                                const lavr_dit_geometry **geo) {
    cuda_run *c = impl;
    const lavr_dit_config *cfg = &c->m->cfg;
    const lavr_dit_cuda_tp tp = {.rank = 0, .size = 1};
    TRY(lavr_dit_cuda_create_opts(cfg, &tp, &c->opts, 0, cfg->num_layers, h, w, c->arena, c->blas, c->stream, &c->g));
    printf("DiT on the GPU: attention through %s%s\n", lavr_dit_cuda_attention_path(c->g),
           c->opts.fp8 ? ", FP8 Linears" : "");
    TRY(lavr_dit_cuda_upload(c->g, c->m));
    TRY(lavr_dit_cuda_set_context(c->g, context, rows));
    c->cache = calloc((size_t)steps, sizeof *c->cache);
    if (!c->cache) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the step caches");
    c->steps = steps;
    for (int s = 0; s < steps; s++) TRY(lavr_dit_cuda_cache_create(c->g, &c->cache[s]));
    TRY(lavr_dit_cuda_act_create(c->g, &c->dact));
    c->dact_made = 1;
    TRY(lavr_dit_act_create(c->m, lavr_dit_cuda_geometry(c->g), &c->act));
    c->vel_n = cfg->out_dim * cfg->frames_per_block * h * w;
    TRY(lavr_device_arena_alloc(c->arena, (size_t)c->vel_n * sizeof(float), "golden velocity", (void **)&c->dvel));
    *geo = lavr_dit_cuda_geometry(c->g);
    return wait(c);
}

static lavr_status cuda_prefill(void *impl, const float *ref, const float *motion) {
    cuda_run *c = impl;
    /* the sink on the device as the render's engine embeds it (ranks/dit_engine_cuda.c), t = 0 rows from the host */
    lavr_dit_act *a = c->act;
    a->prefill = 1, a->block_index = 0, a->sink_offset = 0, a->timestep = 0.0f;
    a->rows = lavr_dit_cuda_geometry(c->g)->sink;
    TRY(lavr_dit_time_embedding(c->m, 0.0f, a->e, a->e0));
    TRY(lavr_dit_cuda_embed_sink(c->g, ref, motion, &c->dact));
    TRY(lavr_dit_cuda_act_upload_time(c->g, a, &c->dact));
    TRY(lavr_dit_cuda_forward_layers(c->g, c->cache[0], &c->dact));
    for (int s = 1; s < c->steps; s++) TRY(lavr_dit_cuda_cache_copy_sink(c->g, c->cache[s], c->cache[0]));
    return wait(c);
}

static lavr_status cuda_block(void *impl, int step, const lavr_dit_block_input *in, float *velocity) {
    cuda_run *c = impl;
    TRY(lavr_dit_cuda_embed_block_host(c->g, c->m, in, c->act));
    TRY(lavr_dit_cuda_act_upload(c->g, c->act, &c->dact));
    TRY(lavr_dit_cuda_forward_layers(c->g, c->cache[step], &c->dact));
    TRY(lavr_dit_cuda_head(c->g, &c->dact, c->dvel));
    CUDA_TRY(cudaMemcpyAsync(velocity, c->dvel, (size_t)c->vel_n * sizeof(float), cudaMemcpyDeviceToHost, c->stream));
    return wait(c);
}

static lavr_status cuda_sink(void *impl, int64_t layer, uint16_t *k, uint16_t *v) {
    cuda_run *c = impl;
    return lavr_dit_cuda_cache_download(c->g, c->cache[0], layer, NULL, NULL, k, v);
}

static void cuda_run_free(cuda_run *c) {
    if (c->g) {
        for (int s = 0; c->cache && s < c->steps; s++) lavr_dit_cuda_cache_destroy(c->g, c->cache[s]);
        if (c->dact_made) lavr_dit_cuda_act_destroy(c->g, &c->dact);
        lavr_dit_cuda_destroy(c->g);
    }
    free(c->cache);
    lavr_dit_act_destroy(c->act);
    lavr_cuda_blas_destroy(c->blas);
    lavr_device_arena_destroy(c->arena);
    if (c->stream) cudaStreamDestroy(c->stream);
    lavr_dit_destroy(c->m);
}

lavr_status lavr_golden_run_dit_cuda(lavr_golden *g, const lavr_golden_cuda_options *o) {
    CHECK_ARG(lavr_device_count() > 0, "check-golden --backend cuda: no CUDA device is visible");
    cuda_run c = {0};
    c.opts = lavr_dit_cuda_options_default();
    c.opts.fp8 = o ? o->fp8 : 0;
    lavr_status st = lavr_dit_attn_path_parse(o && o->attention ? o->attention : "auto", &c.opts.attention);
    const int dev = o ? o->device : 0;
    if (!st && cudaSetDevice(dev) != cudaSuccess)
        st = LAVR_FAIL(LAVR_E_CUDA, "check-golden: cannot use CUDA device %d", dev);
    if (!st) st = lavr_dit_load(g->file, "weights/", "/", &c.m);
    char name[16];
    snprintf(name, sizeof name, "cuda:%d", dev);
    if (!st) st = lavr_device_arena_create(name, GOLDEN_ARENA_BYTES, &c.arena);
    if (!st) st = lavr_cuda_blas_create(0, &c.blas);
    if (!st && cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking) != cudaSuccess)
        st = LAVR_FAIL(LAVR_E_CUDA, "check-golden: cannot create a CUDA stream");
    if (!st) {
        /* the debug layer states are compared on the CPU only (the device forward has no per-layer hook) */
        const lavr_dit_golden_backend be = {&c, cuda_prepare, cuda_prefill, cuda_block, cuda_sink, 0};
        st = lavr_dit_golden_drive(g, &c.m->cfg, &be);
    }
    cuda_run_free(&c);
    return st;
}

#else

lavr_status lavr_golden_run_dit_cuda(lavr_golden *g, const lavr_golden_cuda_options *o) {
    (void)g, (void)o;
    return LAVR_FAIL(LAVR_E_UNSUPPORTED, "check-golden --backend cuda: this lavr was built without CUDA");
}

#endif
