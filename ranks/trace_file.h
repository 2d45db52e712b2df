/* `lavr render --trace FILE`: every rank records its slices (core/trace.h) from a common origin; at the
 * end one rank gathers them rank by rank and writes Chrome trace-event JSON (Perfetto, chrome://tracing):
 * one track per rank (pid = world rank, named by its role), one complete ("X") slice per forward,
 * decode, encode, send and wait, nested slices written parent first. */
#ifndef LAVR_RANKS_TRACE_FILE_H
#define LAVR_RANKS_TRACE_FILE_H

#include <stdint.h>

#include "core/status.h"

/* Slices a rank keeps (40 bytes each, 40 MiB); later ones are counted as dropped. */
#define LAVR_TRACE_MAX_EVENTS (1 << 20)

/* Collective: a barrier, then every rank starts recording (timelines share the barrier's moment). */
lavr_status lavr_trace_start(void);
/* Collective: every rank sends its role name and slices to root, which writes path (as path.partial,
 * renamed when complete); then recording stops. */
lavr_status lavr_trace_write(const char *path, int root, const char *role);

#endif
