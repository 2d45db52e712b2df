/* umT5 encoder forward on the op interface (kernels/ops.h), following model-spec §4 and the bf16
 * reference's rounding points: every GEMM, the softmax, the GELU product and the residual stream are bf16. */
#include "models/t5.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/log.h"
#include "kernels/ops.h"

typedef struct {
    lavr_tensor q, k, v, o, gate, fc1, fc2;
    float *norm1, *norm2; /* [dim] */
    float *pos_bias;      /* [num_buckets, num_heads] */
} t5_layer;

struct lavr_t5 {
    lavr_t5_config cfg;
    lavr_arena *arena;
    lavr_tensor token_embedding;
    float *final_norm;
    t5_layer *layers;
};

/* Most negative finite bf16, what the reference writes into scores of padded keys
 * (torch.finfo(bfloat16).min). */
#define BF16_LOWEST (-3.38953139e38f)

static lavr_status load_tensor(lavr_t5 *m, lavr_h5file *f, const char *prefix, const char *name, int ndim,
                               int64_t d0, int64_t d1, lavr_tensor *out) {
    char path[512];
    int64_t shape[2] = {d0, d1};
    if (snprintf(path, sizeof path, "%s%s", prefix, name) >= (int)sizeof path)
        return LAVR_FAIL(LAVR_E_ARG, "T5 tensor path too long: %s%s", prefix, name);
    return lavr_h5_read_expect(f, path, ndim, shape, m->arena, out);
}

/* Small tensors (norm gains, position bias tables) are kept as float for the element-wise code. */
static lavr_status load_floats(lavr_t5 *m, lavr_h5file *f, const char *prefix, const char *name, int ndim,
                               int64_t d0, int64_t d1, float **out) {
    lavr_tensor t;
    TRY(load_tensor(m, f, prefix, name, ndim, d0, d1, &t));
    int64_t count = lavr_tensor_numel(&t);
    lavr_status st = lavr_arena_alloc(m->arena, (size_t)count * sizeof(float), name, (void **)out);
    if (!st)
        for (int64_t i = 0; i < count; i++) (*out)[i] = (float)lavr_dtype_load(t.dtype, t.data, i);
    lavr_tensor_free(&t);
    return st;
}

static lavr_status load_layer(lavr_t5 *m, lavr_h5file *f, const char *prefix, int64_t l) {
    const lavr_t5_config *c = &m->cfg;
    t5_layer *L = &m->layers[l];
    char name[160];
#define LAYER_NAME(suffix) (snprintf(name, sizeof name, "blocks.%lld." suffix, (long long)l), name)
    TRY(load_tensor(m, f, prefix, LAYER_NAME("attn.q.weight"), 2, c->dim_attn, c->dim, &L->q));
    TRY(load_tensor(m, f, prefix, LAYER_NAME("attn.k.weight"), 2, c->dim_attn, c->dim, &L->k));
    TRY(load_tensor(m, f, prefix, LAYER_NAME("attn.v.weight"), 2, c->dim_attn, c->dim, &L->v));
    TRY(load_tensor(m, f, prefix, LAYER_NAME("attn.o.weight"), 2, c->dim, c->dim_attn, &L->o));
    TRY(load_tensor(m, f, prefix, LAYER_NAME("ffn.gate.0.weight"), 2, c->dim_ffn, c->dim, &L->gate));
    TRY(load_tensor(m, f, prefix, LAYER_NAME("ffn.fc1.weight"), 2, c->dim_ffn, c->dim, &L->fc1));
    TRY(load_tensor(m, f, prefix, LAYER_NAME("ffn.fc2.weight"), 2, c->dim, c->dim_ffn, &L->fc2));
    TRY(load_floats(m, f, prefix, LAYER_NAME("norm1.weight"), 1, c->dim, 0, &L->norm1));
    TRY(load_floats(m, f, prefix, LAYER_NAME("norm2.weight"), 1, c->dim, 0, &L->norm2));
    TRY(load_floats(m, f, prefix, LAYER_NAME("pos_embedding.embedding.weight"), 2, c->num_buckets, c->num_heads,
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

lavr_status lavr_t5_create(lavr_h5file *file, const char *prefix, const lavr_t5_config *cfg, lavr_t5 **out) {
    CHECK_ARG(file && prefix && cfg && out, "lavr_t5_create: NULL argument");
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
    if (!st) st = load_tensor(m, file, prefix, "token_embedding.weight", 2, cfg->vocab, cfg->dim, &m->token_embedding);
    for (int64_t l = 0; !st && l < cfg->num_layers; l++) st = load_layer(m, file, prefix, l);
    if (!st) st = load_floats(m, file, prefix, "norm.weight", 1, cfg->dim, 0, &m->final_norm);
    if (st) {
        lavr_t5_destroy(m);
        return lavr_error_wrap(st, "loading T5 from %s", lavr_h5_path(file));
    }
    *out = m;
    return LAVR_OK;
}

void lavr_t5_destroy(lavr_t5 *model) {
    if (!model) return;
    lavr_arena_destroy(model->arena); /* owns every tensor and float table */
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

/* T5LayerNorm in bf16: x * rsqrt(mean(x^2) + eps) is cast to bf16 before the gain, and the gain
 * product is a bf16 multiply, so it rounds again. */
static lavr_status t5_norm(const float *x, int64_t rows, int64_t dim, const float *gain, double eps, float *y) {
    TRY(lavr_op_rmsnorm(x, rows, dim, (float)eps, y));
    lavr_op_round_bf16(y, rows * dim);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < dim; i++) y[r * dim + i] *= gain[i];
    lavr_op_round_bf16(y, rows * dim);
    return LAVR_OK;
}

/* GEMM with the bf16 output of the reference's bf16 nn.Linear. */
static lavr_status linear_bf16(const float *x, int64_t rows, int64_t in, const lavr_tensor *w, int64_t out_dim,
                               float *y) {
    TRY(lavr_op_linear(x, rows, in, w, NULL, y));
    lavr_op_round_bf16(y, rows * out_dim);
    return LAVR_OK;
}

/* x += delta with the bf16 residual stream of the reference. */
static void add_residual(float *x, const float *delta, int64_t count) {
    for (int64_t i = 0; i < count; i++) x[i] += delta[i];
    lavr_op_round_bf16(x, count);
}

/* Wan's T5 GELU is written as bf16 tensor arithmetic, 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3))),
 * so every operation rounds to bf16; replaying those roundings moves the golden `short` output from
 * rel L2 1.44% (one fp32 GELU rounded once) to 1.22%. */
static void gelu_tanh_bf16(float *x, int64_t count) {
    for (int64_t i = 0; i < count; i++) {
        float v = x[i];
        float cube = lavr_round_bf16(v * v * v);
        float inner = lavr_round_bf16(v + lavr_round_bf16(0.044715f * cube));
        float t = lavr_round_bf16(tanhf(lavr_round_bf16(0.7978845608f * inner)));
        x[i] = lavr_round_bf16(lavr_round_bf16(0.5f * v) * lavr_round_bf16(1.0f + t));
    }
}

typedef struct {
    float *x, *y, *q, *k, *v, *attn, *proj, *gate, *hidden, *bias;
    int64_t *buckets; /* [n, n] bucket of (key - query), shared by all layers */
} t5_scratch;

static void free_scratch(t5_scratch *s) {
    free(s->x), free(s->y), free(s->q), free(s->k), free(s->v), free(s->attn), free(s->proj);
    free(s->gate), free(s->hidden), free(s->bias), free(s->buckets);
}

static lavr_status alloc_scratch(const lavr_t5_config *c, int64_t n, t5_scratch *s) {
    memset(s, 0, sizeof *s);
    size_t f = sizeof(float);
    s->x = malloc((size_t)(n * c->dim) * f);
    s->y = malloc((size_t)(n * c->dim) * f);
    s->q = malloc((size_t)(n * c->dim_attn) * f);
    s->k = malloc((size_t)(n * c->dim_attn) * f);
    s->v = malloc((size_t)(n * c->dim_attn) * f);
    s->attn = malloc((size_t)(n * c->dim_attn) * f);
    s->proj = malloc((size_t)(n * c->dim) * f);
    s->gate = malloc((size_t)(n * c->dim_ffn) * f);
    s->hidden = malloc((size_t)(n * c->dim_ffn) * f);
    s->bias = malloc((size_t)(c->num_heads * n * n) * f);
    s->buckets = malloc((size_t)(n * n) * sizeof(int64_t));
    if (!s->x || !s->y || !s->q || !s->k || !s->v || !s->attn || !s->proj || !s->gate || !s->hidden || !s->bias ||
        !s->buckets) {
        free_scratch(s);
        return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for T5 activations of %lld tokens", (long long)n);
    }
    return LAVR_OK;
}

/* Scores bias [H, n, n] of one layer: its bucket table (bf16 values) plus the padding mask. */
static void build_bias(const lavr_t5_config *c, const t5_layer *L, const t5_scratch *s, int64_t n, const float *mask) {
    int64_t H = c->num_heads;
#pragma omp parallel for
    for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                float value = L->pos_bias[s->buckets[i * n + j] * H + h];
                s->bias[(h * n + i) * n + j] = (mask && mask[j] == 0.0f) ? BF16_LOWEST : value;
            }
}

static lavr_status run_layer(const lavr_t5_config *c, const t5_layer *L, t5_scratch *s, int64_t n, const float *mask) {
    int64_t D = c->dim, A = c->dim_attn, F = c->dim_ffn, H = c->num_heads;

    TRY(t5_norm(s->x, n, D, L->norm1, c->eps, s->y));
    TRY(linear_bf16(s->y, n, D, &L->q, A, s->q));
    TRY(linear_bf16(s->y, n, D, &L->k, A, s->k));
    TRY(linear_bf16(s->y, n, D, &L->v, A, s->v));
    build_bias(c, L, s, n, mask);
    lavr_kv_segment kv = {.dtype = LAVR_F32, .k = s->k, .v = s->v, .len = n, .row_stride = A};
    /* T5 does not scale scores by 1/sqrt(head_dim). */
    TRY(lavr_op_attention(s->q, n, H, A / H, A, &kv, 1, 1.0f, s->bias, s->attn));
    lavr_op_round_bf16(s->attn, n * A);
    TRY(linear_bf16(s->attn, n, A, &L->o, D, s->proj));
    add_residual(s->x, s->proj, n * D);

    TRY(t5_norm(s->x, n, D, L->norm2, c->eps, s->y));
    TRY(linear_bf16(s->y, n, D, &L->gate, F, s->gate));
    gelu_tanh_bf16(s->gate, n * F);
    TRY(linear_bf16(s->y, n, D, &L->fc1, F, s->hidden));
    for (int64_t i = 0; i < n * F; i++) s->hidden[i] *= s->gate[i];
    lavr_op_round_bf16(s->hidden, n * F);
    TRY(linear_bf16(s->hidden, n, F, &L->fc2, D, s->proj));
    add_residual(s->x, s->proj, n * D);
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

    t5_scratch s;
    TRY(alloc_scratch(c, n, &s));
    const lavr_tensor *emb = &model->token_embedding;
    for (int64_t i = 0; i < n; i++)
        for (int64_t d = 0; d < c->dim; d++)
            s.x[i * c->dim + d] = (float)lavr_dtype_load(emb->dtype, emb->data, ids[i] * c->dim + d);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) s.buckets[i * n + j] = lavr_t5_relative_bucket(j - i, c->num_buckets, c->max_distance);

    lavr_status st = LAVR_OK;
    for (int64_t l = 0; !st && l < c->num_layers; l++) {
        lavr_log_progress("umT5 encoder", l, c->num_layers, "layers");
        st = run_layer(c, &model->layers[l], &s, n, mask);
        if (st) st = lavr_error_wrap(st, "T5 layer %lld", (long long)l);
    }
    if (!st) lavr_log_progress("umT5 encoder", c->num_layers, c->num_layers, "layers");
    if (!st) st = t5_norm(s.x, n, c->dim, model->final_norm, c->eps, out);
    free_scratch(&s);
    return st;
}
