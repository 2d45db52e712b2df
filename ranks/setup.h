/* The render's setup broadcast: the aux rank sends every rank the job size (clips, latent grid)
 * and the conditioning the DiT needs once (text context, reference and motion latents). Audio
 * features are not part of it: they travel per block inside the block packets. */
#ifndef LAVR_RANKS_SETUP_H
#define LAVR_RANKS_SETUP_H

#include <stdint.h>

#include "core/status.h"
#include "parallel/comm.h"

typedef struct {
    int64_t clips;           /* clips to render (after --num-clip) */
    int64_t start_block;     /* 0, or the resume point: blocks done in the checkpoint <stage>/ckpt-<start_block> */
    int64_t C, h, w;         /* latent channels and grid */
    int64_t motion_latents;  /* latent frames of the motion clip (19 for LiveAvatar's 73 frames) */
    int64_t context_rows, text_dim;
    float *context;          /* [context_rows, text_dim] (bf16 values) */
    float *ref;              /* [C, 1, h, w] */
    float *motion;           /* [C, motion_latents, h, w] */
    int owned;               /* 1: the buffers were allocated by lavr_setup_bcast */
} lavr_render_setup;

/* Root: s is filled and sent. Others: s is filled from the message with buffers of their own. */
lavr_status lavr_setup_bcast(lavr_comm *c, int root, lavr_render_setup *s);
/* The render's last collective (every rank, extra aux ranks too): root says how it ended. *stopped_at:
 * -1 = finished (root's value is sent), else the blocks done when it stopped after a checkpoint. */
lavr_status lavr_setup_end(lavr_comm *c, int root, int64_t *stopped_at);
/* Frees the buffers when owned. */
void lavr_setup_free(lavr_render_setup *s);

#endif
