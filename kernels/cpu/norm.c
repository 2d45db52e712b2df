/* CPU reference of the normalisations: row LayerNorm (optional affine), row RMS norm without gain,
 * and the VAE's channel L2 normalisation. Statistics are accumulated in double. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "kernels/cpu/helpers.h"
#include "kernels/ops.h"

/* A gamma/beta tensor widened to f32 (NULL when absent); *out must be freed by the caller. */
static lavr_status widen_vector(const lavr_tensor *t, int64_t n, const char *what, float **out) {
    *out = NULL;
    if (!t) return LAVR_OK;
    TRY(check_vector(t, n, what));
    float *v = malloc((size_t)n * sizeof(float));
    if (!v) return LAVR_FAIL(LAVR_E_NOMEM, "%s: %lld floats", what, (long long)n);
    widen_table tab;
    widen_table_init(&tab);
    widen_f32(t->dtype, t->data, 0, n, &tab, v);
    *out = v;
    return LAVR_OK;
}

lavr_status lavr_op_layernorm(const float *x, int64_t rows, int64_t cols, const lavr_tensor *gamma,
                              const lavr_tensor *beta, float eps, float *y) {
    CHECK_ARG(x && y && rows >= 0 && cols > 0, "layernorm: bad arguments (rows=%lld, cols=%lld)", (long long)rows,
              (long long)cols);
    float *g = NULL, *bt = NULL;
    TRY(widen_vector(gamma, cols, "layernorm gamma", &g));
    lavr_status st = widen_vector(beta, cols, "layernorm beta", &bt);
    if (st) {
        free(g);
        return st;
    }
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        double sum = 0;
        for (int64_t c = 0; c < cols; c++) sum += xr[c];
        const double mean = sum / (double)cols;
        double sq = 0; /* two passes: no cancellation when |mean| >> std */
        for (int64_t c = 0; c < cols; c++) sq += (xr[c] - mean) * (xr[c] - mean);
        const float inv = (float)(1.0 / sqrt(sq / (double)cols + (double)eps)), mu = (float)mean;
        for (int64_t c = 0; c < cols; c++) {
            float v = (xr[c] - mu) * inv;
            if (g) v *= g[c];
            if (bt) v += bt[c];
            yr[c] = v;
        }
    }
    free(g);
    free(bt);
    return LAVR_OK;
}

lavr_status lavr_op_rmsnorm(const float *x, int64_t rows, int64_t cols, float eps, float *y) {
    CHECK_ARG(x && y && rows >= 0 && cols > 0, "rmsnorm: bad arguments (rows=%lld, cols=%lld)", (long long)rows,
              (long long)cols);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        double sq = 0;
        for (int64_t c = 0; c < cols; c++) sq += (double)xr[c] * xr[c];
        const float inv = (float)(1.0 / sqrt(sq / (double)cols + (double)eps));
        for (int64_t c = 0; c < cols; c++) yr[c] = xr[c] * inv;
    }
    return LAVR_OK;
}

lavr_status lavr_op_l2norm_channels(const float *x, int64_t channels, int64_t n, float eps, float *y) {
    CHECK_ARG(x && y && channels > 0 && n >= 0, "l2norm_channels: bad arguments (channels=%lld, n=%lld)",
              (long long)channels, (long long)n);
    enum { COLS = 256 }; /* columns per task: the channel walk is strided, so batch columns */
    const int64_t nblocks = (n + COLS - 1) / COLS;
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < nblocks; blk++) {
        const int64_t c0 = blk * COLS, nc = n - c0 < COLS ? n - c0 : COLS;
        double sq[COLS] = {0};
        for (int64_t ch = 0; ch < channels; ch++) {
            const float *xr = x + ch * n + c0;
            for (int64_t j = 0; j < nc; j++) sq[j] += (double)xr[j] * xr[j];
        }
        float inv[COLS];
        for (int64_t j = 0; j < nc; j++) {
            double norm = sqrt(sq[j]);
            inv[j] = (float)(1.0 / (norm > eps ? norm : (double)eps)); /* F.normalize: x / max(||x||, eps) */
        }
        for (int64_t ch = 0; ch < channels; ch++) {
            const float *xr = x + ch * n + c0;
            float *yr = y + ch * n + c0;
            for (int64_t j = 0; j < nc; j++) yr[j] = xr[j] * inv[j];
        }
    }
    return LAVR_OK;
}
