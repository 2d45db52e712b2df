/* Convolutions through cuDNN's backend C API on lavr's channels-last bf16 video memory (fp32 accumulation): one
 * execution plan per shape, built on first use and cached, with a shared workspace. The plan is the heuristics'
 * first engine (the same on every run, so the same bytes), or with tuning the fastest of the first few, timed on
 * the first call's own operands. A shape cuDNN has no engine for is remembered as unsupported and the caller runs
 * lavr's own kernel. Without cuDNN in the build every entry point says "unsupported". */
#ifndef LAVR_KERNELS_CUDA_CONV_CUDNN_H
#define LAVR_KERNELS_CUDA_CONV_CUDNN_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "kernels/cuda/cudnn_graph.h"

#define LAVR_CUDNN_CONV_MIN_VERSION 90000 /* the backend API as lavr uses it (cuDNN 9) */

/* One convolution problem: n images of `spatial` (2 or 3) dims with cin -> cout dense channels (the video pitch),
 * x [n][in...][cin], w [cout][k...][cin], y [n][out...][cout]; zero padding pre/post per dim. */
typedef struct {
    int64_t n, cin, cout;
    int64_t spatial; /* int64_t like the rest: keys compare with memcmp, so no padding */
    int64_t in[3], k[3], out[3], stride[3], pre[3], post[3];
} lavr_cudnn_conv_shape;

typedef struct lavr_cuda_convs lavr_cuda_convs;
/* tune <= 1: the heuristics' first engine; tune = N: the fastest of the first N (timing makes the choice, and so
 * possibly the bytes, depend on the run). */
lavr_status lavr_cuda_convs_create(lavr_cudnn *dnn, int tune, lavr_cuda_convs **out);
void lavr_cuda_convs_destroy(lavr_cuda_convs *c);
/* y = conv(x, w) on the handle's stream, building the shape's plan on first use: *ran = 1; *ran = 0 (and nothing
 * queued) when cuDNN has no engine for the shape (logged once, then remembered). */
lavr_status lavr_cuda_convs_run(lavr_cuda_convs *c, const lavr_cudnn_conv_shape *s, const void *x, const void *w,
                                void *y, int *ran);
/* Device bytes of the shared workspace. */
size_t lavr_cuda_convs_workspace_bytes(const lavr_cuda_convs *c);

#endif
