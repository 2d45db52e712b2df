/* The transformer layers of the causal DiT (model-spec §1.7, §2.3-2.4): modulated self-attention
 * over [window ‖ re-roped sink] (or the sink itself at prefill), text cross-attention and FFN, on a
 * shard's heads and FFN columns, and the walk of a shard's layer range with its audio injections. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "kernels/ops.h"
#include "models/dit_internal.h"
#include "models/rope.h"

/* a = bf16(LN(x) * (1 + scale) + shift); LN output rounded to bf16 first when its input is bf16 */
static lavr_status modulated_norm(const float *x, int64_t L, int64_t d, double eps, int round_ln, const float *shift,
                                  const float *scale, float *a) {
    TRY(lavr_op_layernorm(x, L, d, NULL, NULL, (float)eps, a));
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < L; r++) {
        float *v = a + r * d;
        for (int64_t i = 0; i < d; i++) {
            float n = round_ln ? lavr_round_bf16(v[i]) : v[i];
            v[i] = lavr_round_bf16(n * (1.0f + scale[i]) + shift[i]);
        }
    }
    return LAVR_OK;
}

static void to_bf16_bits(const float *x, int64_t n, uint16_t *out) {
    for (int64_t i = 0; i < n; i++) out[i] = lavr_f32_to_bf16(x[i]);
}

/* self-attention of the layer: out [L,d] (bf16 values) before the o projection */
static lavr_status self_attention(const lavr_dit *m, int64_t l, lavr_dit_step_cache *c, const dit_attn_plan *plan,
                                  float *q, float *k, const float *v, int64_t L, const int64_t *pos, float *out) {
    /* the shard's heads: d is their width; l indexes the cache's layers */
    const int64_t d = m->width, H = m->heads, D = d / H;
    const float scale = (float)(1.0 / sqrt((double)D));
    lavr_status st = LAVR_OK;
    if (plan->prefill) {
        CHECK_ARG(L == c->g.sink, "dit prefill: %lld tokens for a sink of %lld", (long long)L, (long long)c->g.sink);
        to_bf16_bits(k, L * d, c->sink_k + l * c->g.sink * d);
        to_bf16_bits(v, L * d, c->sink_v + l * c->g.sink * d);
        TRY(lavr_rope_apply(q, L, H, D, d, pos));
        TRY(lavr_rope_apply(k, L, H, D, d, pos));
        lavr_kv_segment seg = {LAVR_F32, k, v, L, d};
        TRY(lavr_op_attention(q, L, H, D, d, &seg, 1, scale, NULL, out));
    } else {
        TRY(lavr_rope_apply(q, L, H, D, d, pos));
        TRY(lavr_rope_apply(k, L, H, D, d, pos));
        /* timestep forcing: the block's own K/V enter the window before it attends */
        uint16_t *wk = c->win_k + l * c->g.window * d, *wv = c->win_v + l * c->g.window * d;
        to_bf16_bits(k, L * d, wk + plan->slot * d);
        to_bf16_bits(v, L * d, wv + plan->slot * d);
        /* the sink keys are stored before RoPE and re-roped with this forward's reference position */
        const int64_t S = c->g.sink;
        float *sk;
        TRY(dit_alloc(S * d, "sink keys", &sk));
        const uint16_t *ks = c->sink_k + l * S * d;
        for (int64_t i = 0; i < S * d; i++) sk[i] = lavr_bf16_to_f32(ks[i]);
        st = lavr_rope_apply(sk, S, H, D, d, plan->sink_pos);
        if (!st) {
            /* roped keys are bf16 values: store them as bf16 so the sink V is read in place */
            uint16_t *skb = malloc((size_t)(S * d) * sizeof(uint16_t));
            if (!skb) {
                st = LAVR_FAIL(LAVR_E_NOMEM, "dit: roped sink keys (%lld)", (long long)(S * d));
            } else {
                to_bf16_bits(sk, S * d, skb);
                lavr_kv_segment seg[2] = {{LAVR_BF16, wk, wv, plan->n_valid, d},
                                          {LAVR_BF16, skb, c->sink_v + l * S * d, S, d}};
                st = lavr_op_attention(q, L, H, D, d, seg, 2, scale, NULL, out);
                free(skb);
            }
        }
        free(sk);
        TRY(st);
    }
    lavr_op_round_bf16(out, L * d);
    return LAVR_OK;
}

lavr_status dit_layer_forward(const lavr_dit *m, int64_t l, lavr_dit_step_cache *c, const dit_attn_plan *plan,
                              float *x, int64_t L, const float *e0, const int64_t *pos) {
    const lavr_dit_config *cfg = &m->cfg;
    const int64_t li = l - m->shard.layer_begin; /* index among the shard's layers, weights and caches */
    const lavr_dit_layer *w = &m->layers[li];
    /* d: the full hidden width; dh, H: this shard's heads; ff: its FFN columns */
    const int64_t d = cfg->dim, dh = m->width, H = m->heads, D = dh / H, ff = m->ffn, T = cfg->text_len;
    const float scale = (float)(1.0 / sqrt((double)D));
    lavr_status st = LAVR_OK;
    float *E = NULL, *a = NULL, *q = NULL, *k = NULL, *v = NULL, *att = NULL, *x32 = NULL, *hid = NULL;
    TRY_GOTO(dit_alloc(6 * d, "modulation", &E), st, done);
    TRY_GOTO(dit_alloc(L * d, "norm", &a), st, done);
    TRY_GOTO(dit_alloc(L * dh, "q", &q), st, done);
    TRY_GOTO(dit_alloc(L * dh, "k", &k), st, done);
    TRY_GOTO(dit_alloc(L * dh, "v", &v), st, done);
    TRY_GOTO(dit_alloc(L * dh, "attention", &att), st, done);
    TRY_GOTO(dit_alloc(L * d, "residual", &x32), st, done);
    TRY_GOTO(dit_alloc(L * ff, "ffn hidden", &hid), st, done);

    /* E = block modulation + projected time embedding, fp32 (shift, scale, gate) x 2 */
    for (int64_t i = 0; i < 6 * d; i++) E[i] = (float)lavr_dtype_load(w->modulation.dtype, w->modulation.data, i) + e0[i];

    /* self-attention; the block input is bf16, so LN's output is bf16 too */
    TRY_GOTO(modulated_norm(x, L, d, cfg->eps, 1, E + 0 * d, E + 1 * d, a), st, done);
    TRY_GOTO(dit_linear_bf16(a, L, d, &w->sq, q), st, done);
    TRY_GOTO(dit_rms_gain_tp(m, q, L, dh, &w->s_norm_q), st, done);
    TRY_GOTO(dit_linear_bf16(a, L, d, &w->sk, k), st, done);
    TRY_GOTO(dit_rms_gain_tp(m, k, L, dh, &w->s_norm_k), st, done);
    TRY_GOTO(dit_linear_bf16(a, L, d, &w->sv, v), st, done);
    TRY_GOTO(self_attention(m, li, c, plan, q, k, v, L, pos, att), st, done);
    TRY_GOTO(dit_linear_reduce_bf16(m, att, L, dh, &w->so, a), st, done);
    const float *gate1 = E + 2 * d;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < L; r++)
        for (int64_t i = 0; i < d; i++) x32[r * d + i] = x[r * d + i] + a[r * d + i] * gate1[i];

    /* cross-attention: LiveAvatar rounds norm3's input to bf16; no modulation, no gate */
    for (int64_t i = 0; i < L * d; i++) a[i] = lavr_round_bf16(x32[i]);
    TRY_GOTO(lavr_op_layernorm(a, L, d, &w->norm3_w, &w->norm3_b, (float)cfg->eps, a), st, done);
    lavr_op_round_bf16(a, L * d);
    TRY_GOTO(dit_linear_bf16(a, L, d, &w->cq, q), st, done);
    TRY_GOTO(dit_rms_gain_tp(m, q, L, dh, &w->c_norm_q), st, done);
    {
        lavr_kv_segment seg = {LAVR_F32, m->text_k + li * T * dh, m->text_v + li * T * dh, T, dh};
        TRY_GOTO(lavr_op_attention(q, L, H, D, dh, &seg, 1, scale, NULL, att), st, done);
    }
    lavr_op_round_bf16(att, L * dh);
    TRY_GOTO(dit_linear_reduce_bf16(m, att, L, dh, &w->co, a), st, done);
    for (int64_t i = 0; i < L * d; i++) x32[i] += a[i];

    /* FFN on the fp32 stream (norm2 sees fp32, so its output is not rounded before modulation) */
    TRY_GOTO(modulated_norm(x32, L, d, cfg->eps, 0, E + 3 * d, E + 4 * d, a), st, done);
    TRY_GOTO(dit_linear_bf16(a, L, d, &w->ffn0, hid), st, done);
    lavr_op_gelu_tanh(hid, L * ff, hid);
    lavr_op_round_bf16(hid, L * ff);
    TRY_GOTO(dit_linear_reduce_bf16(m, hid, L, ff, &w->ffn2, a), st, done);
    const float *gate2 = E + 5 * d;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < L; r++)
        for (int64_t i = 0; i < d; i++) x[r * d + i] = lavr_round_bf16(x32[r * d + i] + a[r * d + i] * gate2[i]);
done:
    free(E); free(a); free(q); free(k); free(v); free(att); free(x32); free(hid);
    return st;
}

lavr_status lavr_dit_forward_layers(const lavr_dit *m, lavr_dit_step_cache *c, lavr_dit_act *a,
                                    lavr_dit_layer_hook hook, void *hook_user) {
    const lavr_dit_config *cfg = &m->cfg;
    const lavr_dit_geometry *g = &c->g;
    const int64_t d = cfg->dim, F = cfg->frames_per_block, S = g->sink, L = g->block_tokens;
    CHECK_ARG(m->text_k, "dit: forward before the context was set");
    CHECK_ARG(c->layer_begin == m->shard.layer_begin && c->layers == m->shard.layer_end - m->shard.layer_begin &&
                  c->dim == m->width,
              "dit: step cache made for another shard");
    if (a->prefill) {
        CHECK_ARG(a->rows == S, "dit prefill: %lld tokens for a sink of %lld", (long long)a->rows, (long long)S);
        dit_attn_plan plan = {1, 0, 0, NULL};
        for (int64_t l = m->shard.layer_begin; l < m->shard.layer_end; l++) {
            TRY(dit_layer_forward(m, l, c, &plan, a->x, S, a->e0, c->sink_pos));
            if (hook) hook(hook_user, l, a->x, S, d);
        }
        c->sink_ready = 1;
        return LAVR_OK;
    }
    CHECK_ARG(c->sink_ready, "dit: block forward before the sink prefill");
    CHECK_ARG(a->block_index >= 0, "dit: negative block index %lld", (long long)a->block_index);
    CHECK_ARG(a->rows == L, "dit: %lld tokens for a block of %lld", (long long)a->rows, (long long)L);
    int64_t *pos = malloc((size_t)(L + S) * 3 * sizeof(int64_t));
    if (!pos) return LAVR_FAIL(LAVR_E_NOMEM, "dit positions (%lld tokens)", (long long)(L + S));
    int64_t *sink_pos = pos + L * 3;
    /* positions: absolute frames f0..f0+F-1; the sink's reference sits at max(30, f0 + offset) */
    const int64_t f0 = F * a->block_index;
    lavr_rope_group noisy = {{f0, 0, 0}, {f0 + F, g->hp, g->wp}, {F, g->hp, g->wp}};
    lavr_rope_group_positions(&noisy, pos);
    memcpy(sink_pos, c->sink_pos, (size_t)S * 3 * sizeof(int64_t));
    int64_t ref_f = 30 + (f0 - 30 + a->sink_offset > 0 ? f0 - 30 + a->sink_offset : 0);
    for (int64_t t = 0; t < g->P; t++) sink_pos[t * 3] = ref_f;

    const int64_t start = a->block_index * L;
    dit_attn_plan plan = {0, start % g->window, start < g->window ? start % g->window + L : g->window, sink_pos};
    lavr_status st = LAVR_OK;
    for (int64_t l = m->shard.layer_begin; l < m->shard.layer_end && !st; l++) {
        st = dit_layer_forward(m, l, c, &plan, a->x, L, a->e0, pos);
        if (!st && hook) hook(hook_user, l, a->x, L, d);
        if (!st && m->inject_of_layer[l] >= 0)
            st = dit_audio_inject(m, m->inject_of_layer[l], a->x, F, g->P, a->a_loc, a->a_glob);
    }
    free(pos);
    return st;
}
