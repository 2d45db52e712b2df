/* One transformer layer of the causal DiT (model-spec §1.7, §2.3-2.4): modulated self-attention
 * over [window ‖ re-roped sink] (or the sink itself at prefill), text cross-attention and FFN. */
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
    const int64_t d = m->cfg.dim, H = m->cfg.num_heads, D = d / H;
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
    const lavr_dit_layer *w = &m->layers[l];
    const int64_t d = cfg->dim, H = cfg->num_heads, D = d / H, ff = cfg->ffn_dim, T = cfg->text_len;
    const float scale = (float)(1.0 / sqrt((double)D));
    lavr_status st = LAVR_OK;
    float *E = NULL, *a = NULL, *q = NULL, *k = NULL, *v = NULL, *att = NULL, *x32 = NULL, *hid = NULL;
    TRY_GOTO(dit_alloc(6 * d, "modulation", &E), st, done);
    TRY_GOTO(dit_alloc(L * d, "norm", &a), st, done);
    TRY_GOTO(dit_alloc(L * d, "q", &q), st, done);
    TRY_GOTO(dit_alloc(L * d, "k", &k), st, done);
    TRY_GOTO(dit_alloc(L * d, "v", &v), st, done);
    TRY_GOTO(dit_alloc(L * d, "attention", &att), st, done);
    TRY_GOTO(dit_alloc(L * d, "residual", &x32), st, done);
    TRY_GOTO(dit_alloc(L * ff, "ffn hidden", &hid), st, done);

    /* E = block modulation + projected time embedding, fp32 (shift, scale, gate) x 2 */
    for (int64_t i = 0; i < 6 * d; i++) E[i] = (float)lavr_dtype_load(w->modulation.dtype, w->modulation.data, i) + e0[i];

    /* self-attention; the block input is bf16, so LN's output is bf16 too */
    TRY_GOTO(modulated_norm(x, L, d, cfg->eps, 1, E + 0 * d, E + 1 * d, a), st, done);
    TRY_GOTO(dit_linear_bf16(a, L, d, &w->sq, q), st, done);
    TRY_GOTO(dit_rms_gain(q, L, d, &w->s_norm_q, cfg->eps), st, done);
    TRY_GOTO(dit_linear_bf16(a, L, d, &w->sk, k), st, done);
    TRY_GOTO(dit_rms_gain(k, L, d, &w->s_norm_k, cfg->eps), st, done);
    TRY_GOTO(dit_linear_bf16(a, L, d, &w->sv, v), st, done);
    TRY_GOTO(self_attention(m, l, c, plan, q, k, v, L, pos, att), st, done);
    TRY_GOTO(dit_linear_bf16(att, L, d, &w->so, a), st, done);
    const float *gate1 = E + 2 * d;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < L; r++)
        for (int64_t i = 0; i < d; i++) x32[r * d + i] = x[r * d + i] + a[r * d + i] * gate1[i];

    /* cross-attention: LiveAvatar rounds norm3's input to bf16; no modulation, no gate */
    for (int64_t i = 0; i < L * d; i++) a[i] = lavr_round_bf16(x32[i]);
    TRY_GOTO(lavr_op_layernorm(a, L, d, &w->norm3_w, &w->norm3_b, (float)cfg->eps, a), st, done);
    lavr_op_round_bf16(a, L * d);
    TRY_GOTO(dit_linear_bf16(a, L, d, &w->cq, q), st, done);
    TRY_GOTO(dit_rms_gain(q, L, d, &w->c_norm_q, cfg->eps), st, done);
    {
        lavr_kv_segment seg = {LAVR_F32, m->text_k + l * T * d, m->text_v + l * T * d, T, d};
        TRY_GOTO(lavr_op_attention(q, L, H, D, d, &seg, 1, scale, NULL, att), st, done);
    }
    lavr_op_round_bf16(att, L * d);
    TRY_GOTO(dit_linear_bf16(att, L, d, &w->co, a), st, done);
    for (int64_t i = 0; i < L * d; i++) x32[i] += a[i];

    /* FFN on the fp32 stream (norm2 sees fp32, so its output is not rounded before modulation) */
    TRY_GOTO(modulated_norm(x32, L, d, cfg->eps, 0, E + 3 * d, E + 4 * d, a), st, done);
    TRY_GOTO(dit_linear_bf16(a, L, d, &w->ffn0, hid), st, done);
    lavr_op_gelu_tanh(hid, L * ff, hid);
    lavr_op_round_bf16(hid, L * ff);
    TRY_GOTO(dit_linear_bf16(hid, L, ff, &w->ffn2, a), st, done);
    const float *gate2 = E + 5 * d;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < L; r++)
        for (int64_t i = 0; i < d; i++) x[r * d + i] = lavr_round_bf16(x32[r * d + i] + a[r * d + i] * gate2[i]);
done:
    free(E); free(a); free(q); free(k); free(v); free(att); free(x32); free(hid);
    return st;
}
