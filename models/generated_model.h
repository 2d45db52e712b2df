/* The model `lavr init` would write for a preset and seed, made on the fly instead of read from disk: an HDF5
 * tensor store (io/h5model.h source) that every loader reads as it reads a model file (benchmarks at full size
 * without a 45 GB file). */
#ifndef LAVR_MODELS_GENERATED_MODEL_H
#define LAVR_MODELS_GENERATED_MODEL_H

#include <stdint.h>

#include "core/status.h"
#include "io/h5model.h"
#include "models/config.h"

/* A generated model: the preset's config and the weights' seed (render roles take it instead of a path). */
typedef struct {
    lavr_model_config cfg;
    uint64_t seed;
} lavr_generated_model;

/* Opens g as a read-only model file: the groups /dit, /t5, /vae, /wav2vec2 with their `config` attributes and
 * every tensor of their inventories, valued as lavr init's (models/init_weights.h; made when read, rows in
 * parallel), the root attributes of a lavr model and a synthetic tokenizer of the preset's vocabulary
 * (models/tokenizer_tiny.c) at /tokenizer/data. Its name is "generated:<preset>:seed=<seed>". */
lavr_status lavr_generated_model_open(const lavr_generated_model *g, lavr_h5file **out);

/* Seconds spent making group's weights ("dit", "t5", "vae", "wav2vec2") in reads of a generated model so far
 * (what a loader's time owes to the generation, not to reading); 0 for a model file. */
double lavr_generated_model_seconds(lavr_h5file *f, const char *group);

/* Opens a render's model: the generated one when g is set, else the file at path. */
lavr_status lavr_model_open(const char *path, const lavr_generated_model *g, lavr_h5file **out);

#endif
