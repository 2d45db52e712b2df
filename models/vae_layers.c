/* The VAE's layer lists (built from lavr_vae_config with the official module names of
 * model-spec §5.2) and the chunk runner: causal convs with history slots, RMS norms, residual blocks,
 * mid attention and the 2-D/3-D resamplers with their first-chunk rules (§5.1, §5.3, §5.4). */
#include "models/vae_layers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"

/* ---- activations ------------------------------------------------------------------------------ */

lavr_status vae_act_alloc(lavr_arena *arena, int64_t c, int64_t t, int64_t h, int64_t w, const char *what,
                          vae_act *out) {
    void *p = NULL;
    TRY(lavr_arena_alloc(arena, (size_t)(c * t * h * w) * sizeof(float), what, &p));
    out->data = p;
    out->c = c;
    out->t = t;
    out->h = h;
    out->w = w;
    return LAVR_OK;
}

void vae_act_free(lavr_arena *arena, vae_act *a) {
    if (a->data) lavr_arena_free(arena, a->data);
    a->data = NULL;
}

static int64_t act_numel(const vae_act *a) { return a->c * a->t * a->h * a->w; }

/* ---- loading ---------------------------------------------------------------------------------- */

static lavr_status read_tensor(lavr_h5file *f, const char *prefix, const char *name, const char *suffix, int ndim,
                               const int64_t *shape, lavr_arena *arena, lavr_tensor *out) {
    char path[256];
    snprintf(path, sizeof path, "%s%s%s", prefix, name, suffix);
    return lavr_h5_read_expect(f, path, ndim, shape, arena, out);
}

lavr_status vae_conv_load(lavr_h5file *f, const char *prefix, const char *name, int ndim, const int64_t *shape,
                          lavr_arena *arena, vae_conv *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->cout = shape[0];
    out->cin = shape[1];
    out->kt = ndim == 5 ? shape[2] : 1;
    out->kh = shape[ndim - 2];
    out->kw = shape[ndim - 1];
    out->cache_slot = -1;
    TRY(read_tensor(f, prefix, name, ".weight", ndim, shape, arena, &out->weight));
    lavr_status st = read_tensor(f, prefix, name, ".bias", 1, shape, arena, &out->bias);
    if (st) lavr_tensor_free(&out->weight);
    return st;
}

void vae_conv_free(vae_conv *cv) {
    lavr_tensor_free(&cv->weight);
    lavr_tensor_free(&cv->bias);
}

/* RMS gains are stored [C,1,1,1] (5-D use) or [C,1,1] (attention); kept as float [C]. */
static lavr_status load_gamma(lavr_h5file *f, const char *prefix, const char *name, int64_t c, int ndim,
                              lavr_arena *arena, float **out) {
    int64_t shape[4] = {c, 1, 1, 1};
    lavr_tensor t;
    TRY(read_tensor(f, prefix, name, "", ndim, shape, arena, &t));
    void *p = NULL;
    lavr_status st = lavr_arena_alloc(arena, (size_t)c * sizeof(float), name, &p);
    if (!st) {
        float *g = p;
        for (int64_t i = 0; i < c; i++) g[i] = (float)lavr_tensor_get_flat(&t, i);
        *out = g;
    }
    lavr_tensor_free(&t);
    return st;
}

typedef struct {
    lavr_h5file *f;
    const char *prefix;
    lavr_arena *arena;
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
    s->channels = cv->cin;
    s->frames = frames;
    s->scale_num = b->scale_num;
    s->scale_den = b->scale_den;
    cv->cache_slot = b->net->nslots++;
    return LAVR_OK;
}

static lavr_status load_causal3(builder *b, const char *name, int64_t cout, int64_t cin, vae_conv *cv) {
    int64_t shape[5] = {cout, cin, 3, 3, 3};
    TRY(vae_conv_load(b->f, b->prefix, name, 5, shape, b->arena, cv));
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
    TRY(load_gamma(b->f, b->prefix, name, cin, 4, b->arena, &l->gamma_a));
    snprintf(name, sizeof name, "%s.residual.2", module);
    TRY(load_causal3(b, name, cout, cin, &l->conv_a));
    snprintf(name, sizeof name, "%s.residual.3.gamma", module);
    TRY(load_gamma(b->f, b->prefix, name, cout, 4, b->arena, &l->gamma_b));
    snprintf(name, sizeof name, "%s.residual.6", module);
    TRY(load_causal3(b, name, cout, cout, &l->conv_b));
    if (cin != cout) {
        int64_t shape[5] = {cout, cin, 1, 1, 1};
        snprintf(name, sizeof name, "%s.shortcut", module);
        TRY(vae_conv_load(b->f, b->prefix, name, 5, shape, b->arena, &l->shortcut));
        l->has_shortcut = 1;
    }
    return LAVR_OK;
}

static lavr_status build_attn(builder *b, const char *module, int64_t c) {
    vae_layer *l;
    char name[112];
    TRY(new_layer(b, VAE_ATTN, c, c, &l));
    snprintf(name, sizeof name, "%s.norm.gamma", module);
    TRY(load_gamma(b->f, b->prefix, name, c, 3, b->arena, &l->gamma_a));
    int64_t qkv[4] = {3 * c, c, 1, 1}, proj[4] = {c, c, 1, 1};
    snprintf(name, sizeof name, "%s.to_qkv", module);
    TRY(vae_conv_load(b->f, b->prefix, name, 4, qkv, b->arena, &l->conv_a));
    snprintf(name, sizeof name, "%s.proj", module);
    return vae_conv_load(b->f, b->prefix, name, 4, proj, b->arena, &l->conv_b);
}

static lavr_status build_down(builder *b, const char *module, int64_t c, int temporal) {
    vae_layer *l;
    char name[112];
    TRY(new_layer(b, temporal ? VAE_DOWN3D : VAE_DOWN2D, c, c, &l));
    int64_t shape[4] = {c, c, 3, 3};
    snprintf(name, sizeof name, "%s.resample.1", module);
    TRY(vae_conv_load(b->f, b->prefix, name, 4, shape, b->arena, &l->conv_a));
    b->scale_den *= 2;
    if (temporal) {
        /* The stride-2 time conv sees [last frame of the previous chunk ‖ chunk] after Down2d. */
        int64_t tshape[5] = {c, c, 3, 1, 1};
        snprintf(name, sizeof name, "%s.time_conv", module);
        TRY(vae_conv_load(b->f, b->prefix, name, 5, tshape, b->arena, &l->conv_b));
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
        TRY(vae_conv_load(b->f, b->prefix, name, 5, tshape, b->arena, &l->conv_b));
        TRY(add_slot(b, &l->conv_b, 2));
    }
    int64_t shape[4] = {c / 2, c, 3, 3};
    snprintf(name, sizeof name, "%s.resample.1", module);
    TRY(vae_conv_load(b->f, b->prefix, name, 4, shape, b->arena, &l->conv_a));
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
    TRY(load_gamma(b->f, b->prefix, module, c, 4, b->arena, &l->gamma_a));
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
    TRY(load_gamma(b->f, b->prefix, "decoder.head.0.gamma", out, 4, b->arena, &l->gamma_a));
    TRY(load_causal3(b, "decoder.head.2", 3, out, &l->conv_a));
    b->net->in_channels = cfg->z_dim;
    b->net->out_channels = 3;
    return LAVR_OK;
}

static lavr_status build(lavr_h5file *f, const char *prefix, const lavr_vae_config *cfg, lavr_arena *arena,
                         vae_net *net, int decoder) {
    memset(net, 0, sizeof *net);
    TRY(check_config(cfg));
    builder b = {.f = f, .prefix = prefix, .arena = arena, .net = net, .scale_num = 1, .scale_den = 1};
    lavr_status st = decoder ? build_decoder(&b, cfg) : build_encoder(&b, cfg);
    if (st) vae_net_free(net, arena);
    return st;
}

lavr_status vae_net_build_encoder(lavr_h5file *f, const char *prefix, const lavr_vae_config *cfg, lavr_arena *arena,
                                  vae_net *net) {
    return build(f, prefix, cfg, arena, net, 0);
}

lavr_status vae_net_build_decoder(lavr_h5file *f, const char *prefix, const lavr_vae_config *cfg, lavr_arena *arena,
                                  vae_net *net) {
    return build(f, prefix, cfg, arena, net, 1);
}

void vae_net_free(vae_net *net, lavr_arena *arena) {
    for (int i = 0; i < net->nlayers; i++) {
        vae_layer *l = &net->layers[i];
        vae_conv_free(&l->conv_a);
        vae_conv_free(&l->conv_b);
        vae_conv_free(&l->shortcut);
        if (l->gamma_a) lavr_arena_free(arena, l->gamma_a);
        if (l->gamma_b) lavr_arena_free(arena, l->gamma_b);
    }
    free(net->layers);
    free(net->slots);
    memset(net, 0, sizeof *net);
}

/* ---- compute ---------------------------------------------------------------------------------- */

static void maybe_round(const vae_run *run, float *x, int64_t n) {
    if (run->bf16) lavr_op_round_bf16(x, n);
}

lavr_status vae_conv_apply(vae_run *run, const vae_conv *cv, const vae_act *x, const int64_t stride[3],
                           const int64_t pad[6], vae_act *y) {
    if (x->c != cv->cin)
        return LAVR_FAIL(LAVR_E_INTERNAL, "%s: input has %lld channels, weight expects %lld", cv->name,
                         (long long)x->c, (long long)cv->cin);
    int64_t to = (x->t + pad[0] + pad[1] - cv->kt) / stride[0] + 1;
    int64_t ho = (x->h + pad[2] + pad[3] - cv->kh) / stride[1] + 1;
    int64_t wo = (x->w + pad[4] + pad[5] - cv->kw) / stride[2] + 1;
    TRY(vae_act_alloc(run->arena, cv->cout, to, ho, wo, cv->name, y));
    int64_t dims[3] = {0, 0, 0};
    /* PyTorch's bf16 convolution rounds the bias-free result to bf16 and then adds the bias as a
     * separate bf16 op (rounded again below); matching that halves the encoder's error vs golden. */
    lavr_status st = lavr_op_conv3d(x->data, x->c, x->t, x->h, x->w, &cv->weight, run->bf16 ? NULL : &cv->bias,
                                    stride, pad, y->data, dims);
    if (!st && run->bf16) {
        int64_t plane = to * ho * wo;
        lavr_op_round_bf16(y->data, cv->cout * plane);
#pragma omp parallel for
        for (int64_t c = 0; c < cv->cout; c++) {
            float bias = (float)lavr_tensor_get_flat(&cv->bias, c);
            for (int64_t i = 0; i < plane; i++) y->data[c * plane + i] += bias;
        }
    }
    if (!st && (dims[0] != to || dims[1] != ho || dims[2] != wo))
        st = LAVR_FAIL(LAVR_E_INTERNAL, "%s: conv3d returned [%lld,%lld,%lld], expected [%lld,%lld,%lld]", cv->name,
                       (long long)dims[0], (long long)dims[1], (long long)dims[2], (long long)to, (long long)ho,
                       (long long)wo);
    if (st) {
        vae_act_free(run->arena, y);
        return lavr_error_wrap(st, "VAE %s", cv->name);
    }
    maybe_round(run, y->data, act_numel(y));
    return LAVR_OK;
}

/* Causal conv over [history ‖ chunk]: the history slot holds the last kt-1 input frames (zeros at
 * the stream start, which is exactly the reference's causal zero padding), so any chunking of the
 * stream gives the same output. Spatial padding is symmetric (kh/2, kw/2). */
static lavr_status causal_conv(vae_run *run, const vae_conv *cv, const vae_act *x, vae_act *y) {
    float *cache = run->caches[cv->cache_slot];
    int64_t hist = cv->kt - 1, hw = x->h * x->w, tt = hist + x->t;
    vae_act cat;
    TRY(vae_act_alloc(run->arena, x->c, tt, x->h, x->w, "VAE causal conv input", &cat));
#pragma omp parallel for
    for (int64_t c = 0; c < x->c; c++) {
        float *dst = cat.data + c * tt * hw;
        memcpy(dst, cache + c * hist * hw, (size_t)(hist * hw) * sizeof(float));
        memcpy(dst + hist * hw, x->data + c * x->t * hw, (size_t)(x->t * hw) * sizeof(float));
        memcpy(cache + c * hist * hw, dst + (tt - hist) * hw, (size_t)(hist * hw) * sizeof(float));
    }
    int64_t stride[3] = {1, 1, 1}, pad[6] = {0, 0, cv->kh / 2, cv->kh / 2, cv->kw / 2, cv->kw / 2};
    lavr_status st = vae_conv_apply(run, cv, &cat, stride, pad, y);
    vae_act_free(run->arena, &cat);
    return st;
}

/* RMSn(x; γ) = F.normalize over channels · √C · γ, optionally followed by SiLU. The reference ran
 * under bf16 autocast, where normalize and the products stay fp32 and SiLU keeps fp32: the one bf16
 * rounding is the cast at the next conv's input, done here. */
static lavr_status rms_norm(vae_run *run, const vae_act *x, const float *gamma, int silu, vae_act *y) {
    TRY(vae_act_alloc(run->arena, x->c, x->t, x->h, x->w, "VAE norm", y));
    int64_t n = x->t * x->h * x->w;
    lavr_status st = lavr_op_l2norm_channels(x->data, x->c, n, 1e-12f, y->data);
    if (st) {
        vae_act_free(run->arena, y);
        return st;
    }
    float scale = (float)sqrt((double)x->c);
#pragma omp parallel for
    for (int64_t c = 0; c < x->c; c++) {
        float *row = y->data + c * n;
        for (int64_t i = 0; i < n; i++) row[i] = row[i] * scale * gamma[c];
    }
    if (silu) lavr_op_silu(y->data, act_numel(y), y->data);
    maybe_round(run, y->data, act_numel(y));
    return LAVR_OK;
}

static void replace(vae_run *run, vae_act *x, vae_act *y) {
    vae_act_free(run->arena, x);
    *x = *y;
}

static lavr_status norm_silu_conv(vae_run *run, const float *gamma, const vae_conv *cv, const vae_act *x, vae_act *y) {
    vae_act h;
    TRY(rms_norm(run, x, gamma, 1, &h));
    lavr_status st = causal_conv(run, cv, &h, y);
    vae_act_free(run->arena, &h);
    return st;
}

static lavr_status run_res(vae_run *run, const vae_layer *l, vae_act *x) {
    vae_act sc = *x, a = {0}, y = {0};
    lavr_status st = LAVR_OK;
    if (l->has_shortcut) {
        int64_t stride[3] = {1, 1, 1}, pad[6] = {0};
        TRY(vae_conv_apply(run, &l->shortcut, x, stride, pad, &sc));
    }
    TRY_GOTO(norm_silu_conv(run, l->gamma_a, &l->conv_a, x, &a), st, done);
    TRY_GOTO(norm_silu_conv(run, l->gamma_b, &l->conv_b, &a, &y), st, done);
    int64_t n = act_numel(&y);
    for (int64_t i = 0; i < n; i++) y.data[i] += sc.data[i];
    maybe_round(run, y.data, n);
    replace(run, x, &y);
done:
    vae_act_free(run->arena, &a);
    if (l->has_shortcut) vae_act_free(run->arena, &sc);
    return st;
}

/* Per-frame single-head attention over the h·w tokens (to_qkv channels [q | k | v], scale 1/√C). */
static lavr_status run_attn(vae_run *run, const vae_layer *l, vae_act *x) {
    int64_t c = x->c, hw = x->h * x->w, stride[3] = {1, 1, 1}, pad[6] = {0};
    vae_act xn = {0}, qkv = {0}, att = {0}, y = {0};
    float *tokens = NULL, *out = NULL;
    lavr_status st = LAVR_OK;
    TRY(rms_norm(run, x, l->gamma_a, 0, &xn));
    TRY_GOTO(vae_conv_apply(run, &l->conv_a, &xn, stride, pad, &qkv), st, done);
    TRY_GOTO(vae_act_alloc(run->arena, c, x->t, x->h, x->w, "VAE attention output", &att), st, done);
    TRY_GOTO(lavr_arena_alloc(run->arena, (size_t)(hw * 3 * c) * sizeof(float), "VAE attention tokens",
                              (void **)&tokens), st, done);
    TRY_GOTO(lavr_arena_alloc(run->arena, (size_t)(hw * c) * sizeof(float), "VAE attention tokens", (void **)&out),
             st, done);
    for (int64_t t = 0; t < x->t; t++) {
        for (int64_t ch = 0; ch < 3 * c; ch++) {
            const float *src = qkv.data + (ch * x->t + t) * hw;
            for (int64_t p = 0; p < hw; p++) tokens[p * 3 * c + ch] = src[p];
        }
        lavr_kv_segment seg = {.dtype = LAVR_F32, .k = tokens + c, .v = tokens + 2 * c, .len = hw, .row_stride = 3 * c};
        TRY_GOTO(lavr_op_attention(tokens, hw, 1, c, 3 * c, &seg, 1, (float)(1.0 / sqrt((double)c)), NULL, out), st,
                 done);
        maybe_round(run, out, hw * c);
        for (int64_t ch = 0; ch < c; ch++) {
            float *dst = att.data + (ch * x->t + t) * hw;
            for (int64_t p = 0; p < hw; p++) dst[p] = out[p * c + ch];
        }
    }
    TRY_GOTO(vae_conv_apply(run, &l->conv_b, &att, stride, pad, &y), st, done);
    int64_t n = act_numel(&y);
    for (int64_t i = 0; i < n; i++) y.data[i] += x->data[i];
    maybe_round(run, y.data, n);
    replace(run, x, &y);
done:
    if (tokens) lavr_arena_free(run->arena, tokens);
    if (out) lavr_arena_free(run->arena, out);
    vae_act_free(run->arena, &xn);
    vae_act_free(run->arena, &qkv);
    vae_act_free(run->arena, &att);
    return st;
}

/* Up2d: nearest ×2 per frame (exact), then the 3×3 conv C → C/2 with padding 1. */
static lavr_status run_up2d(vae_run *run, const vae_layer *l, vae_act *x) {
    vae_act u, y;
    int64_t h = x->h, w = x->w;
    TRY(vae_act_alloc(run->arena, x->c, x->t, 2 * h, 2 * w, "VAE upsample", &u));
#pragma omp parallel for
    for (int64_t ct = 0; ct < x->c * x->t; ct++) {
        const float *src = x->data + ct * h * w;
        float *dst = u.data + ct * 4 * h * w;
        for (int64_t i = 0; i < 2 * h; i++)
            for (int64_t j = 0; j < 2 * w; j++) dst[i * 2 * w + j] = src[(i / 2) * w + j / 2];
    }
    int64_t stride[3] = {1, 1, 1}, pad[6] = {0, 0, 1, 1, 1, 1};
    lavr_status st = vae_conv_apply(run, &l->conv_a, &u, stride, pad, &y);
    vae_act_free(run->arena, &u);
    TRY(st);
    replace(run, x, &y);
    return LAVR_OK;
}

/* Up3d: time doubling (skipped on the stream's first chunk, whose history slot then stays zero —
 * the reference's "Rep" marker), output frame 2τ+j = time_conv channels [jC, (j+1)C) at τ; then Up2d. */
static lavr_status run_up3d(vae_run *run, const vae_layer *l, vae_act *x) {
    if (!run->first_chunk) {
        vae_act y, d;
        TRY(causal_conv(run, &l->conv_b, x, &y));
        int64_t c = x->c, t = x->t, hw = x->h * x->w;
        lavr_status st = vae_act_alloc(run->arena, c, 2 * t, x->h, x->w, "VAE time upsample", &d);
        if (st) {
            vae_act_free(run->arena, &y);
            return st;
        }
#pragma omp parallel for
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t tau = 0; tau < t; tau++)
                for (int64_t j = 0; j < 2; j++)
                    memcpy(d.data + (ch * 2 * t + 2 * tau + j) * hw, y.data + ((j * c + ch) * t + tau) * hw,
                           (size_t)hw * sizeof(float));
        vae_act_free(run->arena, &y);
        replace(run, x, &d);
    }
    return run_up2d(run, l, x);
}

/* Down2d: zero pad right/bottom by 1, 3×3 conv stride 2. */
static lavr_status run_down2d(vae_run *run, const vae_layer *l, vae_act *x) {
    vae_act y;
    int64_t stride[3] = {1, 2, 2}, pad[6] = {0, 0, 0, 1, 0, 1};
    TRY(vae_conv_apply(run, &l->conv_a, x, stride, pad, &y));
    replace(run, x, &y);
    return LAVR_OK;
}

/* Down3d: Down2d, then (except on the first chunk) the stride-2 time conv over
 * [last frame of the previous chunk ‖ chunk]; the slot keeps the chunk's last frame. */
static lavr_status run_down3d(vae_run *run, const vae_layer *l, vae_act *x) {
    TRY(run_down2d(run, l, x));
    float *cache = run->caches[l->conv_b.cache_slot];
    int64_t c = x->c, t = x->t, hw = x->h * x->w;
    if (run->first_chunk) {
        for (int64_t ch = 0; ch < c; ch++)
            memcpy(cache + ch * hw, x->data + (ch * t + t - 1) * hw, (size_t)hw * sizeof(float));
        return LAVR_OK;
    }
    vae_act cat, y;
    TRY(vae_act_alloc(run->arena, c, t + 1, x->h, x->w, "VAE time downsample input", &cat));
    for (int64_t ch = 0; ch < c; ch++) {
        float *dst = cat.data + ch * (t + 1) * hw;
        memcpy(dst, cache + ch * hw, (size_t)hw * sizeof(float));
        memcpy(dst + hw, x->data + ch * t * hw, (size_t)(t * hw) * sizeof(float));
        memcpy(cache + ch * hw, x->data + (ch * t + t - 1) * hw, (size_t)hw * sizeof(float));
    }
    int64_t stride[3] = {2, 1, 1}, pad[6] = {0};
    lavr_status st = vae_conv_apply(run, &l->conv_b, &cat, stride, pad, &y);
    vae_act_free(run->arena, &cat);
    TRY(st);
    replace(run, x, &y);
    return LAVR_OK;
}

lavr_status vae_net_forward(const vae_net *net, vae_run *run, vae_act *x) {
    for (int i = 0; i < net->nlayers; i++) {
        const vae_layer *l = &net->layers[i];
        vae_act y;
        switch (l->kind) {
        case VAE_CONV_IN:
            TRY(causal_conv(run, &l->conv_a, x, &y));
            replace(run, x, &y);
            break;
        case VAE_RES: TRY(run_res(run, l, x)); break;
        case VAE_ATTN: TRY(run_attn(run, l, x)); break;
        case VAE_UP2D: TRY(run_up2d(run, l, x)); break;
        case VAE_UP3D: TRY(run_up3d(run, l, x)); break;
        case VAE_DOWN2D: TRY(run_down2d(run, l, x)); break;
        case VAE_DOWN3D: TRY(run_down3d(run, l, x)); break;
        case VAE_HEAD:
            TRY(norm_silu_conv(run, l->gamma_a, &l->conv_a, x, &y));
            replace(run, x, &y);
            break;
        }
    }
    return LAVR_OK;
}
