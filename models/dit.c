/* The causal DiT's entry points: (sharded) weight loading, the per-prompt text K/V, the activation
 * handed between layer ranges, the head (§1.9), and the sink prefill / block forward composed of them. */
#include "models/dit.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/dtype.h"
#include "core/json.h"
#include "kernels/ops.h"
#include "models/dit_internal.h"

static lavr_status read_tensor(lavr_h5file *f, lavr_arena *a, const char *prefix, const char *name, lavr_tensor *t) {
    char path[256];
    snprintf(path, sizeof path, "%s%s", prefix, name);
    return lavr_h5_read(f, path, a, t);
}

/* Checks that `name` has the expected shape before a slice of it is read (-1: any extent). */
static lavr_status expect_shape(lavr_h5file *f, const char *path, int ndim, const int64_t *shape) {
    lavr_tensor desc;
    TRY(lavr_h5_info(f, path, &desc));
    int ok = desc.ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = shape[i] < 0 || desc.shape[i] == shape[i];
    if (ok) return LAVR_OK;
    char got[96];
    return LAVR_FAIL(LAVR_E_FORMAT, "dit: tensor '%s' is %s, expected %d dims [%lld, %lld%s]", path,
                     lavr_tensor_describe(&desc, got, (int)sizeof got), ndim, (long long)shape[0],
                     (long long)(ndim > 1 ? shape[1] : 0), ndim > 2 ? ", ..." : "");
}

/* A Linear [out_dim, in] with bias [out_dim], whole (out_dim <= 0: any). */
static lavr_status read_linear(lavr_h5file *f, lavr_arena *a, const char *prefix, const char *name, int64_t out_dim,
                               lavr_dit_linear *l) {
    char buf[192];
    snprintf(buf, sizeof buf, "%s.weight", name);
    TRY(read_tensor(f, a, prefix, buf, &l->w));
    snprintf(buf, sizeof buf, "%s.bias", name);
    TRY(read_tensor(f, a, prefix, buf, &l->b));
    if (out_dim > 0 && (l->w.shape[0] != out_dim || lavr_tensor_numel(&l->b) != out_dim))
        return LAVR_FAIL(LAVR_E_FORMAT, "dit: tensor '%s%s.weight' has %lld outputs, expected %lld", prefix, name,
                         (long long)l->w.shape[0], (long long)out_dim);
    return LAVR_OK;
}

/* A Linear [out_dim, in_dim] split for tensor parallelism: by_rows keeps outputs [first, first+n) with
 * their bias (q, k, v, ffn.0), otherwise inputs [first, first+n) with the whole bias (o, ffn.2). */
static lavr_status read_linear_part(lavr_h5file *f, lavr_arena *a, const char *prefix, const char *name,
                                    int64_t out_dim, int64_t in_dim, int by_rows, int64_t first, int64_t n,
                                    lavr_dit_linear *l) {
    char path[256];
    const int64_t wshape[2] = {out_dim, in_dim}, bshape[1] = {out_dim};
    snprintf(path, sizeof path, "%s%s.weight", prefix, name);
    TRY(expect_shape(f, path, 2, wshape));
    const int64_t wstart[2] = {by_rows ? first : 0, by_rows ? 0 : first};
    const int64_t wcount[2] = {by_rows ? n : out_dim, by_rows ? in_dim : n};
    TRY(lavr_h5_read_slice(f, path, wstart, wcount, a, &l->w));
    snprintf(path, sizeof path, "%s%s.bias", prefix, name);
    TRY(expect_shape(f, path, 1, bshape));
    const int64_t bstart[1] = {by_rows ? first : 0}, bcount[1] = {by_rows ? n : out_dim};
    return lavr_h5_read_slice(f, path, bstart, bcount, a, &l->b);
}

/* A vector of `n` elements, or its [first, first+count) slice (count < n). */
static lavr_status read_vector_part(lavr_h5file *f, lavr_arena *a, const char *prefix, const char *name, int64_t n,
                                    int64_t first, int64_t count, lavr_tensor *t) {
    char path[256];
    snprintf(path, sizeof path, "%s%s", prefix, name);
    lavr_tensor desc;
    TRY(lavr_h5_info(f, path, &desc));
    if (lavr_tensor_numel(&desc) != n)
        return LAVR_FAIL(LAVR_E_FORMAT, "dit: tensor '%s' has %lld elements, expected %lld", path,
                         (long long)lavr_tensor_numel(&desc), (long long)n);
    if (count == n) return lavr_h5_read(f, path, a, t);
    const int64_t start[1] = {first}, cnt[1] = {count};
    CHECK_ARG(desc.ndim == 1, "dit: tensor '%s' must be 1-D to be split", path);
    return lavr_h5_read_slice(f, path, start, cnt, a, t);
}

static lavr_status read_vector(lavr_h5file *f, lavr_arena *a, const char *prefix, const char *name, int64_t n,
                               lavr_tensor *t) {
    return read_vector_part(f, a, prefix, name, n, 0, n, t);
}

/* patch, pose, time, FramePack and audio-encoder weights: the first shard's embeddings */
static lavr_status load_embeddings(lavr_dit *m, lavr_h5file *f, const char *p) {
    const int64_t d = m->cfg.dim;
    lavr_arena *a = m->arena;
    TRY(read_linear(f, a, p, "patch_embedding", d, &m->patch));
    TRY(read_linear(f, a, p, "cond_encoder", d, &m->cond));
    TRY(read_linear(f, a, p, "time_embedding.0", d, &m->time0));
    TRY(read_linear(f, a, p, "time_embedding.2", d, &m->time2));
    TRY(read_linear(f, a, p, "time_projection.1", 6 * d, &m->time_proj));
    TRY(read_linear(f, a, p, "frame_packer.proj", d, &m->fp_proj));
    TRY(read_linear(f, a, p, "frame_packer.proj_2x", d, &m->fp_proj2));
    TRY(read_linear(f, a, p, "frame_packer.proj_4x", d, &m->fp_proj4));
    TRY(read_vector(f, a, p, "trainable_cond_mask.weight", 3 * d, &m->cond_mask));
    TRY(read_tensor(f, a, p, "casual_audio_encoder.weights", &m->audio.layer_logits));
    TRY(read_linear(f, a, p, "casual_audio_encoder.encoder.conv1_local.conv", d, &m->audio.conv1_local));
    TRY(read_linear(f, a, p, "casual_audio_encoder.encoder.conv1_global.conv", d / 4, &m->audio.conv1_global));
    TRY(read_linear(f, a, p, "casual_audio_encoder.encoder.conv2.conv", d / 2, &m->audio.conv2));
    TRY(read_linear(f, a, p, "casual_audio_encoder.encoder.conv3.conv", d, &m->audio.conv3));
    TRY(read_linear(f, a, p, "casual_audio_encoder.encoder.final_linear", d, &m->audio.final_linear));
    TRY(read_vector(f, a, p, "casual_audio_encoder.encoder.padding_tokens", d, &m->audio.padding_tokens));
    /* the official config has no state count: it is the mix weights' length */
    m->cfg.audio_num_states = lavr_tensor_numel(&m->audio.layer_logits);
    if (m->audio.conv1_local.w.ndim != 3 || m->audio.conv1_local.w.shape[1] != m->cfg.audio_dim)
        return LAVR_FAIL(LAVR_E_FORMAT, "dit: conv1_local does not take audio_dim %lld channels",
                         (long long)m->cfg.audio_dim);
    return LAVR_OK;
}

/* Layer l's weights: attention and FFN split over the tp group, norms and modulation whole. */
static lavr_status load_layer(lavr_dit *m, lavr_h5file *f, const char *p, int64_t l, lavr_dit_layer *w) {
    const int64_t d = m->cfg.dim, r = m->shard.tp.rank;
    const int64_t h0 = r * m->width, f0 = r * m->ffn;
    lavr_arena *a = m->arena;
    char n[192];
    static const char *lin[10] = {"self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o", "cross_attn.q",
                                  "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0", "ffn.2"};
    lavr_dit_linear *dst[10] = {&w->sq, &w->sk, &w->sv, &w->so, &w->cq, &w->ck, &w->cv, &w->co, &w->ffn0, &w->ffn2};
    for (int i = 0; i < 10; i++) {
        snprintf(n, sizeof n, "blocks.%lld.%s", (long long)l, lin[i]);
        const int is_o = i == 3 || i == 7;
        if (i == 8) TRY(read_linear_part(f, a, p, n, m->cfg.ffn_dim, d, 1, f0, m->ffn, dst[i]));
        else if (i == 9) TRY(read_linear_part(f, a, p, n, d, m->cfg.ffn_dim, 0, f0, m->ffn, dst[i]));
        else TRY(read_linear_part(f, a, p, n, d, d, !is_o, h0, m->width, dst[i]));
    }
    static const char *vec[6] = {"self_attn.norm_q.weight", "self_attn.norm_k.weight", "cross_attn.norm_q.weight",
                                 "cross_attn.norm_k.weight", "norm3.weight", "norm3.bias"};
    lavr_tensor *vdst[6] = {&w->s_norm_q, &w->s_norm_k, &w->c_norm_q, &w->c_norm_k, &w->norm3_w, &w->norm3_b};
    for (int i = 0; i < 6; i++) {
        snprintf(n, sizeof n, "blocks.%lld.%s", (long long)l, vec[i]);
        /* the q/k RMSNorm gains follow their heads; norm3 acts on the full width */
        TRY(read_vector_part(f, a, p, n, d, i < 4 ? h0 : 0, i < 4 ? m->width : d, vdst[i]));
    }
    snprintf(n, sizeof n, "blocks.%lld.modulation", (long long)l);
    return read_vector(f, a, p, n, 6 * d, &w->modulation);
}

/* Audio injector j: q/k/v/o split by heads like attention, its AdaLN linear whole. */
static lavr_status load_injector(lavr_dit *m, lavr_h5file *f, const char *p, int j) {
    const int64_t d = m->cfg.dim, h0 = m->shard.tp.rank * m->width;
    lavr_dit_injector *inj = &m->injectors[j];
    lavr_arena *a = m->arena;
    char n[192];
    static const char *lin[4] = {"q", "k", "v", "o"};
    lavr_dit_linear *dst[4] = {&inj->q, &inj->k, &inj->v, &inj->o};
    for (int i = 0; i < 4; i++) {
        snprintf(n, sizeof n, "audio_injector.injector.%d.%s", j, lin[i]);
        TRY(read_linear_part(f, a, p, n, d, d, i < 3, h0, m->width, dst[i]));
    }
    snprintf(n, sizeof n, "audio_injector.injector.%d.norm_q.weight", j);
    TRY(read_vector_part(f, a, p, n, d, h0, m->width, &inj->norm_q));
    snprintf(n, sizeof n, "audio_injector.injector.%d.norm_k.weight", j);
    TRY(read_vector_part(f, a, p, n, d, h0, m->width, &inj->norm_k));
    snprintf(n, sizeof n, "audio_injector.injector_adain_layers.%d.linear", j);
    return read_linear(f, a, p, n, 2 * d, &inj->adain);
}

static lavr_status load_weights(lavr_dit *m, lavr_h5file *f, const char *p) {
    const lavr_dit_config *c = &m->cfg;
    const int64_t d = c->dim;
    if (m->shard.layer_begin == 0) TRY(load_embeddings(m, f, p));
    if (m->shard.embeddings_only) return LAVR_OK;
    /* every shard embeds the text itself: its layers' cross-attention K/V need it */
    TRY(read_linear(f, m->arena, p, "text_embedding.0", d, &m->text0));
    TRY(read_linear(f, m->arena, p, "text_embedding.2", d, &m->text2));
    if (m->shard.layer_end == c->num_layers) {
        TRY(read_linear(f, m->arena, p, "head.head", c->out_dim * c->patch[0] * c->patch[1] * c->patch[2], &m->head));
        TRY(read_vector(f, m->arena, p, "head.modulation", 2 * d, &m->head_modulation));
    }
    for (int64_t l = m->shard.layer_begin; l < m->shard.layer_end; l++) {
        TRY(load_layer(m, f, p, l, &m->layers[l - m->shard.layer_begin]));
        if (m->inject_of_layer[l] >= 0) TRY(load_injector(m, f, p, m->inject_of_layer[l]));
    }
    return LAVR_OK;
}

/* Resolves layer_end and checks the shard against the config. */
static lavr_status check_shard(const lavr_dit_config *c, lavr_dit_shard *s) {
    const lavr_dit_tp *tp = &s->tp;
    if (s->layer_end == -1) s->layer_end = c->num_layers;
    CHECK_ARG(s->layer_begin >= 0 && s->layer_begin < s->layer_end && s->layer_end <= c->num_layers,
              "dit shard: layer range [%lld, %lld) is not inside the model's %lld layers", (long long)s->layer_begin,
              (long long)s->layer_end, (long long)c->num_layers);
    CHECK_ARG(tp->size >= 1 && tp->rank >= 0 && tp->rank < tp->size, "dit shard: tp rank %d is outside a group of %d",
              tp->rank, tp->size);
    CHECK_ARG(tp->size == 1 || tp->allreduce_sum, "dit shard: tp size %d needs an all-reduce", tp->size);
    CHECK_ARG(c->num_heads % tp->size == 0, "dit shard: tp %d does not divide the %lld attention heads", tp->size,
              (long long)c->num_heads);
    CHECK_ARG(c->ffn_dim % tp->size == 0, "dit shard: tp %d does not divide the FFN width %lld", tp->size,
              (long long)c->ffn_dim);
    return LAVR_OK;
}

lavr_dit_shard lavr_dit_shard_full(void) {
    lavr_dit_shard s = {0, -1, {0, 1, NULL, NULL}, 0};
    return s;
}

const lavr_dit_shard *lavr_dit_shard_of(const lavr_dit *m) { return &m->shard; }

lavr_status lavr_dit_load(lavr_h5file *f, const char *prefix, const char *config_obj, lavr_dit **out) {
    const lavr_dit_shard full = lavr_dit_shard_full();
    return lavr_dit_load_shard(f, prefix, config_obj, &full, out);
}

lavr_status lavr_dit_load_shard(lavr_h5file *f, const char *prefix, const char *config_obj,
                                const lavr_dit_shard *shard, lavr_dit **out) {
    *out = NULL;
    char *text = NULL;
    lavr_json *j = NULL;
    TRY(lavr_h5_read_attr_string(f, config_obj, "config", &text));
    lavr_status st = lavr_json_parse(text, &j);
    free(text);
    TRY(st);
    lavr_dit *m = calloc(1, sizeof *m);
    if (!m) { lavr_json_free(j); return LAVR_FAIL(LAVR_E_NOMEM, "dit"); }
    st = lavr_dit_config_from_json(j, &m->cfg);
    lavr_json_free(j);
    lavr_dit_config *c = &m->cfg;
    if (!st && (c->dim % c->num_heads || (c->dim / c->num_heads) % 2 || c->dim % 4))
        st = LAVR_FAIL(LAVR_E_FORMAT, "dit: dim %lld does not split into %lld heads of even size", (long long)c->dim,
                       (long long)c->num_heads);
    if (!st && (c->patch[0] != 1 || c->patch[1] != 2 || c->patch[2] != 2))
        st = LAVR_FAIL(LAVR_E_UNSUPPORTED, "dit: only patch size (1,2,2) is supported");
    m->shard = *shard;
    if (!st) st = check_shard(c, &m->shard);
    if (!st) {
        m->heads = c->num_heads / m->shard.tp.size;
        m->width = m->heads * (c->dim / c->num_heads);
        m->ffn = c->ffn_dim / m->shard.tp.size;
        st = lavr_arena_create("dit weights", 0, &m->arena);
    }
    if (!st) {
        m->layers = calloc((size_t)(m->shard.layer_end - m->shard.layer_begin), sizeof *m->layers);
        m->injectors = calloc((size_t)(c->n_inject > 0 ? c->n_inject : 1), sizeof *m->injectors);
        m->inject_of_layer = malloc((size_t)c->num_layers * sizeof(int));
        if (!m->layers || !m->injectors || !m->inject_of_layer) st = LAVR_FAIL(LAVR_E_NOMEM, "dit layers");
    }
    if (!st) {
        for (int64_t l = 0; l < c->num_layers; l++) m->inject_of_layer[l] = -1;
        for (int jj = 0; jj < c->n_inject; jj++) {
            int64_t l = c->inject_layers[jj];
            if (l < 0 || l >= c->num_layers) {
                st = LAVR_FAIL(LAVR_E_FORMAT, "dit: audio injection after layer %lld of %lld", (long long)l,
                               (long long)c->num_layers);
                break;
            }
            m->inject_of_layer[l] = jj;
        }
    }
    if (!st) st = load_weights(m, f, prefix);
    if (st) { lavr_dit_destroy(m); return st; }
    *out = m;
    return LAVR_OK;
}

void lavr_dit_destroy(lavr_dit *m) {
    if (!m) return;
    lavr_arena_destroy(m->arena);
    free(m->layers);
    free(m->injectors);
    free(m->inject_of_layer);
    free(m->text_k);
    free(m->text_v);
    free(m);
}

lavr_status lavr_dit_set_context(lavr_dit *m, const float *context, int64_t rows) {
    const lavr_dit_config *c = &m->cfg;
    const int64_t d = c->dim, dh = m->width, T = c->text_len, td = c->text_dim;
    const int64_t layers = m->shard.layer_end - m->shard.layer_begin;
    CHECK_ARG(rows >= 0 && rows <= T, "dit: context has %lld rows, text_len is %lld", (long long)rows, (long long)T);
    if (!m->text_k) {
        m->text_k = malloc((size_t)(layers * T * dh) * sizeof(float));
        m->text_v = malloc((size_t)(layers * T * dh) * sizeof(float));
        if (!m->text_k || !m->text_v) return LAVR_FAIL(LAVR_E_NOMEM, "dit text K/V");
    }
    lavr_status st = LAVR_OK;
    float *cin = NULL, *h = NULL, *ctx = NULL;
    TRY_GOTO(dit_alloc(T * td, "context", &cin), st, done);
    TRY_GOTO(dit_alloc(T * d, "text hidden", &h), st, done);
    TRY_GOTO(dit_alloc(T * d, "text embedding", &ctx), st, done);
    /* zero-padded to text_len rows, all of them attended (no mask) */
    for (int64_t i = 0; i < T * td; i++) cin[i] = i < rows * td ? lavr_round_bf16(context[i]) : 0.0f;
    TRY_GOTO(dit_linear_bf16(cin, T, td, &m->text0, h), st, done);
    lavr_op_gelu_tanh(h, T * d, h);
    lavr_op_round_bf16(h, T * d);
    TRY_GOTO(dit_linear_bf16(h, T, d, &m->text2, ctx), st, done);
    for (int64_t i = 0; i < layers; i++) {
        float *k = m->text_k + i * T * dh, *v = m->text_v + i * T * dh;
        TRY_GOTO(dit_linear_bf16(ctx, T, d, &m->layers[i].ck, k), st, done);
        TRY_GOTO(dit_rms_gain_tp(m, k, T, dh, &m->layers[i].c_norm_k), st, done);
        TRY_GOTO(dit_linear_bf16(ctx, T, d, &m->layers[i].cv, v), st, done);
    }
done:
    free(cin); free(h); free(ctx);
    return st;
}

lavr_status lavr_dit_act_create(const lavr_dit *m, const lavr_dit_geometry *g, lavr_dit_act **out) {
    *out = NULL;
    const int64_t d = m->cfg.dim, F = m->cfg.frames_per_block, NA = m->cfg.num_audio_token + 1;
    const int64_t rows = g->block_tokens > g->sink ? g->block_tokens : g->sink;
    lavr_dit_act *a = calloc(1, sizeof *a);
    if (!a) return LAVR_FAIL(LAVR_E_NOMEM, "dit activation");
    a->floats = rows * d + d + 6 * d + F * NA * d + F * d;
    a->buf = calloc((size_t)a->floats, sizeof(float));
    if (!a->buf) {
        free(a);
        return LAVR_FAIL(LAVR_E_NOMEM, "dit activation: %lld floats", (long long)(rows * d + 7 * d + F * (NA + 1) * d));
    }
    a->x = a->buf;
    a->e = a->x + rows * d;
    a->e0 = a->e + d;
    a->a_loc = a->e0 + 6 * d;
    a->a_glob = a->a_loc + F * NA * d;
    *out = a;
    return LAVR_OK;
}

void lavr_dit_act_destroy(lavr_dit_act *a) {
    if (!a) return;
    free(a->buf);
    free(a);
}

lavr_status lavr_dit_head(const lavr_dit *m, const lavr_dit_step_cache *c, const lavr_dit_act *a, float *velocity) {
    const lavr_dit_geometry *g = &c->g;
    const int64_t d = m->cfg.dim, F = m->cfg.frames_per_block, L = F * g->P, C = m->cfg.out_dim;
    CHECK_ARG(m->shard.layer_end == m->cfg.num_layers, "dit: the shard of layers [%lld, %lld) holds no head",
              (long long)m->shard.layer_begin, (long long)m->shard.layer_end);
    CHECK_ARG(!a->prefill && a->rows == L, "dit head: needs a block's %lld tokens, got %lld%s", (long long)L,
              (long long)a->rows, a->prefill ? " of a sink prefill" : "");
    const int64_t K = m->head.w.shape[0];
    lavr_status st = LAVR_OK;
    float *n = NULL, *y = NULL, *shift = NULL;
    TRY_GOTO(dit_alloc(L * d, "head norm", &n), st, done);
    TRY_GOTO(dit_alloc(L * K, "head out", &y), st, done);
    TRY_GOTO(dit_alloc(2 * d, "head modulation", &shift), st, done);
    /* fp32 GEMM with per-frame e_head = head.modulation + e */
    for (int64_t i = 0; i < 2 * d; i++)
        shift[i] = (float)lavr_dtype_load(m->head_modulation.dtype, m->head_modulation.data, i) + a->e[i % d];
    const float *sh = shift, *sc = shift + d;
    TRY_GOTO(lavr_op_layernorm(a->x, L, d, NULL, NULL, (float)m->cfg.eps, n), st, done);
    for (int64_t r = 0; r < L; r++)
        for (int64_t i = 0; i < d; i++) n[r * d + i] = lavr_round_bf16(n[r * d + i]) * (1.0f + sc[i]) + sh[i];
    TRY_GOTO(lavr_op_linear(n, L, d, &m->head.w, &m->head.b, y), st, done);
    /* unpatchify into v [C, F, h, w] */
    for (int64_t t = 0; t < L; t++) {
        int64_t f = t / g->P, i = (t / g->wp) % g->hp, j = t % g->wp;
        for (int64_t p = 0; p < 2; p++)
            for (int64_t q = 0; q < 2; q++)
                for (int64_t ch = 0; ch < C; ch++)
                    velocity[((ch * F + f) * g->h + 2 * i + p) * g->w + 2 * j + q] =
                        lavr_round_bf16(y[t * K + (p * 2 + q) * C + ch]);
    }
done:
    free(n); free(y); free(shift);
    return st;
}

lavr_status lavr_dit_sink_prefill(const lavr_dit *m, lavr_dit_step_cache *c, const float *ref, const float *motion) {
    lavr_dit_act *a = NULL;
    TRY(lavr_dit_act_create(m, &c->g, &a));
    lavr_status st = lavr_dit_embed_sink(m, c, ref, motion, a);
    if (!st) st = lavr_dit_forward_layers(m, c, a, NULL, NULL);
    lavr_dit_act_destroy(a);
    return st;
}

lavr_status lavr_dit_block_forward(const lavr_dit *m, lavr_dit_step_cache *c, const lavr_dit_block_input *in,
                                   float *velocity) {
    lavr_dit_act *a = NULL;
    TRY(lavr_dit_act_create(m, &c->g, &a));
    lavr_status st = lavr_dit_embed_block(m, c, in, a);
    if (!st) st = lavr_dit_forward_layers(m, c, a, in->hook, in->hook_user);
    if (!st) st = lavr_dit_head(m, c, a, velocity);
    lavr_dit_act_destroy(a);
    return st;
}
