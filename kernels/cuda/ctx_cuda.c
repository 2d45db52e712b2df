/* The CUDA side of an execution context (kernels/ctx.h): device, stream, device arena, cuBLASLt and cuDNN handles,
 * the choice of convolution path (logged with cuDNN's run-time version), transfers between host F32 channel-major
 * tensors and bf16 channels-last device tensors, and the upload of convolution weights. */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/log.h"
#include "core/units.h"
#include "kernels/ctx_internal.h"
#include "kernels/cuda/conv_cudnn.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cudnn_graph.h"
#include "kernels/cuda/device_arena.h"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/video_cuda.h"
#include "kernels/cuda/video_ops_cuda.h"

/* ---- per-op profile -------------------------------------------------------------------------- */

enum { PROF_SLOTS = 16384 };

struct ctx_profile {
    cudaEvent_t start[PROF_SLOTS], stop[PROF_SLOTS];
    int category[PROF_SLOTS];
    int conv_entry[PROF_SLOTS]; /* a cuDNN convolution's shape (lavr_cuda_convs_account), else -1 */
    int used, created, dropped;
};

static void profile_free(struct ctx_profile *p) {
    if (!p) return;
    for (int i = 0; i < p->created; i++) {
        cudaEventDestroy(p->start[i]);
        cudaEventDestroy(p->stop[i]);
    }
    free(p);
}

lavr_status lavr_cuda_ctx_profile(lavr_ctx *c, int on) {
    if (!on) {
        CUDA_TRY(cudaStreamSynchronize((cudaStream_t)c->stream));
        profile_free(c->prof);
        c->prof = NULL;
        return LAVR_OK;
    }
    if (c->prof) return LAVR_OK;
    struct ctx_profile *p = calloc(1, sizeof *p);
    if (!p) return LAVR_FAIL(LAVR_E_NOMEM, "no host memory for the op profile");
    c->prof = p;
    return LAVR_OK;
}

int lavr_cuda_prof_begin(lavr_ctx *c) {
    struct ctx_profile *p = c->prof;
    if (!p) return -1;
    if (p->used == PROF_SLOTS) {
        p->dropped++;
        return -1;
    }
    const int i = p->used;
    if (i == p->created) {
        if (cudaEventCreate(&p->start[i]) != cudaSuccess) return -1;
        if (cudaEventCreate(&p->stop[i]) != cudaSuccess) {
            cudaEventDestroy(p->start[i]);
            return -1;
        }
        p->created++;
    }
    if (cudaEventRecord(p->start[i], (cudaStream_t)c->stream) != cudaSuccess) return -1;
    p->used++;
    p->category[i] = -1; /* until end */
    p->conv_entry[i] = -1;
    return i;
}

void lavr_cuda_prof_end(lavr_ctx *c, int slot, int category) {
    struct ctx_profile *p = c->prof;
    if (!p || slot < 0 || slot >= p->used) return;
    if (cudaEventRecord(p->stop[slot], (cudaStream_t)c->stream) == cudaSuccess) p->category[slot] = category;
}

void lavr_cuda_prof_conv_entry(lavr_ctx *c, int slot, int entry) {
    struct ctx_profile *p = c->prof;
    if (p && slot >= 0 && slot < p->used) p->conv_entry[slot] = entry;
}

lavr_status lavr_cuda_ctx_profile_take(lavr_ctx *c, double *ms, int64_t *calls) {
    struct ctx_profile *p = c->prof;
    if (!p) return LAVR_OK;
    CUDA_TRY(cudaStreamSynchronize((cudaStream_t)c->stream));
    for (int i = 0; i < p->used; i++) {
        float t = 0;
        if (p->category[i] < 0 || cudaEventElapsedTime(&t, p->start[i], p->stop[i]) != cudaSuccess) continue;
        ms[p->category[i]] += t;
        calls[p->category[i]]++;
        if (p->conv_entry[i] >= 0) lavr_cuda_convs_account(c->convs, p->conv_entry[i], (double)t);
    }
    if (p->dropped) LOG_WARN("op profile: %d ops past the %d-slot table were not timed", p->dropped, PROF_SLOTS);
    p->used = p->dropped = 0;
    return LAVR_OK;
}

/* ---- context ---------------------------------------------------------------------------------- */

/* Picks the convolution path: cuDNN when asked or allowed and usable, else the own kernel (why in `why`). */
static lavr_status pick_conv_path(lavr_ctx *c, lavr_conv_path want, int tune, char *why, size_t len) {
    why[0] = 0;
    if (want == LAVR_CONV_OWN) {
        snprintf(why, len, "asked for");
        return LAVR_OK;
    }
    if (!LAVR_HAVE_CUDNN) {
        snprintf(why, len, "this lavr was built without cuDNN");
    } else {
        const size_t v = lavr_cudnn_version();
        if (v < LAVR_CUDNN_CONV_MIN_VERSION) {
            snprintf(why, len, "cuDNN %zu.%zu.%zu at run time is older than 9.0", v / 10000, (v / 100) % 100, v % 100);
        } else {
            lavr_status st = lavr_cudnn_create(c->stream, &c->dnn);
            if (!st) st = lavr_cuda_convs_create(c->dnn, tune, &c->convs);
            if (!st) return LAVR_OK;
            snprintf(why, len, "%s", lavr_error_message());
            lavr_error_clear();
            lavr_cuda_convs_destroy(c->convs);
            lavr_cudnn_destroy(c->dnn);
            c->convs = NULL;
            c->dnn = NULL;
        }
    }
    if (want == LAVR_CONV_CUDNN)
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "convolutions through cuDNN were asked for, but %s", why);
    return LAVR_OK;
}

lavr_status lavr_cuda_ctx_init(lavr_ctx *c, const lavr_ctx_cuda_options *o) {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return LAVR_FAIL(LAVR_E_ARG, "no usable CUDA device: %s", cudaGetErrorString(e));
    }
    CHECK_ARG(o->device >= 0 && o->device < count, "CUDA device %d: this process sees %d device%s", o->device, count,
              count == 1 ? "" : "s");
    c->cuda_device = o->device;
    CUDA_TRY(cudaSetDevice(o->device));
    cudaStream_t s;
    CUDA_TRY(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    c->stream = s;
    char name[48];
    snprintf(name, sizeof name, "%s", o->name ? o->name : "");
    if (!name[0]) snprintf(name, sizeof name, "cuda:%d", o->device);
    TRY(lavr_device_arena_create(name, (size_t)(o->mem_cap ? o->mem_cap : LAVR_CTX_DEFAULT_CUDA_CAP), &c->arena));
    TRY(lavr_cuda_blas_create(0, &c->blas));
    char why[256];
    TRY(pick_conv_path(c, o->conv, o->conv_tune, why, sizeof why));
    char dnn[64];
    lavr_cudnn_describe(dnn, sizeof dnn);
    if (c->convs)
        snprintf(c->description, sizeof c->description,
                 "cuda:%d (convolutions: %s, bf16 channels-last, fp32 accumulation%s)", o->device, dnn,
                 o->conv_tune > 1 ? ", engines timed" : "");
    else
        snprintf(c->description, sizeof c->description,
                 "cuda:%d (convolutions: lavr's im2col + cuBLASLt kernel, bf16, fp32 accumulation; %s)", o->device,
                 why);
    LOG_INFO("%s: %s", name, c->description);
    return LAVR_OK;
}

void lavr_cuda_ctx_fini(lavr_ctx *c) {
    if (c->stream) cudaStreamSynchronize((cudaStream_t)c->stream);
    profile_free(c->prof);
    c->prof = NULL;
    lavr_cuda_convs_destroy(c->convs);
    lavr_cudnn_destroy(c->dnn);
    lavr_cuda_blas_destroy(c->blas);
    lavr_device_arena_destroy(c->arena);
    if (c->stream) cudaStreamDestroy((cudaStream_t)c->stream);
    c->convs = NULL, c->dnn = NULL, c->blas = NULL, c->arena = NULL, c->stream = NULL;
}

lavr_status lavr_cuda_ctx_alloc(lavr_ctx *c, size_t bytes, const char *what, void **out) {
    return lavr_device_arena_alloc(c->arena, bytes, what, out);
}

void lavr_cuda_ctx_release(lavr_ctx *c, void *p) {
    /* stream order keeps this safe: work queued before a reuse of the block finishes before it */
    lavr_status st = lavr_device_arena_free(c->arena, p);
    if (st) LOG_WARN("device arena: %s", lavr_error_message());
}

lavr_status lavr_cuda_ctx_sync(lavr_ctx *c) {
    CUDA_TRY(cudaStreamSynchronize((cudaStream_t)c->stream));
    return LAVR_OK;
}

uint64_t lavr_cuda_ctx_peak(const lavr_ctx *c) {
    return (uint64_t)lavr_device_arena_peak(c->arena) + lavr_cuda_blas_workspace_bytes(c->blas) +
           lavr_cuda_convs_workspace_bytes(c->convs);
}

uint64_t lavr_cuda_ctx_reserved(const lavr_ctx *c) {
    return (uint64_t)lavr_device_arena_cap(c->arena) + lavr_cuda_blas_workspace_bytes(c->blas) +
           lavr_cuda_convs_workspace_bytes(c->convs);
}

void lavr_cuda_ctx_reset_peak(lavr_ctx *c) { lavr_device_arena_reset_peak(c->arena); }

/* A device tensor of the context (frees with lavr_ctx_free). */
static void device_tensor(lavr_ctx *c, lavr_dtype dt, int ndim, const int64_t *shape, void *data, lavr_tensor *out) {
    *out = lavr_tensor_wrap(dt, ndim, shape, data);
    out->device = LAVR_DEVICE_CUDA;
    out->device_owner = c;
}

lavr_status lavr_cuda_ctx_upload_vector(lavr_ctx *c, const float *host, int64_t n, const char *what,
                                        lavr_tensor *out) {
    const int64_t padded = lavr_video_pitch(n);
    float *tmp = calloc((size_t)padded, sizeof *tmp);
    if (!tmp) return LAVR_FAIL(LAVR_E_NOMEM, "%s: no host memory for %lld values", what, (long long)n);
    memcpy(tmp, host, (size_t)n * sizeof *tmp);
    void *d = NULL;
    lavr_status st = lavr_cuda_ctx_alloc(c, (size_t)padded * sizeof(float), what, &d);
    if (!st) {
        /* a synchronous copy from the host array freed below; later kernels are queued after it returns */
        cudaError_t e = cudaMemcpy(d, tmp, (size_t)padded * sizeof(float), cudaMemcpyHostToDevice);
        if (e != cudaSuccess) {
            lavr_cuda_ctx_release(c, d);
            st = LAVR_FAIL(LAVR_E_CUDA, "%s: cudaMemcpy: %s", what, cudaGetErrorString(e));
        }
    }
    free(tmp);
    if (!st) device_tensor(c, LAVR_F32, 1, &n, d, out);
    return st;
}

/* ---- transfers -------------------------------------------------------------------------------- */

static int64_t positions(const lavr_tensor *t) { return t->shape[1] * t->shape[2] * t->shape[3]; }

/* host F32 [C][n per channel, channel stride cs] -> device F32 [C][n] staging (per-channel copies when strided) */
static lavr_status host_to_staging(lavr_ctx *c, const lavr_tensor *src, float *staging) {
    const int64_t C = src->shape[0], n = positions(src), cs = src->stride[0];
    cudaStream_t s = (cudaStream_t)c->stream;
    if (cs == n || C == 1) {
        CUDA_TRY(cudaMemcpyAsync(staging, src->data, (size_t)(C * n) * sizeof(float), cudaMemcpyHostToDevice, s));
        return LAVR_OK;
    }
    for (int64_t ch = 0; ch < C; ch++)
        CUDA_TRY(cudaMemcpyAsync(staging + ch * n, (const float *)src->data + ch * cs, (size_t)n * sizeof(float),
                                 cudaMemcpyHostToDevice, s));
    return LAVR_OK;
}

static lavr_status staging_to_host(lavr_ctx *c, const float *staging, lavr_tensor *dst) {
    const int64_t C = dst->shape[0], n = positions(dst), cs = dst->stride[0];
    cudaStream_t s = (cudaStream_t)c->stream;
    if (cs == n || C == 1) {
        CUDA_TRY(cudaMemcpyAsync(dst->data, staging, (size_t)(C * n) * sizeof(float), cudaMemcpyDeviceToHost, s));
    } else {
        for (int64_t ch = 0; ch < C; ch++)
            CUDA_TRY(cudaMemcpyAsync((float *)dst->data + ch * cs, staging + ch * n, (size_t)n * sizeof(float),
                                     cudaMemcpyDeviceToHost, s));
    }
    CUDA_TRY(cudaStreamSynchronize(s));
    return LAVR_OK;
}

lavr_status lavr_cuda_ctx_copy(lavr_ctx *c, const lavr_tensor *src, lavr_tensor *dst) {
    if (src->device == LAVR_DEVICE_CUDA && dst->device == LAVR_DEVICE_CUDA) return lavr_cuda_vop_copy(c, src, dst);
    const int64_t C = src->shape[0], n = positions(src);
    float *staging = NULL;
    TRY(lavr_cuda_ctx_alloc(c, (size_t)(C * n) * sizeof(float), "host transfer staging", (void **)&staging));
    const int slot = lavr_cuda_prof_begin(c);
    lavr_status st;
    if (dst->device == LAVR_DEVICE_CUDA) {
        st = host_to_staging(c, src, staging);
        if (!st) st = lavr_cuda_video_pack(staging, C, n, dst->stride[3], dst->data, c->stream);
    } else {
        st = lavr_cuda_video_unpack(src->data, C, n, src->stride[3], staging, c->stream);
        if (!st) st = staging_to_host(c, staging, dst);
    }
    lavr_cuda_prof_end(c, slot, LAVR_PROF_TRANSFER);
    lavr_cuda_ctx_release(c, staging);
    return st;
}

/* ---- convolution weights ---------------------------------------------------------------------- */

lavr_status lavr_cuda_ctx_conv_weights(lavr_ctx *c, lavr_tensor *weight, lavr_tensor *bias, lavr_conv_weights *out) {
    const int64_t cout = out->cout, cin = out->cin, kt = out->kt, kh = out->kh, kw = out->kw;
    const int64_t pout = lavr_video_pitch(cout), pin = lavr_video_pitch(cin), taps = kt * kh * kw;
    const int64_t n = pout * taps * pin;
    uint16_t *w = calloc((size_t)n, sizeof *w); /* zero: the pad rows and columns */
    float *b = calloc((size_t)pout, sizeof *b);
    lavr_status st = w && b ? LAVR_OK : LAVR_FAIL(LAVR_E_NOMEM, "no host memory to prepare a %lld-value weight",
                                                  (long long)n);
    if (!st && !(lavr_tensor_is_contiguous(weight) && lavr_tensor_is_contiguous(bias)))
        st = LAVR_FAIL(LAVR_E_INTERNAL, "conv weights must be contiguous host tensors");
    /* [Cout][Cin][taps] as stored -> [Pout][taps][Pin] bf16 (channels-last filter) */
    for (int64_t co = 0; !st && co < cout; co++) {
        for (int64_t ci = 0; ci < cin; ci++)
            for (int64_t tap = 0; tap < taps; tap++)
                w[(co * taps + tap) * pin + ci] =
                    lavr_f32_to_bf16((float)lavr_dtype_load(weight->dtype, weight->data, (co * cin + ci) * taps + tap));
        b[co] = (float)lavr_dtype_load(bias->dtype, bias->data, co);
    }
    void *dw = NULL, *db = NULL;
    if (!st) st = lavr_cuda_ctx_alloc(c, (size_t)n * sizeof *w, "conv weight", &dw);
    if (!st) st = lavr_cuda_ctx_alloc(c, (size_t)pout * sizeof *b, "conv bias", &db);
    if (!st) {
        cudaError_t e = cudaMemcpy(dw, w, (size_t)n * sizeof *w, cudaMemcpyHostToDevice);
        if (e == cudaSuccess) e = cudaMemcpy(db, b, (size_t)pout * sizeof *b, cudaMemcpyHostToDevice);
        if (e != cudaSuccess) st = LAVR_FAIL(LAVR_E_CUDA, "uploading a conv weight: %s", cudaGetErrorString(e));
    }
    free(w);
    free(b);
    if (st) {
        if (dw) lavr_cuda_ctx_release(c, dw);
        if (db) lavr_cuda_ctx_release(c, db);
        return st;
    }
    const int64_t wshape[5] = {pout, kt, kh, kw, pin};
    device_tensor(c, LAVR_BF16, 5, wshape, dw, &out->weight);
    device_tensor(c, LAVR_F32, 1, &cout, db, &out->bias);
    lavr_tensor_free(weight);
    lavr_tensor_free(bias);
    return LAVR_OK;
}
