/* The memory and speed planner: the whole-device bytes of every rank of a render layout (the DiT's arena from
 * the CUDA DiT's own buffer list, the CUDA context, NCCL, cuBLASLt/cuDNN workspaces and CUDA graphs outside it,
 * the aux rank with the VAE and the setup encoders on the GPU it shares) and its speed from measured per-op rates;
 * `lavr plan` lists layouts with it, `lavr render` and `lavr bench` check one before loading anything. */
#ifndef LAVR_PARALLEL_PLAN_H
#define LAVR_PARALLEL_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "models/config.h"
#include "parallel/layout.h"

typedef struct {
    int fp8;             /* DiT Linears in FP8 e4m3 with per-tensor scales (render/bench --fp8) */
    int sink_contiguous; /* bench --sink contiguous; the render keeps one shared sink per rank */
    int gpus;            /* GPUs of the node; the ranks are placed as parallel/placement.c places them */
    uint64_t gpu_mem;    /* budget per GPU, the whole device (what nvidia-smi shows); 0 = no cap */
    int aux_on_gpu;      /* 1: the aux rank decodes (and encodes) with the VAE on a GPU; 0: on the host */
    int aux_gpu;         /* the aux rank's GPU (--aux-gpu); -1: placement's rule (a free GPU, else the finisher's) */
    int t5_on_gpu;       /* 1: umT5 on the aux GPU during setup, in its own context freed after it; 0: on the host;
                          * LAVR_PLAN_T5_AUTO (default, what `lavr render` does): on the aux GPU when the aux runs
                          * on one that no DiT rank shares, else on the host */
    int w2v_on_gpu;      /* wav2vec2 on the aux GPU during setup, freed after it (default: yes with aux_on_gpu) */
    int bench;           /* the ranks as `lavr bench` runs them: no aux, two latent buffers per rank, NCCL between
                          * stages (the render hands latents and activations over MPI through the host) */
    int alone;           /* bench --only-rank: the rank runs alone on its GPU, no NCCL communicator */
    int pp_nccl;         /* the render's pp hand-offs may go over NCCL (parallel/p2p.h: built with NCCL, LAVR_P2P
                          * not mpi): a pp chain whose ranks are on distinct GPUs then holds NCCL's point-to-point
                          * buffers for each pp neighbour (default: LAVR_HAVE_NCCL) */
} lavr_plan_options;

#define LAVR_PLAN_T5_AUTO (-1)

/* Defaults: bf16, shared sink, 1 GPU, no cap, the aux on the GPU placement picks with wav2vec2, umT5 where
 * LAVR_PLAN_T5_AUTO puts it. */
lavr_plan_options lavr_plan_options_default(void);

/* Predicted bytes and time of one rank. DiT ranks: the arena (weights .. work, its peak over the upload, the text
 * embedding and the render) and what lives outside it. The aux rank: VAE weights, then the larger of the setup
 * (wav2vec2 when on the GPU, the VAE encoder's caches and activations) and the render (the decoder's causal
 * caches and a block's activations), then its own CUDA context and workspaces, and umT5's own context when it runs
 * on the GPU (t5). total = arena + outside. */
typedef struct {
    char role[32]; /* "dit s0 tp0 pp0", "aux" */
    int is_dit;
    int gpu;       /* -1: no GPU (an aux rank on the host) */
    /* DiT arena parts */
    uint64_t weights, kv_window, sink, text_kv, work, transient;
    /* aux parts */
    uint64_t setup, vae_cache, vae_act;
    uint64_t arena;                                /* DiT: arena peak; aux: device peak of its buffers */
    uint64_t context, nccl, blas, cudnn, graphs;   /* outside the arena */
    uint64_t t5;     /* aux: umT5's own context during the setup (its arena, exactly lavr_t5_device_bytes of 512
                      * tokens, and its cuBLASLt workspace), beside the aux's arena; 0 on the host. In outside. */
    uint64_t outside, total;
    double step_ms;  /* DiT: one denoising step of the rank's layers (steady state, full window) */
    double busy_ms;  /* GPU time per video block: DiT steps of its stage x step_ms; aux: the VAE decode of a block */
    double block_ms; /* the rank's stage per block (the pp chain for every step; aux: its decode) */
} lavr_plan_rank;

/* A generated size the planner takes: multiples of 16, at least 64 (LAVR_E_ARG otherwise). */
lavr_status lavr_plan_size_check(int64_t width, int64_t height);

/* Fills per_rank[lavr_layout_ranks(layout)] for a generated video of width x height pixels (multiples of 16,
 * the size after the size rule). LAVR_E_ARG when the layout cannot split the model or the size is unusable.
 * Ignores the cap (see lavr_plan_check). */
lavr_status lavr_plan_layout(const lavr_model_config *cfg, int64_t width, int64_t height, const lavr_layout *layout,
                             const lavr_plan_options *opts, lavr_plan_rank *per_rank);

/* Bytes the busiest GPU needs (ranks sharing a GPU add up); *rank_out gets the first rank on it. */
uint64_t lavr_plan_peak_gpu(const lavr_plan_rank *per_rank, int nranks, int gpus, int *rank_out);
/* Bytes of the ranks on one GPU. */
uint64_t lavr_plan_gpu_bytes(const lavr_plan_rank *per_rank, int nranks, int gpu);
/* The arena cap for DiT rank `rank` under opts->gpu_mem: its predicted arena plus an equal share of what the GPU
 * has left after every rank on it (0 = no cap: the arena takes the device's free memory). */
uint64_t lavr_plan_arena_cap(const lavr_plan_rank *per_rank, int nranks, int rank, uint64_t gpu_mem);

/* Predicted frames per second at steady state: 4 x frames_per_block video frames per block, a block every
 * max(slowest stage, busiest GPU) ms. */
double lavr_plan_fps(const lavr_model_config *cfg, const lavr_plan_rank *per_rank, int nranks);

/* The layouts worth considering for `gpus` GPUs: steps x tp x pp <= gpus DiT ranks (one per GPU) plus one aux rank,
 * on a GPU of its own when one is left, else sharing one. Writes up to max, returns how many exist. */
int lavr_plan_candidates(const lavr_model_config *cfg, int gpus, lavr_layout *out, int max);

/* A layout with its precision: what `lavr plan` ranks and `lavr render` runs. */
typedef struct {
    lavr_layout layout;
    int fp8;
    uint64_t peak; /* bytes of the busiest GPU */
    int peak_rank;
    double fps;
    int fits;
} lavr_plan_choice;
/* Every candidate for opts->gpus GPUs in bf16 and FP8 (fp8_only / bf16_only keep one), fitting ones first,
 * fastest first, then the others by their peak. Writes up to max, returns how many were written. */
int lavr_plan_choices(const lavr_model_config *cfg, int64_t width, int64_t height, const lavr_plan_options *opts,
                      int fp8_only, int bf16_only, lavr_plan_choice *out, int max);

/* Checks a layout against the cap: LAVR_E_ARG "layout X needs N GiB on GPU g (rank R, role ...), the cap is M GiB;
 * layouts that fit: ..." (or "no layout with G GPUs fits") when the busiest GPU is over it. */
lavr_status lavr_plan_check(const lavr_model_config *cfg, int64_t width, int64_t height, const lavr_layout *layout,
                            const lavr_plan_options *opts);

/* ---- the model's constants (parallel/plan.c states where each comes from) ------------------------ */
/* CUDA context of a process on an H200 with CUDA 13, lazily loaded kernels of lavr, cuBLASLt and cuDNN included. */
#define LAVR_PLAN_CUDA_CONTEXT ((uint64_t)500 << 20)

/* Measured per-op rates of one GPU; see parallel/plan.c for the run they come from. */
typedef struct {
    double attn_flops;     /* fused attention (cuDNN SDPA), FLOP/s */
    double gemm_flops;     /* bf16 cuBLASLt GEMMs */
    double gemm_fp8_flops; /* FP8 e4m3 cuBLASLt GEMMs */
    double mem_bytes;      /* norms, RoPE, residuals, FP8 quantisation: effective bytes/s */
    double link_bytes;     /* NCCL all-reduce bus bandwidth between the GPUs of a node */
    double link_latency_s; /* one small NCCL all-reduce */
    double host_bytes;     /* device <-> host copies (PCIe) */
    double host_copy_bytes;/* MPI hand-off of a host buffer to another rank of the node */
    double vae_flops;      /* VAE decoder convolutions (bf16) */
} lavr_plan_rates;
extern const lavr_plan_rates lavr_plan_rates_h200;

/* One denoising step of a DiT rank by op class (ms), from the rates: what `lavr bench --profile` measures. */
typedef struct {
    double self_attn, text_attn, audio_attn, gemm, norm, fp8_quant, comm, host, total;
} lavr_plan_step;
lavr_status lavr_plan_dit_step(const lavr_model_config *cfg, int64_t width, int64_t height, const lavr_layout *layout,
                               const lavr_role *role, const lavr_plan_options *opts, lavr_plan_step *out);

#endif
