/* Exclusive locks that keep two renders off one stage directory or one output: flock on a small file
 * that names its holder (host, PID, start time); the kernel drops the lock when the process dies. */
#ifndef LAVR_IO_LOCK_H
#define LAVR_IO_LOCK_H

#include "core/status.h"

typedef struct lavr_lock lavr_lock;

/* Takes the lock on path (created when missing) without waiting. Held elsewhere: LAVR_E_ARG naming
 * `what` and the holder the file names; the file is left as it is. */
lavr_status lavr_lock_take(const char *path, const char *what, lavr_lock **out);
/* Releases the lock; with remove, deletes the file first (while still holding it). NULL is a no-op. */
void lavr_lock_release(lavr_lock *l, int remove);

#endif
