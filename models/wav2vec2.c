/* wav2vec2 forward on the CPU (fp32): weight loading with weight-norm fusion of the positional conv,
 * the tiled conv feature extractor, the tiled positional conv and the pre-LN transformer (§3.1),
 * streaming the whole audio's states through scratch files so memory does not grow with its length. */
#include "models/wav2vec2.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/scratch.h"
#include "kernels/ops.h"

/* Wav2Vec2LayerNormConvLayer builds nn.LayerNorm with its default eps, not config.layer_norm_eps. */
#define CONV_LN_EPS 1e-5f
/* Output frames per tile of the conv stack (~82k samples in; 512 x 16k floats after layer 0). */
#define CONV_TILE_FRAMES 256
/* Rows per tile of the positional conv and of every per-frame op of the encoder. */
#define ROW_TILE 256
/* Queries that share one pass over the keys (a multiple of ROW_TILE), and keys read per chunk (a
 * multiple of LAVR_ATTENTION_KEY_TILE): the I/O of an attention layer is T / QUERY_ROWS reads of K, V. */
#define QUERY_ROWS (8 * ROW_TILE)
#define KEY_CHUNK 4096

typedef struct {
    lavr_tensor w, b, ln_w, ln_b; /* b is empty when conv_bias is false */
} conv_layer;

typedef struct {
    lavr_tensor ln_w, ln_b, q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b;
    lavr_tensor ffn_ln_w, ffn_ln_b, fc1_w, fc1_b, fc2_w, fc2_b;
} encoder_layer;

struct lavr_w2v {
    lavr_w2v_config cfg;
    lavr_arena *weights;
    conv_layer conv[8];
    lavr_tensor proj_ln_w, proj_ln_b, proj_w, proj_b;
    lavr_tensor pos_w, pos_b; /* pos_w fused to fp32 [hidden, hidden / groups, kernel] */
    encoder_layer *layers;
    lavr_tensor final_ln_w, final_ln_b;
    lavr_w2v_last_state last_state;
};

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

/* weight = g * v / ||v|| with the norm over dims (0, 1) for every tap k (weight_norm(dim=2)). */
static lavr_status load_positional_conv(lavr_w2v *m, loader *ld) {
    const int64_t c = m->cfg.hidden, k = m->cfg.pos_conv_kernel, cg = c / m->cfg.pos_conv_groups;
    const int64_t wshape[3] = {c, cg, k}, gshape[3] = {1, 1, k};
    TRY(load(ld, &m->pos_b, 1, (int64_t[]){c}, "encoder.pos_conv_embed.conv.bias"));
    if (has(ld, "encoder.pos_conv_embed.conv.weight"))
        return load(ld, &m->pos_w, 3, wshape, "encoder.pos_conv_embed.conv.weight");

    const char *g_name = "encoder.pos_conv_embed.conv.weight_g", *v_name = "encoder.pos_conv_embed.conv.weight_v";
    if (has(ld, "encoder.pos_conv_embed.conv.parametrizations.weight.original0")) {
        g_name = "encoder.pos_conv_embed.conv.parametrizations.weight.original0";
        v_name = "encoder.pos_conv_embed.conv.parametrizations.weight.original1";
    }
    lavr_tensor g = {0}, v = {0};
    lavr_status st;
    TRY_GOTO(load(ld, &g, 3, gshape, "%s", g_name), st, done);
    TRY_GOTO(load(ld, &v, 3, wshape, "%s", v_name), st, done);
    TRY_GOTO(lavr_tensor_alloc(ld->arena, LAVR_F32, 3, wshape, "wav2vec2 positional conv weight", &m->pos_w), st, done);
    float *w = m->pos_w.data;
    for (int64_t tap = 0; tap < k; tap++) {
        double sumsq = 0.0;
        for (int64_t row = 0; row < c * cg; row++) {
            double x = lavr_tensor_get_flat(&v, row * k + tap);
            sumsq += x * x;
        }
        if (sumsq == 0.0) {
            st = LAVR_FAIL(LAVR_E_FORMAT, "%s%s: tap %lld of the positional conv is all zeros (weight norm undefined)",
                           ld->base, v_name, (long long)tap);
            goto done;
        }
        const double scale = lavr_tensor_get_flat(&g, tap) / sqrt(sumsq);
        for (int64_t row = 0; row < c * cg; row++)
            w[row * k + tap] = (float)(lavr_tensor_get_flat(&v, row * k + tap) * scale);
    }
    st = LAVR_OK;
done:
    lavr_tensor_free(&g);
    lavr_tensor_free(&v);
    return st;
}

static lavr_status load_all(lavr_w2v *m, loader *ld) {
    const lavr_w2v_config *c = &m->cfg;
    const int64_t hid = c->hidden, ffn = c->intermediate;
    for (int i = 0; i < c->n_conv; i++) {
        const int64_t cout = c->conv_dim[i], cin = i ? c->conv_dim[i - 1] : 1;
        conv_layer *cl = &m->conv[i];
        const char *pre = "feature_extractor.conv_layers";
        TRY(load(ld, &cl->w, 3, (int64_t[]){cout, cin, c->conv_kernel[i]}, "%s.%d.conv.weight", pre, i));
        if (c->conv_bias) TRY(load(ld, &cl->b, 1, (int64_t[]){cout}, "%s.%d.conv.bias", pre, i));
        TRY(load(ld, &cl->ln_w, 1, (int64_t[]){cout}, "%s.%d.layer_norm.weight", pre, i));
        TRY(load(ld, &cl->ln_b, 1, (int64_t[]){cout}, "%s.%d.layer_norm.bias", pre, i));
    }
    const int64_t cdim = c->conv_dim[c->n_conv - 1];
    TRY(load(ld, &m->proj_ln_w, 1, (int64_t[]){cdim}, "feature_projection.layer_norm.weight"));
    TRY(load(ld, &m->proj_ln_b, 1, (int64_t[]){cdim}, "feature_projection.layer_norm.bias"));
    TRY(load(ld, &m->proj_w, 2, (int64_t[]){hid, cdim}, "feature_projection.projection.weight"));
    TRY(load(ld, &m->proj_b, 1, (int64_t[]){hid}, "feature_projection.projection.bias"));
    TRY(load_positional_conv(m, ld));

    const int64_t vec[1] = {hid}, square[2] = {hid, hid};
    for (int64_t l = 0; l < c->num_layers; l++) {
        encoder_layer *ly = &m->layers[l];
        const long long li = (long long)l;
        TRY(load(ld, &ly->ln_w, 1, vec, "encoder.layers.%lld.layer_norm.weight", li));
        TRY(load(ld, &ly->ln_b, 1, vec, "encoder.layers.%lld.layer_norm.bias", li));
        TRY(load(ld, &ly->q_w, 2, square, "encoder.layers.%lld.attention.q_proj.weight", li));
        TRY(load(ld, &ly->q_b, 1, vec, "encoder.layers.%lld.attention.q_proj.bias", li));
        TRY(load(ld, &ly->k_w, 2, square, "encoder.layers.%lld.attention.k_proj.weight", li));
        TRY(load(ld, &ly->k_b, 1, vec, "encoder.layers.%lld.attention.k_proj.bias", li));
        TRY(load(ld, &ly->v_w, 2, square, "encoder.layers.%lld.attention.v_proj.weight", li));
        TRY(load(ld, &ly->v_b, 1, vec, "encoder.layers.%lld.attention.v_proj.bias", li));
        TRY(load(ld, &ly->o_w, 2, square, "encoder.layers.%lld.attention.out_proj.weight", li));
        TRY(load(ld, &ly->o_b, 1, vec, "encoder.layers.%lld.attention.out_proj.bias", li));
        TRY(load(ld, &ly->ffn_ln_w, 1, vec, "encoder.layers.%lld.final_layer_norm.weight", li));
        TRY(load(ld, &ly->ffn_ln_b, 1, vec, "encoder.layers.%lld.final_layer_norm.bias", li));
        TRY(load(ld, &ly->fc1_w, 2, (int64_t[]){ffn, hid}, "encoder.layers.%lld.feed_forward.intermediate_dense.weight", li));
        TRY(load(ld, &ly->fc1_b, 1, (int64_t[]){ffn}, "encoder.layers.%lld.feed_forward.intermediate_dense.bias", li));
        TRY(load(ld, &ly->fc2_w, 2, (int64_t[]){hid, ffn}, "encoder.layers.%lld.feed_forward.output_dense.weight", li));
        TRY(load(ld, &ly->fc2_b, 1, vec, "encoder.layers.%lld.feed_forward.output_dense.bias", li));
    }
    TRY(load(ld, &m->final_ln_w, 1, vec, "encoder.layer_norm.weight"));
    TRY(load(ld, &m->final_ln_b, 1, vec, "encoder.layer_norm.bias"));
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
    CHECK_ARG(file && cfg && out, "lavr_w2v_create: file, config and out are required");
    *out = NULL;
    TRY(check_config(cfg));
    lavr_w2v *m = calloc(1, sizeof *m);
    if (!m) return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for the wav2vec2 model");
    m->cfg = *cfg;
    lavr_status st;
    m->layers = calloc((size_t)cfg->num_layers, sizeof *m->layers);
    if (!m->layers) {
        st = LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for %lld wav2vec2 layers", (long long)cfg->num_layers);
        goto fail;
    }
    TRY_GOTO(lavr_arena_create("wav2vec2 weights", 0, &m->weights), st, fail);

    loader ld = {.file = file, .arena = m->weights};
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
    lavr_arena_destroy(m->weights);
    free(m->layers);
    free(m);
}

const lavr_w2v_config *lavr_w2v_config_of(const lavr_w2v *m) { return &m->cfg; }

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

/* y[c, r] = x[r, c] for x [rows, cols]. */
static void transpose(const float *x, int64_t rows, int64_t cols, float *y) {
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < cols; c++)
        for (int64_t r = 0; r < rows; r++) y[c * rows + r] = x[r * cols + c];
}

static lavr_status scratch(lavr_arena *work, int64_t count, const char *what, float **out) {
    return lavr_arena_alloc(work, (size_t)count * sizeof(float), what, (void **)out);
}

static void add_rows(float *h, const float *x, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) h[i] += x[i];
}

/* One forward: the whole audio's [T, hidden] states (layer input and output, K, V) live in scratch
 * files, the tiles below in the work arena. */
typedef struct {
    const lavr_w2v *m;
    int64_t T, hid;
    lavr_w2v_rows_fn fn;
    void *user;
    lavr_scratch *h[2], *keys, *values; /* h[0]/h[1]: a layer's input and output, alternating */
    float *rows, *ln, *q, *att, *ffn;   /* [ROW_TILE, hid] x3 (rows: [QUERY_ROWS + K, hid]), [ROW_TILE, ffn] */
    float *qblock, *hblock, *kv;        /* [QUERY_ROWS, hid] x2, [2 * KEY_CHUNK, hid] */
    lavr_attention_state *state;
} forward;

/* Conv stack + feature projection, written to h[0]. The stack has no padding and each output frame
 * depends only on its receptive field, so a tile of output frames [a, b) is computed from the
 * sample range that feeds it, with results identical to a whole-file pass. */
static lavr_status feature_extract(forward *f, lavr_w2v_input_fn input, void *input_user, lavr_arena *work) {
    const lavr_w2v *m = f->m;
    const lavr_w2v_config *c = &m->cfg;
    const int nl = c->n_conv;
    const int64_t T = f->T;
    /* Largest activation of a full tile: span[i] = input length of layer i for CONV_TILE_FRAMES outputs. */
    int64_t span[9], biggest = 0;
    span[nl] = CONV_TILE_FRAMES;
    for (int i = nl - 1; i >= 0; i--) span[i] = (span[i + 1] - 1) * c->conv_stride[i] + c->conv_kernel[i];
    for (int i = 0; i < nl; i++)
        if (c->conv_dim[i] * span[i + 1] > biggest) biggest = c->conv_dim[i] * span[i + 1];

    float *bufs[2] = {NULL, NULL}, *samples = NULL;
    lavr_status st;
    TRY_GOTO(scratch(work, biggest, "wav2vec2 conv tile", &bufs[0]), st, done);
    TRY_GOTO(scratch(work, biggest, "wav2vec2 conv tile", &bufs[1]), st, done);
    TRY_GOTO(scratch(work, span[0], "wav2vec2 input tile", &samples), st, done);
    for (int64_t a = 0; a < T; a += CONV_TILE_FRAMES) {
        const int64_t b = a + CONV_TILE_FRAMES < T ? a + CONV_TILE_FRAMES : T;
        int64_t lo[9], hi[9]; /* frame range of layer i's input (i = nl: the stack's output) */
        lo[nl] = a;
        hi[nl] = b;
        for (int i = nl - 1; i >= 0; i--) {
            lo[i] = lo[i + 1] * c->conv_stride[i];
            hi[i] = (hi[i + 1] - 1) * c->conv_stride[i] + c->conv_kernel[i];
        }
        TRY_GOTO(input(input_user, lo[0], hi[0] - lo[0], samples), st, done);
        const float *cur = samples;
        float *conv_out = bufs[0], *rows = bufs[1];
        int64_t cin = 1, len = hi[0] - lo[0];
        for (int i = 0; i < nl; i++) {
            const conv_layer *cl = &m->conv[i];
            const int64_t cout = c->conv_dim[i];
            int64_t tout = 0;
            TRY_GOTO(lavr_op_conv1d(cur, cin, len, &cl->w, c->conv_bias ? &cl->b : NULL, c->conv_stride[i], 0, 0, 1,
                                    conv_out, &tout), st, done);
            if (tout != hi[i + 1] - lo[i + 1]) {
                st = LAVR_FAIL(LAVR_E_INTERNAL, "wav2vec2 conv layer %d gave %lld frames, expected %lld", i,
                               (long long)tout, (long long)(hi[i + 1] - lo[i + 1]));
                goto done;
            }
            /* LayerNorm over channels at each time step: work on [time, channels] rows. */
            transpose(conv_out, cout, tout, rows);
            TRY_GOTO(lavr_op_layernorm(rows, tout, cout, &cl->ln_w, &cl->ln_b, CONV_LN_EPS, rows), st, done);
            lavr_op_gelu_erf(rows, tout * cout, rows);
            if (i + 1 < nl) {
                transpose(rows, tout, cout, conv_out);
                cur = conv_out;
                float *swap = conv_out;
                conv_out = rows;
                rows = swap;
            }
            cin = cout;
            len = tout;
        }
        /* rows = [b - a, conv_dim[last]] */
        TRY_GOTO(lavr_op_layernorm(rows, b - a, cin, &m->proj_ln_w, &m->proj_ln_b, (float)c->eps, rows), st, done);
        TRY_GOTO(lavr_op_linear(rows, b - a, cin, &m->proj_w, &m->proj_b, f->q), st, done);
        TRY_GOTO(lavr_scratch_write(f->h[0], a, b - a, f->q), st, done);
    }
    st = LAVR_OK;
done:
    lavr_arena_free(work, bufs[0]);
    lavr_arena_free(work, bufs[1]);
    lavr_arena_free(work, samples);
    return st;
}

/* h[1] = h[0] + gelu(conv1d(h[0], groups, pad K/2)[:T]), in tiles of output frames read with their
 * +-K/2 halo; the extra output of an even kernel (Wav2Vec2SamePadLayer drops it) is never computed.
 * Each tile is hidden state 0. */
static lavr_status positional_conv(forward *f, lavr_arena *work) {
    const lavr_w2v *m = f->m;
    const int64_t c = m->cfg.hidden, k = m->cfg.pos_conv_kernel, pad = k / 2, T = f->T;
    float *window = NULL, *out = NULL;
    lavr_status st;
    TRY_GOTO(scratch(work, c * (ROW_TILE + k), "wav2vec2 positional conv window", &window), st, done);
    TRY_GOTO(scratch(work, c * ROW_TILE, "wav2vec2 positional conv tile", &out), st, done);
    for (int64_t a = 0; a < T; a += ROW_TILE) {
        const int64_t b = a + ROW_TILE < T ? a + ROW_TILE : T;
        const int64_t want_lo = a - pad, want_hi = b - pad + k - 1; /* inputs feeding outputs [a, b) */
        const int64_t lo = want_lo > 0 ? want_lo : 0, hi = want_hi < T ? want_hi : T;
        TRY_GOTO(lavr_scratch_read(f->h[0], lo, hi - lo, f->rows), st, done);
        transpose(f->rows, hi - lo, c, window);
        int64_t tout = 0;
        TRY_GOTO(lavr_op_conv1d(window, c, hi - lo, &m->pos_w, &m->pos_b, 1, lo - want_lo, want_hi - hi,
                                m->cfg.pos_conv_groups, out, &tout), st, done);
        if (tout != b - a) {
            st = LAVR_FAIL(LAVR_E_INTERNAL, "wav2vec2 positional conv gave %lld frames, expected %lld",
                           (long long)tout, (long long)(b - a));
            goto done;
        }
        lavr_op_gelu_erf(out, c * tout, out);
        transpose(out, c, tout, f->q);
        float *h = f->rows + (a - lo) * c;
        add_rows(h, f->q, tout * c);
        TRY_GOTO(lavr_scratch_write(f->h[1], a, tout, h), st, done);
        TRY_GOTO(f->fn(f->user, 0, a, tout, T, c, h), st, done);
    }
    st = LAVR_OK;
done:
    lavr_arena_free(work, window);
    lavr_arena_free(work, out);
    return st;
}

/* Hands rows [a, a + r) of a layer's output on as hidden state `index`: the last state is the
 * encoder's final LayerNorm of it unless the model records raw layer outputs. */
static lavr_status deliver(forward *f, int64_t index, int64_t a, int64_t r, float *rows) {
    const lavr_w2v *m = f->m;
    if (index < m->cfg.num_layers || m->last_state == LAVR_W2V_LAST_RAW) return f->fn(f->user, index, a, r, f->T, f->hid, rows);
    TRY(lavr_op_layernorm(rows, r, f->hid, &m->final_ln_w, &m->final_ln_b, (float)m->cfg.eps, f->ln));
    return f->fn(f->user, index, a, r, f->T, f->hid, f->ln);
}

/* One pre-LN layer from h[in] to h[1 - in]: h += MHA(LN(h)); h += FFN(final_LN(h)). K and V of every
 * frame first (from the layer's input), then blocks of QUERY_ROWS queries each read every key chunk
 * once, folding it into their attention state (global attention; the same bits as one call over all
 * keys since chunks are whole key tiles); then each row tile finishes its own rows. */
static lavr_status run_layer(forward *f, int64_t l, int in) {
    const lavr_w2v *m = f->m;
    const encoder_layer *ly = &m->layers[l];
    const lavr_w2v_config *c = &m->cfg;
    const int64_t T = f->T, hid = f->hid, heads = c->num_heads, dh = hid / heads, ffn = c->intermediate;
    const float eps = (float)c->eps;
    const int last = l + 1 == c->num_layers;
    for (int64_t a = 0; a < T; a += ROW_TILE) {
        const int64_t r = a + ROW_TILE < T ? ROW_TILE : T - a;
        TRY(lavr_scratch_read(f->h[in], a, r, f->rows));
        TRY(lavr_op_layernorm(f->rows, r, hid, &ly->ln_w, &ly->ln_b, eps, f->ln));
        TRY(lavr_op_linear(f->ln, r, hid, &ly->k_w, &ly->k_b, f->q));
        TRY(lavr_scratch_write(f->keys, a, r, f->q));
        TRY(lavr_op_linear(f->ln, r, hid, &ly->v_w, &ly->v_b, f->q));
        TRY(lavr_scratch_write(f->values, a, r, f->q));
    }
    const float scale = (float)(1.0 / sqrt((double)dh));
    float *keys = f->kv, *values = f->kv + KEY_CHUNK * hid;
    for (int64_t qa = 0; qa < T; qa += QUERY_ROWS) {
        const int64_t qn = qa + QUERY_ROWS < T ? QUERY_ROWS : T - qa;
        TRY(lavr_scratch_read(f->h[in], qa, qn, f->hblock));
        for (int64_t a = 0; a < qn; a += ROW_TILE) {
            const int64_t r = a + ROW_TILE < qn ? ROW_TILE : qn - a;
            TRY(lavr_op_layernorm(f->hblock + a * hid, r, hid, &ly->ln_w, &ly->ln_b, eps, f->ln));
            TRY(lavr_op_linear(f->ln, r, hid, &ly->q_w, &ly->q_b, f->qblock + a * hid));
        }
        lavr_attention_state_reset(f->state, qn);
        for (int64_t k0 = 0; k0 < T; k0 += KEY_CHUNK) {
            const int64_t kn = k0 + KEY_CHUNK < T ? KEY_CHUNK : T - k0;
            TRY(lavr_scratch_read(f->keys, k0, kn, keys));
            TRY(lavr_scratch_read(f->values, k0, kn, values));
            const lavr_kv_segment kv = {.dtype = LAVR_F32, .k = keys, .v = values, .len = kn, .row_stride = hid};
            TRY(lavr_op_attention_fold(f->qblock, hid, &kv, 1, scale, f->state));
        }
        lavr_op_attention_finish(f->state, f->qblock); /* the queries are spent: the output takes their place */
        for (int64_t a = 0; a < qn; a += ROW_TILE) {
            const int64_t r = a + ROW_TILE < qn ? ROW_TILE : qn - a;
            float *rows = f->hblock + a * hid;
            TRY(lavr_op_linear(f->qblock + a * hid, r, hid, &ly->o_w, &ly->o_b, f->q));
            add_rows(rows, f->q, r * hid);
            TRY(lavr_op_layernorm(rows, r, hid, &ly->ffn_ln_w, &ly->ffn_ln_b, eps, f->ln));
            TRY(lavr_op_linear(f->ln, r, hid, &ly->fc1_w, &ly->fc1_b, f->ffn));
            lavr_op_gelu_erf(f->ffn, r * ffn, f->ffn);
            TRY(lavr_op_linear(f->ffn, r, ffn, &ly->fc2_w, &ly->fc2_b, f->q));
            add_rows(rows, f->q, r * hid);
            TRY(deliver(f, l + 1, qa + a, r, rows));
        }
        if (!last) TRY(lavr_scratch_write(f->h[1 - in], qa, qn, f->hblock));
    }
    return LAVR_OK;
}

lavr_status lavr_w2v_forward_stream(lavr_w2v *m, int64_t n_samples, lavr_w2v_input_fn input, void *input_user,
                                    lavr_arena *work, const char *scratch_dir, lavr_w2v_rows_fn fn, void *user) {
    CHECK_ARG(m && input && work && fn, "lavr_w2v_forward_stream: model, input, work arena and callback are required");
    const lavr_w2v_config *c = &m->cfg;
    const int64_t T = lavr_w2v_num_frames(c, n_samples);
    CHECK_ARG(T > 0, "audio of %lld samples is shorter than wav2vec2's receptive field", (long long)n_samples);
    const int64_t hid = c->hidden;
    forward f = {.m = m, .T = T, .hid = hid, .fn = fn, .user = user};
    lavr_status st;
    TRY_GOTO(lavr_scratch_create(scratch_dir, "wav2vec2 hidden states", T, hid, &f.h[0]), st, done);
    TRY_GOTO(lavr_scratch_create(scratch_dir, "wav2vec2 hidden states", T, hid, &f.h[1]), st, done);
    TRY_GOTO(lavr_scratch_create(scratch_dir, "wav2vec2 keys", T, hid, &f.keys), st, done);
    TRY_GOTO(lavr_scratch_create(scratch_dir, "wav2vec2 values", T, hid, &f.values), st, done);
    TRY_GOTO(scratch(work, (ROW_TILE + c->pos_conv_kernel) * hid, "wav2vec2 row window", &f.rows), st, done);
    TRY_GOTO(scratch(work, ROW_TILE * hid, "wav2vec2 layer tile", &f.ln), st, done);
    TRY_GOTO(scratch(work, ROW_TILE * hid, "wav2vec2 layer tile", &f.q), st, done);
    TRY_GOTO(scratch(work, ROW_TILE * c->intermediate, "wav2vec2 ffn tile", &f.ffn), st, done);
    TRY_GOTO(scratch(work, QUERY_ROWS * hid, "wav2vec2 query block", &f.qblock), st, done);
    TRY_GOTO(scratch(work, QUERY_ROWS * hid, "wav2vec2 hidden block", &f.hblock), st, done);
    TRY_GOTO(scratch(work, 2 * KEY_CHUNK * hid, "wav2vec2 key/value chunk", &f.kv), st, done);
    TRY_GOTO(lavr_attention_state_create(QUERY_ROWS, c->num_heads, hid / c->num_heads, &f.state), st, done);

    TRY_GOTO(feature_extract(&f, input, input_user, work), st, done);
    TRY_GOTO(positional_conv(&f, work), st, done);
    for (int64_t l = 0; l < c->num_layers; l++) TRY_GOTO(run_layer(&f, l, (int)((l + 1) % 2)), st, done);
    st = LAVR_OK;
done:
    for (int i = 0; i < 2; i++) lavr_scratch_destroy(f.h[i]);
    lavr_scratch_destroy(f.keys);
    lavr_scratch_destroy(f.values);
    float *tiles[] = {f.rows, f.ln, f.q, f.ffn, f.qblock, f.hblock, f.kv};
    for (size_t i = 0; i < sizeof tiles / sizeof tiles[0]; i++) lavr_arena_free(work, tiles[i]);
    lavr_attention_state_destroy(f.state);
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
