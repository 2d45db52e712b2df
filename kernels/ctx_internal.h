/* The execution context's fields (kernels/ctx.h), shared by kernels/ctx.c, the op dispatcher
 * (kernels/video_ops.c) and the CUDA side (kernels/cuda/ctx_cuda.c, kernels/cuda/video_ops_cuda.c). */
#ifndef LAVR_KERNELS_CTX_INTERNAL_H
#define LAVR_KERNELS_CTX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/ctx.h"

struct lavr_device_arena;
struct lavr_cuda_blas;
struct lavr_cudnn;
struct lavr_cuda_convs;

struct lavr_ctx {
    lavr_device_type device;
    lavr_arena *host;  /* CPU: where tensors live; CUDA: host staging */
    int owns_host;
    char description[192];
    /* CUDA (kernels/cuda/ctx_cuda.c) */
    int cuda_device;
    void *stream; /* cudaStream_t */
    struct lavr_device_arena *arena;
    struct lavr_cuda_blas *blas;
    struct lavr_cudnn *dnn;          /* NULL: every convolution runs the own kernel */
    struct lavr_cuda_convs *convs;   /* cuDNN convolution plans */
    struct ctx_profile *prof;        /* per-op events while profiling (kernels/cuda/ctx_cuda.c), else NULL */
};

#if LAVR_HAVE_CUDA
/* kernels/cuda/ctx_cuda.c */
lavr_status lavr_cuda_ctx_init(lavr_ctx *c, const lavr_ctx_cuda_options *o);
void lavr_cuda_ctx_fini(lavr_ctx *c);
lavr_status lavr_cuda_ctx_alloc(lavr_ctx *c, size_t bytes, const char *what, void **out);
void lavr_cuda_ctx_release(lavr_ctx *c, void *p);
lavr_status lavr_cuda_ctx_sync(lavr_ctx *c);
lavr_status lavr_cuda_ctx_upload_vector(lavr_ctx *c, const float *host, int64_t n, const char *what,
                                        lavr_tensor *out);
lavr_status lavr_cuda_ctx_copy(lavr_ctx *c, const lavr_tensor *src, lavr_tensor *dst);
lavr_status lavr_cuda_ctx_conv_weights(lavr_ctx *c, lavr_tensor *weight, lavr_tensor *bias, lavr_conv_weights *out);
uint64_t lavr_cuda_ctx_peak(const lavr_ctx *c);
uint64_t lavr_cuda_ctx_reserved(const lavr_ctx *c);
lavr_status lavr_cuda_ctx_profile(lavr_ctx *c, int on);
lavr_status lavr_cuda_ctx_profile_take(lavr_ctx *c, double *ms, int64_t *calls);
/* Brackets one op while profiling: begin returns a slot (-1 when off or full), end records it under category. */
int lavr_cuda_prof_begin(lavr_ctx *c);
void lavr_cuda_prof_end(lavr_ctx *c, int slot, int category);
/* Marks a bracketed op as the cuDNN convolution of shape `entry`, whose sums take() then adds it to. */
void lavr_cuda_prof_conv_entry(lavr_ctx *c, int slot, int entry);
void lavr_cuda_ctx_reset_peak(lavr_ctx *c);
#endif

/* The channel pitch of CUDA video tensors. */
static inline int64_t lavr_video_pitch(int64_t channels) { return (channels + 7) / 8 * 8; }

#endif
