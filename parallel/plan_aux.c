/* The aux rank's device memory in the planner (parallel/plan_internal.h): the Wan VAE's encoder and decoder walked
 * layer by layer from the VAE config as models/vae_layers.c builds them, with the buffers its forward allocates
 * from the CUDA context's arena as models/vae_layers.c and kernels/cuda/video_ops_cuda.c allocate them (bf16
 * channels-last video tensors, channels padded to 8; bf16 [Pout][taps][Pin] filters, fp32 biases and gains), plus
 * the setup encoders. */
#include "parallel/plan_internal.h"

#include <string.h>

#include "models/dit_dev.h"
#include "models/t5.h"

#define VAE_PITCH(c) (((c) + 7) / 8 * 8) /* kernels/ctx_internal.h lavr_video_pitch */
#define VAE_CACHE_FRAMES 2               /* a 3-tap causal conv keeps its last 2 input frames */
#define VAE_ENC_CHUNK 4                  /* the encoder takes 4 frames at a time after the first */
#define VAE_DEC_CHUNK 3                  /* models/vae.h LAVR_VAE_DECODE_CHUNK: one block's latents */
#define VAE_UP2D_FRAMES 4                /* models/vae_layers.c UP2D_FRAMES */
#define VAE_ATTN_SCORES ((int64_t)128 << 20) /* kernels/cuda/video_ops_cuda.c ATTN_SCORE_BYTES */
#define W2V_WINDOW_S 20                  /* wav2vec2 on the GPU runs a window of this many seconds at a time (16 kHz, 50 Hz) */

typedef struct {
    uint64_t live, peak, cache, weights;
    double flops;
    int64_t t, h, w; /* the chunk's frames and grid at the current level */
} vae_sim;

static uint64_t video(int64_t c, int64_t t, int64_t h, int64_t w) {
    return lavr_dit_dev_aligned((uint64_t)VAE_PITCH(c) * (uint64_t)(t * h * w) * 2);
}
static void take(vae_sim *s, uint64_t n) {
    s->live += n;
    if (s->live > s->peak) s->peak = s->live;
}
static void give(vae_sim *s, uint64_t n) { s->live -= n; }
/* a conv's filter and bias (vae_conv_load -> lavr_ctx_conv_weights) */
static void filter(vae_sim *s, int64_t cout, int64_t cin, int64_t taps) {
    s->weights += lavr_dit_dev_aligned((uint64_t)(VAE_PITCH(cout) * taps * VAE_PITCH(cin)) * 2) +
                  lavr_dit_dev_aligned((uint64_t)VAE_PITCH(cout) * 4);
}
static void gain(vae_sim *s, int64_t c) { s->weights += lavr_dit_dev_aligned((uint64_t)VAE_PITCH(c) * 4); }
static void conv_flops(vae_sim *s, int64_t cout, int64_t cin, int64_t taps, int64_t t, int64_t h, int64_t w) {
    s->flops += 2.0 * (double)(taps * cin * cout) * (double)(t * h * w);
}

/* causal 3x3x3 (or 3x1x1) conv whose input, x or its norm, is written into [history ‖ chunk] (causal_begin), then
 * the output is made and the concatenation freed (causal_finish); the history slot is a cache of 2 frames.
 * Returns the output's bytes (live). */
static uint64_t causal(vae_sim *s, int64_t cin, int64_t cout, int64_t kh) {
    const uint64_t cat = video(cin, s->t + VAE_CACHE_FRAMES, s->h, s->w), y = video(cout, s->t, s->h, s->w);
    s->cache += video(cin, VAE_CACHE_FRAMES, s->h, s->w);
    filter(s, cout, cin, 3 * kh * kh);
    take(s, cat);
    take(s, y);
    conv_flops(s, cout, cin, 3 * kh * kh, s->t, s->h, s->w);
    give(s, cat);
    return y;
}

/* run_res: x (live) -> the block's output (live) */
static void res_block(vae_sim *s, int64_t cin, int64_t cout) {
    const uint64_t x = video(cin, s->t, s->h, s->w);
    uint64_t sc = 0;
    gain(s, cin);
    gain(s, cout);
    if (cin != cout) {
        sc = video(cout, s->t, s->h, s->w);
        take(s, sc);
        filter(s, cout, cin, 1);
        conv_flops(s, cout, cin, 1, s->t, s->h, s->w);
    }
    const uint64_t a = causal(s, cin, cout, 3); /* the norm of x writes the conv's input, x stays */
    /* the norm of a writes the second conv's input, then a is freed before the output is made */
    const uint64_t cat = video(cout, s->t + VAE_CACHE_FRAMES, s->h, s->w), y = video(cout, s->t, s->h, s->w);
    s->cache += video(cout, VAE_CACHE_FRAMES, s->h, s->w);
    filter(s, cout, cout, 27);
    take(s, cat);
    give(s, a);
    take(s, y);
    conv_flops(s, cout, cout, 27, s->t, s->h, s->w);
    give(s, cat);
    give(s, sc);
    give(s, x); /* the output replaces x */
}

/* run_attn: the norm, to_qkv, the per-frame attention with its q, k, v^T and a block of fp32 scores and bf16
 * weights (lavr_cuda_vop_frame_attention), proj */
static void attn_block(vae_sim *s, int64_t c) {
    const int64_t ntok = s->h * s->w;
    int64_t rows = VAE_ATTN_SCORES / (ntok * 4);
    if (rows < 1) rows = 1;
    if (rows > ntok) rows = ntok;
    const uint64_t xn = video(c, s->t, s->h, s->w), qkv = video(3 * c, s->t, s->h, s->w),
                   att = video(c, s->t, s->h, s->w), y = video(c, s->t, s->h, s->w);
    const uint64_t scratch = 3 * lavr_dit_dev_aligned((uint64_t)(ntok * c) * 2) +
                             lavr_dit_dev_aligned((uint64_t)(rows * ntok) * 4) +
                             lavr_dit_dev_aligned((uint64_t)(rows * ntok) * 2);
    gain(s, c);
    filter(s, 3 * c, c, 1);
    filter(s, c, c, 1);
    take(s, xn);
    take(s, qkv);
    give(s, xn);
    take(s, att);
    take(s, scratch);
    give(s, scratch);
    give(s, qkv);
    take(s, y);
    s->flops += 2.0 * (double)(4 * c * c) * (double)(s->t * ntok) + 4.0 * (double)ntok * (double)ntok * (double)c * (double)s->t;
    give(s, att);
    give(s, video(c, s->t, s->h, s->w)); /* the output replaces x */
}

/* Up3d (time conv c -> 2c, interleaved to 2t frames) and Up2d (nearest x2 and a 3x3 conv c -> c/2, 4 frames of
 * the x4 buffer at a time) */
static void upsample(vae_sim *s, int64_t c, int temporal) {
    if (temporal) {
        const uint64_t x = video(c, s->t, s->h, s->w);
        const uint64_t y = causal(s, c, 2 * c, 1);
        const uint64_t d = video(c, 2 * s->t, s->h, s->w);
        take(s, d);
        give(s, y);
        give(s, x);
        s->t *= 2;
    }
    const uint64_t x = video(c, s->t, s->h, s->w), y = video(c / 2, s->t, 2 * s->h, 2 * s->w);
    const int64_t n = s->t < VAE_UP2D_FRAMES ? s->t : VAE_UP2D_FRAMES;
    const uint64_t u = video(c, n, 2 * s->h, 2 * s->w);
    filter(s, c / 2, c, 9);
    take(s, y);
    take(s, u);
    give(s, u);
    conv_flops(s, c / 2, c, 9, s->t, 2 * s->h, 2 * s->w);
    give(s, x);
    s->h *= 2, s->w *= 2;
}

/* Down2d (3x3 stride 2) and Down3d (Down2d written into [last frame ‖ chunk], then a stride-2 time conv) */
static void downsample(vae_sim *s, int64_t c, int temporal) {
    const uint64_t x = video(c, s->t, s->h, s->w);
    const int64_t h = s->h / 2, w = s->w / 2;
    filter(s, c, c, 9);
    conv_flops(s, c, c, 9, s->t, h, w);
    if (!temporal) {
        take(s, video(c, s->t, h, w));
        give(s, x);
        s->h = h, s->w = w;
        return;
    }
    s->cache += video(c, 1, h, w);
    filter(s, c, c, 3);
    const uint64_t cat = video(c, 1 + s->t, h, w), y = video(c, s->t / 2, h, w);
    take(s, cat);
    take(s, y);
    conv_flops(s, c, c, 3, s->t / 2, h, w);
    give(s, cat);
    give(s, x);
    s->h = h, s->w = w, s->t /= 2;
}

static void head(vae_sim *s, int64_t c, int64_t cout) {
    const uint64_t x = video(c, s->t, s->h, s->w);
    gain(s, c);
    causal(s, c, cout, 3);
    give(s, x);
}

static void decoder_layers(const lavr_vae_config *v, vae_sim *s) {
    const int64_t dims[5] = {v->dim * v->dim_mult[3], v->dim * v->dim_mult[3], v->dim * v->dim_mult[2],
                             v->dim * v->dim_mult[1], v->dim * v->dim_mult[0]};
    const uint64_t x = video(v->z_dim, s->t, s->h, s->w);
    causal(s, v->z_dim, dims[0], 3);
    give(s, x);
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
}

/* One decoded block (models/vae.c lavr_vae_decode, past the stream's first latent): the latents uploaded through
 * an fp32 staging buffer, conv2's output kept while the chunk of 3 latents runs the decoder, the 12 frames
 * clamped and copied to the host through a staging buffer. */
static void decode_block(const lavr_vae_config *v, int64_t lh, int64_t lw, vae_sim *s) {
    memset(s, 0, sizeof *s);
    s->t = VAE_DEC_CHUNK, s->h = lh, s->w = lw;
    const uint64_t zin = video(v->z_dim, s->t, lh, lw), up = lavr_dit_dev_aligned((uint64_t)(v->z_dim * s->t * lh * lw) * 4);
    filter(s, v->z_dim, v->z_dim, 1); /* conv2 */
    filter(s, 2 * v->z_dim, 2 * v->z_dim, 1); /* conv1 (the encoder's) */
    take(s, zin);
    take(s, up);
    give(s, up);
    take(s, zin); /* conv2's output */
    conv_flops(s, v->z_dim, v->z_dim, 1, s->t, lh, lw);
    give(s, zin);
    take(s, zin); /* the chunk */
    decoder_layers(v, s);
    const uint64_t down = lavr_dit_dev_aligned((uint64_t)(3 * s->t * s->h * s->w) * 4);
    take(s, down);
    give(s, down);
}

/* One 4-frame chunk of the encoder at full resolution (models/vae.c lavr_vae_encode, build_encoder's layers). */
static void encode_chunk(const lavr_vae_config *v, int64_t height, int64_t width, vae_sim *s) {
    const int64_t dims[5] = {v->dim, v->dim * v->dim_mult[0], v->dim * v->dim_mult[1], v->dim * v->dim_mult[2],
                             v->dim * v->dim_mult[3]};
    memset(s, 0, sizeof *s);
    s->t = VAE_ENC_CHUNK, s->h = height, s->w = width;
    const uint64_t in = video(3, s->t, height, width), up = lavr_dit_dev_aligned((uint64_t)(3 * s->t * height * width) * 4);
    take(s, in);
    take(s, up);
    give(s, up);
    causal(s, 3, dims[0], 3);
    give(s, in);
    for (int i = 0; i < 4; i++) {
        int64_t c = dims[i];
        const int64_t out = dims[i + 1];
        for (int64_t r = 0; r < v->num_res_blocks; r++, c = out) res_block(s, c, out);
        if (i != 3) downsample(s, out, v->temporal_downsample[i]);
    }
    res_block(s, dims[4], dims[4]);
    attn_block(s, dims[4]);
    res_block(s, dims[4], dims[4]);
    head(s, dims[4], 2 * v->z_dim);
    /* the head's conv1 -> mu, copied to the host */
    take(s, video(2 * v->z_dim, s->t, s->h, s->w));
    take(s, lavr_dit_dev_aligned((uint64_t)(2 * v->z_dim * s->t * s->h * s->w) * 4));
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
    vae_sim s;
    decode_block(&cfg->vae, height / 8, width / 8, &s);
    out->dec_cache = s.cache, out->dec_act = s.peak, out->dec_flops = s.flops;
    const uint64_t dec_weights = s.weights;
    encode_chunk(&cfg->vae, height, width, &s);
    out->enc_cache = s.cache, out->enc_act = s.peak;
    out->vae_weights = dec_weights + s.weights; /* the VAE keeps both nets (lavr_vae_create) */
    uint64_t w2v = 0;
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
        /* the arena of the aux's T5 context, sized by the model (weights but the token embedding, and the work of
         * the longest prompt), and that context's cuBLASLt workspace */
        uint64_t weights = 0, work = 0;
        lavr_t5_device_bytes(&cfg->t5, cfg->dit.text_len, &weights, &work);
        out->t5 = weights + work + PLAN_BLAS_BYTES;
    }
    return LAVR_OK;
}
