/* Wan2.1 VAE front end (models/vae.h): weights, latent normalisation, the chunked encoder and the
 * streaming decoder with its checkpointable state; the layers themselves run in models/vae_layers.c. */
#include "models/vae.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ops.h"
#include "models/vae_layers.h"

/* Latent normalisation constants of model-spec §5.4 (Wan2.1, 16 channels). */
static const float latent_mean[16] = {-0.7571f, -0.7089f, -0.9113f, 0.1075f, -0.1745f, 0.9653f, -0.1517f, 1.5508f,
                                      0.4134f,  -0.0715f, 0.5517f,  -0.3632f, -0.1922f, -0.9497f, 0.2503f, -0.2921f};
static const float latent_std[16] = {2.8184f, 1.4541f, 2.3275f, 2.6558f, 1.2196f, 1.7708f, 2.6052f, 2.0743f,
                                     3.2687f, 2.1526f, 2.8652f, 1.5579f, 1.6382f, 1.1253f, 2.8251f, 1.9160f};

struct lavr_vae {
    lavr_vae_config cfg;
    lavr_vae_options opts;
    lavr_arena *arena;
    vae_net encoder, decoder;
    vae_conv conv1, conv2; /* top level: encoder output -> mu‖logvar, latent -> decoder input */
    float mean[16], inv_std[16];
    int64_t spatial_factor, temporal_factor;
};

struct lavr_vae_decoder_state {
    const lavr_vae *vae;
    lavr_arena *arena;
    int64_t h, w;
    int64_t position; /* latent frames decoded so far; 0 = stream start */
    float **caches;   /* one per decoder slot, [C, frames, h', w'] */
    int64_t *cache_numel;
};

lavr_vae_options lavr_vae_options_default(void) {
    lavr_vae_options o = {.bf16_activations = 1, .fp32_latent_scale = 0};
    return o;
}

int64_t lavr_vae_spatial_factor(const lavr_vae *vae) { return vae->spatial_factor; }

void lavr_vae_destroy(lavr_vae *vae) {
    if (!vae) return;
    vae_net_free(&vae->encoder, vae->arena);
    vae_net_free(&vae->decoder, vae->arena);
    vae_conv_free(&vae->conv1);
    vae_conv_free(&vae->conv2);
    free(vae);
}

/* LiveAvatar keeps mean and std as bf16 tensors and builds 1/std in bf16, so both the constants and
 * the reciprocal are rounded; Wan uses the fp32 values. */
static void set_latent_scale(lavr_vae *vae) {
    for (int c = 0; c < 16; c++) {
        if (vae->opts.fp32_latent_scale) {
            vae->mean[c] = latent_mean[c];
            vae->inv_std[c] = 1.0f / latent_std[c];
        } else {
            vae->mean[c] = lavr_round_bf16(latent_mean[c]);
            vae->inv_std[c] = lavr_round_bf16(1.0f / lavr_round_bf16(latent_std[c]));
        }
    }
}

lavr_status lavr_vae_create(lavr_h5file *f, const char *prefix, const lavr_vae_config *cfg,
                            const lavr_vae_options *opts, lavr_arena *arena, lavr_vae **out) {
    CHECK_ARG(f && cfg && arena && out, "lavr_vae_create: file, config, arena and output are required");
    CHECK_ARG(cfg->z_dim == 16, "VAE z_dim must be 16 (the latent mean/std constants have 16 channels), got %lld",
              (long long)cfg->z_dim);
    lavr_vae *vae = calloc(1, sizeof *vae);
    if (!vae) return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for the VAE");
    vae->cfg = *cfg;
    vae->opts = opts ? *opts : lavr_vae_options_default();
    vae->arena = arena;
    vae->spatial_factor = 8;
    vae->temporal_factor = 1;
    for (int i = 0; i < 3; i++)
        if (cfg->temporal_downsample[i]) vae->temporal_factor *= 2;
    set_latent_scale(vae);
    if (!prefix) prefix = "";
    int64_t z2 = 2 * cfg->z_dim, c1[5] = {z2, z2, 1, 1, 1}, c2[5] = {cfg->z_dim, cfg->z_dim, 1, 1, 1};
    lavr_status st;
    TRY_GOTO(vae_net_build_encoder(f, prefix, cfg, arena, &vae->encoder), st, fail);
    TRY_GOTO(vae_net_build_decoder(f, prefix, cfg, arena, &vae->decoder), st, fail);
    TRY_GOTO(vae_conv_load(f, prefix, "conv1", 5, c1, arena, &vae->conv1), st, fail);
    TRY_GOTO(vae_conv_load(f, prefix, "conv2", 5, c2, arena, &vae->conv2), st, fail);
    *out = vae;
    return LAVR_OK;
fail:
    lavr_vae_destroy(vae);
    return lavr_error_wrap(st, "loading the VAE from %s", lavr_h5_path(f));
}

/* ---- shape checks ----------------------------------------------------------------------------- */

static lavr_status expect_f32(const lavr_tensor *t, const char *what, int ndim, const int64_t *shape) {
    char got[96];
    CHECK_ARG(t && t->data, "%s: no tensor given", what);
    lavr_tensor_describe(t, got, sizeof got);
    CHECK_ARG(t->dtype == LAVR_F32 && lavr_tensor_is_contiguous(t), "%s must be a contiguous float32 tensor, got %s",
              what, got);
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char want[96];
        lavr_tensor ref;
        TRY(lavr_tensor_desc(LAVR_F32, ndim, shape, &ref));
        lavr_tensor_describe(&ref, want, sizeof want);
        return LAVR_FAIL(LAVR_E_ARG, "%s has shape %s, expected %s", what, got, want);
    }
    return LAVR_OK;
}

/* ---- encoder ---------------------------------------------------------------------------------- */

static lavr_status alloc_caches(const vae_net *net, lavr_arena *arena, int64_t h, int64_t w, float **caches,
                                int64_t *numel) {
    for (int s = 0; s < net->nslots; s++) {
        const vae_slot *sl = &net->slots[s];
        int64_t n = sl->channels * sl->frames * (h * sl->scale_num / sl->scale_den) * (w * sl->scale_num / sl->scale_den);
        void *p = NULL;
        TRY(lavr_arena_alloc(arena, (size_t)n * sizeof(float), sl->name, &p));
        memset(p, 0, (size_t)n * sizeof(float));
        caches[s] = p;
        if (numel) numel[s] = n;
    }
    return LAVR_OK;
}

static void free_caches(const vae_net *net, lavr_arena *arena, float **caches) {
    if (!caches) return;
    for (int s = 0; s < net->nslots; s++)
        if (caches[s]) lavr_arena_free(arena, caches[s]);
}

/* Encoder output chunk [2z, 1, h, w] -> top conv1 -> latent frame (μ − mean)·(1/std). */
static lavr_status encode_head(lavr_vae *vae, vae_run *run, const vae_act *enc, float *latent, int64_t nlat,
                               int64_t index) {
    vae_act mu;
    int64_t stride[3] = {1, 1, 1}, pad[6] = {0};
    TRY(vae_conv_apply(run, &vae->conv1, enc, stride, pad, &mu));
    int64_t hw = enc->h * enc->w;
    for (int64_t c = 0; c < vae->cfg.z_dim; c++) {
        const float *src = mu.data + c * hw;
        float *dst = latent + (c * nlat + index) * hw;
        for (int64_t p = 0; p < hw; p++) {
            float v = src[p] - vae->mean[c];
            if (run->bf16) v = lavr_round_bf16(v);
            v *= vae->inv_std[c];
            dst[p] = run->bf16 ? lavr_round_bf16(v) : v;
        }
    }
    vae_act_free(run->arena, &mu);
    return LAVR_OK;
}

lavr_status lavr_vae_encode(lavr_vae *vae, const lavr_tensor *video, lavr_tensor *latent) {
    CHECK_ARG(vae && video && latent, "lavr_vae_encode: vae, video and latent are required");
    CHECK_ARG(video->ndim == 4 && video->shape[0] == 3, "VAE encode: video must be [3, T, H, W]");
    int64_t t = video->shape[1], h = video->shape[2], w = video->shape[3], sf = vae->spatial_factor,
            tf = vae->temporal_factor;
    CHECK_ARG(t >= 1 && (t - 1) % tf == 0, "VAE encode: video has %lld frames, need 1 + %lld k", (long long)t,
              (long long)tf);
    CHECK_ARG(h > 0 && w > 0 && h % sf == 0 && w % sf == 0, "VAE encode: frame size %lldx%lld is not a multiple of %lld",
              (long long)h, (long long)w, (long long)sf);
    int64_t vshape[4] = {3, t, h, w}, nlat = 1 + (t - 1) / tf, lshape[4] = {vae->cfg.z_dim, nlat, h / sf, w / sf};
    TRY(expect_f32(video, "VAE encode input video", 4, vshape));
    TRY(expect_f32(latent, "VAE encode output latent", 4, lshape));

    const vae_net *net = &vae->encoder;
    vae_run run = {.arena = vae->arena, .bf16 = vae->opts.bf16_activations};
    run.caches = calloc((size_t)net->nslots + 1, sizeof *run.caches);
    if (!run.caches) return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for VAE encoder caches");
    lavr_status st;
    TRY_GOTO(alloc_caches(net, vae->arena, h, w, run.caches, NULL), st, done);
    const float *src = video->data;
    /* Reference chunks: frame 0 alone, then tf frames at a time. */
    for (int64_t index = 0, start = 0; index < nlat; index++) {
        int64_t n = index == 0 ? 1 : tf, hw = h * w;
        vae_act x = {0};
        TRY_GOTO(vae_act_alloc(vae->arena, 3, n, h, w, "VAE encoder chunk", &x), st, done);
        for (int64_t c = 0; c < 3; c++)
            memcpy(x.data + c * n * hw, src + (c * t + start) * hw, (size_t)(n * hw) * sizeof(float));
        if (run.bf16) lavr_op_round_bf16(x.data, 3 * n * hw);
        run.first_chunk = index == 0;
        st = vae_net_forward(net, &run, &x);
        if (!st) st = encode_head(vae, &run, &x, latent->data, nlat, index);
        vae_act_free(vae->arena, &x);
        if (st) goto done;
        start += n;
    }
done:
    free_caches(net, vae->arena, run.caches);
    free(run.caches);
    return st;
}

/* ---- decoder state ---------------------------------------------------------------------------- */

lavr_status lavr_vae_decoder_state_create(const lavr_vae *vae, lavr_arena *arena, int64_t h, int64_t w,
                                          lavr_vae_decoder_state **out) {
    CHECK_ARG(vae && arena && out, "lavr_vae_decoder_state_create: vae, arena and output are required");
    CHECK_ARG(h > 0 && w > 0, "VAE decoder state: latent grid %lldx%lld must be positive", (long long)h, (long long)w);
    lavr_vae_decoder_state *s = calloc(1, sizeof *s);
    int n = vae->decoder.nslots;
    if (s) s->caches = calloc((size_t)n + 1, sizeof *s->caches);
    if (s && s->caches) s->cache_numel = calloc((size_t)n + 1, sizeof *s->cache_numel);
    if (!s || !s->caches || !s->cache_numel) {
        lavr_vae_decoder_state_destroy(s);
        return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for the VAE decoder state");
    }
    s->vae = vae;
    s->arena = arena;
    s->h = h;
    s->w = w;
    lavr_status st = alloc_caches(&vae->decoder, arena, h, w, s->caches, s->cache_numel);
    if (st) {
        lavr_vae_decoder_state_destroy(s);
        return st;
    }
    *out = s;
    return LAVR_OK;
}

void lavr_vae_decoder_state_destroy(lavr_vae_decoder_state *s) {
    if (!s) return;
    if (s->caches) free_caches(&s->vae->decoder, s->arena, s->caches);
    free(s->caches);
    free(s->cache_numel);
    free(s);
}

void lavr_vae_decoder_state_reset(lavr_vae_decoder_state *s) {
    for (int i = 0; i < s->vae->decoder.nslots; i++)
        memset(s->caches[i], 0, (size_t)s->cache_numel[i] * sizeof(float));
    s->position = 0;
}

int64_t lavr_vae_decoder_state_position(const lavr_vae_decoder_state *s) { return s->position; }

int64_t lavr_vae_decode_frame_count(const lavr_vae_decoder_state *s, int64_t t) {
    int64_t tf = s->vae->temporal_factor;
    if (t <= 0) return 0;
    return s->position == 0 ? 1 + tf * (t - 1) : tf * t;
}

static lavr_tensor cache_view(const lavr_vae_decoder_state *s, int i) {
    const vae_slot *sl = &s->vae->decoder.slots[i];
    int64_t shape[4] = {sl->channels, sl->frames, s->h * sl->scale_num / sl->scale_den,
                        s->w * sl->scale_num / sl->scale_den};
    return lavr_tensor_wrap(LAVR_F32, 4, shape, s->caches[i]);
}

lavr_status lavr_vae_decoder_state_visit(const lavr_vae_decoder_state *s, lavr_vae_state_visit_fn fn, void *user) {
    CHECK_ARG(s && fn, "lavr_vae_decoder_state_visit: state and function are required");
    int64_t one = 1, position = s->position;
    lavr_tensor pos = lavr_tensor_wrap(LAVR_I64, 1, &one, &position);
    TRY(fn("position", &pos, user));
    for (int i = 0; i < s->vae->decoder.nslots; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s.cache", s->vae->decoder.slots[i].name);
        lavr_tensor t = cache_view(s, i);
        TRY(fn(name, &t, user));
    }
    return LAVR_OK;
}

lavr_status lavr_vae_decoder_state_restore(lavr_vae_decoder_state *s, const char *name, const lavr_tensor *t) {
    CHECK_ARG(s && name && t, "lavr_vae_decoder_state_restore: state, name and tensor are required");
    char got[96], want[96];
    lavr_tensor_describe(t, got, sizeof got);
    if (!strcmp(name, "position")) {
        CHECK_ARG(lavr_tensor_numel(t) == 1, "VAE decoder state 'position' must have one element, got %s", got);
        double v = lavr_tensor_get_flat(t, 0);
        CHECK_ARG(v >= 0, "VAE decoder state 'position' is negative (%g)", v);
        s->position = (int64_t)v;
        return LAVR_OK;
    }
    for (int i = 0; i < s->vae->decoder.nslots; i++) {
        char slot[128];
        snprintf(slot, sizeof slot, "%s.cache", s->vae->decoder.slots[i].name);
        if (strcmp(name, slot)) continue;
        lavr_tensor dst = cache_view(s, i);
        lavr_tensor_describe(&dst, want, sizeof want);
        CHECK_ARG(lavr_tensor_same_shape(&dst, t), "VAE decoder state '%s' has shape %s, expected %s", name, got, want);
        return lavr_tensor_copy(&dst, t);
    }
    return LAVR_FAIL(LAVR_E_FORMAT, "VAE decoder state has no tensor named '%s'", name);
}

/* ---- decoder ---------------------------------------------------------------------------------- */

lavr_status lavr_vae_decode(lavr_vae *vae, lavr_vae_decoder_state *state, const lavr_tensor *latents,
                            lavr_tensor *frames) {
    CHECK_ARG(vae && state && latents && frames, "lavr_vae_decode: vae, state, latents and frames are required");
    CHECK_ARG(state->vae == vae, "lavr_vae_decode: the decoder state belongs to another VAE");
    CHECK_ARG(latents->ndim == 4 && latents->shape[1] >= 1, "VAE decode: latents must be [%lld, T>=1, h, w]",
              (long long)vae->cfg.z_dim);
    int64_t z = vae->cfg.z_dim, t = latents->shape[1], h = state->h, w = state->w, sf = vae->spatial_factor;
    int64_t lshape[4] = {z, t, h, w}, nout = lavr_vae_decode_frame_count(state, t),
            fshape[4] = {3, nout, sf * h, sf * w};
    TRY(expect_f32(latents, "VAE decode input latents", 4, lshape));
    TRY(expect_f32(frames, "VAE decode output frames", 4, fshape));

    vae_run run = {.arena = vae->arena, .bf16 = vae->opts.bf16_activations, .caches = state->caches};
    int64_t hw = h * w, stride[3] = {1, 1, 1}, pad[6] = {0};
    vae_act zin, x;
    TRY(vae_act_alloc(vae->arena, z, t, h, w, "VAE decoder latents", &zin));
    /* z̃ = z / (1/std) + mean, as the reference divides by its stored reciprocal; the float32
     * latents meet the bf16 constants in fp32 and are rounded once, at conv2's input (autocast). */
    const float *src = latents->data;
    for (int64_t c = 0; c < z; c++)
        for (int64_t i = 0; i < t * hw; i++) {
            float v = src[c * t * hw + i] / vae->inv_std[c] + vae->mean[c];
            zin.data[c * t * hw + i] = run.bf16 ? lavr_round_bf16(v) : v;
        }
    lavr_status st = vae_conv_apply(&run, &vae->conv2, &zin, stride, pad, &x);
    vae_act_free(vae->arena, &zin);
    TRY(st);

    /* The stream's first latent is a chunk of its own (both time upsamplers skipped, 1 frame out);
     * everything else goes through in one chunk, which the caches make equal to any other split. */
    int64_t c2 = x.c, first = state->position == 0 ? 1 : 0, written = 0, fhw = sf * h * sf * w;
    float *dst = frames->data;
    for (int part = 0; part < 2; part++) {
        int64_t start = part == 0 ? 0 : first, n = part == 0 ? first : t - first;
        if (n == 0) continue;
        vae_act chunk;
        TRY_GOTO(vae_act_alloc(vae->arena, c2, n, h, w, "VAE decoder chunk", &chunk), st, done);
        for (int64_t c = 0; c < c2; c++)
            memcpy(chunk.data + c * n * hw, x.data + (c * t + start) * hw, (size_t)(n * hw) * sizeof(float));
        run.first_chunk = state->position == 0;
        st = vae_net_forward(&vae->decoder, &run, &chunk);
        if (st) {
            vae_act_free(vae->arena, &chunk);
            goto done;
        }
        for (int64_t c = 0; c < 3; c++)
            for (int64_t i = 0; i < chunk.t * fhw; i++) {
                float v = chunk.data[c * chunk.t * fhw + i];
                dst[(c * nout + written) * fhw + i] = v < -1.0f ? -1.0f : v > 1.0f ? 1.0f : v;
            }
        written += chunk.t;
        state->position += n;
        vae_act_free(vae->arena, &chunk);
    }
    if (written != nout) st = LAVR_FAIL(LAVR_E_INTERNAL, "VAE decode produced %lld frames, expected %lld",
                                        (long long)written, (long long)nout);
done:
    vae_act_free(vae->arena, &x);
    return st;
}
