/* `lavr bench`: the DiT's real stage schedule on GPUs with weights generated on each device (no checkpoint):
 * one MPI rank per GPU, stages pass latents by NCCL send/recv, tp ranks all-reduce; reports ms per block-step
 * per stage, time to first frame, steady-state FPS and each rank's device memory (arena peak, what lives outside
 * it, the whole device) against the planner. --only-rank runs one rank's share of a bigger layout on one GPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/bench_e2e.h"
#include "cli/bench_encoders.h"
#include "cli/bench_vae.h"
#include "cli/commands.h"
#include "core/units.h"
#include "io/size_rule.h"
#include "models/config.h"
#include "parallel/layout.h"
#include "parallel/mpi.h"
#include "parallel/plan.h"

#if LAVR_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dit_kernels.h"
#include "models/dit_cuda.h"
#include "models/sampler.h"
#include "parallel/device.h"
#if LAVR_HAVE_NCCL
#include "parallel/nccl.h"
#endif
#endif

typedef struct {
    lavr_model_config cfg;
    int64_t width, height, blocks, warmup, seed;
    lavr_layout layout;
    uint64_t gpu_mem;
    int fp8, graphs, profile, contiguous;
    int only_rank; /* -1: every rank of the layout; else this rank of it, alone on one GPU */
    const char *attention;
} bench_args;

/* The layout with aux=0 allowed (the bench runs DiT ranks only); any other aux count is refused. */
static lavr_status parse_layout(const char *text, lavr_layout *out) {
    char buf[128], rest[128] = "";
    CHECK_ARG(strlen(text) < sizeof buf, "bench: layout '%s' is too long", text);
    strcpy(buf, text);
    for (char *item = strtok(buf, ","); item; item = strtok(NULL, ",")) {
        if (strncmp(item, "aux=", 4) == 0) {
            CHECK_ARG(strcmp(item, "aux=0") == 0, "bench: layout '%s': the bench runs DiT ranks only, use aux=0", text);
            continue;
        }
        if (rest[0]) strcat(rest, ",");
        strcat(rest, item);
    }
    TRY(lavr_layout_parse(rest[0] ? rest : "steps=4", out));
    out->aux = 0;
    return LAVR_OK;
}

/* The planner's options for the ranks as the bench runs them. */
static lavr_plan_options plan_options(const bench_args *a) {
    lavr_plan_options o = lavr_plan_options_default();
    o.bench = 1;
    o.fp8 = a->fp8;
    o.sink_contiguous = a->contiguous;
    o.gpus = lavr_layout_dit_ranks(&a->layout);
    o.gpu_mem = a->gpu_mem;
    o.alone = a->only_rank >= 0;
    return o;
}

static lavr_status parse(int argc, char **argv, cli_option *opts, int nopts, bench_args *a) {
    TRY(cli_parse("bench", argc, argv, 2, opts, nopts, NULL, 0, NULL));
    if (cli_flag(opts, nopts, "help")) return LAVR_OK;
    TRY(lavr_config_preset(cli_get(opts, nopts, "config", "s2v-14b"), &a->cfg));
    TRY(lavr_size_parse(cli_get(opts, nopts, "size", "704*384"), &a->width, &a->height));
    CHECK_ARG(a->width % 16 == 0 && a->height % 16 == 0 && a->width >= 64 && a->height >= 64,
              "bench: size %lldx%lld must be multiples of 16 and at least 64", (long long)a->width,
              (long long)a->height);
    TRY(parse_layout(cli_get(opts, nopts, "layout", "steps=4,tp=1,pp=1,aux=0"), &a->layout));
    TRY(lavr_layout_check(&a->layout, a->cfg.dit.num_heads, a->cfg.dit.ffn_dim, a->cfg.dit.num_layers));
    TRY(cli_get_int(opts, nopts, "warmup", 1, 0, 1000, &a->warmup));
    TRY(cli_get_int(opts, nopts, "blocks", a->warmup + 3, a->warmup + 2, 100000, &a->blocks));
    TRY(cli_get_int(opts, nopts, "seed", 1, 0, INT64_MAX, &a->seed));
    a->fp8 = cli_flag(opts, nopts, "fp8");
    a->profile = cli_flag(opts, nopts, "profile");
    a->attention = cli_get(opts, nopts, "attention", "auto");
    const char *graphs = cli_get(opts, nopts, "graphs", "on");
    CHECK_ARG(!strcmp(graphs, "on") || !strcmp(graphs, "off"), "bench: --graphs '%s': expected on or off", graphs);
    a->graphs = !strcmp(graphs, "on");
    const char *sink = cli_get(opts, nopts, "sink", "shared");
    CHECK_ARG(!strcmp(sink, "shared") || !strcmp(sink, "contiguous"), "bench: --sink '%s': expected shared or contiguous",
              sink);
    a->contiguous = !strcmp(sink, "contiguous");
    const char *mem = cli_get(opts, nopts, "gpu-mem", NULL);
    a->gpu_mem = 0;
    if (mem) TRY(lavr_parse_bytes(mem, &a->gpu_mem));
    CHECK_ARG(!mem || a->gpu_mem > 0, "bench: --gpu-mem %s: give the memory per GPU (e.g. 22GiB), or leave --gpu-mem "
              "out for the default", mem);
    const int need = lavr_layout_dit_ranks(&a->layout), have = lavr_mpi_world_size();
    int64_t only;
    TRY(cli_get_int(opts, nopts, "only-rank", -1, 0, need - 1, &only));
    a->only_rank = (int)only;
    char text[96];
    lavr_layout_format(&a->layout, text, sizeof text);
    CHECK_ARG(a->layout.pp == 1 || a->only_rank >= 0,
              "bench: layout '%s': pp > 1 (layer ranges) runs one rank at a time (--only-rank R) in the bench", text);
    if (a->only_rank >= 0)
        CHECK_ARG(have == 1, "bench: --only-rank runs one rank's share on one GPU: start it with mpirun -np 1, not %d",
                  have);
    else
        CHECK_ARG(need == have, "bench: layout %s needs %d ranks (one per GPU) but mpirun started %d", text, need, have);
    if (!a->gpu_mem) return LAVR_OK;
    /* the planner's verdict first: over the cap is one message, not an allocation failure per rank */
    lavr_plan_options o = plan_options(a);
    if (a->only_rank < 0) return lavr_plan_check(&a->cfg, a->width, a->height, &a->layout, &o);
    lavr_plan_rank *pr = calloc((size_t)need, sizeof *pr);
    if (!pr) return LAVR_FAIL(LAVR_E_NOMEM, "bench plan");
    lavr_status st = lavr_plan_layout(&a->cfg, a->width, a->height, &a->layout, &o, pr);
    const uint64_t total = st ? 0 : pr[a->only_rank].total;
    char role[32];
    snprintf(role, sizeof role, "%s", pr[a->only_rank].role);
    free(pr);
    TRY(st);
    char need_s[32], cap_s[32];
    lavr_format_bytes(total, need_s, sizeof need_s);
    lavr_format_bytes(a->gpu_mem, cap_s, sizeof cap_s);
    CHECK_ARG(total <= a->gpu_mem, "layout %s needs %s on rank %d (%s) alone on its GPU, the cap is %s", text, need_s,
              a->only_rank, role, cap_s);
    return LAVR_OK;
}

#if LAVR_HAVE_CUDA

enum { R_STEP_MEAN, R_STEP_MIN, R_STEP_MAX, R_PREFILL, R_WEIGHTS, R_PEAK, R_PLAN_ARENA, R_USED, R_TTFF,
       R_BLOCK_MS, R_DEVICE, R_PROF, R_PROF_END = R_PROF + LAVR_PROF_CATEGORIES, R_PROF_CALLS = R_PROF_END,
       R_CUDNN, R_CAP, R_USED_CONTEXT, R_USED_NCCL, R_PLAN_OUTSIDE, R_PLAN_TOTAL, R_PLAN_NCCL, R_PLAN_STEP, R_RANK,
       R_FIELDS };

typedef struct {
    const bench_args *a;
    int rank;             /* the layout's rank this process runs */
    lavr_role role;
    int k;                /* steps of this stage */
    int alone;            /* --only-rank: no peers, the tp collectives are the identity */
    cudaStream_t stream;
    lavr_device_arena *arena;
    lavr_cuda_blas *blas;
    lavr_dit_cuda *g;
    lavr_dit_cuda_cache *cache[LAVR_LAYOUT_DENOISE_STEPS];
    lavr_dit_cuda_act act;
    float *x, *v;
    cudaEvent_t *ev; /* [blocks][k][2] step start/end, then per block end, then start and prefill end */
    void *tp_comm, *pipe_comm; /* lavr_nccl */
} bench_rank;

#if LAVR_HAVE_NCCL
static lavr_status nccl_sum(void *ctx, float *buf, int64_t n, void *stream) {
    return lavr_nccl_allreduce_sum(ctx, buf, n, LAVR_F32, stream);
}
static lavr_status nccl_max(void *ctx, float *buf, int64_t n, void *stream) {
    return lavr_nccl_allreduce_max(ctx, buf, n, LAVR_F32, stream);
}
#endif
/* --only-rank: the rank's share runs without its tp peers; their sums are left out (the values are not looked at,
 * the time of the collectives is not measured) */
static lavr_status alone_reduce(void *ctx, float *buf, int64_t n, void *stream) {
    (void)ctx, (void)buf, (void)n, (void)stream;
    return LAVR_OK;
}

static lavr_status fill(bench_rank *b, float *dev, int64_t n, uint64_t stream_id, float scale, int round) {
    TRY(lavr_cuda_fill_uniform(dev, 0, n, (uint64_t)b->a->seed, stream_id, 0, scale, 0.0f, b->stream));
    return round ? lavr_cuda_round_bf16(dev, n, b->stream) : LAVR_OK;
}

/* the block loop of one rank: receive (or draw) the latent, run the stage's steps, hand it on; a rank without the
 * embeddings (pp > 0, --only-rank) draws its input activation, one without the head skips it */
static lavr_status run_blocks(bench_rank *b, const lavr_sampler *smp) {
    const bench_args *a = b->a;
    const lavr_dit_config *c = &a->cfg.dit;
    const int64_t n_lat = c->in_dim * c->frames_per_block * (a->height / 8) * (a->width / 8), d = c->dim;
    const int S = a->layout.steps, first = b->role.layer_begin == 0, last = b->role.layer_end == c->num_layers;
    const int64_t L = lavr_dit_cuda_geometry(b->g)->block_tokens;
    cudaEvent_t *blk_end = b->ev + a->blocks * b->k * 2;
    for (int64_t n = 0; n < a->blocks; n++) {
        if (a->profile && n == a->warmup) {
            /* the profile covers the measured blocks only */
            double drop[LAVR_PROF_CATEGORIES];
            int64_t calls;
            TRY(lavr_dit_cuda_profile_take(b->g, drop, &calls));
        }
        if (b->role.stage == 0 || b->alone) {
            TRY(fill(b, b->x, n_lat, 0x100000000ull + (uint64_t)n, 1.0f, 1));
        } else {
#if LAVR_HAVE_NCCL
            TRY(lavr_nccl_recv(b->pipe_comm, b->x, n_lat, LAVR_F32, b->rank - a->layout.tp, b->stream));
#endif
        }
        /* the block's audio tokens (the audio encoder is not run by the bench) */
        TRY(fill(b, b->act.a_loc, c->frames_per_block * (c->num_audio_token + 2) * d, 0x200000000ull + (uint64_t)n,
                 1.0f, 1));
        for (int s = 0; s < b->k; s++) {
            const int step = b->role.step_begin + s;
            CUDA_TRY(cudaEventRecord(b->ev[(n * b->k + s) * 2], b->stream));
            if (first) {
                TRY(lavr_dit_cuda_embed_tokens(b->g, b->x, n, 4 + (n + step) % 27, &b->act));
            } else {
                b->act.prefill = 0, b->act.rows = L, b->act.block_index = n, b->act.sink_offset = 4 + (n + step) % 27;
                TRY(fill(b, b->act.x, L * d, 0x500000000ull + (uint64_t)(n * 4 + step), 1.0f, 1));
            }
            /* time embedding e, e0 of the step (the time MLP is not run by the bench) */
            TRY(fill(b, b->act.e, 7 * d, 0x300000000ull + (uint64_t)step, 0.1f, 0));
            TRY(lavr_dit_cuda_forward_layers(b->g, b->cache[s], &b->act));
            if (last) {
                TRY(lavr_dit_cuda_head(b->g, &b->act, b->v));
                TRY(lavr_cuda_euler_step(b->x, b->v, n_lat, smp->sigmas[step + 1] - smp->sigmas[step], b->stream));
            }
            CUDA_TRY(cudaEventRecord(b->ev[(n * b->k + s) * 2 + 1], b->stream));
        }
        if (b->role.stage < S - 1 && !b->alone) {
#if LAVR_HAVE_NCCL
            TRY(lavr_nccl_send(b->pipe_comm, b->x, n_lat, LAVR_F32, b->rank + a->layout.tp, b->stream));
#endif
        }
        CUDA_TRY(cudaEventRecord(blk_end[n], b->stream));
    }
    return LAVR_OK;
}

static lavr_status wait_all(bench_rank *b) {
#if LAVR_HAVE_NCCL
    if (b->pipe_comm) return lavr_nccl_sync(b->pipe_comm, b->stream, 900.0, NULL);
    if (b->tp_comm) return lavr_nccl_sync(b->tp_comm, b->stream, 900.0, NULL);
#endif
    CUDA_TRY(cudaStreamSynchronize(b->stream));
    return LAVR_OK;
}

/* bytes in use on the device (this process and any other on it) */
static lavr_status device_used(double *out) {
    size_t free_b = 0, total_b = 0;
    CUDA_TRY(cudaMemGetInfo(&free_b, &total_b));
    *out = (double)(total_b - free_b);
    return LAVR_OK;
}

static lavr_status run_rank(bench_rank *b, double *res) {
    const bench_args *a = b->a;
    const lavr_dit_config *c = &a->cfg.dit;
    const int64_t lh = a->height / 8, lw = a->width / 8, d = c->dim;
    const int64_t n_lat = c->in_dim * c->frames_per_block * lh * lw;
    lavr_sampler smp;
    TRY(lavr_sampler_init(LAVR_LAYOUT_DENOISE_STEPS, &smp));
    char name[32];
    snprintf(name, sizeof name, "cuda:%d", (int)res[R_DEVICE]);
    TRY(lavr_device_arena_create(name, (size_t)res[R_CAP], &b->arena));
    res[R_CAP] = (double)lavr_device_arena_cap(b->arena);
    TRY(lavr_cuda_blas_create(0, &b->blas));
    lavr_dit_cuda_tp tp = {.rank = b->role.tp_index, .size = a->layout.tp};
    if (b->alone && a->layout.tp > 1)
        tp.allreduce_sum = alone_reduce, tp.allreduce_max = alone_reduce, tp.graph_safe = 1;
#if LAVR_HAVE_NCCL
    else if (a->layout.tp > 1)
        tp.allreduce_sum = nccl_sum, tp.allreduce_max = nccl_max, tp.ctx = b->tp_comm, tp.graph_safe = 1;
#endif
    lavr_dit_cuda_options mo = lavr_dit_cuda_options_default();
    mo.fp8 = a->fp8;
    mo.graphs = a->graphs;
    mo.sink = a->contiguous ? LAVR_DIT_SINK_CONTIGUOUS : LAVR_DIT_SINK_SHARED;
    TRY(lavr_dit_attn_path_parse(a->attention, &mo.attention));
    TRY(lavr_dit_cuda_create_opts(c, &tp, &mo, b->role.layer_begin, b->role.layer_end, lh, lw, b->arena, b->blas,
                                  b->stream, &b->g));
    if (b->rank == 0 || b->alone)
        printf("bench: attention through %s%s\n", lavr_dit_cuda_attention_path(b->g), a->fp8 ? ", FP8 Linears" : "");
    if (a->profile) TRY(lavr_dit_cuda_profile(b->g, 1));
    TRY(lavr_dit_cuda_generate(b->g, (uint64_t)a->seed));
    /* a prompt's worth of context (the T5 encoder is not run by the bench), before the caches as in the render */
    float *ctx = malloc((size_t)(c->text_len * c->text_dim) * sizeof(float));
    if (!ctx) return LAVR_FAIL(LAVR_E_NOMEM, "bench context");
    for (int64_t i = 0; i < c->text_len * c->text_dim; i++) ctx[i] = (float)((i * 2654435761u % 1000) / 500.0 - 1.0);
    lavr_status st = lavr_dit_cuda_set_context(b->g, ctx, c->text_len);
    free(ctx);
    TRY(st);
    for (int s = 0; s < b->k; s++) TRY(lavr_dit_cuda_cache_create(b->g, &b->cache[s]));
    if (b->k > 0) TRY(lavr_dit_cuda_prepare_attention(b->g, b->cache[0])); /* as the render's engine does */
    TRY(lavr_dit_cuda_act_create(b->g, &b->act));
    TRY(lavr_device_arena_alloc(b->arena, (size_t)n_lat * 4, "bench latent", (void **)&b->x));
    TRY(lavr_device_arena_alloc(b->arena, (size_t)n_lat * 4, "bench velocity", (void **)&b->v));
    const int64_t nev = a->blocks * b->k * 2 + a->blocks + 2;
    b->ev = calloc((size_t)nev, sizeof(cudaEvent_t));
    if (!b->ev) return LAVR_FAIL(LAVR_E_NOMEM, "bench events");
    for (int64_t i = 0; i < nev; i++) CUDA_TRY(cudaEventCreate(&b->ev[i]));
    cudaEvent_t *blk_end = b->ev + a->blocks * b->k * 2, *t0 = blk_end + a->blocks, *pre_end = t0 + 1;
    CUDA_TRY(cudaStreamSynchronize(b->stream));

    if (!b->alone) MPI_TRY(MPI_Barrier(MPI_COMM_WORLD));
    CUDA_TRY(cudaEventRecord(*t0, b->stream));
    /* sink prefill: the reference and motion tokens at t = 0 (embeddings drawn, not computed) */
    const lavr_dit_geometry *geo = lavr_dit_cuda_geometry(b->g);
    b->act.prefill = 1, b->act.rows = geo->sink, b->act.block_index = 0, b->act.sink_offset = 0;
    TRY(fill(b, b->act.x, geo->sink * d, 0x400000000ull, 1.0f, 1));
    TRY(fill(b, b->act.e, 7 * d, 0x300000000ull + 99, 0.1f, 0));
    TRY(lavr_dit_cuda_forward_layers(b->g, b->cache[0], &b->act));
    for (int s = 1; s < b->k; s++) TRY(lavr_dit_cuda_cache_copy_sink(b->g, b->cache[s], b->cache[0]));
    CUDA_TRY(cudaEventRecord(*pre_end, b->stream));
    TRY(run_blocks(b, &smp));
    TRY(wait_all(b));

    float ms;
    double sum = 0, mn = 1e30, mx = 0;
    int64_t cnt = 0;
    for (int64_t n = a->warmup; n < a->blocks; n++)
        for (int s = 0; s < b->k; s++) {
            CUDA_TRY(cudaEventElapsedTime(&ms, b->ev[(n * b->k + s) * 2], b->ev[(n * b->k + s) * 2 + 1]));
            sum += ms, cnt++;
            if (ms < mn) mn = ms;
            if (ms > mx) mx = ms;
        }
    res[R_STEP_MEAN] = sum / (double)cnt, res[R_STEP_MIN] = mn, res[R_STEP_MAX] = mx;
    CUDA_TRY(cudaEventElapsedTime(&ms, *t0, *pre_end));
    res[R_PREFILL] = ms;
    CUDA_TRY(cudaEventElapsedTime(&ms, *t0, blk_end[0]));
    res[R_TTFF] = ms;
    CUDA_TRY(cudaEventElapsedTime(&ms, blk_end[a->warmup], blk_end[a->blocks - 1]));
    res[R_BLOCK_MS] = ms / (double)(a->blocks - 1 - a->warmup);
    res[R_WEIGHTS] = (double)lavr_dit_cuda_weight_bytes(b->g);
    res[R_PEAK] = (double)lavr_device_arena_peak(b->arena);
    res[R_CUDNN] = (double)lavr_dit_cuda_outside_bytes(b->g);
    if (a->profile) {
        double ms_cat[LAVR_PROF_CATEGORIES];
        int64_t calls = 0;
        TRY(lavr_dit_cuda_profile_take(b->g, ms_cat, &calls));
        const double steps = (double)((a->blocks - a->warmup) * b->k);
        for (int i = 0; i < LAVR_PROF_CATEGORIES; i++) res[R_PROF + i] = ms_cat[i] / steps;
        res[R_PROF_CALLS] = (double)calls / steps;
    }
    return device_used(&res[R_USED]);
}

static void rank_cleanup(bench_rank *b) {
    if (b->ev) {
        const int64_t nev = b->a->blocks * b->k * 2 + b->a->blocks + 2;
        for (int64_t i = 0; i < nev; i++)
            if (b->ev[i]) cudaEventDestroy(b->ev[i]);
        free(b->ev);
    }
    for (int s = 0; s < b->k; s++)
        if (b->g) lavr_dit_cuda_cache_destroy(b->g, b->cache[s]);
    lavr_dit_cuda_destroy(b->g);
    lavr_cuda_blas_destroy(b->blas);
    lavr_device_arena_destroy(b->arena);
#if LAVR_HAVE_NCCL
    lavr_nccl_destroy(b->tp_comm);
    lavr_nccl_destroy(b->pipe_comm);
#endif
    if (b->stream) cudaStreamDestroy(b->stream);
}

static double gib(double b) { return b / (double)(1ull << 30); }

static void report(const bench_args *a, const double *all, int ranks) {
    const lavr_dit_config *c = &a->cfg.dit;
    char text[96], cap[32] = "free memory - 1 GiB";
    lavr_layout_format(&a->layout, text, sizeof text);
    if (a->gpu_mem) lavr_format_bytes(a->gpu_mem, cap, sizeof cap);
    lavr_dit_geometry g;
    (void)lavr_dit_geometry_of(c, a->height / 8, a->width / 8, &g);
    char only[48] = "";
    if (a->only_rank >= 0) snprintf(only, sizeof only, ", only rank %d (alone on one GPU)", a->only_rank);
    printf("bench: %s at %lldx%lld (latent %lldx%lld: block %lld tokens, window %lld, sink %lld), layout %s%s, "
           "%d rank%s, %lld blocks (%lld warm-up), device cap %s, weights generated on the devices (seed %lld)\n",
           a->cfg.preset, (long long)a->width, (long long)a->height, (long long)a->width / 8, (long long)a->height / 8,
           (long long)g.block_tokens, (long long)g.window, (long long)g.sink, text, only, ranks, ranks == 1 ? "" : "s",
           (long long)a->blocks, (long long)a->warmup, cap, (long long)a->seed);
    printf("%4s %5s %3s %6s %6s %9s %8s %8s %8s %8s %9s %9s %7s %8s %8s %8s %8s %7s\n", "rank", "stage", "tp",
           "device", "steps", "ms/step", "plan", "min", "max", "prefill", "weights", "arena-pk", "plan", "outside",
           "plan", "dev-need", "plan", "ratio");
    for (int r = 0; r < ranks; r++) {
        const double *x = all + r * R_FIELDS;
        const int rank = (int)x[R_RANK], k = LAVR_LAYOUT_DENOISE_STEPS / a->layout.steps;
        const int stage = rank / (a->layout.tp * a->layout.pp);
        char steps[32];
        snprintf(steps, sizeof steps, "%d-%d", stage * k, stage * k + k - 1);
        /* outside the arena: what the device holds beyond the arena's reservation */
        const double outside = x[R_USED] - x[R_CAP], need = x[R_PEAK] + outside;
        printf("%4d %5d %3d %6d %6s %9.2f %8.2f %8.2f %8.2f %8.1f %8.2fG %8.2fG %6.2fG %7.2fG %7.2fG %7.2fG %7.2fG "
               "%7.3f\n",
               rank, stage, rank % a->layout.tp, (int)x[R_DEVICE], steps, x[R_STEP_MEAN], x[R_PLAN_STEP],
               x[R_STEP_MIN], x[R_STEP_MAX], x[R_PREFILL], gib(x[R_WEIGHTS]), gib(x[R_PEAK]), gib(x[R_PLAN_ARENA]),
               gib(outside), gib(x[R_PLAN_OUTSIDE]), gib(need), gib(x[R_PLAN_TOTAL]), need / x[R_PLAN_TOTAL]);
    }
    printf("outside the arena, measured (cudaMemGetInfo): CUDA context");
    for (int r = 0; r < ranks; r++) printf(" %.0f", (all[r * R_FIELDS + R_USED_CONTEXT]) / 1048576.0);
    printf(" MiB; NCCL");
    for (int r = 0; r < ranks; r++)
        printf(" %.0f (plan %.0f)", all[r * R_FIELDS + R_USED_NCCL] / 1048576.0, all[r * R_FIELDS + R_PLAN_NCCL] / 1048576.0);
    printf(" MiB; cuDNN SDPA workspace");
    for (int r = 0; r < ranks; r++) printf(" %.1f", all[r * R_FIELDS + R_CUDNN] / 1048576.0);
    printf(" MiB\n");
    const double *last = a->only_rank >= 0 ? all : all + (ranks - a->layout.tp) * R_FIELDS;
    const double frames = 4.0 * (double)c->frames_per_block;
    printf("time to first frame: %.1f ms (sink prefill + block 0 through %d stage%s)\n", last[R_TTFF],
           a->only_rank >= 0 ? 1 : a->layout.steps, a->only_rank >= 0 || a->layout.steps == 1 ? "" : "s");
    printf("steady state: %.1f ms per block at the last stage -> %.2f FPS (%.0f frames per block)%s\n",
           last[R_BLOCK_MS], frames * 1000.0 / last[R_BLOCK_MS], frames,
           a->only_rank >= 0 ? " of this rank's share alone (no tp or pp peers: their collectives and hand-offs are "
                               "not timed)" : "");
    printf("plan: the planner's numbers for the rank as run here (parallel/plan.h, bench mode%s); arena-pk: the arena's "
           "high-water mark; outside: device in use minus the arena's reservation (CUDA context, NCCL, cuBLASLt, "
           "cuDNN, CUDA graphs); dev-need = arena-pk + outside, the whole device the rank needs; ratio = dev-need / "
           "plan\n", a->only_rank >= 0 ? ", alone: no NCCL" : "");
    if (!a->profile) return;
    static const char *names[LAVR_PROF_CATEGORIES] = {"self-attn", "text-attn", "audio-attn", "GEMM", "norm/elem",
                                                      "FP8-quant", "comm", "other"};
    printf("profile (ms per block-step inside the layers, CUDA events around each op, graphs off):\n");
    printf("%4s", "rank");
    for (int i = 0; i < LAVR_PROF_CATEGORIES; i++) printf(" %10s", names[i]);
    printf(" %10s %10s %9s\n", "sum", "ms/step", "ops/step");
    for (int r = 0; r < ranks; r++) {
        const double *x = all + r * R_FIELDS;
        double sum = 0;
        printf("%4d", (int)x[R_RANK]);
        for (int i = 0; i < LAVR_PROF_CATEGORIES; i++) printf(" %10.2f", x[R_PROF + i]), sum += x[R_PROF + i];
        printf(" %10.2f %10.2f %9.0f\n", sum, x[R_STEP_MEAN], x[R_PROF_CALLS]);
    }
}

/* The planner's numbers for the rank as the bench runs it, and its arena cap under --gpu-mem. */
static lavr_status plan_rank(const bench_args *a, int rank, double *res) {
    lavr_plan_options o = plan_options(a);
    const int n = lavr_layout_dit_ranks(&a->layout);
    lavr_plan_rank *pr = calloc((size_t)n, sizeof *pr);
    if (!pr) return LAVR_FAIL(LAVR_E_NOMEM, "bench plan");
    lavr_status st = lavr_plan_layout(&a->cfg, a->width, a->height, &a->layout, &o, pr);
    if (!st) {
        const lavr_plan_rank *r = &pr[rank];
        res[R_PLAN_ARENA] = (double)r->arena;
        res[R_PLAN_OUTSIDE] = (double)r->outside;
        res[R_PLAN_TOTAL] = (double)r->total;
        res[R_PLAN_NCCL] = (double)r->nccl;
        res[R_PLAN_STEP] = r->step_ms;
        res[R_CAP] = (double)lavr_plan_arena_cap(pr, n, rank, a->gpu_mem);
    }
    free(pr);
    return st;
}

static lavr_status run(const bench_args *a) {
    if (lavr_device_count() < 1) return LAVR_FAIL(LAVR_E_UNSUPPORTED, "bench: no CUDA device is visible");
    bench_rank b;
    memset(&b, 0, sizeof b);
    b.a = a;
    b.alone = a->only_rank >= 0;
    b.rank = b.alone ? a->only_rank : lavr_mpi_world_rank();
    TRY(lavr_layout_role(&a->layout, a->cfg.dit.num_layers, b.rank, &b.role));
    b.k = b.role.step_end - b.role.step_begin;
    const int ranks = lavr_mpi_world_size();
    MPI_Comm node, tpc;
    int local = 0;
    MPI_TRY(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, b.rank, MPI_INFO_NULL, &node));
    MPI_TRY(MPI_Comm_rank(node, &local));
    MPI_TRY(MPI_Comm_free(&node));
    const int device = local % lavr_device_count();
    MPI_TRY(MPI_Comm_split(MPI_COMM_WORLD, b.role.stage, b.rank, &tpc));
    double res[R_FIELDS] = {0};
    res[R_DEVICE] = device;
    res[R_RANK] = b.rank;
    lavr_status st = plan_rank(a, b.rank, res);
    if (!st && cudaSetDevice(device) != cudaSuccess) st = LAVR_FAIL(LAVR_E_CUDA, "bench: cannot use cuda:%d", device);
    if (!st && cudaFree(0) != cudaSuccess) st = LAVR_FAIL(LAVR_E_CUDA, "bench: no CUDA context on cuda:%d", device);
    if (!st) st = device_used(&res[R_USED_CONTEXT]);
#if LAVR_HAVE_NCCL
    if (!st && !b.alone && a->layout.tp > 1) st = lavr_nccl_create(tpc, device, 120.0, (lavr_nccl **)&b.tp_comm);
    if (!st && !b.alone && a->layout.steps > 1)
        st = lavr_nccl_create(MPI_COMM_WORLD, device, 120.0, (lavr_nccl **)&b.pipe_comm);
#else
    if (!st && ranks > 1) st = LAVR_FAIL(LAVR_E_UNSUPPORTED, "bench: more than one rank needs a build with NCCL");
#endif
    if (!st && !device_used(&res[R_USED_NCCL])) res[R_USED_NCCL] -= res[R_USED_CONTEXT];
    if (!st && cudaStreamCreateWithFlags(&b.stream, cudaStreamNonBlocking) != cudaSuccess)
        st = LAVR_FAIL(LAVR_E_CUDA, "bench: cannot create a stream");
    if (!st) st = run_rank(&b, res);
    rank_cleanup(&b);
    MPI_Comm_free(&tpc);
    TRY(st);
    double *all = lavr_mpi_world_rank() == 0 ? calloc((size_t)(ranks * R_FIELDS), sizeof(double)) : NULL;
    if (lavr_mpi_world_rank() == 0 && !all) return LAVR_FAIL(LAVR_E_NOMEM, "bench results");
    MPI_TRY(MPI_Gather(res, R_FIELDS, MPI_DOUBLE, all, R_FIELDS, MPI_DOUBLE, 0, MPI_COMM_WORLD));
    if (lavr_mpi_world_rank() == 0) report(a, all, ranks);
    free(all);
    return LAVR_OK;
}
#endif

lavr_status lavr_cmd_bench(int argc, char **argv) {
    cli_option opts[] = {
        {"config", "PRESET", "model preset: s2v-14b (default) or tiny", NULL},
        {"size", "W*H", "video size W*H in pixels, multiples of 16 (default 704*384)", NULL},
        {"layout", "LAYOUT", "steps=S,tp=T,pp=P,aux=0: one MPI rank per GPU, S*T ranks (default steps=4,tp=1); pp > 1 with "
                      "--only-rank", NULL},
        {"blocks", "N", "blocks to run (default warm-up + 3, at least warm-up + 2)", NULL},
        {"warmup", "N", "leading blocks left out of the averages (default 1)", NULL},
        {"gpu-mem", "BYTES", "memory per GPU, the whole device, e.g. 22GiB: the arena gets it less the planned bytes outside "
                       "it (default: free memory minus 1 GiB)", NULL},
        {"seed", "N", "seed of the generated weights and inputs (default 1)", NULL},
        {"fp8", 0, "FP8 e4m3 Linears with per-tensor scales (LiveAvatar's --fp8)", NULL},
        {"attention", "auto|cudnn|own", "auto (cuDNN fused SDPA when available, default), cudnn or own (lavr's kernel)", NULL},
        {"graphs", "on|off", "on (default): replay each block-step as a CUDA graph; off", NULL},
        {"sink", "shared|contiguous", "shared (default: one sink K/V per rank) or contiguous (window and sink in one attention call)", NULL},
        {"profile", 0, "time every op with CUDA events and print ms per op type per block-step (graphs off)", NULL},
        {"only-rank", "R", "run rank R's share of the layout alone on one GPU (mpirun -np 1): its memory and compute, "
                         "without its peers' collectives", NULL},
        {"help", 0, "print this help", NULL},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--vae")) return lavr_bench_vae(argc, argv); /* one process, no MPI */
        else if (!strcmp(argv[i], "--e2e")) return lavr_bench_e2e(argc, argv); /* the whole render */
        else if (!strcmp(argv[i], "--encoders")) return lavr_bench_encoders(argc, argv);
    TRY(lavr_mpi_start(&argc, &argv));
    bench_args a;
    memset(&a, 0, sizeof a);
    TRY_COLLECTIVE(parse(argc, argv, opts, nopts, &a));
    if (cli_flag(opts, nopts, "help")) {
        if (lavr_mpi_world_rank() == 0)
            cli_print_help("usage: mpirun -np S*T lavr bench [--config s2v-14b] [--size 704*384]\n"
                           "           --layout steps=S,tp=T,pp=P,aux=0 [--blocks N] [--warmup W] [--gpu-mem 22GiB]\n"
                           "           [--fp8] [--attention auto|cudnn|own] [--graphs on|off] [--sink shared|contiguous]\n"
                           "           [--profile] [--only-rank R]",
                           "Runs the DiT stage pipeline on GPUs with weights generated on each device and reports ms\n"
                           "per block-step per stage, time to first frame, FPS and peak device memory per rank.\n"
                           "lavr bench --vae [--help]: the VAE's encodes and streaming decode on one GPU.\n"
                           "lavr bench --e2e [--help]: the whole render (every role) with generated weights.\n"
                           "lavr bench --encoders [--help]: the prompt encode (umT5) on one GPU.",
                           opts, nopts);
        return lavr_mpi_finish();
    }
#if LAVR_HAVE_CUDA
    TRY(run(&a));
    return lavr_mpi_finish();
#else
    TRY_COLLECTIVE(LAVR_FAIL(LAVR_E_UNSUPPORTED, "bench: this build has no CUDA backend (configure with LAVR_CUDA=ON)"));
    return LAVR_OK;
#endif
}
