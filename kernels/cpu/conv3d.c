/* CPU reference of lavr_op_conv3d (Wan VAE causal convolutions; padding is explicit per side):
 * direct convolution accumulating one output plane at a time, OpenMP over (output channel, frame). */
#include <omp.h>
#include <stdlib.h>

#include "kernels/cpu/helpers.h"
#include "kernels/ops.h"

/* plane[Ho, Wo] += wv * the (dh, dw) tap of input frame xf[H, W] */
static void accumulate_tap(float *plane, int64_t Ho, int64_t Wo, const float *xf, int64_t H, int64_t W,
                           int64_t dh, int64_t dw, const int64_t stride[3], const int64_t pad[6], float wv) {
    int64_t h_lo, h_hi, w_lo, w_hi;
    conv_valid_range(H, Ho, stride[1], pad[2], dh, &h_lo, &h_hi);
    conv_valid_range(W, Wo, stride[2], pad[4], dw, &w_lo, &w_hi);
    const int64_t sw = stride[2];
    for (int64_t ho = h_lo; ho < h_hi; ho++) {
        const float *xs = xf + (ho * stride[1] + dh - pad[2]) * W + dw - pad[4]; /* xs[wo*sw] is the input */
        float *pr = plane + ho * Wo;
        if (sw == 1) {
#pragma omp simd
            for (int64_t wo = w_lo; wo < w_hi; wo++) pr[wo] += wv * xs[wo];
        } else {
            for (int64_t wo = w_lo; wo < w_hi; wo++) pr[wo] += wv * xs[wo * sw];
        }
    }
}

lavr_status lavr_op_conv3d(const float *x, int64_t cin, int64_t t, int64_t h, int64_t w_, const lavr_tensor *w,
                           const lavr_tensor *b, const int64_t stride[3], const int64_t pad[6], float *y,
                           int64_t out_dims[3]) {
    char buf[96];
    TRY(check_float_tensor(w, "conv3d weight"));
    CHECK_ARG(x && y && out_dims && stride && pad && cin > 0 && t > 0 && h > 0 && w_ > 0,
              "conv3d: bad arguments (cin=%lld, t=%lld, h=%lld, w=%lld)", (long long)cin, (long long)t, (long long)h,
              (long long)w_);
    CHECK_ARG((w->ndim == 5 || w->ndim == 4) && w->shape[1] == cin,
              "conv3d: weight %s is not [Cout, %lld, kt, kh, kw] or [Cout, %lld, kh, kw]",
              lavr_tensor_describe(w, buf, (int)sizeof buf), (long long)cin, (long long)cin);
    for (int i = 0; i < 3; i++) CHECK_ARG(stride[i] >= 1, "conv3d: stride[%d] = %lld", i, (long long)stride[i]);
    for (int i = 0; i < 6; i++) CHECK_ARG(pad[i] >= 0, "conv3d: pad[%d] = %lld", i, (long long)pad[i]);
    const int64_t cout = w->shape[0], kt = w->ndim == 5 ? w->shape[2] : 1;
    const int64_t kh = w->shape[w->ndim - 2], kw = w->shape[w->ndim - 1];
    const int64_t in_dims[3] = {t, h, w_}, taps[3] = {kt, kh, kw};
    int64_t dims[3];
    for (int i = 0; i < 3; i++) {
        const int64_t padded = in_dims[i] + pad[2 * i] + pad[2 * i + 1];
        CHECK_ARG(padded >= taps[i], "conv3d: kernel %lld longer than padded input %lld in dim %d", (long long)taps[i],
                  (long long)padded, i);
        dims[i] = (padded - taps[i]) / stride[i] + 1;
    }
    if (b) TRY(check_vector(b, cout, "conv3d bias"));
    const int64_t To = dims[0], Ho = dims[1], Wo = dims[2], kvol = kt * kh * kw;

    widen_table tab;
    widen_table_init(&tab);
    const int nthreads = omp_get_max_threads();
    float *wbuf = malloc((size_t)nthreads * (size_t)(cin * kvol + 1) * sizeof(float));
    if (!wbuf) return LAVR_FAIL(LAVR_E_NOMEM, "conv3d: weight rows for %d threads", nthreads);
#pragma omp parallel
    {
        float *wrow = wbuf + (size_t)omp_get_thread_num() * (size_t)(cin * kvol + 1);
        int64_t widened = -1;
#pragma omp for collapse(2) schedule(static)
        for (int64_t co = 0; co < cout; co++) {
            for (int64_t to = 0; to < To; to++) {
                if (widened != co) {
                    widen_f32(w->dtype, w->data, co * cin * kvol, cin * kvol, &tab, wrow);
                    widened = co;
                }
                float bias = 0;
                if (b) widen_f32(b->dtype, b->data, co, 1, &tab, &bias);
                float *plane = y + (co * To + to) * Ho * Wo;
                for (int64_t i = 0; i < Ho * Wo; i++) plane[i] = bias;
                int64_t t_lo, t_hi;
                for (int64_t dt = 0; dt < kt; dt++) {
                    conv_valid_range(t, To, stride[0], pad[0], dt, &t_lo, &t_hi);
                    if (to < t_lo || to >= t_hi) continue; /* this tap reads temporal padding */
                    const int64_t ti = to * stride[0] + dt - pad[0];
                    for (int64_t ci = 0; ci < cin; ci++) {
                        const float *xf = x + (ci * t + ti) * h * w_;
                        const float *wk = wrow + (ci * kt + dt) * kh * kw;
                        for (int64_t dh = 0; dh < kh; dh++)
                            for (int64_t dw = 0; dw < kw; dw++)
                                accumulate_tap(plane, Ho, Wo, xf, h, w_, dh, dw, stride, pad, wk[dh * kw + dw]);
                    }
                }
            }
        }
    }
    free(wbuf);
    out_dims[0] = To;
    out_dims[1] = Ho;
    out_dims[2] = Wo;
    return LAVR_OK;
}
