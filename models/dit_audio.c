/* The DiT's audio path (model-spec §3.3, §1.8): the causal audio encoder run on one block's video
 * frames (73-frame replicated prefix, local and global conv branches) and the per-frame injector. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "kernels/ops.h"
#include "models/dit_internal.h"

/* Causal Conv1d (left padding 2 by replicating the first frame) as a GEMM over gathered taps:
 * x [T, cin] time-major -> y [Tout, cout], Tout = (T-1)/stride + 1; fp32 (autocast float32). */
static lavr_status causal_conv(const float *x, int64_t T, int64_t cin, const lavr_dit_linear *conv, int64_t stride,
                               float *y, int64_t *tout) {
    const int64_t K = conv->w.ndim == 3 ? conv->w.shape[2] : 0;
    CHECK_ARG(K == 3 && conv->w.shape[1] == cin, "audio conv: weight must be [out, %lld, 3]", (long long)cin);
    const int64_t n = (T - 1) / stride + 1;
    float *cols;
    TRY(dit_alloc(n * cin * K, "audio conv taps", &cols));
    for (int64_t t = 0; t < n; t++)
        for (int64_t c = 0; c < cin; c++)
            for (int64_t k = 0; k < K; k++) {
                int64_t src = t * stride + k - (K - 1);
                cols[(t * cin + c) * K + k] = x[(src < 0 ? 0 : src) * cin + c];
            }
    lavr_status st = lavr_op_linear(cols, n, cin * K, &conv->w, &conv->b, y);
    free(cols);
    *tout = n;
    return st;
}

/* in place: silu(LN(x)) over rows of `cols` channels (eps 1e-6, no affine) */
static lavr_status norm_silu(float *x, int64_t rows, int64_t cols) {
    TRY(lavr_op_layernorm(x, rows, cols, NULL, NULL, 1e-6f, x));
    lavr_op_silu(x, rows * cols, x);
    return LAVR_OK;
}

/* conv1 output [T, c1] -> conv2, conv3 (shared by both branches) -> out [T4, d] */
static lavr_status conv_tail(const lavr_dit *m, float *y1, int64_t T, int64_t c1, float *out, int64_t *t4) {
    const int64_t c2 = m->audio.conv2.w.shape[0], c3 = m->audio.conv3.w.shape[0];
    float *y2;
    TRY(norm_silu(y1, T, c1));
    TRY(dit_alloc(T * c2, "audio conv2", &y2));
    int64_t t2 = 0;
    lavr_status st = causal_conv(y1, T, c1, &m->audio.conv2, 2, y2, &t2);
    if (!st) st = norm_silu(y2, t2, c2);
    if (!st) st = causal_conv(y2, t2, c2, &m->audio.conv3, 2, out, t4);
    if (!st) st = norm_silu(out, *t4, c3);
    free(y2);
    return st;
}

float dit_audio_layer_weights(const lavr_dit *m, float *w) {
    float wsum = 0;
    for (int64_t l = 0; l < m->cfg.audio_num_states; l++) {
        float z = (float)lavr_dtype_load(m->audio.layer_logits.dtype, m->audio.layer_logits.data, l);
        w[l] = lavr_round_bf16(z / (1.0f + expf(-z)));
        wsum += w[l];
    }
    return lavr_round_bf16(wsum);
}

lavr_status dit_audio_encode(const lavr_dit *m, const float *audio, int64_t total_frames, int64_t first,
                             int64_t video_frames, float *a_loc, float *a_glob) {
    const lavr_dit_config *cfg = &m->cfg;
    const int64_t S = cfg->audio_num_states, A = cfg->audio_dim, d = cfg->dim, NT = cfg->num_audio_token;
    const int64_t prefix = cfg->motion_frames, keep = (cfg->motion_frames + 3) / 4;
    const int64_t T = prefix + video_frames, c1 = m->audio.conv1_global.w.shape[0];
    CHECK_ARG(first >= 0 && first + video_frames <= total_frames,
              "dit audio: frames [%lld, %lld) outside the %lld audio frames", (long long)first,
              (long long)(first + video_frames), (long long)total_frames);
    CHECK_ARG(m->audio.conv1_local.w.shape[0] == NT * c1, "dit audio: conv1_local gives %lld channels, expected %lld",
              (long long)m->audio.conv1_local.w.shape[0], (long long)(NT * c1));
    lavr_status st = LAVR_OK;
    float *feat = NULL, *y1 = NULL, *tok = NULL, *out = NULL, *w = NULL;
    TRY_GOTO(dit_alloc(T * A, "audio mix", &feat), st, done);
    TRY_GOTO(dit_alloc(T * NT * c1, "audio conv1", &y1), st, done);
    TRY_GOTO(dit_alloc(T * c1, "audio token", &tok), st, done);
    TRY_GOTO(dit_alloc(T * d, "audio conv3", &out), st, done);
    TRY_GOTO(dit_alloc(S, "audio layer weights", &w), st, done);

    /* layer mix in bf16 (the parameters and features are bf16; only convs/LNs/linears are fp32) */
    const float wsum = dit_audio_layer_weights(m, w);
    for (int64_t t = 0; t < T; t++) {
        int64_t src = first + (t < prefix ? 0 : t - prefix); /* 73 copies of the block's first frame */
        for (int64_t c = 0; c < A; c++) {
            float acc = 0;
            for (int64_t l = 0; l < S; l++)
                acc += lavr_round_bf16(lavr_round_bf16(audio[(l * A + c) * total_frames + src] * w[l]) / wsum);
            feat[t * A + c] = lavr_round_bf16(acc);
        }
    }

    /* local branch: conv1_local's channels split into NT tokens sharing conv2/conv3 */
    int64_t t1 = 0, t4 = 0;
    TRY_GOTO(causal_conv(feat, T, A, &m->audio.conv1_local, 1, y1, &t1), st, done);
    const int64_t F = ((t1 - 1) / 2 / 2 + 1) - keep;
    CHECK_ARG(F == video_frames / 4 && F > 0, "dit audio: %lld video frames do not give whole latent frames",
              (long long)video_frames);
    for (int64_t n = 0; n < NT; n++) {
        for (int64_t t = 0; t < t1; t++) memcpy(tok + t * c1, y1 + t * NT * c1 + n * c1, (size_t)c1 * sizeof(float));
        TRY_GOTO(conv_tail(m, tok, t1, c1, out, &t4), st, done);
        for (int64_t f = 0; f < F; f++)
            for (int64_t i = 0; i < d; i++) a_loc[(f * (NT + 1) + n) * d + i] = lavr_round_bf16(out[(keep + f) * d + i]);
    }
    for (int64_t f = 0; f < F; f++)
        for (int64_t i = 0; i < d; i++)
            a_loc[(f * (NT + 1) + NT) * d + i] =
                (float)lavr_dtype_load(m->audio.padding_tokens.dtype, m->audio.padding_tokens.data, i);

    /* global branch: conv1_global, the shared convs, final_linear (fp32) */
    TRY_GOTO(causal_conv(feat, T, A, &m->audio.conv1_global, 1, tok, &t1), st, done);
    TRY_GOTO(conv_tail(m, tok, t1, c1, out, &t4), st, done);
    TRY_GOTO(lavr_op_linear(out + keep * d, F, d, &m->audio.final_linear.w, &m->audio.final_linear.b, a_glob), st, done);
    lavr_op_round_bf16(a_glob, F * d);
done:
    free(feat); free(y1); free(tok); free(out); free(w);
    return st;
}

lavr_status dit_audio_inject(const lavr_dit *m, int j, float *x, int64_t F, int64_t P, const float *a_loc,
                             const float *a_glob) {
    const lavr_dit_injector *inj = &m->injectors[j];
    /* d: full width (AdaLN, residual); dh, H: this shard's heads */
    const int64_t d = m->cfg.dim, dh = m->width, H = m->heads, D = dh / H, NA = m->cfg.num_audio_token + 1;
    const float scale = (float)(1.0 / sqrt((double)D));
    lavr_status st = LAVR_OK;
    float *g = NULL, *emb = NULL, *zn = NULL, *q = NULL, *k = NULL, *v = NULL, *att = NULL;
    TRY_GOTO(dit_alloc(d, "adain input", &g), st, done);
    TRY_GOTO(dit_alloc(2 * d, "adain", &emb), st, done);
    TRY_GOTO(dit_alloc(P * d, "adain norm", &zn), st, done);
    TRY_GOTO(dit_alloc(P * dh, "audio q", &q), st, done);
    TRY_GOTO(dit_alloc(NA * dh, "audio k", &k), st, done);
    TRY_GOTO(dit_alloc(NA * dh, "audio v", &v), st, done);
    TRY_GOTO(dit_alloc(P * dh, "audio attention", &att), st, done);
    for (int64_t f = 0; f < F; f++) {
        float *z = x + f * P * d;
        /* AdaLN (diffusers AdaLayerNorm, chunk_dim 1): shift first, then scale; LN eps 1e-5 */
        lavr_op_silu(a_glob + f * d, d, g);
        lavr_op_round_bf16(g, d);
        TRY_GOTO(dit_linear_bf16(g, 1, d, &inj->adain, emb), st, done);
        const float *shift = emb, *sc = emb + d;
        TRY_GOTO(lavr_op_layernorm(z, P, d, NULL, NULL, 1e-5f, zn), st, done);
        for (int64_t r = 0; r < P; r++)
            for (int64_t i = 0; i < d; i++) zn[r * d + i] = lavr_round_bf16(zn[r * d + i] * (1.0f + sc[i]) + shift[i]);
        TRY_GOTO(dit_linear_bf16(zn, P, d, &inj->q, q), st, done);
        TRY_GOTO(dit_rms_gain_tp(m, q, P, dh, &inj->norm_q), st, done);
        TRY_GOTO(dit_linear_bf16(a_loc + f * NA * d, NA, d, &inj->k, k), st, done);
        TRY_GOTO(dit_rms_gain_tp(m, k, NA, dh, &inj->norm_k), st, done);
        TRY_GOTO(dit_linear_bf16(a_loc + f * NA * d, NA, d, &inj->v, v), st, done);
        lavr_kv_segment seg = {LAVR_F32, k, v, NA, dh};
        TRY_GOTO(lavr_op_attention(q, P, H, D, dh, &seg, 1, scale, NULL, att), st, done);
        lavr_op_round_bf16(att, P * dh);
        TRY_GOTO(dit_linear_reduce_bf16(m, att, P, dh, &inj->o, zn), st, done);
        for (int64_t i = 0; i < P * d; i++) z[i] = lavr_round_bf16(z[i] + zn[i]);
    }
done:
    free(g); free(emb); free(zn); free(q); free(k); free(v); free(att);
    return st;
}
