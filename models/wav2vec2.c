/* wav2vec2 forward on an execution context (kernels/w2v_ops.h): weight loading with weight-norm fusion of the
 * positional conv, the tiled conv feature extractor, the tiled positional conv and the pre-LN transformer (§3.1),
 * the whole audio's states resident on the device or streamed through scratch files (models/w2v_states.h) so
 * memory does not grow with its length. */
#include "models/wav2vec2.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "kernels/ops.h"
#include "kernels/row_ops.h"
#include "kernels/w2v_ops.h"
#include "models/w2v_internal.h"
#include "models/w2v_states.h"

/* ---- loading ---------------------------------------------------------------------------------- */

typedef struct {
    lavr_h5file *file;
    lavr_arena *arena;
    char base[320]; /* prefix plus "wav2vec2." when the file holds Wav2Vec2ForCTC names */
} loader;

static lavr_status load(loader *ld, lavr_tensor *out, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static lavr_status load(loader *ld, lavr_tensor *out, int ndim, const int64_t *shape, const char *fmt, ...) {
    char name[256], path[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    snprintf(path, sizeof path, "%s%s", ld->base, name);
    return lavr_h5_read_expect(ld->file, path, ndim, shape, ld->arena, out);
}

static int has(loader *ld, const char *name) {
    char path[600];
    snprintf(path, sizeof path, "%s%s", ld->base, name);
    return lavr_h5_exists(ld->file, path);
}

/* With bf16 rounding the CPU computes with the module's bf16 parameters: values stored wider are rounded in place
 * (widened to F32 first when stored in another type). CUDA rounds them on upload. */
static lavr_status bf16_values(const lavr_w2v *m, lavr_tensor *t) {
    if (!m->round || lavr_ctx_device(m->ctx) != LAVR_DEVICE_CPU || !t->data || t->dtype == LAVR_BF16) return LAVR_OK;
    if (t->dtype != LAVR_F32) {
        lavr_tensor wide;
        TRY(lavr_tensor_alloc(t->owner, LAVR_F32, t->ndim, t->shape, "wav2vec2 weights", &wide));
        lavr_status st = lavr_tensor_copy(&wide, t);
        lavr_tensor_free(t);
        *t = wide;
        TRY(st);
    }
    lavr_op_round_bf16(t->data, lavr_tensor_numel(t));
    return LAVR_OK;
}

/* Host tensors just loaded, prepared for the model's context (which takes them). */
static lavr_status linear(lavr_w2v *m, lavr_tensor w, lavr_tensor b, lavr_linear_weights *out) {
    TRY(bf16_values(m, &w));
    TRY(bf16_values(m, &b));
    return lavr_ctx_linear_weights(m->ctx, &w, &b, out);
}

lavr_status lavr_w2v_take_conv(lavr_w2v *m, lavr_tensor w, lavr_tensor b, int64_t groups, lavr_wop_conv *out) {
    TRY(bf16_values(m, &w));
    TRY(bf16_values(m, &b));
    return lavr_wop_conv_weights(m->ctx, &w, b.data ? &b : NULL, groups, out);
}

lavr_status lavr_w2v_take_vector(lavr_w2v *m, lavr_tensor v, lavr_tensor *out) {
    const int64_t n = lavr_tensor_numel(&v);
    float *h = malloc((size_t)n * sizeof(float));
    if (!h) {
        lavr_tensor_free(&v);
        return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for a wav2vec2 vector");
    }
    for (int64_t i = 0; i < n; i++) h[i] = (float)lavr_tensor_get_flat(&v, i);
    if (m->round) lavr_op_round_bf16(h, n);
    lavr_tensor_free(&v);
    const lavr_status st = lavr_ctx_upload_vector(m->ctx, h, n, "wav2vec2 norm vector", out);
    free(h);
    return st;
}

/* weight = g * v / ||v|| with the norm over dims (0, 1) for every tap k (weight_norm(dim=2)); with bf16 rounding
 * g and v are the module's bf16 parameters and the fused weight is rounded once more. */
static lavr_status load_positional_conv(lavr_w2v *m, loader *ld) {
    const int64_t c = m->cfg.hidden, k = m->cfg.pos_conv_kernel, cg = c / m->cfg.pos_conv_groups;
    const int64_t wshape[3] = {c, cg, k}, gshape[3] = {1, 1, k};
    lavr_tensor bias = {0}, w = {0}, g = {0}, v = {0};
    lavr_status st;
    TRY(load(ld, &bias, 1, (int64_t[]){c}, "encoder.pos_conv_embed.conv.bias"));
    if (has(ld, "encoder.pos_conv_embed.conv.weight")) {
        TRY_GOTO(load(ld, &w, 3, wshape, "encoder.pos_conv_embed.conv.weight"), st, done);
        return lavr_w2v_take_conv(m, w, bias, m->cfg.pos_conv_groups, &m->pos);
    }
    const char *g_name = "encoder.pos_conv_embed.conv.weight_g", *v_name = "encoder.pos_conv_embed.conv.weight_v";
    if (has(ld, "encoder.pos_conv_embed.conv.parametrizations.weight.original0")) {
        g_name = "encoder.pos_conv_embed.conv.parametrizations.weight.original0";
        v_name = "encoder.pos_conv_embed.conv.parametrizations.weight.original1";
    }
    TRY_GOTO(load(ld, &g, 3, gshape, "%s", g_name), st, done);
    TRY_GOTO(load(ld, &v, 3, wshape, "%s", v_name), st, done);
    TRY_GOTO(lavr_tensor_alloc(ld->arena, LAVR_F32, 3, wshape, "wav2vec2 positional conv weight", &w), st, done);
    float *wp = w.data;
    for (int64_t tap = 0; tap < k; tap++) {
        double sumsq = 0.0;
        for (int64_t row = 0; row < c * cg; row++) {
            double x = lavr_tensor_get_flat(&v, row * k + tap);
            if (m->round) x = lavr_round_bf16((float)x);
            sumsq += x * x;
        }
        if (sumsq == 0.0) {
            st = LAVR_FAIL(LAVR_E_FORMAT, "%s%s: tap %lld of the positional conv is all zeros (weight norm undefined)",
                           ld->base, v_name, (long long)tap);
            goto done;
        }
        double gain = lavr_tensor_get_flat(&g, tap);
        if (m->round) gain = lavr_round_bf16((float)gain);
        const double scale = gain / sqrt(sumsq);
        for (int64_t row = 0; row < c * cg; row++) {
            double x = lavr_tensor_get_flat(&v, row * k + tap);
            if (m->round) x = lavr_round_bf16((float)x);
            wp[row * k + tap] = (float)(x * scale);
        }
    }
    lavr_tensor_free(&g);
    lavr_tensor_free(&v);
    return lavr_w2v_take_conv(m, w, bias, m->cfg.pos_conv_groups, &m->pos);
done:
    lavr_tensor_free(&bias);
    lavr_tensor_free(&w);
    lavr_tensor_free(&g);
    lavr_tensor_free(&v);
    return st;
}

static lavr_status load_all(lavr_w2v *m, loader *ld) {
    const lavr_w2v_config *c = &m->cfg;
    const int64_t hid = c->hidden, ffn = c->intermediate;
    lavr_tensor w, b, g;
    for (int i = 0; i < c->n_conv; i++) {
        const int64_t cout = c->conv_dim[i], cin = i ? c->conv_dim[i - 1] : 1;
        conv_layer *cl = &m->conv[i];
        const char *pre = "feature_extractor.conv_layers";
        TRY(load(ld, &w, 3, (int64_t[]){cout, cin, c->conv_kernel[i]}, "%s.%d.conv.weight", pre, i));
        memset(&b, 0, sizeof b);
        if (c->conv_bias) TRY(load(ld, &b, 1, (int64_t[]){cout}, "%s.%d.conv.bias", pre, i));
        TRY(lavr_w2v_take_conv(m, w, b, 1, &cl->conv));
        TRY(load(ld, &g, 1, (int64_t[]){cout}, "%s.%d.layer_norm.weight", pre, i));
        TRY(lavr_w2v_take_vector(m, g, &cl->ln_w));
        TRY(load(ld, &g, 1, (int64_t[]){cout}, "%s.%d.layer_norm.bias", pre, i));
        TRY(lavr_w2v_take_vector(m, g, &cl->ln_b));
    }
    const int64_t cdim = c->conv_dim[c->n_conv - 1];
    TRY(load(ld, &g, 1, (int64_t[]){cdim}, "feature_projection.layer_norm.weight"));
    TRY(lavr_w2v_take_vector(m, g, &m->proj_ln_w));
    TRY(load(ld, &g, 1, (int64_t[]){cdim}, "feature_projection.layer_norm.bias"));
    TRY(lavr_w2v_take_vector(m, g, &m->proj_ln_b));
    TRY(load(ld, &w, 2, (int64_t[]){hid, cdim}, "feature_projection.projection.weight"));
    TRY(load(ld, &b, 1, (int64_t[]){hid}, "feature_projection.projection.bias"));
    TRY(linear(m, w, b, &m->proj));
    TRY(load_positional_conv(m, ld));

    const int64_t vec[1] = {hid}, square[2] = {hid, hid};
    static const char *const proj_names[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    for (int64_t l = 0; l < c->num_layers; l++) {
        encoder_layer *ly = &m->layers[l];
        const long long li = (long long)l;
        lavr_linear_weights *projs[4] = {&ly->q, &ly->k, &ly->v, &ly->o};
        TRY(load(ld, &g, 1, vec, "encoder.layers.%lld.layer_norm.weight", li));
        TRY(lavr_w2v_take_vector(m, g, &ly->ln_w));
        TRY(load(ld, &g, 1, vec, "encoder.layers.%lld.layer_norm.bias", li));
        TRY(lavr_w2v_take_vector(m, g, &ly->ln_b));
        for (int p = 0; p < 4; p++) {
            TRY(load(ld, &w, 2, square, "encoder.layers.%lld.attention.%s.weight", li, proj_names[p]));
            TRY(load(ld, &b, 1, vec, "encoder.layers.%lld.attention.%s.bias", li, proj_names[p]));
            TRY(linear(m, w, b, projs[p]));
        }
        TRY(load(ld, &g, 1, vec, "encoder.layers.%lld.final_layer_norm.weight", li));
        TRY(lavr_w2v_take_vector(m, g, &ly->ffn_ln_w));
        TRY(load(ld, &g, 1, vec, "encoder.layers.%lld.final_layer_norm.bias", li));
        TRY(lavr_w2v_take_vector(m, g, &ly->ffn_ln_b));
        TRY(load(ld, &w, 2, (int64_t[]){ffn, hid}, "encoder.layers.%lld.feed_forward.intermediate_dense.weight", li));
        TRY(load(ld, &b, 1, (int64_t[]){ffn}, "encoder.layers.%lld.feed_forward.intermediate_dense.bias", li));
        TRY(linear(m, w, b, &ly->fc1));
        TRY(load(ld, &w, 2, (int64_t[]){hid, ffn}, "encoder.layers.%lld.feed_forward.output_dense.weight", li));
        TRY(load(ld, &b, 1, vec, "encoder.layers.%lld.feed_forward.output_dense.bias", li));
        TRY(linear(m, w, b, &ly->fc2));
    }
    TRY(load(ld, &g, 1, vec, "encoder.layer_norm.weight"));
    TRY(lavr_w2v_take_vector(m, g, &m->final_ln_w));
    TRY(load(ld, &g, 1, vec, "encoder.layer_norm.bias"));
    TRY(lavr_w2v_take_vector(m, g, &m->final_ln_b));
    return LAVR_OK;
}

static lavr_status check_config(const lavr_w2v_config *c) {
    CHECK_ARG(c->hidden > 0 && c->num_layers > 0 && c->num_heads > 0 && c->intermediate > 0,
              "wav2vec2 config: hidden %lld, layers %lld, heads %lld, intermediate %lld must be positive",
              (long long)c->hidden, (long long)c->num_layers, (long long)c->num_heads, (long long)c->intermediate);
    CHECK_ARG(c->hidden % c->num_heads == 0, "wav2vec2 config: hidden %lld is not a multiple of %lld heads",
              (long long)c->hidden, (long long)c->num_heads);
    CHECK_ARG(c->n_conv >= 1 && c->n_conv <= 8, "wav2vec2 config: %d conv layers (1..8 supported)", c->n_conv);
    for (int i = 0; i < c->n_conv; i++)
        CHECK_ARG(c->conv_dim[i] > 0 && c->conv_kernel[i] > 0 && c->conv_stride[i] > 0,
                  "wav2vec2 config: conv layer %d has dim %lld, kernel %lld, stride %lld", i,
                  (long long)c->conv_dim[i], (long long)c->conv_kernel[i], (long long)c->conv_stride[i]);
    CHECK_ARG(c->pos_conv_kernel > 0 && c->pos_conv_groups > 0 && c->hidden % c->pos_conv_groups == 0,
              "wav2vec2 config: positional conv kernel %lld, groups %lld (must divide hidden %lld)",
              (long long)c->pos_conv_kernel, (long long)c->pos_conv_groups, (long long)c->hidden);
    if (!c->stable_layer_norm)
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "wav2vec2 config: only do_stable_layer_norm=true (pre-LN, the XLSR-53 "
                                             "layout LiveAvatar uses) is supported");
    return LAVR_OK;
}

lavr_status lavr_w2v_create(lavr_h5file *file, const char *prefix, const lavr_w2v_config *cfg, lavr_w2v **out) {
    return lavr_w2v_create_on(file, prefix, cfg, NULL, out);
}

lavr_status lavr_w2v_init(lavr_w2v *m, const lavr_w2v_config *cfg, const lavr_w2v_options *o) {
    TRY(check_config(cfg));
    m->cfg = *cfg;
    if (o) m->opts = *o;
    m->layers = calloc((size_t)cfg->num_layers, sizeof *m->layers);
    if (!m->layers)
        return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for %lld wav2vec2 layers", (long long)cfg->num_layers);
    if (m->opts.ctx) {
        m->ctx = m->opts.ctx;
    } else {
        TRY(lavr_arena_create("wav2vec2 weights", 0, &m->weights));
        TRY(lavr_ctx_create_cpu(m->weights, &m->ctx));
        m->owns_ctx = 1;
    }
    const int cuda = lavr_ctx_device(m->ctx) != LAVR_DEVICE_CPU;
    m->round = cuda || m->opts.bf16;
    if (cuda)
        snprintf(m->description, sizeof m->description, "%s, bf16 storage, fp32 accumulation",
                 lavr_ctx_describe(m->ctx));
    else
        snprintf(m->description, sizeof m->description, "cpu (%s)", m->round ? "bf16 rounding points" : "fp32");
    return LAVR_OK;
}

lavr_status lavr_w2v_create_on(lavr_h5file *file, const char *prefix, const lavr_w2v_config *cfg,
                               const lavr_w2v_options *o, lavr_w2v **out) {
    CHECK_ARG(file && cfg && out, "lavr_w2v_create: file, config and out are required");
    *out = NULL;
    TRY(check_config(cfg));
    lavr_w2v *m = calloc(1, sizeof *m);
    if (!m) return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for the wav2vec2 model");
    lavr_status st;
    TRY_GOTO(lavr_w2v_init(m, cfg, o), st, fail);
    loader ld = {.file = file, .arena = lavr_ctx_host_arena(m->ctx)};
    const char *p = prefix ? prefix : "";
    const size_t plen = strlen(p);
    char root[300];
    if (plen + 2 > sizeof root) {
        st = LAVR_FAIL(LAVR_E_ARG, "wav2vec2 weight prefix '%s' is too long", p);
        goto fail;
    }
    snprintf(root, sizeof root, "%s%s", p, plen && p[plen - 1] != '/' ? "/" : "");
    snprintf(ld.base, sizeof ld.base, "%swav2vec2.", root);
    if (!has(&ld, "feature_projection.projection.weight")) snprintf(ld.base, sizeof ld.base, "%s", root);
    TRY_GOTO(load_all(m, &ld), st, fail);
    *out = m;
    return LAVR_OK;
fail:
    lavr_error_wrap(st, "loading wav2vec2 from %s", lavr_h5_path(file));
    lavr_w2v_destroy(m);
    return st;
}

void lavr_w2v_destroy(lavr_w2v *m) {
    if (!m) return;
    if (m->ctx) {
        for (int i = 0; i < 8; i++) {
            lavr_wop_conv_free(m->ctx, &m->conv[i].conv);
            lavr_ctx_free(m->ctx, &m->conv[i].ln_w);
            lavr_ctx_free(m->ctx, &m->conv[i].ln_b);
        }
        lavr_tensor *vecs[] = {&m->proj_ln_w, &m->proj_ln_b, &m->final_ln_w, &m->final_ln_b};
        for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) lavr_ctx_free(m->ctx, vecs[i]);
        lavr_ctx_linear_weights_free(m->ctx, &m->proj);
        lavr_wop_conv_free(m->ctx, &m->pos);
        for (int64_t l = 0; m->layers && l < m->cfg.num_layers; l++) {
            encoder_layer *ly = &m->layers[l];
            lavr_linear_weights *ws[] = {&ly->q, &ly->k, &ly->v, &ly->o, &ly->fc1, &ly->fc2};
            for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) lavr_ctx_linear_weights_free(m->ctx, ws[i]);
            lavr_tensor *vs[] = {&ly->ln_w, &ly->ln_b, &ly->ffn_ln_w, &ly->ffn_ln_b};
            for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) lavr_ctx_free(m->ctx, vs[i]);
        }
    }
    if (m->owns_ctx) lavr_ctx_destroy(m->ctx);
    lavr_arena_destroy(m->weights);
    free(m->layers);
    free(m);
}

const lavr_w2v_config *lavr_w2v_config_of(const lavr_w2v *m) { return &m->cfg; }
const char *lavr_w2v_describe(const lavr_w2v *m) { return m->description; }
const char *lavr_w2v_last_run(const lavr_w2v *m) { return m->last_run; }

void lavr_w2v_set_last_state(lavr_w2v *m, lavr_w2v_last_state which) { m->last_state = which; }

int64_t lavr_w2v_num_frames(const lavr_w2v_config *c, int64_t n_samples) {
    int64_t t = n_samples;
    for (int i = 0; i < c->n_conv; i++) {
        if (t < c->conv_kernel[i]) return 0;
        t = (t - c->conv_kernel[i]) / c->conv_stride[i] + 1;
    }
    return t;
}

/* ---- forward ---------------------------------------------------------------------------------- */

/* Tile sizes. CPU: output frames per conv tile (~82k samples in; 512 x 16k floats after layer 0), rows per tile of
 * the positional conv and every per-frame op, queries sharing one pass over the keys (a multiple of the row tile)
 * and keys per chunk (a multiple of LAVR_ATTENTION_KEY_TILE): the I/O of a streamed attention layer is
 * T / query_rows reads of K, V. CUDA: larger tiles for the GEMMs; the key chunk is the whole audio when the states
 * are resident. */
typedef struct {
    int64_t conv_frames, rows, query_rows, key_chunk;
} tiling;
static const tiling CPU_TILES = {256, 256, 8 * 256, 4096};
static const tiling CUDA_TILES = {1024, 2048, 4096, 16384};
/* Device bytes left beside resident states for library workspaces and the ops' own scratch. */
#define DEVICE_MARGIN ((int64_t)256 << 20)

/* One forward: the whole audio's [T, hidden] states (layer input and output, K, V) in lavr_w2v_states, tiles as
 * row tensors of the context (the CPU's from the caller's work arena). */
typedef struct {
    const lavr_w2v *m;
    lavr_ctx *c, *tiles;
    tiling t;
    int64_t T, hid;
    int round;
    lavr_w2v_rows_fn fn;
    void *user;
    lavr_w2v_states *h[2], *keys, *values; /* h[0]/h[1]: a layer's input and output, alternating */
    lavr_tensor window, ln, q, out, fin, ffn;   /* [rows + pos kernel, hid], [rows, hid] x4, [rows, ffn] */
    lavr_tensor qblock, hblock, attn;           /* [query_rows, hid] x3 (hblock when the layer states stream) */
    lavr_tensor kchunk, vchunk;                 /* [key_chunk, hid] x2 */
    float *host;                                /* a device's rows on their way to fn: [query_rows, hid] */
    lavr_wop_attention *att;
} forward;

/* The first n rows of a tile, as a [n, cols] tensor over the same memory (n * cols <= the tile's size). */
static lavr_status view(const lavr_tensor *tile, int64_t n, int64_t cols, lavr_tensor *out) {
    if (n * cols > lavr_tensor_numel(tile))
        return LAVR_FAIL(LAVR_E_INTERNAL, "wav2vec2: a [%lld, %lld] view of a %lld-value tile", (long long)n,
                         (long long)cols, (long long)lavr_tensor_numel(tile));
    *out = *tile;
    out->shape[0] = n, out->shape[1] = cols;
    out->stride[0] = cols, out->stride[1] = 1;
    out->owner = NULL;
    out->device_owner = NULL;
    return LAVR_OK;
}

static lavr_status rows_view(const lavr_tensor *tile, int64_t first, int64_t n, lavr_tensor *out) {
    return lavr_tensor_narrow(tile, 0, first, n, out);
}

/* Hands rows [a, a + r) of hidden state `index` on to fn as host floats; the last state is the encoder's final
 * LayerNorm of the layer output unless the model records raw layer outputs. */
static lavr_status deliver(forward *f, int64_t index, int64_t a, const lavr_tensor *rows) {
    const lavr_w2v *m = f->m;
    const int64_t r = rows->shape[0];
    const lavr_tensor *src = rows;
    lavr_tensor normed;
    if (index == m->cfg.num_layers && m->last_state == LAVR_W2V_LAST_NORMED) {
        TRY(view(&f->fin, r, f->hid, &normed));
        TRY(lavr_rop_layer_norm(f->c, rows, &m->final_ln_w, &m->final_ln_b, (float)m->cfg.eps, f->round, &normed));
        src = &normed;
    }
    if (lavr_ctx_device(f->c) == LAVR_DEVICE_CPU) return f->fn(f->user, index, a, r, f->T, f->hid, src->data);
    TRY(lavr_rop_download(f->c, src, f->host));
    return f->fn(f->user, index, a, r, f->T, f->hid, f->host);
}

/* Conv stack + feature projection, written to h[0]. The stack has no padding and each output frame
 * depends only on its receptive field, so a tile of output frames [a, b) is computed from the
 * sample range that feeds it, with results identical to a whole-file pass. */
static lavr_status feature_extract(forward *f, lavr_w2v_input_fn input, void *input_user) {
    const lavr_w2v *m = f->m;
    const lavr_w2v_config *c = &m->cfg;
    const int nl = c->n_conv;
    const int64_t T = f->T, tile = f->t.conv_frames;
    /* Largest activation of a full tile: span[i] = input length of layer i for `tile` outputs. */
    int64_t span[9], biggest = 0;
    span[nl] = tile;
    for (int i = nl - 1; i >= 0; i--) span[i] = (span[i + 1] - 1) * c->conv_stride[i] + c->conv_kernel[i];
    for (int i = 0; i < nl; i++)
        if (c->conv_dim[i] * span[i + 1] > biggest) biggest = c->conv_dim[i] * span[i + 1];

    lavr_tensor bufs[2] = {{0}}, wave = {0};
    float *samples = malloc((size_t)span[0] * sizeof(float));
    lavr_status st;
    if (!samples) return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for a wav2vec2 input tile");
    TRY_GOTO(lavr_ctx_alloc_rows(f->tiles, biggest, 1, "wav2vec2 conv tile", &bufs[0]), st, done);
    TRY_GOTO(lavr_ctx_alloc_rows(f->tiles, biggest, 1, "wav2vec2 conv tile", &bufs[1]), st, done);
    TRY_GOTO(lavr_ctx_alloc_rows(f->tiles, span[0], 1, "wav2vec2 input tile", &wave), st, done);
    for (int64_t a = 0; a < T; a += tile) {
        const int64_t b = a + tile < T ? a + tile : T;
        int64_t lo[9], hi[9]; /* frame range of layer i's input (i = nl: the stack's output) */
        lo[nl] = a;
        hi[nl] = b;
        for (int i = nl - 1; i >= 0; i--) {
            lo[i] = lo[i + 1] * c->conv_stride[i];
            hi[i] = (hi[i + 1] - 1) * c->conv_stride[i] + c->conv_kernel[i];
        }
        TRY_GOTO(input(input_user, lo[0], hi[0] - lo[0], samples), st, done);
        if (f->round) lavr_op_round_bf16(samples, hi[0] - lo[0]); /* the bf16 module's input */
        lavr_tensor cur, next;
        TRY_GOTO(rows_view(&wave, 0, hi[0] - lo[0], &cur), st, done);
        TRY_GOTO(lavr_rop_upload(f->c, samples, &cur), st, done);
        for (int i = 0; i < nl; i++) {
            const conv_layer *cl = &m->conv[i];
            TRY_GOTO(view(&bufs[i % 2], hi[i + 1] - lo[i + 1], c->conv_dim[i], &next), st, done);
            TRY_GOTO(lavr_wop_conv1d(f->c, &cur, &cl->conv, c->conv_stride[i], 0, 0, f->round, &next), st, done);
            /* LayerNorm over channels at each time step, then GELU */
            TRY_GOTO(lavr_rop_layer_norm(f->c, &next, &cl->ln_w, &cl->ln_b, LAVR_W2V_CONV_LN_EPS, f->round, &next), st,
                     done);
            TRY_GOTO(lavr_rop_gelu(f->c, &next, LAVR_GELU_ERF, f->round, &next), st, done);
            cur = next;
        }
        /* cur = [b - a, conv_dim[last]] */
        lavr_tensor dst;
        TRY_GOTO(lavr_rop_layer_norm(f->c, &cur, &m->proj_ln_w, &m->proj_ln_b, (float)c->eps, f->round, &cur), st, done);
        TRY_GOTO(lavr_w2v_states_target(f->h[0], a, b - a, &f->q, &dst), st, done);
        TRY_GOTO(lavr_rop_linear(f->c, &cur, &m->proj, f->round, &dst), st, done);
        TRY_GOTO(lavr_w2v_states_commit(f->h[0], a, &dst), st, done);
    }
    st = LAVR_OK;
done:
    free(samples);
    lavr_ctx_free(f->tiles, &bufs[0]);
    lavr_ctx_free(f->tiles, &bufs[1]);
    lavr_ctx_free(f->tiles, &wave);
    return st;
}

/* h[1] = h[0] + gelu(conv1d(h[0], groups, pad K/2)[:T]), in tiles of output frames read with their
 * +-K/2 halo; the extra output of an even kernel (Wav2Vec2SamePadLayer drops it) is never computed.
 * Each tile is hidden state 0. */
static lavr_status positional_conv(forward *f) {
    const lavr_w2v *m = f->m;
    const int64_t c = m->cfg.hidden, k = m->cfg.pos_conv_kernel, pad = k / 2, T = f->T;
    for (int64_t a = 0; a < T; a += f->t.rows) {
        const int64_t b = a + f->t.rows < T ? a + f->t.rows : T;
        const int64_t want_lo = a - pad, want_hi = b - pad + k - 1; /* inputs feeding outputs [a, b) */
        const int64_t lo = want_lo > 0 ? want_lo : 0, hi = want_hi < T ? want_hi : T;
        lavr_tensor win, pos, h, dst;
        TRY(lavr_w2v_states_read(f->h[0], lo, hi - lo, &f->window, &win));
        TRY(view(&f->q, b - a, c, &pos));
        TRY(lavr_wop_conv1d(f->c, &win, &m->pos, 1, lo - want_lo, want_hi - hi, f->round, &pos));
        TRY(lavr_rop_gelu(f->c, &pos, LAVR_GELU_ERF, f->round, &pos));
        TRY(rows_view(&win, a - lo, b - a, &h));
        TRY(lavr_w2v_states_target(f->h[1], a, b - a, &f->out, &dst));
        TRY(lavr_rop_add(f->c, &h, &pos, f->round, &dst));
        TRY(lavr_w2v_states_commit(f->h[1], a, &dst));
        TRY(deliver(f, 0, a, &dst));
    }
    return LAVR_OK;
}

/* One pre-LN layer from h[in] to h[1 - in]: h += MHA(LN(h)); h += FFN(final_LN(h)). K and V of every
 * frame first (from the layer's input), then blocks of query_rows queries each read every key chunk
 * once, folding it into their attention state (global attention; on the CPU the same bits as one call
 * over all keys since chunks are whole key tiles); then each row tile finishes its own rows. */
static lavr_status run_layer(forward *f, int64_t l, int in) {
    const lavr_w2v *m = f->m;
    const encoder_layer *ly = &m->layers[l];
    const lavr_w2v_config *c = &m->cfg;
    const int64_t T = f->T, hid = f->hid, R = f->t.rows;
    const float eps = (float)c->eps;
    const int last = l + 1 == c->num_layers, rd = f->round;
    lavr_ctx *ctx = f->c;
    for (int64_t a = 0; a < T; a += R) {
        const int64_t r = a + R < T ? R : T - a;
        lavr_tensor x, ln, kv;
        TRY(lavr_w2v_states_read(f->h[in], a, r, &f->window, &x));
        TRY(view(&f->ln, r, hid, &ln));
        TRY(lavr_rop_layer_norm(ctx, &x, &ly->ln_w, &ly->ln_b, eps, rd, &ln));
        TRY(lavr_w2v_states_target(f->keys, a, r, &f->q, &kv));
        TRY(lavr_rop_linear(ctx, &ln, &ly->k, rd, &kv));
        TRY(lavr_w2v_states_commit(f->keys, a, &kv));
        TRY(lavr_w2v_states_target(f->values, a, r, &f->q, &kv));
        TRY(lavr_rop_linear(ctx, &ln, &ly->v, rd, &kv));
        TRY(lavr_w2v_states_commit(f->values, a, &kv));
    }
    const int64_t chunk = lavr_w2v_states_resident(f->keys) ? T : f->t.key_chunk;
    for (int64_t qa = 0; qa < T; qa += f->t.query_rows) {
        const int64_t qn = qa + f->t.query_rows < T ? f->t.query_rows : T - qa;
        lavr_tensor hb, qb;
        TRY(lavr_w2v_states_read(f->h[in], qa, qn, &f->hblock, &hb));
        TRY(rows_view(&f->qblock, 0, qn, &qb));
        for (int64_t a = 0; a < qn; a += R) {
            const int64_t r = a + R < qn ? R : qn - a;
            lavr_tensor x, ln, q;
            TRY(rows_view(&hb, a, r, &x));
            TRY(view(&f->ln, r, hid, &ln));
            TRY(rows_view(&qb, a, r, &q));
            TRY(lavr_rop_layer_norm(ctx, &x, &ly->ln_w, &ly->ln_b, eps, rd, &ln));
            TRY(lavr_rop_linear(ctx, &ln, &ly->q, rd, &q));
        }
        lavr_tensor keys, values, att;
        TRY(rows_view(&f->attn, 0, qn, &att));
        if (chunk >= T) {
            TRY(lavr_w2v_states_read(f->keys, 0, T, &f->kchunk, &keys));
            TRY(lavr_w2v_states_read(f->values, 0, T, &f->vchunk, &values));
            TRY(lavr_wop_attention_all(ctx, f->att, &qb, &keys, &values, rd, &att));
        } else {
            for (int64_t k0 = 0; k0 < T; k0 += chunk) {
                const int64_t kn = k0 + chunk < T ? chunk : T - k0;
                TRY(lavr_w2v_states_read(f->keys, k0, kn, &f->kchunk, &keys));
                TRY(lavr_w2v_states_read(f->values, k0, kn, &f->vchunk, &values));
                TRY(lavr_wop_attention_fold(ctx, f->att, &qb, &keys, &values, k0 == 0));
            }
            TRY(lavr_wop_attention_finish(ctx, f->att, rd, &att));
        }
        for (int64_t a = 0; a < qn; a += R) {
            const int64_t r = a + R < qn ? R : qn - a;
            lavr_tensor x, ar, o, h1, ln, ffn, dst;
            TRY(rows_view(&hb, a, r, &x));
            TRY(rows_view(&att, a, r, &ar));
            TRY(view(&f->q, r, hid, &o));
            TRY(view(&f->window, r, hid, &h1));
            TRY(view(&f->ln, r, hid, &ln));
            TRY(view(&f->ffn, r, c->intermediate, &ffn));
            TRY(lavr_rop_linear(ctx, &ar, &ly->o, rd, &o));
            TRY(lavr_rop_add(ctx, &x, &o, rd, &h1));
            TRY(lavr_rop_layer_norm(ctx, &h1, &ly->ffn_ln_w, &ly->ffn_ln_b, eps, rd, &ln));
            TRY(lavr_rop_linear(ctx, &ln, &ly->fc1, rd, &ffn));
            TRY(lavr_rop_gelu(ctx, &ffn, LAVR_GELU_ERF, rd, &ffn));
            TRY(lavr_rop_linear(ctx, &ffn, &ly->fc2, rd, &o));
            TRY(lavr_w2v_states_target(f->h[1 - in], qa + a, r, &f->out, &dst));
            TRY(lavr_rop_add(ctx, &h1, &o, rd, &dst));
            if (!last) TRY(lavr_w2v_states_commit(f->h[1 - in], qa + a, &dst));
            TRY(deliver(f, l + 1, qa + a, &dst));
        }
    }
    return LAVR_OK;
}

/* How many of the whole-audio states stay on the device: all four when they fit beside the tiles, else the keys
 * and values (read T / query_rows times per layer, where the layer's input and output are read twice and written
 * once), else none. */
static int resident_states(const forward *f) {
    if (lavr_ctx_device(f->c) == LAVR_DEVICE_CPU || f->m->opts.stream_states) return 0;
    const int64_t one = f->T * f->hid * 2, room = lavr_wop_free_bytes(f->c) - DEVICE_MARGIN;
    return 4 * one <= room ? 4 : 2 * one <= room ? 2 : 0;
}

static lavr_status alloc_tiles(forward *f) {
    const lavr_w2v_config *c = &f->m->cfg;
    const int64_t hid = f->hid, R = f->t.rows, Q = f->t.query_rows;
    lavr_tensor *tiles[] = {&f->ln, &f->q, &f->out, &f->fin};
    TRY(lavr_ctx_alloc_rows(f->tiles, R + c->pos_conv_kernel, hid, "wav2vec2 row window", &f->window));
    for (size_t i = 0; i < sizeof tiles / sizeof tiles[0]; i++)
        TRY(lavr_ctx_alloc_rows(f->tiles, R, hid, "wav2vec2 layer tile", tiles[i]));
    TRY(lavr_ctx_alloc_rows(f->tiles, R, c->intermediate, "wav2vec2 ffn tile", &f->ffn));
    TRY(lavr_ctx_alloc_rows(f->tiles, Q, hid, "wav2vec2 query block", &f->qblock));
    TRY(lavr_ctx_alloc_rows(f->tiles, Q, hid, "wav2vec2 attention block", &f->attn));
    return lavr_wop_attention_create(f->c, Q, c->num_heads, hid / c->num_heads, f->m->opts.own_attention, &f->att);
}

lavr_status lavr_w2v_forward_stream(lavr_w2v *m, int64_t n_samples, lavr_w2v_input_fn input, void *input_user,
                                    lavr_arena *work, const char *scratch_dir, lavr_w2v_rows_fn fn, void *user) {
    CHECK_ARG(m && input && work && fn, "lavr_w2v_forward_stream: model, input, work arena and callback are required");
    const lavr_w2v_config *c = &m->cfg;
    const int64_t T = lavr_w2v_num_frames(c, n_samples);
    CHECK_ARG(T > 0, "audio of %lld samples is shorter than wav2vec2's receptive field", (long long)n_samples);
    const int cpu = lavr_ctx_device(m->ctx) == LAVR_DEVICE_CPU;
    forward f = {.m = m, .c = m->ctx, .t = cpu ? CPU_TILES : CUDA_TILES, .T = T, .hid = c->hidden,
                 .round = m->round, .fn = fn, .user = user};
    lavr_w2v_states **stores[4] = {&f.keys, &f.values, &f.h[0], &f.h[1]};
    if (m->opts.key_chunk > 0) f.t.key_chunk = m->opts.key_chunk;
    lavr_status st;
    if (cpu) TRY(lavr_ctx_create_cpu(work, &f.tiles));
    else f.tiles = m->ctx;
    TRY_GOTO(alloc_tiles(&f), st, done);
    if (!cpu && !(f.host = malloc((size_t)(f.t.query_rows * f.hid) * sizeof(float)))) {
        st = LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for wav2vec2's output rows");
        goto done;
    }
    const int resident = resident_states(&f);
    if (resident < 4) /* the layer input is read a query block at a time */
        TRY_GOTO(lavr_ctx_alloc_rows(f.tiles, f.t.query_rows, f.hid, "wav2vec2 hidden block", &f.hblock), st, done);
    if (resident < 2) { /* keys and values come in chunks */
        TRY_GOTO(lavr_ctx_alloc_rows(f.tiles, f.t.key_chunk, f.hid, "wav2vec2 key chunk", &f.kchunk), st, done);
        TRY_GOTO(lavr_ctx_alloc_rows(f.tiles, f.t.key_chunk, f.hid, "wav2vec2 value chunk", &f.vchunk), st, done);
    }
    const int64_t stage = f.t.query_rows > f.t.key_chunk ? f.t.query_rows : f.t.key_chunk;
    static const char *const what[4] = {"wav2vec2 keys", "wav2vec2 values", "wav2vec2 hidden states",
                                        "wav2vec2 hidden states"};
    for (int i = 0; i < 4; i++)
        TRY_GOTO(lavr_w2v_states_create(m->ctx, i < resident, scratch_dir, what[i], T, f.hid, stage, stores[i]), st,
                 done);

    static const char *const where[5] = {"in scratch files", "", "keys and values on the device, layer states in "
                                         "scratch files", "", "all on the device"};
    snprintf(m->last_run, sizeof m->last_run, "%lld frames; whole-audio states %s; attention %s", (long long)T,
             where[resident], lavr_wop_attention_path(f.att));
    TRY_GOTO(feature_extract(&f, input, input_user), st, done);
    TRY_GOTO(positional_conv(&f), st, done);
    for (int64_t l = 0; l < c->num_layers; l++) TRY_GOTO(run_layer(&f, l, (int)((l + 1) % 2)), st, done);
    st = lavr_ctx_sync(m->ctx);
done:
    for (int i = 0; i < 4; i++) lavr_w2v_states_destroy(*stores[i]);
    lavr_tensor *tiles[] = {&f.window, &f.ln,     &f.q,    &f.out,    &f.fin,   &f.ffn,
                            &f.qblock, &f.hblock, &f.attn, &f.kchunk, &f.vchunk};
    for (size_t i = 0; i < sizeof tiles / sizeof tiles[0]; i++) lavr_ctx_free(f.tiles, tiles[i]);
    lavr_wop_attention_destroy(m->ctx, f.att);
    free(f.host);
    if (cpu) lavr_ctx_destroy(f.tiles);
    return st;
}

static lavr_status read_samples(void *user, int64_t first, int64_t n, float *out) {
    memcpy(out, (const float *)user + first, (size_t)n * sizeof(float));
    return LAVR_OK;
}

static lavr_status copy_rows(void *user, int64_t index, int64_t first, int64_t rows, int64_t frames, int64_t hidden,
                             const float *state) {
    float *all = user;
    memcpy(all + (index * frames + first) * hidden, state, (size_t)(rows * hidden) * sizeof(float));
    return LAVR_OK;
}

lavr_status lavr_w2v_forward(lavr_w2v *m, const float *input, int64_t n_samples, lavr_arena *work,
                             float *hidden_states) {
    CHECK_ARG(input && hidden_states, "lavr_w2v_forward: input and output buffer are required");
    return lavr_w2v_forward_stream(m, n_samples, read_samples, (void *)input, work, NULL, copy_rows, hidden_states);
}
