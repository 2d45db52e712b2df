/* Tensor inventories (models/config.h): every official state-dict name and shape each component's
 * config implies, in a fixed order. Checkpoint writers, loaders and `lavr init` all walk these. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "models/config.h"

typedef struct {
    lavr_inventory_fn fn;
    void *user;
    lavr_dtype dtype;
} walker;

static lavr_status emit(walker *w, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static lavr_status emit(walker *w, int ndim, const int64_t *shape, const char *fmt, ...) {
    lavr_tensor_spec s;
    memset(&s, 0, sizeof s);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s.name, sizeof s.name, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof s.name) return LAVR_FAIL(LAVR_E_INTERNAL, "tensor name too long: %s...", s.name);
    s.ndim = ndim;
    for (int i = 0; i < ndim; i++) s.shape[i] = shape[i];
    s.dtype = w->dtype;
    return w->fn(&s, w->user);
}

/* Shapes are written inline as compound literals: T(w, SHAPE(a, b), "name"). */
#define SHAPE(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__}
#define T(w, ...) TRY(emit(w, __VA_ARGS__))

/* A Linear / Conv: weight [out, in, k...] and bias [out]. */
static lavr_status linear(walker *w, const char *name, int64_t out, int64_t in) {
    T(w, SHAPE(out, in), "%s.weight", name);
    T(w, SHAPE(out), "%s.bias", name);
    return LAVR_OK;
}

/* ---- DiT (model-spec §1.2) ----------------------------------------------------------------- */

lavr_status lavr_dit_inventory(const lavr_dit_config *c, lavr_inventory_fn fn, void *user) {
    CHECK_ARG(c && fn, "lavr_dit_inventory: NULL argument");
    walker w = {fn, user, LAVR_BF16};
    const int64_t d = c->dim, pt = c->patch[0], ph = c->patch[1], pw = c->patch[2];

    /* embeddings */
    T(&w, SHAPE(d, c->in_dim, pt, ph, pw), "patch_embedding.weight");
    T(&w, SHAPE(d), "patch_embedding.bias");
    T(&w, SHAPE(d, c->cond_dim, pt, ph, pw), "cond_encoder.weight");
    T(&w, SHAPE(d), "cond_encoder.bias");
    TRY(linear(&w, "text_embedding.0", d, c->text_dim));
    TRY(linear(&w, "text_embedding.2", d, d));
    TRY(linear(&w, "time_embedding.0", d, c->freq_dim));
    TRY(linear(&w, "time_embedding.2", d, d));
    TRY(linear(&w, "time_projection.1", 6 * d, d));

    /* transformer blocks, 27 tensors each */
    for (int64_t i = 0; i < c->num_layers; i++) {
        char p[64];
        T(&w, SHAPE(1, 6, d), "blocks.%lld.modulation", (long long)i);
        static const char *const attn_kinds[] = {"self_attn", "cross_attn"};
        for (int a = 0; a < 2; a++) {
            static const char *const proj[] = {"q", "k", "v", "o"};
            for (int k = 0; k < 4; k++) {
                snprintf(p, sizeof p, "blocks.%lld.%s.%s", (long long)i, attn_kinds[a], proj[k]);
                TRY(linear(&w, p, d, d));
            }
            T(&w, SHAPE(d), "blocks.%lld.%s.norm_q.weight", (long long)i, attn_kinds[a]);
            T(&w, SHAPE(d), "blocks.%lld.%s.norm_k.weight", (long long)i, attn_kinds[a]);
            if (a == 0) {
                T(&w, SHAPE(d), "blocks.%lld.norm3.weight", (long long)i);
                T(&w, SHAPE(d), "blocks.%lld.norm3.bias", (long long)i);
            }
        }
        snprintf(p, sizeof p, "blocks.%lld.ffn.0", (long long)i);
        TRY(linear(&w, p, c->ffn_dim, d));
        snprintf(p, sizeof p, "blocks.%lld.ffn.2", (long long)i);
        TRY(linear(&w, p, d, c->ffn_dim));
    }

    /* head and the ref/motion token-type embedding */
    T(&w, SHAPE(1, 2, d), "head.modulation");
    TRY(linear(&w, "head.head", c->out_dim * pt * ph * pw, d));
    T(&w, SHAPE(3, d), "trainable_cond_mask.weight");

    /* FramePack: fixed kernels (1,2,2), (2,4,4), (4,8,8) on latent channels (§1.6) */
    T(&w, SHAPE(d, c->in_dim, 1, 2, 2), "frame_packer.proj.weight");
    T(&w, SHAPE(d), "frame_packer.proj.bias");
    T(&w, SHAPE(d, c->in_dim, 2, 4, 4), "frame_packer.proj_2x.weight");
    T(&w, SHAPE(d), "frame_packer.proj_2x.bias");
    T(&w, SHAPE(d, c->in_dim, 4, 8, 8), "frame_packer.proj_4x.weight");
    T(&w, SHAPE(d), "frame_packer.proj_4x.bias");

    /* CausalAudioEncoder (§3.3): local branch dim/4 per token, global dim/4, shared dim/2 -> dim */
    const int64_t quarter = d / 4, half = d / 2;
    T(&w, SHAPE(1, c->audio_num_states, 1, 1), "casual_audio_encoder.weights");
    T(&w, SHAPE(quarter * c->num_audio_token, c->audio_dim, 3), "casual_audio_encoder.encoder.conv1_local.conv.weight");
    T(&w, SHAPE(quarter * c->num_audio_token), "casual_audio_encoder.encoder.conv1_local.conv.bias");
    T(&w, SHAPE(quarter, c->audio_dim, 3), "casual_audio_encoder.encoder.conv1_global.conv.weight");
    T(&w, SHAPE(quarter), "casual_audio_encoder.encoder.conv1_global.conv.bias");
    T(&w, SHAPE(half, quarter, 3), "casual_audio_encoder.encoder.conv2.conv.weight");
    T(&w, SHAPE(half), "casual_audio_encoder.encoder.conv2.conv.bias");
    T(&w, SHAPE(d, half, 3), "casual_audio_encoder.encoder.conv3.conv.weight");
    T(&w, SHAPE(d), "casual_audio_encoder.encoder.conv3.conv.bias");
    TRY(linear(&w, "casual_audio_encoder.encoder.final_linear", d, d));
    T(&w, SHAPE(1, 1, 1, d), "casual_audio_encoder.encoder.padding_tokens");

    /* audio injector: one cross-attention and one AdaLN per injection layer (§1.8) */
    for (int j = 0; j < c->n_inject; j++) {
        static const char *const proj[] = {"q", "k", "v", "o"};
        char p[64];
        for (int k = 0; k < 4; k++) {
            snprintf(p, sizeof p, "audio_injector.injector.%d.%s", j, proj[k]);
            TRY(linear(&w, p, d, d));
        }
        T(&w, SHAPE(d), "audio_injector.injector.%d.norm_q.weight", j);
        T(&w, SHAPE(d), "audio_injector.injector.%d.norm_k.weight", j);
    }
    for (int j = 0; j < c->n_inject; j++) {
        char p[64];
        snprintf(p, sizeof p, "audio_injector.injector_adain_layers.%d.linear", j);
        TRY(linear(&w, p, 2 * d, d));
    }
    return LAVR_OK;
}

/* ---- umT5 encoder (§4) --------------------------------------------------------------------- */

lavr_status lavr_t5_inventory(const lavr_t5_config *c, lavr_inventory_fn fn, void *user) {
    CHECK_ARG(c && fn, "lavr_t5_inventory: NULL argument");
    walker w = {fn, user, LAVR_BF16};
    T(&w, SHAPE(c->vocab, c->dim), "token_embedding.weight");
    for (int64_t l = 0; l < c->num_layers; l++) {
        long long i = (long long)l;
        T(&w, SHAPE(c->dim), "blocks.%lld.norm1.weight", i);
        T(&w, SHAPE(c->dim_attn, c->dim), "blocks.%lld.attn.q.weight", i);
        T(&w, SHAPE(c->dim_attn, c->dim), "blocks.%lld.attn.k.weight", i);
        T(&w, SHAPE(c->dim_attn, c->dim), "blocks.%lld.attn.v.weight", i);
        T(&w, SHAPE(c->dim, c->dim_attn), "blocks.%lld.attn.o.weight", i);
        T(&w, SHAPE(c->dim), "blocks.%lld.norm2.weight", i);
        T(&w, SHAPE(c->dim_ffn, c->dim), "blocks.%lld.ffn.gate.0.weight", i);
        T(&w, SHAPE(c->dim_ffn, c->dim), "blocks.%lld.ffn.fc1.weight", i);
        T(&w, SHAPE(c->dim, c->dim_ffn), "blocks.%lld.ffn.fc2.weight", i);
        T(&w, SHAPE(c->num_buckets, c->num_heads), "blocks.%lld.pos_embedding.embedding.weight", i);
    }
    T(&w, SHAPE(c->dim), "norm.weight");
    return LAVR_OK;
}

/* ---- Wan2.1 VAE (§5.2) --------------------------------------------------------------------- */

static lavr_status conv3d(walker *w, const char *name, int64_t out, int64_t in, int64_t kt, int64_t kh, int64_t kw) {
    T(w, SHAPE(out, in, kt, kh, kw), "%s.weight", name);
    T(w, SHAPE(out), "%s.bias", name);
    return LAVR_OK;
}

static lavr_status conv2d(walker *w, const char *name, int64_t out, int64_t in, int64_t k) {
    T(w, SHAPE(out, in, k, k), "%s.weight", name);
    T(w, SHAPE(out), "%s.bias", name);
    return LAVR_OK;
}

/* ResidualBlock: RMS_norm, SiLU, CausalConv3d 3^3, RMS_norm, SiLU, dropout, CausalConv3d 3^3
 * (indices 0, 2, 3, 6) plus a 1x1x1 shortcut when the width changes. */
static lavr_status res_block(walker *w, const char *prefix, int64_t in, int64_t out) {
    char p[128];
    T(w, SHAPE(in, 1, 1, 1), "%s.residual.0.gamma", prefix);
    snprintf(p, sizeof p, "%s.residual.2", prefix);
    TRY(conv3d(w, p, out, in, 3, 3, 3));
    T(w, SHAPE(out, 1, 1, 1), "%s.residual.3.gamma", prefix);
    snprintf(p, sizeof p, "%s.residual.6", prefix);
    TRY(conv3d(w, p, out, out, 3, 3, 3));
    if (in != out) {
        snprintf(p, sizeof p, "%s.shortcut", prefix);
        TRY(conv3d(w, p, out, in, 1, 1, 1));
    }
    return LAVR_OK;
}

static lavr_status attn_block(walker *w, const char *prefix, int64_t c) {
    char p[128];
    T(w, SHAPE(c, 1, 1), "%s.norm.gamma", prefix);
    snprintf(p, sizeof p, "%s.to_qkv", prefix);
    TRY(conv2d(w, p, 3 * c, c, 1));
    snprintf(p, sizeof p, "%s.proj", prefix);
    TRY(conv2d(w, p, c, c, 1));
    return LAVR_OK;
}

static lavr_status middle(walker *w, const char *part, int64_t c) {
    char p[64];
    snprintf(p, sizeof p, "%s.middle.0", part);
    TRY(res_block(w, p, c, c));
    snprintf(p, sizeof p, "%s.middle.1", part);
    TRY(attn_block(w, p, c));
    snprintf(p, sizeof p, "%s.middle.2", part);
    TRY(res_block(w, p, c, c));
    return LAVR_OK;
}

lavr_status lavr_vae_inventory(const lavr_vae_config *c, lavr_inventory_fn fn, void *user) {
    CHECK_ARG(c && fn, "lavr_vae_inventory: NULL argument");
    walker w = {fn, user, LAVR_F32};
    const int levels = 4;
    char p[64];

    /* Encoder3d: widths dim*[1, mult...]; num_res_blocks per level, then a downsample except at the last. */
    int64_t enc[5] = {c->dim};
    for (int i = 0; i < levels; i++) enc[i + 1] = c->dim * c->dim_mult[i];
    TRY(conv3d(&w, "encoder.conv1", enc[0], 3, 3, 3, 3));
    int idx = 0;
    for (int i = 0; i < levels; i++) {
        int64_t in = enc[i], out = enc[i + 1];
        for (int64_t r = 0; r < c->num_res_blocks; r++) {
            snprintf(p, sizeof p, "encoder.downsamples.%d", idx++);
            TRY(res_block(&w, p, in, out));
            in = out;
        }
        if (i == levels - 1) continue;
        snprintf(p, sizeof p, "encoder.downsamples.%d.resample.1", idx);
        TRY(conv2d(&w, p, out, out, 3));
        if (c->temporal_downsample[i]) {
            snprintf(p, sizeof p, "encoder.downsamples.%d.time_conv", idx);
            TRY(conv3d(&w, p, out, out, 3, 1, 1));
        }
        idx++;
    }
    const int64_t top = enc[levels];
    TRY(middle(&w, "encoder", top));
    T(&w, SHAPE(top, 1, 1, 1), "encoder.head.0.gamma");
    TRY(conv3d(&w, "encoder.head.2", 2 * c->z_dim, top, 3, 3, 3));
    TRY(conv3d(&w, "conv1", 2 * c->z_dim, 2 * c->z_dim, 1, 1, 1));
    TRY(conv3d(&w, "conv2", c->z_dim, c->z_dim, 1, 1, 1));

    /* Decoder3d: widths dim*[mult[-1], reversed mult...]; num_res_blocks+1 per level; every
     * upsample halves the width (Conv2d C -> C/2), so levels after the first start at half. */
    int64_t dec[5] = {c->dim * c->dim_mult[levels - 1]};
    for (int i = 0; i < levels; i++) dec[i + 1] = c->dim * c->dim_mult[levels - 1 - i];
    TRY(conv3d(&w, "decoder.conv1", dec[0], c->z_dim, 3, 3, 3));
    TRY(middle(&w, "decoder", dec[0]));
    idx = 0;
    for (int i = 0; i < levels; i++) {
        int64_t in = i > 0 ? dec[i] / 2 : dec[i], out = dec[i + 1];
        for (int64_t r = 0; r <= c->num_res_blocks; r++) {
            snprintf(p, sizeof p, "decoder.upsamples.%d", idx++);
            TRY(res_block(&w, p, in, out));
            in = out;
        }
        if (i == levels - 1) continue;
        /* temporal upsampling mirrors the encoder: temperal_downsample reversed */
        if (c->temporal_downsample[levels - 2 - i]) {
            snprintf(p, sizeof p, "decoder.upsamples.%d.time_conv", idx);
            TRY(conv3d(&w, p, 2 * out, out, 3, 1, 1));
        }
        snprintf(p, sizeof p, "decoder.upsamples.%d.resample.1", idx);
        TRY(conv2d(&w, p, out / 2, out, 3));
        idx++;
    }
    const int64_t last = dec[levels];
    T(&w, SHAPE(last, 1, 1, 1), "decoder.head.0.gamma");
    TRY(conv3d(&w, "decoder.head.2", 3, last, 3, 3, 3));
    return LAVR_OK;
}

/* ---- wav2vec2 (§3.1, HF Wav2Vec2ForCTC names) ----------------------------------------------- */

lavr_status lavr_w2v_inventory(const lavr_w2v_config *c, lavr_inventory_fn fn, void *user) {
    CHECK_ARG(c && fn, "lavr_w2v_inventory: NULL argument");
    walker w = {fn, user, LAVR_F32};
    const int64_t h = c->hidden;
    if (c->masked_spec_embed) T(&w, SHAPE(h), "wav2vec2.masked_spec_embed");
    int64_t in = 1;
    for (int i = 0; i < c->n_conv; i++) {
        const int64_t out = c->conv_dim[i];
        T(&w, SHAPE(out, in, c->conv_kernel[i]), "wav2vec2.feature_extractor.conv_layers.%d.conv.weight", i);
        if (c->conv_bias) T(&w, SHAPE(out), "wav2vec2.feature_extractor.conv_layers.%d.conv.bias", i);
        T(&w, SHAPE(out), "wav2vec2.feature_extractor.conv_layers.%d.layer_norm.weight", i);
        T(&w, SHAPE(out), "wav2vec2.feature_extractor.conv_layers.%d.layer_norm.bias", i);
        in = out;
    }
    T(&w, SHAPE(in), "wav2vec2.feature_projection.layer_norm.weight");
    T(&w, SHAPE(in), "wav2vec2.feature_projection.layer_norm.bias");
    TRY(linear(&w, "wav2vec2.feature_projection.projection", h, in));
    /* weight norm over dim 2 through torch parametrizations: original0 = g, original1 = v */
    T(&w, SHAPE(h), "wav2vec2.encoder.pos_conv_embed.conv.bias");
    T(&w, SHAPE(1, 1, c->pos_conv_kernel), "wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight.original0");
    T(&w, SHAPE(h, h / c->pos_conv_groups, c->pos_conv_kernel),
      "wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight.original1");
    T(&w, SHAPE(h), "wav2vec2.encoder.layer_norm.weight");
    T(&w, SHAPE(h), "wav2vec2.encoder.layer_norm.bias");
    for (int64_t l = 0; l < c->num_layers; l++) {
        static const char *const proj[] = {"q_proj", "k_proj", "v_proj", "out_proj"};
        char p[96];
        for (int k = 0; k < 4; k++) {
            snprintf(p, sizeof p, "wav2vec2.encoder.layers.%lld.attention.%s", (long long)l, proj[k]);
            TRY(linear(&w, p, h, h));
        }
        T(&w, SHAPE(h), "wav2vec2.encoder.layers.%lld.layer_norm.weight", (long long)l);
        T(&w, SHAPE(h), "wav2vec2.encoder.layers.%lld.layer_norm.bias", (long long)l);
        snprintf(p, sizeof p, "wav2vec2.encoder.layers.%lld.feed_forward.intermediate_dense", (long long)l);
        TRY(linear(&w, p, c->intermediate, h));
        snprintf(p, sizeof p, "wav2vec2.encoder.layers.%lld.feed_forward.output_dense", (long long)l);
        TRY(linear(&w, p, h, c->intermediate));
        T(&w, SHAPE(h), "wav2vec2.encoder.layers.%lld.final_layer_norm.weight", (long long)l);
        T(&w, SHAPE(h), "wav2vec2.encoder.layers.%lld.final_layer_norm.bias", (long long)l);
    }
    if (c->vocab_size > 0) TRY(linear(&w, "lm_head", c->vocab_size, h));
    return LAVR_OK;
}
