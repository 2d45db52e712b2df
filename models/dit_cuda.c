/* The causal DiT on a CUDA device (models/dit_cuda.h): bf16 weights (or FP8 e4m3 with per-tensor scales), step
 * caches, text K/V and bf16 activations in the arena. A layer is a chain of fused kernels (kernels/cuda/dit_fused.h),
 * cuBLASLt GEMMs with bias/GELU epilogues and fused attention (cuDNN, or lavr's kernel), step for step the CPU code
 * of dit_block.c and dit_audio.c at LiveAvatar's rounding points. */
#include "models/dit_cuda.h"

#if LAVR_HAVE_CUDA

#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/log.h"
#include "core/rng.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cudnn_graph.h"
#include "kernels/cuda/dit_fused.h"
#include "kernels/cuda/dit_kernels.h"
#include "kernels/cuda/sdpa.h"
#include "models/dit_dev.h"
#include "models/dit_internal.h"
#include "models/rope.h"

/* SCALE_STRIDE: FP8 scale scalars sit 256 bytes apart (cuBLASLt wants aligned scale pointers) */
enum { PROF_MAX = 8192, GRAPHS_MAX = 64, SCALE_STRIDE = LAVR_DIT_DEV_SCALE_STRIDE };

/* A Linear: parts stacked along the output (q|k|v), each its own tensor of the checkpoint and, with FP8, its
 * own per-tensor scale. */
typedef struct {
    void *w;        /* bf16 [out, in] or FP8 e4m3 */
    uint16_t *b;    /* bf16 [out] */
    float *w_scale; /* FP8: device dequantisation factor of part p at w_scale[p * SCALE_STRIDE] */
    int64_t out, in, parts;
    int split;      /* 1: rows of the tp rank, 2: columns of the tp rank, 0: whole */
    int fp8;
} dlin;

typedef struct {
    dlin qkv, so, cq, ck, cv, co, ffn0, ffn2;
    float *s_norm_q, *s_norm_k, *c_norm_q, *c_norm_k, *norm3_w, *norm3_b;
} dlayer;

typedef struct {
    dlin q, kv, o, adain;
    float *norm_q, *norm_k;
} dinjector;

typedef struct {
    const lavr_dit_cuda_cache *cache;
    int64_t n_valid;
    int runs;
    cudaGraphExec_t exec;
} graph_entry;

struct lavr_dit_cuda {
    lavr_dit_config cfg;
    lavr_dit_cuda_tp tp;
    lavr_dit_cuda_options opts;
    lavr_dit_geometry geo;
    lavr_dit_dev_dims dims; /* the shape models/dit_dev.c sizes every device buffer from */
    lavr_device_arena *arena;
    lavr_cuda_blas *blas;
    void *stream;
    lavr_cudnn *dnn;
    lavr_cuda_sdpa *sdpa;
    char attn_desc[96];
    int64_t d, dh, H, D, ff, NA, F, R, L, S, T, head_out;
    int64_t lb, le, nl; /* the layer range [lb, le) held here (pp) and its length */
    uint64_t weight_bytes;
    dlin patch, fp_proj[3], text0, text2; /* fp_proj: FramePack's buckets (models/framepack.c order) */
    float *cond_bias, *cond_mask, *head_w, *head_b, *head_mod;
    float *modulation; /* [nl][6d] */
    dinjector *inj;
    int inject_of_layer[256];
    dlayer *layers; /* [num_layers]; weights only for [lb, le) */
    uint16_t *text_k, *text_v; /* [range layers][T][dh] */
    int contiguous;            /* sink layout: 1 contiguous window ‖ sink per cache, 0 shared */
    uint16_t *sink_k, *sink_v; /* the rank's sink: keys before RoPE; values (shared layout) [range layers][S][dh] */
    /* working buffers */
    float *E, *x32, *y32, *ss, *fac_block, *fac_sink, *head_y, *emb, *emb32, *ones, *stats, *fp8_scalars;
    uint16_t *a_bf, *qkv, *q_bf, *att, *o2, *ob, *hid, *kb, *gs_bf, *al_bf, *emb_bf, *kvx, *k_bf, *op;
    uint8_t *xq;
    float *sink_latents; /* first pp index: the sink's reference [C, 1, h, w] and motion [C, 19, h, w] latents */
    int64_t *dparams, *pos_dev;
    int64_t xq_bytes;
    /* profiling and graphs */
    int prof_on, prof_n;
    cudaEvent_t *prof_ev;
    unsigned char *prof_cat;
    double prof_ms[LAVR_PROF_CATEGORIES];
    int64_t prof_calls;
    cudaError_t prof_err; /* first CUDA error while folding, reported by profile_take */
    graph_entry graphs[GRAPHS_MAX];
    int capturing;
};

/* The step cache: per layer the window's K (after RoPE) and V. In the contiguous sink layout each layer's
 * rows are [window ‖ sink]: the tail holds this forward's re-roped sink keys and a copy of the sink values, so a
 * full window is one attention call. The sink keys before RoPE (and, in the shared layout, the sink values) are
 * the model's, one copy for all the rank's caches. */
struct lavr_dit_cuda_cache {
    uint16_t *win_k, *win_v; /* [range layers][layer_rows][dh] */
    int64_t *sink_pos;       /* host [sink][3] */
    int64_t *sink_pos_dev;                     /* device copy */
    int ready;
};

/* A host-to-device copy ordered on the model's stream and complete on return (the stream may be a non-blocking
 * one, which a plain cudaMemcpy on the legacy stream would not wait for, nor be waited for by). */
static cudaError_t h2d(const lavr_dit_cuda *g, void *dst, const void *src, size_t bytes) {
    cudaError_t e = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, (cudaStream_t)g->stream);
    return e == cudaSuccess ? cudaStreamSynchronize((cudaStream_t)g->stream) : e;
}

lavr_dit_cuda_options lavr_dit_cuda_options_default(void) {
    lavr_dit_cuda_options o = {.fp8 = 0, .attention = LAVR_DIT_ATTN_AUTO, .graphs = 1, .sink = LAVR_DIT_SINK_SHARED};
    return o;
}

lavr_status lavr_dit_attn_path_parse(const char *text, lavr_dit_attn_path *out) {
    if (!strcmp(text, "auto")) *out = LAVR_DIT_ATTN_AUTO;
    else if (!strcmp(text, "cudnn")) *out = LAVR_DIT_ATTN_CUDNN;
    else if (!strcmp(text, "own")) *out = LAVR_DIT_ATTN_OWN;
    else return LAVR_FAIL(LAVR_E_ARG, "--attention '%s': expected auto, cudnn or own", text);
    return LAVR_OK;
}

/* ---- profiling ----------------------------------------------------------------------------------- */
/* Folds the recorded event pairs into prof_ms (waits for the stream); the event pool is then free again, so a
 * profile covers any number of ops. A CUDA error is kept and returned by lavr_dit_cuda_profile_take. */
static cudaError_t prof_fold(lavr_dit_cuda *g) {
    cudaError_t ce = cudaStreamSynchronize((cudaStream_t)g->stream);
    for (int i = 0; i < g->prof_n && ce == cudaSuccess; i++) {
        float t = 0;
        ce = cudaEventElapsedTime(&t, g->prof_ev[2 * i], g->prof_ev[2 * i + 1]);
        g->prof_ms[g->prof_cat[i]] += t;
    }
    g->prof_calls += g->prof_n;
    g->prof_n = 0;
    if (ce != cudaSuccess && g->prof_err == cudaSuccess) g->prof_err = ce;
    return ce;
}
static void prof_mark(lavr_dit_cuda *g, int cat) {
    if (!g->prof_on) return;
    if (g->prof_n == PROF_MAX) prof_fold(g);
    if (cudaEventRecord(g->prof_ev[2 * g->prof_n], (cudaStream_t)g->stream) == cudaSuccess)
        g->prof_cat[g->prof_n] = (unsigned char)cat;
}
static void prof_done(lavr_dit_cuda *g) {
    if (!g->prof_on) return;
    if (cudaEventRecord(g->prof_ev[2 * g->prof_n + 1], (cudaStream_t)g->stream) == cudaSuccess) g->prof_n++;
}
/* runs one op under the profiler's category */
#define OP(cat, expr)                     \
    do {                                  \
        prof_mark(g, (cat));              \
        lavr_status op_s_ = (expr);       \
        prof_done(g);                     \
        if (op_s_) return op_s_;          \
    } while (0)

lavr_status lavr_dit_cuda_profile(lavr_dit_cuda *g, int on) {
    if (on && !g->prof_ev) {
        g->prof_ev = calloc(2 * PROF_MAX, sizeof *g->prof_ev);
        g->prof_cat = calloc(PROF_MAX, 1);
        if (!g->prof_ev || !g->prof_cat) return LAVR_FAIL(LAVR_E_NOMEM, "dit profile events");
        for (int i = 0; i < 2 * PROF_MAX; i++) CUDA_TRY(cudaEventCreate(&g->prof_ev[i]));
    }
    g->prof_on = on;
    g->prof_n = 0;
    return LAVR_OK;
}

lavr_status lavr_dit_cuda_profile_take(lavr_dit_cuda *g, double ms[LAVR_PROF_CATEGORIES], int64_t *calls) {
    prof_fold(g);
    const cudaError_t ce = g->prof_err;
    g->prof_err = cudaSuccess;
    CUDA_TRY(ce);
    for (int c = 0; c < LAVR_PROF_CATEGORIES; c++) ms[c] = g->prof_ms[c], g->prof_ms[c] = 0;
    *calls = g->prof_calls;
    g->prof_calls = 0;
    return LAVR_OK;
}

/* ---- allocation ------------------------------------------------------------------------------------ */
static lavr_status dalloc(lavr_dit_cuda *g, size_t bytes, const char *what, void *out) {
    return lavr_device_arena_alloc(g->arena, bytes, what, (void **)out);
}

/* The blocks of a Linear (sizes from models/dit_dev.c) */
static lavr_status lin_alloc(lavr_dit_cuda *g, dlin *l, const lavr_dit_dev_item *it) {
    l->out = it->out, l->in = it->in, l->parts = it->parts, l->split = it->split, l->fp8 = it->fp8;
    uint64_t bytes[3];
    lavr_dit_dev_linear_blocks(it, bytes);
    TRY(dalloc(g, (size_t)bytes[0], it->what, &l->w));
    TRY(dalloc(g, (size_t)bytes[1], it->what, &l->b));
    if (bytes[2]) TRY(dalloc(g, (size_t)bytes[2], it->what, &l->w_scale));
    g->weight_bytes += bytes[0] + bytes[1] + bytes[2];
    return LAVR_OK;
}

/* audio injector j follows a layer of this range */
static int holds_injector(const lavr_dit_cuda *g, int j) {
    const int64_t l = g->cfg.inject_layers[j];
    return l >= g->lb && l < g->le;
}

static int any_injector(const lavr_dit_cuda *g) { return g->dims.injectors > 0; }

/* Where an item of models/dit_dev.c's list lives in the model: a Linear, an fp32 vector or a buffer. */
static dlin *lin_slot(lavr_dit_cuda *g, const lavr_dit_dev_item *it) {
    dlayer *w = it->index >= 0 && it->index < g->cfg.num_layers ? &g->layers[it->index] : NULL;
    dinjector *j = it->index >= 0 && it->index < g->cfg.n_inject ? &g->inj[it->index] : NULL;
    switch (it->id) {
    case LAVR_DD_PATCH: return &g->patch;
    case LAVR_DD_FP_PROJ: return &g->fp_proj[0];
    case LAVR_DD_FP_PROJ2: return &g->fp_proj[1];
    case LAVR_DD_FP_PROJ4: return &g->fp_proj[2];
    case LAVR_DD_TEXT0: return &g->text0;
    case LAVR_DD_TEXT2: return &g->text2;
    case LAVR_DD_QKV: return w ? &w->qkv : NULL;
    case LAVR_DD_CQ: return w ? &w->cq : NULL;
    case LAVR_DD_CK: return w ? &w->ck : NULL;
    case LAVR_DD_CV: return w ? &w->cv : NULL;
    case LAVR_DD_SO: return w ? &w->so : NULL;
    case LAVR_DD_CO: return w ? &w->co : NULL;
    case LAVR_DD_FFN0: return w ? &w->ffn0 : NULL;
    case LAVR_DD_FFN2: return w ? &w->ffn2 : NULL;
    case LAVR_DD_I_Q: return j ? &j->q : NULL;
    case LAVR_DD_I_KV: return j ? &j->kv : NULL;
    case LAVR_DD_I_O: return j ? &j->o : NULL;
    case LAVR_DD_I_ADAIN: return j ? &j->adain : NULL;
    default: return NULL;
    }
}

static float **vec_slot(lavr_dit_cuda *g, const lavr_dit_dev_item *it) {
    dlayer *w = it->index >= 0 && it->index < g->cfg.num_layers ? &g->layers[it->index] : NULL;
    dinjector *j = it->index >= 0 && it->index < g->cfg.n_inject ? &g->inj[it->index] : NULL;
    switch (it->id) {
    case LAVR_DD_COND_BIAS: return &g->cond_bias;
    case LAVR_DD_COND_MASK: return &g->cond_mask;
    case LAVR_DD_HEAD_W: return &g->head_w;
    case LAVR_DD_HEAD_B: return &g->head_b;
    case LAVR_DD_HEAD_MOD: return &g->head_mod;
    case LAVR_DD_MODULATION: return &g->modulation;
    case LAVR_DD_S_NORM_Q: return w ? &w->s_norm_q : NULL;
    case LAVR_DD_S_NORM_K: return w ? &w->s_norm_k : NULL;
    case LAVR_DD_C_NORM_Q: return w ? &w->c_norm_q : NULL;
    case LAVR_DD_C_NORM_K: return w ? &w->c_norm_k : NULL;
    case LAVR_DD_NORM3_W: return w ? &w->norm3_w : NULL;
    case LAVR_DD_NORM3_B: return w ? &w->norm3_b : NULL;
    case LAVR_DD_I_NORM_Q: return j ? &j->norm_q : NULL;
    case LAVR_DD_I_NORM_K: return j ? &j->norm_k : NULL;
    default: return NULL;
    }
}

static void *buf_slot(lavr_dit_cuda *g, const lavr_dit_dev_item *it) {
    switch (it->id) {
    case LAVR_DD_TEXT_K: return &g->text_k;
    case LAVR_DD_TEXT_V: return &g->text_v;
    case LAVR_DD_E: return &g->E;
    case LAVR_DD_ONES: return &g->ones;
    case LAVR_DD_X32: return &g->x32;
    case LAVR_DD_Y32: return &g->y32;
    case LAVR_DD_SS: return &g->ss;
    case LAVR_DD_FAC_BLOCK: return &g->fac_block;
    case LAVR_DD_FAC_SINK: return &g->fac_sink;
    case LAVR_DD_HEAD_Y: return &g->head_y;
    case LAVR_DD_EMB: return &g->emb;
    case LAVR_DD_STATS: return &g->stats;
    case LAVR_DD_A_BF: return &g->a_bf;
    case LAVR_DD_QKV_OUT: return &g->qkv;
    case LAVR_DD_Q_BF: return &g->q_bf;
    case LAVR_DD_ATT: return &g->att;
    case LAVR_DD_O2: return &g->o2;
    case LAVR_DD_OB: return &g->ob;
    case LAVR_DD_HID: return &g->hid;
    case LAVR_DD_KB: return &g->kb;
    case LAVR_DD_OP: return &g->op;
    case LAVR_DD_GS_BF: return &g->gs_bf;
    case LAVR_DD_AL_BF: return &g->al_bf;
    case LAVR_DD_EMB_BF: return &g->emb_bf;
    case LAVR_DD_EMB32: return &g->emb32;
    case LAVR_DD_KVX: return &g->kvx;
    case LAVR_DD_K_BF: return &g->k_bf;
    case LAVR_DD_XQ: return &g->xq;
    case LAVR_DD_FP8_SCALARS: return &g->fp8_scalars;
    case LAVR_DD_DPARAMS: return &g->dparams;
    case LAVR_DD_SINK_LATENTS: return &g->sink_latents;
    case LAVR_DD_SINK_K: return &g->sink_k;
    case LAVR_DD_SINK_V: return &g->sink_v;
    default: return NULL;
    }
}

static lavr_status alloc_item(void *user, const lavr_dit_dev_item *it) {
    lavr_dit_cuda *g = user;
    if (it->kind == LAVR_DD_LINEAR) {
        dlin *l = lin_slot(g, it);
        if (!l) return LAVR_FAIL(LAVR_E_INTERNAL, "dit cuda: no Linear for item %d (%s)", (int)it->id, it->what);
        return lin_alloc(g, l, it);
    }
    if (it->kind == LAVR_DD_VECTOR) {
        float **v = vec_slot(g, it);
        if (!v) return LAVR_FAIL(LAVR_E_INTERNAL, "dit cuda: no vector for item %d (%s)", (int)it->id, it->what);
        g->weight_bytes += (uint64_t)it->n * 4;
        return dalloc(g, (size_t)it->n * 4, it->what, v);
    }
    void *p = buf_slot(g, it);
    if (!p) return LAVR_FAIL(LAVR_E_INTERNAL, "dit cuda: no buffer for item %d (%s)", (int)it->id, it->what);
    return dalloc(g, (size_t)it->bytes, it->what, p);
}

/* Every weight and working buffer of models/dit_dev.c's list, then the constants the buffers start with. */
static lavr_status alloc_all(lavr_dit_cuda *g) {
    TRY(lavr_dit_dev_walk(&g->dims, alloc_item, g));
    g->xq_bytes = g->opts.fp8 ? lavr_dit_dev_xq_bytes(&g->dims) : 0;
    float ones_host[1024];
    for (int i = 0; i < 1024; i++) ones_host[i] = 1.0f;
    const int64_t d = g->d;
    for (int64_t i = 0; i < 6 * d; i += 1024)
        CUDA_TRY(h2d(g, g->ones + i, ones_host, (size_t)(6 * d - i < 1024 ? 6 * d - i : 1024) * 4));
    return LAVR_OK;
}

static void describe_attention(lavr_dit_cuda *g) {
    if (g->sdpa) {
        char v[48];
        lavr_cudnn_describe(v, sizeof v);
        snprintf(g->attn_desc, sizeof g->attn_desc, "%s fused SDPA", v);
    } else {
        snprintf(g->attn_desc, sizeof g->attn_desc, "lavr flash kernel (mma.sync bf16)");
    }
}

static lavr_status open_attention(lavr_dit_cuda *g) {
    if (g->opts.attention == LAVR_DIT_ATTN_OWN) return LAVR_OK;
    lavr_status st = lavr_cudnn_create(g->stream, &g->dnn);
    if (!st) st = lavr_cuda_sdpa_create(g->dnn, &g->sdpa);
    if (st && g->opts.attention == LAVR_DIT_ATTN_CUDNN) return lavr_error_wrap(st, "--attention cudnn");
    if (st) {
        LOG_INFO("dit: %s; attention runs on lavr's kernel", lavr_error_message());
        lavr_error_clear();
        lavr_cuda_sdpa_destroy(g->sdpa);
        lavr_cudnn_destroy(g->dnn);
        g->sdpa = NULL, g->dnn = NULL;
    }
    return LAVR_OK;
}

lavr_status lavr_dit_cuda_create(const lavr_dit_config *cfg, const lavr_dit_cuda_tp *tp, int64_t h, int64_t w,
                                 lavr_device_arena *arena, lavr_cuda_blas *blas, void *stream, lavr_dit_cuda **out) {
    return lavr_dit_cuda_create_opts(cfg, tp, NULL, 0, cfg->num_layers, h, w, arena, blas, stream, out);
}

lavr_status lavr_dit_cuda_create_range(const lavr_dit_config *cfg, const lavr_dit_cuda_tp *tp, int64_t layer_begin,
                                       int64_t layer_end, int64_t h, int64_t w, lavr_device_arena *arena,
                                       lavr_cuda_blas *blas, void *stream, lavr_dit_cuda **out) {
    return lavr_dit_cuda_create_opts(cfg, tp, NULL, layer_begin, layer_end, h, w, arena, blas, stream, out);
}

lavr_status lavr_dit_cuda_create_opts(const lavr_dit_config *cfg, const lavr_dit_cuda_tp *tp,
                                      const lavr_dit_cuda_options *opts, int64_t layer_begin, int64_t layer_end,
                                      int64_t h, int64_t w, lavr_device_arena *arena, lavr_cuda_blas *blas,
                                      void *stream, lavr_dit_cuda **out) {
    *out = NULL;
    lavr_dit_cuda_options o = opts ? *opts : lavr_dit_cuda_options_default();
    lavr_dit_dev_dims dims;
    TRY(lavr_dit_dev_dims_of(cfg, tp->size, o.fp8, o.sink == LAVR_DIT_SINK_CONTIGUOUS, layer_begin, layer_end, h, w,
                             &dims));
    CHECK_ARG(tp->size == 1 || tp->allreduce_sum, "dit cuda: tp %d needs the group's sum", tp->size);
    CHECK_ARG(!o.fp8 || tp->size == 1 || tp->allreduce_max,
              "--fp8 with tp=%d needs the group's maximum (NCCL); use tp=1 or build with NCCL", tp->size);
    lavr_dit_cuda *g = calloc(1, sizeof *g);
    if (!g) return LAVR_FAIL(LAVR_E_NOMEM, "dit cuda");
    g->cfg = *cfg;
    g->tp = *tp;
    g->opts = o;
    g->arena = arena, g->blas = blas, g->stream = stream;
    g->lb = layer_begin, g->le = layer_end, g->nl = layer_end - layer_begin;
    g->contiguous = dims.contiguous;
    g->dims = dims;
    g->geo = dims.geo;
    lavr_status st = LAVR_OK;
    g->d = dims.d, g->H = dims.H, g->D = dims.D, g->dh = dims.dh, g->ff = dims.ff, g->NA = dims.NA, g->F = dims.F;
    g->L = dims.L, g->S = dims.S, g->R = dims.R, g->T = dims.T, g->head_out = dims.head_out;
    for (int64_t l = 0; l < cfg->num_layers; l++) g->inject_of_layer[l] = -1;
    for (int j = 0; j < cfg->n_inject; j++)
        if (cfg->inject_layers[j] >= 0 && cfg->inject_layers[j] < cfg->num_layers)
            g->inject_of_layer[cfg->inject_layers[j]] = j;
    g->layers = calloc((size_t)cfg->num_layers, sizeof *g->layers);
    g->inj = calloc((size_t)(cfg->n_inject > 0 ? cfg->n_inject : 1), sizeof *g->inj);
    if (!st && (!g->layers || !g->inj)) st = LAVR_FAIL(LAVR_E_NOMEM, "dit cuda layers");
    if (!st) st = open_attention(g);
    if (!st) st = alloc_all(g);
    if (st) {
        lavr_dit_cuda_destroy(g);
        return st;
    }
    describe_attention(g);
    *out = g;
    return LAVR_OK;
}

void lavr_dit_cuda_destroy(lavr_dit_cuda *g) {
    /* device buffers belong to the arena, which the caller destroys */
    if (!g) return;
    for (int i = 0; i < GRAPHS_MAX; i++)
        if (g->graphs[i].exec) cudaGraphExecDestroy(g->graphs[i].exec);
    if (g->prof_ev)
        for (int i = 0; i < 2 * PROF_MAX; i++) cudaEventDestroy(g->prof_ev[i]);
    free(g->prof_ev);
    free(g->prof_cat);
    lavr_cuda_sdpa_destroy(g->sdpa);
    lavr_cudnn_destroy(g->dnn);
    free(g->layers);
    free(g->inj);
    free(g);
}

uint64_t lavr_dit_cuda_weight_bytes(const lavr_dit_cuda *g) { return g->weight_bytes; }
const char *lavr_dit_cuda_attention_path(const lavr_dit_cuda *g) { return g->attn_desc; }
uint64_t lavr_dit_cuda_outside_bytes(const lavr_dit_cuda *g) { return lavr_cuda_sdpa_workspace_bytes(g->sdpa); }

/* ---- FP8 ------------------------------------------------------------------------------------------------ */
/* amax of a bf16 operand; the maximum over the tp group when the tensor is split across it */
static lavr_status amax_of(lavr_dit_cuda *g, const uint16_t *x, int64_t n, int group, float *amax) {
    OP(LAVR_PROF_FP8, lavr_cuda_amax_bf16(x, n, amax, g->stream));
    if (group && g->tp.size > 1) OP(LAVR_PROF_COMM, g->tp.allreduce_max(g->tp.ctx, amax, 1, g->stream));
    return LAVR_OK;
}

/* part `part` of l from a bf16 device tensor src [rows, in] (the staging copy of one checkpoint tensor) */
static lavr_status put_part(lavr_dit_cuda *g, const dlin *l, int64_t part, const uint16_t *src) {
    const int64_t rows = l->out / l->parts, n = rows * l->in;
    if (!l->fp8) {
        CUDA_TRY(cudaMemcpyAsync((uint16_t *)l->w + part * n, src, (size_t)n * 2, cudaMemcpyDeviceToDevice,
                                 (cudaStream_t)g->stream));
        return LAVR_OK;
    }
    /* LiveAvatar: s = min(448 / amax(W), 448) over the whole tensor, q = e4m3(clamp(W s)), 1/s kept */
    TRY(amax_of(g, src, n, l->split != 0, g->fp8_scalars));
    return lavr_cuda_quantize_fp8(src, n, g->fp8_scalars, (uint8_t *)l->w + part * n, l->w_scale + part * SCALE_STRIDE,
                                  g->stream);
}

/* ---- weights: upload from a CPU shard ----------------------------------------------------------- */
/* host tensor -> device, converted to bf16 (bf16 set) or fp32 */
static lavr_status put(const lavr_dit_cuda *g, const lavr_tensor *t, int64_t n, int bf16, void *dev) {
    CHECK_ARG(lavr_tensor_numel(t) == n, "dit cuda upload: tensor of %lld elements, expected %lld",
              (long long)lavr_tensor_numel(t), (long long)n);
    void *h = malloc((size_t)n * (bf16 ? 2 : 4));
    if (!h) return LAVR_FAIL(LAVR_E_NOMEM, "dit cuda upload staging (%lld)", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        double v = lavr_dtype_load(t->dtype, t->data, i);
        if (bf16) ((uint16_t *)h)[i] = lavr_f32_to_bf16((float)v);
        else ((float *)h)[i] = (float)v;
    }
    cudaError_t e = h2d(g, dev, h, (size_t)n * (bf16 ? 2 : 4));
    free(h);
    if (e != cudaSuccess) return LAVR_FAIL(LAVR_E_CUDA, "dit cuda upload: %s", cudaGetErrorString(e));
    return LAVR_OK;
}

typedef struct {
    lavr_dit_cuda *g;
    uint16_t *staging; /* bf16 scratch of the largest Linear part */
    int64_t staging_n;
    uint64_t seed;     /* generate */
} fill_ctx;

static lavr_status staging_open(lavr_dit_cuda *g, fill_ctx *f) {
    memset(f, 0, sizeof *f);
    f->g = g;
    f->staging_n = lavr_dit_dev_staging_values(&g->dims);
    return dalloc(g, (size_t)f->staging_n * 2, "dit weight staging", &f->staging);
}

static lavr_status staging_close(fill_ctx *f) {
    CUDA_TRY(cudaStreamSynchronize((cudaStream_t)f->g->stream));
    return lavr_device_arena_free(f->g->arena, f->staging);
}

static lavr_status up_part(fill_ctx *f, const lavr_dit_linear *src, const dlin *l, int64_t part) {
    const int64_t rows = l->out / l->parts;
    TRY(put(f->g, &src->w, rows * l->in, 1, f->staging));
    TRY(put_part(f->g, l, part, f->staging));
    return put(f->g, &src->b, rows, 1, l->b + part * rows);
}

static lavr_status up_lin(fill_ctx *f, const lavr_dit_linear *src, const dlin *l) { return up_part(f, src, l, 0); }

/* the first pp index's embeddings: patch, pose bias, type embedding, FramePack */
static lavr_status up_embeddings(fill_ctx *f, const lavr_dit *m) {
    lavr_dit_cuda *g = f->g;
    TRY(up_lin(f, &m->patch, &g->patch));
    TRY(put(g, &m->cond.b, g->d, 0, g->cond_bias));
    TRY(put(g, &m->cond_mask, 3 * g->d, 0, g->cond_mask));
    const lavr_dit_linear *fp[3] = {&m->fp_proj, &m->fp_proj2, &m->fp_proj4};
    for (int k = 0; k < 3; k++) TRY(up_lin(f, fp[k], &g->fp_proj[k]));
    return LAVR_OK;
}

lavr_status lavr_dit_cuda_upload_embeddings(lavr_dit_cuda *g, const lavr_dit *m) {
    CHECK_ARG(g->lb == 0 && lavr_dit_shard_of(m)->layer_begin == 0 && m->cfg.dim == g->d &&
                  m->cfg.in_dim == g->cfg.in_dim,
              "dit cuda upload: the embeddings live on the first pp index, of a model of the same size");
    fill_ctx f;
    TRY(staging_open(g, &f));
    lavr_status st = up_embeddings(&f, m);
    lavr_status cs = staging_close(&f);
    return st ? st : cs;
}

lavr_status lavr_dit_cuda_upload(lavr_dit_cuda *g, const lavr_dit *m) {
    const lavr_dit_shard *s = lavr_dit_shard_of(m);
    CHECK_ARG(s->layer_begin == g->lb && s->layer_end == g->le && s->tp.size == g->tp.size &&
                  s->tp.rank == g->tp.rank && m->cfg.dim == g->d && m->cfg.num_layers == g->cfg.num_layers,
              "dit cuda upload: the CPU model is another shard or size");
    fill_ctx f;
    TRY(staging_open(g, &f));
    if (g->lb == 0) TRY(up_embeddings(&f, m));
    TRY(up_lin(&f, &m->text0, &g->text0));
    TRY(up_lin(&f, &m->text2, &g->text2));
    if (g->le == g->cfg.num_layers) {
        TRY(put(g, &m->head.w, g->head_out * g->d, 0, g->head_w));
        TRY(put(g, &m->head.b, g->head_out, 0, g->head_b));
        TRY(put(g, &m->head_modulation, 2 * g->d, 0, g->head_mod));
    }
    for (int64_t l = g->lb; l < g->le; l++) {
        const lavr_dit_layer *h = &m->layers[l - g->lb];
        dlayer *w = &g->layers[l];
        TRY(put(g, &h->modulation, 6 * g->d, 0, g->modulation + (l - g->lb) * 6 * g->d));
        TRY(up_part(&f, &h->sq, &w->qkv, 0));
        TRY(up_part(&f, &h->sk, &w->qkv, 1));
        TRY(up_part(&f, &h->sv, &w->qkv, 2));
        const lavr_dit_linear *hs[7] = {&h->so, &h->cq, &h->ck, &h->cv, &h->co, &h->ffn0, &h->ffn2};
        const dlin *ws[7] = {&w->so, &w->cq, &w->ck, &w->cv, &w->co, &w->ffn0, &w->ffn2};
        for (int i = 0; i < 7; i++) TRY(up_lin(&f, hs[i], ws[i]));
        const lavr_tensor *hv[4] = {&h->s_norm_q, &h->s_norm_k, &h->c_norm_q, &h->c_norm_k};
        float *wv[4] = {w->s_norm_q, w->s_norm_k, w->c_norm_q, w->c_norm_k};
        for (int i = 0; i < 4; i++) TRY(put(g, hv[i], g->dh, 0, wv[i]));
        TRY(put(g, &h->norm3_w, g->d, 0, w->norm3_w));
        TRY(put(g, &h->norm3_b, g->d, 0, w->norm3_b));
    }
    for (int j = 0; j < g->cfg.n_inject; j++) {
        if (!holds_injector(g, j)) continue;
        const lavr_dit_injector *h = &m->injectors[j];
        dinjector *w = &g->inj[j];
        TRY(up_lin(&f, &h->q, &w->q));
        TRY(up_part(&f, &h->k, &w->kv, 0));
        TRY(up_part(&f, &h->v, &w->kv, 1));
        TRY(up_lin(&f, &h->o, &w->o));
        TRY(up_lin(&f, &h->adain, &w->adain));
        TRY(put(g, &h->norm_q, g->dh, 0, w->norm_q));
        TRY(put(g, &h->norm_k, g->dh, 0, w->norm_k));
    }
    return staging_close(&f);
}

/* ---- weights: generated on the device ------------------------------------------------------------- */
/* tensors split over the tp group take the rank's part of a stream; whole tensors the same values */
static lavr_status gen(fill_ctx *c, const char *name, void *dev, int bf16, int64_t n, int split, float scale,
                       float shift) {
    const uint64_t offset = split ? (uint64_t)c->g->tp.rank * (uint64_t)n : 0;
    return lavr_cuda_fill_uniform(dev, bf16, n, c->seed, ((uint64_t)LAVR_STREAM_WEIGHTS << 56) ^ lavr_rng_hash(name),
                                  offset, scale, shift, c->g->stream);
}

static lavr_status gen_part(fill_ctx *c, const char *name, const dlin *l, int64_t part) {
    char n[192];
    const int64_t rows = l->out / l->parts;
    /* fan-in of the whole layer: a column split holds in/tp of it */
    const int64_t fan_in = l->split == 2 ? l->in * c->g->tp.size : l->in;
    snprintf(n, sizeof n, "%s.weight", name);
    TRY(gen(c, n, c->staging, 1, rows * l->in, l->split, (float)(1.0 / sqrt((double)fan_in)), 0.0f));
    TRY(put_part(c->g, l, part, c->staging));
    snprintf(n, sizeof n, "%s.bias", name);
    return gen(c, n, l->b + part * rows, 1, rows, l->split == 1, 0.02f, 0.0f);
}

lavr_status lavr_dit_cuda_generate(lavr_dit_cuda *g, uint64_t seed) {
    fill_ctx c;
    TRY(staging_open(g, &c));
    c.seed = seed;
    const int64_t d = g->d, dh = g->dh;
    char n[192];
    if (g->lb == 0) {
        TRY(gen_part(&c, "patch_embedding", &g->patch, 0));
        TRY(gen(&c, "cond_encoder.bias", g->cond_bias, 0, d, 0, 0.02f, 0.0f));
        TRY(gen(&c, "trainable_cond_mask.weight", g->cond_mask, 0, 3 * d, 0, 1.0f, 0.0f));
        static const char *fp[3] = {"frame_packer.proj", "frame_packer.proj_2x", "frame_packer.proj_4x"};
        for (int k = 0; k < 3; k++) TRY(gen_part(&c, fp[k], &g->fp_proj[k], 0));
    }
    TRY(gen_part(&c, "text_embedding.0", &g->text0, 0));
    TRY(gen_part(&c, "text_embedding.2", &g->text2, 0));
    if (g->le == g->cfg.num_layers) {
        TRY(gen(&c, "head.head.weight", g->head_w, 0, g->head_out * d, 0, (float)(1.0 / sqrt((double)d)), 0.0f));
        TRY(gen(&c, "head.head.bias", g->head_b, 0, g->head_out, 0, 0.02f, 0.0f));
        TRY(gen(&c, "head.modulation", g->head_mod, 0, 2 * d, 0, 0.02f, 0.0f));
    }
    for (int64_t l = g->lb; l < g->le; l++) {
        dlayer *w = &g->layers[l];
        static const char *qkv[3] = {"self_attn.q", "self_attn.k", "self_attn.v"};
        for (int i = 0; i < 3; i++) {
            snprintf(n, sizeof n, "blocks.%lld.%s", (long long)l, qkv[i]);
            TRY(gen_part(&c, n, &w->qkv, i));
        }
        static const char *lin[7] = {"self_attn.o", "cross_attn.q", "cross_attn.k", "cross_attn.v",
                                     "cross_attn.o", "ffn.0", "ffn.2"};
        const dlin *ws[7] = {&w->so, &w->cq, &w->ck, &w->cv, &w->co, &w->ffn0, &w->ffn2};
        for (int i = 0; i < 7; i++) {
            snprintf(n, sizeof n, "blocks.%lld.%s", (long long)l, lin[i]);
            TRY(gen_part(&c, n, ws[i], 0));
        }
        snprintf(n, sizeof n, "blocks.%lld.modulation", (long long)l);
        TRY(gen(&c, n, g->modulation + (l - g->lb) * 6 * d, 0, 6 * d, 0, 0.02f, 0.0f));
        float *gains[4] = {w->s_norm_q, w->s_norm_k, w->c_norm_q, w->c_norm_k};
        for (int i = 0; i < 4; i++) TRY(gen(&c, "gain", gains[i], 0, dh, 0, 0.0f, 1.0f));
        TRY(gen(&c, "gain", w->norm3_w, 0, d, 0, 0.0f, 1.0f));
        TRY(gen(&c, "gain", w->norm3_b, 0, d, 0, 0.0f, 0.0f));
    }
    for (int j = 0; j < g->cfg.n_inject; j++) {
        if (!holds_injector(g, j)) continue;
        dinjector *w = &g->inj[j];
        snprintf(n, sizeof n, "audio_injector.injector.%d.q", j);
        TRY(gen_part(&c, n, &w->q, 0));
        snprintf(n, sizeof n, "audio_injector.injector.%d.k", j);
        TRY(gen_part(&c, n, &w->kv, 0));
        snprintf(n, sizeof n, "audio_injector.injector.%d.v", j);
        TRY(gen_part(&c, n, &w->kv, 1));
        snprintf(n, sizeof n, "audio_injector.injector.%d.o", j);
        TRY(gen_part(&c, n, &w->o, 0));
        snprintf(n, sizeof n, "audio_injector.injector_adain_layers.%d.linear", j);
        TRY(gen_part(&c, n, &w->adain, 0));
        TRY(gen(&c, "gain", w->norm_q, 0, dh, 0, 0.0f, 1.0f));
        TRY(gen(&c, "gain", w->norm_k, 0, dh, 0, 0.0f, 1.0f));
    }
    return staging_close(&c);
}

/* ---- GEMMs ------------------------------------------------------------------------------------------- */
/* y = x W^T (+ b) for M rows: x bf16 [M, in] packed; y bf16 (with the bias, optionally GELU after it) or, for
 * a tp partial sum, fp32 without the bias. FP8 Linears quantise x once (its amax over the tp group when x is
 * a split operand) and run one GEMM per part, each with its own weight scale. */
static lavr_status lin_amax(lavr_dit_cuda *g, const dlin *l, const uint16_t *x, int64_t M, void *y, int64_t ldy,
                            int y_f32, int gelu, int x_split, const float *x_amax) {
    lavr_cuda_gemm_args a;
    memset(&a, 0, sizeof a);
    a.M = M, a.K = l->in;
    a.y_type = y_f32 ? LAVR_GEMM_F32 : LAVR_GEMM_BF16;
    a.epilogue = gelu ? LAVR_GEMM_EPI_GELU : LAVR_GEMM_EPI_NONE;
    if (!l->fp8) {
        a.N = l->out, a.x = x, a.x_type = LAVR_GEMM_BF16, a.w = l->w, a.w_type = LAVR_GEMM_BF16;
        a.bias = y_f32 ? NULL : l->b, a.y = y, a.ldy = ldy;
        OP(LAVR_PROF_GEMM, lavr_cuda_gemm(g->blas, &a, g->stream));
        return LAVR_OK;
    }
    CHECK_ARG(M * l->in <= g->xq_bytes, "dit cuda: FP8 operand of %lld values (room for %lld)", (long long)(M * l->in),
              (long long)g->xq_bytes);
    float *amax = g->fp8_scalars, *inv = g->fp8_scalars + SCALE_STRIDE;
    if (x_amax) amax = (float *)x_amax; /* computed by the kernel that wrote x */
    else TRY(amax_of(g, x, M * l->in, x_split, amax));
    OP(LAVR_PROF_FP8, lavr_cuda_quantize_fp8(x, M * l->in, amax, g->xq, inv, g->stream));
    const int64_t rows = l->out / l->parts;
    for (int64_t p = 0; p < l->parts; p++) {
        a.N = rows, a.x = g->xq, a.x_type = LAVR_GEMM_FP8;
        a.w = (const uint8_t *)l->w + p * rows * l->in, a.w_type = LAVR_GEMM_FP8;
        a.x_scale = inv, a.w_scale = l->w_scale + p * SCALE_STRIDE;
        a.bias = y_f32 ? NULL : l->b + p * rows;
        a.y = y_f32 ? (void *)((float *)y + p * rows) : (void *)((uint16_t *)y + p * rows), a.ldy = ldy;
        OP(LAVR_PROF_GEMM, lavr_cuda_gemm(g->blas, &a, g->stream));
    }
    return LAVR_OK;
}

static lavr_status lin(lavr_dit_cuda *g, const dlin *l, const uint16_t *x, int64_t M, void *y, int64_t ldy, int y_f32,
                       int gelu, int x_split) {
    return lin_amax(g, l, x, M, y, ldy, y_f32, gelu, x_split, NULL);
}

/* a_bf's amax when the resnorm that wrote it kept one (FP8) */
static const float *a_amax(const lavr_dit_cuda *g) { return g->opts.fp8 ? g->fp8_scalars + 2 * SCALE_STRIDE : NULL; }

/* A row-parallel Linear (o, co, ffn2) feeding a resnorm: with tp = 1, y = bf16(x W^T + b) into ob; with tp > 1 the
 * partial sums in fp32, all-reduced; *add_bf16 / *add_f32 + *bias say which the resnorm reads. */
typedef struct {
    const uint16_t *add_bf16, *bias;
    const float *add_f32;
} proj_out;

static lavr_status lin_reduce(lavr_dit_cuda *g, const dlin *l, const uint16_t *x, int64_t M, proj_out *out) {
    memset(out, 0, sizeof *out);
    if (g->tp.size == 1) {
        TRY(lin(g, l, x, M, g->ob, l->out, 0, 0, 0));
        out->add_bf16 = g->ob;
        return LAVR_OK;
    }
    TRY(lin(g, l, x, M, g->y32, l->out, 1, 0, 1));
    OP(LAVR_PROF_COMM, g->tp.allreduce_sum(g->tp.ctx, g->y32, M * l->out, g->stream));
    out->add_f32 = g->y32;
    out->bias = l->b;
    return LAVR_OK;
}

/* q'/k' of an attention (kernels/cuda/dit_fused.h lavr_cuda_qk_norm_rope), with the tp sums of squares first */
static lavr_status qk_norm(lavr_dit_cuda *g, lavr_qknorm_args *a) {
    a->full = g->dh * g->tp.size;
    a->eps = (float)g->cfg.eps;
    a->H = g->H, a->D = g->D;
    if (g->tp.size > 1) {
        OP(LAVR_PROF_NORM, lavr_cuda_qk_sumsq(a->src, a->L, a->ld_src, g->dh, a->gain_k ? a->k_col : -1, g->ss,
                                              g->stream));
        OP(LAVR_PROF_COMM, g->tp.allreduce_sum(g->tp.ctx, g->ss, 2 * a->L, g->stream));
        a->ss = g->ss;
    }
    OP(LAVR_PROF_NORM, lavr_cuda_qk_norm_rope(a, g->stream));
    return LAVR_OK;
}

/* with FP8, a norm's output (a_bf, the next GEMM's operand) also leaves its amax, saving a pass over it */
static lavr_status resnorm(lavr_dit_cuda *g, const lavr_resnorm_args *a) {
    lavr_resnorm_args r = *a;
    if (r.norm != LAVR_RN_NONE && g->opts.fp8) {
        r.y_amax = (float *)a_amax(g);
        OP(LAVR_PROF_FP8, cudaMemsetAsync(r.y_amax, 0, sizeof(float), (cudaStream_t)g->stream) == cudaSuccess
                              ? LAVR_OK
                              : LAVR_FAIL(LAVR_E_CUDA, "dit cuda: clearing an amax failed"));
    }
    OP(LAVR_PROF_NORM, lavr_cuda_resnorm(&r, g->stream));
    return LAVR_OK;
}

/* ---- attention ------------------------------------------------------------------------------------------ */
typedef struct {
    const uint16_t *k, *v;
    int64_t len, row;
} kvseg;

static lavr_sdpa_args sdpa_args(const lavr_dit_cuda *g, const uint16_t *q, int64_t Lq, const kvseg *s, uint16_t *o,
                                float *stats) {
    lavr_sdpa_args a;
    memset(&a, 0, sizeof a);
    a.batch = 1, a.heads = g->H, a.lq = Lq, a.lk = s->len, a.head_dim = g->D;
    a.q = q, a.k = s->k, a.v = s->v, a.o = o;
    a.q_row = g->dh, a.q_batch = Lq * g->dh, a.kv_row = s->row, a.kv_batch = s->len * s->row;
    a.o_row = g->dh, a.o_batch = Lq * g->dh;
    a.stats = stats;
    a.scale = (float)(1.0 / sqrt((double)g->D));
    return a;
}

/* out [Lq, dh] = softmax(q k^T / sqrt(D)) v over the segments' keys (bf16 in and out): cuDNN per segment, two
 * segments merged by their log-sum-exp, or lavr's kernel over all segments at once. */
/* Whether cuDNN runs this attention (its plans built, or found, into a); 0 sends it to lavr's kernel. */
static lavr_status attend_ready(lavr_dit_cuda *g, const uint16_t *q, int64_t Lq, const kvseg *segs, int nseg,
                                uint16_t *out, lavr_sdpa_args a[2], int *cudnn) {
    *cudnn = g->sdpa != NULL && nseg <= 2;
    for (int i = 0; i < nseg && *cudnn; i++) {
        a[i] = sdpa_args(g, q, Lq, &segs[i], i ? g->o2 : out, nseg > 1 ? g->stats + i * g->H * Lq : NULL);
        lavr_status st;
        *cudnn = lavr_cuda_sdpa_ready(g->sdpa, &a[i], &st);
        TRY(st);
    }
    return LAVR_OK;
}

static lavr_status attend(lavr_dit_cuda *g, int cat, const uint16_t *q, int64_t Lq, const kvseg *segs, int nseg,
                          uint16_t *out) {
    lavr_sdpa_args a[2];
    int cudnn;
    TRY(attend_ready(g, q, Lq, segs, nseg, out, a, &cudnn));
    if (cudnn) {
        for (int i = 0; i < nseg; i++) OP(cat, lavr_cuda_sdpa_run(g->sdpa, &a[i]));
        if (nseg == 2)
            OP(cat, lavr_cuda_attn_merge(out, g->stats, g->o2, g->stats + g->H * Lq, Lq, g->H, g->D,
                                                         out, g->stream));
        return LAVR_OK;
    }
    lavr_cuda_kv_segment ks[2];
    for (int i = 0; i < nseg; i++) ks[i] = (lavr_cuda_kv_segment){segs[i].k, segs[i].v, segs[i].len, segs[i].row};
    OP(cat, lavr_cuda_attention_bf16(q, Lq, g->H, g->D, g->dh, ks, nseg,
                                                     (float)(1.0 / sqrt((double)g->D)), out, g->dh, g->stream));
    return LAVR_OK;
}

/* The injectors' per-frame attention: F independent problems of P queries and NA keys (k rows dh apart, v rows
 * v_row apart), one batched cuDNN call, or one call of lavr's kernel per frame on v packed into o2. */
static lavr_sdpa_args frames_args(const lavr_dit_cuda *g, const uint16_t *q, const uint16_t *k, const uint16_t *v,
                                  int64_t v_row, uint16_t *out) {
    const int64_t P = g->geo.P, NA = g->NA, dh = g->dh;
    lavr_sdpa_args a;
    memset(&a, 0, sizeof a);
    a.batch = g->F, a.heads = g->H, a.lq = P, a.lk = NA, a.head_dim = g->D;
    a.q = q, a.k = k, a.v = v, a.o = out;
    a.q_row = dh, a.q_batch = P * dh, a.kv_row = dh, a.kv_batch = NA * dh, a.o_row = dh, a.o_batch = P * dh;
    a.v_row = v_row, a.v_batch = NA * v_row;
    a.scale = (float)(1.0 / sqrt((double)g->D));
    return a;
}

static lavr_status attend_frames(lavr_dit_cuda *g, const uint16_t *q, const uint16_t *k, const uint16_t *v, int64_t v_row,
                                 uint16_t *out) {
    const int64_t F = g->F, P = g->geo.P, NA = g->NA, dh = g->dh;
    const float scale = (float)(1.0 / sqrt((double)g->D));
    if (g->sdpa) {
        lavr_sdpa_args a = frames_args(g, q, k, v, v_row, out);
        lavr_status st;
        if (lavr_cuda_sdpa_ready(g->sdpa, &a, &st)) {
            OP(LAVR_PROF_ATTN_AUDIO, lavr_cuda_sdpa_run(g->sdpa, &a));
            return LAVR_OK;
        }
        TRY(st);
    }
    CHECK_ARG(F * NA <= g->L, "dit cuda: %lld audio tokens exceed the scratch of %lld rows", (long long)(F * NA),
              (long long)g->L);
    if (v_row != dh) {
        const cudaError_t ce = cudaMemcpy2DAsync(g->o2, (size_t)dh * 2, v, (size_t)v_row * 2, (size_t)dh * 2,
                                                 (size_t)(F * NA), cudaMemcpyDeviceToDevice, (cudaStream_t)g->stream);
        if (ce != cudaSuccess) return LAVR_FAIL(LAVR_E_CUDA, "dit cuda: packing the audio values: %s", cudaGetErrorString(ce));
        v = g->o2;
    }
    for (int64_t f = 0; f < F; f++) {
        const lavr_cuda_kv_segment s = {k + f * NA * dh, v + f * NA * dh, NA, dh};
        OP(LAVR_PROF_ATTN_AUDIO, lavr_cuda_attention_bf16(q + f * P * dh, P, g->H, g->D, dh, &s, 1, scale,
                                                         out + f * P * dh, dh, g->stream));
    }
    return LAVR_OK;
}

/* ---- context, caches, activations ------------------------------------------------------------------- */
lavr_status lavr_dit_cuda_set_context(lavr_dit_cuda *g, const float *context, int64_t rows) {
    const int64_t T = g->T, td = g->cfg.text_dim, d = g->d, dh = g->dh;
    CHECK_ARG(rows >= 0 && rows <= T, "dit cuda: context has %lld rows, text_len is %lld", (long long)rows, (long long)T);
    uint16_t *cin = malloc((size_t)(T * td) * sizeof(uint16_t));
    if (!cin) return LAVR_FAIL(LAVR_E_NOMEM, "dit cuda context");
    for (int64_t i = 0; i < T * td; i++) cin[i] = lavr_f32_to_bf16(i < rows * td ? context[i] : 0.0f);
    uint16_t *h = NULL, *ctx = NULL, *kx = NULL;
    uint64_t tmp[3];
    lavr_dit_dev_context_blocks(&g->dims, tmp);
    lavr_status st = dalloc(g, (size_t)tmp[0], "dit text hidden", &h);
    if (!st) st = dalloc(g, (size_t)tmp[1], "dit text embedding", &ctx);
    if (!st) st = dalloc(g, (size_t)tmp[2], "dit text K", &kx);
    if (!st && h2d(g, g->op, cin, (size_t)(T * td) * 2) != cudaSuccess)
        st = LAVR_FAIL(LAVR_E_CUDA, "dit cuda: context upload failed");
    free(cin);
    /* text embedding: Linear, GELU (tanh) in the GEMM epilogue, Linear (bf16; LiveAvatar keeps these out of FP8) */
    if (!st) st = lin(g, &g->text0, g->op, T, h, d, 0, 1, 0);
    if (!st) st = lin(g, &g->text2, h, T, ctx, d, 0, 0, 0);
    for (int64_t l = g->lb; l < g->le && !st; l++) {
        const int64_t at = (l - g->lb) * T * dh;
        st = lin(g, &g->layers[l].ck, ctx, T, kx, dh, 0, 0, 0);
        if (!st) {
            lavr_qknorm_args q;
            memset(&q, 0, sizeof q);
            q.L = T, q.src = kx, q.ld_src = dh, q.v_col = -1, q.gain_q = g->layers[l].c_norm_k;
            q.q_out = g->text_k + at, q.ld_q = dh;
            st = qk_norm(g, &q);
        }
        if (!st) st = lin(g, &g->layers[l].cv, ctx, T, g->text_v + at, dh, 0, 0, 0);
    }
    if (!st && cudaStreamSynchronize((cudaStream_t)g->stream) != cudaSuccess)
        st = LAVR_FAIL(LAVR_E_CUDA, "dit cuda: text K/V failed: %s", cudaGetErrorString(cudaGetLastError()));
    lavr_status fs = lavr_device_arena_free(g->arena, kx);
    if (!fs) fs = lavr_device_arena_free(g->arena, ctx);
    if (!fs) fs = lavr_device_arena_free(g->arena, h);
    return st ? st : fs;
}

static int64_t layer_rows(const lavr_dit_cuda *g) { return lavr_dit_dev_layer_rows(&g->dims); }
static uint16_t *win_k_of(const lavr_dit_cuda *g, const lavr_dit_cuda_cache *c, int64_t at) {
    return c->win_k + at * layer_rows(g) * g->dh;
}
static uint16_t *win_v_of(const lavr_dit_cuda *g, const lavr_dit_cuda_cache *c, int64_t at) {
    return c->win_v + at * layer_rows(g) * g->dh;
}
static uint16_t *sink_v_of(const lavr_dit_cuda *g, const lavr_dit_cuda_cache *c, int64_t at) {
    return g->contiguous ? win_v_of(g, c, at) + g->geo.window * g->dh : g->sink_v + at * g->S * g->dh;
}

lavr_status lavr_dit_cuda_cache_create(lavr_dit_cuda *g, lavr_dit_cuda_cache **out) {
    *out = NULL;
    lavr_dit_cuda_cache *c = calloc(1, sizeof *c);
    if (!c) return LAVR_FAIL(LAVR_E_NOMEM, "dit cuda cache");
    const size_t win = (size_t)lavr_dit_dev_window_bytes(&g->dims);
    lavr_status st = dalloc(g, win, "KV window K", &c->win_k);
    if (!st) st = dalloc(g, win, "KV window V", &c->win_v);
    if (!st) st = dalloc(g, (size_t)lavr_dit_dev_sink_pos_bytes(&g->dims), "sink positions", &c->sink_pos_dev);
    c->sink_pos = malloc((size_t)(g->S * 3) * sizeof(int64_t));
    if (!st && !c->sink_pos) st = LAVR_FAIL(LAVR_E_NOMEM, "dit cuda sink positions");
    if (!st) st = dit_sink_positions(&g->geo, c->sink_pos);
    if (!st && h2d(g, c->sink_pos_dev, c->sink_pos, (size_t)(g->S * 3) * 8) != cudaSuccess)
        st = LAVR_FAIL(LAVR_E_CUDA, "dit cuda: sink positions upload failed");
    if (st) {
        lavr_dit_cuda_cache_destroy(g, c);
        return st;
    }
    *out = c;
    return LAVR_OK;
}

void lavr_dit_cuda_cache_destroy(lavr_dit_cuda *g, lavr_dit_cuda_cache *c) {
    if (!c) return;
    for (int i = 0; i < GRAPHS_MAX; i++)
        if (g->graphs[i].cache == c) {
            if (g->graphs[i].exec) cudaGraphExecDestroy(g->graphs[i].exec);
            memset(&g->graphs[i], 0, sizeof g->graphs[i]);
        }
    void *p[3] = {c->win_k, c->win_v, c->sink_pos_dev};
    for (int i = 0; i < 3; i++) (void)lavr_device_arena_free(g->arena, p[i]);
    free(c->sink_pos);
    free(c);
}

/* The sink keys and (shared layout) values are the rank's one copy; a contiguous cache takes its own copy of the
 * values into its tail. */
lavr_status lavr_dit_cuda_cache_copy_sink(lavr_dit_cuda *g, lavr_dit_cuda_cache *dst, const lavr_dit_cuda_cache *src) {
    if (dst == src) return LAVR_OK;
    if (g->contiguous) {
        const size_t pitch = (size_t)(layer_rows(g) * g->dh) * 2, row = (size_t)(g->S * g->dh) * 2;
        CUDA_TRY(cudaMemcpy2DAsync(sink_v_of(g, dst, 0), pitch, sink_v_of(g, src, 0), pitch, row, (size_t)g->nl,
                                   cudaMemcpyDeviceToDevice, (cudaStream_t)g->stream));
    }
    CUDA_TRY(cudaMemcpyAsync(dst->sink_pos_dev, src->sink_pos_dev, (size_t)(g->S * 3) * 8, cudaMemcpyDeviceToDevice,
                             (cudaStream_t)g->stream));
    memcpy(dst->sink_pos, src->sink_pos, (size_t)(g->S * 3) * sizeof(int64_t));
    dst->ready = src->ready;
    return LAVR_OK;
}

lavr_status lavr_dit_cuda_act_create(lavr_dit_cuda *g, lavr_dit_cuda_act *a) {
    memset(a, 0, sizeof *a);
    const int64_t d = g->d, n = lavr_dit_dev_act_floats(&g->dims);
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

lavr_status lavr_dit_cuda_act_upload_time(lavr_dit_cuda *g, const lavr_dit_act *host, lavr_dit_cuda_act *a) {
    CHECK_ARG(host->rows <= g->R, "dit cuda: activation of %lld rows (at most %lld)", (long long)host->rows,
              (long long)g->R);
    a->prefill = (int)host->prefill;
    a->block_index = host->block_index;
    a->sink_offset = host->sink_offset;
    a->rows = host->rows;
    CUDA_TRY(h2d(g, a->e, host->e, (size_t)(7 * g->d) * 4));
    return LAVR_OK;
}

lavr_status lavr_dit_cuda_act_upload(lavr_dit_cuda *g, const lavr_dit_act *host, lavr_dit_cuda_act *a) {
    TRY(lavr_dit_cuda_act_upload_time(g, host, a));
    CUDA_TRY(h2d(g, a->a_loc, host->a_loc, (size_t)(g->F * (g->NA + 1) * g->d) * 4));
    CUDA_TRY(h2d(g, a->x, host->x, (size_t)(host->rows * g->d) * 4));
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

lavr_status lavr_dit_cuda_act_regions(const lavr_dit_cuda *g, const lavr_dit_cuda_act *a, int64_t rows, float *ptr[3],
                                      int64_t count[3]) {
    CHECK_ARG(rows >= 0 && rows <= g->R, "dit cuda: activation of %lld rows (at most %lld)", (long long)rows,
              (long long)g->R);
    ptr[0] = a->x, count[0] = rows * g->d;
    ptr[1] = a->e, count[1] = 7 * g->d;
    ptr[2] = a->a_loc, count[2] = g->F * (g->NA + 1) * g->d;
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
/* tokens rows at dev <-> host bf16 bits; `down` picks the direction; NULL host skips */
static lavr_status rows_copy(lavr_dit_cuda *g, uint16_t *dev, uint16_t *host, int64_t tokens, int down) {
    if (!host) return LAVR_OK;
    const size_t bytes = (size_t)(tokens * g->dh) * 2;
    CUDA_TRY(cudaMemcpyAsync(down ? (void *)host : (void *)dev, down ? (const void *)dev : (const void *)host, bytes,
                             down ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice, (cudaStream_t)g->stream));
    return LAVR_OK;
}

static lavr_status cache_transfer(lavr_dit_cuda *g, const lavr_dit_cuda_cache *c, int64_t layer, uint16_t *win_k,
                                  uint16_t *win_v, uint16_t *sink_k, uint16_t *sink_v, int down) {
    CHECK_ARG(layer >= g->lb && layer < g->le, "dit cuda: layer %lld is outside the range [%lld, %lld)",
              (long long)layer, (long long)g->lb, (long long)g->le);
    const int64_t at = layer - g->lb;
    TRY(rows_copy(g, win_k_of(g, c, at), win_k, g->geo.window, down));
    TRY(rows_copy(g, win_v_of(g, c, at), win_v, g->geo.window, down));
    TRY(rows_copy(g, g->sink_k + at * g->S * g->dh, sink_k, g->S, down));
    TRY(rows_copy(g, sink_v_of(g, c, at), sink_v, g->S, down));
    CUDA_TRY(cudaStreamSynchronize((cudaStream_t)g->stream));
    return LAVR_OK;
}

lavr_status lavr_dit_cuda_cache_download(lavr_dit_cuda *g, const lavr_dit_cuda_cache *c, int64_t layer,
                                         uint16_t *win_k, uint16_t *win_v, uint16_t *sink_k, uint16_t *sink_v) {
    return cache_transfer(g, c, layer, win_k, win_v, sink_k, sink_v, 1);
}

lavr_status lavr_dit_cuda_cache_upload(lavr_dit_cuda *g, lavr_dit_cuda_cache *c, int64_t layer, const uint16_t *win_k,
                                       const uint16_t *win_v, const uint16_t *sink_k, const uint16_t *sink_v) {
    return cache_transfer(g, c, layer, (uint16_t *)win_k, (uint16_t *)win_v, (uint16_t *)sink_k, (uint16_t *)sink_v, 0);
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
    /* bf16(bf16(bf16(patch(x) + b) + pose bias) + type 0) */
    const lavr_cuda_patch_args p = {.x = x, .C = g->cfg.in_dim, .T = g->F, .h = g->geo.h, .w = g->geo.w, .first = 0,
                                    .frames = g->F, .kt = 1, .kh = 2, .kw = 2, .t0 = 0, .tokens = L};
    TRY(lavr_cuda_patchify(&p, g->a_bf, g->stream));
    TRY(lin(g, &g->patch, g->a_bf, L, g->ob, d, 0, 0, 0));
    TRY(lavr_cuda_bf16_to_f32(g->ob, L * d, a->x, g->stream));
    TRY(lavr_cuda_add_bias(a->x, L, d, g->cond_bias, 1, g->stream));
    return lavr_cuda_add_bias(a->x, L, d, g->cond_mask, 1, g->stream);
}

/* Sink rows [row0, row0 + b->count) = bf16(conv(x) + bias) of a kernel = stride Conv3d l over the frames
 * [b->first, +b->n) of the latents x [C, T, h, w] (dit_patchify), into ob: the patches go through a_bf (R x d
 * values) as many tokens at a time as it holds, each chunk one GEMM. */
static lavr_status sink_conv(lavr_dit_cuda *g, const dlin *l, const float *x, int64_t T, const dit_fp_bucket *b,
                             int64_t row0) {
    const int64_t d = g->d, K = l->in, room = g->R * d / K;
    CHECK_ARG(K == g->cfg.in_dim * b->kt * b->kh * b->kw && room > 0 && row0 + b->count <= g->R,
              "dit cuda sink: a %lldx%lldx%lld kernel over %lld inputs, %lld tokens at row %lld (room for %lld)",
              (long long)b->kt, (long long)b->kh, (long long)b->kw, (long long)K, (long long)b->count,
              (long long)row0, (long long)room);
    lavr_cuda_patch_args p = {.x = x, .C = g->cfg.in_dim, .T = T, .h = g->geo.h, .w = g->geo.w, .first = b->first,
                              .frames = b->n, .kt = b->kt, .kh = b->kh, .kw = b->kw};
    for (int64_t t0 = 0; t0 < b->count; t0 += room) {
        p.t0 = t0, p.tokens = b->count - t0 < room ? b->count - t0 : room;
        OP(LAVR_PROF_OTHER, lavr_cuda_patchify(&p, g->a_bf, g->stream));
        TRY(lin(g, l, g->a_bf, p.tokens, g->ob + (row0 + t0) * d, d, 0, 0, 0));
    }
    return LAVR_OK;
}

lavr_status lavr_dit_cuda_embed_sink(lavr_dit_cuda *g, const float *ref, const float *motion, lavr_dit_cuda_act *a) {
    const lavr_dit_geometry *geo = &g->geo;
    const int64_t C = g->cfg.in_dim, hw = geo->h * geo->w, d = g->d, P = geo->P, S = g->S;
    const int64_t T = LAVR_DIT_MOTION_LATENTS;
    CHECK_ARG(g->lb == 0, "dit cuda: the layers [%lld, %lld) hold no embeddings", (long long)g->lb, (long long)g->le);
    cudaStream_t s = (cudaStream_t)g->stream;
    float *mot = g->sink_latents + C * hw;
    CUDA_TRY(cudaMemcpyAsync(g->sink_latents, ref, (size_t)(C * hw) * 4, cudaMemcpyHostToDevice, s));
    CUDA_TRY(cudaMemcpyAsync(mot, motion, (size_t)(C * T * hw) * 4, cudaMemcpyHostToDevice, s));
    a->prefill = 1;
    a->block_index = 0;
    a->sink_offset = 0;
    a->rows = S;
    /* the reference's patch embedding, then FramePack's buckets (lavr_dit_embed_sink) */
    const dit_fp_bucket patch = {0, 1, 1, 2, 2, P};
    TRY(sink_conv(g, &g->patch, g->sink_latents, 1, &patch, 0));
    dit_fp_bucket b[3];
    dit_framepack_buckets(geo, b);
    int64_t row = P;
    for (int k = 0; k < 3; k++) {
        TRY(sink_conv(g, &g->fp_proj[k], mot, T, &b[k], row));
        row += b[k].count;
    }
    if (row != S) return LAVR_FAIL(LAVR_E_INTERNAL, "dit cuda sink: %lld tokens for a sink of %lld", (long long)row,
                                   (long long)S);
    /* + type embedding 1 (reference) / 2 (motion), in bf16 */
    OP(LAVR_PROF_OTHER, lavr_cuda_bf16_to_f32(g->ob, S * d, a->x, s));
    OP(LAVR_PROF_OTHER, lavr_cuda_add_bias(a->x, P, d, g->cond_mask + d, 1, s));
    OP(LAVR_PROF_OTHER, lavr_cuda_add_bias(a->x + P * d, S - P, d, g->cond_mask + 2 * d, 1, s));
    return LAVR_OK;
}

/* ---- the layers --------------------------------------------------------------------------------------- */
typedef struct {
    int prefill;
    int64_t n_valid; /* window tokens attended (block forwards) */
} attn_plan;

/* the modulated LayerNorm that opens layer l (its E rows 0 and 1): a_bf = bf16(bf16(LN(x)) (1 + scale) + shift) */
static lavr_status open_layer(lavr_dit_cuda *g, int64_t l, float *x, int64_t L) {
    const float *E = g->E + (l - g->lb) * 6 * g->d;
    lavr_resnorm_args r;
    memset(&r, 0, sizeof r);
    r.rows = L, r.cols = g->d, r.x = x, r.norm = LAVR_RN_MOD, r.round_ln = 1, r.eps = (float)g->cfg.eps;
    r.shift = E, r.scale = E + g->d, r.y = g->a_bf;
    return resnorm(g, &r);
}

/* A block forward's self-attention keys: the window's n_valid tokens and the re-roped sink, one segment when the
 * cache holds them contiguously and the window is full. */
static int window_segments(const lavr_dit_cuda *g, uint16_t *wk, uint16_t *wv, uint16_t *roped, uint16_t *sv,
                           int64_t n_valid, kvseg seg[2]) {
    const int64_t dh = g->dh, S = g->S, W = g->geo.window;
    if (g->contiguous && n_valid == W) {
        seg[0] = (kvseg){wk, wv, W + S, dh};
        return 1;
    }
    seg[0] = (kvseg){wk, wv, n_valid, dh};
    seg[1] = (kvseg){roped, sv, S, dh};
    return 2;
}

/* window tokens a block forward attends (timestep forcing: the block's own K/V are in the window) */
static int64_t window_valid(const lavr_dit_cuda *g, int64_t block_index) {
    const int64_t start = block_index * g->L, W = g->geo.window;
    return start < W ? start % W + g->L : W;
}

/* self-attention of layer l: q/k/v from the QKV GEMM output -> g->att */
static lavr_status self_attention(lavr_dit_cuda *g, int64_t l, lavr_dit_cuda_cache *c, const attn_plan *p, int64_t L) {
    const dlayer *w = &g->layers[l];
    const int64_t dh = g->dh, S = g->S, W = g->geo.window, at = l - g->lb;
    uint16_t *sk = g->sink_k + at * S * dh, *sv = sink_v_of(g, c, at);
    lavr_qknorm_args q;
    memset(&q, 0, sizeof q);
    q.L = L, q.src = g->qkv, q.ld_src = 3 * dh, q.k_col = dh, q.v_col = 2 * dh;
    q.gain_q = w->s_norm_q, q.gain_k = w->s_norm_k;
    q.q_out = g->q_bf, q.ld_q = dh, q.ld_k = dh, q.ld_v = dh;
    if (p->prefill) {
        /* the sink keys are stored before RoPE; this forward attends the roped ones */
        q.fac = g->fac_sink, q.k_raw_out = sk, q.k_out = g->kb, q.v_out = sv;
        TRY(qk_norm(g, &q));
        const kvseg seg = {g->kb, sv, S, dh};
        return attend(g, LAVR_PROF_ATTENTION, g->q_bf, L, &seg, 1, g->att);
    }
    /* timestep forcing: the block's own K/V enter the window (slot from the forward's parameters) before it attends */
    uint16_t *wk = win_k_of(g, c, at), *wv = win_v_of(g, c, at);
    q.fac = g->fac_block, q.k_out = wk, q.v_out = wv, q.slot = g->dparams + 2;
    TRY(qk_norm(g, &q));
    /* sink keys re-roped at this forward's reference position: into the cache's tail (contiguous) or a scratch */
    uint16_t *roped = g->contiguous ? wk + W * dh : g->kb;
    OP(LAVR_PROF_NORM, lavr_cuda_rope_bf16(sk, S, g->H, g->D, g->fac_sink, roped, g->stream));
    kvseg seg[2];
    const int nseg = window_segments(g, wk, wv, roped, sv, p->n_valid, seg);
    return attend(g, LAVR_PROF_ATTENTION, g->q_bf, L, seg, nseg, g->att);
}

/* one layer on a_bf (its opening norm, done by the caller) and x; leaves x = the layer output and, when `next` >= 0,
 * a_bf = the opening norm of layer `next` (fused into the closing residual) */
static lavr_status layer_forward(lavr_dit_cuda *g, int64_t l, lavr_dit_cuda_cache *c, const attn_plan *p, float *x,
                                 int64_t L, int64_t next) {
    const dlayer *w = &g->layers[l];
    const int64_t d = g->d, dh = g->dh, T = g->T;
    const float eps = (float)g->cfg.eps;
    const float *E = g->E + (l - g->lb) * 6 * d;
    proj_out po;
    lavr_resnorm_args r;

    TRY(lin_amax(g, &w->qkv, g->a_bf, L, g->qkv, 3 * dh, 0, 0, 0, a_amax(g)));
    TRY(self_attention(g, l, c, p, L));
    TRY(lin_reduce(g, &w->so, g->att, L, &po));
    /* x32 = x + o * gate1; cross-attention input: bf16(LayerNorm(bf16(x32)) * w3 + b3) */
    memset(&r, 0, sizeof r);
    r.rows = L, r.cols = d, r.x = x, r.add_bf16 = po.add_bf16, r.add_f32 = po.add_f32, r.add_bias = po.bias;
    r.gate = E + 2 * d, r.r_out = g->x32, r.norm = LAVR_RN_AFFINE, r.round_norm_input = 1, r.eps = eps;
    r.ln_w = w->norm3_w, r.ln_b = w->norm3_b, r.y = g->a_bf;
    TRY(resnorm(g, &r));

    TRY(lin_amax(g, &w->cq, g->a_bf, L, g->qkv, dh, 0, 0, 0, a_amax(g)));
    lavr_qknorm_args q;
    memset(&q, 0, sizeof q);
    q.L = L, q.src = g->qkv, q.ld_src = dh, q.v_col = -1, q.gain_q = w->c_norm_q, q.q_out = g->q_bf, q.ld_q = dh;
    TRY(qk_norm(g, &q));
    const int64_t at = (l - g->lb) * T * dh;
    const kvseg text = {g->text_k + at, g->text_v + at, T, dh};
    TRY(attend(g, LAVR_PROF_ATTN_TEXT, g->q_bf, L, &text, 1, g->att));
    TRY(lin_reduce(g, &w->co, g->att, L, &po));
    /* x32 += co; FFN input: bf16(LayerNorm(x32) (1 + scale) + shift) on the fp32 stream (not rounded first) */
    memset(&r, 0, sizeof r);
    r.rows = L, r.cols = d, r.x = g->x32, r.add_bf16 = po.add_bf16, r.add_f32 = po.add_f32, r.add_bias = po.bias;
    r.r_out = g->x32, r.norm = LAVR_RN_MOD, r.round_ln = 0, r.eps = eps, r.shift = E + 3 * d, r.scale = E + 4 * d;
    r.y = g->a_bf;
    TRY(resnorm(g, &r));

    /* FFN: GELU (tanh) in the first GEMM's epilogue */
    TRY(lin_amax(g, &w->ffn0, g->a_bf, L, g->hid, g->ff, 0, 1, 0, a_amax(g)));
    TRY(lin_reduce(g, &w->ffn2, g->hid, L, &po));
    /* x = bf16(x32 + ffn * gate2), and the next layer's opening norm in the same pass */
    memset(&r, 0, sizeof r);
    r.rows = L, r.cols = d, r.x = g->x32, r.add_bf16 = po.add_bf16, r.add_f32 = po.add_f32, r.add_bias = po.bias;
    r.gate = E + 5 * d, r.round_sum = 1, r.r_out = x, r.eps = eps;
    if (next >= 0) {
        const float *En = g->E + (next - g->lb) * 6 * d;
        r.norm = LAVR_RN_MOD, r.round_ln = 1, r.shift = En, r.scale = En + d, r.y = g->a_bf;
    }
    return resnorm(g, &r);
}

/* audio injector j on the block's tokens x [F*P, d], all frames batched (dit_audio_inject) */
static lavr_status audio_inject(lavr_dit_cuda *g, int j, float *x) {
    const dinjector *inj = &g->inj[j];
    const int64_t d = g->d, dh = g->dh, P = g->geo.P, NA = g->NA, F = g->F;
    /* AdaLN: shift, scale per frame from silu(a_glob) (prepared once per forward in gs_bf) */
    TRY(lin(g, &inj->adain, g->gs_bf, F, g->emb_bf, 2 * d, 0, 0, 0));
    OP(LAVR_PROF_OTHER, lavr_cuda_bf16_to_f32(g->emb_bf, F * 2 * d, g->emb32, g->stream));
    lavr_resnorm_args r;
    memset(&r, 0, sizeof r);
    r.rows = F * P, r.cols = d, r.x = x, r.norm = LAVR_RN_MOD, r.round_ln = 0, r.eps = 1e-5f;
    r.shift = g->emb32, r.scale = g->emb32 + d, r.mod_group_rows = P, r.mod_stride = 2 * d, r.y = g->a_bf;
    TRY(resnorm(g, &r));
    TRY(lin_amax(g, &inj->q, g->a_bf, F * P, g->qkv, dh, 0, 0, 0, a_amax(g)));
    lavr_qknorm_args q;
    memset(&q, 0, sizeof q);
    q.L = F * P, q.src = g->qkv, q.ld_src = dh, q.v_col = -1, q.gain_q = inj->norm_q, q.q_out = g->q_bf, q.ld_q = dh;
    TRY(qk_norm(g, &q));
    TRY(lin(g, &inj->kv, g->al_bf, F * NA, g->kvx, 2 * dh, 0, 0, 0));
    memset(&q, 0, sizeof q);
    q.L = F * NA, q.src = g->kvx, q.ld_src = 2 * dh, q.v_col = -1, q.gain_q = inj->norm_k, q.q_out = g->k_bf;
    q.ld_q = dh;
    TRY(qk_norm(g, &q));
    /* v is read in place from the k/v GEMM output (rows 2dh apart) */
    TRY(attend_frames(g, g->q_bf, g->k_bf, g->kvx + dh, 2 * dh, g->att));
    proj_out po;
    TRY(lin_reduce(g, &inj->o, g->att, F * P, &po));
    memset(&r, 0, sizeof r);
    r.rows = F * P, r.cols = d, r.x = x, r.add_bf16 = po.add_bf16, r.add_f32 = po.add_f32, r.add_bias = po.bias;
    r.round_sum = 1, r.r_out = x, r.norm = LAVR_RN_NONE;
    return resnorm(g, &r);
}

/* per-forward preparation: every layer's modulation sum, the RoPE factors, the audio operands */
static lavr_status forward_prologue(lavr_dit_cuda *g, lavr_dit_cuda_cache *c, lavr_dit_cuda_act *a) {
    OP(LAVR_PROF_OTHER, lavr_cuda_add_broadcast_rows(g->modulation, g->nl, 6 * g->d, a->e0, g->E, g->stream));
    if (a->prefill) {
        OP(LAVR_PROF_OTHER, lavr_cuda_rope_factors(g->S, g->D, c->sink_pos_dev, 0, 0, 0, g->dparams, g->fac_sink,
                                                   g->stream));
        return LAVR_OK;
    }
    OP(LAVR_PROF_OTHER, lavr_cuda_rope_factors(g->L, g->D, NULL, g->geo.hp, g->geo.wp, 0, g->dparams, g->fac_block,
                                               g->stream));
    OP(LAVR_PROF_OTHER, lavr_cuda_rope_factors(g->S, g->D, c->sink_pos_dev, 0, 0, g->geo.P, g->dparams, g->fac_sink,
                                               g->stream));
    if (any_injector(g)) {
        OP(LAVR_PROF_OTHER, lavr_cuda_silu_to_bf16(a->a_glob, g->F * g->d, g->gs_bf, g->stream));
        OP(LAVR_PROF_OTHER, lavr_cuda_f32_to_bf16(a->a_loc, g->F * g->NA * g->d, g->al_bf, g->stream));
    }
    return LAVR_OK;
}

static lavr_status run_layers(lavr_dit_cuda *g, lavr_dit_cuda_cache *c, lavr_dit_cuda_act *a, const attn_plan *p) {
    const int64_t rows = a->rows;
    TRY(forward_prologue(g, c, a));
    TRY(open_layer(g, g->lb, a->x, rows));
    for (int64_t l = g->lb; l < g->le; l++) {
        const int inject = !p->prefill && g->inject_of_layer[l] >= 0;
        const int64_t next = l + 1 < g->le && !inject ? l + 1 : -1;
        TRY(layer_forward(g, l, c, p, a->x, rows, next));
        if (inject) {
            TRY(audio_inject(g, g->inject_of_layer[l], a->x));
            if (l + 1 < g->le) TRY(open_layer(g, l + 1, a->x, rows));
        }
    }
    return LAVR_OK;
}

/* the forward's device parameters: first frame, reference frame, window slot, attended window tokens */
static lavr_status set_params(lavr_dit_cuda *g, const int64_t params[4]) {
    CUDA_TRY(cudaMemcpyAsync(g->dparams, params, 4 * sizeof(int64_t), cudaMemcpyHostToDevice, (cudaStream_t)g->stream));
    return LAVR_OK;
}

/* Block forwards of one (cache, window length) repeat with only the device parameters changing: the second one
 * is captured into a CUDA graph, later ones replay it. */
static lavr_status run_block(lavr_dit_cuda *g, lavr_dit_cuda_cache *c, lavr_dit_cuda_act *a, const attn_plan *p) {
    /* capture needs a stream of our own (not the legacy default stream) and device-side collectives */
    const int use_graphs =
        g->opts.graphs && !g->prof_on && g->stream != NULL && (g->tp.size == 1 || g->tp.graph_safe);
    if (!use_graphs) return run_layers(g, c, a, p);
    graph_entry *e = NULL, *free_slot = NULL;
    for (int i = 0; i < GRAPHS_MAX && !e; i++) {
        graph_entry *x = &g->graphs[i];
        if (x->cache == c && x->n_valid == p->n_valid && x->runs) e = x;
        else if (!x->runs && !free_slot) free_slot = x;
    }
    if (!e) {
        if (!free_slot) return run_layers(g, c, a, p);
        e = free_slot;
        e->cache = c, e->n_valid = p->n_valid, e->runs = 0, e->exec = NULL;
    }
    if (e->exec) {
        CUDA_TRY(cudaGraphLaunch(e->exec, (cudaStream_t)g->stream));
        e->runs++;
        return LAVR_OK;
    }
    if (e->runs == 0) {
        /* the first run builds the cuDNN and cuBLASLt plans (which may allocate), outside any capture */
        e->runs = 1;
        return run_layers(g, c, a, p);
    }
    cudaGraph_t graph;
    CUDA_TRY(cudaStreamBeginCapture((cudaStream_t)g->stream, cudaStreamCaptureModeThreadLocal));
    lavr_status st = run_layers(g, c, a, p);
    cudaError_t ce = cudaStreamEndCapture((cudaStream_t)g->stream, &graph);
    TRY(st);
    if (ce != cudaSuccess) return LAVR_FAIL(LAVR_E_CUDA, "dit cuda: graph capture failed: %s", cudaGetErrorString(ce));
    ce = cudaGraphInstantiate(&e->exec, graph, 0);
    cudaGraphDestroy(graph);
    if (ce != cudaSuccess) {
        e->exec = NULL;
        return LAVR_FAIL(LAVR_E_CUDA, "dit cuda: graph instantiation failed: %s", cudaGetErrorString(ce));
    }
    CUDA_TRY(cudaGraphLaunch(e->exec, (cudaStream_t)g->stream));
    e->runs++;
    return LAVR_OK;
}

lavr_status lavr_dit_cuda_forward_layers(lavr_dit_cuda *g, lavr_dit_cuda_cache *c, lavr_dit_cuda_act *a) {
    const lavr_dit_geometry *geo = &g->geo;
    const int64_t F = g->F, S = g->S, L = g->L;
    if (a->prefill) {
        CHECK_ARG(a->rows == S, "dit cuda prefill: %lld tokens for a sink of %lld", (long long)a->rows, (long long)S);
        const int64_t params[4] = {0, 0, 0, 0};
        TRY(set_params(g, params));
        const attn_plan p = {1, 0};
        TRY(run_layers(g, c, a, &p));
        c->ready = 1;
        return LAVR_OK;
    }
    CHECK_ARG(c->ready, "dit cuda: block forward before the sink prefill");
    CHECK_ARG(a->rows == L && a->block_index >= 0, "dit cuda: %lld tokens for a block of %lld", (long long)a->rows,
              (long long)L);
    /* positions: frames f0..f0+F-1; the sink's reference frame at max(30, f0 + offset) */
    const int64_t f0 = F * a->block_index;
    const int64_t ref_f = 30 + (f0 - 30 + a->sink_offset > 0 ? f0 - 30 + a->sink_offset : 0);
    const int64_t start = a->block_index * L;
    const int64_t slot = start % geo->window, n_valid = window_valid(g, a->block_index);
    const int64_t params[4] = {f0, ref_f, slot, n_valid};
    TRY(set_params(g, params));
    const attn_plan p = {0, n_valid};
    return run_block(g, c, a, &p);
}

lavr_status lavr_dit_cuda_prepare_attention(lavr_dit_cuda *g, lavr_dit_cuda_cache *c) {
    const int64_t dh = g->dh, L = g->L, W = g->geo.window;
    lavr_sdpa_args a[2];
    int cudnn;
    uint16_t *wk = win_k_of(g, c, 0), *wv = win_v_of(g, c, 0), *sv = sink_v_of(g, c, 0);
    uint16_t *roped = g->contiguous ? wk + W * dh : g->kb;
    /* the window fills over the first blocks: one key length per block until it is full */
    for (int64_t b = 0;; b++) {
        const int64_t n_valid = window_valid(g, b);
        kvseg seg[2];
        const int nseg = window_segments(g, wk, wv, roped, sv, n_valid, seg);
        TRY(attend_ready(g, g->q_bf, L, seg, nseg, g->att, a, &cudnn));
        if (n_valid == W) break;
    }
    /* the cross-attention over the prompt and the sink prefill's self-attention, for blocks and for the sink */
    const kvseg text = {g->text_k, g->text_v, g->T, dh}, sink = {g->kb, sv, g->S, dh};
    TRY(attend_ready(g, g->q_bf, L, &text, 1, g->att, a, &cudnn));
    TRY(attend_ready(g, g->q_bf, g->S, &text, 1, g->att, a, &cudnn));
    TRY(attend_ready(g, g->q_bf, g->S, &sink, 1, g->att, a, &cudnn));
    if (g->sdpa && any_injector(g)) {
        const lavr_sdpa_args f = frames_args(g, g->q_bf, g->k_bf, g->kvx + dh, 2 * dh, g->att);
        lavr_status st;
        (void)lavr_cuda_sdpa_ready(g->sdpa, &f, &st);
        TRY(st);
    }
    return LAVR_OK;
}

lavr_status lavr_dit_cuda_head(lavr_dit_cuda *g, const lavr_dit_cuda_act *a, float *velocity) {
    const int64_t d = g->d, L = g->L;
    CHECK_ARG(!a->prefill && a->rows == L, "dit cuda head: needs a block's %lld tokens", (long long)L);
    CHECK_ARG(g->le == g->cfg.num_layers, "dit cuda: the layers [%lld, %lld) hold no head", (long long)g->lb,
              (long long)g->le);
    void *s = g->stream;
    /* e_head = head.modulation + e, shift then scale; the head stays fp32 (LiveAvatar keeps head.head out of FP8) */
    TRY(lavr_cuda_gated_residual(g->head_mod, a->e, g->ones, 1, d, 0, g->emb, s));
    TRY(lavr_cuda_gated_residual(g->head_mod + d, a->e, g->ones, 1, d, 0, g->emb + d, s));
    TRY(lavr_cuda_modulated_layernorm(a->x, L, d, (float)g->cfg.eps, 1, g->emb, g->emb + d, g->x32, s));
    TRY(lavr_cuda_linear_f32(g->blas, g->x32, L, d, g->head_w, g->head_out, g->head_b, g->head_y, g->head_out, s));
    return lavr_cuda_unpatchify(g->head_y, g->cfg.out_dim, g->F, g->geo.h, g->geo.w, velocity, s);
}

#endif
