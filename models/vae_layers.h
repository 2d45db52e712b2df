/* Internal to the VAE (models/vae.c): the encoder/decoder layer lists built from lavr_vae_config,
 * their weights on an execution context, and the chunk runner that applies them with per-conv causal
 * caches (§5.1), written once against the video ops of kernels/video_ops.h. */
#ifndef LAVR_MODELS_VAE_LAYERS_H
#define LAVR_MODELS_VAE_LAYERS_H

#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "core/tensor.h"
#include "io/h5model.h"
#include "kernels/ctx.h"
#include "models/config.h"

/* Where the weights come from: an HDF5 file (tensors under prefix), or lavr init's deterministic random
 * weights for seed (models/init_weights.h; benchmarks at full size without a checkpoint). */
typedef struct {
    lavr_h5file *f;
    const char *prefix;
    int generated;
    uint64_t seed;
} vae_source;

/* One convolution: weights [Cout, Cin, kt, kh, kw] (or [Cout, Cin, kh, kw] for per-frame 2-D convs)
 * and bias [Cout], prepared for the context. */
typedef struct {
    char name[112]; /* module name without the file prefix: "decoder.upsamples.3.time_conv" */
    lavr_conv_weights w;
    int cache_slot; /* index of its causal history in the net's slot list; -1 when it has none */
} vae_conv;

typedef enum {
    VAE_CONV_IN, /* conv_a: the first causal 3x3x3 conv */
    VAE_RES,     /* gamma_a, conv_a (residual.2), gamma_b, conv_b (residual.6), optional shortcut */
    VAE_ATTN,    /* gamma_a (norm), conv_a (to_qkv), conv_b (proj) */
    VAE_UP2D,    /* conv_a (resample.1) */
    VAE_UP3D,    /* conv_b (time_conv) then conv_a (resample.1) */
    VAE_DOWN2D,  /* conv_a (resample.1) */
    VAE_DOWN3D,  /* conv_a (resample.1) then conv_b (time_conv, stride 2) */
    VAE_HEAD,    /* gamma_a (head.0), conv_a (head.2) */
} vae_kind;

typedef struct {
    vae_kind kind;
    int64_t cin, cout;
    lavr_tensor gamma_a, gamma_b; /* RMS gains, fp32 [C] on the context */
    vae_conv conv_a, conv_b, shortcut;
    int has_shortcut;
} vae_layer;

/* A causal history: the last `frames` input frames of one conv, [channels, frames, h', w'] with
 * h' = h * scale_num / scale_den of the net's input grid. */
typedef struct {
    char name[112]; /* the owning conv's module name */
    int64_t channels, frames, scale_num, scale_den;
} vae_slot;

typedef struct {
    vae_layer *layers;
    int nlayers;
    vae_slot *slots;
    int nslots;
    int64_t in_channels, out_channels;
} vae_net;

typedef struct {
    lavr_ctx *ctx;
    int bf16;            /* round at the reference's bf16 points */
    lavr_tensor *caches; /* one video tensor per slot of the net (zero = no history) */
    int first_chunk;     /* the chunk holding frame 0 of the stream: resample time convs are skipped */
} vae_run;

/* Builds and loads the layers of "encoder." / "decoder." onto the context. */
lavr_status vae_net_build_encoder(const vae_source *src, const lavr_vae_config *cfg, lavr_ctx *ctx, vae_net *net);
lavr_status vae_net_build_decoder(const vae_source *src, const lavr_vae_config *cfg, lavr_ctx *ctx, vae_net *net);
void vae_net_free(vae_net *net, lavr_ctx *ctx);

/* Loads one conv (`name`.weight / .bias) checking the expected weight shape (ndim 4 or 5). */
lavr_status vae_conv_load(const vae_source *src, const char *name, int ndim, const int64_t *shape, lavr_ctx *ctx,
                          vae_conv *out);
void vae_conv_free(vae_conv *cv, lavr_ctx *ctx);

/* A convolution without history (1x1x1 convs), bias applied; y is allocated on the context. */
lavr_status vae_conv_apply(vae_run *run, const vae_conv *cv, const lavr_tensor *x, lavr_tensor *y);
/* Runs every layer of the net over one chunk; *x (owned, on the context) is consumed and replaced by the output. */
lavr_status vae_net_forward(const vae_net *net, vae_run *run, lavr_tensor *x);

#endif
