/* CPU reference of the video ops (kernels/cpu/video.h): plain loops over channel-major F32 video tensors, OpenMP
 * over channels or position blocks; the convolution and the attention are lavr_op_conv3d and lavr_op_attention. */
#include "kernels/cpu/video.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "kernels/ops.h"

/* A host video operand: channel ch's t*h*w values start at p + ch * cs. */
typedef struct {
    float *p;
    int64_t c, n, cs; /* channels, values per channel (t*h*w), channel stride */
} view;

static view view_of(const lavr_tensor *t) {
    view v = {t->data, t->shape[0], t->shape[1] * t->shape[2] * t->shape[3], t->stride[0]};
    return v;
}

static float at(const lavr_tensor *v, int64_t i) { return (float)lavr_tensor_get_flat(v, i); }

/* x'[i] of channel ch: round(x + bias) when a deferred bias is given (x + bias without round). */
static inline float biased(float v, const float *bias, int64_t ch, int round) {
    if (!bias) return v;
    v += bias[ch];
    return round ? lavr_round_bf16(v) : v;
}

/* A vector operand widened to float (NULL stays NULL); *out is malloc'd. */
static lavr_status widen(const lavr_tensor *t, int64_t n, float **out) {
    *out = NULL;
    if (!t) return LAVR_OK;
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v) return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for a %lld-channel vector", (long long)n);
    for (int64_t i = 0; i < n; i++) v[i] = at(t, i);
    *out = v;
    return LAVR_OK;
}

static int is_contiguous(const view *v) { return v->cs == v->n || v->c == 1; }

/* ---- convolution ------------------------------------------------------------------------------ */

lavr_status lavr_cpu_vop_conv(lavr_arena *scratch, const lavr_tensor *x, const lavr_conv_weights *w, int with_bias,
                              const int64_t stride[3], const int64_t pad[6], int round, lavr_tensor *y) {
    const view xv = view_of(x), yv = view_of(y);
    float *xin = xv.p, *yout = yv.p;
    lavr_status st = LAVR_OK;
    /* lavr_op_conv3d takes contiguous tensors: frame ranges go through a packed copy */
    if (!is_contiguous(&xv)) {
        TRY(lavr_arena_alloc(scratch, (size_t)(xv.c * xv.n) * sizeof(float), "conv input (packed)", (void **)&xin));
        for (int64_t ch = 0; ch < xv.c; ch++) memcpy(xin + ch * xv.n, xv.p + ch * xv.cs, (size_t)xv.n * sizeof(float));
    }
    if (!is_contiguous(&yv))
        TRY_GOTO(lavr_arena_alloc(scratch, (size_t)(yv.c * yv.n) * sizeof(float), "conv output (packed)",
                                  (void **)&yout), st, done);
    int64_t dims[3];
    TRY_GOTO(lavr_op_conv3d(xin, x->shape[0], x->shape[1], x->shape[2], x->shape[3], &w->weight,
                            with_bias && !round ? &w->bias : NULL, stride, pad, yout, dims), st, done);
    if (dims[0] != y->shape[1] || dims[1] != y->shape[2] || dims[2] != y->shape[3]) {
        st = LAVR_FAIL(LAVR_E_INTERNAL, "conv: output [%lld,%lld,%lld] for a [%lld,%lld,%lld] tensor", (long long)dims[0],
                       (long long)dims[1], (long long)dims[2], (long long)y->shape[1], (long long)y->shape[2],
                       (long long)y->shape[3]);
        goto done;
    }
    if (round) {
        /* PyTorch's bf16 convolution: the bias-free result is rounded, then the bias is a second bf16 op */
        lavr_op_round_bf16(yout, yv.c * yv.n);
        if (with_bias) {
#pragma omp parallel for
            for (int64_t ch = 0; ch < yv.c; ch++) {
                const float b = at(&w->bias, ch);
                float *row = yout + ch * yv.n;
                for (int64_t i = 0; i < yv.n; i++) row[i] = lavr_round_bf16(row[i] + b);
            }
        }
    }
    if (yout != yv.p)
        for (int64_t ch = 0; ch < yv.c; ch++) memcpy(yv.p + ch * yv.cs, yout + ch * yv.n, (size_t)yv.n * sizeof(float));
done:
    if (xin != xv.p) lavr_arena_free(scratch, xin);
    if (yout && yout != yv.p) lavr_arena_free(scratch, yout);
    return st;
}

/* ---- RMS norm ----------------------------------------------------------------------------------- */

lavr_status lavr_cpu_vop_rms_norm(const lavr_tensor *x, const lavr_tensor *x_bias, const lavr_tensor *gamma, int silu,
                                  int round, lavr_tensor *y) {
    const view xv = view_of(x), yv = view_of(y);
    const int64_t C = xv.c, n = xv.n;
    const float eps = 1e-12f, scale = (float)sqrt((double)C);
    float *bias = NULL, *g = NULL;
    TRY(widen(x_bias, C, &bias));
    lavr_status st = widen(gamma, C, &g);
    if (st) {
        free(bias);
        return st;
    }
    enum { COLS = 256 }; /* positions per task: the channel walk is strided, so batch positions */
    const int64_t nblocks = (n + COLS - 1) / COLS;
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < nblocks; blk++) {
        const int64_t p0 = blk * COLS, np = n - p0 < COLS ? n - p0 : COLS;
        double sq[COLS] = {0};
        for (int64_t ch = 0; ch < C; ch++) {
            const float *xr = xv.p + ch * xv.cs + p0;
            for (int64_t j = 0; j < np; j++) {
                const float v = biased(xr[j], bias, ch, round);
                sq[j] += (double)v * v;
            }
        }
        float inv[COLS];
        for (int64_t j = 0; j < np; j++) {
            const double norm = sqrt(sq[j]);
            inv[j] = (float)(1.0 / (norm > eps ? norm : (double)eps)); /* F.normalize: x / max(||x||, eps) */
        }
        for (int64_t ch = 0; ch < C; ch++) {
            const float *xr = xv.p + ch * xv.cs + p0;
            float *yr = yv.p + ch * yv.cs + p0;
            for (int64_t j = 0; j < np; j++) {
                float v = biased(xr[j], bias, ch, round) * inv[j];
                v = v * scale;
                v = v * g[ch];
                if (silu) v = v / (1.0f + expf(-v));
                yr[j] = round ? lavr_round_bf16(v) : v;
            }
        }
    }
    free(bias);
    free(g);
    return LAVR_OK;
}

/* ---- element-wise ------------------------------------------------------------------------------- */

lavr_status lavr_cpu_vop_add(const lavr_tensor *a, const lavr_tensor *a_bias, const lavr_tensor *b,
                             const lavr_tensor *b_bias, int round, lavr_tensor *y) {
    const view av = view_of(a), yv = view_of(y), bv = b ? view_of(b) : av;
    float *ab = NULL, *bb = NULL;
    TRY(widen(a_bias, av.c, &ab));
    lavr_status st = widen(b_bias, av.c, &bb);
    if (st) {
        free(ab);
        return st;
    }
#pragma omp parallel for
    for (int64_t ch = 0; ch < av.c; ch++) {
        const float *ar = av.p + ch * av.cs, *br = bv.p + ch * bv.cs;
        float *yr = yv.p + ch * yv.cs;
        for (int64_t i = 0; i < av.n; i++) {
            float v = biased(ar[i], ab, ch, round);
            if (b) v += biased(br[i], bb, ch, round);
            yr[i] = round ? lavr_round_bf16(v) : v;
        }
    }
    free(ab);
    free(bb);
    return LAVR_OK;
}

lavr_status lavr_cpu_vop_copy(const lavr_tensor *x, lavr_tensor *y) {
    const view xv = view_of(x), yv = view_of(y);
    for (int64_t ch = 0; ch < xv.c; ch++) memmove(yv.p + ch * yv.cs, xv.p + ch * xv.cs, (size_t)xv.n * sizeof(float));
    return LAVR_OK;
}

lavr_status lavr_cpu_vop_zero(lavr_tensor *y) {
    const view yv = view_of(y);
    for (int64_t ch = 0; ch < yv.c; ch++) memset(yv.p + ch * yv.cs, 0, (size_t)yv.n * sizeof(float));
    return LAVR_OK;
}

lavr_status lavr_cpu_vop_clamp(const lavr_tensor *x, float lo, float hi, lavr_tensor *y) {
    const view xv = view_of(x), yv = view_of(y);
    for (int64_t ch = 0; ch < xv.c; ch++) {
        const float *xr = xv.p + ch * xv.cs;
        float *yr = yv.p + ch * yv.cs;
        for (int64_t i = 0; i < xv.n; i++) {
            const float v = xr[i];
            yr[i] = v < lo ? lo : v > hi ? hi : v;
        }
    }
    return LAVR_OK;
}

lavr_status lavr_cpu_vop_upsample2x(const lavr_tensor *x, lavr_tensor *y) {
    const view xv = view_of(x), yv = view_of(y);
    const int64_t t = x->shape[1], h = x->shape[2], w = x->shape[3];
#pragma omp parallel for
    for (int64_t ct = 0; ct < xv.c * t; ct++) {
        const int64_t ch = ct / t, f = ct % t;
        const float *src = xv.p + ch * xv.cs + f * h * w;
        float *dst = yv.p + ch * yv.cs + f * 4 * h * w;
        for (int64_t i = 0; i < 2 * h; i++)
            for (int64_t j = 0; j < 2 * w; j++) dst[i * 2 * w + j] = src[(i / 2) * w + j / 2];
    }
    return LAVR_OK;
}

lavr_status lavr_cpu_vop_time_interleave(const lavr_tensor *x, const lavr_tensor *x_bias, int round, lavr_tensor *y) {
    const view xv = view_of(x), yv = view_of(y);
    const int64_t c = y->shape[0], t = x->shape[1], hw = x->shape[2] * x->shape[3];
    float *bias = NULL;
    TRY(widen(x_bias, xv.c, &bias));
#pragma omp parallel for
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t tau = 0; tau < t; tau++)
            for (int64_t j = 0; j < 2; j++) {
                const float *src = xv.p + (j * c + ch) * xv.cs + tau * hw;
                float *dst = yv.p + ch * yv.cs + (2 * tau + j) * hw;
                for (int64_t p = 0; p < hw; p++) dst[p] = biased(src[p], bias, j * c + ch, round);
            }
    free(bias);
    return LAVR_OK;
}

/* ---- attention ---------------------------------------------------------------------------------- */

lavr_status lavr_cpu_vop_frame_attention(lavr_arena *scratch, const lavr_tensor *qkv, const lavr_tensor *qkv_bias,
                                         int round, lavr_tensor *out) {
    const view qv = view_of(qkv), ov = view_of(out);
    const int64_t c = out->shape[0], t = qkv->shape[1], hw = qkv->shape[2] * qkv->shape[3];
    float *bias = NULL, *tokens = NULL, *att = NULL;
    TRY(widen(qkv_bias, 3 * c, &bias));
    lavr_status st;
    TRY_GOTO(lavr_arena_alloc(scratch, (size_t)(hw * 3 * c) * sizeof(float), "VAE attention tokens", (void **)&tokens),
             st, done);
    TRY_GOTO(lavr_arena_alloc(scratch, (size_t)(hw * c) * sizeof(float), "VAE attention output", (void **)&att), st,
             done);
    for (int64_t f = 0; f < t; f++) {
        for (int64_t ch = 0; ch < 3 * c; ch++) {
            const float *src = qv.p + ch * qv.cs + f * hw;
            for (int64_t p = 0; p < hw; p++) tokens[p * 3 * c + ch] = biased(src[p], bias, ch, round);
        }
        lavr_kv_segment seg = {.dtype = LAVR_F32, .k = tokens + c, .v = tokens + 2 * c, .len = hw, .row_stride = 3 * c};
        TRY_GOTO(lavr_op_attention(tokens, hw, 1, c, 3 * c, &seg, 1, (float)(1.0 / sqrt((double)c)), NULL, att), st,
                 done);
        if (round) lavr_op_round_bf16(att, hw * c);
        for (int64_t ch = 0; ch < c; ch++) {
            float *dst = ov.p + ch * ov.cs + f * hw;
            for (int64_t p = 0; p < hw; p++) dst[p] = att[p * c + ch];
        }
    }
done:
    if (tokens) lavr_arena_free(scratch, tokens);
    if (att) lavr_arena_free(scratch, att);
    free(bias);
    return st;
}
