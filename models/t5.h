/* umT5 text encoder (Wan's `T5Encoder`, encoder only; model-spec §4): token ids -> context rows.
 * Weights come from an HDF5 group ("weights/" in golden files, "t5/" in lavr checkpoints). */
#ifndef LAVR_MODELS_T5_H
#define LAVR_MODELS_T5_H

#include <stdint.h>

#include "core/status.h"
#include "io/h5model.h"
#include "models/config.h"

typedef struct lavr_t5 lavr_t5;

/* Loads every tensor `prefix + <official name>` with its shape checked against cfg (a wrong or
 * missing tensor is an error naming it). The file may be closed afterwards. */
lavr_status lavr_t5_create(lavr_h5file *file, const char *prefix, const lavr_t5_config *cfg, lavr_t5 **out);
void lavr_t5_destroy(lavr_t5 *model);
const lavr_t5_config *lavr_t5_config_of(const lavr_t5 *model);

/* Encodes n token ids into out[n, dim] (bf16 values stored as float). mask (n entries, or NULL for
 * all real) marks padded keys with 0; every row is returned, padded ones included (callers keep
 * the real rows: running on the real tokens alone gives the same rows, spec §4). */
lavr_status lavr_t5_encode(const lavr_t5 *model, const int64_t *ids, int64_t n, const float *mask, float *out);

/* Bidirectional relative-position bucket of delta = key - query, computed as the fp32 PyTorch
 * reference does (spec §4: 32 buckets, max distance 128 -> 0..31). */
int64_t lavr_t5_relative_bucket(int64_t delta, int64_t num_buckets, int64_t max_distance);

#endif
