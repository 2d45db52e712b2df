/* Dispatch of the video ops (kernels/video_ops.h): checks that every operand is a video tensor of the context's
 * device with consistent shapes, then runs the CPU reference (kernels/cpu/video.c) or the CUDA version
 * (kernels/cuda/video_ops_cuda.c). */
#include "kernels/video_ops.h"

#include <stdio.h>

#include "kernels/cpu/video.h"
#include "kernels/ctx_internal.h"
#if LAVR_HAVE_CUDA
#include "kernels/cuda/video_ops_cuda.h"
#endif

static const char *device_name(lavr_device_type d) { return d == LAVR_DEVICE_CUDA ? "cuda" : "cpu"; }

/* A video operand of the context: CPU F32 with contiguous channels, CUDA BF16 channels-last (kernels/ctx.h). */
static lavr_status check_video(const lavr_ctx *c, const lavr_tensor *t, const char *op, const char *what) {
    char buf[96];
    if (!t || !t->data) return LAVR_FAIL(LAVR_E_INTERNAL, "%s: no %s tensor", op, what);
    if (t->device != c->device)
        return LAVR_FAIL(LAVR_E_INTERNAL, "%s: %s lives on %s, the context is %s", op, what, device_name(t->device),
                         device_name(c->device));
    int ok = t->ndim == 4 && t->shape[0] > 0;
    if (ok && c->device == LAVR_DEVICE_CPU)
        ok = t->dtype == LAVR_F32 && t->stride[3] == 1 && t->stride[2] == t->shape[3] &&
             t->stride[1] == t->shape[2] * t->shape[3] && t->stride[0] >= t->shape[1] * t->stride[1];
    if (ok && c->device == LAVR_DEVICE_CUDA) {
        const int64_t P = lavr_video_pitch(t->shape[0]);
        ok = t->dtype == LAVR_BF16 && t->stride[0] == 1 && t->stride[3] == P && t->stride[2] == t->shape[3] * P &&
             t->stride[1] == t->shape[2] * t->shape[3] * P;
    }
    if (!ok)
        return LAVR_FAIL(LAVR_E_INTERNAL, "%s: %s %s is not a video tensor of a %s context", op, what,
                         lavr_tensor_describe(t, buf, sizeof buf), device_name(c->device));
    return LAVR_OK;
}

/* A per-channel vector of at least n values (NULL allowed when optional). */
static lavr_status check_vector(const lavr_ctx *c, const lavr_tensor *v, int64_t n, int optional, const char *op,
                                const char *what) {
    if (!v) return optional ? LAVR_OK : LAVR_FAIL(LAVR_E_INTERNAL, "%s: no %s vector", op, what);
    if (!v->data || v->device != c->device || v->ndim != 1 || v->shape[0] != n ||
        (c->device == LAVR_DEVICE_CUDA && v->dtype != LAVR_F32))
        return LAVR_FAIL(LAVR_E_INTERNAL, "%s: %s must be a %lld-element vector on the context's device", op, what,
                         (long long)n);
    return LAVR_OK;
}

static lavr_status check_round(const lavr_ctx *c, int round, const char *op) {
    if (c->device == LAVR_DEVICE_CUDA && !round)
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "%s: CUDA video tensors are bf16, so results are always rounded "
                                             "(fp32 activations run on the CPU only)", op);
    return LAVR_OK;
}

static lavr_status same_shape(const lavr_tensor *a, const lavr_tensor *b, const char *op) {
    if (!lavr_tensor_same_shape(a, b)) {
        char x[96], y[96];
        return LAVR_FAIL(LAVR_E_INTERNAL, "%s: shapes %s and %s differ", op, lavr_tensor_describe(a, x, sizeof x),
                         lavr_tensor_describe(b, y, sizeof y));
    }
    return LAVR_OK;
}

#if LAVR_HAVE_CUDA
#define ON_CUDA(c, call) \
    if ((c)->device == LAVR_DEVICE_CUDA) return (call)
#else
#define ON_CUDA(c, call) \
    if ((c)->device == LAVR_DEVICE_CUDA) return LAVR_FAIL(LAVR_E_INTERNAL, "a CUDA context in a build without CUDA")
#endif

lavr_status lavr_vop_conv(lavr_ctx *c, const lavr_tensor *x, const lavr_conv_weights *w, int with_bias,
                          const int64_t stride[3], const int64_t pad[6], int round, lavr_tensor *y) {
    static const char op[] = "conv";
    TRY(check_video(c, x, op, "input"));
    TRY(check_video(c, y, op, "output"));
    TRY(check_round(c, round, op));
    const int64_t in[3] = {x->shape[1], x->shape[2], x->shape[3]}, k[3] = {w->kt, w->kh, w->kw};
    int64_t outd[3];
    for (int i = 0; i < 3; i++) {
        const int64_t padded = in[i] + pad[2 * i] + pad[2 * i + 1];
        if (stride[i] < 1 || pad[2 * i] < 0 || pad[2 * i + 1] < 0 || padded < k[i])
            return LAVR_FAIL(LAVR_E_INTERNAL, "conv: kernel %lld, stride %lld over %lld padded positions in dim %d",
                             (long long)k[i], (long long)stride[i], (long long)padded, i);
        outd[i] = (padded - k[i]) / stride[i] + 1;
    }
    if (x->shape[0] != w->cin || y->shape[0] != w->cout || y->shape[1] != outd[0] || y->shape[2] != outd[1] ||
        y->shape[3] != outd[2]) {
        char a[96], b[96];
        return LAVR_FAIL(LAVR_E_INTERNAL, "conv %lld->%lld (%lldx%lldx%lld): input %s, output %s, expected [%lld,%lld,"
                         "%lld,%lld]", (long long)w->cin, (long long)w->cout, (long long)w->kt, (long long)w->kh,
                         (long long)w->kw, lavr_tensor_describe(x, a, sizeof a), lavr_tensor_describe(y, b, sizeof b),
                         (long long)w->cout, (long long)outd[0], (long long)outd[1], (long long)outd[2]);
    }
    ON_CUDA(c, lavr_cuda_vop_conv(c, x, w, with_bias, stride, pad, y));
    return lavr_cpu_vop_conv(c->host, x, w, with_bias, stride, pad, round, y);
}

lavr_status lavr_vop_rms_norm(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *x_bias, const lavr_tensor *gamma,
                              int silu, int round, lavr_tensor *y) {
    static const char op[] = "rms_norm";
    TRY(check_video(c, x, op, "input"));
    TRY(check_video(c, y, op, "output"));
    TRY(same_shape(x, y, op));
    TRY(check_vector(c, x_bias, x->shape[0], 1, op, "input bias"));
    TRY(check_vector(c, gamma, x->shape[0], 0, op, "gamma"));
    TRY(check_round(c, round, op));
    ON_CUDA(c, lavr_cuda_vop_rms_norm(c, x, x_bias, gamma, silu, y));
    return lavr_cpu_vop_rms_norm(x, x_bias, gamma, silu, round, y);
}

lavr_status lavr_vop_add(lavr_ctx *c, const lavr_tensor *a, const lavr_tensor *a_bias, const lavr_tensor *b,
                         const lavr_tensor *b_bias, int round, lavr_tensor *y) {
    static const char op[] = "add";
    TRY(check_video(c, a, op, "first operand"));
    TRY(check_video(c, y, op, "output"));
    TRY(same_shape(a, y, op));
    if (b) {
        TRY(check_video(c, b, op, "second operand"));
        TRY(same_shape(a, b, op));
    } else if (b_bias) {
        return LAVR_FAIL(LAVR_E_INTERNAL, "add: a bias for a missing second operand");
    }
    TRY(check_vector(c, a_bias, a->shape[0], 1, op, "first bias"));
    TRY(check_vector(c, b_bias, a->shape[0], 1, op, "second bias"));
    TRY(check_round(c, round, op));
    ON_CUDA(c, lavr_cuda_vop_add(c, a, a_bias, b, b_bias, y));
    return lavr_cpu_vop_add(a, a_bias, b, b_bias, round, y);
}

lavr_status lavr_vop_copy(lavr_ctx *c, const lavr_tensor *x, lavr_tensor *y) {
    static const char op[] = "copy";
    TRY(check_video(c, x, op, "input"));
    TRY(check_video(c, y, op, "output"));
    TRY(same_shape(x, y, op));
    ON_CUDA(c, lavr_cuda_vop_copy(c, x, y));
    return lavr_cpu_vop_copy(x, y);
}

lavr_status lavr_vop_zero(lavr_ctx *c, lavr_tensor *y) {
    TRY(check_video(c, y, "zero", "output"));
    ON_CUDA(c, lavr_cuda_vop_zero(c, y));
    return lavr_cpu_vop_zero(y);
}

lavr_status lavr_vop_clamp(lavr_ctx *c, const lavr_tensor *x, float lo, float hi, lavr_tensor *y) {
    static const char op[] = "clamp";
    TRY(check_video(c, x, op, "input"));
    TRY(check_video(c, y, op, "output"));
    TRY(same_shape(x, y, op));
    ON_CUDA(c, lavr_cuda_vop_clamp(c, x, lo, hi, y));
    return lavr_cpu_vop_clamp(x, lo, hi, y);
}

lavr_status lavr_vop_upsample2x(lavr_ctx *c, const lavr_tensor *x, lavr_tensor *y) {
    static const char op[] = "upsample2x";
    TRY(check_video(c, x, op, "input"));
    TRY(check_video(c, y, op, "output"));
    if (y->shape[0] != x->shape[0] || y->shape[1] != x->shape[1] || y->shape[2] != 2 * x->shape[2] ||
        y->shape[3] != 2 * x->shape[3])
        return LAVR_FAIL(LAVR_E_INTERNAL, "upsample2x: output is not [C, T, 2H, 2W] of the input");
    ON_CUDA(c, lavr_cuda_vop_upsample2x(c, x, y));
    return lavr_cpu_vop_upsample2x(x, y);
}

lavr_status lavr_vop_time_interleave(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *x_bias, int round,
                                     lavr_tensor *y) {
    static const char op[] = "time_interleave";
    TRY(check_video(c, x, op, "input"));
    TRY(check_video(c, y, op, "output"));
    if (x->shape[0] != 2 * y->shape[0] || y->shape[1] != 2 * x->shape[1] || y->shape[2] != x->shape[2] ||
        y->shape[3] != x->shape[3])
        return LAVR_FAIL(LAVR_E_INTERNAL, "time_interleave: input is not [2C, T, H, W] of the output [C, 2T, H, W]");
    TRY(check_vector(c, x_bias, x->shape[0], 1, op, "input bias"));
    TRY(check_round(c, round, op));
    ON_CUDA(c, lavr_cuda_vop_time_interleave(c, x, x_bias, y));
    return lavr_cpu_vop_time_interleave(x, x_bias, round, y);
}

lavr_status lavr_vop_frame_attention(lavr_ctx *c, const lavr_tensor *qkv, const lavr_tensor *qkv_bias, int round,
                                     lavr_tensor *out) {
    static const char op[] = "frame_attention";
    TRY(check_video(c, qkv, op, "qkv"));
    TRY(check_video(c, out, op, "output"));
    if (qkv->shape[0] != 3 * out->shape[0] || qkv->shape[1] != out->shape[1] || qkv->shape[2] != out->shape[2] ||
        qkv->shape[3] != out->shape[3])
        return LAVR_FAIL(LAVR_E_INTERNAL, "frame_attention: qkv is not [3C, T, H, W] of the output [C, T, H, W]");
    TRY(check_vector(c, qkv_bias, qkv->shape[0], 1, op, "qkv bias"));
    TRY(check_round(c, round, op));
    ON_CUDA(c, lavr_cuda_vop_frame_attention(c, qkv, qkv_bias, out));
    return lavr_cpu_vop_frame_attention(c->host, qkv, qkv_bias, round, out);
}
