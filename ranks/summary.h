/* `lavr render --summary-json FILE`: the render's end as JSON (how it ended, frames, seconds, FPS,
 * real-time factor, every rank's role, busy %, peak memory and traffic), written beside FILE and
 * renamed when complete. The aux rank writes it when the render finishes or stops; a rank that fails
 * writes what it knows (rank 0 for a failure every rank found, such as a bad input). */
#ifndef LAVR_RANKS_SUMMARY_H
#define LAVR_RANKS_SUMMARY_H

#include <stdint.h>

#include "core/status.h"
#include "ranks/progress.h"

typedef struct {
    lavr_status status;      /* LAVR_OK: finished; LAVR_E_STOPPED: stopped after a checkpoint; else failed */
    const char *message;     /* a failure's or a stop's message without its origin (NULL: none) */
    const char *origin;      /* dir/file.c:LINE of a failure (NULL: none) */
    int writer_rank;
    const char *out_path, *layout;
    int64_t frames;          /* frames in the output video so far; < 0: not known to this rank */
    int64_t frames_this_run; /* frames this run wrote (a resumed render wrote the rest before) */
    int64_t blocks_done, blocks; /* < 0: not known */
    int fps;                 /* output rate */
    double wall_s, render_s; /* since the rank started; of it, the time blocks were coming back */
    const lavr_rank_stats *ranks;
    int nranks;
} lavr_render_summary;

/* Writes path (as path.partial, renamed over path when complete). A failure's summary is linked into
 * place instead and only when path does not exist yet, so the first failure of a job is the one kept. */
lavr_status lavr_render_summary_write(const char *path, const lavr_render_summary *s);
/* Removes a previous run's summary (rank 0, when a render starts), so that a failure can tell it is the
 * job's first. */
lavr_status lavr_render_summary_forget(const char *path);
/* The summary of a render that failed with `failed` on this rank: s's status, message and origin come
 * from the current error, which is what the call returns again (a summary that cannot be written is
 * a warning, so the failure's own message stays the one main prints). */
lavr_status lavr_render_summary_write_failed(const char *path, lavr_status failed, lavr_render_summary *s);

#endif
