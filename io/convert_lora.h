/* The LiveAvatar LoRA (model-spec §2.7) for the converter: lora_A / lora_B pairs from a
 * safetensors file, matched to DiT Linear weights by module-name suffix (so `base_model.model.`,
 * `diffusion_model.` and bare spellings all work), merged row slab by row slab in fp32. */
#ifndef LAVR_IO_CONVERT_LORA_H
#define LAVR_IO_CONVERT_LORA_H

#include <stdint.h>

#include "core/status.h"

typedef struct lavr_lora lavr_lora;

/* Reads the pairing of the file. scale_override > 0 replaces the scale; otherwise scale =
 * alpha / rank with alpha from the metadata ("lora_alpha" or "alpha", default 64) and rank from
 * the metadata ("lora_rank", "rank" or "r") or else from lora_A's first dim. Keys that are not
 * lora_A/lora_B weights, and modules with only one of the two, are errors naming them. */
lavr_status lavr_lora_open(const char *path, double scale_override, lavr_lora **out);
void lavr_lora_close(lavr_lora *lora);
double lavr_lora_scale(const lavr_lora *lora);
int lavr_lora_count(const lavr_lora *lora); /* pairs */
int64_t lavr_lora_file_size(const lavr_lora *lora);

/* The pair that adapts the weight `weight_name` ("blocks.0.self_attn.q.weight") of shape
 * [out, in], or -1. Shapes of A [r, in] and B [out, r] are checked; two pairs matching one
 * weight is an error. */
lavr_status lavr_lora_match(lavr_lora *lora, const char *weight_name, int64_t out, int64_t in, int *pair);
/* w[nrows, in] (fp32 rows row0.. of the weight) += scale · B[row0.., :] · A, sums in fp32. */
lavr_status lavr_lora_apply(lavr_lora *lora, int pair, int64_t row0, int64_t nrows, float *w);
/* Every pair must have been matched; the error lists the modules that matched no weight. */
lavr_status lavr_lora_check_used(const lavr_lora *lora);

#endif
