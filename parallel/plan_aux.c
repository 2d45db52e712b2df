/* The aux rank's device memory in the planner (parallel/plan_internal.h): the Wan VAE's encoder and decoder walked
 * layer by layer from the VAE config as models/vae_layers.c builds them, with the live buffers of its forward
 * (vae_net_forward's allocations, in the CUDA layout: bf16, channels padded to 8), plus the setup encoders. */
#include "parallel/plan_internal.h"

#include <string.h>

#define VAE_ELEM 2           /* bytes of a CUDA VAE activation or weight (bf16) */
#define VAE_PAD 8            /* CUDA activations are channels-last with channels rounded up to 8 */
#define VAE_CACHE_FRAMES 2   /* a 3-tap causal conv keeps its last 2 input frames */
#define VAE_ENC_CHUNK 4      /* the encoder takes 4 frames at a time after the first */
#define W2V_WINDOW_S 20      /* wav2vec2 on the GPU runs a window of this many seconds at a time (16 kHz, 50 Hz) */

typedef struct {
    uint64_t live, peak, cache;
    double flops;
    int64_t t, h, w; /* the chunk's frames and grid at the current level */
} vae_sim;

static uint64_t act_bytes(int64_t c, int64_t t, int64_t h, int64_t w) {
    return (uint64_t)((c + VAE_PAD - 1) / VAE_PAD * VAE_PAD) * (uint64_t)(t * h * w) * VAE_ELEM;
}
static void take(vae_sim *s, uint64_t n) {
    s->live += n;
    if (s->live > s->peak) s->peak = s->live;
}
static void give(vae_sim *s, uint64_t n) { s->live -= n; }

/* causal 3x3x3 (or 3x1x1 time) conv over [history ‖ x]: the concatenated input and the output are live together
 * (models/vae_layers.c causal_conv); the history slot is a cache of 2 input frames. Returns the output's bytes. */
static uint64_t causal_conv(vae_sim *s, int64_t cin, int64_t cout, int64_t cout_frames, int spatial) {
    const uint64_t cat = act_bytes(cin, s->t + VAE_CACHE_FRAMES, s->h, s->w);
    const uint64_t y = act_bytes(cout, cout_frames, s->h, s->w);
    s->cache += act_bytes(cin, VAE_CACHE_FRAMES, s->h, s->w);
    take(s, cat);
    take(s, y);
    s->flops += 2.0 * 3 * (spatial ? 9 : 1) * (double)cin * (double)cout * (double)(cout_frames * s->h * s->w);
    give(s, cat);
    return y;
}

/* x (live, cin channels) -> the block's output (live, cout); models/vae_layers.c run_res */
static void res_block(vae_sim *s, int64_t cin, int64_t cout) {
    const uint64_t x = act_bytes(cin, s->t, s->h, s->w);
    uint64_t sc = 0;
    if (cin != cout) {
        sc = act_bytes(cout, s->t, s->h, s->w);
        take(s, sc);
        s->flops += 2.0 * (double)cin * (double)cout * (double)(s->t * s->h * s->w);
    }
    const uint64_t h1 = act_bytes(cin, s->t, s->h, s->w);
    take(s, h1);
    const uint64_t a = causal_conv(s, cin, cout, s->t, 1);
    give(s, h1);
    const uint64_t h2 = act_bytes(cout, s->t, s->h, s->w);
    take(s, h2);
    causal_conv(s, cout, cout, s->t, 1);
    give(s, h2);
    give(s, a);
    give(s, sc);
    give(s, x); /* the output replaces x */
}

/* per-frame single-head attention over the h*w tokens (run_attn), the scores in fp32 */
static void attn_block(vae_sim *s, int64_t c) {
    const int64_t hw = s->h * s->w, thw = s->t * hw;
    const uint64_t xn = act_bytes(c, s->t, s->h, s->w), qkv = act_bytes(3 * c, s->t, s->h, s->w),
                   att = act_bytes(c, s->t, s->h, s->w), y = act_bytes(c, s->t, s->h, s->w);
    const uint64_t tokens = (uint64_t)(hw * 4 * c) * VAE_ELEM, scores = (uint64_t)(hw * hw) * 4;
    take(s, xn);
    take(s, qkv);
    take(s, att);
    take(s, tokens + scores);
    take(s, y);
    give(s, tokens + scores);
    s->flops += 2.0 * (double)c * 4 * (double)c * (double)thw + 4.0 * (double)hw * (double)hw * (double)c * (double)s->t;
    give(s, xn);
    give(s, qkv);
    give(s, att);
    give(s, act_bytes(c, s->t, s->h, s->w)); /* the output replaces x */
}

/* Up3d (time conv c -> 2c, interleaved to 2t frames) and Up2d (nearest x2, 3x3 conv c -> c/2) */
static void upsample(vae_sim *s, int64_t c, int temporal) {
    if (temporal) {
        const uint64_t x = act_bytes(c, s->t, s->h, s->w);
        const uint64_t y = causal_conv(s, c, 2 * c, s->t, 0);
        const uint64_t d = act_bytes(c, 2 * s->t, s->h, s->w);
        take(s, d);
        give(s, y);
        give(s, x);
        s->t *= 2;
    }
    const uint64_t x = act_bytes(c, s->t, s->h, s->w);
    const uint64_t u = act_bytes(c, s->t, 2 * s->h, 2 * s->w), y = act_bytes(c / 2, s->t, 2 * s->h, 2 * s->w);
    take(s, u);
    take(s, y);
    s->flops += 2.0 * 9 * (double)c * (double)(c / 2) * (double)(s->t * 4 * s->h * s->w);
    give(s, u);
    give(s, x);
    s->h *= 2, s->w *= 2;
}

/* Down2d (3x3 stride 2) and Down3d (then a stride-2 time conv over [last frame ‖ chunk], a 1-frame cache) */
static void downsample(vae_sim *s, int64_t c, int temporal) {
    const uint64_t x = act_bytes(c, s->t, s->h, s->w);
    const uint64_t y = act_bytes(c, s->t, s->h / 2, s->w / 2);
    take(s, y);
    s->flops += 2.0 * 9 * (double)c * (double)c * (double)(s->t * (s->h / 2) * (s->w / 2));
    give(s, x);
    s->h /= 2, s->w /= 2;
    if (!temporal) return;
    s->cache += act_bytes(c, 1, s->h, s->w);
    const uint64_t cat = act_bytes(c, s->t + 1, s->h, s->w), out = act_bytes(c, s->t / 2, s->h, s->w);
    take(s, cat);
    take(s, out);
    s->flops += 2.0 * 3 * (double)c * (double)c * (double)(s->t / 2 * s->h * s->w);
    give(s, cat);
    give(s, y);
    s->t /= 2;
}

static void head(vae_sim *s, int64_t c, int64_t cout) {
    const uint64_t x = act_bytes(c, s->t, s->h, s->w), h = act_bytes(c, s->t, s->h, s->w);
    take(s, h);
    causal_conv(s, c, cout, s->t, 1);
    give(s, h);
    give(s, x);
}

/* One decoded block: latents [z, 3, h, w] -> 12 frames (past the stream's first latent), models/vae.c
 * lavr_vae_decode: the un-normalised latents and conv2's output stay live while the decoder runs; the frames
 * are written to a device buffer [3, 12, H, W] before they go to the host. */
static void decode_block(const lavr_vae_config *v, int64_t lh, int64_t lw, vae_sim *s) {
    const int64_t dims[5] = {v->dim * v->dim_mult[3], v->dim * v->dim_mult[3], v->dim * v->dim_mult[2],
                             v->dim * v->dim_mult[1], v->dim * v->dim_mult[0]};
    memset(s, 0, sizeof *s);
    s->t = 3, s->h = lh, s->w = lw;
    const uint64_t zin = act_bytes(v->z_dim, s->t, lh, lw);
    take(s, zin);
    take(s, zin); /* conv2 output */
    s->flops += 2.0 * (double)(v->z_dim * v->z_dim) * (double)(s->t * lh * lw);
    give(s, zin);
    take(s, zin); /* the chunk */
    const uint64_t chunk = causal_conv(s, v->z_dim, dims[0], s->t, 1);
    give(s, zin);
    (void)chunk;
    res_block(s, dims[0], dims[0]);
    attn_block(s, dims[0]);
    res_block(s, dims[0], dims[0]);
    int64_t out = dims[0];
    for (int i = 0; i < 4; i++) {
        int64_t in = i == 0 ? dims[0] : dims[i] / 2;
        out = dims[i + 1];
        for (int64_t r = 0; r < v->num_res_blocks + 1; r++, in = out) res_block(s, in, out);
        if (i != 3) upsample(s, out, v->temporal_downsample[2 - i]);
    }
    head(s, out, 3);
    take(s, act_bytes(3, s->t, s->h, s->w)); /* the frames */
}

/* One 4-frame chunk of the encoder at full resolution (models/vae.c lavr_vae_encode, build_encoder's layers). */
static void encode_chunk(const lavr_vae_config *v, int64_t height, int64_t width, vae_sim *s) {
    const int64_t dims[5] = {v->dim, v->dim * v->dim_mult[0], v->dim * v->dim_mult[1], v->dim * v->dim_mult[2],
                             v->dim * v->dim_mult[3]};
    memset(s, 0, sizeof *s);
    s->t = VAE_ENC_CHUNK, s->h = height, s->w = width;
    take(s, act_bytes(3, s->t, s->h, s->w)); /* the input chunk */
    causal_conv(s, 3, dims[0], s->t, 1);
    give(s, act_bytes(3, VAE_ENC_CHUNK, height, width));
    for (int i = 0; i < 4; i++) {
        int64_t in = dims[i];
        const int64_t out = dims[i + 1];
        for (int64_t r = 0; r < v->num_res_blocks; r++, in = out) res_block(s, in, out);
        if (i != 3) downsample(s, out, v->temporal_downsample[i]);
    }
    res_block(s, dims[4], dims[4]);
    attn_block(s, dims[4]);
    res_block(s, dims[4], dims[4]);
    head(s, dims[4], 2 * v->z_dim);
}

static lavr_status count_tensor(const lavr_tensor_spec *t, void *user) {
    uint64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (uint64_t)t->shape[i];
    *(uint64_t *)user += n;
    return LAVR_OK;
}

lavr_status plan_aux_model_of(const lavr_model_config *cfg, int64_t width, int64_t height, int t5_on_gpu,
                              int w2v_on_gpu, plan_aux_model *out) {
    memset(out, 0, sizeof *out);
    uint64_t vae = 0, w2v = 0, t5 = 0;
    TRY(lavr_vae_inventory(&cfg->vae, count_tensor, &vae));
    out->vae_weights = vae * VAE_ELEM;
    vae_sim s;
    decode_block(&cfg->vae, height / 8, width / 8, &s);
    out->dec_cache = s.cache, out->dec_act = s.peak, out->dec_flops = s.flops;
    encode_chunk(&cfg->vae, height, width, &s);
    out->enc_cache = s.cache, out->enc_act = s.peak;
    if (w2v_on_gpu) {
        TRY(lavr_w2v_inventory(&cfg->w2v, count_tensor, &w2v));
        const lavr_w2v_config *w = &cfg->w2v;
        const uint64_t samples = 16000ull * W2V_WINDOW_S, frames = 50ull * W2V_WINDOW_S;
        /* the first conv's output, every hidden state (the DiT's audio encoder mixes them), one layer's scores */
        out->w2v = w2v * 2 + (uint64_t)w->conv_dim[0] * (samples / (uint64_t)w->conv_stride[0]) * 2 +
                   (uint64_t)(w->num_layers + 1) * frames * (uint64_t)w->hidden * 2 +
                   (uint64_t)w->num_heads * frames * frames * 4;
    }
    if (t5_on_gpu) {
        TRY(lavr_t5_inventory(&cfg->t5, count_tensor, &t5));
        const lavr_t5_config *c = &cfg->t5;
        const uint64_t tokens = (uint64_t)cfg->dit.text_len;
        /* one layer's FFN hidden, the residual stream and the attention scores of 512 tokens */
        out->t5 = t5 * 2 + tokens * (uint64_t)(2 * c->dim_ffn + 4 * c->dim) * 2 +
                  (uint64_t)c->num_heads * tokens * tokens * 4;
    }
    return LAVR_OK;
}
