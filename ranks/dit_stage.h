/* The DiT role of a render: one rank of stage s (denoising steps [4s/S, 4(s+1)/S)), pp index p and
 * tp index t. It loads its shard of the weights into its engine (CPU or CUDA), takes the setup
 * broadcast, prefills its step caches' sink (or restores them from a checkpoint) and then runs its
 * steps on every block that comes down the pipeline (parallel/schedule.h), writing its checkpoint
 * part and stopping when a block's flags say so. */
#ifndef LAVR_RANKS_DIT_STAGE_H
#define LAVR_RANKS_DIT_STAGE_H

#include <stdint.h>

#include "core/status.h"
#include "io/checkpoint.h"
#include "models/streaming.h"
#include "parallel/comm.h"
#include "parallel/mpi.h"
#include "ranks/dit_engine.h"

typedef struct {
    const char *model_path;
    const lavr_generated_model *generated; /* set: weights made on the fly instead of read (ranks/dit_engine.h) */
    const char *stage_dir;      /* checkpoints: <stage_dir>/ckpt-<blocks>/rank-<world rank>.h5 */
    lavr_backend backend;
    uint64_t gpu_mem_bytes;     /* CUDA arena cap (0: the card's memory) */
    int fp8;                    /* CUDA: FP8 e4m3 Linears (--fp8) */
    const char *attention;      /* CUDA: attention path "auto", "cudnn" or "own" (NULL: auto) */
    lavr_stream_options stream; /* seed and sink offset: the same on every rank */
    int64_t fail_block;         /* testing aid (LAVR_FAIL_AT): fail when this block arrives; -1 never */
    int fail_in_forward;        /* ... and fail instead as its first forward starts (its tp peers are then in
                                 * the forward's first all-reduce) */
} lavr_dit_stage_options;

/* Statistics each DiT rank sends the aux at the end (LAVR_TAG_STATS ints). */
enum { LAVR_STAT_RANK, LAVR_STAT_PEAK_KB, LAVR_STAT_BUSY_US, LAVR_STAT_FORWARDS, LAVR_STAT_SENT, LAVR_STAT_RECEIVED,
       LAVR_STAT_DEVICE_PEAK_KB };

/* What a DiT rank sends the aux for a checkpoint (LAVR_TAG_CKPT, bytes): its file entry, or (status != 0)
 * the one line saying why its part could not be written (a full disk), which the aux ends the render
 * with; the DiT rank itself carries on until the aux stops the pipeline. */
typedef struct {
    lavr_ckpt_file entry;
    int32_t status;
    char message[1024];
} lavr_ckpt_report;

/* What each DiT rank sends the aux at the end beside the stats ints (a bytes part of the same message). Times are
 * seconds on the rank's clock from the start of lavr_dit_stage_run; bytes are the engine's device arena (0 on
 * the CPU) and the device's use when the last block was done (cudaMemGetInfo: every process on that GPU). */
typedef struct {
    int64_t rank, device, blocks;
    double busy_s, first_block_s, last_block_s; /* compute; ends of the first and the last block */
    uint64_t reserved, peak, device_used;
} lavr_dit_report;

/* LAVR_E_STOPPED when the render stopped after a checkpoint (a stop signal). */
lavr_status lavr_dit_stage_run(lavr_comm *c, const lavr_roles *roles, const lavr_dit_stage_options *o);

#endif
