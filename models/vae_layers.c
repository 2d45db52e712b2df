/* The VAE's layer lists (built from lavr_vae_config with the official module names of
 * model-spec §5.2) and the chunk runner: causal convs with history slots, RMS norms, residual blocks,
 * mid attention and the 2-D/3-D resamplers with their first-chunk rules (§5.1, §5.3, §5.4), on the
 * video ops of an execution context. */
#include "models/vae_layers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/video_ops.h"
#include "models/init_weights.h"

/* ---- loading ---------------------------------------------------------------------------------- */

static lavr_status read_tensor(const vae_source *src, const char *name, const char *suffix, int ndim,
                               const int64_t *shape, lavr_arena *arena, lavr_tensor *out) {
    char path[256];
    if (!src->generated) {
        snprintf(path, sizeof path, "%s%s%s", src->prefix, name, suffix);
        return lavr_h5_read_expect(src->f, path, ndim, shape, arena, out);
    }
    lavr_tensor_spec spec = {.ndim = ndim, .dtype = LAVR_F32};
    snprintf(spec.name, sizeof spec.name, "%s%s", name, suffix);
    for (int d = 0; d < ndim; d++) spec.shape[d] = shape[d];
    TRY(lavr_tensor_alloc(arena, LAVR_F32, ndim, shape, spec.name, out));
    lavr_status st = lavr_init_tensor_rows(&spec, "vae", src->seed, 0, shape[0], out->data);
    if (st) lavr_tensor_free(out);
    return st;
}

lavr_status vae_conv_load(const vae_source *src, const char *name, int ndim, const int64_t *shape, lavr_ctx *ctx,
                          vae_conv *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->cache_slot = -1;
    lavr_arena *host = lavr_ctx_host_arena(ctx);
    lavr_tensor weight, bias;
    TRY(read_tensor(src, name, ".weight", ndim, shape, host, &weight));
    lavr_status st = read_tensor(src, name, ".bias", 1, shape, host, &bias);
    if (st) {
        lavr_tensor_free(&weight);
        return st;
    }
    st = lavr_ctx_conv_weights(ctx, &weight, &bias, &out->w);
    lavr_tensor_free(&weight); /* no-ops once the context took them */
    lavr_tensor_free(&bias);
    return st ? lavr_error_wrap(st, "VAE %s", name) : LAVR_OK;
}

void vae_conv_free(vae_conv *cv, lavr_ctx *ctx) { lavr_ctx_conv_weights_free(ctx, &cv->w); }

/* RMS gains are stored [C,1,1,1] (5-D use) or [C,1,1] (attention); kept as fp32 [C] on the context. */
static lavr_status load_gamma(const vae_source *src, const char *name, int64_t c, int ndim, lavr_ctx *ctx,
                              lavr_tensor *out) {
    int64_t shape[4] = {c, 1, 1, 1};
    lavr_tensor t;
    TRY(read_tensor(src, name, "", ndim, shape, lavr_ctx_host_arena(ctx), &t));
    float *g = malloc((size_t)c * sizeof *g);
    lavr_status st = g ? LAVR_OK : LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for %s", name);
    for (int64_t i = 0; g && i < c; i++) g[i] = (float)lavr_tensor_get_flat(&t, i);
    if (!st) st = lavr_ctx_upload_vector(ctx, g, c, name, out);
    free(g);
    lavr_tensor_free(&t);
    return st;
}

typedef struct {
    const vae_source *src;
    lavr_ctx *ctx;
    vae_net *net;
    int cap_layers, cap_slots;
    int64_t scale_num, scale_den; /* spatial size of the current stage relative to the net input */
} builder;

static lavr_status new_layer(builder *b, vae_kind kind, int64_t cin, int64_t cout, vae_layer **out) {
    if (b->net->nlayers == b->cap_layers) {
        int cap = b->cap_layers ? 2 * b->cap_layers : 32;
        vae_layer *grown = realloc(b->net->layers, (size_t)cap * sizeof *grown);
        if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for VAE layers");
        b->net->layers = grown;
        b->cap_layers = cap;
    }
    vae_layer *l = &b->net->layers[b->net->nlayers++];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->cin = cin;
    l->cout = cout;
    l->conv_a.cache_slot = l->conv_b.cache_slot = l->shortcut.cache_slot = -1;
    *out = l;
    return LAVR_OK;
}

/* Gives a conv a causal history of `frames` input frames at the current spatial scale. */
static lavr_status add_slot(builder *b, vae_conv *cv, int64_t frames) {
    if (b->net->nslots == b->cap_slots) {
        int cap = b->cap_slots ? 2 * b->cap_slots : 64;
        vae_slot *grown = realloc(b->net->slots, (size_t)cap * sizeof *grown);
        if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for VAE cache slots");
        b->net->slots = grown;
        b->cap_slots = cap;
    }
    vae_slot *s = &b->net->slots[b->net->nslots];
    snprintf(s->name, sizeof s->name, "%s", cv->name);
    s->channels = cv->w.cin;
    s->frames = frames;
    s->scale_num = b->scale_num;
    s->scale_den = b->scale_den;
    cv->cache_slot = b->net->nslots++;
    return LAVR_OK;
}

static lavr_status load_causal3(builder *b, const char *name, int64_t cout, int64_t cin, vae_conv *cv) {
    int64_t shape[5] = {cout, cin, 3, 3, 3};
    TRY(vae_conv_load(b->src, name, 5, shape, b->ctx, cv));
    return add_slot(b, cv, 2);
}

static lavr_status build_conv_in(builder *b, const char *name, int64_t cin, int64_t cout) {
    vae_layer *l;
    TRY(new_layer(b, VAE_CONV_IN, cin, cout, &l));
    return load_causal3(b, name, cout, cin, &l->conv_a);
}

static lavr_status build_res(builder *b, const char *module, int64_t cin, int64_t cout) {
    vae_layer *l;
    char name[112];
    TRY(new_layer(b, VAE_RES, cin, cout, &l));
    snprintf(name, sizeof name, "%s.residual.0.gamma", module);
    TRY(load_gamma(b->src, name, cin, 4, b->ctx, &l->gamma_a));
    snprintf(name, sizeof name, "%s.residual.2", module);
    TRY(load_causal3(b, name, cout, cin, &l->conv_a));
    snprintf(name, sizeof name, "%s.residual.3.gamma", module);
    TRY(load_gamma(b->src, name, cout, 4, b->ctx, &l->gamma_b));
    snprintf(name, sizeof name, "%s.residual.6", module);
    TRY(load_causal3(b, name, cout, cout, &l->conv_b));
    if (cin != cout) {
        int64_t shape[5] = {cout, cin, 1, 1, 1};
        snprintf(name, sizeof name, "%s.shortcut", module);
        TRY(vae_conv_load(b->src, name, 5, shape, b->ctx, &l->shortcut));
        l->has_shortcut = 1;
    }
    return LAVR_OK;
}

static lavr_status build_attn(builder *b, const char *module, int64_t c) {
    vae_layer *l;
    char name[112];
    TRY(new_layer(b, VAE_ATTN, c, c, &l));
    snprintf(name, sizeof name, "%s.norm.gamma", module);
    TRY(load_gamma(b->src, name, c, 3, b->ctx, &l->gamma_a));
    int64_t qkv[4] = {3 * c, c, 1, 1}, proj[4] = {c, c, 1, 1};
    snprintf(name, sizeof name, "%s.to_qkv", module);
    TRY(vae_conv_load(b->src, name, 4, qkv, b->ctx, &l->conv_a));
    snprintf(name, sizeof name, "%s.proj", module);
    return vae_conv_load(b->src, name, 4, proj, b->ctx, &l->conv_b);
}

static lavr_status build_down(builder *b, const char *module, int64_t c, int temporal) {
    vae_layer *l;
    char name[112];
    TRY(new_layer(b, temporal ? VAE_DOWN3D : VAE_DOWN2D, c, c, &l));
    int64_t shape[4] = {c, c, 3, 3};
    snprintf(name, sizeof name, "%s.resample.1", module);
    TRY(vae_conv_load(b->src, name, 4, shape, b->ctx, &l->conv_a));
    b->scale_den *= 2;
    if (temporal) {
        /* The stride-2 time conv sees [last frame of the previous chunk ‖ chunk] after Down2d. */
        int64_t tshape[5] = {c, c, 3, 1, 1};
        snprintf(name, sizeof name, "%s.time_conv", module);
        TRY(vae_conv_load(b->src, name, 5, tshape, b->ctx, &l->conv_b));
        TRY(add_slot(b, &l->conv_b, 1));
    }
    return LAVR_OK;
}

static lavr_status build_up(builder *b, const char *module, int64_t c, int temporal) {
    vae_layer *l;
    char name[112];
    TRY(new_layer(b, temporal ? VAE_UP3D : VAE_UP2D, c, c / 2, &l));
    if (temporal) {
        int64_t tshape[5] = {2 * c, c, 3, 1, 1};
        snprintf(name, sizeof name, "%s.time_conv", module);
        TRY(vae_conv_load(b->src, name, 5, tshape, b->ctx, &l->conv_b));
        TRY(add_slot(b, &l->conv_b, 2));
    }
    int64_t shape[4] = {c / 2, c, 3, 3};
    snprintf(name, sizeof name, "%s.resample.1", module);
    TRY(vae_conv_load(b->src, name, 4, shape, b->ctx, &l->conv_a));
    b->scale_num *= 2;
    return LAVR_OK;
}

static lavr_status build_middle_head(builder *b, const char *part, int64_t c, int64_t cout) {
    char module[64];
    snprintf(module, sizeof module, "%s.middle.0", part);
    TRY(build_res(b, module, c, c));
    snprintf(module, sizeof module, "%s.middle.1", part);
    TRY(build_attn(b, module, c));
    snprintf(module, sizeof module, "%s.middle.2", part);
    TRY(build_res(b, module, c, c));
    vae_layer *l;
    TRY(new_layer(b, VAE_HEAD, c, cout, &l));
    snprintf(module, sizeof module, "%s.head.0.gamma", part);
    TRY(load_gamma(b->src, module, c, 4, b->ctx, &l->gamma_a));
    snprintf(module, sizeof module, "%s.head.2", part);
    return load_causal3(b, module, cout, c, &l->conv_a);
}

static lavr_status check_config(const lavr_vae_config *cfg) {
    CHECK_ARG(cfg->dim > 0 && cfg->z_dim > 0 && cfg->num_res_blocks > 0,
              "VAE config needs dim, z_dim and num_res_blocks > 0 (got %lld, %lld, %lld)", (long long)cfg->dim,
              (long long)cfg->z_dim, (long long)cfg->num_res_blocks);
    for (int i = 0; i < 4; i++)
        CHECK_ARG(cfg->dim_mult[i] > 0 && (cfg->dim * cfg->dim_mult[i]) % 2 == 0,
                  "VAE config dim_mult[%d] = %lld must be positive with an even width", i,
                  (long long)cfg->dim_mult[i]);
    return LAVR_OK;
}

static lavr_status build_encoder(builder *b, const lavr_vae_config *cfg) {
    /* Encoder3d: widths dim·[1, m0, m1, m2, m3]; num_res_blocks per level, a resampler after each
     * level but the last (3-D where temperal_downsample says so). */
    int64_t dims[5] = {cfg->dim, cfg->dim * cfg->dim_mult[0], cfg->dim * cfg->dim_mult[1],
                       cfg->dim * cfg->dim_mult[2], cfg->dim * cfg->dim_mult[3]};
    char module[64];
    int idx = 0;
    TRY(build_conv_in(b, "encoder.conv1", 3, dims[0]));
    for (int i = 0; i < 4; i++) {
        int64_t in = dims[i], out = dims[i + 1];
        for (int64_t r = 0; r < cfg->num_res_blocks; r++) {
            snprintf(module, sizeof module, "encoder.downsamples.%d", idx++);
            TRY(build_res(b, module, in, out));
            in = out;
        }
        if (i != 3) {
            snprintf(module, sizeof module, "encoder.downsamples.%d", idx++);
            TRY(build_down(b, module, out, cfg->temporal_downsample[i]));
        }
    }
    b->net->in_channels = 3;
    b->net->out_channels = 2 * cfg->z_dim;
    return build_middle_head(b, "encoder", dims[4], 2 * cfg->z_dim);
}

static lavr_status build_decoder(builder *b, const lavr_vae_config *cfg) {
    /* Decoder3d: widths dim·[m3, m3, m2, m1, m0]; num_res_blocks+1 per level; every level after
     * the first starts at half width (the upsampler halves channels); temporal upsampling is
     * temperal_downsample reversed. */
    int64_t dims[5] = {cfg->dim * cfg->dim_mult[3], cfg->dim * cfg->dim_mult[3], cfg->dim * cfg->dim_mult[2],
                       cfg->dim * cfg->dim_mult[1], cfg->dim * cfg->dim_mult[0]};
    char module[64];
    int idx = 0;
    TRY(build_conv_in(b, "decoder.conv1", cfg->z_dim, dims[0]));
    char part[] = "decoder";
    snprintf(module, sizeof module, "%s.middle.0", part);
    TRY(build_res(b, module, dims[0], dims[0]));
    snprintf(module, sizeof module, "%s.middle.1", part);
    TRY(build_attn(b, module, dims[0]));
    snprintf(module, sizeof module, "%s.middle.2", part);
    TRY(build_res(b, module, dims[0], dims[0]));
    int64_t out = dims[0];
    for (int i = 0; i < 4; i++) {
        int64_t in = i == 0 ? dims[0] : dims[i] / 2;
        out = dims[i + 1];
        for (int64_t r = 0; r < cfg->num_res_blocks + 1; r++) {
            snprintf(module, sizeof module, "decoder.upsamples.%d", idx++);
            TRY(build_res(b, module, in, out));
            in = out;
        }
        if (i != 3) {
            snprintf(module, sizeof module, "decoder.upsamples.%d", idx++);
            TRY(build_up(b, module, out, cfg->temporal_downsample[2 - i]));
        }
    }
    vae_layer *l;
    TRY(new_layer(b, VAE_HEAD, out, 3, &l));
    TRY(load_gamma(b->src, "decoder.head.0.gamma", out, 4, b->ctx, &l->gamma_a));
    TRY(load_causal3(b, "decoder.head.2", 3, out, &l->conv_a));
    b->net->in_channels = cfg->z_dim;
    b->net->out_channels = 3;
    return LAVR_OK;
}

static lavr_status build(const vae_source *src, const lavr_vae_config *cfg, lavr_ctx *ctx, vae_net *net,
                         int decoder) {
    memset(net, 0, sizeof *net);
    TRY(check_config(cfg));
    builder b = {.src = src, .ctx = ctx, .net = net, .scale_num = 1, .scale_den = 1};
    lavr_status st = decoder ? build_decoder(&b, cfg) : build_encoder(&b, cfg);
    if (st) vae_net_free(net, ctx);
    return st;
}

lavr_status vae_net_build_encoder(const vae_source *src, const lavr_vae_config *cfg, lavr_ctx *ctx, vae_net *net) {
    return build(src, cfg, ctx, net, 0);
}

lavr_status vae_net_build_decoder(const vae_source *src, const lavr_vae_config *cfg, lavr_ctx *ctx, vae_net *net) {
    return build(src, cfg, ctx, net, 1);
}

void vae_net_free(vae_net *net, lavr_ctx *ctx) {
    for (int i = 0; i < net->nlayers; i++) {
        vae_layer *l = &net->layers[i];
        vae_conv_free(&l->conv_a, ctx);
        vae_conv_free(&l->conv_b, ctx);
        vae_conv_free(&l->shortcut, ctx);
        lavr_ctx_free(ctx, &l->gamma_a);
        lavr_ctx_free(ctx, &l->gamma_b);
    }
    free(net->layers);
    free(net->slots);
    memset(net, 0, sizeof *net);
}

/* ---- compute ---------------------------------------------------------------------------------- */

static const int64_t unit_stride[3] = {1, 1, 1}, no_pad[6] = {0, 0, 0, 0, 0, 0};

enum { UP2D_FRAMES = 4 }; /* Up2d upsamples and convolves this many frames at a time (bounds the x4 buffer) */

static lavr_status act_alloc(vae_run *run, int64_t c, int64_t t, int64_t h, int64_t w, const char *what,
                             lavr_tensor *out) {
    return lavr_ctx_alloc_video(run->ctx, c, t, h, w, what, out);
}

static void act_free(vae_run *run, lavr_tensor *t) { lavr_ctx_free(run->ctx, t); }

/* *x takes y's data (x's own is freed); y is left empty. */
static void replace(vae_run *run, lavr_tensor *x, lavr_tensor *y) {
    act_free(run, x);
    *x = *y;
    memset(y, 0, sizeof *y);
}

static lavr_tensor frames(const lavr_tensor *x, int64_t start, int64_t n) {
    lavr_tensor v;
    lavr_status st = lavr_tensor_narrow(x, 1, start, n, &v);
    (void)st; /* callers pass ranges inside x */
    return v;
}

static void conv_out_dims(const vae_conv *cv, const lavr_tensor *x, const int64_t stride[3], const int64_t pad[6],
                          int64_t d[3]) {
    const int64_t k[3] = {cv->w.kt, cv->w.kh, cv->w.kw};
    for (int i = 0; i < 3; i++) d[i] = (x->shape[1 + i] + pad[2 * i] + pad[2 * i + 1] - k[i]) / stride[i] + 1;
}

/* y = conv(x) into a tensor the caller made (or a frame range of one). In bf16 mode the bias is deferred:
 * *bias is what the consumer adds as PyTorch's second bf16 op; in fp32 mode the convolution adds it and
 * *bias is NULL. */
static lavr_status conv_into(vae_run *run, const vae_conv *cv, const lavr_tensor *x, const int64_t stride[3],
                             const int64_t pad[6], lavr_tensor *y, const lavr_tensor **bias) {
    const int defer = run->bf16;
    lavr_status st = lavr_vop_conv(run->ctx, x, &cv->w, !defer, stride, pad, run->bf16, y);
    if (st) return lavr_error_wrap(st, "VAE %s", cv->name);
    *bias = defer ? &cv->w.bias : NULL;
    return LAVR_OK;
}

static lavr_status conv_new(vae_run *run, const vae_conv *cv, const lavr_tensor *x, const int64_t stride[3],
                            const int64_t pad[6], lavr_tensor *y, const lavr_tensor **bias) {
    int64_t d[3];
    conv_out_dims(cv, x, stride, pad, d);
    TRY(act_alloc(run, cv->w.cout, d[0], d[1], d[2], cv->name, y));
    lavr_status st = conv_into(run, cv, x, stride, pad, y, bias);
    if (st) act_free(run, y);
    return st;
}

/* Adds a deferred bias in place (nothing to do when it is NULL). */
static lavr_status settle(vae_run *run, lavr_tensor *y, const lavr_tensor *bias) {
    return bias ? lavr_vop_add(run->ctx, y, bias, NULL, NULL, run->bf16, y) : LAVR_OK;
}

lavr_status vae_conv_apply(vae_run *run, const vae_conv *cv, const lavr_tensor *x, lavr_tensor *y) {
    const lavr_tensor *bias = NULL;
    TRY(conv_new(run, cv, x, unit_stride, no_pad, y, &bias));
    lavr_status st = settle(run, y, bias);
    if (st) act_free(run, y);
    return st;
}

/* Causal conv over [history ‖ chunk]: the history slot holds the last kt-1 input frames (zeros at the stream
 * start, which is exactly the reference's causal zero padding), so any chunking of the stream gives the same
 * output. The chunk's producer writes straight into the concatenation (no copy of the chunk). */
typedef struct {
    lavr_tensor cat, chunk;
    int64_t hist;
} causal_input;

static lavr_status causal_begin(vae_run *run, const vae_conv *cv, const lavr_tensor *shape_of, causal_input *in) {
    const int64_t c = shape_of->shape[0], t = shape_of->shape[1];
    in->hist = cv->w.kt - 1;
    TRY(act_alloc(run, c, in->hist + t, shape_of->shape[2], shape_of->shape[3], "VAE causal conv input", &in->cat));
    in->chunk = frames(&in->cat, in->hist, t);
    lavr_tensor head = frames(&in->cat, 0, in->hist);
    lavr_status st = lavr_vop_copy(run->ctx, &run->caches[cv->cache_slot], &head);
    if (st) act_free(run, &in->cat);
    return st;
}

/* After the producer: the slot keeps the last kt-1 frames of the concatenation (older history too when the chunk
 * is shorter), then the conv runs with symmetric spatial padding. Frees the concatenation. */
static lavr_status causal_finish(vae_run *run, const vae_conv *cv, causal_input *in, lavr_tensor *y,
                                 const lavr_tensor **bias) {
    lavr_tensor tail = frames(&in->cat, in->cat.shape[1] - in->hist, in->hist);
    lavr_status st = lavr_vop_copy(run->ctx, &tail, &run->caches[cv->cache_slot]);
    const int64_t pad[6] = {0, 0, cv->w.kh / 2, cv->w.kh / 2, cv->w.kw / 2, cv->w.kw / 2};
    if (!st) st = conv_new(run, cv, &in->cat, unit_stride, pad, y, bias);
    act_free(run, &in->cat);
    return st;
}

/* A causal conv of an existing tensor (the nets' first conv, the Up3d time conv). */
static lavr_status causal_conv(vae_run *run, const vae_conv *cv, const lavr_tensor *x, lavr_tensor *y,
                               const lavr_tensor **bias) {
    causal_input in;
    TRY(causal_begin(run, cv, x, &in));
    lavr_status st = lavr_vop_copy(run->ctx, x, &in.chunk);
    if (st) {
        act_free(run, &in.cat);
        return st;
    }
    return causal_finish(run, cv, &in, y, bias);
}

/* CC3(silu(RMSn(x'; γ))): the norm writes the conv's input in place. consume frees x once it has been read.
 * RMSn keeps fp32 under the reference's bf16 autocast; its one rounding is the cast at the conv's input. */
static lavr_status norm_silu_conv(vae_run *run, const lavr_tensor *gamma, lavr_tensor *x, const lavr_tensor *x_bias,
                                  int consume, const vae_conv *cv, lavr_tensor *y, const lavr_tensor **y_bias) {
    causal_input in;
    lavr_status st = causal_begin(run, cv, x, &in);
    if (!st) st = lavr_vop_rms_norm(run->ctx, x, x_bias, gamma, 1, run->bf16, &in.chunk);
    if (consume) act_free(run, x);
    if (st) {
        act_free(run, &in.cat);
        return st;
    }
    return causal_finish(run, cv, &in, y, y_bias);
}

/* A layer whose output goes straight into a res block without a shortcut conv (fold) leaves its deferred bias in
 * *x_bias for that block's norm and residual add, which add it with the same bf16 rounding (one pass less). */
static lavr_status run_conv_in(vae_run *run, const vae_layer *l, lavr_tensor *x, int fold, const lavr_tensor **x_bias) {
    lavr_tensor y = {0};
    const lavr_tensor *bias = NULL;
    TRY(causal_conv(run, &l->conv_a, x, &y, &bias));
    lavr_status st = fold ? LAVR_OK : settle(run, &y, bias);
    *x_bias = fold ? bias : NULL;
    if (st) {
        act_free(run, &y);
        return st;
    }
    replace(run, x, &y);
    return LAVR_OK;
}

/* x_bias: the bias the layer before left for x (see run_conv_in), NULL when x is settled. */
static lavr_status run_res(vae_run *run, const vae_layer *l, lavr_tensor *x, const lavr_tensor *x_bias) {
    lavr_tensor sc = *x, a = {0}, y = {0}; /* sc: x itself unless there is a shortcut conv */
    const lavr_tensor *sc_bias = x_bias, *a_bias = NULL, *y_bias = NULL;
    lavr_status st = LAVR_OK;
    if (l->has_shortcut && x_bias) return LAVR_FAIL(LAVR_E_INTERNAL, "VAE: a deferred bias before a shortcut conv");
    if (l->has_shortcut) TRY(conv_new(run, &l->shortcut, x, unit_stride, no_pad, &sc, &sc_bias));
    TRY_GOTO(norm_silu_conv(run, &l->gamma_a, x, x_bias, 0, &l->conv_a, &a, &a_bias), st, done);
    TRY_GOTO(norm_silu_conv(run, &l->gamma_b, &a, a_bias, 1, &l->conv_b, &y, &y_bias), st, done);
    TRY_GOTO(lavr_vop_add(run->ctx, &y, y_bias, &sc, sc_bias, run->bf16, &y), st, done);
    replace(run, x, &y);
done:
    act_free(run, &a);
    act_free(run, &y);
    if (l->has_shortcut) act_free(run, &sc);
    return st;
}

/* Per-frame single-head attention over the h·w tokens (to_qkv channels [q | k | v], scale 1/√C). */
static lavr_status run_attn(vae_run *run, const vae_layer *l, lavr_tensor *x) {
    const int64_t c = x->shape[0], t = x->shape[1], h = x->shape[2], w = x->shape[3];
    lavr_tensor xn = {0}, qkv = {0}, att = {0}, y = {0};
    const lavr_tensor *qkv_bias = NULL, *y_bias = NULL;
    lavr_status st;
    TRY(act_alloc(run, c, t, h, w, "VAE attention norm", &xn));
    TRY_GOTO(lavr_vop_rms_norm(run->ctx, x, NULL, &l->gamma_a, 0, run->bf16, &xn), st, done);
    TRY_GOTO(conv_new(run, &l->conv_a, &xn, unit_stride, no_pad, &qkv, &qkv_bias), st, done);
    act_free(run, &xn);
    TRY_GOTO(act_alloc(run, c, t, h, w, "VAE attention output", &att), st, done);
    TRY_GOTO(lavr_vop_frame_attention(run->ctx, &qkv, qkv_bias, run->bf16, &att), st, done);
    act_free(run, &qkv);
    TRY_GOTO(conv_new(run, &l->conv_b, &att, unit_stride, no_pad, &y, &y_bias), st, done);
    TRY_GOTO(lavr_vop_add(run->ctx, &y, y_bias, x, NULL, run->bf16, &y), st, done);
    replace(run, x, &y);
done:
    act_free(run, &xn);
    act_free(run, &qkv);
    act_free(run, &att);
    act_free(run, &y);
    return st;
}

/* Up2d: nearest ×2 per frame (exact), then the 3×3 conv C → C/2 with padding 1; UP2D_FRAMES frames at a time. */
static lavr_status run_up2d(vae_run *run, const vae_layer *l, lavr_tensor *x, int fold, const lavr_tensor **x_bias) {
    const int64_t c = x->shape[0], t = x->shape[1], h = x->shape[2], w = x->shape[3];
    const int64_t pad[6] = {0, 0, 1, 1, 1, 1};
    lavr_tensor y = {0}, u = {0};
    *x_bias = NULL;
    TRY(act_alloc(run, l->conv_a.w.cout, t, 2 * h, 2 * w, l->conv_a.name, &y));
    lavr_status st = LAVR_OK;
    for (int64_t f0 = 0; f0 < t && !st; f0 += UP2D_FRAMES) {
        const int64_t n = t - f0 < UP2D_FRAMES ? t - f0 : UP2D_FRAMES;
        lavr_tensor xs = frames(x, f0, n), ys = frames(&y, f0, n);
        const lavr_tensor *bias = NULL;
        st = act_alloc(run, c, n, 2 * h, 2 * w, "VAE upsample", &u);
        if (!st) st = lavr_vop_upsample2x(run->ctx, &xs, &u);
        if (!st) st = conv_into(run, &l->conv_a, &u, unit_stride, pad, &ys, &bias);
        if (!st && !fold) st = settle(run, &ys, bias);
        *x_bias = fold ? bias : NULL;
        act_free(run, &u);
    }
    if (st) {
        act_free(run, &y);
        return st;
    }
    replace(run, x, &y);
    return LAVR_OK;
}

/* Up3d: time doubling (skipped on the stream's first chunk, whose history slot then stays zero —
 * the reference's "Rep" marker), output frame 2τ+j = time_conv channels [jC, (j+1)C) at τ; then Up2d. */
static lavr_status run_up3d(vae_run *run, const vae_layer *l, lavr_tensor *x, int fold, const lavr_tensor **x_bias) {
    if (!run->first_chunk) {
        lavr_tensor y = {0}, d = {0};
        const lavr_tensor *bias = NULL;
        TRY(causal_conv(run, &l->conv_b, x, &y, &bias));
        lavr_status st = act_alloc(run, x->shape[0], 2 * x->shape[1], x->shape[2], x->shape[3], "VAE time upsample", &d);
        if (!st) st = lavr_vop_time_interleave(run->ctx, &y, bias, run->bf16, &d);
        act_free(run, &y);
        if (st) {
            act_free(run, &d);
            return st;
        }
        replace(run, x, &d);
    }
    return run_up2d(run, l, x, fold, x_bias);
}

/* Down2d: zero pad right/bottom by 1, 3×3 conv stride 2, into y (a tensor or a frame range of one). */
static const int64_t down_stride[3] = {1, 2, 2}, down_pad[6] = {0, 0, 0, 1, 0, 1};

static lavr_status down2d_into(vae_run *run, const vae_layer *l, const lavr_tensor *x, lavr_tensor *y) {
    const lavr_tensor *bias = NULL;
    TRY(conv_into(run, &l->conv_a, x, down_stride, down_pad, y, &bias));
    return settle(run, y, bias);
}

static lavr_status run_down2d(vae_run *run, const vae_layer *l, lavr_tensor *x) {
    int64_t d[3];
    lavr_tensor y = {0};
    conv_out_dims(&l->conv_a, x, down_stride, down_pad, d);
    TRY(act_alloc(run, l->conv_a.w.cout, d[0], d[1], d[2], l->conv_a.name, &y));
    lavr_status st = down2d_into(run, l, x, &y);
    if (st) {
        act_free(run, &y);
        return st;
    }
    replace(run, x, &y);
    return LAVR_OK;
}

/* Down3d: Down2d, then (except on the first chunk) the stride-2 time conv over
 * [last frame of the previous chunk ‖ chunk]; the slot keeps the chunk's last frame. Down2d writes
 * straight into that concatenation. */
static lavr_status run_down3d(vae_run *run, const vae_layer *l, lavr_tensor *x) {
    lavr_tensor *cache = &run->caches[l->conv_b.cache_slot];
    if (run->first_chunk) {
        TRY(run_down2d(run, l, x));
        lavr_tensor last = frames(x, x->shape[1] - 1, 1);
        return lavr_vop_copy(run->ctx, &last, cache);
    }
    int64_t d[3];
    conv_out_dims(&l->conv_a, x, down_stride, down_pad, d);
    const int64_t t = d[0], c = l->conv_a.w.cout;
    lavr_tensor cat = {0}, y = {0};
    const lavr_tensor *bias = NULL;
    TRY(act_alloc(run, c, 1 + t, d[1], d[2], "VAE time downsample input", &cat));
    lavr_tensor head = frames(&cat, 0, 1), body = frames(&cat, 1, t), tail = frames(&cat, t, 1);
    const int64_t stride[3] = {2, 1, 1};
    lavr_status st = lavr_vop_copy(run->ctx, cache, &head);
    if (!st) st = down2d_into(run, l, x, &body);
    if (!st) st = lavr_vop_copy(run->ctx, &tail, cache);
    if (!st) st = conv_new(run, &l->conv_b, &cat, stride, no_pad, &y, &bias);
    act_free(run, &cat);
    if (!st) st = settle(run, &y, bias);
    if (st) {
        act_free(run, &y);
        return st;
    }
    replace(run, x, &y);
    return LAVR_OK;
}

static lavr_status run_head(vae_run *run, const vae_layer *l, lavr_tensor *x) {
    lavr_tensor y = {0};
    const lavr_tensor *bias = NULL;
    TRY(norm_silu_conv(run, &l->gamma_a, x, NULL, 0, &l->conv_a, &y, &bias));
    lavr_status st = settle(run, &y, bias);
    if (st) {
        act_free(run, &y);
        return st;
    }
    replace(run, x, &y);
    return LAVR_OK;
}

lavr_status vae_net_forward(const vae_net *net, vae_run *run, lavr_tensor *x) {
    const lavr_tensor *x_bias = NULL; /* left by a folding layer for the res block after it */
    for (int i = 0; i < net->nlayers; i++) {
        const vae_layer *l = &net->layers[i], *next = i + 1 < net->nlayers ? &net->layers[i + 1] : NULL;
        const int fold = next && next->kind == VAE_RES && !next->has_shortcut;
        switch (l->kind) {
        case VAE_CONV_IN: TRY(run_conv_in(run, l, x, fold, &x_bias)); break;
        case VAE_RES:
            TRY(run_res(run, l, x, x_bias));
            x_bias = NULL;
            break;
        case VAE_ATTN: TRY(run_attn(run, l, x)); break;
        case VAE_UP2D: TRY(run_up2d(run, l, x, fold, &x_bias)); break;
        case VAE_UP3D: TRY(run_up3d(run, l, x, fold, &x_bias)); break;
        case VAE_DOWN2D: TRY(run_down2d(run, l, x)); break;
        case VAE_DOWN3D: TRY(run_down3d(run, l, x)); break;
        case VAE_HEAD: TRY(run_head(run, l, x)); break;
        }
    }
    return LAVR_OK;
}
