/* The compute of one DiT rank behind one small interface, so ranks/dit_stage.c drives the same schedule
 * on the CPU (models/dit.h shard) or on a CUDA device (models/dit_cuda.h): weights, step caches, the act.
 *
 * The act travels between pp indices as host floats (lavr_dit_act: header fields + buf); an engine
 * whose act lives elsewhere mirrors it: act_to_host before a send, act_from_host after a receive.
 * Caches are numbered 0..ncaches-1 (cache i = the rank's step step_begin + i).
 *
 * Checkpoint naming (ranks/dit_ckpt.h writes it, any backend and any layout reads it):
 *   step<s>/layer<NNN>/win_k, win_v   [window, heads, head_dim] bf16, split along dim 1 by tp
 *   sink/layer<NNN>/k, v               [sink, heads, head_dim] bf16, written by stage 0 only */
#ifndef LAVR_RANKS_DIT_ENGINE_H
#define LAVR_RANKS_DIT_ENGINE_H

#include <stdint.h>

#include "core/status.h"
#include "io/checkpoint.h"
#include "models/dit.h"
#include "models/generated_model.h"
#include "models/sampler.h"
#include "parallel/comm.h"
#include "parallel/mpi.h"
#include "parallel/nccl.h"

typedef enum { LAVR_BACKEND_CPU = 0, LAVR_BACKEND_CUDA = 1 } lavr_backend;

/* "cpu", "cuda" or "auto" (cuda when this build has CUDA and the rank sees a device, else cpu);
 * anything else is LAVR_E_ARG with a one-line message. `device` is roles->device (-1: none). */
lavr_status lavr_backend_resolve(const char *text, int device, lavr_backend *out);
const char *lavr_backend_name(lavr_backend b);

typedef struct {
    lavr_backend backend;
    const char *model_path;
    const lavr_generated_model *generated; /* set: weights made on the fly instead of read from model_path (CUDA:
                                            * the layers generated on the device, as lavr bench does) */
    const lavr_roles *roles;  /* shard (role.layer_begin/end), tp communicator, device */
    lavr_comm *comm;          /* the render's messages: the tp all-reduce runs on it and its waits watch for a
                               * peer's fault notice (parallel/comm.h); NULL: the tp communicator, no watch */
    uint64_t gpu_mem_bytes;   /* CUDA: device arena cap (0: what the card has) */
    int fp8;                  /* CUDA: FP8 e4m3 Linears with per-tensor scales (LiveAvatar's --fp8) */
    const char *attention;    /* CUDA: "auto" (cuDNN fused SDPA when available), "cudnn" or "own"; NULL = auto */
} lavr_dit_engine_options;

typedef struct lavr_dit_engine lavr_dit_engine;

/* Loads the rank's shard of the weights (CUDA: uploads them and frees the host copy). */
lavr_status lavr_dit_engine_open(const lavr_dit_engine_options *o, lavr_dit_engine **out);
void lavr_dit_engine_close(lavr_dit_engine *e);
const lavr_dit_config *lavr_dit_engine_config(const lavr_dit_engine *e);
/* The shard's heads [head_begin, head_begin + heads) of num_heads, and its layers. */
void lavr_dit_engine_shard(const lavr_dit_engine *e, int64_t *head_begin, int64_t *heads, int64_t *layer_begin,
                           int64_t *layer_end);

/* After the setup broadcast: text context [rows, text_dim] (collective over tp), ncaches step caches
 * for latent h x w, the act. */
lavr_status lavr_dit_engine_prepare(lavr_dit_engine *e, const float *context, int64_t rows, int64_t h, int64_t w,
                                    int ncaches);
const lavr_dit_geometry *lavr_dit_engine_geometry(const lavr_dit_engine *e);

/* The act's host form (header fields and buf; buf is what the pp chain sends). */
lavr_dit_act *lavr_dit_engine_act(lavr_dit_engine *e);
lavr_status lavr_dit_engine_act_to_host(lavr_dit_engine *e);
lavr_status lavr_dit_engine_act_from_host(lavr_dit_engine *e);

/* The act device to device (CUDA engines in an NCCL build), for the pp hand-off over NCCL (parallel/p2p.h): the
 * buffers act_to_host / act_from_host would copy (x's rows, e, e0, a_loc, a_glob: the same fp32 values) sent to or
 * received from pp index `peer` of the chain communicator c on the engine's stream, and waited for with the fault
 * watch (an NCCL error, a timeout or a peer's fault notice aborts c: parallel/nccl.h lavr_nccl_sync). Receiving takes
 * the header fields (prefill, block, sink offset, rows) from the host act, which the message set first. Other
 * engines: LAVR_E_UNSUPPORTED. */
lavr_status lavr_dit_engine_act_send_device(lavr_dit_engine *e, lavr_nccl *c, int peer);
lavr_status lavr_dit_engine_act_recv_device(lavr_dit_engine *e, lavr_nccl *c, int peer);

/* The block latent [C, F, h, w] (bf16 values) the engine keeps where it computes (CUDA: on the device; first and
 * last shards): put copies in a host latent that arrived in a message, get copies it out when it leaves the rank. */
lavr_status lavr_dit_engine_latent_put(lavr_dit_engine *e, const float *x);
lavr_status lavr_dit_engine_latent_get(lavr_dit_engine *e, float *x);

/* First shard: embed the sink (reference [C,1,h,w], motion [C,M,h,w]) / a noisy block into the act; a block
 * input with x NULL embeds the engine's latent (lavr_dit_engine_latent_put, or the last head_step's result). */
lavr_status lavr_dit_engine_embed_sink(lavr_dit_engine *e, int cache, const float *ref, const float *motion);
lavr_status lavr_dit_engine_embed_block(lavr_dit_engine *e, int cache, const lavr_dit_block_input *in);
/* The shard's layers on the act against cache (a prefill fills its sink). */
lavr_status lavr_dit_engine_forward(lavr_dit_engine *e, int cache);
/* Last shard: velocity [C, F, h, w] (host floats, bf16 values). */
lavr_status lavr_dit_engine_head(lavr_dit_engine *e, int cache, float *velocity);
/* Last shard: the head, then Euler step `step` of s on the engine's latent, where it lives (lavr_sampler_step:
 * x = bf16(x + bf16(delta * v))); the velocity never leaves the engine. */
lavr_status lavr_dit_engine_head_step(lavr_dit_engine *e, int cache, const lavr_sampler *s, int step);
lavr_status lavr_dit_engine_copy_sink(lavr_dit_engine *e, int dst, int src);

/* Checkpoint: cache's windows under step<step>/..., and with write_sink its sink under sink/... */
lavr_status lavr_dit_engine_save(lavr_dit_engine *e, int cache, int step, int write_sink, lavr_ckpt_writer *w);
/* Restores cache from step<step>/... and sink/... of a checkpoint written by any layout. */
lavr_status lavr_dit_engine_load(lavr_dit_engine *e, int cache, int step, lavr_ckpt *c);

/* Peak bytes of this rank's compute memory (CUDA: device arena high-water mark; CPU: 0 = see RSS). */
uint64_t lavr_dit_engine_peak_bytes(const lavr_dit_engine *e);
/* Device bytes this rank's compute memory holds reserved (CUDA: the device arena's cap; CPU: 0). */
uint64_t lavr_dit_engine_reserved_bytes(const lavr_dit_engine *e);

#endif
