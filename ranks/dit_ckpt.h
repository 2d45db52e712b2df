/* The checkpoint form of a DiT rank's step caches, shared by every backend: per step and layer the
 * window K/V, per layer the sink K/V, as [tokens, heads, head_dim] bf16 split by tp along the heads. */
#ifndef LAVR_RANKS_DIT_CKPT_H
#define LAVR_RANKS_DIT_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/checkpoint.h"

/* The heads a rank holds: [head_begin, head_begin + heads) of num_heads, head_dim wide each. */
typedef struct {
    int64_t num_heads, head_begin, heads, head_dim;
} lavr_dit_ckpt_heads;

/* "step2/layer017/win_k" (v = 0) or ".../win_v" (v = 1). */
void lavr_dit_ckpt_window_name(char *buf, size_t n, int step, int64_t layer, int v);
/* "sink/layer017/k" or ".../v". */
void lavr_dit_ckpt_sink_name(char *buf, size_t n, int64_t layer, int v);

/* Writes kv, host bf16 bits [tokens][heads * head_dim] (this rank's heads), as its part of name. */
lavr_status lavr_dit_ckpt_put(lavr_ckpt_writer *w, const char *name, const uint16_t *kv, int64_t tokens,
                              const lavr_dit_ckpt_heads *h);
/* Reads this rank's heads of name into kv [tokens][heads * head_dim]; the checkpoint's token count
 * must be `tokens` (another latent size is LAVR_E_FORMAT). */
lavr_status lavr_dit_ckpt_get(lavr_ckpt *c, const char *name, uint16_t *kv, int64_t tokens,
                              const lavr_dit_ckpt_heads *h);

#endif
