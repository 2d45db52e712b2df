/* The DiT golden file on a CUDA device (models/dit_golden_cuda.c): the same streaming run and comparisons as
 * the CPU's lavr_golden_run_dit, with the device model's options (FP8, attention path) selectable. */
#ifndef LAVR_MODELS_DIT_GOLDEN_CUDA_H
#define LAVR_MODELS_DIT_GOLDEN_CUDA_H

#include "core/status.h"
#include "io/golden.h"

typedef struct {
    int fp8;               /* FP8 e4m3 Linears (the outputs are then judged against bf16 limits: expect misses) */
    const char *attention; /* "auto" (NULL), "cudnn" or "own" */
    int device;            /* CUDA device */
} lavr_golden_cuda_options;

/* Needs a CUDA device (LAVR_E_ARG otherwise) and a CUDA build (LAVR_E_UNSUPPORTED otherwise). */
lavr_status lavr_golden_run_dit_cuda(lavr_golden *g, const lavr_golden_cuda_options *o);

#endif
