/* DiT embeddings (model-spec §1.5, §2.3): float64 sinusoid -> fp32 time MLP and 6-way projection, the
 * kernel = stride Conv3d patch embeddings as a GEMM over gathered patches, and the first shard's
 * embedding of the sink tokens and of a noisy block into the activation handed along the layers. */
#include <math.h>
#include <stdlib.h>

#include "core/dtype.h"
#include "kernels/ops.h"
#include "models/dit_internal.h"

lavr_status dit_time_embed(const lavr_dit *m, double t, float *e, float *e0) {
    const int64_t fd = m->cfg.freq_dim, d = m->cfg.dim, half = fd / 2;
    float *sinus, *h;
    TRY(dit_alloc(fd, "sinusoid", &sinus));
    lavr_status st = dit_alloc(d, "time hidden", &h);
    if (st) { free(sinus); return st; }
    for (int64_t k = 0; k < half; k++) {
        double ang = t * pow(10000.0, -(double)k / (double)half);
        sinus[k] = (float)cos(ang); /* cos first */
        sinus[half + k] = (float)sin(ang);
    }
    /* fp32 GEMMs with up-cast bf16 weights (nested autocast(float32) in the reference) */
    TRY_GOTO(lavr_op_linear(sinus, 1, fd, &m->time0.w, &m->time0.b, h), st, done);
    lavr_op_silu(h, d, h);
    TRY_GOTO(lavr_op_linear(h, 1, d, &m->time2.w, &m->time2.b, e), st, done);
    lavr_op_silu(e, d, h);
    TRY_GOTO(lavr_op_linear(h, 1, d, &m->time_proj.w, &m->time_proj.b, e0), st, done);
done:
    free(sinus);
    free(h);
    return st;
}

lavr_status dit_patchify(const lavr_dit_linear *l, const float *x, int64_t C, int64_t T, int64_t h, int64_t w,
                         float *tokens, int64_t *ntok) {
    const lavr_tensor *W = &l->w;
    CHECK_ARG(W->ndim == 5 && W->shape[1] == C, "dit patchify: weight has %d dims / %lld channels, input %lld",
              W->ndim, (long long)(W->ndim > 1 ? W->shape[1] : 0), (long long)C);
    const int64_t kt = W->shape[2], kh = W->shape[3], kw = W->shape[4];
    const int64_t To = T / kt, Ho = h / kh, Wo = w / kw, K = C * kt * kh * kw, n = To * Ho * Wo;
    /* floor sizes: trailing frames/rows/cols that do not fill a kernel are ignored (FramePack) */
    float *patches;
    TRY(dit_alloc(n * K, "patches", &patches));
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < n; t++) {
        int64_t f = t / (Ho * Wo), i = (t / Wo) % Ho, j = t % Wo;
        float *p = patches + t * K;
        for (int64_t c = 0; c < C; c++)
            for (int64_t a = 0; a < kt; a++)
                for (int64_t u = 0; u < kh; u++)
                    for (int64_t v = 0; v < kw; v++)
                        *p++ = lavr_round_bf16(x[((c * T + f * kt + a) * h + i * kh + u) * w + j * kw + v]);
    }
    lavr_status st = dit_linear_bf16(patches, n, K, l, tokens);
    free(patches);
    if (!st) *ntok = n;
    return st;
}

/* tokens[t] = bf16(tokens[t] + type embedding row) */
static void add_type(const lavr_dit *m, int row, float *tokens, int64_t n) {
    const int64_t d = m->cfg.dim;
    for (int64_t t = 0; t < n; t++)
        for (int64_t i = 0; i < d; i++)
            tokens[t * d + i] = lavr_round_bf16(
                tokens[t * d + i] + (float)lavr_dtype_load(m->cond_mask.dtype, m->cond_mask.data, row * d + i));
}

/* a NULL act checks the shard only */
static lavr_status need_embeddings(const lavr_dit *m, const lavr_dit_act *a, int64_t rows) {
    CHECK_ARG(m->shard.layer_begin == 0, "dit: the shard of layers [%lld, %lld) holds no embeddings",
              (long long)m->shard.layer_begin, (long long)m->shard.layer_end);
    CHECK_ARG(!a || a->x + rows * m->cfg.dim <= a->e, "dit: activation buffer too small for %lld tokens",
              (long long)rows);
    return LAVR_OK;
}

lavr_status lavr_dit_embed_sink(const lavr_dit *m, const lavr_dit_step_cache *c, const float *ref,
                                const float *motion, lavr_dit_act *a) {
    const lavr_dit_geometry *g = &c->g;
    TRY(need_embeddings(m, a, g->sink));
    a->prefill = 1;
    a->block_index = 0;
    a->sink_offset = 0;
    a->rows = g->sink;
    a->timestep = 0.0f;
    int64_t n = 0;
    TRY(dit_patchify(&m->patch, ref, m->cfg.in_dim, 1, g->h, g->w, a->x, &n));
    add_type(m, 1, a->x, n);
    TRY(dit_framepack(m, g, motion, a->x + g->P * m->cfg.dim));
    /* every sink token uses the t = 0 modulation slot */
    return dit_time_embed(m, 0.0, a->e, a->e0);
}

lavr_status lavr_dit_embed_block(const lavr_dit *m, const lavr_dit_step_cache *c, const lavr_dit_block_input *in,
                                 lavr_dit_act *a) {
    const lavr_dit_config *cfg = &m->cfg;
    const lavr_dit_geometry *g = &c->g;
    const int64_t d = cfg->dim, F = cfg->frames_per_block, L = g->block_tokens;
    CHECK_ARG(in->block_index >= 0, "dit: negative block index %lld", (long long)in->block_index);
    TRY(need_embeddings(m, a, L));
    a->prefill = 0;
    a->block_index = in->block_index;
    a->sink_offset = in->sink_offset;
    a->rows = L;
    a->timestep = in->timestep;
    float *x = a->x, *pose;
    TRY(dit_alloc(L * d, "pose tokens", &pose));
    /* tokens: patch embedding + pose (cond_encoder; zeros give its bias) + type embedding 0 */
    int64_t n = 0;
    lavr_status st = dit_patchify(&m->patch, in->x, cfg->in_dim, F, g->h, g->w, x, &n);
    if (!st && in->pose) {
        st = dit_patchify(&m->cond, in->pose, cfg->cond_dim, F, g->h, g->w, pose, &n);
    } else if (!st) {
        for (int64_t t = 0; t < L; t++)
            for (int64_t i = 0; i < d; i++) pose[t * d + i] = (float)lavr_dtype_load(m->cond.b.dtype, m->cond.b.data, i);
    }
    if (!st)
        for (int64_t i = 0; i < L * d; i++) x[i] = lavr_round_bf16(x[i] + lavr_round_bf16(pose[i]));
    free(pose);
    TRY(st);
    add_type(m, 0, x, L);
    TRY(lavr_dit_time_embedding(m, in->timestep, a->e, a->e0));
    return lavr_dit_audio_tokens(m, in, a->a_loc, a->a_glob);
}

lavr_status lavr_dit_time_embedding(const lavr_dit *m, float t, float *e, float *e0) {
    TRY(need_embeddings(m, NULL, 0));
    return dit_time_embed(m, (double)t, e, e0);
}

lavr_status lavr_dit_audio_tokens(const lavr_dit *m, const lavr_dit_block_input *in, float *a_loc, float *a_glob) {
    TRY(need_embeddings(m, NULL, 0));
    return dit_audio_encode(m, in->audio, in->audio_frames, in->audio_first, 4 * m->cfg.frames_per_block, a_loc,
                            a_glob);
}
