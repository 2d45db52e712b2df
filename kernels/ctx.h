/* An execution context: the device a network's tensors live on and what its ops need there (CPU: a host arena;
 * CUDA: the device, one stream, a device arena, cuBLASLt, cuDNN and the convolution plans). A network is written
 * once against a context and the ops of kernels/video_ops.h, which run where their tensors live. Not thread-safe. */
#ifndef LAVR_KERNELS_CTX_H
#define LAVR_KERNELS_CTX_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "core/tensor.h"
#include "io/conv_record.h"

/* cuDNN engines timed per convolution shape in a render's aux context (lavr render --conv-tune): on an H200 at
 * 704*384 the heuristics' first engine decodes a block in 85.7 ms, the fastest of the first 8 in 69.2, of the first
 * 64 (mode A's list, then mode B's) in 63.6: the 96-channel convolutions' best engine is mode A's 21st
 * (BENCHMARKS.md). */
#define LAVR_CONV_TUNE_DEFAULT 64
#define LAVR_CONV_TUNE_MAX 128 /* the most a context times */
/* Device arena cap of a CUDA context when none is given: the VAE at 704*384 peaks near 3.5 GiB. */
#define LAVR_CTX_DEFAULT_CUDA_CAP ((uint64_t)6 << 30)

typedef struct lavr_ctx lavr_ctx;

typedef enum {
    LAVR_CONV_AUTO = 0, /* cuDNN when the build has it and the library loads (>= 9.0), else lavr's own kernel */
    LAVR_CONV_CUDNN,    /* cuDNN or an error */
    LAVR_CONV_OWN,      /* lavr's im2col + cuBLASLt kernel */
} lavr_conv_path;

/* "auto", "cudnn" or "own" (a command's --conv); anything else is LAVR_E_ARG. */
lavr_status lavr_conv_path_parse(const char *text, lavr_conv_path *out);

typedef struct {
    int device;          /* CUDA device ordinal */
    uint64_t mem_cap;    /* device arena cap in bytes; 0: LAVR_CTX_DEFAULT_CUDA_CAP */
    lavr_conv_path conv; /* how 3x3 / 3x3x3 / time convolutions run */
    int conv_tune;       /* cuDNN: 0/1 the heuristics' first engine (deterministic); N: the fastest of the first N,
                            timed on first use (faster, but the choice and so the bytes may vary between runs
                            unless an engine record fixes it: lavr_ctx_conv_engines_preload) */
    const char *name;    /* for messages, e.g. "aux vae" (NULL: "cuda:N") */
} lavr_ctx_cuda_options;

/* A CPU context over a host arena (borrowed; tensors come from it). */
lavr_status lavr_ctx_create_cpu(lavr_arena *arena, lavr_ctx **out);
/* A CUDA context on o->device: makes the device current, creates a stream, reserves the arena, and logs which
 * convolution path runs (cuDNN's run-time version from cudnnGetVersion(), or why the own kernel does). A build
 * without CUDA returns LAVR_E_UNSUPPORTED. */
lavr_status lavr_ctx_create_cuda(const lavr_ctx_cuda_options *o, lavr_ctx **out);
void lavr_ctx_destroy(lavr_ctx *c);

lavr_device_type lavr_ctx_device(const lavr_ctx *c);
/* CPU: the arena tensors come from; CUDA: an arena for host staging (loading weights, checkpoints). */
lavr_arena *lavr_ctx_host_arena(const lavr_ctx *c);
/* "cpu" or "cuda:0 (convolutions: cuDNN 9.19.0)" */
const char *lavr_ctx_describe(const lavr_ctx *c);
/* Waits for the context's queued work; a failed kernel shows up here. */
lavr_status lavr_ctx_sync(lavr_ctx *c);
/* Peak device bytes: the arena's high-water mark plus library workspaces (cuBLASLt, cuDNN); 0 on the CPU. */
uint64_t lavr_ctx_peak_bytes(const lavr_ctx *c);
/* Device bytes the context holds: the arena's reservation plus the library workspaces; 0 on the CPU. */
uint64_t lavr_ctx_reserved_bytes(const lavr_ctx *c);
void lavr_ctx_reset_peak(lavr_ctx *c);

/* The cuDNN convolution engine choices of a CUDA context (kernels/cuda/conv_cudnn.h; io/conv_record.h). tag: 1 and
 * the context's record tag when its convolutions run through cuDNN with tuning (conv_tune > 1), else 0 (nothing
 * to record: the choice does not depend on timing). */
int lavr_ctx_conv_engines_tag(const lavr_ctx *c, lavr_conv_record_tag *out);
/* Preloads a record's choices (ignored, with one log line, when its tag differs); *taken: shapes it added. */
lavr_status lavr_ctx_conv_engines_preload(lavr_ctx *c, const lavr_conv_record *r, int64_t *taken);
/* Every choice made so far into *out (initialised here; empty without cuDNN convolutions). */
lavr_status lavr_ctx_conv_engines_export(const lavr_ctx *c, lavr_conv_record *out);
/* Shapes whose engine the context chose by timing so far. */
int64_t lavr_ctx_conv_engines_timed(const lavr_ctx *c);
/* Candidate engines tuning left out so far (over the workspace cap, nondeterministic, or reducing below fp32). */
int64_t lavr_ctx_conv_engines_passed_over(const lavr_ctx *c);

/* Per-op timing on a CUDA context: with profiling on, every op is bracketed by CUDA events (no extra
 * synchronisation); take() waits for the stream and returns the ms and calls per category since the last take. */
typedef enum {
    LAVR_PROF_CONV_CUDNN, LAVR_PROF_CONV_OWN, LAVR_PROF_CONV_GEMM, LAVR_PROF_NORM, LAVR_PROF_ADD, LAVR_PROF_COPY,
    LAVR_PROF_RESAMPLE, LAVR_PROF_ATTENTION, LAVR_PROF_TRANSFER, LAVR_PROF_ROW_LINEAR, LAVR_PROF_ROW_ELEMENTWISE,
    LAVR_CTX_PROF_CATEGORIES
} lavr_ctx_prof_category;
const char *lavr_ctx_prof_name(int category);
lavr_status lavr_ctx_profile(lavr_ctx *c, int on);
lavr_status lavr_ctx_profile_take(lavr_ctx *c, double ms[LAVR_CTX_PROF_CATEGORIES],
                                  int64_t calls[LAVR_CTX_PROF_CATEGORIES]);
/* cuDNN convolutions while profiling, per shape: every take() adds its timed calls to the shape's sums, kept until
 * reset. times() fills up to max rows (in first-use order) and returns how many shapes have timed calls (0 on a
 * context without cuDNN convolutions). gflop: one call's multiply-adds x 2 over the padded channels cuDNN runs. */
typedef struct {
    char shape[160];
    int64_t calls, candidate, workspace_bytes;
    double ms, gflop;
} lavr_conv_time;
int lavr_ctx_conv_times(const lavr_ctx *c, lavr_conv_time *rows, int max);
void lavr_ctx_conv_times_reset(lavr_ctx *c);

/* ---- tensors ---------------------------------------------------------------------------------- */
/* A video activation of logical shape [ch, t, h, w]. CPU: F32, channel-major and contiguous. CUDA: BF16
 * channels-last, memory [t][h][w][P] with P = ch rounded up to a multiple of 8 (strides {1, h*w*P, w*P, P});
 * the P - ch pad channels are zero in every tensor an op writes, so convolutions can run over P channels.
 * Frame ranges (lavr_tensor_narrow along dim 1) are valid op operands on both devices. Uninitialised. */
lavr_status lavr_ctx_alloc_video(lavr_ctx *c, int64_t ch, int64_t t, int64_t h, int64_t w, const char *what,
                                 lavr_tensor *out);
/* A per-channel fp32 vector [n] from host floats (CUDA: zero-padded to a multiple of 8 elements). */
lavr_status lavr_ctx_upload_vector(lavr_ctx *c, const float *host, int64_t n, const char *what, lavr_tensor *out);
/* Releases a tensor this context allocated (views and zeroed descriptors are ignored) and clears it. */
void lavr_ctx_free(lavr_ctx *c, lavr_tensor *t);
/* Copies a video tensor between the host and the context (or within either): shapes must match; a host side is
 * F32 with each channel's t*h*w values contiguous (a contiguous tensor or a frame range of one). Values cross to
 * bf16 with round-to-nearest-even. Returns after a device-to-host copy has landed. */
lavr_status lavr_ctx_copy(lavr_ctx *c, const lavr_tensor *src, lavr_tensor *dst);

/* ---- convolution weights -------------------------------------------------------------------------- */
/* One convolution's weights prepared for the context. CPU: the stored tensors (weight [Cout, Cin, kt, kh, kw] or
 * [Cout, Cin, kh, kw], bias [Cout]). CUDA: weight BF16 [Pout, kt, kh, kw, Pin] (channels-last, zero-padded to the
 * video pitch of Cout and Cin) and bias F32 [Pout]. */
typedef struct {
    lavr_tensor weight, bias;
    int64_t cout, cin, kt, kh, kw;
} lavr_conv_weights;
/* Takes the host tensors (weight and bias as loaded, from the context's host arena or any arena): the CPU keeps
 * them, CUDA uploads them and frees the host copies. */
lavr_status lavr_ctx_conv_weights(lavr_ctx *c, lavr_tensor *weight, lavr_tensor *bias, lavr_conv_weights *out);
void lavr_ctx_conv_weights_free(lavr_ctx *c, lavr_conv_weights *w);

#endif
