/* Deterministic random weights for `lavr init`: each tensor's values are a pure function of (seed,
 * component, name, element index), so any slab can be made alone and write order never matters. */
#ifndef LAVR_MODELS_INIT_WEIGHTS_H
#define LAVR_MODELS_INIT_WEIGHTS_H

#include <stdint.h>

#include "core/status.h"
#include "models/config.h"

/* Fills rows [row0, row0 + nrows) along dim 0 of the tensor `spec` (component "dit", "t5", "vae" or
 * "wav2vec2") into out, in spec->dtype, contiguous. The rule (scales keep activations of order one):
 *   norm gains (RMSNorm/LayerNorm `*norm*.weight`, VAE `gamma`), weight-norm magnitudes g  -> 1
 *   LayerNorm biases (`*norm*.bias`)                                                       -> 0
 *   other biases, modulation tables                                                        -> 0.02 N(0,1)
 *   audio layer-mix logits (casual_audio_encoder.weights)                                  -> 1 + 0.1 N(0,1)
 *     (keeps sum(silu(w)) far from 0, it divides the mix)
 *   embeddings (token, cond mask, padding token, masked_spec_embed, T5 position bias)      -> N(0,1)
 *   every other weight [out, in, k...]                                                     -> N(0,1) / sqrt(in*k...)
 * Samples come from Philox stream (LAVR_STREAM_WEIGHTS << 56) | (FNV-1a("component/name") & 2^56-1). */
lavr_status lavr_init_tensor_rows(const lavr_tensor_spec *spec, const char *component, uint64_t seed, int64_t row0,
                                  int64_t nrows, void *out);

#endif
