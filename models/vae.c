/* Wan2.1 VAE front end (models/vae.h): weights, latent normalisation, the chunked encoder and the
 * streaming decoder with its checkpointable state; the layers themselves run in models/vae_layers.c on the
 * VAE's execution context. Inputs, outputs and the (tiny) latent normalisation stay on the host. */
#include "models/vae.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "kernels/video_ops.h"
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
    lavr_ctx *ctx, *own_ctx; /* own_ctx: the CPU context made when the options give none */
    vae_net encoder, decoder;
    vae_conv conv1, conv2; /* top level: encoder output -> mu‖logvar, latent -> decoder input */
    float mean[16], inv_std[16];
    int64_t spatial_factor, temporal_factor;
};

struct lavr_vae_decoder_state {
    const lavr_vae *vae;
    lavr_arena *arena;
    int64_t h, w;
    int64_t position;    /* latent frames decoded so far; 0 = stream start */
    lavr_tensor *caches; /* one video tensor per decoder slot, [C, frames, h', w'], on the VAE's context */
};

lavr_vae_options lavr_vae_options_default(void) {
    lavr_vae_options o = {.bf16_activations = 1, .fp32_latent_scale = 0, .ctx = NULL};
    return o;
}

int64_t lavr_vae_spatial_factor(const lavr_vae *vae) { return vae->spatial_factor; }
lavr_ctx *lavr_vae_ctx(const lavr_vae *vae) { return vae->ctx; }

void lavr_vae_destroy(lavr_vae *vae) {
    if (!vae) return;
    if (vae->ctx) {
        vae_net_free(&vae->encoder, vae->ctx);
        vae_net_free(&vae->decoder, vae->ctx);
        vae_conv_free(&vae->conv1, vae->ctx);
        vae_conv_free(&vae->conv2, vae->ctx);
    }
    lavr_ctx_destroy(vae->own_ctx);
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

static lavr_status create(const vae_source *src, const lavr_vae_config *cfg, const lavr_vae_options *opts,
                          lavr_arena *arena, lavr_vae **out) {
    CHECK_ARG(cfg && arena && out, "lavr_vae_create: config, arena and output are required");
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
    int64_t z2 = 2 * cfg->z_dim, c1[5] = {z2, z2, 1, 1, 1}, c2[5] = {cfg->z_dim, cfg->z_dim, 1, 1, 1};
    lavr_status st;
    if (vae->opts.ctx) {
        vae->ctx = vae->opts.ctx;
    } else {
        TRY_GOTO(lavr_ctx_create_cpu(arena, &vae->own_ctx), st, fail);
        vae->ctx = vae->own_ctx;
    }
    if (lavr_ctx_device(vae->ctx) != LAVR_DEVICE_CPU && !vae->opts.bf16_activations) {
        st = LAVR_FAIL(LAVR_E_ARG, "the VAE on %s runs with bf16 activations only (fp32 activations: the CPU)",
                       lavr_ctx_describe(vae->ctx));
        goto fail;
    }
    TRY_GOTO(vae_net_build_encoder(src, cfg, vae->ctx, &vae->encoder), st, fail);
    TRY_GOTO(vae_net_build_decoder(src, cfg, vae->ctx, &vae->decoder), st, fail);
    TRY_GOTO(vae_conv_load(src, "conv1", 5, c1, vae->ctx, &vae->conv1), st, fail);
    TRY_GOTO(vae_conv_load(src, "conv2", 5, c2, vae->ctx, &vae->conv2), st, fail);
    *out = vae;
    return LAVR_OK;
fail:
    lavr_vae_destroy(vae);
    return st;
}

lavr_status lavr_vae_create(lavr_h5file *f, const char *prefix, const lavr_vae_config *cfg,
                            const lavr_vae_options *opts, lavr_arena *arena, lavr_vae **out) {
    CHECK_ARG(f, "lavr_vae_create: no file");
    const vae_source src = {.f = f, .prefix = prefix ? prefix : ""};
    lavr_status st = create(&src, cfg, opts, arena, out);
    return st ? lavr_error_wrap(st, "loading the VAE from %s", lavr_h5_path(f)) : LAVR_OK;
}

lavr_status lavr_vae_create_generated(const lavr_vae_config *cfg, uint64_t seed, const lavr_vae_options *opts,
                                      lavr_arena *arena, lavr_vae **out) {
    const vae_source src = {.generated = 1, .seed = seed};
    lavr_status st = create(&src, cfg, opts, arena, out);
    return st ? lavr_error_wrap(st, "making the VAE's weights (seed %llu)", (unsigned long long)seed) : LAVR_OK;
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

/* ---- caches ----------------------------------------------------------------------------------- */

/* One zeroed video tensor per slot of the net for latents (or frames) of h x w. */
static lavr_status alloc_caches(const vae_net *net, lavr_ctx *ctx, int64_t h, int64_t w, lavr_tensor *caches) {
    for (int s = 0; s < net->nslots; s++) {
        const vae_slot *sl = &net->slots[s];
        TRY(lavr_ctx_alloc_video(ctx, sl->channels, sl->frames, h * sl->scale_num / sl->scale_den,
                                 w * sl->scale_num / sl->scale_den, sl->name, &caches[s]));
        TRY(lavr_vop_zero(ctx, &caches[s]));
    }
    return LAVR_OK;
}

static void free_caches(const vae_net *net, lavr_ctx *ctx, lavr_tensor *caches) {
    if (!caches) return;
    for (int s = 0; s < net->nslots; s++) lavr_ctx_free(ctx, &caches[s]);
}

/* ---- encoder ---------------------------------------------------------------------------------- */

/* Encoder output chunk [2z, 1, h, w] -> top conv1 -> latent frame (μ − mean)·(1/std), on the host. */
static lavr_status encode_head(lavr_vae *vae, vae_run *run, const lavr_tensor *enc, float *latent, int64_t nlat,
                               int64_t index) {
    lavr_tensor mu = {0}, mu_host = {0};
    TRY(vae_conv_apply(run, &vae->conv1, enc, &mu));
    const int64_t hw = enc->shape[2] * enc->shape[3];
    lavr_status st = lavr_tensor_alloc(vae->arena, LAVR_F32, 4, mu.shape, "VAE encoder mu", &mu_host);
    if (!st) st = lavr_ctx_copy(run->ctx, &mu, &mu_host);
    lavr_ctx_free(run->ctx, &mu);
    if (st) {
        lavr_tensor_free(&mu_host);
        return st;
    }
    for (int64_t c = 0; c < vae->cfg.z_dim; c++) {
        const float *src = (const float *)mu_host.data + c * hw;
        float *dst = latent + (c * nlat + index) * hw;
        for (int64_t p = 0; p < hw; p++) {
            float v = src[p] - vae->mean[c];
            if (run->bf16) v = lavr_round_bf16(v);
            v *= vae->inv_std[c];
            dst[p] = run->bf16 ? lavr_round_bf16(v) : v;
        }
    }
    lavr_tensor_free(&mu_host);
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
    vae_run run = {.ctx = vae->ctx, .bf16 = vae->opts.bf16_activations};
    run.caches = calloc((size_t)net->nslots + 1, sizeof *run.caches);
    if (!run.caches) return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for VAE encoder caches");
    lavr_status st;
    TRY_GOTO(alloc_caches(net, vae->ctx, h, w, run.caches), st, done);
    /* Reference chunks: frame 0 alone, then tf frames at a time. */
    for (int64_t index = 0, start = 0; index < nlat; index++) {
        int64_t n = index == 0 ? 1 : tf;
        if (nlat > 1) lavr_log_progress("VAE encoder", start, t, "frames");
        lavr_tensor x = {0}, src;
        TRY_GOTO(lavr_tensor_narrow(video, 1, start, n, &src), st, done);
        TRY_GOTO(lavr_ctx_alloc_video(vae->ctx, 3, n, h, w, "VAE encoder chunk", &x), st, done);
        st = lavr_ctx_copy(vae->ctx, &src, &x);
        if (!st && run.bf16) st = lavr_vop_add(vae->ctx, &x, NULL, NULL, NULL, 1, &x); /* the input cast to bf16 */
        run.first_chunk = index == 0;
        if (!st) st = vae_net_forward(net, &run, &x);
        if (!st) st = encode_head(vae, &run, &x, latent->data, nlat, index);
        lavr_ctx_free(vae->ctx, &x);
        if (st) goto done;
        start += n;
    }
    if (nlat > 1) lavr_log_progress("VAE encoder", t, t, "frames");
done:
    free_caches(net, vae->ctx, run.caches);
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
    if (!s || !s->caches) {
        free(s);
        return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for the VAE decoder state");
    }
    s->vae = vae;
    s->arena = arena;
    s->h = h;
    s->w = w;
    lavr_status st = alloc_caches(&vae->decoder, vae->ctx, h, w, s->caches);
    if (st) {
        lavr_vae_decoder_state_destroy(s);
        return st;
    }
    *out = s;
    return LAVR_OK;
}

void lavr_vae_decoder_state_destroy(lavr_vae_decoder_state *s) {
    if (!s) return;
    free_caches(&s->vae->decoder, s->vae->ctx, s->caches);
    free(s->caches);
    free(s);
}

void lavr_vae_decoder_state_reset(lavr_vae_decoder_state *s) {
    for (int i = 0; i < s->vae->decoder.nslots; i++) {
        lavr_status st = lavr_vop_zero(s->vae->ctx, &s->caches[i]);
        (void)st; /* the caches are video tensors of the context: zeroing them cannot fail on arguments */
    }
    s->position = 0;
}

int64_t lavr_vae_decoder_state_position(const lavr_vae_decoder_state *s) { return s->position; }

int64_t lavr_vae_decode_frame_count(const lavr_vae_decoder_state *s, int64_t t) {
    int64_t tf = s->vae->temporal_factor;
    if (t <= 0) return 0;
    return s->position == 0 ? 1 + tf * (t - 1) : tf * t;
}

lavr_status lavr_vae_decoder_state_visit(const lavr_vae_decoder_state *s, lavr_vae_state_visit_fn fn, void *user) {
    CHECK_ARG(s && fn, "lavr_vae_decoder_state_visit: state and function are required");
    int64_t one = 1, position = s->position;
    lavr_tensor pos = lavr_tensor_wrap(LAVR_I64, 1, &one, &position);
    TRY(fn("position", &pos, user));
    lavr_ctx *ctx = s->vae->ctx;
    for (int i = 0; i < s->vae->decoder.nslots; i++) {
        char name[128];
        snprintf(name, sizeof name, "%s.cache", s->vae->decoder.slots[i].name);
        const lavr_tensor *cache = &s->caches[i];
        if (cache->device == LAVR_DEVICE_CPU) {
            TRY(fn(name, cache, user));
            continue;
        }
        lavr_tensor host;
        TRY(lavr_tensor_alloc(s->arena, LAVR_F32, 4, cache->shape, "VAE decoder state (host copy)", &host));
        lavr_status st = lavr_ctx_copy(ctx, cache, &host);
        if (!st) st = fn(name, &host, user);
        lavr_tensor_free(&host);
        TRY(st);
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
        lavr_tensor *dst = &s->caches[i];
        lavr_tensor ref;
        TRY(lavr_tensor_desc(LAVR_F32, 4, dst->shape, &ref));
        lavr_tensor_describe(&ref, want, sizeof want);
        CHECK_ARG(lavr_tensor_same_shape(dst, t), "VAE decoder state '%s' has shape %s, expected %s", name, got, want);
        if (dst->device == LAVR_DEVICE_CPU) return lavr_tensor_copy(dst, t);
        /* to the device through an F32 host copy in the context's layout-free form */
        lavr_tensor host;
        TRY(lavr_tensor_alloc(s->arena, LAVR_F32, 4, dst->shape, "VAE decoder state (host copy)", &host));
        lavr_status st = lavr_tensor_copy(&host, t);
        if (!st) st = lavr_ctx_copy(s->vae->ctx, &host, dst);
        lavr_tensor_free(&host);
        return st;
    }
    return LAVR_FAIL(LAVR_E_FORMAT, "VAE decoder state has no tensor named '%s'", name);
}

/* ---- decoder ---------------------------------------------------------------------------------- */

/* One chunk of n latents of conv2's output x starting at `start` -> frames written from frame *written on. */
static lavr_status decode_chunk(lavr_vae *vae, lavr_vae_decoder_state *state, vae_run *run, const lavr_tensor *x,
                                int64_t start, int64_t n, lavr_tensor *frames, int64_t *written) {
    lavr_ctx *ctx = vae->ctx;
    lavr_tensor chunk = {0}, src = {0}, dst;
    TRY(lavr_tensor_narrow(x, 1, start, n, &src));
    TRY(lavr_ctx_alloc_video(ctx, x->shape[0], n, x->shape[2], x->shape[3], "VAE decoder chunk", &chunk));
    lavr_status st = lavr_vop_copy(ctx, &src, &chunk);
    run->first_chunk = state->position == 0;
    if (!st) st = vae_net_forward(&vae->decoder, run, &chunk);
    if (!st && *written + chunk.shape[1] > frames->shape[1])
        st = LAVR_FAIL(LAVR_E_INTERNAL, "VAE decode produced more frames than expected (%lld)",
                       (long long)frames->shape[1]);
    if (!st) st = lavr_vop_clamp(ctx, &chunk, -1.0f, 1.0f, &chunk);
    if (!st) st = lavr_tensor_narrow(frames, 1, *written, chunk.shape[1], &dst);
    if (!st) st = lavr_ctx_copy(ctx, &chunk, &dst);
    if (!st) {
        *written += chunk.shape[1];
        state->position += n;
    }
    lavr_ctx_free(ctx, &chunk);
    return st;
}

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

    lavr_ctx *ctx = vae->ctx;
    vae_run run = {.ctx = ctx, .bf16 = vae->opts.bf16_activations, .caches = state->caches};
    int64_t hw = h * w;
    lavr_tensor zhost = {0}, zin = {0}, x = {0};
    lavr_status st;
    TRY(lavr_tensor_alloc(vae->arena, LAVR_F32, 4, lshape, "VAE decoder latents", &zhost));
    /* z̃ = z / (1/std) + mean, as the reference divides by its stored reciprocal; the float32
     * latents meet the bf16 constants in fp32 and are rounded once, at conv2's input (autocast). */
    const float *src = latents->data;
    float *zd = zhost.data;
    for (int64_t c = 0; c < z; c++)
        for (int64_t i = 0; i < t * hw; i++) {
            float v = src[c * t * hw + i] / vae->inv_std[c] + vae->mean[c];
            zd[c * t * hw + i] = run.bf16 ? lavr_round_bf16(v) : v;
        }
    TRY_GOTO(lavr_ctx_alloc_video(ctx, z, t, h, w, "VAE decoder latents", &zin), st, done);
    TRY_GOTO(lavr_ctx_copy(ctx, &zhost, &zin), st, done);
    TRY_GOTO(vae_conv_apply(&run, &vae->conv2, &zin, &x), st, done);
    lavr_ctx_free(ctx, &zin);

    /* The stream's first latent is a chunk of its own (both time upsamplers skipped, 1 frame out); the
     * rest goes in chunks of up to LAVR_VAE_DECODE_CHUNK, which the caches make equal to any other split. */
    int64_t written = 0;
    for (int64_t start = 0; start < t;) {
        const int64_t n = state->position == 0 ? 1 : (t - start < LAVR_VAE_DECODE_CHUNK ? t - start
                                                                                       : LAVR_VAE_DECODE_CHUNK);
        TRY_GOTO(decode_chunk(vae, state, &run, &x, start, n, frames, &written), st, done);
        start += n;
    }
    if (written != nout)
        st = LAVR_FAIL(LAVR_E_INTERNAL, "VAE decode produced %lld frames, expected %lld", (long long)written,
                       (long long)nout);
done:
    lavr_ctx_free(ctx, &zin);
    lavr_ctx_free(ctx, &x);
    lavr_tensor_free(&zhost);
    return st;
}
