/* The causal DiT on a CUDA device (models/dit_cuda.h): device weights and caches from the arena and the
 * layer / injector / head forward as kernels/cuda launches, step for step the CPU code of dit_block.c. */
#include "models/dit_cuda.h"

#if LAVR_HAVE_CUDA

#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "kernels/cuda/cuda_check.h"
#include "core/rng.h"
#include "kernels/cuda/dit_kernels.h"
#include "models/dit_internal.h"
#include "models/rope.h"


typedef struct {
    uint16_t *w; /* bf16 [out, in] */
    float *b;    /* fp32 [out] */
    int64_t out, in;
    int split;   /* 1: rows of the tp rank, 2: columns of the tp rank, 0: whole */
} dlin;

typedef struct {
    float *modulation; /* [6d] */
    dlin sq, sk, sv, so, cq, ck, cv, co, ffn0, ffn2;
    float *s_norm_q, *s_norm_k, *c_norm_q, *c_norm_k, *norm3_w, *norm3_b;
} dlayer;

typedef struct {
    dlin q, k, v, o, adain;
    float *norm_q, *norm_k;
} dinjector;

struct lavr_dit_cuda {
    lavr_dit_config cfg;
    lavr_dit_cuda_tp tp;
    lavr_dit_geometry geo;
    lavr_device_arena *arena;
    lavr_cuda_blas *blas;
    void *stream;
    int64_t d, dh, H, D, ff, NA, F, R, L, S, T, head_out;
    int64_t lb, le, nl; /* the layer range [lb, le) held here (pp) and its length */
    uint64_t weight_bytes;
    dlin patch, text0, text2;
    float *cond_bias, *cond_mask, *head_w, *head_b, *head_mod;
    dinjector *inj;
    int inject_of_layer[256];
    dlayer *layers;            /* [num_layers]; weights only for [lb, le) */
    uint16_t *text_k, *text_v; /* [range layers][T][dh] */
    /* working buffers */
    float *E, *ones, *xres, *a, *q, *k, *v, *att, *hid, *ss, *sink_kf, *head_y, *gin, *emb;
    uint16_t *op, *kb, *vb;
    int64_t *pos_dev, *pos_host;
};

struct lavr_dit_cuda_cache {
    uint16_t *win_k, *win_v, *sink_k, *sink_v; /* [range layers][window|sink][dh] */
    int64_t *sink_pos;                         /* host [sink][3] */
    int ready;
};

static lavr_status dalloc(lavr_dit_cuda *g, size_t bytes, const char *what, void *out) {
    return lavr_device_arena_alloc(g->arena, bytes, what, (void **)out);
}

static lavr_status lin_alloc(lavr_dit_cuda *g, dlin *l, int64_t out, int64_t in, int split, const char *what) {
    l->out = out, l->in = in, l->split = split;
    TRY(dalloc(g, (size_t)(out * in) * 2, what, &l->w));
    TRY(dalloc(g, (size_t)out * 4, what, &l->b));
    g->weight_bytes += (uint64_t)(out * in) * 2 + (uint64_t)out * 4;
    return LAVR_OK;
}

static lavr_status vec_alloc(lavr_dit_cuda *g, float **v, int64_t n, const char *what) {
    g->weight_bytes += (uint64_t)n * 4;
    return dalloc(g, (size_t)n * 4, what, v);
}

/* audio injector j follows a layer of this range */
static int holds_injector(const lavr_dit_cuda *g, int j) {
    const int64_t l = g->cfg.inject_layers[j];
    return l >= g->lb && l < g->le;
}

static lavr_status alloc_weights(lavr_dit_cuda *g) {
    const lavr_dit_config *c = &g->cfg;
    const int64_t d = g->d, dh = g->dh, ff = g->ff;
    /* as a CPU shard: embeddings with the first layer, the head with the last, the text MLP everywhere */
    if (g->lb == 0) {
        TRY(lin_alloc(g, &g->patch, d, c->in_dim * 4, 0, "dit patch embedding"));
        TRY(vec_alloc(g, &g->cond_bias, d, "dit pose bias"));
        TRY(vec_alloc(g, &g->cond_mask, 3 * d, "dit type embedding"));
    }
    TRY(lin_alloc(g, &g->text0, d, c->text_dim, 0, "dit text embedding"));
    TRY(lin_alloc(g, &g->text2, d, d, 0, "dit text embedding"));
    if (g->le == c->num_layers) {
        TRY(vec_alloc(g, &g->head_w, g->head_out * d, "dit head"));
        TRY(vec_alloc(g, &g->head_b, g->head_out, "dit head"));
        TRY(vec_alloc(g, &g->head_mod, 2 * d, "dit head modulation"));
    }
    for (int64_t l = g->lb; l < g->le; l++) {
        dlayer *w = &g->layers[l];
        TRY(vec_alloc(g, &w->modulation, 6 * d, "dit modulation"));
        dlin *rows[6] = {&w->sq, &w->sk, &w->sv, &w->cq, &w->ck, &w->cv};
        for (int i = 0; i < 6; i++) TRY(lin_alloc(g, rows[i], dh, d, 1, "dit attention"));
        TRY(lin_alloc(g, &w->so, d, dh, 2, "dit attention"));
        TRY(lin_alloc(g, &w->co, d, dh, 2, "dit attention"));
        TRY(lin_alloc(g, &w->ffn0, ff, d, 1, "dit ffn"));
        TRY(lin_alloc(g, &w->ffn2, d, ff, 2, "dit ffn"));
        float **hv[4] = {&w->s_norm_q, &w->s_norm_k, &w->c_norm_q, &w->c_norm_k};
        for (int i = 0; i < 4; i++) TRY(vec_alloc(g, hv[i], dh, "dit q/k norm"));
        TRY(vec_alloc(g, &w->norm3_w, d, "dit norm3"));
        TRY(vec_alloc(g, &w->norm3_b, d, "dit norm3"));
    }
    for (int j = 0; j < c->n_inject; j++) {
        if (!holds_injector(g, j)) continue;
        dinjector *inj = &g->inj[j];
        TRY(lin_alloc(g, &inj->q, dh, d, 1, "dit audio injector"));
        TRY(lin_alloc(g, &inj->k, dh, d, 1, "dit audio injector"));
        TRY(lin_alloc(g, &inj->v, dh, d, 1, "dit audio injector"));
        TRY(lin_alloc(g, &inj->o, d, dh, 2, "dit audio injector"));
        TRY(lin_alloc(g, &inj->adain, 2 * d, d, 0, "dit audio injector"));
        TRY(vec_alloc(g, &inj->norm_q, dh, "dit audio injector"));
        TRY(vec_alloc(g, &inj->norm_k, dh, "dit audio injector"));
    }
    const int64_t layers = g->nl, T = g->T;
    TRY(dalloc(g, (size_t)(layers * T * dh) * 2, "dit text K", &g->text_k));
    TRY(dalloc(g, (size_t)(layers * T * dh) * 2, "dit text V", &g->text_v));
    return LAVR_OK;
}

static lavr_status alloc_work(lavr_dit_cuda *g) {
    const int64_t d = g->d, dh = g->dh, R = g->R, ff = g->ff, S = g->S, NA = g->NA;
    int64_t opn = R * (d > ff ? d : ff);
    if (opn < g->T * g->cfg.text_dim) opn = g->T * g->cfg.text_dim;
    if (opn < g->T * d) opn = g->T * d;
    float ones_host[1024];
    for (int i = 0; i < 1024; i++) ones_host[i] = 1.0f;
    TRY(dalloc(g, (size_t)(6 * d) * 4, "dit modulation sum", &g->E));
    TRY(dalloc(g, (size_t)(6 * d) * 4, "dit ones", &g->ones));
    for (int64_t i = 0; i < 6 * d; i += 1024)
        CUDA_TRY(cudaMemcpy(g->ones + i, ones_host, (size_t)(6 * d - i < 1024 ? 6 * d - i : 1024) * 4,
                          cudaMemcpyHostToDevice));
    TRY(dalloc(g, (size_t)(R * d) * 4, "dit residual", &g->xres));
    TRY(dalloc(g, (size_t)(R * d) * 4, "dit norm", &g->a));
    TRY(dalloc(g, (size_t)(R * dh) * 4, "dit q", &g->q));
    TRY(dalloc(g, (size_t)(R * dh) * 4, "dit k", &g->k));
    TRY(dalloc(g, (size_t)(R * dh) * 4, "dit v", &g->v));
    TRY(dalloc(g, (size_t)(R * dh) * 4, "dit attention out", &g->att));
    TRY(dalloc(g, (size_t)(R * ff) * 4, "dit ffn hidden", &g->hid));
    TRY(dalloc(g, (size_t)(R > g->T ? R : g->T) * 4, "dit rms sums", &g->ss));
    TRY(dalloc(g, (size_t)(S * dh) * 4, "dit sink keys", &g->sink_kf));
    TRY(dalloc(g, (size_t)(g->L * g->head_out) * 4, "dit head out", &g->head_y));
    TRY(dalloc(g, (size_t)d * 4, "dit adain input", &g->gin));
    TRY(dalloc(g, (size_t)(2 * d) * 4, "dit adain", &g->emb));
    TRY(dalloc(g, (size_t)opn * 2, "dit GEMM operand", &g->op));
    TRY(dalloc(g, (size_t)((R > S ? R : S) * dh) * 2, "dit roped keys", &g->kb));
    TRY(dalloc(g, (size_t)(NA * dh) * 2, "dit audio values", &g->vb));
    TRY(dalloc(g, (size_t)((R + S) * 3) * 8, "dit positions", &g->pos_dev));
    g->pos_host = malloc((size_t)((R + S) * 3) * sizeof(int64_t));
    if (!g->pos_host) return LAVR_FAIL(LAVR_E_NOMEM, "dit positions");
    return LAVR_OK;
}

lavr_status lavr_dit_cuda_create(const lavr_dit_config *cfg, const lavr_dit_cuda_tp *tp, int64_t h, int64_t w,
                                 lavr_device_arena *arena, lavr_cuda_blas *blas, void *stream, lavr_dit_cuda **out) {
    return lavr_dit_cuda_create_range(cfg, tp, 0, cfg->num_layers, h, w, arena, blas, stream, out);
}

lavr_status lavr_dit_cuda_create_range(const lavr_dit_config *cfg, const lavr_dit_cuda_tp *tp, int64_t layer_begin,
                                       int64_t layer_end, int64_t h, int64_t w, lavr_device_arena *arena,
                                       lavr_cuda_blas *blas, void *stream, lavr_dit_cuda **out) {
    *out = NULL;
    CHECK_ARG(layer_begin >= 0 && layer_begin < layer_end && layer_end <= cfg->num_layers,
              "dit cuda: layer range [%lld, %lld) is not inside the model's %lld layers", (long long)layer_begin,
              (long long)layer_end, (long long)cfg->num_layers);
    CHECK_ARG(tp->size >= 1 && cfg->num_heads % tp->size == 0 && cfg->ffn_dim % tp->size == 0 &&
                  (tp->size == 1 || tp->allreduce_sum),
              "dit cuda: tp %d does not split %lld heads and FFN %lld", tp->size, (long long)cfg->num_heads,
              (long long)cfg->ffn_dim);
    CHECK_ARG(cfg->num_layers <= 256, "dit cuda: %lld layers (at most 256)", (long long)cfg->num_layers);
    lavr_dit_cuda *g = calloc(1, sizeof *g);
    if (!g) return LAVR_FAIL(LAVR_E_NOMEM, "dit cuda");
    g->cfg = *cfg;
    g->tp = *tp;
    g->arena = arena, g->blas = blas, g->stream = stream;
    g->lb = layer_begin, g->le = layer_end, g->nl = layer_end - layer_begin;
    lavr_status st = lavr_dit_geometry_of(cfg, h, w, &g->geo);
    g->d = cfg->dim;
    g->H = cfg->num_heads / tp->size;
    g->D = cfg->dim / cfg->num_heads;
    g->dh = g->H * g->D;
    g->ff = cfg->ffn_dim / tp->size;
    g->NA = cfg->num_audio_token + 1;
    g->F = cfg->frames_per_block;
    g->L = g->geo.block_tokens;
    g->S = g->geo.sink;
    g->R = g->L > g->S ? g->L : g->S;
    g->T = cfg->text_len;
    g->head_out = cfg->out_dim * 4;
    for (int64_t l = 0; l < cfg->num_layers; l++) g->inject_of_layer[l] = -1;
    for (int j = 0; j < cfg->n_inject; j++)
        if (cfg->inject_layers[j] >= 0 && cfg->inject_layers[j] < cfg->num_layers)
            g->inject_of_layer[cfg->inject_layers[j]] = j;
    g->layers = calloc((size_t)cfg->num_layers, sizeof *g->layers);
    g->inj = calloc((size_t)(cfg->n_inject > 0 ? cfg->n_inject : 1), sizeof *g->inj);
    if (!st && (!g->layers || !g->inj)) st = LAVR_FAIL(LAVR_E_NOMEM, "dit cuda layers");
    if (!st) st = alloc_weights(g);
    if (!st) st = alloc_work(g);
    if (st) {
        lavr_dit_cuda_destroy(g);
        return st;
    }
    *out = g;
    return LAVR_OK;
}

void lavr_dit_cuda_destroy(lavr_dit_cuda *g) {
    /* device buffers belong to the arena, which the caller destroys */
    if (!g) return;
    free(g->layers);
    free(g->inj);
    free(g->pos_host);
    free(g);
}

uint64_t lavr_dit_cuda_weight_bytes(const lavr_dit_cuda *g) { return g->weight_bytes; }

/* ---- weights: upload from a CPU shard ----------------------------------------------------------- */
static lavr_status put(const lavr_tensor *t, int64_t n, int bf16, void *dev) {
    CHECK_ARG(lavr_tensor_numel(t) == n, "dit cuda upload: tensor of %lld elements, expected %lld",
              (long long)lavr_tensor_numel(t), (long long)n);
    void *h = malloc((size_t)n * (bf16 ? 2 : 4));
    if (!h) return LAVR_FAIL(LAVR_E_NOMEM, "dit cuda upload staging (%lld)", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        double v = lavr_dtype_load(t->dtype, t->data, i);
        if (bf16) ((uint16_t *)h)[i] = lavr_f32_to_bf16((float)v);
        else ((float *)h)[i] = (float)v;
    }
    cudaError_t e = cudaMemcpy(dev, h, (size_t)n * (bf16 ? 2 : 4), cudaMemcpyHostToDevice);
    free(h);
    if (e != cudaSuccess) return LAVR_FAIL(LAVR_E_CUDA, "dit cuda upload: %s", cudaGetErrorString(e));
    return LAVR_OK;
}

static lavr_status put_lin(const lavr_dit_linear *src, dlin *l) {
    TRY(put(&src->w, l->out * l->in, 1, l->w));
    return put(&src->b, l->out, 0, l->b);
}

lavr_status lavr_dit_cuda_upload(lavr_dit_cuda *g, const lavr_dit *m) {
    const lavr_dit_shard *s = lavr_dit_shard_of(m);
    CHECK_ARG(s->layer_begin == g->lb && s->layer_end == g->le && s->tp.size == g->tp.size &&
                  s->tp.rank == g->tp.rank && m->cfg.dim == g->d && m->cfg.num_layers == g->cfg.num_layers,
              "dit cuda upload: the CPU model is another shard or size");
    if (g->lb == 0) {
        TRY(put_lin(&m->patch, &g->patch));
        TRY(put(&m->cond.b, g->d, 0, g->cond_bias));
        TRY(put(&m->cond_mask, 3 * g->d, 0, g->cond_mask));
    }
    TRY(put_lin(&m->text0, &g->text0));
    TRY(put_lin(&m->text2, &g->text2));
    if (g->le == g->cfg.num_layers) {
        TRY(put(&m->head.w, g->head_out * g->d, 0, g->head_w));
        TRY(put(&m->head.b, g->head_out, 0, g->head_b));
        TRY(put(&m->head_modulation, 2 * g->d, 0, g->head_mod));
    }
    for (int64_t l = g->lb; l < g->le; l++) {
        const lavr_dit_layer *h = &m->layers[l - g->lb];
        dlayer *w = &g->layers[l];
        TRY(put(&h->modulation, 6 * g->d, 0, w->modulation));
        const lavr_dit_linear *hs[10] = {&h->sq, &h->sk, &h->sv, &h->so, &h->cq, &h->ck, &h->cv, &h->co, &h->ffn0, &h->ffn2};
        dlin *ws[10] = {&w->sq, &w->sk, &w->sv, &w->so, &w->cq, &w->ck, &w->cv, &w->co, &w->ffn0, &w->ffn2};
        for (int i = 0; i < 10; i++) TRY(put_lin(hs[i], ws[i]));
        const lavr_tensor *hv[4] = {&h->s_norm_q, &h->s_norm_k, &h->c_norm_q, &h->c_norm_k};
        float *wv[4] = {w->s_norm_q, w->s_norm_k, w->c_norm_q, w->c_norm_k};
        for (int i = 0; i < 4; i++) TRY(put(hv[i], g->dh, 0, wv[i]));
        TRY(put(&h->norm3_w, g->d, 0, w->norm3_w));
        TRY(put(&h->norm3_b, g->d, 0, w->norm3_b));
    }
    for (int j = 0; j < g->cfg.n_inject; j++) {
        if (!holds_injector(g, j)) continue;
        const lavr_dit_injector *h = &m->injectors[j];
        dinjector *w = &g->inj[j];
        TRY(put_lin(&h->q, &w->q));
        TRY(put_lin(&h->k, &w->k));
        TRY(put_lin(&h->v, &w->v));
        TRY(put_lin(&h->o, &w->o));
        TRY(put_lin(&h->adain, &w->adain));
        TRY(put(&h->norm_q, g->dh, 0, w->norm_q));
        TRY(put(&h->norm_k, g->dh, 0, w->norm_k));
    }
    return LAVR_OK;
}

/* ---- weights: generated on the device ------------------------------------------------------------- */
typedef struct {
    lavr_dit_cuda *g;
    uint64_t seed;
} gen_ctx;

/* tensors split over the tp group take the rank's part of a stream; whole tensors the same values */
static lavr_status gen(gen_ctx *c, const char *name, void *dev, int bf16, int64_t n, int split, float scale,
                       float shift) {
    const uint64_t offset = split ? (uint64_t)c->g->tp.rank * (uint64_t)n : 0;
    return lavr_cuda_fill_uniform(dev, bf16, n, c->seed, ((uint64_t)LAVR_STREAM_WEIGHTS << 56) ^ lavr_rng_hash(name), offset,
                                  scale, shift, c->g->stream);
}

static lavr_status gen_lin(gen_ctx *c, const char *name, const dlin *l) {
    char n[192];
    /* fan-in of the whole layer: a column split holds in/tp of it */
    const int64_t fan_in = l->split == 2 ? l->in * c->g->tp.size : l->in;
    snprintf(n, sizeof n, "%s.weight", name);
    TRY(gen(c, n, l->w, 1, l->out * l->in, l->split, (float)(1.0 / sqrt((double)fan_in)), 0.0f));
    snprintf(n, sizeof n, "%s.bias", name);
    return gen(c, n, l->b, 0, l->out, l->split == 1, 0.02f, 0.0f);
}

lavr_status lavr_dit_cuda_generate(lavr_dit_cuda *g, uint64_t seed) {
    gen_ctx c = {g, seed};
    const int64_t d = g->d, dh = g->dh;
    char n[192];
    if (g->lb == 0) {
        TRY(gen_lin(&c, "patch_embedding", &g->patch));
        TRY(gen(&c, "cond_encoder.bias", g->cond_bias, 0, d, 0, 0.02f, 0.0f));
        TRY(gen(&c, "trainable_cond_mask.weight", g->cond_mask, 0, 3 * d, 0, 1.0f, 0.0f));
    }
    TRY(gen_lin(&c, "text_embedding.0", &g->text0));
    TRY(gen_lin(&c, "text_embedding.2", &g->text2));
    if (g->le == g->cfg.num_layers) {
        TRY(gen(&c, "head.head.weight", g->head_w, 0, g->head_out * d, 0, (float)(1.0 / sqrt((double)d)), 0.0f));
        TRY(gen(&c, "head.head.bias", g->head_b, 0, g->head_out, 0, 0.02f, 0.0f));
        TRY(gen(&c, "head.modulation", g->head_mod, 0, 2 * d, 0, 0.02f, 0.0f));
    }
    for (int64_t l = g->lb; l < g->le; l++) {
        dlayer *w = &g->layers[l];
        static const char *lin[10] = {"self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o", "cross_attn.q",
                                      "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0", "ffn.2"};
        const dlin *ws[10] = {&w->sq, &w->sk, &w->sv, &w->so, &w->cq, &w->ck, &w->cv, &w->co, &w->ffn0, &w->ffn2};
        for (int i = 0; i < 10; i++) {
            snprintf(n, sizeof n, "blocks.%lld.%s", (long long)l, lin[i]);
            TRY(gen_lin(&c, n, ws[i]));
        }
        snprintf(n, sizeof n, "blocks.%lld.modulation", (long long)l);
        TRY(gen(&c, n, w->modulation, 0, 6 * d, 0, 0.02f, 0.0f));
        float *gains[4] = {w->s_norm_q, w->s_norm_k, w->c_norm_q, w->c_norm_k};
        for (int i = 0; i < 4; i++) TRY(gen(&c, "gain", gains[i], 0, dh, 0, 0.0f, 1.0f));
        TRY(gen(&c, "gain", w->norm3_w, 0, d, 0, 0.0f, 1.0f));
        TRY(gen(&c, "gain", w->norm3_b, 0, d, 0, 0.0f, 0.0f));
    }
    for (int j = 0; j < g->cfg.n_inject; j++) {
        if (!holds_injector(g, j)) continue;
        dinjector *w = &g->inj[j];
        static const char *lin[4] = {"q", "k", "v", "o"};
        const dlin *ws[4] = {&w->q, &w->k, &w->v, &w->o};
        for (int i = 0; i < 4; i++) {
            snprintf(n, sizeof n, "audio_injector.injector.%d.%s", j, lin[i]);
            TRY(gen_lin(&c, n, ws[i]));
        }
        snprintf(n, sizeof n, "audio_injector.injector_adain_layers.%d.linear", j);
        TRY(gen_lin(&c, n, &w->adain));
        TRY(gen(&c, "gain", w->norm_q, 0, dh, 0, 0.0f, 1.0f));
        TRY(gen(&c, "gain", w->norm_k, 0, dh, 0, 0.0f, 1.0f));
    }
    return LAVR_OK;
}

/* ---- numeric steps (dit_numerics.c) ---------------------------------------------------------------- */
/* op = bf16(x): the GEMM operand (x already holds bf16 values wherever the reference rounds) */
static lavr_status to_op(lavr_dit_cuda *g, const float *x, int64_t n) {
    return lavr_cuda_f32_to_bf16(x, n, g->op, g->stream);
}

/* y = bf16(op W^T + b) */
static lavr_status lin_bf16(lavr_dit_cuda *g, int64_t M, const dlin *l, float *y) {
    TRY(lavr_cuda_linear(g->blas, g->op, M, l->in, l->w, l->out, l->b, y, g->stream));
    return lavr_cuda_round_bf16(y, M * l->out, g->stream);
}

/* row-parallel: y = bf16(sum over the tp group of op W^T, then + b) */
static lavr_status lin_reduce_bf16(lavr_dit_cuda *g, int64_t M, const dlin *l, float *y) {
    if (g->tp.size == 1) return lin_bf16(g, M, l, y);
    TRY(lavr_cuda_linear(g->blas, g->op, M, l->in, l->w, l->out, NULL, y, g->stream));
    TRY(g->tp.allreduce_sum(g->tp.ctx, y, M * l->out, g->stream));
    return lavr_cuda_add_bias(y, M, l->out, l->b, 1, g->stream);
}

/* WanRMSNorm over the full width of x [rows, dh] (this rank's heads), gain product in bf16 */
static lavr_status rms_gain(lavr_dit_cuda *g, float *x, int64_t rows, const float *gain) {
    TRY(lavr_cuda_row_sumsq(x, rows, g->dh, g->ss, g->stream));
    if (g->tp.size > 1) TRY(g->tp.allreduce_sum(g->tp.ctx, g->ss, rows, g->stream));
    return lavr_cuda_rms_apply_gain(x, rows, g->dh, g->ss, g->dh * g->tp.size, (float)g->cfg.eps, gain, g->stream);
}

/* ---- context, caches, activations ------------------------------------------------------------------- */
lavr_status lavr_dit_cuda_set_context(lavr_dit_cuda *g, const float *context, int64_t rows) {
    const int64_t T = g->T, td = g->cfg.text_dim, d = g->d, dh = g->dh;
    CHECK_ARG(rows >= 0 && rows <= T, "dit cuda: context has %lld rows, text_len is %lld", (long long)rows, (long long)T);
    float *cin = malloc((size_t)(T * td) * sizeof(float));
    if (!cin) return LAVR_FAIL(LAVR_E_NOMEM, "dit cuda context");
    for (int64_t i = 0; i < T * td; i++) cin[i] = i < rows * td ? lavr_round_bf16(context[i]) : 0.0f;
    float *h = NULL, *ctx = NULL, *kv = NULL;
    lavr_status st = dalloc(g, (size_t)(T * (td > d ? td : d)) * 4, "dit text hidden", &h);
    if (!st) st = dalloc(g, (size_t)(T * d) * 4, "dit text embedding", &ctx);
    if (!st) st = dalloc(g, (size_t)(T * dh) * 4, "dit text K/V", &kv);
    if (!st && cudaMemcpy(h, cin, (size_t)(T * td) * 4, cudaMemcpyHostToDevice) != cudaSuccess)
        st = LAVR_FAIL(LAVR_E_CUDA, "dit cuda: context upload failed");
    free(cin);
    if (!st) st = to_op(g, h, T * td);
    if (!st) st = lin_bf16(g, T, &g->text0, ctx);
    if (!st) st = lavr_cuda_gelu_tanh(ctx, T * d, ctx, g->stream);
    if (!st) st = to_op(g, ctx, T * d);
    if (!st) st = lin_bf16(g, T, &g->text2, ctx);
    for (int64_t l = g->lb; l < g->le && !st; l++) {
        const int64_t at = (l - g->lb) * T * dh;
        st = to_op(g, ctx, T * d);
        if (!st) st = lin_bf16(g, T, &g->layers[l].ck, kv);
        if (!st) st = rms_gain(g, kv, T, g->layers[l].c_norm_k);
        if (!st) st = lavr_cuda_f32_to_bf16(kv, T * dh, g->text_k + at, g->stream);
        if (!st) st = to_op(g, ctx, T * d);
        if (!st) st = lin_bf16(g, T, &g->layers[l].cv, kv);
        if (!st) st = lavr_cuda_f32_to_bf16(kv, T * dh, g->text_v + at, g->stream);
    }
    if (!st && cudaStreamSynchronize((cudaStream_t)g->stream) != cudaSuccess)
        st = LAVR_FAIL(LAVR_E_CUDA, "dit cuda: text K/V failed: %s", cudaGetErrorString(cudaGetLastError()));
    lavr_status fs = lavr_device_arena_free(g->arena, kv);
    if (!fs) fs = lavr_device_arena_free(g->arena, ctx);
    if (!fs) fs = lavr_device_arena_free(g->arena, h);
    return st ? st : fs;
}

lavr_status lavr_dit_cuda_cache_create(lavr_dit_cuda *g, lavr_dit_cuda_cache **out) {
    *out = NULL;
    lavr_dit_cuda_cache *c = calloc(1, sizeof *c);
    if (!c) return LAVR_FAIL(LAVR_E_NOMEM, "dit cuda cache");
    const size_t win = (size_t)(g->nl * g->geo.window * g->dh) * 2;
    const size_t sink = (size_t)(g->nl * g->S * g->dh) * 2;
    lavr_status st = dalloc(g, win, "KV window K", &c->win_k);
    if (!st) st = dalloc(g, win, "KV window V", &c->win_v);
    if (!st) st = dalloc(g, sink, "sink K", &c->sink_k);
    if (!st) st = dalloc(g, sink, "sink V", &c->sink_v);
    c->sink_pos = malloc((size_t)(g->S * 3) * sizeof(int64_t));
    if (!st && !c->sink_pos) st = LAVR_FAIL(LAVR_E_NOMEM, "dit cuda sink positions");
    if (!st) st = dit_sink_positions(&g->geo, c->sink_pos);
    if (st) {
        lavr_dit_cuda_cache_destroy(g, c);
        return st;
    }
    *out = c;
    return LAVR_OK;
}

void lavr_dit_cuda_cache_destroy(lavr_dit_cuda *g, lavr_dit_cuda_cache *c) {
    if (!c) return;
    void *p[4] = {c->win_k, c->win_v, c->sink_k, c->sink_v};
    for (int i = 0; i < 4; i++) (void)lavr_device_arena_free(g->arena, p[i]);
    free(c->sink_pos);
    free(c);
}

lavr_status lavr_dit_cuda_cache_copy_sink(lavr_dit_cuda *g, lavr_dit_cuda_cache *dst, const lavr_dit_cuda_cache *src) {
    const size_t sink = (size_t)(g->nl * g->S * g->dh) * 2;
    CUDA_TRY(cudaMemcpyAsync(dst->sink_k, src->sink_k, sink, cudaMemcpyDeviceToDevice, (cudaStream_t)g->stream));
    CUDA_TRY(cudaMemcpyAsync(dst->sink_v, src->sink_v, sink, cudaMemcpyDeviceToDevice, (cudaStream_t)g->stream));
    memcpy(dst->sink_pos, src->sink_pos, (size_t)(g->S * 3) * sizeof(int64_t));
    dst->ready = src->ready;
    return LAVR_OK;
}

lavr_status lavr_dit_cuda_act_create(lavr_dit_cuda *g, lavr_dit_cuda_act *a) {
    memset(a, 0, sizeof *a);
    const int64_t d = g->d, n = g->R * d + 7 * d + g->F * (g->NA + 1) * d;
    TRY(dalloc(g, (size_t)n * 4, "dit activation", &a->x));
    a->e = a->x + g->R * d;
    a->e0 = a->e + d;
    a->a_loc = a->e0 + 6 * d;
    a->a_glob = a->a_loc + g->F * g->NA * d;
    return LAVR_OK;
}

void lavr_dit_cuda_act_destroy(lavr_dit_cuda *g, lavr_dit_cuda_act *a) {
    (void)lavr_device_arena_free(g->arena, a->x);
    memset(a, 0, sizeof *a);
}

lavr_status lavr_dit_cuda_act_upload(lavr_dit_cuda *g, const lavr_dit_act *host, lavr_dit_cuda_act *a) {
    const int64_t d = g->d;
    CHECK_ARG(host->rows <= g->R, "dit cuda: activation of %lld rows (at most %lld)", (long long)host->rows,
              (long long)g->R);
    a->prefill = (int)host->prefill;
    a->block_index = host->block_index;
    a->sink_offset = host->sink_offset;
    a->rows = host->rows;
    CUDA_TRY(cudaMemcpy(a->x, host->x, (size_t)(host->rows * d) * 4, cudaMemcpyHostToDevice));
    CUDA_TRY(cudaMemcpy(a->e, host->e, (size_t)(7 * d) * 4, cudaMemcpyHostToDevice));
    CUDA_TRY(cudaMemcpy(a->a_loc, host->a_loc, (size_t)(g->F * (g->NA + 1) * d) * 4, cudaMemcpyHostToDevice));
    return LAVR_OK;
}

lavr_status lavr_dit_cuda_act_download(lavr_dit_cuda *g, const lavr_dit_cuda_act *a, lavr_dit_act *host) {
    const int64_t d = g->d;
    CHECK_ARG(a->rows <= g->R && host->x + a->rows * d <= host->e,
              "dit cuda: activation of %lld rows does not fit the host activation", (long long)a->rows);
    cudaStream_t s = (cudaStream_t)g->stream;
    CUDA_TRY(cudaMemcpyAsync(host->x, a->x, (size_t)(a->rows * d) * 4, cudaMemcpyDeviceToHost, s));
    CUDA_TRY(cudaMemcpyAsync(host->e, a->e, (size_t)(7 * d) * 4, cudaMemcpyDeviceToHost, s));
    CUDA_TRY(cudaMemcpyAsync(host->a_loc, a->a_loc, (size_t)(g->F * (g->NA + 1) * d) * 4, cudaMemcpyDeviceToHost, s));
    CUDA_TRY(cudaStreamSynchronize(s));
    return LAVR_OK;
}

const lavr_dit_geometry *lavr_dit_cuda_geometry(const lavr_dit_cuda *g) { return &g->geo; }

/* The CPU embeddings read only the geometry of the step cache they are given: a cache without K/V of
 * this model's geometry lets a host shard whose layers were dropped embed for the device. */
static lavr_dit_step_cache geometry_cache(const lavr_dit_cuda *g) {
    lavr_dit_step_cache c;
    memset(&c, 0, sizeof c);
    c.g = g->geo;
    return c;
}

lavr_status lavr_dit_cuda_embed_sink_host(const lavr_dit_cuda *g, const lavr_dit *m, const float *ref,
                                          const float *motion, lavr_dit_act *a) {
    const lavr_dit_step_cache c = geometry_cache(g);
    return lavr_dit_embed_sink(m, &c, ref, motion, a);
}

lavr_status lavr_dit_cuda_embed_block_host(const lavr_dit_cuda *g, const lavr_dit *m, const lavr_dit_block_input *in,
                                           lavr_dit_act *a) {
    const lavr_dit_step_cache c = geometry_cache(g);
    return lavr_dit_embed_block(m, &c, in, a);
}

/* ---- cache transfer (checkpoints) ---------------------------------------------------------------- */
/* Layer `layer`'s slice of a cache part <-> host bf16 bits; `down` picks the direction; NULL host skips. */
static lavr_status cache_part(lavr_dit_cuda *g, uint16_t *dev, int64_t layer, uint16_t *host, int64_t tokens,
                              int down) {
    if (!host) return LAVR_OK;
    const size_t bytes = (size_t)(tokens * g->dh) * 2;
    uint16_t *at = dev + (layer - g->lb) * tokens * g->dh;
    CUDA_TRY(cudaMemcpyAsync(down ? (void *)host : (void *)at, down ? (const void *)at : (const void *)host, bytes,
                           down ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice, (cudaStream_t)g->stream));
    return LAVR_OK;
}

lavr_status lavr_dit_cuda_cache_download(lavr_dit_cuda *g, const lavr_dit_cuda_cache *c, int64_t layer,
                                         uint16_t *win_k, uint16_t *win_v, uint16_t *sink_k, uint16_t *sink_v) {
    CHECK_ARG(layer >= g->lb && layer < g->le, "dit cuda: layer %lld is outside the range [%lld, %lld)",
              (long long)layer, (long long)g->lb, (long long)g->le);
    TRY(cache_part(g, c->win_k, layer, win_k, g->geo.window, 1));
    TRY(cache_part(g, c->win_v, layer, win_v, g->geo.window, 1));
    TRY(cache_part(g, c->sink_k, layer, sink_k, g->S, 1));
    TRY(cache_part(g, c->sink_v, layer, sink_v, g->S, 1));
    CUDA_TRY(cudaStreamSynchronize((cudaStream_t)g->stream));
    return LAVR_OK;
}

lavr_status lavr_dit_cuda_cache_upload(lavr_dit_cuda *g, lavr_dit_cuda_cache *c, int64_t layer, const uint16_t *win_k,
                                       const uint16_t *win_v, const uint16_t *sink_k, const uint16_t *sink_v) {
    CHECK_ARG(layer >= g->lb && layer < g->le, "dit cuda: layer %lld is outside the range [%lld, %lld)",
              (long long)layer, (long long)g->lb, (long long)g->le);
    TRY(cache_part(g, c->win_k, layer, (uint16_t *)win_k, g->geo.window, 0));
    TRY(cache_part(g, c->win_v, layer, (uint16_t *)win_v, g->geo.window, 0));
    TRY(cache_part(g, c->sink_k, layer, (uint16_t *)sink_k, g->S, 0));
    TRY(cache_part(g, c->sink_v, layer, (uint16_t *)sink_v, g->S, 0));
    CUDA_TRY(cudaStreamSynchronize((cudaStream_t)g->stream));
    return LAVR_OK;
}

void lavr_dit_cuda_cache_set_ready(lavr_dit_cuda_cache *c) { c->ready = 1; }
int lavr_dit_cuda_cache_ready(const lavr_dit_cuda_cache *c) { return c->ready; }

lavr_status lavr_dit_cuda_embed_tokens(lavr_dit_cuda *g, const float *x, int64_t block_index, int64_t sink_offset,
                                       lavr_dit_cuda_act *a) {
    const int64_t L = g->L, d = g->d;
    CHECK_ARG(block_index >= 0, "dit cuda: negative block index %lld", (long long)block_index);
    CHECK_ARG(g->lb == 0, "dit cuda: the layers [%lld, %lld) hold no embeddings", (long long)g->lb, (long long)g->le);
    a->prefill = 0;
    a->block_index = block_index;
    a->sink_offset = sink_offset;
    a->rows = L;
    TRY(lavr_cuda_patchify(x, g->cfg.in_dim, g->F, g->geo.h, g->geo.w, g->op, g->stream));
    TRY(lin_bf16(g, L, &g->patch, a->x));
    TRY(lavr_cuda_add_bias(a->x, L, d, g->cond_bias, 1, g->stream));
    return lavr_cuda_add_bias(a->x, L, d, g->cond_mask, 1, g->stream);
}

/* ---- the layers --------------------------------------------------------------------------------------- */
typedef struct {
    int prefill;
    int64_t slot, n_valid; /* window token offset of the block and tokens attended */
    const int64_t *pos, *sink_pos; /* device positions of the rows / of the sink keys */
} attn_plan;

/* self-attention of layer l on q, k, v [L, dh] -> g->att */
static lavr_status self_attention(lavr_dit_cuda *g, int64_t l, lavr_dit_cuda_cache *c, const attn_plan *p, int64_t L) {
    const int64_t dh = g->dh, H = g->H, D = g->D, S = g->S, W = g->geo.window;
    const float scale = (float)(1.0 / sqrt((double)D));
    const int64_t at = l - g->lb; /* the cache holds the range's layers */
    uint16_t *sk = c->sink_k + at * S * dh, *sv = c->sink_v + at * S * dh;
    if (p->prefill) {
        TRY(lavr_cuda_f32_to_bf16(g->k, L * dh, sk, g->stream));
        TRY(lavr_cuda_f32_to_bf16(g->v, L * dh, sv, g->stream));
        TRY(lavr_cuda_rope(g->q, L, H, D, dh, p->pos, g->stream));
        TRY(lavr_cuda_rope(g->k, L, H, D, dh, p->pos, g->stream));
        TRY(lavr_cuda_f32_to_bf16(g->k, L * dh, g->kb, g->stream));
        lavr_cuda_kv_segment seg = {g->kb, sv, S, dh};
        return lavr_cuda_attention(g->q, L, H, D, dh, &seg, 1, scale, NULL, g->att, g->stream);
    }
    TRY(lavr_cuda_rope(g->q, L, H, D, dh, p->pos, g->stream));
    TRY(lavr_cuda_rope(g->k, L, H, D, dh, p->pos, g->stream));
    /* timestep forcing: the block's own K/V enter the window before it attends */
    uint16_t *wk = c->win_k + at * W * dh, *wv = c->win_v + at * W * dh;
    TRY(lavr_cuda_f32_to_bf16(g->k, L * dh, wk + p->slot * dh, g->stream));
    TRY(lavr_cuda_f32_to_bf16(g->v, L * dh, wv + p->slot * dh, g->stream));
    /* sink keys are stored before RoPE and re-roped at this forward's reference position */
    TRY(lavr_cuda_bf16_to_f32(sk, S * dh, g->sink_kf, g->stream));
    TRY(lavr_cuda_rope(g->sink_kf, S, H, D, dh, p->sink_pos, g->stream));
    TRY(lavr_cuda_f32_to_bf16(g->sink_kf, S * dh, g->kb, g->stream));
    lavr_cuda_kv_segment seg[2] = {{wk, wv, p->n_valid, dh}, {g->kb, sv, S, dh}};
    return lavr_cuda_attention(g->q, L, H, D, dh, seg, 2, scale, NULL, g->att, g->stream);
}

static lavr_status layer_forward(lavr_dit_cuda *g, int64_t l, lavr_dit_cuda_cache *c, const attn_plan *p, float *x,
                                 int64_t L, const float *e0) {
    const dlayer *w = &g->layers[l];
    const int64_t d = g->d, dh = g->dh, ff = g->ff, T = g->T;
    const float eps = (float)g->cfg.eps, scale = (float)(1.0 / sqrt((double)g->D));
    void *s = g->stream;
    /* E = modulation + e0 (shift, scale, gate) x 2 */
    TRY(lavr_cuda_gated_residual(w->modulation, e0, g->ones, 1, 6 * d, 0, g->E, s));
    const float *E = g->E;

    TRY(lavr_cuda_modulated_layernorm(x, L, d, eps, 1, E, E + d, g->a, s));
    TRY(to_op(g, g->a, L * d));
    TRY(lin_bf16(g, L, &w->sq, g->q));
    TRY(lin_bf16(g, L, &w->sk, g->k));
    TRY(lin_bf16(g, L, &w->sv, g->v));
    TRY(rms_gain(g, g->q, L, w->s_norm_q));
    TRY(rms_gain(g, g->k, L, w->s_norm_k));
    TRY(self_attention(g, l, c, p, L));
    TRY(to_op(g, g->att, L * dh)); /* the attention output's bf16 rounding point */
    TRY(lin_reduce_bf16(g, L, &w->so, g->a));
    TRY(lavr_cuda_gated_residual(x, g->a, E + 2 * d, L, d, 0, g->xres, s));

    /* cross-attention: norm3's input rounded to bf16, no modulation, no gate */
    CUDA_TRY(cudaMemcpyAsync(g->a, g->xres, (size_t)(L * d) * 4, cudaMemcpyDeviceToDevice, (cudaStream_t)s));
    TRY(lavr_cuda_round_bf16(g->a, L * d, s));
    TRY(lavr_cuda_layernorm(g->a, L, d, w->norm3_w, w->norm3_b, eps, g->a, s));
    TRY(to_op(g, g->a, L * d));
    TRY(lin_bf16(g, L, &w->cq, g->q));
    TRY(rms_gain(g, g->q, L, w->c_norm_q));
    const int64_t at = (l - g->lb) * T * dh;
    lavr_cuda_kv_segment seg = {g->text_k + at, g->text_v + at, T, dh};
    TRY(lavr_cuda_attention(g->q, L, g->H, g->D, dh, &seg, 1, scale, NULL, g->att, s));
    TRY(to_op(g, g->att, L * dh));
    TRY(lin_reduce_bf16(g, L, &w->co, g->a));
    TRY(lavr_cuda_gated_residual(g->xres, g->a, g->ones, L, d, 0, g->xres, s));

    /* FFN on the fp32 stream (norm2's output is not rounded before the modulation) */
    TRY(lavr_cuda_modulated_layernorm(g->xres, L, d, eps, 0, E + 3 * d, E + 4 * d, g->a, s));
    TRY(to_op(g, g->a, L * d));
    TRY(lin_bf16(g, L, &w->ffn0, g->hid));
    TRY(lavr_cuda_gelu_tanh(g->hid, L * ff, g->hid, s));
    TRY(to_op(g, g->hid, L * ff));
    TRY(lin_reduce_bf16(g, L, &w->ffn2, g->a));
    return lavr_cuda_gated_residual(g->xres, g->a, E + 5 * d, L, d, 1, x, s);
}

/* audio injector j on the block's tokens x [F*P, d] (dit_audio_inject) */
static lavr_status audio_inject(lavr_dit_cuda *g, int j, float *x, const float *a_loc, const float *a_glob) {
    const dinjector *inj = &g->inj[j];
    const int64_t d = g->d, dh = g->dh, P = g->geo.P, NA = g->NA;
    const float scale = (float)(1.0 / sqrt((double)g->D));
    void *s = g->stream;
    for (int64_t f = 0; f < g->F; f++) {
        float *z = x + f * P * d;
        TRY(lavr_cuda_silu(a_glob + f * d, d, g->gin, s));
        TRY(to_op(g, g->gin, d));
        TRY(lin_bf16(g, 1, &inj->adain, g->emb));
        /* AdaLN: shift first, then scale; LayerNorm eps 1e-5 on the unrounded input */
        TRY(lavr_cuda_modulated_layernorm(z, P, d, 1e-5f, 0, g->emb, g->emb + d, g->a, s));
        TRY(to_op(g, g->a, P * d));
        TRY(lin_bf16(g, P, &inj->q, g->q));
        TRY(rms_gain(g, g->q, P, inj->norm_q));
        TRY(to_op(g, a_loc + f * NA * d, NA * d));
        TRY(lin_bf16(g, NA, &inj->k, g->k));
        TRY(lin_bf16(g, NA, &inj->v, g->v));
        TRY(rms_gain(g, g->k, NA, inj->norm_k));
        TRY(lavr_cuda_f32_to_bf16(g->k, NA * dh, g->kb, s));
        TRY(lavr_cuda_f32_to_bf16(g->v, NA * dh, g->vb, s));
        lavr_cuda_kv_segment seg = {g->kb, g->vb, NA, dh};
        TRY(lavr_cuda_attention(g->q, P, g->H, g->D, dh, &seg, 1, scale, NULL, g->att, s));
        TRY(to_op(g, g->att, P * dh));
        TRY(lin_reduce_bf16(g, P, &inj->o, g->a));
        TRY(lavr_cuda_gated_residual(z, g->a, g->ones, P, d, 1, z, s));
    }
    return LAVR_OK;
}

lavr_status lavr_dit_cuda_forward_layers(lavr_dit_cuda *g, lavr_dit_cuda_cache *c, lavr_dit_cuda_act *a) {
    const lavr_dit_geometry *geo = &g->geo;
    const int64_t F = g->F, S = g->S, L = g->L;
    if (a->prefill) {
        CHECK_ARG(a->rows == S, "dit cuda prefill: %lld tokens for a sink of %lld", (long long)a->rows, (long long)S);
        CUDA_TRY(cudaMemcpyAsync(g->pos_dev, c->sink_pos, (size_t)(S * 3) * 8, cudaMemcpyHostToDevice,
                               (cudaStream_t)g->stream));
        attn_plan p = {1, 0, 0, g->pos_dev, NULL};
        for (int64_t l = g->lb; l < g->le; l++) TRY(layer_forward(g, l, c, &p, a->x, S, a->e0));
        c->ready = 1;
        return LAVR_OK;
    }
    CHECK_ARG(c->ready, "dit cuda: block forward before the sink prefill");
    CHECK_ARG(a->rows == L && a->block_index >= 0, "dit cuda: %lld tokens for a block of %lld", (long long)a->rows,
              (long long)L);
    /* positions: frames f0..f0+F-1; the sink's reference frame at max(30, f0 + offset) */
    int64_t *pos = g->pos_host, *sink_pos = pos + L * 3;
    const int64_t f0 = F * a->block_index;
    lavr_rope_group noisy = {{f0, 0, 0}, {f0 + F, geo->hp, geo->wp}, {F, geo->hp, geo->wp}};
    lavr_rope_group_positions(&noisy, pos);
    memcpy(sink_pos, c->sink_pos, (size_t)(S * 3) * sizeof(int64_t));
    const int64_t ref_f = 30 + (f0 - 30 + a->sink_offset > 0 ? f0 - 30 + a->sink_offset : 0);
    for (int64_t t = 0; t < geo->P; t++) sink_pos[t * 3] = ref_f;
    CUDA_TRY(cudaMemcpyAsync(g->pos_dev, pos, (size_t)((L + S) * 3) * 8, cudaMemcpyHostToDevice,
                           (cudaStream_t)g->stream));
    const int64_t start = a->block_index * L;
    attn_plan p = {0, start % geo->window, start < geo->window ? start % geo->window + L : geo->window, g->pos_dev,
                   g->pos_dev + L * 3};
    for (int64_t l = g->lb; l < g->le; l++) {
        TRY(layer_forward(g, l, c, &p, a->x, L, a->e0));
        if (g->inject_of_layer[l] >= 0) TRY(audio_inject(g, g->inject_of_layer[l], a->x, a->a_loc, a->a_glob));
    }
    return LAVR_OK;
}

lavr_status lavr_dit_cuda_head(lavr_dit_cuda *g, const lavr_dit_cuda_act *a, float *velocity) {
    const int64_t d = g->d, L = g->L;
    CHECK_ARG(!a->prefill && a->rows == L, "dit cuda head: needs a block's %lld tokens", (long long)L);
    CHECK_ARG(g->le == g->cfg.num_layers, "dit cuda: the layers [%lld, %lld) hold no head", (long long)g->lb,
              (long long)g->le);
    void *s = g->stream;
    /* e_head = head.modulation + e, shift then scale */
    TRY(lavr_cuda_gated_residual(g->head_mod, a->e, g->ones, 1, d, 0, g->emb, s));
    TRY(lavr_cuda_gated_residual(g->head_mod + d, a->e, g->ones, 1, d, 0, g->emb + d, s));
    TRY(lavr_cuda_modulated_layernorm(a->x, L, d, (float)g->cfg.eps, 1, g->emb, g->emb + d, g->a, s));
    TRY(lavr_cuda_linear_f32(g->blas, g->a, L, d, g->head_w, g->head_out, g->head_b, g->head_y, g->head_out, s));
    return lavr_cuda_unpatchify(g->head_y, g->cfg.out_dim, g->F, g->geo.h, g->geo.w, velocity, s);
}

#endif
