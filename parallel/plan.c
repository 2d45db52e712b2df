/* The memory and speed planner (parallel/plan.h): a DiT rank's arena from the CUDA DiT's buffer list
 * (models/dit_dev.h) in the order the render allocates it, the bytes outside the arena by library, the aux rank
 * (parallel/plan_aux.c), the time of a block-step from op counts at measured rates, and the cap check. */
#include "parallel/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/units.h"
#include "kernels/cuda/conv_cudnn.h"
#include "models/dit_dev.h"
#include "parallel/placement.h"
#include "parallel/plan_internal.h"

#define VIDEO_PER_LATENT 4 /* Wan2.1 VAE: 4 video frames per latent, 8x8 pixels */

/* Measured on one H200 (SM 1980 MHz, CUDA 13, cuDNN 9.19.0) at commit bdd5f93, BENCHMARKS.md "DiT speed on one
 * H200": `mpirun -np 1 lavr bench --config s2v-14b --size 704*384 --layout steps=1,tp=1,pp=1,aux=0 --blocks 8`
 * (+ --profile for the split, + --fp8). bf16, ms per block-step: self-attention 74.94, text attention 3.20, audio
 * attention 0.48, GEMMs 113.83, norms/elementwise 16.17, total 208.7; FP8: total 159.5. Each rate is the op count
 * of that step (lavr_plan_dit_step's formulas, tp=1 at 704x384: 40 layers, 12 injections) over its measured time:
 *   self-attention 39.738 TFLOP / 74.94 ms = 530 TFLOP/s (window and sink, two cuDNN SDPA calls and their merge);
 *   text attention 1.3288 TFLOP / 3.20 ms = 415 TFLOP/s; audio attention (5 keys per frame) is latency-bound:
 *   3.89 GFLOP / 0.48 ms = 8.1 TFLOP/s;
 *   bf16 GEMMs 79.748 TFLOP / 113.83 ms = 701 TFLOP/s;
 *   norms, RoPE, residuals: 40.673 GB moved / 16.17 ms = 2.52 TB/s effective; FP8 quantisation moves 22.649 GB
 *   more at that rate (9.0 ms; measured 8.60);
 *   FP8 GEMMs, from the complete FP8 profile of the same bench at commit f569b9d (`--fp8 --blocks 7 --profile`,
 *   BENCHMARKS.md "DiT speed and goldens"): 79.748 TFLOP / 59.16 ms = 1348 TFLOP/s (1.92x bf16). The model's FP8
 *   step is then 163.0 ms against the 159.5 measured (that run's attention took 71.5 ms, this one's 74.9).
 * Not measured yet (estimates until a multi-GPU `lavr bench --profile` and the CUDA VAE are timed): the NCCL
 * all-reduce bus bandwidth and latency (NVLink, 4 x H200), host copies (PCIe 5) and the MPI hand-off through shared
 * memory, the VAE's bf16 convolutions (cuDNN). */
const lavr_plan_rates lavr_plan_rates_h200 = {
    .attn_flops = 530.3e12,
    .gemm_flops = 700.6e12,
    .gemm_fp8_flops = 1348.0e12,
    .mem_bytes = 2.5154e12,
    .link_bytes = 300e9,
    .link_latency_s = 20e-6,
    .host_bytes = 20e9,
    .host_copy_bytes = 10e9,
    .vae_flops = 150e12,
};
#define TEXT_ATTN_FLOPS 415.2e12 /* see above: short keys (512) */
#define AUDIO_ATTN_FLOPS 8.11e12

/* ---- outside the arena --------------------------------------------------------------------------- */
/* cuDNN handle and the SDPA plans' shared workspace (kernels/cuda/sdpa.c; `lavr bench` prints the real figure) */
#define PLAN_CUDNN_BYTES ((uint64_t)16 << 20)
/* the VAE's convolution workspace (cuDNN or the im2col scratch of lavr's kernel): cuDNN's is held within the cap
 * that tuning and engine records keep to (kernels/cuda/conv_cudnn.h), one buffer, freed before it grows */
#define PLAN_VAE_WORKSPACE ((uint64_t)LAVR_CUDNN_CONV_WORKSPACE_CAP)
/* an instantiated CUDA graph of one block-step (~800-1100 kernel nodes); the DiT keeps one per step cache */
#define PLAN_GRAPH_BYTES ((uint64_t)8 << 20)
/* NCCL 2.28 defaults, no NCCL_* overrides: every channel keeps, for each ring neighbour it receives from or sends
 * to, a buffer per protocol (Simple NCCL_BUFFSIZE 4 MiB, LL128 4.69 MiB, LL 0.5 MiB); NVLink nodes run 32 channels.
 * With the context and cuBLASLt this accounts for 1.10 of the 1.39 GiB measured outside the arena of a tp=4 rank
 * (BENCHMARKS.md, commit 088e9b2); `lavr bench` measures it per rank. Point-to-point (the bench's stage hand-off,
 * the render's pp hand-off): 2 channels per peer, Simple only, send and receive side; not yet measured on 2 GPUs. */
#define PLAN_NCCL_CHANNELS 32
#define PLAN_NCCL_CONN_BYTES ((uint64_t)(4u << 20) + 4915200u + 524288u)
#define PLAN_NCCL_P2P_BYTES ((uint64_t)2 * 2 * (4u << 20))

static uint64_t nccl_ring_bytes(int ranks) {
    if (ranks < 2) return 0;
    return (uint64_t)PLAN_NCCL_CHANNELS * (uint64_t)(ranks == 2 ? 1 : 2) * PLAN_NCCL_CONN_BYTES;
}

lavr_status lavr_plan_size_check(int64_t width, int64_t height) {
    CHECK_ARG(width >= 64 && height >= 64 && width % 16 == 0 && height % 16 == 0,
              "plan: size %lldx%lld must be multiples of 16 and at least 64 (latent patches of 2x2 after the VAE's 8x)",
              (long long)width, (long long)height);
    return LAVR_OK;
}

lavr_plan_options lavr_plan_options_default(void) {
    return (lavr_plan_options){.fp8 = 0, .sink_contiguous = 0, .gpus = 1, .gpu_mem = 0, .aux_on_gpu = 1,
                               .aux_gpu = -1, .t5_on_gpu = LAVR_PLAN_T5_AUTO, .w2v_on_gpu = 1, .bench = 0, .alone = 0,
                               .pp_nccl = LAVR_HAVE_NCCL};
}

/* ---- the time of a step ----------------------------------------------------------------------------- */
static double allreduce_s(const lavr_plan_rates *r, int n, double bytes) {
    return r->link_latency_s + 2.0 * (double)(n - 1) / (double)n * bytes / r->link_bytes;
}

lavr_status lavr_plan_dit_step(const lavr_model_config *cfg, int64_t width, int64_t height, const lavr_layout *layout,
                               const lavr_role *role, const lavr_plan_options *opts, lavr_plan_step *out) {
    memset(out, 0, sizeof *out);
    const lavr_plan_rates *rt = &lavr_plan_rates_h200;
    lavr_dit_dev_dims g;
    TRY(lavr_dit_dev_dims_of(&cfg->dit, layout->tp, opts->fp8, opts->sink_contiguous, role->layer_begin,
                             role->layer_end, height / 8, width / 8, &g));
    const int tp = layout->tp;
    const double L = (double)g.L, W = (double)g.W, S = (double)g.S, T = (double)g.T, d = (double)g.d;
    const double dh = (double)g.dh, ff = (double)g.ff, FNA = (double)(g.F * g.NA), F = (double)g.F;
    const double nl = (double)g.nl, inj = (double)g.injectors;
    /* steady state: every query block attends the full window and the sink */
    const double self = nl * 4 * L * (W + S) * dh, text = nl * 4 * L * T * dh, audio = inj * 4 * L * (double)g.NA * dh;
    const double gemm = nl * 2 * L * (6 * d * dh + 2 * d * ff) +
                        inj * (2 * L * 2 * dh * d + 2 * FNA * 2 * dh * d + 2 * F * 2 * d * d);
    /* bytes the fused kernels move: three residual+norm passes per layer (fp32 stream in and out, the projection
     * in bf16 or, with tp, as fp32 partial sums, the bf16 norm output), the q/k norms and RoPE (their tp sums of
     * squares read the rows again), the sink keys re-roped; an injection's norm, q/k norms and residual */
    const double add = tp > 1 ? 4 : 2, qk_sum = tp > 1 ? 1 : 0;
    const double per_layer = 3 * L * d * (4 + add + 4 + 2) + (12 + 4 * qk_sum) * L * dh + 4 * S * dh +
                             (4 + 2 * qk_sum) * L * dh;
    const double per_inject = 6 * L * d + (4 + 2 * qk_sum) * L * dh + (4 + 2 * qk_sum) * FNA * dh +
                              L * d * (4 + add + 4) + 4 * L * d;
    const double norm_bytes = nl * per_layer + inj * per_inject + 6 * L * d;
    out->self_attn = self / rt->attn_flops * 1e3;
    out->text_attn = text / TEXT_ATTN_FLOPS * 1e3;
    out->audio_attn = audio / AUDIO_ATTN_FLOPS * 1e3;
    out->norm = norm_bytes / rt->mem_bytes * 1e3;
    out->gemm = gemm / (opts->fp8 ? rt->gemm_fp8_flops : rt->gemm_flops) * 1e3;
    if (opts->fp8) {
        /* quantising a GEMM operand reads bf16 and writes e4m3 (3 B per value); operands no norm wrote need an
         * amax pass first (2 B): qkv, cross q, ffn0 and the injectors' q come with their amax */
        const double q = nl * (3 * 3 * L * d + 2 * 5 * L * dh + 5 * L * ff) +
                         inj * (3 * L * d + 5 * L * dh + 5 * FNA * d + 5 * F * d);
        out->fp8_quant = q / rt->mem_bytes * 1e3;
    }
    if (tp > 1 && !opts->alone) {
        /* per layer the three row-parallel projections' fp32 sums and two q/k sums of squares; per injection its
         * projection and two sums of squares; FP8: the amax of every split operand */
        double s = nl * (3 * allreduce_s(rt, tp, 4 * L * d) + 2 * allreduce_s(rt, tp, 8 * L)) +
                   inj * (allreduce_s(rt, tp, 4 * L * d) + allreduce_s(rt, tp, 8 * L) + allreduce_s(rt, tp, 8 * FNA));
        if (opts->fp8) s += (3 * nl + inj) * allreduce_s(rt, tp, 4);
        out->comm = s * 1e3;
    }
    if (!opts->bench) {
        /* the render's pp 0 rank uploads the block's latent when it arrives (counted every step: the worst case, a
         * rank of one step), its time rows every step and its audio frames once per block (the tokens, the audio
         * encoder and the Euler step run on the device); the activation [R, d] fp32 goes down the pp chain through
         * the host over MPI; the last pp index downloads the stepped latent when it leaves the rank */
        const double act = (double)lavr_dit_dev_act_floats(&g) * 4;
        const double latent = (double)(g.in_dim * g.F * g.geo.h * g.geo.w) * 4;
        const double frames = (double)(cfg->dit.audio_num_states * cfg->dit.audio_dim * 4 * g.F) * 4;
        const double owned = (double)(role->step_end - role->step_begin);
        double s = (g.first ? latent + 7 * d * 4 + frames / owned : act) / rt->host_bytes;
        if (!g.last) s += act / rt->host_bytes + act / rt->host_copy_bytes;
        else s += latent / rt->host_bytes;
        out->host = s * 1e3;
    }
    out->total = out->self_attn + out->text_attn + out->audio_attn + out->gemm + out->norm + out->fp8_quant +
                 out->comm + out->host;
    return LAVR_OK;
}

/* ---- a DiT rank ------------------------------------------------------------------------------------- */
static lavr_status plan_dit(const lavr_model_config *cfg, int64_t width, int64_t height, const lavr_layout *layout,
                            const lavr_role *role, const lavr_plan_options *o, lavr_plan_rank *r) {
    const lavr_dit_config *c = &cfg->dit;
    lavr_dit_dev_dims g;
    TRY(lavr_dit_dev_dims_of(c, layout->tp, o->fp8, o->sink_contiguous, role->layer_begin, role->layer_end,
                             height / 8, width / 8, &g));
    lavr_dit_dev_bytes b;
    TRY(lavr_dit_dev_bytes_of(&g, &b));
    const uint64_t caches = (uint64_t)(role->step_end - role->step_begin);
    /* what the rank allocates after the model: the bench's latent and velocity, the render's velocity (last pp),
     * latent block (first or last pp) and audio encoder (first pp: models/dit_audio_cuda.c), ranks/dit_engine_cuda.c */
    const uint64_t latent = lavr_dit_dev_aligned((uint64_t)(c->in_dim * c->frames_per_block * g.geo.h * g.geo.w) * 4);
    uint64_t audio_w = 0, audio_work = 0;
    if (!o->bench && g.first) TRY(lavr_dit_dev_audio_bytes(c, &audio_w, &audio_work));
    const uint64_t tail = o->bench ? 2 * latent
                                   : (g.last ? latent : 0) + (g.first || g.last ? latent : 0) + audio_w + audio_work;
    /* create -> weights uploaded through a staging buffer -> text K/V (temporaries) -> step caches, act, tail */
    const uint64_t later = caches * b.cache + b.act + tail;
    r->weights = b.weights + audio_w;
    r->text_kv = b.text_kv;
    r->sink = b.sink;
    r->kv_window = caches * b.cache;
    r->work = b.work + b.act + tail - audio_w;
    r->transient = b.staging > b.context ? b.staging : b.context;
    r->arena = b.weights + b.text_kv + b.work + b.sink + (later > r->transient ? later : r->transient);
    r->context = LAVR_PLAN_CUDA_CONTEXT;
    r->blas = PLAN_BLAS_BYTES;
    r->cudnn = PLAN_CUDNN_BYTES;
    r->graphs = caches * PLAN_GRAPH_BYTES;
    if (!o->alone) {
        if (layout->tp > 1) r->nccl += nccl_ring_bytes(layout->tp);
        if (o->bench && layout->steps > 1) r->nccl += (uint64_t)(role->stage > 0) * PLAN_NCCL_P2P_BYTES / 2 +
                                                      (uint64_t)(role->stage < layout->steps - 1) * PLAN_NCCL_P2P_BYTES / 2;
    }
    lavr_plan_step st;
    TRY(lavr_plan_dit_step(cfg, width, height, layout, role, o, &st));
    r->step_ms = st.total;
    r->busy_ms = (double)caches * st.total;
    return LAVR_OK;
}

/* ---- the aux rank ---------------------------------------------------------------------------------- */
/* shared: a DiT rank computes on the aux's GPU too (LAVR_PLAN_T5_AUTO then keeps umT5 on the host) */
static lavr_status plan_aux(const lavr_model_config *cfg, int64_t width, int64_t height, const lavr_plan_options *o,
                            int shared, lavr_plan_rank *r) {
    plan_aux_model m;
    const int t5_on_gpu = o->t5_on_gpu == LAVR_PLAN_T5_AUTO ? !shared : o->t5_on_gpu;
    TRY(plan_aux_model_of(cfg, width, height, t5_on_gpu, o->w2v_on_gpu, &m));
    /* the encoders run during the setup and are freed before the first block is decoded */
    r->weights = m.vae_weights;
    r->setup = m.enc_cache + m.enc_act + m.w2v;
    r->t5 = m.t5; /* a context of its own, reserved beside the aux's arena for the prompt encode */
    r->vae_cache = m.dec_cache;
    r->vae_act = m.dec_act;
    const uint64_t render = m.dec_cache + m.dec_act;
    r->arena = m.vae_weights + (r->setup > render ? r->setup : render);
    r->context = LAVR_PLAN_CUDA_CONTEXT;
    r->blas = PLAN_BLAS_BYTES;
    r->cudnn = PLAN_VAE_WORKSPACE;
    r->busy_ms = m.dec_flops / lavr_plan_rates_h200.vae_flops * 1e3;
    r->block_ms = r->busy_ms;
    return LAVR_OK;
}

/* The render's pp hand-off over NCCL (parallel/p2p.c lavr_p2p_choose): when the ranks of DiT rank i's pp chain are on
 * distinct GPUs of the node (placement's devices; ranks on other nodes repeat GPU numbers and take host MPI, as the
 * rule does), rank i keeps a point-to-point connection to each pp neighbour. */
static void plan_pp_nccl(const lavr_layout *layout, int num_layers, int i, lavr_plan_rank *per_rank) {
    lavr_role role;
    if (lavr_layout_role(layout, num_layers, i, &role)) return;
    for (int p = 0; p < layout->pp; p++) {
        const int a = lavr_layout_dit_rank(layout, role.stage, p, role.tp_index);
        if (per_rank[a].gpu < 0) return;
        for (int q = p + 1; q < layout->pp; q++)
            if (per_rank[lavr_layout_dit_rank(layout, role.stage, q, role.tp_index)].gpu == per_rank[a].gpu) return;
    }
    const int neighbours = (role.pp_index > 0) + (role.pp_index < layout->pp - 1);
    lavr_plan_rank *r = &per_rank[i];
    r->nccl += (uint64_t)neighbours * PLAN_NCCL_P2P_BYTES / 2;
    r->outside = r->context + r->nccl + r->blas + r->cudnn + r->graphs + r->t5;
    r->total = r->arena + r->outside;
}

lavr_status lavr_plan_layout(const lavr_model_config *cfg, int64_t width, int64_t height, const lavr_layout *layout,
                             const lavr_plan_options *opts, lavr_plan_rank *per_rank) {
    const lavr_dit_config *c = &cfg->dit;
    TRY(lavr_plan_size_check(width, height));
    CHECK_ARG(opts->gpus >= 1, "plan: %d GPUs", opts->gpus);
    TRY(lavr_layout_check(layout, c->num_heads, c->ffn_dim, c->num_layers));
    const int n = lavr_layout_ranks(layout), dit = lavr_layout_dit_ranks(layout);
    /* the devices parallel/placement.c gives the ranks on one node of opts->gpus GPUs */
    const lavr_placement pl = {.backend = "cuda", .aux_backend = opts->aux_on_gpu && !opts->bench ? "cuda" : "cpu",
                               .aux_gpu = opts->aux_gpu};
    int *device = malloc((size_t)n * sizeof *device);
    if (!device) return LAVR_FAIL(LAVR_E_NOMEM, "plan: %d ranks", n);
    lavr_status pst = lavr_place_layout(layout, &pl, opts->gpus, device);
    for (int i = 0; i < n && !pst; i++) per_rank[i].gpu = device[i];
    free(device);
    TRY(pst);
    for (int i = 0; i < n; i++) {
        const int gpu = per_rank[i].gpu;
        lavr_plan_rank *r = &per_rank[i];
        memset(r, 0, sizeof *r);
        lavr_role role;
        TRY(lavr_layout_role(layout, c->num_layers, i, &role));
        lavr_role_name(layout, &role, r->role, sizeof r->role);
        r->is_dit = role.is_dit;
        r->gpu = gpu;
        if (role.is_dit)
            TRY(plan_dit(cfg, width, height, layout, &role, opts, r));
        else if (gpu >= 0) { /* extra aux ranks only take part in the setup broadcast */
            int shared = 0;
            for (int k = 0; k < dit; k++) shared |= per_rank[k].gpu == gpu;
            TRY(plan_aux(cfg, width, height, opts, shared, r));
        }
        r->outside = r->context + r->nccl + r->blas + r->cudnn + r->graphs + r->t5;
        r->total = r->arena + r->outside;
    }
    if (!opts->bench && !opts->alone && opts->pp_nccl && layout->pp > 1)
        for (int i = 0; i < dit; i++) plan_pp_nccl(layout, c->num_layers, i, per_rank);
    /* a stage's block: each owned step runs through the stage's pp chain (the ranks of one tp index) */
    for (int i = 0; i < dit; i++) {
        lavr_role role, other;
        TRY(lavr_layout_role(layout, c->num_layers, i, &role));
        double chain = 0;
        for (int p = 0; p < layout->pp; p++) {
            const int k = lavr_layout_dit_rank(layout, role.stage, p, role.tp_index);
            TRY(lavr_layout_role(layout, c->num_layers, k, &other));
            chain += per_rank[k].step_ms;
        }
        per_rank[i].block_ms = (double)(role.step_end - role.step_begin) * chain;
    }
    return LAVR_OK;
}

uint64_t lavr_plan_gpu_bytes(const lavr_plan_rank *per_rank, int nranks, int gpu) {
    uint64_t sum = 0;
    for (int i = 0; i < nranks; i++)
        if (per_rank[i].gpu == gpu) sum += per_rank[i].total;
    return sum;
}

uint64_t lavr_plan_peak_gpu(const lavr_plan_rank *per_rank, int nranks, int gpus, int *rank_out) {
    uint64_t peak = 0;
    int at = 0;
    for (int gpu = 0; gpu < gpus; gpu++) {
        const uint64_t sum = lavr_plan_gpu_bytes(per_rank, nranks, gpu);
        int first = -1;
        for (int i = 0; i < nranks && first < 0; i++)
            if (per_rank[i].gpu == gpu) first = i;
        if (first >= 0 && sum > peak) {
            peak = sum;
            at = first;
        }
    }
    if (rank_out) *rank_out = at;
    return peak;
}

uint64_t lavr_plan_arena_cap(const lavr_plan_rank *per_rank, int nranks, int rank, uint64_t gpu_mem) {
    if (!gpu_mem) return 0;
    const lavr_plan_rank *r = &per_rank[rank];
    const uint64_t used = lavr_plan_gpu_bytes(per_rank, nranks, r->gpu);
    int sharing = 0;
    for (int i = 0; i < nranks; i++) sharing += per_rank[i].gpu == r->gpu;
    const uint64_t slack = gpu_mem > used ? (gpu_mem - used) / (uint64_t)(sharing ? sharing : 1) : 0;
    return r->arena + slack;
}

double lavr_plan_fps(const lavr_model_config *cfg, const lavr_plan_rank *per_rank, int nranks) {
    double interval = 0;
    for (int i = 0; i < nranks; i++) {
        if (per_rank[i].block_ms > interval) interval = per_rank[i].block_ms;
        if (per_rank[i].gpu < 0) continue;
        double gpu = 0; /* processes sharing a GPU take turns on it */
        for (int k = 0; k < nranks; k++)
            if (per_rank[k].gpu == per_rank[i].gpu) gpu += per_rank[k].busy_ms;
        if (gpu > interval) interval = gpu;
    }
    const double frames = (double)(cfg->dit.frames_per_block * VIDEO_PER_LATENT);
    return interval > 0 ? frames / (interval * 1e-3) : 0;
}

int lavr_plan_candidates(const lavr_model_config *cfg, int gpus, lavr_layout *out, int max) {
    static const int steps[] = {4, 2, 1};
    const lavr_dit_config *c = &cfg->dit;
    int count = 0;
    for (int s = 0; s < 3; s++)
        for (int tp = 1; tp <= gpus; tp++)
            for (int pp = 1; pp <= gpus && pp <= c->num_layers; pp++) {
                /* GPUs left over take the aux rank; with none left it shares the last DiT rank's */
                if (steps[s] * tp * pp > gpus) continue;
                lavr_layout l = {.steps = steps[s], .tp = tp, .pp = pp, .aux = 1};
                if (lavr_layout_check(&l, c->num_heads, c->ffn_dim, c->num_layers)) {
                    lavr_error_clear();
                    continue;
                }
                if (count < max) out[count] = l;
                count++;
            }
    return count;
}

static int choice_before(const lavr_plan_choice *a, const lavr_plan_choice *b) {
    if (a->fits != b->fits) return a->fits;
    if (a->fits) return a->fps > b->fps || (a->fps == b->fps && a->peak < b->peak);
    return a->peak < b->peak;
}

/* Plans `layout` into a choice; LAVR_OK with ch->fits set, or an error (already cleared by the caller). */
static lavr_status plan_choice(const lavr_model_config *cfg, int64_t width, int64_t height, const lavr_layout *layout,
                               const lavr_plan_options *o, lavr_plan_rank *rr, lavr_plan_choice *ch) {
    const int m = lavr_layout_ranks(layout);
    TRY(lavr_plan_layout(cfg, width, height, layout, o, rr));
    *ch = (lavr_plan_choice){.layout = *layout, .fp8 = o->fp8};
    ch->peak = lavr_plan_peak_gpu(rr, m, o->gpus, &ch->peak_rank);
    ch->fps = lavr_plan_fps(cfg, rr, m);
    ch->fits = !o->gpu_mem || ch->peak <= o->gpu_mem;
    return LAVR_OK;
}

/* A layout with pp >= 2 that is over the cap only because another rank (the aux) shares a DiT rank's GPU: moves
 * layers, one at a time, from the pp index on the busiest GPU to whichever other pp index gives the lowest peak,
 * while that lowers it. Returns 1 with *out (an explicit layers= split) when the result fits. */
static int plan_rebalance(const lavr_model_config *cfg, int64_t width, int64_t height, const lavr_plan_choice *even,
                          const lavr_plan_options *o, lavr_plan_rank *rr, lavr_plan_choice *out) {
    const lavr_dit_config *c = &cfg->dit;
    lavr_layout l = even->layout;
    if (l.pp < 2 || l.pp > LAVR_LAYOUT_MAX_SPLIT || !o->gpu_mem) return 0;
    for (int i = 0; i < l.pp; i++) {
        int64_t b, e;
        lavr_layout_layers(c->num_layers, l.pp, i, &b, &e);
        l.layers[i] = (int)(e - b);
    }
    lavr_plan_choice best = *even;
    for (int64_t moves = 0; moves < c->num_layers && !best.fits; moves++) {
        lavr_role role;
        if (lavr_layout_role(&l, c->num_layers, best.peak_rank, &role) || !role.is_dit) break;
        const int from = role.pp_index;
        if (l.layers[from] <= 1) break;
        lavr_plan_choice step = best;
        for (int to = 0; to < l.pp; to++) {
            if (to == from) continue;
            lavr_layout next = l;
            next.layers[from]--, next.layers[to]++;
            lavr_plan_choice ch;
            if (plan_choice(cfg, width, height, &next, o, rr, &ch) == LAVR_OK && ch.peak < step.peak) step = ch;
            lavr_error_clear();
        }
        if (step.peak >= best.peak) break;
        best = step, l = step.layout;
    }
    if (!best.fits) return 0;
    *out = best;
    return 1;
}

/* Inserts ch into out[0..*n) in choice order, keeping at most max. */
static void insert_choice(const lavr_plan_choice *ch, lavr_plan_choice *out, int *n, int max) {
    int at = *n < max ? *n : max;
    while (at > 0 && choice_before(ch, &out[at - 1])) at--;
    if (at >= max) return;
    const int last = *n < max ? *n : max - 1;
    memmove(&out[at + 1], &out[at], (size_t)(last - at) * sizeof *out);
    out[at] = *ch;
    if (*n < max) (*n)++;
}

int lavr_plan_choices(const lavr_model_config *cfg, int64_t width, int64_t height, const lavr_plan_options *opts,
                      int fp8_only, int bf16_only, lavr_plan_choice *out, int max) {
    lavr_layout cand[128];
    int nc = lavr_plan_candidates(cfg, opts->gpus, cand, 128), n = 0;
    if (nc > 128) nc = 128;
    for (int i = 0; i < nc; i++)
        for (int fp8 = 0; fp8 < 2; fp8++) {
            if ((fp8 && bf16_only) || (!fp8 && fp8_only)) continue;
            lavr_plan_options o = *opts;
            o.fp8 = fp8;
            const int m = lavr_layout_ranks(&cand[i]);
            lavr_plan_rank *rr = calloc((size_t)m, sizeof *rr);
            if (!rr) continue;
            lavr_plan_choice ch, split;
            if (plan_choice(cfg, width, height, &cand[i], &o, rr, &ch) == LAVR_OK) {
                insert_choice(&ch, out, &n, max);
                /* over the cap: the same ranks with layers moved off the GPU the aux shares may fit */
                if (!ch.fits && plan_rebalance(cfg, width, height, &ch, &o, rr, &split)) insert_choice(&split, out, &n, max);
            }
            lavr_error_clear();
            free(rr);
        }
    return n;
}

lavr_status lavr_plan_check(const lavr_model_config *cfg, int64_t width, int64_t height, const lavr_layout *layout,
                            const lavr_plan_options *opts) {
    const int n = lavr_layout_ranks(layout);
    lavr_plan_rank *ranks = calloc((size_t)n, sizeof *ranks);
    if (!ranks) return LAVR_FAIL(LAVR_E_NOMEM, "plan: %d rank rows", n);
    lavr_status st = lavr_plan_layout(cfg, width, height, layout, opts, ranks);
    int at = 0;
    const uint64_t need = st ? 0 : lavr_plan_peak_gpu(ranks, n, opts->gpus, &at);
    if (st || !opts->gpu_mem || need <= opts->gpu_mem) {
        free(ranks);
        return st;
    }
    char text[96], need_s[32], cap_s[32], role[32], fits[400] = "";
    lavr_layout_format(layout, text, sizeof text);
    lavr_format_bytes(need, need_s, sizeof need_s);
    lavr_format_bytes(opts->gpu_mem, cap_s, sizeof cap_s);
    snprintf(role, sizeof role, "%s", ranks[at].role);
    const int gpu = ranks[at].gpu;
    int shared = 0;
    for (int i = 0; i < n; i++) shared += i != at && ranks[i].gpu == gpu;
    free(ranks);

    /* what fits instead, fastest first, in the precision asked for (and FP8 as a hint when that is what fits) */
    lavr_plan_choice ch[8];
    int nfit = lavr_plan_choices(cfg, width, height, opts, opts->fp8, !opts->fp8, ch, 8), used = 0, listed = 0;
    for (int k = 0; k < nfit && listed < 3; k++) {
        if (!ch[k].fits) break;
        char t[96];
        lavr_layout_format(&ch[k].layout, t, sizeof t);
        used += snprintf(fits + used, sizeof fits - (size_t)used, "%s%s", listed ? ", " : "", t);
        listed++;
    }
    char where[96];
    snprintf(where, sizeof where, "GPU %d (rank %d, %s%s)", gpu, at, role, shared ? ", with the ranks sharing it" : "");
    if (listed)
        return LAVR_FAIL(LAVR_E_ARG, "layout %s needs %s on %s, the cap is %s; layouts that fit %d GPUs: %s", text,
                         need_s, where, cap_s, opts->gpus, fits);
    if (!opts->fp8) {
        nfit = lavr_plan_choices(cfg, width, height, opts, 1, 0, ch, 1);
        if (nfit && ch[0].fits) {
            char t[96];
            lavr_layout_format(&ch[0].layout, t, sizeof t);
            return LAVR_FAIL(LAVR_E_ARG, "layout %s needs %s on %s, the cap is %s; in bf16 no layout with %d GPUs "
                                         "fits, with --fp8: %s", text, need_s, where, cap_s, opts->gpus, t);
        }
    }
    return LAVR_FAIL(LAVR_E_ARG, "layout %s needs %s on %s, the cap is %s; no layout with %d GPUs fits%s", text,
                     need_s, where, cap_s, opts->gpus, opts->fp8 ? "" : ", even with --fp8");
}
