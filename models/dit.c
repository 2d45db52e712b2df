/* The causal DiT's entry points: weight loading, the per-prompt text K/V, the sink prefill
 * (model-spec §2.3) and the block forward against one step cache with head and unpatchify (§2.4, §1.9). */
#include "models/dit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/json.h"
#include "kernels/ops.h"
#include "models/dit_internal.h"
#include "models/rope.h"

static lavr_status read_tensor(lavr_h5file *f, lavr_arena *a, const char *prefix, const char *name, lavr_tensor *t) {
    char path[256];
    snprintf(path, sizeof path, "%s%s", prefix, name);
    return lavr_h5_read(f, path, a, t);
}

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

static lavr_status read_vector(lavr_h5file *f, lavr_arena *a, const char *prefix, const char *name, int64_t n,
                               lavr_tensor *t) {
    TRY(read_tensor(f, a, prefix, name, t));
    if (lavr_tensor_numel(t) != n)
        return LAVR_FAIL(LAVR_E_FORMAT, "dit: tensor '%s%s' has %lld elements, expected %lld", prefix, name,
                         (long long)lavr_tensor_numel(t), (long long)n);
    return LAVR_OK;
}

static lavr_status load_weights(lavr_dit *m, lavr_h5file *f, const char *p) {
    const lavr_dit_config *c = &m->cfg;
    const int64_t d = c->dim;
    lavr_arena *a = m->arena;
    char n[192];
    TRY(read_linear(f, a, p, "patch_embedding", d, &m->patch));
    TRY(read_linear(f, a, p, "cond_encoder", d, &m->cond));
    TRY(read_linear(f, a, p, "text_embedding.0", d, &m->text0));
    TRY(read_linear(f, a, p, "text_embedding.2", d, &m->text2));
    TRY(read_linear(f, a, p, "time_embedding.0", d, &m->time0));
    TRY(read_linear(f, a, p, "time_embedding.2", d, &m->time2));
    TRY(read_linear(f, a, p, "time_projection.1", 6 * d, &m->time_proj));
    TRY(read_linear(f, a, p, "head.head", c->out_dim * c->patch[0] * c->patch[1] * c->patch[2], &m->head));
    TRY(read_linear(f, a, p, "frame_packer.proj", d, &m->fp_proj));
    TRY(read_linear(f, a, p, "frame_packer.proj_2x", d, &m->fp_proj2));
    TRY(read_linear(f, a, p, "frame_packer.proj_4x", d, &m->fp_proj4));
    TRY(read_vector(f, a, p, "head.modulation", 2 * d, &m->head_modulation));
    TRY(read_vector(f, a, p, "trainable_cond_mask.weight", 3 * d, &m->cond_mask));
    TRY(read_tensor(f, a, p, "casual_audio_encoder.weights", &m->audio.layer_logits));
    TRY(read_linear(f, a, p, "casual_audio_encoder.encoder.conv1_local.conv", d, &m->audio.conv1_local));
    TRY(read_linear(f, a, p, "casual_audio_encoder.encoder.conv1_global.conv", d / 4, &m->audio.conv1_global));
    TRY(read_linear(f, a, p, "casual_audio_encoder.encoder.conv2.conv", d / 2, &m->audio.conv2));
    TRY(read_linear(f, a, p, "casual_audio_encoder.encoder.conv3.conv", d, &m->audio.conv3));
    TRY(read_linear(f, a, p, "casual_audio_encoder.encoder.final_linear", d, &m->audio.final_linear));
    TRY(read_vector(f, a, p, "casual_audio_encoder.encoder.padding_tokens", d, &m->audio.padding_tokens));
    for (int64_t l = 0; l < c->num_layers; l++) {
        lavr_dit_layer *w = &m->layers[l];
        static const char *lin[10] = {"self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o", "cross_attn.q",
                                      "cross_attn.k", "cross_attn.v", "cross_attn.o", "ffn.0", "ffn.2"};
        lavr_dit_linear *dst[10] = {&w->sq, &w->sk, &w->sv, &w->so, &w->cq, &w->ck, &w->cv, &w->co, &w->ffn0, &w->ffn2};
        for (int i = 0; i < 10; i++) {
            snprintf(n, sizeof n, "blocks.%lld.%s", (long long)l, lin[i]);
            TRY(read_linear(f, a, p, n, i == 8 ? c->ffn_dim : d, dst[i]));
        }
        static const char *vec[6] = {"self_attn.norm_q.weight", "self_attn.norm_k.weight", "cross_attn.norm_q.weight",
                                     "cross_attn.norm_k.weight", "norm3.weight", "norm3.bias"};
        lavr_tensor *vdst[6] = {&w->s_norm_q, &w->s_norm_k, &w->c_norm_q, &w->c_norm_k, &w->norm3_w, &w->norm3_b};
        for (int i = 0; i < 6; i++) {
            snprintf(n, sizeof n, "blocks.%lld.%s", (long long)l, vec[i]);
            TRY(read_vector(f, a, p, n, d, vdst[i]));
        }
        snprintf(n, sizeof n, "blocks.%lld.modulation", (long long)l);
        TRY(read_vector(f, a, p, n, 6 * d, &w->modulation));
    }
    for (int j = 0; j < c->n_inject; j++) {
        lavr_dit_injector *inj = &m->injectors[j];
        static const char *lin[4] = {"q", "k", "v", "o"};
        lavr_dit_linear *dst[4] = {&inj->q, &inj->k, &inj->v, &inj->o};
        for (int i = 0; i < 4; i++) {
            snprintf(n, sizeof n, "audio_injector.injector.%d.%s", j, lin[i]);
            TRY(read_linear(f, a, p, n, d, dst[i]));
        }
        snprintf(n, sizeof n, "audio_injector.injector.%d.norm_q.weight", j);
        TRY(read_vector(f, a, p, n, d, &inj->norm_q));
        snprintf(n, sizeof n, "audio_injector.injector.%d.norm_k.weight", j);
        TRY(read_vector(f, a, p, n, d, &inj->norm_k));
        snprintf(n, sizeof n, "audio_injector.injector_adain_layers.%d.linear", j);
        TRY(read_linear(f, a, p, n, 2 * d, &inj->adain));
    }
    return LAVR_OK;
}

lavr_status lavr_dit_load(lavr_h5file *f, const char *prefix, const char *config_obj, lavr_dit **out) {
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
    if (!st) st = lavr_arena_create("dit weights", 0, &m->arena);
    if (!st) {
        m->layers = calloc((size_t)c->num_layers, sizeof *m->layers);
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
    if (!st) {
        /* the official config has no state count: it is the mix weights' length */
        c->audio_num_states = lavr_tensor_numel(&m->audio.layer_logits);
        if (m->audio.conv1_local.w.ndim != 3 || m->audio.conv1_local.w.shape[1] != c->audio_dim)
            st = LAVR_FAIL(LAVR_E_FORMAT, "dit: conv1_local does not take audio_dim %lld channels",
                           (long long)c->audio_dim);
    }
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
    const int64_t d = c->dim, T = c->text_len, td = c->text_dim;
    CHECK_ARG(rows >= 0 && rows <= T, "dit: context has %lld rows, text_len is %lld", (long long)rows, (long long)T);
    if (!m->text_k) {
        m->text_k = malloc((size_t)(c->num_layers * T * d) * sizeof(float));
        m->text_v = malloc((size_t)(c->num_layers * T * d) * sizeof(float));
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
    for (int64_t l = 0; l < c->num_layers; l++) {
        float *k = m->text_k + l * T * d, *v = m->text_v + l * T * d;
        TRY_GOTO(dit_linear_bf16(ctx, T, d, &m->layers[l].ck, k), st, done);
        TRY_GOTO(dit_rms_gain(k, T, d, &m->layers[l].c_norm_k, c->eps), st, done);
        TRY_GOTO(dit_linear_bf16(ctx, T, d, &m->layers[l].cv, v), st, done);
    }
done:
    free(cin); free(h); free(ctx);
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

lavr_status lavr_dit_sink_prefill(const lavr_dit *m, lavr_dit_step_cache *c, const float *ref, const float *motion) {
    CHECK_ARG(m->text_k, "dit: sink prefill before the context was set");
    const lavr_dit_geometry *g = &c->g;
    const int64_t d = m->cfg.dim, S = g->sink;
    lavr_status st = LAVR_OK;
    float *x = NULL, *e = NULL, *e0 = NULL;
    TRY_GOTO(dit_alloc(S * d, "sink tokens", &x), st, done);
    TRY_GOTO(dit_alloc(d, "time embedding", &e), st, done);
    TRY_GOTO(dit_alloc(6 * d, "time projection", &e0), st, done);
    int64_t n = 0;
    TRY_GOTO(dit_patchify(&m->patch, ref, m->cfg.in_dim, 1, g->h, g->w, x, &n), st, done);
    add_type(m, 1, x, n);
    lavr_rope_group ref_group = {{30, 0, 0}, {31, g->hp, g->wp}, {1, g->hp, g->wp}};
    lavr_rope_group_positions(&ref_group, c->sink_pos);
    TRY_GOTO(dit_framepack(m, g, motion, x + g->P * d, c->sink_pos + g->P * 3), st, done);
    /* every sink token uses the t = 0 modulation slot */
    TRY_GOTO(dit_time_embed(m, 0.0, e, e0), st, done);
    dit_attn_plan plan = {1, 0, 0, NULL};
    for (int64_t l = 0; l < m->cfg.num_layers; l++) TRY_GOTO(dit_layer_forward(m, l, c, &plan, x, S, e0, c->sink_pos), st, done);
    c->sink_ready = 1;
done:
    free(x); free(e); free(e0);
    return st;
}

/* Head (fp32 GEMM, per-frame e_head) and unpatchify into v [C, F, h, w] (bf16 values). */
static lavr_status head_unpatchify(const lavr_dit *m, const lavr_dit_geometry *g, const float *x, int64_t F,
                                   const float *e, float *v) {
    const int64_t d = m->cfg.dim, L = F * g->P, C = m->cfg.out_dim, K = m->head.w.shape[0];
    lavr_status st = LAVR_OK;
    float *a = NULL, *y = NULL, *shift = NULL;
    TRY_GOTO(dit_alloc(L * d, "head norm", &a), st, done);
    TRY_GOTO(dit_alloc(L * K, "head out", &y), st, done);
    TRY_GOTO(dit_alloc(2 * d, "head modulation", &shift), st, done);
    for (int64_t i = 0; i < 2 * d; i++)
        shift[i] = (float)lavr_dtype_load(m->head_modulation.dtype, m->head_modulation.data, i) + e[i % d];
    const float *sh = shift, *sc = shift + d;
    TRY_GOTO(lavr_op_layernorm(x, L, d, NULL, NULL, (float)m->cfg.eps, a), st, done);
    for (int64_t r = 0; r < L; r++)
        for (int64_t i = 0; i < d; i++) a[r * d + i] = lavr_round_bf16(a[r * d + i]) * (1.0f + sc[i]) + sh[i];
    TRY_GOTO(lavr_op_linear(a, L, d, &m->head.w, &m->head.b, y), st, done);
    for (int64_t t = 0; t < L; t++) {
        int64_t f = t / g->P, i = (t / g->wp) % g->hp, j = t % g->wp;
        for (int64_t p = 0; p < 2; p++)
            for (int64_t q = 0; q < 2; q++)
                for (int64_t ch = 0; ch < C; ch++)
                    v[((ch * F + f) * g->h + 2 * i + p) * g->w + 2 * j + q] =
                        lavr_round_bf16(y[t * K + (p * 2 + q) * C + ch]);
    }
done:
    free(a); free(y); free(shift);
    return st;
}

lavr_status lavr_dit_block_forward(const lavr_dit *m, lavr_dit_step_cache *c, const lavr_dit_block_input *in,
                                   float *velocity) {
    const lavr_dit_config *cfg = &m->cfg;
    const lavr_dit_geometry *g = &c->g;
    const int64_t d = cfg->dim, F = cfg->frames_per_block, L = g->block_tokens, S = g->sink;
    const int64_t NA = cfg->num_audio_token + 1;
    CHECK_ARG(m->text_k, "dit: block forward before the context was set");
    CHECK_ARG(c->sink_ready, "dit: block forward before the sink prefill");
    CHECK_ARG(in->block_index >= 0, "dit: negative block index %lld", (long long)in->block_index);
    lavr_status st = LAVR_OK;
    float *x = NULL, *tmp = NULL, *e = NULL, *e0 = NULL, *a_loc = NULL, *a_glob = NULL;
    int64_t *pos = NULL, *sink_pos = NULL;
    TRY_GOTO(dit_alloc(L * d, "block tokens", &x), st, done);
    TRY_GOTO(dit_alloc(L * d, "pose tokens", &tmp), st, done);
    TRY_GOTO(dit_alloc(d, "time embedding", &e), st, done);
    TRY_GOTO(dit_alloc(6 * d, "time projection", &e0), st, done);
    TRY_GOTO(dit_alloc(F * NA * d, "audio tokens", &a_loc), st, done);
    TRY_GOTO(dit_alloc(F * d, "audio global", &a_glob), st, done);
    pos = malloc((size_t)L * 3 * sizeof(int64_t));
    sink_pos = malloc((size_t)S * 3 * sizeof(int64_t));
    if (!pos || !sink_pos) TRY_GOTO(LAVR_FAIL(LAVR_E_NOMEM, "dit positions"), st, done);

    /* tokens: patch embedding + pose (cond_encoder; zeros give its bias) + type embedding 0 */
    int64_t n = 0;
    TRY_GOTO(dit_patchify(&m->patch, in->x, cfg->in_dim, F, g->h, g->w, x, &n), st, done);
    if (in->pose) {
        TRY_GOTO(dit_patchify(&m->cond, in->pose, cfg->cond_dim, F, g->h, g->w, tmp, &n), st, done);
    } else {
        for (int64_t t = 0; t < L; t++)
            for (int64_t i = 0; i < d; i++) tmp[t * d + i] = (float)lavr_dtype_load(m->cond.b.dtype, m->cond.b.data, i);
    }
    for (int64_t i = 0; i < L * d; i++) x[i] = lavr_round_bf16(x[i] + lavr_round_bf16(tmp[i]));
    add_type(m, 0, x, L);

    /* positions: absolute frames f0..f0+F-1; the sink's reference sits at max(30, f0 + offset) */
    const int64_t f0 = F * in->block_index;
    lavr_rope_group noisy = {{f0, 0, 0}, {f0 + F, g->hp, g->wp}, {F, g->hp, g->wp}};
    lavr_rope_group_positions(&noisy, pos);
    memcpy(sink_pos, c->sink_pos, (size_t)S * 3 * sizeof(int64_t));
    int64_t ref_f = 30 + (f0 - 30 + in->sink_offset > 0 ? f0 - 30 + in->sink_offset : 0);
    for (int64_t t = 0; t < g->P; t++) sink_pos[t * 3] = ref_f;

    TRY_GOTO(dit_time_embed(m, (double)in->timestep, e, e0), st, done);
    TRY_GOTO(dit_audio_encode(m, in->audio, in->audio_frames, in->audio_first, 4 * F, a_loc, a_glob), st, done);

    const int64_t start = in->block_index * L;
    dit_attn_plan plan = {0, start % g->window, start < g->window ? start % g->window + L : g->window, sink_pos};
    for (int64_t l = 0; l < cfg->num_layers; l++) {
        TRY_GOTO(dit_layer_forward(m, l, c, &plan, x, L, e0, pos), st, done);
        if (in->hook) in->hook(in->hook_user, l, x, L, d);
        if (m->inject_of_layer[l] >= 0)
            TRY_GOTO(dit_audio_inject(m, m->inject_of_layer[l], x, F, g->P, a_loc, a_glob), st, done);
    }
    TRY_GOTO(head_unpatchify(m, g, x, F, e, velocity), st, done);
done:
    free(x); free(tmp); free(e); free(e0); free(a_loc); free(a_glob); free(pos); free(sink_pos);
    return st;
}
