/* State shared by the converter's two halves: convert.c (finding and checking the sources,
 * configs, tokenizer) and convert_write.c (writing tensors, LoRA merge, FP8 copies, progress). */
#ifndef LAVR_IO_CONVERT_INTERNAL_H
#define LAVR_IO_CONVERT_INTERNAL_H

#include <stdint.h>

#include "core/arena.h"
#include "io/convert.h"
#include "io/convert_lora.h"
#include "io/convert_source.h"
#include "io/h5model.h"
#include "io/model_digest.h"
#include "models/config.h"

typedef struct {
    lavr_convert_options opt;
    lavr_model_config cfg;
    lavr_h5file *out;
    lavr_arena *arena;
    /* sources */
    lavr_safetensors **shards;
    int n_shards;
    lavr_torchzip *t5_file, *vae_file, *w2v_tz;
    lavr_safetensors *w2v_st;
    lavr_cv_set dit, t5, vae, w2v;
    lavr_lora *lora;
    /* buffers of the row-slab loop */
    void *raw, *conv;
    float *f32;
    int64_t raw_cap, conv_cap, f32_cap;
    /* counts */
    int64_t total_bytes, done_bytes, tensors, params, lora_merged, fp8_written;
    int next_percent;
    lavr_model_digest digest; /* content fingerprint and the finite check of every tensor written */
} lavr_converter;

/* Writes every tensor of a component's inventory under /group from its source set; the DiT also
 * gets the LoRA merge and, with opt.fp8, /dit_fp8 copies. */
lavr_status lavr_convert_write_component(lavr_converter *c, const char *group, lavr_cv_inventory_fn inventory,
                                         const void *cfg, const lavr_cv_set *set);
/* Output bytes of a component (for the progress lines). */
lavr_status lavr_convert_count_bytes(lavr_converter *c, lavr_cv_inventory_fn inventory, const void *cfg, int dit);

#endif
