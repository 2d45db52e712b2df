/* CPU reference of lavr_op_conv1d (wav2vec2 feature extractor and grouped positional convolution):
 * per group, im2col of the zero-padded input followed by lavr_op_linear (fp32 accumulation, OpenMP). */
#include <stdlib.h>

#include "kernels/cpu/helpers.h"
#include "kernels/ops.h"

/* cols[o, ci*K + k] = x[ci, o*stride + k - pad_left], 0 in the padding: the weight [Cout, cpg, K]
 * then flattens to the [Cout, cpg*K] matrix of a Linear. */
static void im2col_1d(const float *xg, int64_t cpg, int64_t t, int64_t K, int64_t stride, int64_t pad_left,
                      int64_t T_out, float *cols) {
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < T_out; o++) {
        float *row = cols + o * cpg * K;
        const int64_t first = o * stride - pad_left;
        for (int64_t ci = 0; ci < cpg; ci++)
            for (int64_t k = 0; k < K; k++) {
                const int64_t i = first + k;
                row[ci * K + k] = i >= 0 && i < t ? xg[ci * t + i] : 0.0f;
            }
    }
}

lavr_status lavr_op_conv1d(const float *x, int64_t cin, int64_t t, const lavr_tensor *w, const lavr_tensor *b,
                           int64_t stride, int64_t pad_left, int64_t pad_right, int64_t groups, float *y,
                           int64_t *tout) {
    char buf[96];
    TRY(check_float_tensor(w, "conv1d weight"));
    CHECK_ARG(x && y && tout && cin > 0 && t > 0, "conv1d: bad arguments (cin=%lld, t=%lld)", (long long)cin,
              (long long)t);
    CHECK_ARG(stride >= 1 && pad_left >= 0 && pad_right >= 0 && groups >= 1,
              "conv1d: bad stride %lld / padding %lld,%lld / groups %lld", (long long)stride, (long long)pad_left,
              (long long)pad_right, (long long)groups);
    CHECK_ARG(w->ndim == 3 && cin % groups == 0 && w->shape[1] == cin / groups && w->shape[0] % groups == 0,
              "conv1d: weight %s does not fit %lld input channels in %lld groups",
              lavr_tensor_describe(w, buf, (int)sizeof buf), (long long)cin, (long long)groups);
    const int64_t cout = w->shape[0], cpg = w->shape[1], K = w->shape[2], opg = cout / groups;
    CHECK_ARG(t + pad_left + pad_right >= K, "conv1d: kernel %lld longer than the padded input %lld", (long long)K,
              (long long)(t + pad_left + pad_right));
    if (b) TRY(check_vector(b, cout, "conv1d bias"));
    const int64_t T_out = (t + pad_left + pad_right - K) / stride + 1;

    float *cols = malloc((size_t)(T_out * cpg * K) * sizeof(float));
    float *out_t = malloc((size_t)(T_out * opg) * sizeof(float)); /* [T_out, opg]: linear's layout */
    lavr_status st = LAVR_OK;
    if (!cols || !out_t) {
        st = LAVR_FAIL(LAVR_E_NOMEM, "conv1d: im2col buffer of %lld x %lld floats", (long long)T_out,
                       (long long)(cpg * K));
        goto done;
    }
    for (int64_t g = 0; g < groups; g++) {
        lavr_tensor wg, bg = {0};
        TRY_GOTO(lavr_tensor_narrow(w, 0, g * opg, opg, &wg), st, done);
        if (b) /* contiguous (checked), so the group's slice is a flat run whatever the bias shape */
            bg = lavr_tensor_wrap(b->dtype, 1, &opg, (char *)b->data + g * opg * (int64_t)lavr_dtype_size(b->dtype));
        im2col_1d(x + g * cpg * t, cpg, t, K, stride, pad_left, T_out, cols);
        TRY_GOTO(lavr_op_linear(cols, T_out, cpg * K, &wg, b ? &bg : NULL, out_t), st, done);
#pragma omp parallel for schedule(static)
        for (int64_t c = 0; c < opg; c++)
            for (int64_t o = 0; o < T_out; o++) y[(g * opg + c) * T_out + o] = out_t[o * opg + c];
    }
    *tout = T_out;
done:
    free(cols);
    free(out_t);
    return st;
}
