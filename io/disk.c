/* Free space for the one line of a failed write (io/disk.h): statvfs on the path, or on its directory
 * when the file does not exist (yet or any more). */
#include "io/disk.h"

#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "core/units.h"

static void parent_of(const char *path, char *dir, size_t n) {
    snprintf(dir, n, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, n, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
}

int64_t lavr_disk_free_bytes(const char *path) {
    struct statvfs s;
    char dir[4096];
    if (statvfs(path, &s) != 0) {
        parent_of(path, dir, sizeof dir);
        if (statvfs(dir, &s) != 0) return -1;
    }
    return (int64_t)s.f_bavail * (int64_t)s.f_frsize;
}

lavr_status lavr_disk_add_free_space(lavr_status code, const char *path) {
    if (code != LAVR_E_IO && code != LAVR_E_HDF5 && code != LAVR_E_MEDIA) return code; /* not a write's failure */
    char dir[4096];
    parent_of(path, dir, sizeof dir);
    const int64_t free_bytes = lavr_disk_free_bytes(path);
    if (free_bytes < 0) return lavr_error_append(code, "; the free space of '%s' cannot be read", dir);
    char text[32];
    lavr_format_bytes((uint64_t)free_bytes, text, sizeof text);
    return lavr_error_append(code, "; %s free on the file system of '%s'", text, dir);
}
