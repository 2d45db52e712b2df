/* One render as every rank runs it, after the command's own checks: the planner's verdict and arena shares, the
 * roles placed on their devices, each rank's backend, then its role (ranks/dit_stage.h, ranks/aux_worker.h).
 * `lavr render` (a model file) and `lavr bench --e2e` (a generated model, with measurements) both run it. */
#ifndef LAVR_RANKS_RENDER_JOB_H
#define LAVR_RANKS_RENDER_JOB_H

#include <stdint.h>

#include "core/status.h"
#include "models/config.h"
#include "models/generated_model.h"
#include "parallel/layout.h"
#include "parallel/mpi.h"
#include "parallel/placement.h"
#include "parallel/plan.h"
#include "ranks/aux_worker.h"

typedef struct {
    const char *model;                     /* model file; NULL with generated */
    const lavr_generated_model *generated; /* weights made on the fly instead (bench --e2e) */
    const char *image, *audio, *prompt, *size, *out;
    const char *stage;                     /* stage directory; NULL: no staging, no checkpoints, no resume */
    lavr_layout layout;
    lavr_placement placement;              /* backends of both roles and --aux-gpu */
    const char *backend, *attention;
    int fp8;
    int conv_tune;                         /* --conv-tune: cuDNN engines timed per convolution shape in the aux's
                                            * context (1: the heuristics' first; 0: LAVR_CONV_TUNE_DEFAULT) */
    int keep_tail;                         /* --keep-tail: whole clips (default: the video ends with the speech) */
    int t5;                                /* umT5 of an aux rank on a GPU: 1 there, 0 on the host, LAVR_PLAN_T5_AUTO:
                                            * there when no DiT rank shares that GPU (as the planner counts it) */
    uint64_t gpu_mem;                      /* --gpu-mem, 0: none */
    uint64_t arena_cap;                    /* set by lavr_render_job_plan: this rank's arena share (DiT: its arena;
                                            * aux: its VAE context's), 0: no cap */
    int64_t num_clip, seed, sink_offset;
    lavr_resume_mode resume;
    lavr_ckpt_policy policy;
    int progress_live;
    int fail_rank;                         /* LAVR_FAIL_AT (a testing aid); -1: none */
    int64_t fail_block;
    int fail_in_forward;                   /* LAVR_FAIL_AT ...,at=forward (DiT ranks) */
    lavr_aux_stats *stats;                 /* optional: the working aux rank's measurements */
    const char *summary_path, *trace_path; /* --summary-json, --trace (NULL: none) */
    const char *layout_text;               /* as given, for the summary of a failure before the roles exist */
    double start_s;                        /* CLOCK_MONOTONIC at the command's start */
} lavr_render_job;

/* The planner's options for the job as placed on this machine (collective: every rank calls it). */
lavr_status lavr_render_job_plan_options(const lavr_render_job *j, const lavr_model_config *cfg,
                                         lavr_plan_options *out);
/* The planner's verdict before any weight loads (CUDA with --gpu-mem) and this rank's arena share (collective). */
/* Without --gpu-mem on a machine with GPUs (and a backend other than cpu), sets gpu_mem to the card's memory less
 * 2 GiB for the driver and the estimates outside the arenas, so that lavr_render_job_plan gives every rank sharing
 * a GPU its planned share and none takes the others' (a DiT arena of "free memory less 1 GiB" beside an aux
 * starting at the same time left one of them without memory). Returns 1 when it did. */
int lavr_render_job_default_gpu_mem(lavr_render_job *j);
lavr_status lavr_render_job_plan(lavr_render_job *j, const lavr_model_config *cfg);
/* On a failure st, the --summary-json of what this rank knows (returns st): the failing rank writes it (rank 0 when
 * every rank has the failure, such as a bad input); roles NULL before they exist; `reported`: the aux rank's role
 * already wrote its own. */
lavr_status lavr_render_job_ended(const lavr_render_job *j, const lavr_roles *roles, int reported, lavr_status st);
/* Places the roles, resolves every rank's backend (agreed by all before any weight loads) and runs this rank's
 * role (collective); then --trace (every rank's slices, written by the aux rank) and a failure's --summary-json.
 * LAVR_E_STOPPED when the render stopped after a checkpoint. */
lavr_status lavr_render_job_run(const lavr_render_job *j, const lavr_model_config *cfg);

#endif
