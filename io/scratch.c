/* Scratch matrices (io/scratch.h): mkstemp + unlink, then positioned reads and writes retried until
 * complete; the page cache, not the process, holds what is hot. */
#include "io/scratch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lavr_scratch {
    int fd;
    int64_t rows, cols;
    char what[64], path[4096];
};

lavr_status lavr_scratch_create(const char *dir, const char *what, int64_t rows, int64_t cols, lavr_scratch **out) {
    CHECK_ARG(what && out && rows >= 0 && cols > 0, "lavr_scratch_create: bad arguments");
    *out = NULL;
    if (!dir || !dir[0]) dir = getenv("TMPDIR");
    if (!dir || !dir[0]) dir = "/tmp";
    lavr_scratch *s = calloc(1, sizeof *s);
    if (!s) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for scratch file %s", what);
    snprintf(s->what, sizeof s->what, "%s", what);
    int n = snprintf(s->path, sizeof s->path, "%s/lavr-scratch-XXXXXX", dir);
    if (n < 0 || n >= (int)sizeof s->path) {
        free(s);
        return LAVR_FAIL(LAVR_E_ARG, "scratch directory '%s' is too long a path", dir);
    }
    s->fd = mkstemp(s->path);
    if (s->fd < 0) {
        lavr_status st = LAVR_FAIL(LAVR_E_IO, "cannot create a scratch file for %s in '%s': %s", what, dir,
                                   strerror(errno));
        free(s);
        return st;
    }
    unlink(s->path);
    s->rows = rows, s->cols = cols;
    *out = s;
    return LAVR_OK;
}

void lavr_scratch_destroy(lavr_scratch *s) {
    if (!s) return;
    close(s->fd);
    free(s);
}

int64_t lavr_scratch_rows(const lavr_scratch *s) { return s->rows; }

static lavr_status check_range(const lavr_scratch *s, int64_t row, int64_t n) {
    CHECK_ARG(row >= 0 && n >= 0 && row + n <= s->rows, "scratch %s: rows [%lld, %lld) outside its %lld", s->what,
              (long long)row, (long long)(row + n), (long long)s->rows);
    return LAVR_OK;
}

lavr_status lavr_scratch_write(lavr_scratch *s, int64_t row, int64_t n, const float *src) {
    TRY(check_range(s, row, n));
    const char *p = (const char *)src;
    size_t left = (size_t)(n * s->cols) * sizeof(float);
    off_t at = (off_t)(row * s->cols) * (off_t)sizeof(float);
    while (left > 0) {
        ssize_t done = pwrite(s->fd, p, left, at);
        if (done < 0 && errno == EINTR) continue;
        if (done <= 0)
            return LAVR_FAIL(LAVR_E_IO, "cannot write scratch file for %s in %.*s (disk full?): %s", s->what,
                             (int)(strrchr(s->path, '/') - s->path), s->path, done < 0 ? strerror(errno) : "no space");
        p += done, left -= (size_t)done, at += done;
    }
    return LAVR_OK;
}

lavr_status lavr_scratch_read(const lavr_scratch *s, int64_t row, int64_t n, float *dst) {
    TRY(check_range(s, row, n));
    char *p = (char *)dst;
    size_t left = (size_t)(n * s->cols) * sizeof(float);
    off_t at = (off_t)(row * s->cols) * (off_t)sizeof(float);
    while (left > 0) {
        ssize_t done = pread(s->fd, p, left, at);
        if (done < 0 && errno == EINTR) continue;
        if (done <= 0)
            return LAVR_FAIL(LAVR_E_IO, "cannot read back scratch file for %s: %s", s->what,
                             done < 0 ? strerror(errno) : "rows never written");
        p += done, left -= (size_t)done, at += done;
    }
    return LAVR_OK;
}
