/* Model configuration (models/config.h): the `tiny` and `s2v-14b` presets, cross-component
 * validation, and JSON in/out with the official constructor-argument key names. */
#include "models/config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- presets ------------------------------------------------------------------------------- */

/* The real LiveAvatar / Wan2.2-S2V-14B set: model-spec.md §1.1 (DiT), §4 (umT5-XXL), §5 (VAE),
 * §3.1 (wav2vec2-large-xlsr-53; the CTC head is left out, masked_spec_embed kept as in the file). */
static void preset_s2v_14b(lavr_model_config *c) {
    static const int64_t inject[] = {0, 4, 8, 12, 16, 20, 24, 27, 30, 33, 36, 39};
    lavr_dit_config *d = &c->dit;
    d->dim = 5120, d->ffn_dim = 13824, d->num_heads = 40, d->num_layers = 40;
    d->in_dim = 16, d->out_dim = 16, d->freq_dim = 256;
    d->text_dim = 4096, d->text_len = 512;
    d->cond_dim = 16, d->audio_dim = 1024, d->num_audio_token = 4, d->audio_num_states = 25;
    d->patch[0] = 1, d->patch[1] = 2, d->patch[2] = 2;
    d->eps = 1e-6;
    d->n_inject = (int)(sizeof inject / sizeof inject[0]);
    memcpy(d->inject_layers, inject, sizeof inject);
    d->motion_frames = 73, d->frames_per_block = 3;

    c->t5 = (lavr_t5_config){.vocab = 256384, .dim = 4096, .dim_attn = 4096, .dim_ffn = 10240, .num_heads = 64,
                             .num_layers = 24, .num_buckets = 32, .max_distance = 128, .eps = 1e-6};
    c->vae = (lavr_vae_config){.dim = 96, .z_dim = 16, .dim_mult = {1, 2, 4, 4}, .num_res_blocks = 2,
                               .temporal_downsample = {0, 1, 1}};
    lavr_w2v_config *w = &c->w2v;
    *w = (lavr_w2v_config){.hidden = 1024, .num_layers = 24, .num_heads = 16, .intermediate = 4096, .n_conv = 7,
                           .conv_kernel = {10, 3, 3, 3, 3, 2, 2}, .conv_stride = {5, 2, 2, 2, 2, 2, 2},
                           .pos_conv_kernel = 128, .pos_conv_groups = 16, .eps = 1e-5, .stable_layer_norm = 1,
                           .conv_bias = 1, .vocab_size = 0, .masked_spec_embed = 1};
    for (int i = 0; i < 7; i++) w->conv_dim[i] = 512;
}

/* Same structure, narrow enough to run end to end in seconds on two cores. Head dim stays 128 so
 * the 3-D RoPE split (44/42/42) is the real one; wav2vec2 keeps the real kernels and strides
 * (320 samples per frame, 50 Hz); audio states = wav2vec2 layers + 1. Matches the golden dit.h5 /
 * t5.h5 / vae.h5 / w2v.h5 widths where those exist (t5 vocab differs: 512 here). */
static void preset_tiny(lavr_model_config *c) {
    lavr_dit_config *d = &c->dit;
    d->dim = 256, d->ffn_dim = 512, d->num_heads = 2, d->num_layers = 4;
    d->in_dim = 16, d->out_dim = 16, d->freq_dim = 256;
    d->text_dim = 64, d->text_len = 32;
    d->cond_dim = 16, d->audio_dim = 64, d->num_audio_token = 4, d->audio_num_states = 5;
    d->patch[0] = 1, d->patch[1] = 2, d->patch[2] = 2;
    d->eps = 1e-6;
    d->n_inject = 2;
    d->inject_layers[0] = 0, d->inject_layers[1] = 2;
    d->motion_frames = 73, d->frames_per_block = 3;

    c->t5 = (lavr_t5_config){.vocab = 512, .dim = 64, .dim_attn = 64, .dim_ffn = 160, .num_heads = 4,
                             .num_layers = 3, .num_buckets = 32, .max_distance = 128, .eps = 1e-6};
    c->vae = (lavr_vae_config){.dim = 8, .z_dim = 16, .dim_mult = {1, 2, 4, 4}, .num_res_blocks = 2,
                               .temporal_downsample = {0, 1, 1}};
    lavr_w2v_config *w = &c->w2v;
    *w = (lavr_w2v_config){.hidden = 64, .num_layers = 4, .num_heads = 4, .intermediate = 128, .n_conv = 7,
                           .conv_kernel = {10, 3, 3, 3, 3, 2, 2}, .conv_stride = {5, 2, 2, 2, 2, 2, 2},
                           .pos_conv_kernel = 128, .pos_conv_groups = 16, .eps = 1e-5, .stable_layer_norm = 1,
                           .conv_bias = 1, .vocab_size = 0, .masked_spec_embed = 1};
    for (int i = 0; i < 7; i++) w->conv_dim[i] = 32;
}

lavr_status lavr_config_preset(const char *name, lavr_model_config *out) {
    CHECK_ARG(name && out, "lavr_config_preset: NULL argument");
    memset(out, 0, sizeof *out);
    if (strcmp(name, "s2v-14b") == 0) preset_s2v_14b(out);
    else if (strcmp(name, "tiny") == 0) preset_tiny(out);
    else return LAVR_FAIL(LAVR_E_ARG, "unknown model preset '%s' (presets: tiny, s2v-14b)", name);
    snprintf(out->preset, sizeof out->preset, "%s", name);
    return LAVR_OK;
}

/* ---- validation ---------------------------------------------------------------------------- */

#define NEED(cond, ...) CHECK_ARG(cond, "config: " __VA_ARGS__)

static lavr_status validate_dit(const lavr_dit_config *d) {
    NEED(d->dim > 0 && d->ffn_dim > 0 && d->num_heads > 0 && d->num_layers > 0, "dit dim, ffn_dim, num_heads, num_layers must be positive");
    NEED(d->dim % d->num_heads == 0, "dit dim %lld is not a multiple of num_heads %lld", (long long)d->dim, (long long)d->num_heads);
    int64_t dh = d->dim / d->num_heads;
    /* RoPE splits the head dim into t/h/w parts dh-4*(dh/6), 2*(dh/6), 2*(dh/6) rotated in pairs. */
    NEED(dh % 2 == 0 && dh >= 6, "dit head dim %lld must be even and at least 6 (3-D RoPE pairs)", (long long)dh);
    NEED(d->dim % 4 == 0, "dit dim %lld must be a multiple of 4 (audio encoder widths dim/4, dim/2)", (long long)d->dim);
    NEED(d->in_dim > 0 && d->out_dim > 0 && d->freq_dim > 0 && d->freq_dim % 2 == 0, "dit in_dim, out_dim must be positive and freq_dim even");
    NEED(d->text_dim > 0 && d->text_len > 0 && d->cond_dim > 0 && d->audio_dim > 0, "dit text_dim, text_len, cond_dim, audio_dim must be positive");
    NEED(d->num_audio_token > 0 && d->audio_num_states > 0, "dit num_audio_token and audio_num_states must be positive");
    NEED(d->patch[0] > 0 && d->patch[1] > 0 && d->patch[2] > 0, "dit patch_size entries must be positive");
    NEED(d->eps > 0, "dit eps must be positive");
    NEED(d->n_inject >= 1 && d->n_inject <= LAVR_MAX_INJECT, "dit needs 1..%d audio_inject_layers, got %d", LAVR_MAX_INJECT, d->n_inject);
    for (int j = 0; j < d->n_inject; j++) {
        NEED(d->inject_layers[j] >= 0 && d->inject_layers[j] < d->num_layers, "dit audio_inject_layers[%d] = %lld is outside 0..%lld", j,
             (long long)d->inject_layers[j], (long long)d->num_layers - 1);
        NEED(j == 0 || d->inject_layers[j] > d->inject_layers[j - 1], "dit audio_inject_layers must be strictly increasing");
    }
    NEED(d->motion_frames > 0 && (d->motion_frames + 3) % 4 == 0, "dit motion_frames %lld must be 4k+1 video frames", (long long)d->motion_frames);
    NEED(d->frames_per_block > 0, "dit frames_per_block must be positive");
    return LAVR_OK;
}

static lavr_status validate_t5(const lavr_t5_config *t) {
    NEED(t->vocab > 0 && t->dim > 0 && t->dim_attn > 0 && t->dim_ffn > 0 && t->num_heads > 0 && t->num_layers > 0,
         "t5 vocab, dim, dim_attn, dim_ffn, num_heads, num_layers must be positive");
    NEED(t->dim_attn % t->num_heads == 0, "t5 dim_attn %lld is not a multiple of num_heads %lld", (long long)t->dim_attn, (long long)t->num_heads);
    NEED(t->num_buckets >= 2 && t->num_buckets % 2 == 0, "t5 num_buckets %lld must be even (bidirectional halves)", (long long)t->num_buckets);
    NEED(t->max_distance > t->num_buckets / 4, "t5 max_distance %lld must exceed num_buckets/4", (long long)t->max_distance);
    NEED(t->eps > 0, "t5 eps must be positive");
    return LAVR_OK;
}

static lavr_status validate_vae(const lavr_vae_config *v) {
    NEED(v->dim > 0 && v->z_dim > 0 && v->num_res_blocks > 0, "vae dim, z_dim, num_res_blocks must be positive");
    for (int i = 0; i < 4; i++)
        NEED(v->dim_mult[i] > 0 && (v->dim * v->dim_mult[i]) % 2 == 0, "vae dim*dim_mult[%d] must be positive and even (upsampling halves it)", i);
    for (int i = 0; i < 3; i++) NEED(v->temporal_downsample[i] == 0 || v->temporal_downsample[i] == 1, "vae temperal_downsample entries must be booleans");
    return LAVR_OK;
}

static lavr_status validate_w2v(const lavr_w2v_config *w) {
    NEED(w->hidden > 0 && w->num_layers > 0 && w->num_heads > 0 && w->intermediate > 0, "wav2vec2 hidden_size, layers, heads, intermediate_size must be positive");
    NEED(w->hidden % w->num_heads == 0, "wav2vec2 hidden_size %lld is not a multiple of num_attention_heads %lld", (long long)w->hidden, (long long)w->num_heads);
    NEED(w->n_conv >= 1 && w->n_conv <= 8, "wav2vec2 needs 1..8 conv layers, got %d", w->n_conv);
    for (int i = 0; i < w->n_conv; i++)
        NEED(w->conv_dim[i] > 0 && w->conv_kernel[i] > 0 && w->conv_stride[i] > 0, "wav2vec2 conv layer %d has a non-positive dim, kernel or stride", i);
    NEED(w->pos_conv_kernel > 0 && w->pos_conv_groups > 0 && w->hidden % w->pos_conv_groups == 0,
         "wav2vec2 hidden_size %lld must be a multiple of num_conv_pos_embedding_groups %lld", (long long)w->hidden, (long long)w->pos_conv_groups);
    NEED(w->eps > 0 && w->vocab_size >= 0, "wav2vec2 layer_norm_eps must be positive and vocab_size >= 0");
    return LAVR_OK;
}

lavr_status lavr_config_validate(const lavr_model_config *cfg) {
    CHECK_ARG(cfg, "lavr_config_validate: NULL config");
    TRY(validate_dit(&cfg->dit));
    TRY(validate_t5(&cfg->t5));
    TRY(validate_vae(&cfg->vae));
    TRY(validate_w2v(&cfg->w2v));
    const lavr_dit_config *d = &cfg->dit;
    NEED(d->text_dim == cfg->t5.dim, "dit text_dim (%lld) must equal t5 dim (%lld)", (long long)d->text_dim, (long long)cfg->t5.dim);
    NEED(d->audio_dim == cfg->w2v.hidden, "dit audio_dim (%lld) must equal wav2vec2 hidden_size (%lld)", (long long)d->audio_dim, (long long)cfg->w2v.hidden);
    NEED(d->audio_num_states == cfg->w2v.num_layers + 1, "dit audio_num_states (%lld) must equal wav2vec2 layers + 1 (%lld)",
         (long long)d->audio_num_states, (long long)cfg->w2v.num_layers + 1);
    NEED(d->in_dim == cfg->vae.z_dim, "dit in_dim (%lld) must equal vae z_dim (%lld)", (long long)d->in_dim, (long long)cfg->vae.z_dim);
    NEED(d->out_dim == cfg->vae.z_dim, "dit out_dim (%lld) must equal vae z_dim (%lld)", (long long)d->out_dim, (long long)cfg->vae.z_dim);
    NEED(d->cond_dim == cfg->vae.z_dim, "dit cond_dim (%lld) must equal vae z_dim (%lld): pose latents come from the VAE",
         (long long)d->cond_dim, (long long)cfg->vae.z_dim);
    return LAVR_OK;
}

/* ---- JSON in ------------------------------------------------------------------------------- */

/* A key the inventory depends on must keep the only value lavr implements when present. */
static lavr_status expect_bool(const lavr_json *j, const char *key, int want, const char *component) {
    const lavr_json *v = lavr_json_get(j, key);
    if (!v) return LAVR_OK;
    if (v->type != LAVR_JSON_BOOL || (int)v->number != want)
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "%s config: only %s = %s is supported", component, key, want ? "true" : "false");
    return LAVR_OK;
}

static lavr_status expect_string(const lavr_json *j, const char *key, const char *want, const char *component) {
    const lavr_json *v = lavr_json_get(j, key);
    if (!v) return LAVR_OK;
    if (v->type != LAVR_JSON_STRING || strcmp(v->string, want) != 0)
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "%s config: only %s = \"%s\" is supported", component, key, want);
    return LAVR_OK;
}

static lavr_status int_or(const lavr_json *j, const char *key, int64_t fallback, int64_t *out) {
    if (!lavr_json_get(j, key) || lavr_json_get(j, key)->type == LAVR_JSON_NULL) {
        *out = fallback;
        return LAVR_OK;
    }
    return lavr_json_get_int(j, key, out);
}

static lavr_status number_or(const lavr_json *j, const char *key, double fallback, double *out) {
    if (!lavr_json_get(j, key)) {
        *out = fallback;
        return LAVR_OK;
    }
    return lavr_json_get_number(j, key, out);
}

static lavr_status exact_array(const lavr_json *j, const char *key, int64_t *out, int n, const char *component) {
    int count = 0;
    int64_t tmp[16];
    TRY(lavr_json_get_int_array(j, key, tmp, 16, &count));
    if (count != n) return LAVR_FAIL(LAVR_E_FORMAT, "%s config key '%s' has %d entries, expected %d", component, key, count, n);
    memcpy(out, tmp, (size_t)n * sizeof *out);
    return LAVR_OK;
}

lavr_status lavr_dit_config_from_json(const lavr_json *j, lavr_dit_config *out) {
    CHECK_ARG(j && out, "lavr_dit_config_from_json: NULL argument");
    CHECK_ARG(j->type == LAVR_JSON_OBJECT, "dit config is not a JSON object");
    lavr_dit_config d;
    memset(&d, 0, sizeof d);
    TRY(lavr_json_get_int(j, "dim", &d.dim));
    TRY(lavr_json_get_int(j, "ffn_dim", &d.ffn_dim));
    TRY(lavr_json_get_int(j, "num_heads", &d.num_heads));
    TRY(lavr_json_get_int(j, "num_layers", &d.num_layers));
    TRY(lavr_json_get_int(j, "in_dim", &d.in_dim));
    TRY(lavr_json_get_int(j, "out_dim", &d.out_dim));
    TRY(lavr_json_get_int(j, "freq_dim", &d.freq_dim));
    TRY(lavr_json_get_int(j, "text_dim", &d.text_dim));
    TRY(lavr_json_get_int(j, "text_len", &d.text_len));
    TRY(lavr_json_get_int(j, "cond_dim", &d.cond_dim));
    TRY(lavr_json_get_int(j, "audio_dim", &d.audio_dim));
    TRY(lavr_json_get_int(j, "num_audio_token", &d.num_audio_token));
    TRY(exact_array(j, "patch_size", d.patch, 3, "dit"));
    TRY(lavr_json_get_number(j, "eps", &d.eps));
    TRY(lavr_json_get_int_array(j, "audio_inject_layers", d.inject_layers, LAVR_MAX_INJECT, &d.n_inject));
    /* lavr keys with the official defaults (wav2vec2-large: 24 layers + embedding output; LA
     * pipeline: 73 motion frames, 3 latent frames per block). */
    TRY(int_or(j, "audio_num_states", 25, &d.audio_num_states));
    TRY(int_or(j, "motion_frames", 73, &d.motion_frames));
    if (lavr_json_get(j, "num_frames_per_block")) TRY(lavr_json_get_int(j, "num_frames_per_block", &d.frames_per_block));
    else TRY(int_or(j, "frames_per_block", 3, &d.frames_per_block));
    /* Options that change the tensor inventory: lavr implements the S2V-14B choices only. */
    TRY(expect_string(j, "model_type", "s2v", "dit"));
    TRY(expect_bool(j, "qk_norm", 1, "dit"));
    TRY(expect_bool(j, "cross_attn_norm", 1, "dit"));
    TRY(expect_bool(j, "enable_adain", 1, "dit"));
    TRY(expect_string(j, "adain_mode", "attn_norm", "dit"));
    TRY(expect_bool(j, "enable_motioner", 0, "dit"));
    TRY(expect_bool(j, "enable_framepack", 1, "dit"));
    TRY(expect_bool(j, "enable_tsm", 0, "dit"));
    *out = d;
    return LAVR_OK;
}

lavr_status lavr_t5_config_from_json(const lavr_json *j, lavr_t5_config *out) {
    CHECK_ARG(j && out, "lavr_t5_config_from_json: NULL argument");
    CHECK_ARG(j->type == LAVR_JSON_OBJECT, "t5 config is not a JSON object");
    lavr_t5_config t;
    memset(&t, 0, sizeof t);
    TRY(lavr_json_get_int(j, "vocab", &t.vocab));
    TRY(lavr_json_get_int(j, "dim", &t.dim));
    TRY(lavr_json_get_int(j, "dim_attn", &t.dim_attn));
    TRY(lavr_json_get_int(j, "dim_ffn", &t.dim_ffn));
    TRY(lavr_json_get_int(j, "num_heads", &t.num_heads));
    TRY(lavr_json_get_int(j, "num_layers", &t.num_layers));
    TRY(lavr_json_get_int(j, "num_buckets", &t.num_buckets));
    /* Not constructor arguments of T5Encoder: the reference hard-codes 128 and 1e-6 (§4). */
    TRY(int_or(j, "max_distance", 128, &t.max_distance));
    TRY(number_or(j, "eps", 1e-6, &t.eps));
    TRY(expect_bool(j, "shared_pos", 0, "t5"));
    *out = t;
    return LAVR_OK;
}

lavr_status lavr_vae_config_from_json(const lavr_json *j, lavr_vae_config *out) {
    CHECK_ARG(j && out, "lavr_vae_config_from_json: NULL argument");
    CHECK_ARG(j->type == LAVR_JSON_OBJECT, "vae config is not a JSON object");
    lavr_vae_config v;
    memset(&v, 0, sizeof v);
    TRY(lavr_json_get_int(j, "dim", &v.dim));
    TRY(lavr_json_get_int(j, "z_dim", &v.z_dim));
    TRY(exact_array(j, "dim_mult", v.dim_mult, 4, "vae"));
    TRY(lavr_json_get_int(j, "num_res_blocks", &v.num_res_blocks));
    int64_t td[3];
    TRY(exact_array(j, "temperal_downsample", td, 3, "vae")); /* sic: the official spelling */
    for (int i = 0; i < 3; i++) v.temporal_downsample[i] = (int)td[i];
    const lavr_json *attn = lavr_json_get(j, "attn_scales");
    if (attn && !(attn->type == LAVR_JSON_ARRAY && attn->count == 0))
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "vae config: only attn_scales = [] is supported");
    *out = v;
    return LAVR_OK;
}

lavr_status lavr_w2v_config_from_json(const lavr_json *j, lavr_w2v_config *out) {
    CHECK_ARG(j && out, "lavr_w2v_config_from_json: NULL argument");
    CHECK_ARG(j->type == LAVR_JSON_OBJECT, "wav2vec2 config is not a JSON object");
    lavr_w2v_config w;
    memset(&w, 0, sizeof w);
    TRY(lavr_json_get_int(j, "hidden_size", &w.hidden));
    TRY(lavr_json_get_int(j, "num_hidden_layers", &w.num_layers));
    TRY(lavr_json_get_int(j, "num_attention_heads", &w.num_heads));
    TRY(lavr_json_get_int(j, "intermediate_size", &w.intermediate));
    int nd = 0, nk = 0, ns = 0;
    TRY(lavr_json_get_int_array(j, "conv_dim", w.conv_dim, 8, &nd));
    TRY(lavr_json_get_int_array(j, "conv_kernel", w.conv_kernel, 8, &nk));
    TRY(lavr_json_get_int_array(j, "conv_stride", w.conv_stride, 8, &ns));
    if (nd != nk || nd != ns)
        return LAVR_FAIL(LAVR_E_FORMAT, "wav2vec2 config: conv_dim, conv_kernel, conv_stride have %d, %d, %d entries", nd, nk, ns);
    w.n_conv = nd;
    TRY(lavr_json_get_int(j, "num_conv_pos_embeddings", &w.pos_conv_kernel));
    TRY(lavr_json_get_int(j, "num_conv_pos_embedding_groups", &w.pos_conv_groups));
    TRY(lavr_json_get_number(j, "layer_norm_eps", &w.eps));
    TRY(lavr_json_get_bool(j, "do_stable_layer_norm", &w.stable_layer_norm));
    TRY(lavr_json_get_bool(j, "conv_bias", &w.conv_bias));
    /* A config naming a vocabulary comes with its CTC head (lm_head); lavr configs without the key
     * have none. HF creates masked_spec_embed only when a masking probability is positive. */
    TRY(int_or(j, "vocab_size", 0, &w.vocab_size));
    double mask_time = 0, mask_feature = 0;
    TRY(number_or(j, "mask_time_prob", 0.05, &mask_time));
    TRY(number_or(j, "mask_feature_prob", 0.0, &mask_feature));
    w.masked_spec_embed = mask_time > 0 || mask_feature > 0;
    TRY(expect_string(j, "feat_extract_norm", "layer", "wav2vec2"));
    TRY(expect_bool(j, "add_adapter", 0, "wav2vec2"));
    *out = w;
    return LAVR_OK;
}

/* ---- JSON out ------------------------------------------------------------------------------ */

typedef struct {
    char *text;
    size_t len, cap;
    int failed;
} text_buf;

static void put(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_buf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->text ? b->text + b->len : NULL, b->text ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->text && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 512) + (size_t)n;
        char *grown = realloc(b->text, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->text = grown, b->cap = cap;
    }
}

/* Shortest text that reads back as the same double (1e-06, not 9.9999999999999995e-07). */
static void put_double(text_buf *b, const char *key, double v) {
    char num[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(num, sizeof num, "%.*g", prec, v);
        if (strtod(num, NULL) == v) break;
    }
    /* keep it a JSON float so Python reads 0.0 back as a float */
    if (!strpbrk(num, ".eEn")) strcat(num, ".0");
    put(b, "\"%s\": %s", key, num);
}

static void put_ints(text_buf *b, const char *key, const int64_t *v, int n) {
    put(b, "\"%s\": [", key);
    for (int i = 0; i < n; i++) put(b, "%s%lld", i ? ", " : "", (long long)v[i]);
    put(b, "]");
}

static char *finish(text_buf *b) {
    if (b->failed) {
        free(b->text);
        return NULL;
    }
    return b->text;
}

#define PUT_INT(b, key, v) put(b, "\"%s\": %lld, ", key, (long long)(v))
#define PUT_BOOL(b, key, v) put(b, "\"%s\": %s, ", key, (v) ? "true" : "false")

char *lavr_dit_config_to_json(const lavr_dit_config *c) {
    text_buf b = {0};
    put(&b, "{\"model_type\": \"s2v\", ");
    put_ints(&b, "patch_size", c->patch, 3);
    put(&b, ", ");
    PUT_INT(&b, "text_len", c->text_len);
    PUT_INT(&b, "in_dim", c->in_dim);
    PUT_INT(&b, "dim", c->dim);
    PUT_INT(&b, "ffn_dim", c->ffn_dim);
    PUT_INT(&b, "freq_dim", c->freq_dim);
    PUT_INT(&b, "text_dim", c->text_dim);
    PUT_INT(&b, "out_dim", c->out_dim);
    PUT_INT(&b, "num_heads", c->num_heads);
    PUT_INT(&b, "num_layers", c->num_layers);
    put(&b, "\"window_size\": [-1, -1], \"qk_norm\": true, \"cross_attn_norm\": true, ");
    put_double(&b, "eps", c->eps);
    put(&b, ", \"cross_attn_type\": \"t2v_cross_attn\", ");
    PUT_INT(&b, "cond_dim", c->cond_dim);
    PUT_INT(&b, "audio_dim", c->audio_dim);
    PUT_INT(&b, "num_audio_token", c->num_audio_token);
    put(&b, "\"enable_adain\": true, \"adain_mode\": \"attn_norm\", ");
    put_ints(&b, "audio_inject_layers", c->inject_layers, c->n_inject);
    put(&b, ", \"zero_init\": true, \"zero_timestep\": true, \"enable_motioner\": false, \"add_last_motion\": true, "
            "\"enable_tsm\": false, \"trainable_token_pos_emb\": false, \"enable_framepack\": true, "
            "\"framepack_drop_mode\": \"padd\", ");
    PUT_INT(&b, "audio_num_states", c->audio_num_states);
    PUT_INT(&b, "motion_frames", c->motion_frames);
    put(&b, "\"num_frames_per_block\": %lld}", (long long)c->frames_per_block);
    return finish(&b);
}

char *lavr_t5_config_to_json(const lavr_t5_config *c) {
    text_buf b = {0};
    put(&b, "{");
    PUT_INT(&b, "vocab", c->vocab);
    PUT_INT(&b, "dim", c->dim);
    PUT_INT(&b, "dim_attn", c->dim_attn);
    PUT_INT(&b, "dim_ffn", c->dim_ffn);
    PUT_INT(&b, "num_heads", c->num_heads);
    PUT_INT(&b, "num_layers", c->num_layers);
    PUT_INT(&b, "num_buckets", c->num_buckets);
    put(&b, "\"shared_pos\": false, ");
    PUT_INT(&b, "max_distance", c->max_distance);
    put_double(&b, "eps", c->eps);
    put(&b, "}");
    return finish(&b);
}

char *lavr_vae_config_to_json(const lavr_vae_config *c) {
    text_buf b = {0};
    put(&b, "{");
    PUT_INT(&b, "dim", c->dim);
    PUT_INT(&b, "z_dim", c->z_dim);
    put_ints(&b, "dim_mult", c->dim_mult, 4);
    put(&b, ", ");
    PUT_INT(&b, "num_res_blocks", c->num_res_blocks);
    put(&b, "\"attn_scales\": [], \"temperal_downsample\": [%s, %s, %s], \"dropout\": 0.0}",
        c->temporal_downsample[0] ? "true" : "false", c->temporal_downsample[1] ? "true" : "false",
        c->temporal_downsample[2] ? "true" : "false");
    return finish(&b);
}

char *lavr_w2v_config_to_json(const lavr_w2v_config *c) {
    text_buf b = {0};
    put(&b, "{\"model_type\": \"wav2vec2\", ");
    PUT_INT(&b, "hidden_size", c->hidden);
    PUT_INT(&b, "num_hidden_layers", c->num_layers);
    PUT_INT(&b, "num_attention_heads", c->num_heads);
    PUT_INT(&b, "intermediate_size", c->intermediate);
    put(&b, "\"hidden_act\": \"gelu\", \"feat_extract_norm\": \"layer\", \"feat_extract_activation\": \"gelu\", ");
    PUT_INT(&b, "num_feat_extract_layers", c->n_conv);
    put_ints(&b, "conv_dim", c->conv_dim, c->n_conv);
    put(&b, ", ");
    put_ints(&b, "conv_kernel", c->conv_kernel, c->n_conv);
    put(&b, ", ");
    put_ints(&b, "conv_stride", c->conv_stride, c->n_conv);
    put(&b, ", ");
    PUT_BOOL(&b, "conv_bias", c->conv_bias);
    PUT_INT(&b, "num_conv_pos_embeddings", c->pos_conv_kernel);
    PUT_INT(&b, "num_conv_pos_embedding_groups", c->pos_conv_groups);
    put_double(&b, "layer_norm_eps", c->eps);
    put(&b, ", ");
    PUT_BOOL(&b, "do_stable_layer_norm", c->stable_layer_norm);
    /* 0.05 is the real checkpoint's value; any positive value keeps masked_spec_embed */
    put_double(&b, "mask_time_prob", c->masked_spec_embed ? 0.05 : 0.0);
    put(&b, ", \"mask_feature_prob\": 0.0");
    if (c->vocab_size > 0) put(&b, ", \"vocab_size\": %lld", (long long)c->vocab_size);
    put(&b, "}");
    return finish(&b);
}
