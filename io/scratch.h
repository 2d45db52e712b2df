/* Scratch matrices on disk: [rows, cols] float32 in an unlinked temporary file, written and read by
 * row ranges (pwrite/pread), so data proportional to an input's length stays out of the process. */
#ifndef LAVR_IO_SCRATCH_H
#define LAVR_IO_SCRATCH_H

#include <stdint.h>

#include "core/status.h"

typedef struct lavr_scratch lavr_scratch;

/* A file in dir (NULL: $TMPDIR, else /tmp), removed from the directory at once so nothing is left
 * behind whatever happens; its space is freed at destroy (or exit). `what` names it in errors. */
lavr_status lavr_scratch_create(const char *dir, const char *what, int64_t rows, int64_t cols, lavr_scratch **out);
void lavr_scratch_destroy(lavr_scratch *s);
/* Rows [row, row + n) from / to a buffer of n * cols floats; a short disk is an error naming the file. */
lavr_status lavr_scratch_write(lavr_scratch *s, int64_t row, int64_t n, const float *src);
lavr_status lavr_scratch_read(const lavr_scratch *s, int64_t row, int64_t n, float *dst);
int64_t lavr_scratch_rows(const lavr_scratch *s);

#endif
