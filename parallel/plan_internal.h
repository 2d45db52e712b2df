/* Internal to the planner (parallel/plan.c, parallel/plan_aux.c): the aux rank's device model. */
#ifndef LAVR_PARALLEL_PLAN_INTERNAL_H
#define LAVR_PARALLEL_PLAN_INTERNAL_H

#include "parallel/plan.h"

/* cuBLASLt workspace of kernels/cuda/linear.cu (32 MiB + a 256-byte tuning hash), cudaMalloc'd in 2 MiB pages; one
 * per execution context (the aux's T5 context has its own) */
#define PLAN_BLAS_BYTES ((uint64_t)34 << 20)

/* The aux rank's buffers with the VAE on the GPU: bytes and the decoder's FLOPs per video block. */
typedef struct {
    uint64_t vae_weights;          /* encoder + decoder, bf16 */
    uint64_t enc_cache, enc_act;   /* setup: the encoder's causal caches and the peak of one 4-frame chunk */
    uint64_t w2v, t5;              /* setup: weights + activations (0 when on the host); umT5 in a context of its own
                                    * (its arena and cuBLASLt workspace) */
    uint64_t dec_cache, dec_act;   /* render: the decoder's causal caches and the peak of one block (+ its frames) */
    double dec_flops;              /* convolutions and attention of one block's decode */
} plan_aux_model;

lavr_status plan_aux_model_of(const lavr_model_config *cfg, int64_t width, int64_t height, int t5_on_gpu,
                              int w2v_on_gpu, plan_aux_model *out);

#endif
