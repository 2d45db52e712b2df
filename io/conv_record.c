/* The convolution engine record of io/conv_record.h: a list of shape -> candidate choices with its tag, an HDF5
 * file of two int64 row datasets (keys [n][22], choices [n][4]) and the tag as root attributes. No CUDA here. */
#include "io/conv_record.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "io/h5util.h"

enum { CHOICE_COLS = 4 }; /* candidate, heur_mode, engine_index, workspace_bytes */

void lavr_conv_record_init(lavr_conv_record *r, const lavr_conv_record_tag *tag) {
    memset(r, 0, sizeof *r);
    if (tag) r->tag = *tag;
}

void lavr_conv_record_free(lavr_conv_record *r) {
    if (!r) return;
    free(r->choice);
    r->choice = NULL;
    r->n = r->cap = 0;
}

const lavr_conv_choice *lavr_conv_record_find(const lavr_conv_record *r, const int64_t key[LAVR_CONV_RECORD_KEY]) {
    for (int64_t i = 0; i < r->n; i++)
        if (!memcmp(r->choice[i].key, key, sizeof r->choice[i].key)) return &r->choice[i];
    return NULL;
}

lavr_status lavr_conv_record_add(lavr_conv_record *r, const lavr_conv_choice *c, int *added) {
    if (added) *added = 0;
    if (lavr_conv_record_find(r, c->key)) return LAVR_OK;
    if (r->n == r->cap) {
        const int64_t cap = r->cap ? 2 * r->cap : 64;
        lavr_conv_choice *grown = realloc(r->choice, (size_t)cap * sizeof *grown);
        if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "conv engine record: no host memory for %lld shapes", (long long)cap);
        r->choice = grown;
        r->cap = cap;
    }
    r->choice[r->n++] = *c;
    if (added) *added = 1;
    return LAVR_OK;
}

int lavr_conv_record_same_tag(const lavr_conv_record_tag *a, const lavr_conv_record_tag *b) {
    return !strcmp(a->gpu, b->gpu) && a->cc_major == b->cc_major && a->cc_minor == b->cc_minor &&
           a->cudnn_version == b->cudnn_version && a->tune == b->tune;
}

void lavr_conv_record_describe(const lavr_conv_record_tag *t, char *buf, size_t len) {
    const int64_t v = t->cudnn_version;
    snprintf(buf, len, "%s (sm %lld.%lld), cuDNN %lld.%lld.%lld, %lld engine%s timed", t->gpu, (long long)t->cc_major,
             (long long)t->cc_minor, (long long)(v / 10000), (long long)(v / 100 % 100), (long long)(v % 100),
             (long long)t->tune, t->tune == 1 ? "" : "s");
}

/* ---- the file --------------------------------------------------------------------------------- */

static lavr_status write_tag(hid_t f, const char *what, const lavr_conv_record_tag *t) {
    TRY(lavr_h5u_write_attr_string(f, what, "gpu", t->gpu));
    TRY(lavr_h5u_write_attr_int(f, what, "cc_major", t->cc_major));
    TRY(lavr_h5u_write_attr_int(f, what, "cc_minor", t->cc_minor));
    TRY(lavr_h5u_write_attr_int(f, what, "cudnn_version", t->cudnn_version));
    return lavr_h5u_write_attr_int(f, what, "tune", t->tune);
}

static lavr_status write_rows(hid_t f, const char *what, const char *name, int64_t cols, int64_t n,
                              const int64_t *rows) {
    const hsize_t dims[2] = {0, (hsize_t)cols}, chunk[2] = {64, (hsize_t)cols};
    hid_t d = -1;
    TRY(lavr_h5u_create_extendable(f, what, name, H5T_STD_I64LE, 2, dims, chunk, &d));
    lavr_status st = lavr_h5u_write_rows(d, what, H5T_NATIVE_INT64, 0, n, rows, name);
    if (H5Dclose(d) < 0 && !st) st = lavr_h5u_fail(__FILE__, __LINE__, what, "cannot close a dataset");
    return st;
}

static lavr_status write_file(const char *path, const lavr_conv_record *r) {
    const char *what = path;
    int64_t *keys = malloc((size_t)(r->n ? r->n : 1) * LAVR_CONV_RECORD_KEY * sizeof *keys);
    int64_t *choices = malloc((size_t)(r->n ? r->n : 1) * CHOICE_COLS * sizeof *choices);
    lavr_status st = keys && choices ? LAVR_OK : LAVR_FAIL(LAVR_E_NOMEM, "%s: no host memory", path);
    for (int64_t i = 0; !st && i < r->n; i++) {
        const lavr_conv_choice *c = &r->choice[i];
        memcpy(keys + i * LAVR_CONV_RECORD_KEY, c->key, sizeof c->key);
        int64_t *row = choices + i * CHOICE_COLS;
        row[0] = c->candidate, row[1] = c->heur_mode, row[2] = c->engine_index, row[3] = c->workspace_bytes;
    }
    hid_t f = -1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!st) st = lavr_h5u_create_file(path, "conv engine record", what, LAVR_CONV_RECORD_FORMAT,
                                       LAVR_CONV_RECORD_VERSION, &f);
    if (!st) st = write_tag(f, what, &r->tag);
    if (!st) st = write_rows(f, what, "keys", LAVR_CONV_RECORD_KEY, r->n, keys);
    if (!st) st = write_rows(f, what, "choices", CHOICE_COLS, r->n, choices);
    if (f >= 0 && H5Fclose(f) < 0 && !st) st = lavr_h5u_fail(__FILE__, __LINE__, what, "cannot close the file");
    free(keys);
    free(choices);
    return st;
}

lavr_status lavr_conv_record_write(const char *path, const lavr_conv_record *r) {
    char part[4096];
    if (snprintf(part, sizeof part, "%s.part.%ld", path, (long)getpid()) >= (int)sizeof part)
        return LAVR_FAIL(LAVR_E_IO, "conv engine record: path '%s' is too long", path);
    lavr_status st = write_file(part, r);
    if (!st && rename(part, path) != 0)
        st = LAVR_FAIL(LAVR_E_IO, "cannot rename '%s' to '%s': %s", part, path, strerror(errno));
    if (st) unlink(part);
    return st;
}

static lavr_status read_tag(hid_t f, const char *what, lavr_conv_record_tag *t) {
    char *s = NULL;
    TRY(lavr_h5u_read_attr_string(f, what, "format", &s));
    const int ours = !strcmp(s, LAVR_CONV_RECORD_FORMAT);
    free(s);
    if (!ours) return LAVR_FAIL(LAVR_E_FORMAT, "%s is not a conv engine record", what);
    int64_t version = 0;
    TRY(lavr_h5u_read_attr_int(f, what, "format_version", &version));
    if (version != LAVR_CONV_RECORD_VERSION)
        return LAVR_FAIL(LAVR_E_FORMAT, "%s: conv engine record version %lld, this lavr reads %d", what,
                         (long long)version, LAVR_CONV_RECORD_VERSION);
    TRY(lavr_h5u_read_attr_string(f, what, "gpu", &s));
    snprintf(t->gpu, sizeof t->gpu, "%s", s);
    free(s);
    TRY(lavr_h5u_read_attr_int(f, what, "cc_major", &t->cc_major));
    TRY(lavr_h5u_read_attr_int(f, what, "cc_minor", &t->cc_minor));
    TRY(lavr_h5u_read_attr_int(f, what, "cudnn_version", &t->cudnn_version));
    return lavr_h5u_read_attr_int(f, what, "tune", &t->tune);
}

/* rows of name, which must be [n][cols]; *rows malloc'd */
static lavr_status read_rows(hid_t f, const char *what, const char *name, int64_t cols, int64_t *n, int64_t **rows) {
    *rows = NULL;
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return LAVR_FAIL(LAVR_E_FORMAT, "%s: dataset '%s' missing", what, name);
    }
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    LAVR_H5U_TRY(d, what, name);
    hid_t space = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    lavr_status st = LAVR_OK;
    if (space < 0 || H5Sget_simple_extent_ndims(space) != 2 || H5Sget_simple_extent_dims(space, dims, NULL) < 0 ||
        dims[1] != (hsize_t)cols)
        st = LAVR_FAIL(LAVR_E_FORMAT, "%s: dataset '%s' is not [n][%lld]", what, name, (long long)cols);
    if (space >= 0) H5Sclose(space);
    H5Eclear2(H5E_DEFAULT);
    if (!st) {
        *n = (int64_t)dims[0];
        *rows = malloc((size_t)(*n ? *n : 1) * (size_t)cols * sizeof **rows);
        if (!*rows) st = LAVR_FAIL(LAVR_E_NOMEM, "%s: no host memory for %lld rows", what, (long long)*n);
    }
    if (!st) st = lavr_h5u_read_rows(d, what, H5T_NATIVE_INT64, 0, *n, *rows, name);
    H5Dclose(d);
    if (st) {
        free(*rows);
        *rows = NULL;
    }
    return st;
}

static lavr_status fill(const char *what, int64_t n, const int64_t *keys, const int64_t *choices,
                        lavr_conv_record *r) {
    for (int64_t i = 0; i < n; i++) {
        lavr_conv_choice c;
        memcpy(c.key, keys + i * LAVR_CONV_RECORD_KEY, sizeof c.key);
        const int64_t *row = choices + i * CHOICE_COLS;
        c.candidate = row[0], c.heur_mode = row[1], c.engine_index = row[2], c.workspace_bytes = row[3];
        const int64_t spatial = c.key[3];
        if (c.candidate < 0 || (c.heur_mode < 0 || c.heur_mode > 2) || c.engine_index < 0 ||
            c.workspace_bytes < 0 || (spatial != 2 && spatial != 3))
            return LAVR_FAIL(LAVR_E_FORMAT, "%s: row %lld is not a convolution choice", what, (long long)i);
        int added = 0;
        TRY(lavr_conv_record_add(r, &c, &added));
        if (!added) return LAVR_FAIL(LAVR_E_FORMAT, "%s: row %lld repeats a shape", what, (long long)i);
    }
    return LAVR_OK;
}

lavr_status lavr_conv_record_read(const char *path, lavr_conv_record *r) {
    lavr_conv_record_init(r, NULL);
    if (access(path, F_OK) != 0) return LAVR_FAIL(LAVR_E_IO, "no conv engine record '%s'", path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        H5Eclear2(H5E_DEFAULT);
        return LAVR_FAIL(LAVR_E_FORMAT, "%s is not an HDF5 file (empty or damaged)", path);
    }
    int64_t *keys = NULL, *choices = NULL, nk = 0, nc = 0;
    lavr_status st = read_tag(f, path, &r->tag);
    if (!st) st = read_rows(f, path, "keys", LAVR_CONV_RECORD_KEY, &nk, &keys);
    if (!st) st = read_rows(f, path, "choices", CHOICE_COLS, &nc, &choices);
    if (!st && nk != nc)
        st = LAVR_FAIL(LAVR_E_FORMAT, "%s: %lld keys but %lld choices", path, (long long)nk, (long long)nc);
    if (!st) st = fill(path, nk, keys, choices, r);
    free(keys);
    free(choices);
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    if (st) lavr_conv_record_free(r);
    return st;
}

lavr_status lavr_conv_record_load(const char *path, const lavr_conv_record_tag *want, lavr_conv_record *r,
                                  int *usable) {
    *usable = 0;
    lavr_conv_record_init(r, want);
    if (access(path, F_OK) != 0) return LAVR_OK;
    lavr_status st = lavr_conv_record_read(path, r);
    if (st == LAVR_E_NOMEM) return st;
    if (st) {
        LOG_WARN("conv engine record ignored, the engines are tuned again: %s", lavr_error_message());
        lavr_error_clear();
        lavr_conv_record_init(r, want);
        return LAVR_OK;
    }
    if (!lavr_conv_record_same_tag(&r->tag, want)) {
        char had[384], have[384];
        lavr_conv_record_describe(&r->tag, had, sizeof had);
        lavr_conv_record_describe(want, have, sizeof have);
        LOG_WARN("conv engine record %s ignored, the engines are tuned again: it was made for %s, this is %s", path,
                 had, have);
        lavr_conv_record_free(r);
        lavr_conv_record_init(r, want);
        return LAVR_OK;
    }
    *usable = 1;
    return LAVR_OK;
}

/* mkdir -p of path's directory */
static lavr_status make_parent(const char *path) {
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return LAVR_FAIL(LAVR_E_IO, "conv engine record: path '%s' is too long", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return LAVR_OK;
    *slash = 0;
    for (char *p = dir + 1; ; p++) {
        const int end = !*p;
        if (*p == '/' || end) {
            *p = 0;
            if (mkdir(dir, 0755) != 0 && errno != EEXIST)
                return LAVR_FAIL(LAVR_E_IO, "cannot create the directory '%s': %s", dir, strerror(errno));
            if (end) break;
            *p = '/';
        }
    }
    return LAVR_OK;
}

lavr_status lavr_conv_record_merge_into(const char *path, const lavr_conv_record *r) {
    TRY(make_parent(path));
    char lock[4096];
    if (snprintf(lock, sizeof lock, "%s.lock", path) >= (int)sizeof lock)
        return LAVR_FAIL(LAVR_E_IO, "conv engine record: path '%s' is too long", path);
    const int fd = open(lock, O_RDWR | O_CREAT, 0644);
    if (fd < 0) return LAVR_FAIL(LAVR_E_IO, "cannot open the lock '%s': %s", lock, strerror(errno));
    if (flock(fd, LOCK_EX) != 0) {
        const int e = errno;
        close(fd);
        return LAVR_FAIL(LAVR_E_IO, "cannot lock '%s': %s", lock, strerror(e));
    }
    lavr_conv_record merged;
    int usable = 0;
    lavr_status st = lavr_conv_record_load(path, &r->tag, &merged, &usable);
    int64_t before = merged.n;
    for (int64_t i = 0; !st && i < r->n; i++) st = lavr_conv_record_add(&merged, &r->choice[i], NULL);
    if (!st && (merged.n > before || !usable)) st = lavr_conv_record_write(path, &merged);
    lavr_conv_record_free(&merged);
    flock(fd, LOCK_UN);
    close(fd);
    return st;
}

lavr_status lavr_conv_record_cache_path(const lavr_conv_record_tag *tag, char *buf, size_t len) {
    const char *own = getenv("LAVR_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[2048];
    int n;
    if (own && *own) n = snprintf(dir, sizeof dir, "%s", own);
    else if (xdg && *xdg) n = snprintf(dir, sizeof dir, "%s/lavr", xdg);
    else if (home && *home) n = snprintf(dir, sizeof dir, "%s/.cache/lavr", home);
    else return LAVR_FAIL(LAVR_E_IO, "no cache directory: none of LAVR_CACHE_DIR, XDG_CACHE_HOME, HOME is set");
    if (n >= (int)sizeof dir) return LAVR_FAIL(LAVR_E_IO, "the cache directory's name is too long");
    char gpu[sizeof tag->gpu];
    snprintf(gpu, sizeof gpu, "%s", tag->gpu);
    for (char *c = gpu; *c; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' ||
              *c == '-'))
            *c = '_';
    n = snprintf(buf, len, "%s/conv-engines-%s-sm%lld%lld-cudnn%lld-tune%lld.h5", dir, gpu, (long long)tag->cc_major,
                 (long long)tag->cc_minor, (long long)tag->cudnn_version, (long long)tag->tune);
    if (n < 0 || (size_t)n >= len) return LAVR_FAIL(LAVR_E_IO, "the conv engine cache path is too long");
    return LAVR_OK;
}
