/* io/lock.h on flock(2): the holder writes "host <name> pid <n> since <time>" into the file once it holds
 * the lock, so a refused render can say who holds it (on any host that shares the file system). */
#include "io/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

struct lavr_lock {
    int fd;
    char path[4096];
};

/* The holder as its file says it ("host vm pid 123 since 2026-12-03 11:59:00 UTC"), or a fallback. */
static void read_holder(int fd, char *buf, size_t n) {
    ssize_t got = pread(fd, buf, n - 1, 0);
    buf[got > 0 ? got : 0] = 0;
    buf[strcspn(buf, "\n")] = 0;
    if (!buf[0]) snprintf(buf, n, "a process that has not written its name yet");
}

lavr_status lavr_lock_take(const char *path, const char *what, lavr_lock **out) {
    *out = NULL;
    lavr_lock *l = calloc(1, sizeof *l);
    if (!l) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    snprintf(l->path, sizeof l->path, "%s", path);
    l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (l->fd < 0) {
        lavr_status st = LAVR_FAIL(LAVR_E_IO, "cannot create the lock file '%s' of %s: %s", path, what, strerror(errno));
        free(l);
        return st;
    }
    if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        char holder[256];
        read_holder(l->fd, holder, sizeof holder);
        close(l->fd);
        free(l);
        if (err == EWOULDBLOCK)
            return LAVR_FAIL(LAVR_E_ARG, "%s is in use by another render (%s, lock file '%s'); wait for it to end "
                             "or give this render another --out or --stage-dir", what, holder, path);
        return LAVR_FAIL(LAVR_E_IO, "cannot lock '%s': %s", path, strerror(err));
    }
    char host[256] = "?", line[512], when[64] = "?";
    if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "?");
    const time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    int n = snprintf(line, sizeof line, "host %s pid %ld since %s\n", host, (long)getpid(), when);
    if (ftruncate(l->fd, 0) != 0 || pwrite(l->fd, line, (size_t)n, 0) != n) {
        lavr_status st = LAVR_FAIL(LAVR_E_IO, "cannot write the lock file '%s': %s", path, strerror(errno));
        lavr_lock_release(l, 1);
        return st;
    }
    *out = l;
    return LAVR_OK;
}

void lavr_lock_release(lavr_lock *l, int remove) {
    if (!l) return;
    if (remove) unlink(l->path);
    close(l->fd);
    free(l);
}
