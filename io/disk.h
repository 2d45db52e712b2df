/* What a failed write tells the user: the free space of the file system that holds a path, added to the
 * error's one line, and the errno of an HDF5 or FFmpeg write turned into words. */
#ifndef LAVR_IO_DISK_H
#define LAVR_IO_DISK_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* Bytes free to this user on the file system holding path (the path itself, else its directory);
 * -1 when it cannot be told. */
int64_t lavr_disk_free_bytes(const char *path);
/* Appends "; <N> free on the file system of '<dir>'" to the current error (path: a file or directory
 * that was being written) when code is one a write can fail with (I/O, HDF5, media); returns code. */
lavr_status lavr_disk_add_free_space(lavr_status code, const char *path);

#endif
