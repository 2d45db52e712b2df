/* Execution contexts (kernels/ctx.h): the CPU one is a host arena; a CUDA one defers to kernels/cuda/ctx_cuda.c,
 * which a build without CUDA does not have (creating one is then LAVR_E_UNSUPPORTED). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/video.h"
#include "kernels/ctx_internal.h"
#if LAVR_HAVE_CUDA
#include "kernels/cuda/conv_cudnn.h"
#endif

lavr_status lavr_conv_path_parse(const char *text, lavr_conv_path *out) {
    CHECK_ARG(text && out, "lavr_conv_path_parse: NULL argument");
    if (!strcmp(text, "auto")) *out = LAVR_CONV_AUTO;
    else if (!strcmp(text, "cudnn")) *out = LAVR_CONV_CUDNN;
    else if (!strcmp(text, "own")) *out = LAVR_CONV_OWN;
    else return LAVR_FAIL(LAVR_E_ARG, "--conv '%s': use auto, cudnn or own", text);
    return LAVR_OK;
}

lavr_status lavr_ctx_create_cpu(lavr_arena *arena, lavr_ctx **out) {
    CHECK_ARG(arena && out, "lavr_ctx_create_cpu: arena and output are required");
    lavr_ctx *c = calloc(1, sizeof *c);
    if (!c) return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for an execution context");
    c->device = LAVR_DEVICE_CPU;
    c->host = arena;
    c->cuda_device = -1;
    snprintf(c->description, sizeof c->description, "cpu");
    *out = c;
    return LAVR_OK;
}

lavr_status lavr_ctx_create_cuda(const lavr_ctx_cuda_options *o, lavr_ctx **out) {
    CHECK_ARG(o && out, "lavr_ctx_create_cuda: options and output are required");
    *out = NULL;
#if LAVR_HAVE_CUDA
    lavr_ctx *c = calloc(1, sizeof *c);
    if (!c) return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for an execution context");
    c->device = LAVR_DEVICE_CUDA;
    c->owns_host = 1;
    lavr_status st = lavr_arena_create("host staging", 0, &c->host);
    if (!st) st = lavr_cuda_ctx_init(c, o);
    if (st) {
        lavr_ctx_destroy(c);
        return st;
    }
    *out = c;
    return LAVR_OK;
#else
    return LAVR_FAIL(LAVR_E_UNSUPPORTED, "this lavr was built without CUDA (reconfigure with -DLAVR_CUDA=ON)");
#endif
}

void lavr_ctx_destroy(lavr_ctx *c) {
    if (!c) return;
#if LAVR_HAVE_CUDA
    if (c->device == LAVR_DEVICE_CUDA) lavr_cuda_ctx_fini(c);
#endif
    if (c->owns_host) lavr_arena_destroy(c->host);
    free(c);
}

lavr_device_type lavr_ctx_device(const lavr_ctx *c) { return c->device; }
const char *lavr_ctx_describe(const lavr_ctx *c) { return c->description; }
lavr_arena *lavr_ctx_host_arena(const lavr_ctx *c) { return c->host; }

lavr_status lavr_ctx_sync(lavr_ctx *c) {
#if LAVR_HAVE_CUDA
    if (c->device == LAVR_DEVICE_CUDA) return lavr_cuda_ctx_sync(c);
#endif
    (void)c;
    return LAVR_OK;
}

uint64_t lavr_ctx_peak_bytes(const lavr_ctx *c) {
#if LAVR_HAVE_CUDA
    if (c->device == LAVR_DEVICE_CUDA) return lavr_cuda_ctx_peak(c);
#endif
    (void)c;
    return 0;
}

uint64_t lavr_ctx_reserved_bytes(const lavr_ctx *c) {
#if LAVR_HAVE_CUDA
    if (c->device == LAVR_DEVICE_CUDA) return lavr_cuda_ctx_reserved(c);
#endif
    (void)c;
    return 0;
}

void lavr_ctx_reset_peak(lavr_ctx *c) {
#if LAVR_HAVE_CUDA
    if (c->device == LAVR_DEVICE_CUDA) lavr_cuda_ctx_reset_peak(c);
#endif
    (void)c;
}

const char *lavr_ctx_prof_name(int category) {
    static const char *names[LAVR_CTX_PROF_CATEGORIES] = {"conv (cuDNN)", "conv (own kernel)", "conv 1x1 (GEMM)",
                                                          "norm (+ SiLU)", "add / bias", "cache copy / zero",
                                                          "resample / clamp", "attention", "host transfer",
                                                          "linear (GEMM)", "gelu / mul / bias"};
    return category >= 0 && category < LAVR_CTX_PROF_CATEGORIES ? names[category] : "?";
}

lavr_status lavr_ctx_profile(lavr_ctx *c, int on) {
#if LAVR_HAVE_CUDA
    if (c->device == LAVR_DEVICE_CUDA) return lavr_cuda_ctx_profile(c, on);
#endif
    (void)on;
    return LAVR_FAIL(LAVR_E_UNSUPPORTED, "per-op profiling is for CUDA contexts (%s)", c->description);
}

lavr_status lavr_ctx_profile_take(lavr_ctx *c, double ms[LAVR_CTX_PROF_CATEGORIES],
                                  int64_t calls[LAVR_CTX_PROF_CATEGORIES]) {
    for (int i = 0; i < LAVR_CTX_PROF_CATEGORIES; i++) ms[i] = 0, calls[i] = 0;
#if LAVR_HAVE_CUDA
    if (c->device == LAVR_DEVICE_CUDA) return lavr_cuda_ctx_profile_take(c, ms, calls);
#endif
    (void)c;
    return LAVR_OK;
}

int lavr_ctx_conv_times(const lavr_ctx *c, lavr_conv_time *rows, int max) {
#if LAVR_HAVE_CUDA
    if (c->device == LAVR_DEVICE_CUDA) return lavr_cuda_convs_times(c->convs, rows, max);
#endif
    (void)c, (void)rows, (void)max;
    return 0;
}

void lavr_ctx_conv_times_reset(lavr_ctx *c) {
#if LAVR_HAVE_CUDA
    if (c->device == LAVR_DEVICE_CUDA) lavr_cuda_convs_account_reset(c->convs);
#endif
    (void)c;
}

/* ---- tensors ---------------------------------------------------------------------------------- */

lavr_status lavr_ctx_alloc_video(lavr_ctx *c, int64_t ch, int64_t t, int64_t h, int64_t w, const char *what,
                                 lavr_tensor *out) {
    memset(out, 0, sizeof *out);
    CHECK_ARG(ch > 0 && t >= 0 && h > 0 && w > 0, "%s: video tensor [%lld, %lld, %lld, %lld]", what, (long long)ch,
              (long long)t, (long long)h, (long long)w);
    const int64_t shape[4] = {ch, t, h, w};
    if (c->device == LAVR_DEVICE_CPU) return lavr_tensor_alloc(c->host, LAVR_F32, 4, shape, what, out);
#if LAVR_HAVE_CUDA
    const int64_t P = lavr_video_pitch(ch);
    void *p = NULL;
    TRY(lavr_cuda_ctx_alloc(c, (size_t)(t * h * w * P) * 2, what, &p));
    out->dtype = LAVR_BF16;
    out->ndim = 4;
    for (int d = 0; d < 4; d++) out->shape[d] = shape[d];
    out->stride[0] = 1;
    out->stride[1] = h * w * P;
    out->stride[2] = w * P;
    out->stride[3] = P;
    out->data = p;
    out->device = LAVR_DEVICE_CUDA;
    out->device_owner = c;
    return LAVR_OK;
#else
    return LAVR_FAIL(LAVR_E_INTERNAL, "a non-CPU context in a build without CUDA");
#endif
}

lavr_status lavr_ctx_upload_vector(lavr_ctx *c, const float *host, int64_t n, const char *what, lavr_tensor *out) {
    memset(out, 0, sizeof *out);
    CHECK_ARG(host && n > 0, "%s: empty vector", what);
    if (c->device == LAVR_DEVICE_CPU) {
        TRY(lavr_tensor_alloc(c->host, LAVR_F32, 1, &n, what, out));
        memcpy(out->data, host, (size_t)n * sizeof(float));
        return LAVR_OK;
    }
#if LAVR_HAVE_CUDA
    return lavr_cuda_ctx_upload_vector(c, host, n, what, out);
#else
    return LAVR_FAIL(LAVR_E_INTERNAL, "a non-CPU context in a build without CUDA");
#endif
}

void lavr_ctx_free(lavr_ctx *c, lavr_tensor *t) {
    if (!t) return;
#if LAVR_HAVE_CUDA
    if (t->device == LAVR_DEVICE_CUDA) {
        if (t->device_owner == c && t->data) lavr_cuda_ctx_release(c, t->data);
        memset(t, 0, sizeof *t);
        return;
    }
#endif
    (void)c;
    lavr_tensor_free(t);
}

/* Host video operands: F32 with each channel's t*h*w values contiguous. */
static int host_video_ok(const lavr_tensor *t) {
    return t->device == LAVR_DEVICE_CPU && t->dtype == LAVR_F32 && t->ndim == 4 && t->stride[3] == 1 &&
           t->stride[2] == t->shape[3] && t->stride[1] == t->shape[2] * t->shape[3] &&
           t->stride[0] >= t->shape[1] * t->stride[1];
}

lavr_status lavr_ctx_copy(lavr_ctx *c, const lavr_tensor *src, lavr_tensor *dst) {
    CHECK_ARG(src && dst && lavr_tensor_same_shape(src, dst) && src->ndim == 4,
              "lavr_ctx_copy: a [C, T, H, W] source and a destination of the same shape are required");
    if (src->device == LAVR_DEVICE_CPU && dst->device == LAVR_DEVICE_CPU) {
        CHECK_ARG(host_video_ok(src) && host_video_ok(dst), "lavr_ctx_copy: host tensors must be F32 video tensors");
        return lavr_cpu_vop_copy(src, dst);
    }
#if LAVR_HAVE_CUDA
    CHECK_ARG(c->device == LAVR_DEVICE_CUDA, "lavr_ctx_copy: a CUDA tensor given to a CPU context");
    CHECK_ARG((src->device == LAVR_DEVICE_CUDA || host_video_ok(src)) &&
                  (dst->device == LAVR_DEVICE_CUDA || host_video_ok(dst)),
              "lavr_ctx_copy: host tensors must be F32 video tensors");
    return lavr_cuda_ctx_copy(c, src, dst);
#else
    (void)c;
    return LAVR_FAIL(LAVR_E_INTERNAL, "lavr_ctx_copy: a device tensor in a build without CUDA");
#endif
}

/* ---- convolution weights ---------------------------------------------------------------------- */

lavr_status lavr_ctx_conv_weights(lavr_ctx *c, lavr_tensor *weight, lavr_tensor *bias, lavr_conv_weights *out) {
    memset(out, 0, sizeof *out);
    CHECK_ARG(weight && bias && (weight->ndim == 4 || weight->ndim == 5) && bias->ndim == 1 &&
                  bias->shape[0] == weight->shape[0],
              "lavr_ctx_conv_weights: weight [Cout, Cin, (kt,) kh, kw] and bias [Cout] are required");
    out->cout = weight->shape[0];
    out->cin = weight->shape[1];
    out->kt = weight->ndim == 5 ? weight->shape[2] : 1;
    out->kh = weight->shape[weight->ndim - 2];
    out->kw = weight->shape[weight->ndim - 1];
    if (c->device == LAVR_DEVICE_CPU) {
        out->weight = *weight;
        out->bias = *bias;
        memset(weight, 0, sizeof *weight);
        memset(bias, 0, sizeof *bias);
        return LAVR_OK;
    }
#if LAVR_HAVE_CUDA
    return lavr_cuda_ctx_conv_weights(c, weight, bias, out);
#else
    return LAVR_FAIL(LAVR_E_INTERNAL, "a non-CPU context in a build without CUDA");
#endif
}

void lavr_ctx_conv_weights_free(lavr_ctx *c, lavr_conv_weights *w) {
    if (!w) return;
    lavr_ctx_free(c, &w->weight);
    lavr_ctx_free(c, &w->bias);
}

/* ---- convolution engine records --------------------------------------------------------------- */

int lavr_ctx_conv_engines_tag(const lavr_ctx *c, lavr_conv_record_tag *out) {
    memset(out, 0, sizeof *out);
#if LAVR_HAVE_CUDA
    if (c->device == LAVR_DEVICE_CUDA && c->convs) {
        lavr_cuda_convs_tag(c->convs, out);
        return out->tune > 1;
    }
#endif
    (void)c;
    return 0;
}

lavr_status lavr_ctx_conv_engines_preload(lavr_ctx *c, const lavr_conv_record *r, int64_t *taken) {
    *taken = 0;
#if LAVR_HAVE_CUDA
    if (c->device == LAVR_DEVICE_CUDA && c->convs) return lavr_cuda_convs_preload(c->convs, r, taken);
#endif
    (void)c, (void)r;
    return LAVR_OK;
}

lavr_status lavr_ctx_conv_engines_export(const lavr_ctx *c, lavr_conv_record *out) {
#if LAVR_HAVE_CUDA
    if (c->device == LAVR_DEVICE_CUDA && c->convs) return lavr_cuda_convs_export(c->convs, out);
#endif
    (void)c;
    lavr_conv_record_init(out, NULL);
    return LAVR_OK;
}

int64_t lavr_ctx_conv_engines_timed(const lavr_ctx *c) {
#if LAVR_HAVE_CUDA
    if (c->device == LAVR_DEVICE_CUDA) return lavr_cuda_convs_timed(c->convs);
#endif
    (void)c;
    return 0;
}

int64_t lavr_ctx_conv_engines_passed_over(const lavr_ctx *c) {
#if LAVR_HAVE_CUDA
    if (c->device == LAVR_DEVICE_CUDA) return lavr_cuda_convs_passed_over(c->convs);
#endif
    (void)c;
    return 0;
}
