/* DiT embeddings (model-spec §1.5): float64 sinusoid -> fp32 time MLP and 6-way projection, and the
 * kernel = stride Conv3d patch embeddings computed as a GEMM over gathered patches. */
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
