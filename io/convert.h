/* `lavr convert`: the official downloads (Wan2.2-S2V-14B directory layout, optional LiveAvatar
 * LoRA) -> one lavr model file (/dit /t5 /vae /wav2vec2 /tokenizer, optional /dit_fp8), written
 * tensor by tensor in row slabs to OUT.partial and renamed when complete. */
#ifndef LAVR_IO_CONVERT_H
#define LAVR_IO_CONVERT_H

#include "core/status.h"

typedef struct {
    const char *wan_dir;   /* laid out like ckpt/Wan2.2-S2V-14B */
    const char *lora_path; /* NULL: no LoRA */
    double lora_scale;     /* > 0 overrides alpha/rank */
    const char *out_path;
    int fp8;               /* also write /dit_fp8 copies of the DiT Linear weights */
    int compress;          /* deflate level 0-9 */
    int progress;          /* progress lines on stderr */
} lavr_convert_options;

lavr_status lavr_convert(const lavr_convert_options *opt);

/* 1 when the DiT weight gets an FP8 copy: every Linear weight except text_embedding,
 * time_embedding, time_projection, head.head and the audio encoder's final_linear (§2.8). */
int lavr_convert_fp8_target(const char *name, int ndim);

#endif
