/* The latent stage file: every clean latent block of a render appended as soon as it exists
 * (dataset /latents [blocks, C, F, h, w] bf16, extendable along blocks, flushed per block so
 * h5dump/h5py can read it while the render runs), with the render's identity as root attributes. */
#ifndef LAVR_IO_STAGE_H
#define LAVR_IO_STAGE_H

#include <stdint.h>

#include "core/status.h"

typedef struct lavr_stage lavr_stage;

typedef struct {
    int64_t C, F, h, w;   /* block shape */
    uint64_t seed;
    const char *layout;   /* "steps=4,tp=1,pp=1,aux=1" or "dit-run" */
    const char *model;    /* model file path as given */
    const char *inputs;   /* "image=<sha> audio=<sha> prompt=<sha>" or a description */
    int64_t fixed_sink_offset; /* 0 = drawn */
} lavr_stage_info;

/* Creates (truncates) path with format="lavr-latents" and the info as attributes. */
lavr_status lavr_stage_create(const char *path, const lavr_stage_info *info, lavr_stage **out);
/* Opens an existing file for reading (and appending when writable is 1). */
lavr_status lavr_stage_open(const char *path, int writable, lavr_stage **out);
lavr_status lavr_stage_close(lavr_stage *s);
const lavr_stage_info *lavr_stage_info_of(const lavr_stage *s);
int64_t lavr_stage_blocks(const lavr_stage *s);
/* Appends block number lavr_stage_blocks() (bf16 values as float [C, F, h, w]) and flushes. */
lavr_status lavr_stage_append(lavr_stage *s, const float *latent);
/* Reads block b into latent [C, F, h, w]. */
lavr_status lavr_stage_read(lavr_stage *s, int64_t b, float *latent);
/* Drops blocks >= n (resume after a crash that staged blocks past the last checkpoint). */
lavr_status lavr_stage_truncate(lavr_stage *s, int64_t n);

#endif
