/* The CUDA backend of the DiT engine (ranks/dit_engine.h): the rank's shard (tp heads, pp layers) on its
 * device through models/dit_cuda.h in a capped device arena, the tp all-reduce over NCCL, device caches and act.
 * The block latent stays on the device between the rank's steps: embedded there, stepped there after the head
 * (Euler), copied in or out only when it arrives or leaves in a message. Its audio tokens are encoded on the device
 * once per block (models/dit_audio_cuda.h); its time embedding is computed on the host once per timestep and
 * uploaded (7 d floats). The sink is embedded on the device from its uploaded latents once per clip. */
#include "ranks/dit_engine_internal.h"

#if LAVR_HAVE_CUDA

#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_arena.h"
#include "kernels/cuda/dit_kernels.h"
#include "models/dit_audio_cuda.h"
#include "models/dit_cuda.h"
#include "parallel/device.h"
#include "parallel/tp_mpi.h"
#include "ranks/dit_ckpt.h"
#if LAVR_HAVE_NCCL
#include "parallel/nccl.h"
#endif

#define NCCL_SETUP_TIMEOUT_S 120.0 /* all tp ranks join the communicator within this */
#define NCCL_WAIT_TIMEOUT_S 600.0  /* a forward's collectives finish within this, or a peer is gone */
#define MEMO_SLOTS 4 /* timesteps kept: a rank owns at most 4 steps */

/* The time embedding [e | e0] (7 d floats) of one timestep. */
typedef struct {
    int used;
    float t;
    float *e;
} time_memo;


typedef struct {
    int device;
    lavr_dit *m;         /* host shard: config, and on the first pp index the embeddings (layers dropped) */
    lavr_dit_tp host_tp; /* what lavr_dit_load_shard asks for; no host collective runs */
    cudaStream_t stream;
    lavr_device_arena *arena;
    lavr_cuda_blas *blas;
#if LAVR_HAVE_NCCL
    lavr_nccl *nccl; /* tp > 1 */
#endif
    lavr_comm *faults; /* the render's messages: a peer's fault notice ends a wait for the stream */
    uint64_t cap;
    lavr_dit_cuda_options mopts; /* FP8, attention path, graphs */
    const lavr_generated_model *generated; /* set: the device weights are generated (lavr_dit_cuda_generate) */
    lavr_dit_cuda *g;
    lavr_dit_cuda_cache *cache[4];
    int ncaches;
    lavr_dit_cuda_act dact;
    int dact_made;
    lavr_dit_act *act; /* the host mirror */
    float *velocity;   /* device [C, F, h, w] (last pp index) */
    int64_t velocity_n;
    uint16_t *stage; /* host staging of one layer's window and sink K/V for checkpoints */
    float *latent;   /* device [C, F, h, w] (first and last pp index): the block being denoised */
    int64_t latent_n;
    time_memo tmemo[MEMO_SLOTS];
    lavr_dit_cuda_audio *audio; /* the audio encoder (first pp index) */
    float *frames;              /* host [states * audio_dim][4F]: the current block's audio frames */
} cuda_engine;

#if LAVR_HAVE_NCCL
static lavr_status nccl_sum(void *ctx, float *buf, int64_t n, void *stream) {
    return lavr_nccl_allreduce_sum(ctx, buf, n, LAVR_F32, stream);
}
static lavr_status nccl_max(void *ctx, float *buf, int64_t n, void *stream) {
    return lavr_nccl_allreduce_max(ctx, buf, n, LAVR_F32, stream);
}
#endif

/* Waits for the stream; with tp over NCCL it also watches the communicator, so a dead peer is an error. */
static lavr_status wait_stream(cuda_engine *e) {
#if LAVR_HAVE_NCCL
    if (e->nccl) return lavr_nccl_sync(e->nccl, e->stream, NCCL_WAIT_TIMEOUT_S, e->faults);
#endif
    CUDA_TRY(cudaStreamSynchronize(e->stream));
    return LAVR_OK;
}

static void cuda_close(void *impl) {
    cuda_engine *e = impl;
    if (e->device >= 0) (void)cudaSetDevice(e->device);
    lavr_dit_cuda_audio_destroy(e->audio);
    if (e->g) {
        for (int i = 0; i < 4; i++) lavr_dit_cuda_cache_destroy(e->g, e->cache[i]);
        if (e->dact_made) lavr_dit_cuda_act_destroy(e->g, &e->dact);
        lavr_dit_cuda_destroy(e->g);
    }
    lavr_dit_act_destroy(e->act);
    free(e->stage);
    for (int i = 0; i < MEMO_SLOTS; i++) free(e->tmemo[i].e);
    free(e->frames);
    lavr_cuda_blas_destroy(e->blas);
    lavr_device_arena_destroy(e->arena);
    if (e->stream) (void)cudaStreamDestroy(e->stream);
#if LAVR_HAVE_NCCL
    lavr_nccl_destroy(e->nccl);
#endif
    lavr_dit_destroy(e->m);
    lavr_tp_mpi_destroy(&e->host_tp);
    free(e);
}

static const lavr_dit_config *cuda_config(const void *impl) { return &((const cuda_engine *)impl)->m->cfg; }

static void cuda_shard(const void *impl, int64_t *head_begin, int64_t *heads, int64_t *layer_begin,
                       int64_t *layer_end) {
    lavr_dit_engine_ranges(((const cuda_engine *)impl)->m, head_begin, heads, layer_begin, layer_end);
}

static void drop_linear(lavr_dit_linear *l) {
    lavr_tensor_free(&l->w);
    lavr_tensor_free(&l->b);
}

/* After the upload the host keeps what its embeddings read (patch, pose, type, time, audio encoder on the first pp
 * index; a pose input is embedded there): the layers, injectors, text MLP, head and FramePack (the sink is
 * embedded on the device) live on the device only. */
static void drop_uploaded(lavr_dit *m) {
    const lavr_dit_shard *s = lavr_dit_shard_of(m);
    for (int64_t l = s->layer_begin; l < s->layer_end; l++) {
        lavr_dit_layer *w = &m->layers[l - s->layer_begin];
        lavr_dit_linear *lin[10] = {&w->sq, &w->sk, &w->sv, &w->so, &w->cq, &w->ck, &w->cv, &w->co, &w->ffn0, &w->ffn2};
        for (int i = 0; i < 10; i++) drop_linear(lin[i]);
        lavr_tensor *vec[7] = {&w->modulation, &w->s_norm_q, &w->s_norm_k, &w->c_norm_q,
                               &w->c_norm_k,   &w->norm3_w,  &w->norm3_b};
        for (int i = 0; i < 7; i++) lavr_tensor_free(vec[i]);
        const int j = m->inject_of_layer[l];
        if (j < 0) continue;
        lavr_dit_injector *inj = &m->injectors[j];
        lavr_dit_linear *ilin[5] = {&inj->q, &inj->k, &inj->v, &inj->o, &inj->adain};
        for (int i = 0; i < 5; i++) drop_linear(ilin[i]);
        lavr_tensor_free(&inj->norm_q);
        lavr_tensor_free(&inj->norm_k);
    }
    drop_linear(&m->fp_proj);
    drop_linear(&m->fp_proj2);
    drop_linear(&m->fp_proj4);
    drop_linear(&m->text0);
    drop_linear(&m->text2);
    drop_linear(&m->head);
    lavr_tensor_free(&m->head_modulation);
}

static lavr_status cuda_prepare(void *impl, const float *context, int64_t rows, int64_t h, int64_t w, int ncaches) {
    cuda_engine *e = impl;
    CUDA_TRY(cudaSetDevice(e->device));
    const lavr_dit_shard *s = lavr_dit_shard_of(e->m);
    lavr_dit_cuda_tp tp = {.rank = s->tp.rank, .size = s->tp.size};
#if LAVR_HAVE_NCCL
    if (e->nccl) tp.allreduce_sum = nccl_sum, tp.allreduce_max = nccl_max, tp.ctx = e->nccl, tp.graph_safe = 1;
#endif
    /* the device model's working buffers are sized by the latent, so it is made here, not at open */
    TRY(lavr_dit_cuda_create_opts(&e->m->cfg, &tp, &e->mopts, s->layer_begin, s->layer_end, h, w, e->arena, e->blas,
                                  e->stream, &e->g));
    if (s->tp.rank == 0)
        LOG_INFO("DiT layers [%lld, %lld) on %s: attention through %s%s", (long long)s->layer_begin,
                 (long long)s->layer_end, e->device >= 0 ? "the GPU" : "?", lavr_dit_cuda_attention_path(e->g),
                 e->mopts.fp8 ? ", FP8 Linears" : "");
    if (e->generated) TRY(lavr_dit_cuda_generate(e->g, e->generated->seed));
    else TRY(lavr_dit_cuda_upload(e->g, e->m));
    drop_uploaded(e->m);
    TRY(lavr_dit_cuda_set_context(e->g, context, rows));
    for (int i = 0; i < ncaches; i++) TRY(lavr_dit_cuda_cache_create(e->g, &e->cache[i]));
    e->ncaches = ncaches;
    if (ncaches > 0) TRY(lavr_dit_cuda_prepare_attention(e->g, e->cache[0]));
    TRY(lavr_dit_cuda_act_create(e->g, &e->dact));
    e->dact_made = 1;
    TRY(lavr_dit_act_create(e->m, lavr_dit_cuda_geometry(e->g), &e->act));
    const lavr_dit_config *c = &e->m->cfg;
    if (s->layer_end == c->num_layers) {
        e->velocity_n = c->out_dim * c->frames_per_block * h * w;
        TRY(lavr_device_arena_alloc(e->arena, (size_t)e->velocity_n * sizeof(float), "dit velocity",
                                    (void **)&e->velocity));
    }
    if (s->layer_begin == 0 || s->layer_end == c->num_layers) {
        e->latent_n = c->in_dim * c->frames_per_block * h * w;
        TRY(lavr_device_arena_alloc(e->arena, (size_t)e->latent_n * sizeof(float), "dit latent block",
                                    (void **)&e->latent));
    }
    /* the host shard keeps its encoder weights: a pose input is embedded on the host (lavr_dit_cuda_embed_block_host) */
    if (s->layer_begin == 0) TRY(lavr_dit_cuda_audio_create(e->m, e->arena, e->blas, e->stream, &e->audio));
    return wait_stream(e);
}

static const lavr_dit_geometry *cuda_geometry(const void *impl) {
    return lavr_dit_cuda_geometry(((const cuda_engine *)impl)->g);
}

static lavr_dit_act *cuda_act(void *impl) { return ((cuda_engine *)impl)->act; }

static lavr_status cuda_act_to_host(void *impl) {
    cuda_engine *e = impl;
    return lavr_dit_cuda_act_download(e->g, &e->dact, e->act);
}

static lavr_status cuda_act_from_host(void *impl) {
    cuda_engine *e = impl;
    return lavr_dit_cuda_act_upload(e->g, e->act, &e->dact);
}

#if LAVR_HAVE_NCCL
/* The pp hand-off over NCCL: the three device regions act_to_host would download, as one group, then waited for
 * (as the host path's blocking send and receive are) with the fault watch, so a dead peer ends this wait too. */
static lavr_status act_p2p(cuda_engine *e, lavr_nccl *c, int peer, int send) {
    float *ptr[3];
    int64_t count[3];
    /* the rows of the message's header on both ends (the host act's), so the two counts always match */
    TRY(lavr_dit_cuda_act_regions(e->g, &e->dact, e->act->rows, ptr, count));
    TRY(lavr_nccl_group_begin(c));
    for (int i = 0; i < 3; i++) {
        lavr_status st = send ? lavr_nccl_send(c, ptr[i], count[i], LAVR_F32, peer, e->stream)
                              : lavr_nccl_recv(c, ptr[i], count[i], LAVR_F32, peer, e->stream);
        if (st) {
            (void)lavr_nccl_group_end(c); /* close the group; the first failure is the one reported */
            return st;
        }
    }
    TRY(lavr_nccl_group_end(c));
    return lavr_nccl_sync(c, e->stream, NCCL_WAIT_TIMEOUT_S, e->faults);
}

static lavr_status cuda_act_send_device(void *impl, lavr_nccl *c, int peer) {
    return act_p2p(impl, c, peer, 1); /* the device act's header fields stay the layers' (as for act_to_host) */
}

static lavr_status cuda_act_recv_device(void *impl, lavr_nccl *c, int peer) {
    cuda_engine *e = impl;
    lavr_dit_act *a = e->act;
    e->dact.prefill = (int)a->prefill;
    e->dact.block_index = a->block_index;
    e->dact.sink_offset = a->sink_offset;
    e->dact.rows = a->rows;
    return act_p2p(e, c, peer, 0);
}
#endif

static lavr_status check_cache(const cuda_engine *e, int cache) {
    CHECK_ARG(cache >= 0 && cache < e->ncaches, "DiT engine (cuda): cache %d of %d", cache, e->ncaches);
    return LAVR_OK;
}

/* The sink's tokens on the device from the uploaded latents (the reference patch embedding and FramePack); its
 * t = 0 time rows from the host (once per clip). The clip-1 reference swap re-embeds through here too. */
static lavr_status cuda_embed_sink(void *impl, int cache, const float *ref, const float *motion) {
    cuda_engine *e = impl;
    TRY(check_cache(e, cache));
    lavr_dit_act *a = e->act;
    a->prefill = 1;
    a->block_index = 0;
    a->sink_offset = 0;
    a->rows = lavr_dit_cuda_geometry(e->g)->sink;
    a->timestep = 0.0f;
    /* every sink token uses the t = 0 modulation slot */
    TRY(lavr_dit_time_embedding(e->m, 0.0f, a->e, a->e0));
    TRY(lavr_dit_cuda_embed_sink(e->g, ref, motion, &e->dact));
    TRY(lavr_dit_cuda_act_upload_time(e->g, a, &e->dact));
    return wait_stream(e);
}

static lavr_status memo_alloc(int64_t n, const char *what, float **out) {
    if (*out) return LAVR_OK;
    *out = malloc((size_t)n * sizeof(float));
    return *out ? LAVR_OK : LAVR_FAIL(LAVR_E_NOMEM, "DiT engine (cuda): %s (%lld floats)", what, (long long)n);
}

/* e and e0 of timestep t into a, from the memo or computed (slots fill in order; a rank has at most 4 steps) */
static lavr_status time_embedding(cuda_engine *e, float t, lavr_dit_act *a) {
    const int64_t n = 7 * e->m->cfg.dim;
    int slot = 0;
    while (slot < MEMO_SLOTS && e->tmemo[slot].used && e->tmemo[slot].t != t) slot++;
    if (slot == MEMO_SLOTS) slot = 0, e->tmemo[0].used = 0; /* more timesteps than steps: recompute */
    time_memo *tm = &e->tmemo[slot];
    if (!tm->used) {
        TRY(memo_alloc(n, "time embedding memo", &tm->e));
        TRY(lavr_dit_time_embedding(e->m, t, tm->e, tm->e + e->m->cfg.dim));
        tm->t = t, tm->used = 1;
    }
    memcpy(a->e, tm->e, (size_t)n * sizeof(float)); /* e and e0 are adjacent in the act */
    return LAVR_OK;
}

/* The block's audio frames [states * audio_dim][4F] gathered on the host, then its tokens on the device (memoised
 * by the encoder: the rank's steps of a block encode it once). */
static lavr_status audio_tokens(cuda_engine *e, const lavr_dit_block_input *in) {
    const lavr_dit_config *c = &e->m->cfg;
    const int64_t frames = 4 * c->frames_per_block, rows = c->audio_num_states * c->audio_dim;
    CHECK_ARG(in->audio_first >= 0 && in->audio_first + frames <= in->audio_frames,
              "dit audio: frames [%lld, %lld) outside the %lld audio frames", (long long)in->audio_first,
              (long long)(in->audio_first + frames), (long long)in->audio_frames);
    TRY(memo_alloc(rows * frames, "block audio frames", &e->frames));
    for (int64_t r = 0; r < rows; r++)
        memcpy(e->frames + r * frames, in->audio + r * in->audio_frames + in->audio_first,
               (size_t)frames * sizeof(float));
    return lavr_dit_cuda_audio_tokens(e->audio, e->frames, e->dact.a_loc, e->dact.a_glob);
}

static lavr_status cuda_latent_put(void *impl, const float *x) {
    cuda_engine *e = impl;
    CHECK_ARG(e->latent, "DiT engine (cuda): the block latent lives on the first and last pp index");
    CUDA_TRY(cudaMemcpyAsync(e->latent, x, (size_t)e->latent_n * sizeof(float), cudaMemcpyHostToDevice, e->stream));
    return wait_stream(e); /* x may be overwritten by the next message */
}

static lavr_status cuda_latent_get(void *impl, float *x) {
    cuda_engine *e = impl;
    CHECK_ARG(e->latent, "DiT engine (cuda): the block latent lives on the first and last pp index");
    CUDA_TRY(cudaMemcpyAsync(x, e->latent, (size_t)e->latent_n * sizeof(float), cudaMemcpyDeviceToHost, e->stream));
    return wait_stream(e);
}

/* The block's tokens from its latent (in->x, or the device latent when NULL) and its audio tokens on the device;
 * its time rows from the host (memoised). A pose input is embedded on the host (the render has none). */
static lavr_status cuda_embed_block(void *impl, int cache, const lavr_dit_block_input *in) {
    cuda_engine *e = impl;
    TRY(check_cache(e, cache));
    CHECK_ARG(e->audio, "DiT engine (cuda): blocks are embedded on the first pp index");
    if (in->pose) {
        CHECK_ARG(in->x, "DiT engine (cuda): a block with a pose input is embedded on the host, from a host latent");
        TRY(lavr_dit_cuda_embed_block_host(e->g, e->m, in, e->act));
        return lavr_dit_cuda_act_upload(e->g, e->act, &e->dact);
    }
    if (in->x) TRY(cuda_latent_put(e, in->x));
    lavr_dit_act *a = e->act;
    a->prefill = 0;
    a->block_index = in->block_index;
    a->sink_offset = in->sink_offset;
    a->rows = lavr_dit_cuda_geometry(e->g)->block_tokens;
    a->timestep = in->timestep;
    TRY(time_embedding(e, in->timestep, a));
    TRY(audio_tokens(e, in));
    TRY(lavr_dit_cuda_embed_tokens(e->g, e->latent, in->block_index, in->sink_offset, &e->dact));
    TRY(lavr_dit_cuda_act_upload_time(e->g, a, &e->dact));
    return wait_stream(e);
}

static lavr_status cuda_forward(void *impl, int cache) {
    cuda_engine *e = impl;
    TRY(check_cache(e, cache));
    return lavr_dit_cuda_forward_layers(e->g, e->cache[cache], &e->dact);
}

static lavr_status cuda_head(void *impl, int cache, float *velocity) {
    cuda_engine *e = impl;
    TRY(check_cache(e, cache));
    CHECK_ARG(e->velocity, "DiT engine (cuda): the head is on the last pp index");
    TRY(lavr_dit_cuda_head(e->g, &e->dact, e->velocity));
    CUDA_TRY(cudaMemcpyAsync(velocity, e->velocity, (size_t)e->velocity_n * sizeof(float), cudaMemcpyDeviceToHost,
                           e->stream));
    return wait_stream(e);
}

/* Head and Euler step on the device: the velocity and the latent stay there. */
static lavr_status cuda_head_step(void *impl, int cache, const lavr_sampler *smp, int step) {
    cuda_engine *e = impl;
    TRY(check_cache(e, cache));
    CHECK_ARG(e->velocity && e->velocity_n == e->latent_n, "DiT engine (cuda): the head is on the last pp index");
    float delta;
    TRY(lavr_sampler_delta(smp, step, &delta));
    TRY(lavr_dit_cuda_head(e->g, &e->dact, e->velocity));
    return lavr_cuda_euler_step(e->latent, e->velocity, e->latent_n, delta, e->stream);
}

static lavr_status cuda_copy_sink(void *impl, int dst, int src) {
    cuda_engine *e = impl;
    TRY(check_cache(e, dst));
    TRY(check_cache(e, src));
    return lavr_dit_cuda_cache_copy_sink(e->g, e->cache[dst], e->cache[src]);
}

static lavr_dit_ckpt_heads heads_of(const cuda_engine *e) {
    int64_t head_begin, heads, lb, le;
    cuda_shard(e, &head_begin, &heads, &lb, &le);
    return (lavr_dit_ckpt_heads){.num_heads = e->m->cfg.num_heads, .head_begin = head_begin, .heads = heads,
                                 .head_dim = e->m->cfg.dim / e->m->cfg.num_heads};
}

/* Host staging for one layer: window K, window V, sink K, sink V, [tokens][heads * head_dim] each. */
static lavr_status staging(cuda_engine *e, uint16_t *part[4]) {
    const lavr_dit_geometry *g = lavr_dit_cuda_geometry(e->g);
    const int64_t width = e->m->width, win = g->window * width, sink = g->sink * width;
    if (!e->stage) {
        e->stage = malloc((size_t)(2 * (win + sink)) * sizeof(uint16_t));
        if (!e->stage)
            return LAVR_FAIL(LAVR_E_NOMEM, "DiT engine (cuda): no host memory to stage a layer's K/V (%lld values)",
                             (long long)(2 * (win + sink)));
    }
    part[0] = e->stage, part[1] = part[0] + win, part[2] = part[1] + win, part[3] = part[2] + sink;
    return LAVR_OK;
}

static lavr_status cuda_save(void *impl, int cache, int step, int write_sink, lavr_ckpt_writer *w) {
    cuda_engine *e = impl;
    TRY(check_cache(e, cache));
    lavr_dit_cuda_cache *c = e->cache[cache];
    if (write_sink && !lavr_dit_cuda_cache_ready(c))
        return LAVR_FAIL(LAVR_E_INTERNAL, "checkpoint of a step cache whose sink was never filled");
    const lavr_dit_geometry *g = lavr_dit_cuda_geometry(e->g);
    const lavr_dit_shard *s = lavr_dit_shard_of(e->m);
    const lavr_dit_ckpt_heads hd = heads_of(e);
    uint16_t *part[4];
    TRY(staging(e, part));
    TRY(wait_stream(e));
    char name[96];
    for (int64_t l = s->layer_begin; l < s->layer_end; l++) {
        TRY(lavr_dit_cuda_cache_download(e->g, c, l, part[0], part[1], write_sink ? part[2] : NULL,
                                         write_sink ? part[3] : NULL));
        for (int v = 0; v < 2; v++) {
            lavr_dit_ckpt_window_name(name, sizeof name, step, l, v);
            TRY(lavr_dit_ckpt_put(w, name, part[v], g->window, &hd));
            if (!write_sink) continue;
            lavr_dit_ckpt_sink_name(name, sizeof name, l, v);
            TRY(lavr_dit_ckpt_put(w, name, part[2 + v], g->sink, &hd));
        }
    }
    return LAVR_OK;
}

static lavr_status cuda_load(void *impl, int cache, int step, lavr_ckpt *ck) {
    cuda_engine *e = impl;
    TRY(check_cache(e, cache));
    const lavr_dit_geometry *g = lavr_dit_cuda_geometry(e->g);
    const lavr_dit_shard *s = lavr_dit_shard_of(e->m);
    const lavr_dit_ckpt_heads hd = heads_of(e);
    uint16_t *part[4];
    TRY(staging(e, part));
    TRY(wait_stream(e));
    char name[96];
    for (int64_t l = s->layer_begin; l < s->layer_end; l++) {
        for (int v = 0; v < 2; v++) {
            lavr_dit_ckpt_window_name(name, sizeof name, step, l, v);
            TRY(lavr_dit_ckpt_get(ck, name, part[v], g->window, &hd));
            lavr_dit_ckpt_sink_name(name, sizeof name, l, v);
            TRY(lavr_dit_ckpt_get(ck, name, part[2 + v], g->sink, &hd));
        }
        TRY(lavr_dit_cuda_cache_upload(e->g, e->cache[cache], l, part[0], part[1], part[2], part[3]));
    }
    lavr_dit_cuda_cache_set_ready(e->cache[cache]);
    return LAVR_OK;
}

static uint64_t cuda_peak_bytes(const void *impl) {
    return (uint64_t)lavr_device_arena_peak(((const cuda_engine *)impl)->arena);
}

static uint64_t cuda_reserved_bytes(const void *impl) {
    return (uint64_t)lavr_device_arena_cap(((const cuda_engine *)impl)->arena);
}

static const lavr_dit_engine_ops cuda_ops = {
    .close = cuda_close, .config = cuda_config, .shard = cuda_shard, .prepare = cuda_prepare,
    .geometry = cuda_geometry, .act = cuda_act, .act_to_host = cuda_act_to_host, .act_from_host = cuda_act_from_host,
#if LAVR_HAVE_NCCL
    .act_send_device = cuda_act_send_device, .act_recv_device = cuda_act_recv_device,
#endif
    .embed_sink = cuda_embed_sink, .embed_block = cuda_embed_block, .forward = cuda_forward, .head = cuda_head,
    .latent_put = cuda_latent_put, .latent_get = cuda_latent_get, .head_step = cuda_head_step, .copy_sink = cuda_copy_sink, .save = cuda_save, .load = cuda_load, .peak_bytes = cuda_peak_bytes,
    .reserved_bytes = cuda_reserved_bytes,
};

/* The engine's stream at the device's greatest priority: when the aux rank shares the GPU through MPS, the block
 * scheduler then serves the DiT's kernels first and the decode fills the SMs they leave idle (docs/aux.md); alone on
 * a GPU, or time-sliced without MPS, it changes nothing. LAVR_DIT_PRIORITY=default keeps the default priority, to
 * compare the two. */
static lavr_status create_stream(cudaStream_t *out) {
    const char *env = getenv("LAVR_DIT_PRIORITY");
    int least = 0, greatest = 0;
    CUDA_TRY(cudaDeviceGetStreamPriorityRange(&least, &greatest));
    const int priority = env && !strcmp(env, "default") ? 0 : greatest;
    CUDA_TRY(cudaStreamCreateWithPriority(out, cudaStreamDefault, priority));
    return LAVR_OK;
}

/* The device side of open: device, arena, cuBLASLt, stream and (tp > 1) the NCCL communicator. */
static lavr_status open_device(cuda_engine *e, const lavr_dit_engine_options *o) {
    const lavr_roles *roles = o->roles;
    const int tp = e->host_tp.size;
    if (tp > 1 && !LAVR_HAVE_NCCL)
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "--backend cuda with tp=%d needs NCCL, and this lavr was built without "
                                             "it (reconfigure with -DLAVR_NCCL=ON, or use tp=1 or --backend cpu)",
                         tp);
    CUDA_TRY(cudaSetDevice(e->device));
    char name[32];
    lavr_device_name(e->device, name, sizeof name);
    TRY(lavr_device_arena_create(name, (size_t)o->gpu_mem_bytes, &e->arena));
    TRY(lavr_cuda_blas_create(0, &e->blas));
    TRY(create_stream(&e->stream));
#if LAVR_HAVE_NCCL
    if (tp > 1) TRY(lavr_nccl_create(roles->tp, e->device, NCCL_SETUP_TIMEOUT_S, &e->nccl));
#else
    (void)roles;
#endif
    return LAVR_OK;
}

lavr_status lavr_dit_engine_cuda_open(const lavr_dit_engine_options *o, const lavr_dit_engine_ops **ops,
                                      void **impl) {
    CHECK_ARG(o->roles->device >= 0, "--backend cuda: this rank (%s) sees no CUDA device", o->roles->role_name);
    cuda_engine *e = calloc(1, sizeof *e);
    if (!e) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the CUDA DiT engine");
    e->device = o->roles->device;
    e->faults = o->comm;
    e->generated = o->generated;
    e->mopts = lavr_dit_cuda_options_default();
    e->mopts.fp8 = o->fp8;
    lavr_status ast = lavr_dit_attn_path_parse(o->attention ? o->attention : "auto", &e->mopts.attention);
    if (ast) {
        free(e);
        return ast;
    }
    lavr_status st = lavr_dit_engine_load_host(o, &e->host_tp, &e->m);
    if (!st) st = open_device(e, o);
    if (st) {
        cuda_close(e);
        return st;
    }
    *ops = &cuda_ops;
    *impl = e;
    return LAVR_OK;
}

#endif
