/* The DiT golden run (models/dit_golden.c) over a small backend table, so the CPU model and the CUDA model
 * (models/dit_golden_cuda.c) are judged by the same loop against the same golden file. */
#ifndef LAVR_MODELS_DIT_GOLDEN_H
#define LAVR_MODELS_DIT_GOLDEN_H

#include "core/status.h"
#include "io/golden.h"
#include "models/dit.h"

typedef struct {
    void *impl;
    /* text context [rows, text_dim]; `steps` step caches for latent h x w; *geo stays valid for the run */
    lavr_status (*prepare)(void *impl, const float *context, int64_t rows, int64_t h, int64_t w, int steps,
                           const lavr_dit_geometry **geo);
    /* sink prefill (t = 0) from the reference [C,1,h,w] and motion latents into every step cache */
    lavr_status (*prefill)(void *impl, const float *ref, const float *motion);
    /* one block forward against step cache `step` -> velocity [C, F, h, w] (host floats) */
    lavr_status (*block)(void *impl, int step, const lavr_dit_block_input *in, float *velocity);
    /* the sink K (before RoPE) and V of `layer` in step cache 0 as host bf16 bits, [sink][dim] each */
    lavr_status (*sink)(void *impl, int64_t layer, uint16_t *k, uint16_t *v);
    int layer_states; /* 1: block() calls in->hook with every layer's state (the file's debug/ groups) */
} lavr_dit_golden_backend;

/* Runs the golden file's streaming schedule through the backend and records every comparison in g. */
lavr_status lavr_dit_golden_drive(lavr_golden *g, const lavr_dit_config *cfg, const lavr_dit_golden_backend *be);

#endif
