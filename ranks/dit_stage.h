/* The DiT role of a render: one rank of stage s (denoising steps [4s/S, 4(s+1)/S)), pp index p and
 * tp index t. It loads its shard of the weights, takes the setup broadcast, prefills its step caches'
 * sink and then runs its steps on every block that comes down the pipeline (parallel/schedule.h). */
#ifndef LAVR_RANKS_DIT_STAGE_H
#define LAVR_RANKS_DIT_STAGE_H

#include <stdint.h>

#include "core/status.h"
#include "models/streaming.h"
#include "parallel/comm.h"
#include "parallel/mpi.h"

typedef struct {
    const char *model_path;
    lavr_stream_options stream; /* seed and sink offset: the same on every rank */
    int64_t fail_block;         /* testing aid (LAVR_FAIL_AT): fail when this block arrives; -1 never */
} lavr_dit_stage_options;

/* Statistics each DiT rank sends the aux at the end (LAVR_TAG_STATS ints). */
enum { LAVR_STAT_RANK, LAVR_STAT_PEAK_KB, LAVR_STAT_BUSY_US, LAVR_STAT_FORWARDS, LAVR_STAT_SENT, LAVR_STAT_RECEIVED };

lavr_status lavr_dit_stage_run(lavr_comm *c, const lavr_roles *roles, const lavr_dit_stage_options *o);

#endif
