/* Convolutions through cuDNN's backend C API on lavr's channels-last bf16 video memory (fp32 accumulation): one
 * execution plan per shape, built on first use and cached, with a shared workspace. The plan is the heuristics'
 * first engine (the same on every run, so the same bytes), or with tuning the fastest of the first few, timed on
 * the first call's own operands; the choices can be exported as an engine record (io/conv_record.h) and preloaded
 * into another context, which then takes them without timing (so the same engines, and bytes, again). A shape
 * cuDNN has no engine for is remembered as unsupported and the caller runs lavr's own kernel. Without cuDNN in the
 * build every entry point says "unsupported". */
#ifndef LAVR_KERNELS_CUDA_CONV_CUDNN_H
#define LAVR_KERNELS_CUDA_CONV_CUDNN_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/conv_record.h"
#include "kernels/ctx.h"
#include "kernels/cuda/cudnn_graph.h"

#define LAVR_CUDNN_CONV_MIN_VERSION 90000 /* the backend API as lavr uses it (cuDNN 9) */
#define LAVR_CUDNN_CONV_TUNE_MAX 128
/* No engine that tuning or a record picks (but the heuristics' first) asks for more workspace than this (the shared workspace then stays
 * within it unless the heuristics' first engine of some shape asks for more, as it would untuned); the planner
 * counts exactly this for the aux's convolutions (parallel/plan.c PLAN_VAE_WORKSPACE). */
#define LAVR_CUDNN_CONV_WORKSPACE_CAP ((int64_t)256 << 20)

/* One convolution problem: n images of `spatial` (2 or 3) dims with cin -> cout dense channels (the video pitch),
 * x [n][in...][cin], w [cout][k...][cin], y [n][out...][cout]; zero padding pre/post per dim. */
typedef struct {
    int64_t n, cin, cout;
    int64_t spatial; /* int64_t like the rest: keys compare with memcmp, so no padding */
    int64_t in[3], k[3], out[3], stride[3], pre[3], post[3];
} lavr_cudnn_conv_shape;

typedef struct lavr_cuda_convs lavr_cuda_convs;
/* tune <= 1: the heuristics' first engine; tune = N: the fastest of the first N that are within the workspace cap,
 * deterministic and fp32-reducing (timing
 * makes the choice, and so possibly the bytes, depend on the run, unless a record fixes it). On the current
 * device, whose name and compute capability tag the context's record. */
lavr_status lavr_cuda_convs_create(lavr_cudnn *dnn, int tune, lavr_cuda_convs **out);
void lavr_cuda_convs_destroy(lavr_cuda_convs *c);
/* y = conv(x, w) on the handle's stream, building the shape's plan on first use: *ran = 1 and *entry = the shape's
 * index (for lavr_cuda_convs_account); *ran = 0, *entry = -1 (and nothing queued) when cuDNN has no engine for the
 * shape (logged once, then remembered). */
lavr_status lavr_cuda_convs_run(lavr_cuda_convs *c, const lavr_cudnn_conv_shape *s, const void *x, const void *w,
                                void *y, int *ran, int *entry);
/* Per-shape timing while the context profiles: the profile adds each timed call of shape `entry` (its ms), reset
 * clears the sums, times() fills up to max rows (shapes with timed calls, in first-use order) and returns how many
 * there are. */
void lavr_cuda_convs_account(lavr_cuda_convs *c, int entry, double ms);
void lavr_cuda_convs_account_reset(lavr_cuda_convs *c);
int lavr_cuda_convs_times(const lavr_cuda_convs *c, lavr_conv_time *rows, int max);
/* Device bytes of the shared workspace. */
size_t lavr_cuda_convs_workspace_bytes(const lavr_cuda_convs *c);

/* The tag a record of this context carries: its GPU, compute capability, cuDNN's run-time version, tuning count. */
void lavr_cuda_convs_tag(const lavr_cuda_convs *c, lavr_conv_record_tag *out);
/* Choices for shapes not built yet: each such shape builds its candidates up to the recorded one and takes it
 * without timing (a candidate that no longer matches the record's engine is tuned, with one warning). A record with
 * another tag is ignored with one log line (*taken = 0). Shapes already built or preloaded keep their plan. */
lavr_status lavr_cuda_convs_preload(lavr_cuda_convs *c, const lavr_conv_record *r, int64_t *taken);
/* Every choice made so far (preloaded or not) into *out (initialised here, with the context's tag). */
lavr_status lavr_cuda_convs_export(const lavr_cuda_convs *c, lavr_conv_record *out);
/* Shapes whose engine this context chose by timing so far (0 without tuning): a record needs writing when this
 * grew. */
int64_t lavr_cuda_convs_timed(const lavr_cuda_convs *c);
/* Candidates tuning did not time: over LAVR_CUDNN_CONV_WORKSPACE_CAP, nondeterministic, or reducing in less than
 * fp32 (cuDNN's numerical notes). */
int64_t lavr_cuda_convs_passed_over(const lavr_cuda_convs *c);

#endif
