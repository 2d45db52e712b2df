/* Streaming block-wise sampling on one process (models/streaming.h): RNG-keyed noise and sink
 * offsets, four step caches, sink prefills at clips 0 and 1, and the 4-step loop per block. */
#include "models/streaming.h"

#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/rng.h"

#define VIDEO_FRAMES_PER_LATENT 4 /* VAE temporal stride: a block of F latents covers 4F video frames */

struct lavr_stream {
    const lavr_dit *m;
    lavr_stream_inputs in;
    lavr_stream_options opt;
    lavr_sampler smp;
    lavr_dit_step_cache *cache[LAVR_SAMPLER_STEPS];
    int64_t C, F, next_block;
    float *ref_now;   /* [C, 1, h, w]: the sink's reference (clip 0: the given one; then frame 0 of block 0) */
    float *audio_blk; /* [states, audio_dim, 4F]: the block's audio, channel-major as the DiT takes it */
    float *v;         /* velocity [C, F, h, w] */
};

void lavr_stream_noise(uint64_t seed, int64_t clip, int64_t block, int64_t C, int64_t F, int64_t h, int64_t w,
                       float *x) {
    const int64_t n = C * F * h * w;
    lavr_rng_normal(seed, lavr_rng_stream(LAVR_STREAM_NOISE, (uint32_t)clip, (uint32_t)block, 0), 0, n, x);
    for (int64_t i = 0; i < n; i++) x[i] = lavr_round_bf16(x[i]);
}

int64_t lavr_stream_sink_offset(const lavr_stream_options *o, int64_t clip, int64_t block, int64_t step) {
    if (o->fixed_sink_offset) return o->fixed_sink_offset;
    uint64_t stream = lavr_rng_stream(LAVR_STREAM_SINK_OFFSET, (uint32_t)clip, (uint32_t)block, (uint32_t)step);
    return lavr_rng_randint(o->seed, stream, 0, 4, 30);
}

static lavr_status alloc_floats(int64_t n, const char *what, float **out) {
    *out = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!*out) return LAVR_FAIL(LAVR_E_NOMEM, "stream: cannot allocate %s (%lld floats)", what, (long long)n);
    return LAVR_OK;
}

lavr_status lavr_stream_create(const lavr_dit *m, const lavr_stream_inputs *in, const lavr_stream_options *o,
                               lavr_stream **out) {
    *out = NULL;
    CHECK_ARG(in->ref && in->motion && in->audio, "stream: reference, motion latents and audio are all required");
    CHECK_ARG(o->fixed_sink_offset == 0 || (o->fixed_sink_offset >= 4 && o->fixed_sink_offset <= 30),
              "stream: fixed sink offset %lld is outside [4, 30] (0 = drawn per forward)",
              (long long)o->fixed_sink_offset);
    const lavr_dit_config *cfg = &m->cfg;
    const int64_t F = cfg->frames_per_block, vf = VIDEO_FRAMES_PER_LATENT * F;
    CHECK_ARG(in->audio_frames >= vf, "stream: %lld audio frames, a block needs %lld", (long long)in->audio_frames,
              (long long)vf);
    lavr_stream *s = calloc(1, sizeof *s);
    if (!s) return LAVR_FAIL(LAVR_E_NOMEM, "stream");
    s->m = m;
    s->in = *in;
    s->opt = *o;
    s->C = cfg->in_dim;
    s->F = F;
    const int64_t hw = in->h * in->w;
    lavr_status st = lavr_sampler_init(LAVR_SAMPLER_STEPS, &s->smp);
    for (int i = 0; i < LAVR_SAMPLER_STEPS && !st; i++) st = lavr_dit_cache_create(m, in->h, in->w, &s->cache[i]);
    if (!st) st = alloc_floats(s->C * hw, "reference latent", &s->ref_now);
    if (!st) st = alloc_floats(cfg->audio_num_states * cfg->audio_dim * vf, "block audio", &s->audio_blk);
    if (!st) st = alloc_floats(s->C * F * hw, "velocity", &s->v);
    if (st) {
        lavr_stream_destroy(s);
        return st;
    }
    memcpy(s->ref_now, in->ref, (size_t)(s->C * hw) * sizeof(float));
    *out = s;
    return LAVR_OK;
}

void lavr_stream_destroy(lavr_stream *s) {
    if (!s) return;
    for (int i = 0; i < LAVR_SAMPLER_STEPS; i++) lavr_dit_cache_destroy(s->cache[i]);
    free(s->ref_now);
    free(s->audio_blk);
    free(s->v);
    free(s);
}

/* the sink of every step cache from the current reference and the motion latents (t = 0) */
static lavr_status prefill(lavr_stream *s) {
    TRY(lavr_dit_sink_prefill(s->m, s->cache[0], s->ref_now, s->in.motion));
    for (int i = 1; i < LAVR_SAMPLER_STEPS; i++) TRY(lavr_dit_cache_copy_sink(s->cache[i], s->cache[0]));
    return LAVR_OK;
}

lavr_status lavr_stream_next_block(lavr_stream *s, float *latent) {
    const lavr_dit_config *cfg = &s->m->cfg;
    const int64_t n = s->next_block, clip = n / LAVR_BLOCKS_PER_CLIP, block = n % LAVR_BLOCKS_PER_CLIP;
    const int64_t vf = VIDEO_FRAMES_PER_LATENT * s->F, first = vf * n, h = s->in.h, w = s->in.w;
    const int64_t SA = cfg->audio_num_states * cfg->audio_dim, blk = s->C * s->F * h * w;
    CHECK_ARG(first + vf <= s->in.audio_frames,
              "stream: block %lld needs video frames [%lld, %lld) but the audio has %lld frames", (long long)n,
              (long long)first, (long long)(first + vf), (long long)s->in.audio_frames);
    /* the sink is prefilled at clip 0 and again at clip 1 with the clean frame 0 of block 0 */
    if (n == 0 || n == LAVR_BLOCKS_PER_CLIP) TRY(prefill(s));
    /* frame-major [frames, states, audio_dim] -> the block's [states, audio_dim, 4F] */
    for (int64_t t = 0; t < vf; t++)
        for (int64_t i = 0; i < SA; i++) s->audio_blk[i * vf + t] = s->in.audio[(first + t) * SA + i];
    lavr_stream_noise(s->opt.seed, clip, block, s->C, s->F, h, w, latent);
    for (int step = 0; step < LAVR_SAMPLER_STEPS; step++) {
        lavr_dit_block_input bi = {.x = latent,
                                   .pose = NULL,
                                   .timestep = s->smp.timesteps[step],
                                   .block_index = n,
                                   .sink_offset = lavr_stream_sink_offset(&s->opt, clip, block, step),
                                   .audio = s->audio_blk,
                                   .audio_frames = vf,
                                   .audio_first = 0};
        TRY(lavr_dit_block_forward(s->m, s->cache[step], &bi, s->v));
        TRY(lavr_sampler_step(&s->smp, step, latent, s->v, blk));
    }
    if (n == 0)
        for (int64_t c = 0; c < s->C; c++)
            memcpy(s->ref_now + c * h * w, latent + c * s->F * h * w, (size_t)(h * w) * sizeof(float));
    s->next_block++;
    return LAVR_OK;
}
