/* umT5 encoder forward on the row ops (kernels/row_ops.h), written once for every device, following model-spec §4
 * and the bf16 reference's rounding points: every GEMM, the attention scores (before and after the position bias),
 * its probabilities and output, the norms (before and after the gain), each step of the GELU, the gated product and
 * the residual stream are bf16. The token embedding stays on the host
 * (18% of the weights, 2.0 GiB at XXL size): the rows of an encode's ids are gathered there and uploaded. */
#include "models/t5.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/log.h"
#include "kernels/row_ops.h"
#include "models/dit_dev.h"

typedef struct {
    lavr_linear_weights q, k, v, o, gate, fc1, fc2;
    lavr_tensor norm1, norm2; /* F32 [dim] on the context */
    lavr_tensor pos_bias;     /* F32 [num_buckets, num_heads] on the context */
} t5_layer;

struct lavr_t5 {
    lavr_t5_config cfg;
    lavr_arena *arena; /* host: the token embedding, loading */
    lavr_ctx *ctx;
    int owns_ctx;
    lavr_tensor token_embedding; /* host, as stored; no data when generated */
    int generated;
    uint64_t seed;
    lavr_tensor final_norm;
    t5_layer *layers;
};

/* Per-tensor seeds of a generated model: (layer, tensor) apart. */
#define GEN_SEED(m, layer, index) ((m)->seed * 1000003ull + (uint64_t)(layer) * 64u + (uint64_t)(index))
#define GEN_EMBEDDING_LAYER 4096 /* past any layer */

static lavr_status load_tensor(lavr_t5 *m, lavr_h5file *f, const char *prefix, const char *name, int ndim,
                               int64_t d0, int64_t d1, lavr_tensor *out) {
    char path[512];
    int64_t shape[2] = {d0, d1};
    if (snprintf(path, sizeof path, "%s%s", prefix, name) >= (int)sizeof path)
        return LAVR_FAIL(LAVR_E_ARG, "T5 tensor path too long: %s%s", prefix, name);
    return lavr_h5_read_expect(f, path, ndim, shape, m->arena, out);
}

static lavr_status load_linear(lavr_t5 *m, lavr_h5file *f, const char *prefix, const char *name, int64_t d0,
                               int64_t d1, lavr_linear_weights *out) {
    lavr_tensor t;
    TRY(load_tensor(m, f, prefix, name, 2, d0, d1, &t));
    lavr_status st = lavr_ctx_linear_weights(m->ctx, &t, NULL, out);
    lavr_tensor_free(&t); /* NULL once taken */
    return st;
}

/* Small tensors (norm gains, position bias tables) go to the context as F32. */
static lavr_status load_f32(lavr_t5 *m, lavr_h5file *f, const char *prefix, const char *name, int ndim, int64_t d0,
                            int64_t d1, lavr_tensor *out) {
    lavr_tensor t, host;
    TRY(load_tensor(m, f, prefix, name, ndim, d0, d1, &t));
    lavr_status st = lavr_tensor_alloc(m->arena, LAVR_F32, t.ndim, t.shape, name, &host);
    if (!st) {
        for (int64_t i = 0; i < lavr_tensor_numel(&t); i++)
            ((float *)host.data)[i] = (float)lavr_dtype_load(t.dtype, t.data, i);
        st = ndim == 1 ? lavr_ctx_upload_vector(m->ctx, host.data, d0, name, out)
                       : lavr_ctx_upload(m->ctx, &host, name, out);
    }
    lavr_tensor_free(&host);
    lavr_tensor_free(&t);
    return st;
}

static lavr_status load_layer(lavr_t5 *m, lavr_h5file *f, const char *prefix, int64_t l) {
    const lavr_t5_config *c = &m->cfg;
    t5_layer *L = &m->layers[l];
    char name[160];
#define LAYER_NAME(suffix) (snprintf(name, sizeof name, "blocks.%lld." suffix, (long long)l), name)
    TRY(load_linear(m, f, prefix, LAYER_NAME("attn.q.weight"), c->dim_attn, c->dim, &L->q));
    TRY(load_linear(m, f, prefix, LAYER_NAME("attn.k.weight"), c->dim_attn, c->dim, &L->k));
    TRY(load_linear(m, f, prefix, LAYER_NAME("attn.v.weight"), c->dim_attn, c->dim, &L->v));
    TRY(load_linear(m, f, prefix, LAYER_NAME("attn.o.weight"), c->dim, c->dim_attn, &L->o));
    TRY(load_linear(m, f, prefix, LAYER_NAME("ffn.gate.0.weight"), c->dim_ffn, c->dim, &L->gate));
    TRY(load_linear(m, f, prefix, LAYER_NAME("ffn.fc1.weight"), c->dim_ffn, c->dim, &L->fc1));
    TRY(load_linear(m, f, prefix, LAYER_NAME("ffn.fc2.weight"), c->dim, c->dim_ffn, &L->fc2));
    TRY(load_f32(m, f, prefix, LAYER_NAME("norm1.weight"), 1, c->dim, 0, &L->norm1));
    TRY(load_f32(m, f, prefix, LAYER_NAME("norm2.weight"), 1, c->dim, 0, &L->norm2));
    TRY(load_f32(m, f, prefix, LAYER_NAME("pos_embedding.embedding.weight"), 2, c->num_buckets, c->num_heads,
                 &L->pos_bias));
#undef LAYER_NAME
    return LAVR_OK;
}

static lavr_status check_config(const lavr_t5_config *c) {
    CHECK_ARG(c->vocab > 0 && c->dim > 0 && c->dim_attn > 0 && c->dim_ffn > 0 && c->num_layers > 0,
              "T5 config: vocab, dim, dim_attn, dim_ffn and num_layers must be positive");
    CHECK_ARG(c->num_heads > 0 && c->dim_attn % c->num_heads == 0,
              "T5 config: dim_attn %lld is not a multiple of num_heads %lld", (long long)c->dim_attn,
              (long long)c->num_heads);
    CHECK_ARG(c->num_buckets >= 4 && c->num_buckets % 4 == 0, "T5 config: num_buckets %lld must be a multiple of 4",
              (long long)c->num_buckets);
    CHECK_ARG(c->max_distance > c->num_buckets / 4, "T5 config: max_distance %lld must exceed num_buckets/4",
              (long long)c->max_distance);
    CHECK_ARG(c->eps > 0, "T5 config: eps must be positive");
    return LAVR_OK;
}

/* The shell of a model: config, host arena, context (a CPU one over the arena when ctx is NULL), layer table. */
static lavr_status model_new(const lavr_t5_config *cfg, lavr_ctx *ctx, lavr_t5 **out) {
    *out = NULL;
    TRY(check_config(cfg));
    lavr_t5 *m = calloc(1, sizeof *m);
    if (!m) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the T5 model");
    m->cfg = *cfg;
    lavr_status st = lavr_arena_create("t5", 0, &m->arena);
    if (!st) {
        m->layers = calloc((size_t)cfg->num_layers, sizeof *m->layers);
        if (!m->layers) st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory for %lld T5 layers", (long long)cfg->num_layers);
    }
    if (!st && ctx) m->ctx = ctx;
    else if (!st) {
        st = lavr_ctx_create_cpu(m->arena, &m->ctx);
        m->owns_ctx = 1;
    }
    if (st) {
        lavr_t5_destroy(m);
        return st;
    }
    *out = m;
    return LAVR_OK;
}

lavr_status lavr_t5_create_on(lavr_h5file *file, const char *prefix, const lavr_t5_config *cfg, lavr_ctx *ctx,
                              lavr_t5 **out) {
    CHECK_ARG(file && prefix && cfg && out, "lavr_t5_create: NULL argument");
    lavr_t5 *m = NULL;
    TRY(model_new(cfg, ctx, &m));
    lavr_status st =
        load_tensor(m, file, prefix, "token_embedding.weight", 2, cfg->vocab, cfg->dim, &m->token_embedding);
    for (int64_t l = 0; !st && l < cfg->num_layers; l++) st = load_layer(m, file, prefix, l);
    if (!st) st = load_f32(m, file, prefix, "norm.weight", 1, cfg->dim, 0, &m->final_norm);
    if (st) {
        lavr_t5_destroy(m);
        return lavr_error_wrap(st, "loading T5 from %s", lavr_h5_path(file));
    }
    *out = m;
    return LAVR_OK;
}

lavr_status lavr_t5_create(lavr_h5file *file, const char *prefix, const lavr_t5_config *cfg, lavr_t5 **out) {
    return lavr_t5_create_on(file, prefix, cfg, NULL, out);
}

/* uniform in [-sqrt 3, sqrt 3) (unit variance) from the row generator */
static float unit_uniform(uint64_t seed, uint64_t i) {
    return 1.7320508f * (2.0f * ((float)lavr_row_random_u24(seed, i) * 0x1p-24f) - 1.0f);
}

static lavr_status generated_f32(lavr_t5 *m, int64_t n, int64_t cols, uint64_t seed, int ones, const char *what,
                                 lavr_tensor *out) {
    lavr_tensor host;
    const int64_t shape[2] = {n, cols};
    TRY(lavr_tensor_alloc(m->arena, LAVR_F32, cols ? 2 : 1, shape, what, &host));
    float *v = host.data;
    for (int64_t i = 0; i < lavr_tensor_numel(&host); i++) v[i] = ones ? 1.0f : unit_uniform(seed, (uint64_t)i);
    lavr_status st = cols ? lavr_ctx_upload(m->ctx, &host, what, out) : lavr_ctx_upload_vector(m->ctx, v, n, what, out);
    lavr_tensor_free(&host);
    return st;
}

lavr_status lavr_t5_create_generated(const lavr_t5_config *cfg, uint64_t seed, lavr_ctx *ctx, lavr_t5 **out) {
    CHECK_ARG(cfg && out, "lavr_t5_create_generated: NULL argument");
    lavr_t5 *m = NULL;
    TRY(model_new(cfg, ctx, &m));
    m->generated = 1;
    m->seed = seed;
    const int64_t D = cfg->dim, A = cfg->dim_attn, F = cfg->dim_ffn;
    lavr_status st = LAVR_OK;
    for (int64_t l = 0; !st && l < cfg->num_layers; l++) {
        t5_layer *L = &m->layers[l];
        const struct {
            lavr_linear_weights *w;
            int64_t out, in;
        } lin[7] = {{&L->q, A, D}, {&L->k, A, D}, {&L->v, A, D}, {&L->o, D, A},
                    {&L->gate, F, D}, {&L->fc1, F, D}, {&L->fc2, D, F}};
        /* q gets T5's initialisation (HF T5's std (dim·head_dim)^-1/2): the 1/sqrt(head_dim) that T5's attention
         * leaves out lives in W_q, so the scores have unit variance as in scaled attention. With variance 1/dim
         * like the others, head dim 64 gives scores of rms 8 and a softmax whose top key takes 74% of 150
         * (docs/numerics.md "umT5 attention"). */
        const float q_gain = 1.0f / sqrtf((float)(A / cfg->num_heads));
        for (int i = 0; !st && i < 7; i++)
            st = lavr_ctx_linear_weights_random_scaled(m->ctx, lin[i].out, lin[i].in, GEN_SEED(m, l, i),
                                                       i == 0 ? q_gain : 1.0f, lin[i].w);
        if (!st) st = generated_f32(m, D, 0, 0, 1, "T5 norm1", &L->norm1);
        if (!st) st = generated_f32(m, D, 0, 0, 1, "T5 norm2", &L->norm2);
        if (!st) st = generated_f32(m, cfg->num_buckets, cfg->num_heads, GEN_SEED(m, l, 7), 0, "T5 position bias",
                                    &L->pos_bias);
    }
    if (!st) st = generated_f32(m, D, 0, 0, 1, "T5 final norm", &m->final_norm);
    if (!st) st = lavr_ctx_sync(m->ctx);
    if (st) {
        lavr_t5_destroy(m);
        return lavr_error_wrap(st, "generating T5 weights");
    }
    *out = m;
    return LAVR_OK;
}

void lavr_t5_destroy(lavr_t5 *model) {
    if (!model) return;
    if (model->layers && model->ctx)
        for (int64_t l = 0; l < model->cfg.num_layers; l++) {
            t5_layer *L = &model->layers[l];
            lavr_linear_weights *lin[7] = {&L->q, &L->k, &L->v, &L->o, &L->gate, &L->fc1, &L->fc2};
            for (int i = 0; i < 7; i++) lavr_ctx_linear_weights_free(model->ctx, lin[i]);
            lavr_ctx_free(model->ctx, &L->norm1);
            lavr_ctx_free(model->ctx, &L->norm2);
            lavr_ctx_free(model->ctx, &L->pos_bias);
        }
    if (model->ctx) lavr_ctx_free(model->ctx, &model->final_norm);
    lavr_tensor_free(&model->token_embedding);
    if (model->owns_ctx) lavr_ctx_destroy(model->ctx);
    lavr_arena_destroy(model->arena);
    free(model->layers);
    free(model);
}

const lavr_t5_config *lavr_t5_config_of(const lavr_t5 *model) { return &model->cfg; }

int64_t lavr_t5_relative_bucket(int64_t delta, int64_t num_buckets, int64_t max_distance) {
    int64_t half = num_buckets / 2; /* bidirectional: upper half for keys after the query */
    int64_t bucket = delta > 0 ? half : 0;
    int64_t distance = delta < 0 ? -delta : delta;
    int64_t max_exact = half / 2;
    if (distance < max_exact) return bucket + distance;
    /* The reference evaluates log(d / max_exact) / log(max_distance / max_exact) * (half - max_exact)
     * on fp32 tensors (the Python double divisor is cast to fp32) and truncates with .long(). */
    float scaled = logf((float)distance / (float)max_exact) / (float)log((double)max_distance / (double)max_exact) *
                   (float)(half - max_exact);
    int64_t large = max_exact + (int64_t)scaled;
    if (large > half - 1) large = half - 1;
    return bucket + large;
}

/* ---- encode -------------------------------------------------------------------------------------------- */

typedef struct {
    lavr_tensor x, y, proj;    /* [n, dim]: residual stream, normalised rows, projections back to dim */
    lavr_tensor q, k, v, attn; /* [n, dim_attn] */
    lavr_tensor gate, hidden;  /* [n, dim_ffn] */
    lavr_tensor bias;          /* F32 [heads, n, n], one layer's at a time */
    lavr_tensor bucket, mask;  /* I32 [n, n] bucket of (key - query); F32 [n] or none */
} t5_work;

static void work_free(lavr_ctx *c, t5_work *w) {
    lavr_tensor *all[] = {&w->x, &w->y, &w->proj, &w->q, &w->k, &w->v, &w->attn,
                          &w->gate, &w->hidden, &w->bias, &w->bucket, &w->mask};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lavr_ctx_free(c, all[i]);
}

/* The working tensors, the bucket table and the mask on the context (the order lavr_t5_device_bytes counts). */
static lavr_status work_alloc(const lavr_t5 *m, int64_t n, const float *mask, t5_work *w) {
    const lavr_t5_config *c = &m->cfg;
    lavr_ctx *ctx = m->ctx;
    memset(w, 0, sizeof *w);
    TRY(lavr_ctx_alloc_rows(ctx, n, c->dim, "T5 residual stream", &w->x));
    TRY(lavr_ctx_alloc_rows(ctx, n, c->dim, "T5 normalised rows", &w->y));
    TRY(lavr_ctx_alloc_rows(ctx, n, c->dim, "T5 projection", &w->proj));
    TRY(lavr_ctx_alloc_rows(ctx, n, c->dim_attn, "T5 q", &w->q));
    TRY(lavr_ctx_alloc_rows(ctx, n, c->dim_attn, "T5 k", &w->k));
    TRY(lavr_ctx_alloc_rows(ctx, n, c->dim_attn, "T5 v", &w->v));
    TRY(lavr_ctx_alloc_rows(ctx, n, c->dim_attn, "T5 attention output", &w->attn));
    TRY(lavr_ctx_alloc_rows(ctx, n, c->dim_ffn, "T5 FFN gate", &w->gate));
    TRY(lavr_ctx_alloc_rows(ctx, n, c->dim_ffn, "T5 FFN hidden", &w->hidden));
    TRY(lavr_ctx_alloc_f32(ctx, 3, (int64_t[]){c->num_heads, n, n}, "T5 scores bias", &w->bias));
    lavr_tensor host;
    TRY(lavr_tensor_alloc(m->arena, LAVR_I32, 2, (int64_t[]){n, n}, "T5 buckets", &host));
    int32_t *b = host.data;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            b[i * n + j] = (int32_t)lavr_t5_relative_bucket(j - i, c->num_buckets, c->max_distance);
    lavr_status st = lavr_ctx_upload(ctx, &host, "T5 buckets", &w->bucket);
    lavr_tensor_free(&host);
    TRY(st);
    if (mask) {
        lavr_tensor mh = lavr_tensor_wrap(LAVR_F32, 1, &n, (void *)mask);
        TRY(lavr_ctx_upload(ctx, &mh, "T5 key mask", &w->mask));
    }
    return LAVR_OK;
}

/* The embedding rows of the ids (bf16 values) into the residual stream. */
static lavr_status embed(const lavr_t5 *m, const int64_t *ids, int64_t n, lavr_tensor *x) {
    const int64_t D = m->cfg.dim;
    float *rows = malloc((size_t)(n * D) * sizeof *rows);
    if (!rows) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for %lld T5 embedding rows", (long long)n);
    const lavr_tensor *emb = &m->token_embedding;
    const uint64_t seed = GEN_SEED(m, GEN_EMBEDDING_LAYER, 0);
    for (int64_t i = 0; i < n; i++)
        for (int64_t d = 0; d < D; d++)
            rows[i * D + d] = m->generated ? lavr_round_bf16(unit_uniform(seed, (uint64_t)(ids[i] * D + d)))
                                           : (float)lavr_dtype_load(emb->dtype, emb->data, ids[i] * D + d);
    lavr_status st = lavr_rop_upload(m->ctx, rows, x);
    free(rows);
    return st;
}

static lavr_status run_layer(const lavr_t5 *m, const t5_layer *L, t5_work *w) {
    const lavr_t5_config *c = &m->cfg;
    lavr_ctx *ctx = m->ctx;
    const float eps = (float)c->eps;
    TRY(lavr_rop_rms_norm(ctx, &w->x, &L->norm1, eps, 1, &w->y));
    TRY(lavr_rop_linear(ctx, &w->y, &L->q, 1, &w->q));
    TRY(lavr_rop_linear(ctx, &w->y, &L->k, 1, &w->k));
    TRY(lavr_rop_linear(ctx, &w->y, &L->v, 1, &w->v));
    TRY(lavr_rop_position_bias(ctx, &L->pos_bias, &w->bucket, w->mask.data ? &w->mask : NULL, &w->bias));
    /* no 1/sqrt(head_dim) scaling; the reference's eager bf16 attention rounds scores and probabilities */
    TRY(lavr_rop_attention_eager(ctx, &w->q, &w->k, &w->v, c->num_heads, &w->bias, &w->attn));
    TRY(lavr_rop_linear(ctx, &w->attn, &L->o, 1, &w->proj));
    TRY(lavr_rop_add(ctx, &w->x, &w->proj, 1, &w->x));

    TRY(lavr_rop_rms_norm(ctx, &w->x, &L->norm2, eps, 1, &w->y));
    TRY(lavr_rop_linear(ctx, &w->y, &L->gate, 1, &w->gate));
    TRY(lavr_rop_gelu(ctx, &w->gate, LAVR_GELU_TANH_BF16, 1, &w->gate));
    TRY(lavr_rop_linear(ctx, &w->y, &L->fc1, 1, &w->hidden));
    TRY(lavr_rop_mul(ctx, &w->hidden, &w->gate, 1, &w->hidden));
    TRY(lavr_rop_linear(ctx, &w->hidden, &L->fc2, 1, &w->proj));
    TRY(lavr_rop_add(ctx, &w->x, &w->proj, 1, &w->x));
    return LAVR_OK;
}

lavr_status lavr_t5_encode(const lavr_t5 *model, const int64_t *ids, int64_t n, const float *mask, float *out) {
    CHECK_ARG(model && ids && out, "lavr_t5_encode: NULL argument");
    CHECK_ARG(n > 0, "lavr_t5_encode: no tokens (n = %lld)", (long long)n);
    const lavr_t5_config *c = &model->cfg;
    for (int64_t i = 0; i < n; i++)
        CHECK_ARG(ids[i] >= 0 && ids[i] < c->vocab, "token id %lld at position %lld is outside the vocabulary [0, %lld)",
                  (long long)ids[i], (long long)i, (long long)c->vocab);
    if (mask) {
        int64_t real = 0;
        for (int64_t i = 0; i < n; i++) real += mask[i] != 0.0f;
        CHECK_ARG(real > 0, "lavr_t5_encode: the mask marks every one of the %lld tokens as padding", (long long)n);
    }
    t5_work w;
    lavr_status st = work_alloc(model, n, mask, &w);
    if (!st) st = embed(model, ids, n, &w.x);
    for (int64_t l = 0; !st && l < c->num_layers; l++) {
        lavr_log_progress("umT5 encoder", l, c->num_layers, "layers");
        st = run_layer(model, &model->layers[l], &w);
        if (st) st = lavr_error_wrap(st, "T5 layer %lld", (long long)l);
    }
    if (!st) lavr_log_progress("umT5 encoder", c->num_layers, c->num_layers, "layers");
    if (!st) st = lavr_rop_rms_norm(model->ctx, &w.x, &model->final_norm, (float)c->eps, 1, &w.y);
    if (!st) st = lavr_rop_download(model->ctx, &w.y, out);
    work_free(model->ctx, &w);
    return st;
}

void lavr_t5_device_bytes(const lavr_t5_config *c, int64_t tokens, uint64_t *weights, uint64_t *work) {
    const uint64_t D = (uint64_t)c->dim, A = (uint64_t)c->dim_attn, F = (uint64_t)c->dim_ffn, n = (uint64_t)tokens;
    const uint64_t H = (uint64_t)c->num_heads, vec = lavr_dit_dev_aligned((D + 7) / 8 * 8 * 4);
    const uint64_t layer = 3 * lavr_dit_dev_aligned(A * D * 2) + lavr_dit_dev_aligned(D * A * 2) +
                           2 * lavr_dit_dev_aligned(F * D * 2) + lavr_dit_dev_aligned(D * F * 2) + 2 * vec +
                           lavr_dit_dev_aligned((uint64_t)c->num_buckets * H * 4);
    *weights = (uint64_t)c->num_layers * layer + vec;
    /* work_alloc's tensors, then the larger of the upload and download staging (n x dim fp32, both) */
    *work = 3 * lavr_dit_dev_aligned(n * D * 2) + 4 * lavr_dit_dev_aligned(n * A * 2) +
            2 * lavr_dit_dev_aligned(n * F * 2) + lavr_dit_dev_aligned(H * n * n * 4) + lavr_dit_dev_aligned(n * n * 4) +
            lavr_dit_dev_aligned(n * 4) + lavr_dit_dev_aligned(n * D * 4);
}
