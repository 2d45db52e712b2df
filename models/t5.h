/* umT5 text encoder (Wan's `T5Encoder`, encoder only; model-spec §4): token ids -> context rows, on an execution
 * context (CPU or a CUDA device; kernels/ctx.h). Weights come from an HDF5 group ("weights/" in golden files, "t5/"
 * in lavr checkpoints) or are generated (benchmarks). */
#ifndef LAVR_MODELS_T5_H
#define LAVR_MODELS_T5_H

#include <stdint.h>

#include "core/status.h"
#include "io/h5model.h"
#include "kernels/ctx.h"
#include "models/config.h"

typedef struct lavr_t5 lavr_t5;

/* Loads every tensor `prefix + <official name>` with its shape checked against cfg (a wrong or
 * missing tensor is an error naming it). The file may be closed afterwards. */
lavr_status lavr_t5_create(lavr_h5file *file, const char *prefix, const lavr_t5_config *cfg, lavr_t5 **out);
/* The same on an execution context (NULL: the CPU). On a CUDA context every weight but the token embedding lives
 * in its arena as bf16 (the embedding stays on the host: its rows are gathered there and uploaded); the context
 * must outlive the model. */
lavr_status lavr_t5_create_on(lavr_h5file *file, const char *prefix, const lavr_t5_config *cfg, lavr_ctx *ctx,
                              lavr_t5 **out);
/* A model of cfg's shape with weights made on the context (kernels/row_ops.h lavr_ctx_linear_weights_random, W_q
 * times 1/sqrt(head_dim) as T5 initialises it; norm gains 1; position bias tables and the token embedding uniform
 * with unit variance, the embedding computed per token, no table): for timing and memory at full size without a
 * checkpoint. Same values on every device. */
lavr_status lavr_t5_create_generated(const lavr_t5_config *cfg, uint64_t seed, lavr_ctx *ctx, lavr_t5 **out);
void lavr_t5_destroy(lavr_t5 *model);
const lavr_t5_config *lavr_t5_config_of(const lavr_t5 *model);

/* Encodes n token ids into out[n, dim] (bf16 values stored as float). mask (n entries, or NULL for
 * all real) marks padded keys with 0; every row is returned, padded ones included (callers keep
 * the real rows: running on the real tokens alone gives the same rows, spec §4). */
lavr_status lavr_t5_encode(const lavr_t5 *model, const int64_t *ids, int64_t n, const float *mask, float *out);

/* Device bytes of umT5 on a CUDA context, as its arena counts them: *weights what the model holds (everything but
 * the token embedding), *work the peak working set of one encode of `tokens` tokens with a mask (activations, the
 * scores bias, buckets, the transfer staging). The planner and the aux's T5 context size themselves with it. */
void lavr_t5_device_bytes(const lavr_t5_config *cfg, int64_t tokens, uint64_t *weights, uint64_t *work);

/* Bidirectional relative-position bucket of delta = key - query, computed as the fp32 PyTorch
 * reference does (spec §4: 32 buckets, max distance 128 -> 0..31). */
int64_t lavr_t5_relative_bucket(int64_t delta, int64_t num_buckets, int64_t max_distance);

#endif
