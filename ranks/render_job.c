/* One render's roles (ranks/render_job.h): the planner's verdict and this rank's arena share, placement and
 * backends agreed by every rank, then the DiT stage, the working aux rank or an idle aux rank. */
#include "ranks/render_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/signals.h"
#include "io/size_rule.h"
#include "kernels/ctx.h"
#include "parallel/comm.h"
#include "parallel/device.h"
#include "parallel/mpi.h"
#include "parallel/p2p.h"
#include "ranks/dit_stage.h"
#include "ranks/progress.h"
#include "ranks/setup.h"
#include "ranks/summary.h"
#include "ranks/trace_file.h"

/* GPUs of the job: this node's devices times the nodes (every node alike); with no device visible, one GPU per
 * DiT rank (the layout's own assumption, so the verdict is the same on a machine without GPUs). Collective. */
static lavr_status job_gpus(const lavr_layout *layout, int *gpus) {
    MPI_Comm node;
    int local = 0, nodes = 1, first = 0;
    MPI_TRY(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
    MPI_TRY(MPI_Comm_rank(node, &local));
    MPI_TRY(MPI_Comm_free(&node));
    first = local == 0;
    MPI_TRY(MPI_Allreduce(&first, &nodes, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
    const int devices = lavr_device_count();
    *gpus = devices > 0 ? devices * nodes : lavr_layout_dit_ranks(layout);
    return LAVR_OK;
}

lavr_status lavr_render_job_plan_options(const lavr_render_job *j, const lavr_model_config *cfg,
                                         lavr_plan_options *out) {
    lavr_plan_options o = lavr_plan_options_default();
    TRY(job_gpus(&j->layout, &o.gpus));
    o.gpu_mem = j->gpu_mem;
    o.fp8 = j->fp8;
    /* the aux on its GPU as placement puts it (--aux-backend, --aux-gpu); a model file without the encoders (a
     * DiT-only file) leaves the aux only what it has */
    o.aux_gpu = j->placement.aux_gpu;
    o.aux_on_gpu = cfg->vae.dim > 0 && lavr_backend_wants_device(lavr_placement_aux_backend(&j->placement), o.gpus);
    o.w2v_on_gpu = o.aux_on_gpu && cfg->w2v.hidden > 0;
    o.t5_on_gpu = o.aux_on_gpu && cfg->t5.dim > 0 ? j->t5 : 0;
    o.pp_nccl = LAVR_HAVE_NCCL && lavr_p2p_setting(getenv("LAVR_P2P")) == LAVR_P2P_SETTING_AUTO;
    *out = o;
    return LAVR_OK;
}

#define DEFAULT_CAP_MARGIN ((uint64_t)2 << 30)

int lavr_render_job_default_gpu_mem(lavr_render_job *j) {
    if (j->gpu_mem || strcmp(j->backend, "cpu") == 0 || lavr_device_count() == 0) return 0;
    const uint64_t total = lavr_device_total_memory(0);
    j->gpu_mem = total > 2 * DEFAULT_CAP_MARGIN ? total - DEFAULT_CAP_MARGIN : total;
    return 1;
}

/* The size is the --size box, the largest area the size rule can pick for any portrait. */
lavr_status lavr_render_job_plan(lavr_render_job *j, const lavr_model_config *cfg) {
    j->arena_cap = 0;
    if (strcmp(j->backend, "cpu") == 0 || j->gpu_mem == 0) return LAVR_OK;
    int64_t w = 0, h = 0;
    TRY(lavr_size_parse(j->size, &w, &h));
    lavr_plan_options o;
    TRY(lavr_render_job_plan_options(j, cfg, &o));
    const int64_t pw = w / 16 * 16, ph = h / 16 * 16;
    TRY(lavr_plan_check(cfg, pw, ph, &j->layout, &o));
    const int n = lavr_layout_ranks(&j->layout), rank = lavr_mpi_world_rank();
    if (rank >= n) return LAVR_OK; /* a wrong rank count fails when the roles are made */
    lavr_plan_rank *ranks = calloc((size_t)n, sizeof *ranks);
    if (!ranks) return LAVR_FAIL(LAVR_E_NOMEM, "plan: %d rank rows", n);
    lavr_status st = lavr_plan_layout(cfg, pw, ph, &j->layout, &o, ranks);
    if (!st) j->arena_cap = lavr_plan_arena_cap(ranks, n, rank, j->gpu_mem);
    free(ranks);
    return st;
}

/* The backend this rank computes on, from its option and the device placement gave it. */
static lavr_status resolve_backend(const lavr_render_job *j, const lavr_roles *roles, lavr_backend *out) {
    *out = LAVR_BACKEND_CPU;
    if (roles->role.is_dit) return lavr_backend_resolve(j->backend, roles->device, out);
    if (roles->role.aux_index > 0) return LAVR_OK; /* an idle aux rank computes nothing */
    const char *text = lavr_placement_aux_backend(&j->placement);
    CHECK_ARG(strcmp(text, "cuda") != 0 || roles->device >= 0,
              "--%s cuda: the aux rank (rank %d on %s) sees no CUDA device%s", j->placement.aux_backend ? "aux-backend"
              : "backend", roles->world_rank, roles->host, j->placement.aux_backend ? "" : " (--aux-backend cpu keeps "
              "the aux on the host)");
    return lavr_backend_resolve(text, roles->device, out);
}

/* --t5 for the aux rank on a GPU: gpu, host, or auto: the GPU when placement gave the aux one that no DiT rank of
 * its node computes on (as the planner counts it, parallel/plan.h). A GPU shared with a DiT rank gets a note on how
 * the two processes share it: through MPS, or time-sliced by the GPU, which costs the DiT more than the decode's
 * own time (docs/aux.md). */
static lavr_status t5_on_aux_gpu(const lavr_render_job *j, const lavr_roles *roles, int *out) {
    int devices = 0, gpu = -1, shared_with = -1;
    TRY(lavr_node_devices(&devices));
    TRY(lavr_place_aux_gpu(&roles->layout, &j->placement, devices, &gpu, &shared_with));
    if (gpu >= 0 && shared_with >= 0) {
        char device[16];
        lavr_device_name(gpu, device, sizeof device);
        if (lavr_device_mps(gpu))
            LOG_INFO("the aux rank shares %s with DiT rank %d through MPS", device, shared_with);
        else
            LOG_INFO("the aux rank shares %s with DiT rank %d without MPS: the GPU time-slices the two processes; "
                     "start nvidia-cuda-mps-control -d before mpirun for finer sharing (docs/aux.md)", device,
                     shared_with);
    }
    *out = j->t5 == LAVR_PLAN_T5_AUTO ? gpu >= 0 && shared_with < 0 : j->t5 == 1;
    return LAVR_OK;
}

/* *reports: set when the role writes the --summary-json of its own failure (the aux rank) */
static lavr_status run_role(const lavr_render_job *j, const lavr_roles *roles, lavr_comm *comm, int *reports) {
    lavr_stream_options stream = {.seed = (uint64_t)j->seed, .fixed_sink_offset = j->sink_offset};
    int64_t fail_block = roles->world_rank == j->fail_rank ? j->fail_block : -1;
    lavr_backend backend;
    TRY(resolve_backend(j, roles, &backend));
    if (roles->role.is_dit) {
        lavr_dit_stage_options o = {.model_path = j->model, .generated = j->generated, .stage_dir = j->stage,
                                    .backend = backend, .gpu_mem_bytes = j->arena_cap, .fp8 = j->fp8,
                                    .attention = j->attention, .stream = stream, .fail_block = fail_block,
                                    .fail_in_forward = j->fail_in_forward};
        return lavr_dit_stage_run(comm, roles, &o);
    }
    if (roles->role.aux_index == 0) {
        char layout[96];
        lavr_layout_format(&roles->layout, layout, sizeof layout);
        lavr_aux_options o = {.model_path = j->model, .generated = j->generated, .image_path = j->image,
                              .audio_path = j->audio, .prompt = j->prompt, .size = j->size, .out_path = j->out,
                              .stage_dir = j->stage, .resume = j->resume, .policy = j->policy,
                              .max_clips = j->num_clip, .keep_tail = j->keep_tail, .stream = stream, .layout_text = layout, .fp8 = j->fp8,
                              .progress_live = j->progress_live, .summary_path = j->summary_path,
                              .fail_block = fail_block, .backend = backend, .device = roles->device,
                              .stats = j->stats};
        /* the VAE (portrait encode, streaming decode) and wav2vec2 on the aux rank's GPU when its backend is cuda,
         * umT5 there too as --t5 says */
        lavr_status st = LAVR_OK;
        if (backend == LAVR_BACKEND_CUDA) st = t5_on_aux_gpu(j, roles, &o.t5_on_gpu);
        if (!st && backend == LAVR_BACKEND_CUDA) {
            /* under --gpu-mem the VAE's arena is the aux's planned share of its GPU (else the 6 GiB default) */
            lavr_ctx_cuda_options co = {.device = roles->device, .mem_cap = j->arena_cap, .name = "aux vae",
                                        .conv_tune = j->conv_tune ? j->conv_tune : LAVR_CONV_TUNE_DEFAULT};
            st = lavr_ctx_create_cuda(&co, &o.vae_ctx);
        }
        *reports = !st;
        if (!st) st = lavr_aux_run(comm, roles, &o);
        lavr_ctx_destroy(o.vae_ctx);
        return st;
    }
    /* an extra aux rank: nothing to compute; it takes part in the setup broadcast and the end only */
    lavr_render_setup setup;
    const int aux_rank = lavr_layout_dit_ranks(&roles->layout);
    lavr_status st = lavr_mpi_agree(LAVR_OK); /* the other ranks' verdict before the setup (ranks/dit_stage.c) */
    if (!st) st = lavr_setup_bcast(comm, aux_rank, &setup);
    lavr_setup_free(&setup);
    int64_t stopped_at = -1;
    if (!st) st = lavr_setup_end(comm, aux_rank, &stopped_at);
    if (!st) st = lavr_mpi_agree(LAVR_OK); /* and after the end (the aux rank's fault) */
    st = lavr_comm_end_fault(comm, st, roles->role_name); /* a fault of another rank during the render */
    if (!st && stopped_at >= 0) st = lavr_error_set(LAVR_E_STOPPED, __FILE__, __LINE__, "stopped after a checkpoint");
    return st;
}

lavr_status lavr_render_job_ended(const lavr_render_job *j, const lavr_roles *roles, int reported, lavr_status st) {
    if (!st || st == LAVR_E_STOPPED || !j->summary_path || reported) return st;
    if (lavr_mpi_failure_is_collective() && lavr_mpi_world_rank() != 0) return st;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    lavr_rank_stats me = {.rank = lavr_mpi_world_rank(), .peak_kb = lavr_progress_peak_rss_kb(), .busy_s = -1};
    snprintf(me.role, sizeof me.role, "%s", roles ? roles->role_name : "(before the roles were made)");
    lavr_render_summary s = {.writer_rank = me.rank, .out_path = j->out, .layout = j->layout_text, .frames = -1,
                             .frames_this_run = -1, .blocks_done = -1, .blocks = -1, .fps = 25,
                             .wall_s = (double)now.tv_sec + 1e-9 * (double)now.tv_nsec - j->start_s,
                             .ranks = &me, .nranks = 1};
    return lavr_render_summary_write_failed(j->summary_path, st, &s);
}

/* --trace: every rank's slices to the aux rank, which writes the file (collective). A render that stopped keeps
 * its status unless the trace fails. */
static lavr_status write_trace(const lavr_render_job *j, const lavr_roles *roles, lavr_status st) {
    if (!j->trace_path || (st && st != LAVR_E_STOPPED)) return st;
    lavr_status t = lavr_trace_write(j->trace_path, lavr_layout_dit_ranks(&roles->layout), roles->role_name);
    return t ? t : st;
}

lavr_status lavr_render_job_run(const lavr_render_job *j, const lavr_model_config *cfg) {
    const lavr_dit_config *dit = &cfg->dit;
    lavr_roles *roles = NULL;
    TRY(lavr_render_job_ended(j, NULL, 0,
                              lavr_mpi_roles_create(&j->layout, dit->num_heads, dit->ffn_dim, dit->num_layers, &roles)));
    lavr_comm *comm = NULL;
    lavr_backend backend;
    lavr_status st = lavr_mpi_roles_place(roles, &j->placement);
    if (!st) st = lavr_mpi_agree(resolve_backend(j, roles, &backend)); /* every rank's device, before any weight */
    if (!st) st = lavr_signals_install();
    if (!st) st = lavr_comm_world(&comm);
    int reported = 0;
    if (!st) st = run_role(j, roles, comm, &reported);
    if (lavr_comm_fault_ended(comm)) reported = 1; /* the aux rank wrote the --summary-json of the fault */
    st = lavr_render_job_ended(j, roles, reported, write_trace(j, roles, st));
    lavr_comm_destroy(comm);
    lavr_mpi_roles_destroy(roles);
    lavr_signals_restore();
    if (st == LAVR_E_STOPPED) lavr_mpi_mark_collective_failure(); /* every rank stops alike; rank 0 says so */
    return st;
}
