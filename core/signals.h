/* Stop requests from the batch system: SIGTERM and SIGUSR1 (what Slurm sends before a time limit or
 * preemption) only set a flag; the render polls it at block boundaries, checkpoints and exits. */
#ifndef LAVR_CORE_SIGNALS_H
#define LAVR_CORE_SIGNALS_H

#include "core/status.h"

/* Exit code of a process that stopped on SIGTERM/SIGUSR1 after writing a valid checkpoint. 75 is
 * EX_TEMPFAIL of <sysexits.h> ("temporary failure, the user is invited to retry"): the run is not
 * finished and not broken, running the same command again (with --resume auto) continues it. It
 * differs from 0 (done), 1 (failure), 2 (bad input) and from 128+N (killed by signal N), so a batch
 * script can tell "requeue me" from everything else. */
#define LAVR_EXIT_STOPPED_CHECKPOINTED 75

/* Installs the handlers for SIGTERM and SIGUSR1 (sigaction, SA_RESTART) and clears the flag; the
 * previous handlers are kept for lavr_signals_restore. Other signals are left as they are. */
lavr_status lavr_signals_install(void);
/* Puts back the handlers that were there before lavr_signals_install; a no-op when not installed. */
lavr_status lavr_signals_restore(void);
/* The first stop signal received since install (SIGTERM or SIGUSR1), or 0. Async-signal-safe
 * reads; under MPI every rank sees its own flag, so the render agrees on stopping with a
 * collective (e.g. an all-reduce of "stop requested" at each block boundary). */
int lavr_signals_stop_requested(void);

#endif
