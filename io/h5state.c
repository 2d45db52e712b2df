/* Checkpoint rank files (io/checkpoint.h): each rank writes its named tensors, parts of split tensors,
 * ints and strings to its own HDF5 file; a resuming rank reads any range back from whichever files hold it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/disk.h"

#include "core/sha256.h"
#include "io/checkpoint_internal.h"

struct lavr_ckpt_writer {
    lavr_h5file *f;
    char *path;
    char name[32];
};

static int valid_name(const char *name, int allow_slash) {
    if (!name || !*name || strncmp(name, "lavr_", 5) == 0 || strlen(name) > 200) return 0;
    for (const char *c = name; *c; c++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
                 *c == '.' || *c == '-' || (allow_slash && *c == '/');
        if (!ok) return 0;
    }
    return name[0] != '/' && name[strlen(name) - 1] != '/' && !strstr(name, "//");
}

#define CHECK_NAME(name, slash)                                                                                  \
    CHECK_ARG(valid_name(name, slash), "checkpoint value name '%s' is not allowed (letters, digits, _ . -%s; "     \
              "no 'lavr_' prefix)", (name) ? (name) : "(null)", (slash) ? " and inner /" : "")

/* ---- writing ------------------------------------------------------------------------------- */

lavr_status lavr_ckpt_begin(const char *stage_dir, int64_t blocks, int rank, lavr_ckpt_writer **out) {
    CHECK_ARG(out && rank >= 0, "lavr_ckpt_begin: bad argument");
    *out = NULL;
    char *dir;
    TRY(lavr_ckpt_prepare_dir(stage_dir, blocks, &dir));
    lavr_ckpt_writer *w = calloc(1, sizeof *w);
    size_t n = strlen(dir) + 40;
    char *path = malloc(n);
    if (!w || !path) {
        free(w);
        free(path);
        free(dir);
        return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    }
    lavr_ckpt_rank_file_name(rank, w->name);
    snprintf(path, n, "%s/%s", dir, w->name);
    free(dir);
    w->path = path;
    lavr_status st = lavr_h5_create(path, &w->f);
    if (!st) st = lavr_h5_write_attr_string(w->f, "/", "lavr_format", LAVR_CKPT_RANK_FORMAT);
    if (!st) st = lavr_h5_write_attr_int(w->f, "/", "lavr_rank", rank);
    if (!st) st = lavr_h5_write_attr_int(w->f, "/", "lavr_blocks", blocks);
    if (st) {
        lavr_ckpt_abandon(w);
        return st;
    }
    *out = w;
    return LAVR_OK;
}

const char *lavr_ckpt_writer_path(const lavr_ckpt_writer *w) { return w->path; }

lavr_status lavr_ckpt_put_tensor(lavr_ckpt_writer *w, const char *name, const lavr_tensor *t) {
    CHECK_ARG(w && t, "lavr_ckpt_put_tensor: NULL argument");
    CHECK_NAME(name, 1);
    return lavr_h5_write(w->f, name, t, 0);
}

lavr_status lavr_ckpt_put_part(lavr_ckpt_writer *w, const char *name, const lavr_tensor *t, int dim, int64_t offset,
                               int64_t full_len) {
    CHECK_ARG(w && t, "lavr_ckpt_put_part: NULL argument");
    CHECK_NAME(name, 1);
    CHECK_ARG(dim >= 0 && dim < t->ndim && offset >= 0 && offset + t->shape[dim] <= full_len,
              "checkpoint part '%s': [%lld, %lld) along dim %d is outside 0..%lld", name, (long long)offset,
              (long long)(offset + (dim >= 0 && dim < t->ndim ? t->shape[dim] : 0)), dim, (long long)full_len);
    TRY(lavr_h5_write(w->f, name, t, 0));
    TRY(lavr_h5_write_attr_int(w->f, name, "part_dim", dim));
    TRY(lavr_h5_write_attr_int(w->f, name, "part_offset", offset));
    return lavr_h5_write_attr_int(w->f, name, "full_len", full_len);
}

lavr_status lavr_ckpt_put_int(lavr_ckpt_writer *w, const char *name, int64_t value) {
    CHECK_ARG(w, "lavr_ckpt_put_int: NULL argument");
    CHECK_NAME(name, 0);
    return lavr_h5_write_attr_int(w->f, "/", name, value);
}

lavr_status lavr_ckpt_put_string(lavr_ckpt_writer *w, const char *name, const char *value) {
    CHECK_ARG(w && value, "lavr_ckpt_put_string: NULL argument");
    CHECK_NAME(name, 0);
    return lavr_h5_write_attr_string(w->f, "/", name, value);
}

lavr_status lavr_ckpt_finish(lavr_ckpt_writer *w, lavr_ckpt_file *entry) {
    CHECK_ARG(w && entry, "lavr_ckpt_finish: NULL argument");
    memset(entry, 0, sizeof *entry);
    lavr_status st = lavr_h5_close(w->f);
    w->f = NULL;
    if (!st) {
        int fd = open(w->path, O_RDONLY);
        if (fd < 0) st = LAVR_FAIL(LAVR_E_IO, "cannot reopen '%s' to sync it: %s", w->path, strerror(errno));
        else {
            struct stat s;
            if (fsync(fd) != 0) st = LAVR_FAIL(LAVR_E_IO, "cannot sync '%s' to disk: %s", w->path, strerror(errno));
            else if (fstat(fd, &s) != 0) st = LAVR_FAIL(LAVR_E_IO, "cannot stat '%s': %s", w->path, strerror(errno));
            else entry->bytes = (int64_t)s.st_size;
            close(fd);
        }
    }
    if (!st) st = lavr_sha256_file_hex(w->path, entry->sha256);
    if (!st) memcpy(entry->name, w->name, sizeof entry->name);
    if (st) {
        lavr_disk_add_free_space(st, w->path); /* measured before the part gives its space back */
        unlink(w->path);
    }
    free(w->path);
    free(w);
    return st;
}

void lavr_ckpt_abandon(lavr_ckpt_writer *w) {
    if (!w) return;
    lavr_h5_close(w->f);
    unlink(w->path);
    free(w->path);
    free(w);
}

/* ---- reading ------------------------------------------------------------------------------- */

void lavr_ckpt_close_rank_files(lavr_ckpt *c) {
    for (int r = 0; r < c->nfiles; r++) {
        lavr_h5_close(c->open[r]);
        c->open[r] = NULL;
    }
}

static lavr_status rank_file(lavr_ckpt *c, int rank, lavr_h5file **out) {
    if (rank < 0 || rank >= c->nfiles)
        return LAVR_FAIL(LAVR_E_FORMAT, "checkpoint %s was written by %d ranks: it has no rank %d", c->dir, c->nfiles,
                         rank);
    if (!c->open[rank]) {
        size_t n = strlen(c->dir) + 40;
        char *path = malloc(n);
        if (!path) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
        snprintf(path, n, "%s/%s", c->dir, c->files[rank].name);
        lavr_h5file *f;
        lavr_status st = lavr_h5_open(path, &f);
        free(path);
        TRY(st);
        char *format = NULL;
        int64_t file_rank = -1;
        st = lavr_h5_read_attr_string(f, "/", "lavr_format", &format);
        if (!st) st = lavr_h5_read_attr_int(f, "/", "lavr_rank", &file_rank);
        if (!st && (strcmp(format, LAVR_CKPT_RANK_FORMAT) != 0 || file_rank != rank))
            st = LAVR_FAIL(LAVR_E_FORMAT, "%s is not rank %d's checkpoint file", lavr_h5_path(f), rank);
        free(format);
        if (st) {
            lavr_h5_close(f);
            return st;
        }
        c->open[rank] = f;
    }
    *out = c->open[rank];
    return LAVR_OK;
}

lavr_status lavr_ckpt_get_int(lavr_ckpt *c, int rank, const char *name, int64_t *out) {
    CHECK_ARG(c && out, "lavr_ckpt_get_int: NULL argument");
    CHECK_NAME(name, 0);
    lavr_h5file *f;
    TRY(rank_file(c, rank, &f));
    return lavr_h5_read_attr_int(f, "/", name, out);
}

lavr_status lavr_ckpt_get_string(lavr_ckpt *c, int rank, const char *name, char **out) {
    CHECK_ARG(c && out, "lavr_ckpt_get_string: NULL argument");
    CHECK_NAME(name, 0);
    lavr_h5file *f;
    TRY(rank_file(c, rank, &f));
    return lavr_h5_read_attr_string(f, "/", name, out);
}

lavr_status lavr_ckpt_get_optional_string(lavr_ckpt *c, int rank, const char *name, char **out) {
    CHECK_ARG(c && out, "lavr_ckpt_get_optional_string: NULL argument");
    CHECK_NAME(name, 0);
    *out = NULL;
    lavr_h5file *f;
    TRY(rank_file(c, rank, &f));
    if (!lavr_h5_has_attr(f, "/", name)) return LAVR_OK;
    return lavr_h5_read_attr_string(f, "/", name, out);
}

/* One stored piece of a tensor: a box of the whole (offset along part_dim, the dataset's shape). */
typedef struct {
    int rank;
    lavr_tensor desc;
    int64_t offset[LAVR_MAX_DIMS];
    int64_t full[LAVR_MAX_DIMS];
} piece;

static lavr_status find_pieces(lavr_ckpt *c, const char *name, piece *pieces, int *count) {
    *count = 0;
    for (int r = 0; r < c->nfiles; r++) {
        lavr_h5file *f;
        TRY(rank_file(c, r, &f));
        if (!lavr_h5_exists(f, name)) continue;
        piece *p = &pieces[(*count)++];
        memset(p, 0, sizeof *p);
        p->rank = r;
        TRY(lavr_h5_info(f, name, &p->desc));
        for (int d = 0; d < p->desc.ndim; d++) p->full[d] = p->desc.shape[d];
        if (lavr_h5_has_attr(f, name, "part_dim")) {
            int64_t dim, offset, full_len;
            TRY(lavr_h5_read_attr_int(f, name, "part_dim", &dim));
            TRY(lavr_h5_read_attr_int(f, name, "part_offset", &offset));
            TRY(lavr_h5_read_attr_int(f, name, "full_len", &full_len));
            if (dim < 0 || dim >= p->desc.ndim || offset < 0 || offset + p->desc.shape[dim] > full_len)
                return LAVR_FAIL(LAVR_E_FORMAT, "tensor '%s' in %s has a bad part description", name, lavr_h5_path(f));
            p->offset[dim] = offset;
            p->full[dim] = full_len;
        }
    }
    if (!*count) return LAVR_FAIL(LAVR_E_FORMAT, "tensor '%s' is not in checkpoint %s", name, c->dir);
    for (int i = 1; i < *count; i++) {
        int same = pieces[i].desc.dtype == pieces[0].desc.dtype && pieces[i].desc.ndim == pieces[0].desc.ndim;
        for (int d = 0; same && d < pieces[0].desc.ndim; d++) same = pieces[i].full[d] == pieces[0].full[d];
        if (!same)
            return LAVR_FAIL(LAVR_E_FORMAT, "tensor '%s' in checkpoint %s: ranks %d and %d disagree on its dtype or shape",
                             name, c->dir, pieces[0].rank, pieces[i].rank);
    }
    return LAVR_OK;
}

/* Intersection of box (lo, n) with [a_lo, a_lo + a_n) per dim; volume 0 when they do not meet. */
static int64_t intersect(int ndim, const int64_t *lo, const int64_t *n, const int64_t *a_lo, const int64_t *a_n,
                         int64_t *out_lo, int64_t *out_n) {
    int64_t volume = 1;
    for (int d = 0; d < ndim; d++) {
        int64_t begin = lo[d] > a_lo[d] ? lo[d] : a_lo[d];
        int64_t end = lo[d] + n[d] < a_lo[d] + a_n[d] ? lo[d] + n[d] : a_lo[d] + a_n[d];
        out_lo[d] = begin;
        out_n[d] = end > begin ? end - begin : 0;
        volume *= out_n[d];
    }
    return volume;
}

/* Copies a contiguous src box into dst (contiguous, shape dst_shape) at dst_lo, row by row. */
static void copy_box(char *dst, const int64_t *dst_shape, const int64_t *dst_lo, const char *src,
                     const int64_t *src_shape, int ndim, size_t esize) {
    int64_t rows = 1;
    for (int d = 0; d < ndim - 1; d++) rows *= src_shape[d];
    size_t row_bytes = (size_t)src_shape[ndim - 1] * esize;
    int64_t index[LAVR_MAX_DIMS] = {0};
    for (int64_t r = 0; r < rows; r++) {
        int64_t at = 0;
        for (int d = 0; d < ndim; d++) at = at * dst_shape[d] + dst_lo[d] + (d < ndim - 1 ? index[d] : 0);
        memcpy(dst + (size_t)at * esize, src + (size_t)r * row_bytes, row_bytes);
        for (int d = ndim - 2; d >= 0; d--) {
            if (++index[d] < src_shape[d]) break;
            index[d] = 0;
        }
    }
}

static lavr_status read_box(lavr_ckpt *c, const char *name, piece *pieces, int count, const int64_t *lo,
                            const int64_t *n, lavr_arena *arena, lavr_tensor *out) {
    int ndim = pieces[0].desc.ndim;
    int64_t want = 1;
    for (int d = 0; d < ndim; d++) want *= n[d];
    for (int i = 0; i < count; i++)
        for (int j = i + 1; j < count; j++) {
            int64_t s_lo[LAVR_MAX_DIMS], s_n[LAVR_MAX_DIMS];
            if (intersect(ndim, pieces[i].offset, pieces[i].desc.shape, pieces[j].offset, pieces[j].desc.shape, s_lo,
                          s_n) > 0)
                return LAVR_FAIL(LAVR_E_FORMAT, "tensor '%s' in checkpoint %s: the parts of ranks %d and %d overlap",
                                 name, c->dir, pieces[i].rank, pieces[j].rank);
        }
    int64_t covered = 0;
    for (int i = 0; i < count; i++) {
        int64_t s_lo[LAVR_MAX_DIMS], s_n[LAVR_MAX_DIMS];
        covered += intersect(ndim, lo, n, pieces[i].offset, pieces[i].desc.shape, s_lo, s_n);
    }
    if (covered != want)
        return LAVR_FAIL(LAVR_E_FORMAT, "tensor '%s' in checkpoint %s: the stored parts cover %lld of the %lld elements asked for",
                         name, c->dir, (long long)covered, (long long)want);
    lavr_status st = lavr_tensor_alloc(arena, pieces[0].desc.dtype, ndim, n, name, out);
    if (st) return st;
    size_t esize = lavr_dtype_size(pieces[0].desc.dtype);
    for (int i = 0; i < count && !st; i++) {
        int64_t s_lo[LAVR_MAX_DIMS], s_n[LAVR_MAX_DIMS], in_piece[LAVR_MAX_DIMS], in_out[LAVR_MAX_DIMS];
        if (intersect(ndim, lo, n, pieces[i].offset, pieces[i].desc.shape, s_lo, s_n) == 0) continue;
        for (int d = 0; d < ndim; d++) {
            in_piece[d] = s_lo[d] - pieces[i].offset[d];
            in_out[d] = s_lo[d] - lo[d];
        }
        lavr_h5file *f;
        lavr_tensor slab;
        st = rank_file(c, pieces[i].rank, &f);
        if (!st) st = lavr_h5_read_slice(f, name, in_piece, s_n, arena, &slab);
        if (!st) {
            copy_box(out->data, n, in_out, slab.data, s_n, ndim, esize);
            lavr_tensor_free(&slab);
        }
    }
    if (st) lavr_tensor_free(out);
    return st;
}

lavr_status lavr_ckpt_read_range(lavr_ckpt *c, const char *name, int dim, int64_t start, int64_t len,
                                 lavr_arena *arena, lavr_tensor *out) {
    CHECK_ARG(c && arena && out, "lavr_ckpt_read_range: NULL argument");
    CHECK_NAME(name, 1);
    piece *pieces = calloc((size_t)c->nfiles, sizeof *pieces);
    if (!pieces) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    int count;
    lavr_status st = find_pieces(c, name, pieces, &count);
    if (!st) {
        int ndim = pieces[0].desc.ndim;
        int64_t lo[LAVR_MAX_DIMS] = {0}, n[LAVR_MAX_DIMS];
        for (int d = 0; d < ndim; d++) n[d] = pieces[0].full[d];
        if (dim >= 0) {
            if (dim >= ndim || start < 0 || len < 0 || start + len > n[dim])
                st = LAVR_FAIL(LAVR_E_FORMAT, "tensor '%s' in checkpoint %s: range [%lld, %lld) along dim %d is outside its shape",
                               name, c->dir, (long long)start, (long long)(start + len), dim);
            else {
                lo[dim] = start;
                n[dim] = len;
            }
        }
        if (!st && ndim == 0) st = lavr_h5_read(c->open[pieces[0].rank], name, arena, out);
        else if (!st) st = read_box(c, name, pieces, count, lo, n, arena, out);
    }
    free(pieces);
    return st;
}

lavr_status lavr_ckpt_read_tensor(lavr_ckpt *c, const char *name, lavr_arena *arena, lavr_tensor *out) {
    return lavr_ckpt_read_range(c, name, -1, 0, 0, arena, out);
}
