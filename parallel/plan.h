/* The memory and speed planner: predicted device bytes of every rank of a layout (weights shard,
 * per-step KV windows and sinks, text K/V, activations, communication buffers, aux encoders/VAE) and a
 * simple throughput model; `lavr plan` lists layouts with it and `lavr render` checks one before loading. */
#ifndef LAVR_PARALLEL_PLAN_H
#define LAVR_PARALLEL_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "models/config.h"
#include "parallel/layout.h"

typedef struct {
    int fp8;            /* DiT linear weights in fp8 e4m3 with per-tensor scales (liveavatar-system §4.2) */
    int text_kv_bytes;  /* element size of the cached text K/V: 4 (fp32, what the CPU path keeps) or 2 */
    int gpus;           /* GPUs of the (single) node: rank r runs on GPU r % gpus, as parallel/device.c picks */
    uint64_t gpu_mem;   /* cap per GPU in bytes; 0 = no cap */
    int t5_on_host;     /* 1: the aux rank runs umT5 on the host CPU (once per prompt: seconds for a prompt,
                         * and 11.4 GB of GPU memory saved at s2v-14b); 0: on its GPU as LiveAvatar does */
} lavr_plan_options;

/* Defaults: bf16 weights, fp32 text K/V, 1 GPU, no cap, umT5 on the host. */
lavr_plan_options lavr_plan_options_default(void);

/* Predicted bytes of one rank. DiT ranks fill weights..workspace; the aux rank holds the T5 encoder,
 * wav2vec2 and the VAE (weights), the VAE decoder's causal-conv caches (vae_cache) and the decoder's
 * activations (umT5 only when it runs on the GPU). total is the sum of the fields. */
typedef struct {
    char role[32]; /* "dit s0 tp0 pp0", "aux" */
    int gpu;
    uint64_t weights, kv_window, sink, text_kv, vae_cache, activations, comm, workspace, total;
    double block_ms; /* predicted busy time per video block (all of its steps), 0 for aux ranks */
} lavr_plan_rank;

/* Fills per_rank[lavr_layout_ranks(layout)] for a generated video of width x height pixels (multiples
 * of 16, the size after the size rule). Fails with LAVR_E_ARG when the layout cannot split the model
 * or the size is not usable. Ignores the cap (see lavr_plan_check). */
lavr_status lavr_plan_layout(const lavr_model_config *cfg, int64_t width, int64_t height, const lavr_layout *layout,
                             const lavr_plan_options *opts, lavr_plan_rank *per_rank);

/* Bytes the busiest GPU needs (ranks sharing a GPU add up); *rank_out gets the first rank on it. */
uint64_t lavr_plan_peak_gpu(const lavr_plan_rank *per_rank, int nranks, int gpus, int *rank_out);

/* Predicted video frames per second at steady state: frames of a block / the slowest rank's block_ms. */
double lavr_plan_fps(const lavr_model_config *cfg, const lavr_plan_rank *per_rank, int nranks);

/* The layouts worth considering for opts->gpus GPUs: steps x tp x pp DiT ranks plus one aux rank,
 * either one rank per GPU (gpus ranks) or the aux rank sharing GPU 0 (gpus + 1 ranks). Writes up to
 * max, returns how many exist. */
int lavr_plan_candidates(const lavr_model_config *cfg, int gpus, lavr_layout *out, int max);

/* Checks a layout against the cap: LAVR_E_ARG "layout X needs N GiB on rank R (role), the cap is M GiB;
 * layouts that fit: ..." (or "no layout with G GPUs fits") when the busiest GPU is over it. */
lavr_status lavr_plan_check(const lavr_model_config *cfg, int64_t width, int64_t height, const lavr_layout *layout,
                            const lavr_plan_options *opts);

#endif
