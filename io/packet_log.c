/* The packet log (io/packet_log.h) on the HDF5 C API: per stream /video and /audio an extendable
 * uint8 `bytes` dataset, an extendable int64 `index` [n, 7] and an `extradata` dataset; root attributes. */
#include "io/packet_log.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"

#define LOG_FORMAT "lavr-packets"
#define LOG_VERSION 2
#define ROW_COLS 7
#define BYTES_CHUNK 65536
#define INDEX_CHUNK_ROWS 256
#define WRITE_FAIL "cannot write packets (disk full?)"
#define READ_FAIL "cannot read packets (file truncated or corrupt?)"

typedef struct {
    hid_t group, bytes, index;
    int64_t count, byte_count;
} log_stream;

struct lavr_packet_log {
    hid_t file;
    log_stream streams[2];
    int audio_complete;
    char path[4096];
    char what[4096 + 16]; /* "packet log <path>" for h5util messages */
};

static const char *const stream_names[2] = {"video", "audio"};

/* The parameters as (name, value) pairs, in the order they are checked. */
#define N_INT_PARAMS 11
static void int_params(const lavr_packet_log_params *p, const char **names, int64_t *values) {
    const char *n[N_INT_PARAMS] = {"width",          "height",        "fps",          "crf",
                                   "keyint",         "total_frames",  "audio_rate",   "audio_channels",
                                   "audio_bitrate",  "audio_copied",  "audio_skip_frames"};
    int64_t v[N_INT_PARAMS] = {p->width,          p->height,        p->fps,          p->crf,
                               p->keyint,         p->total_frames,  p->audio_rate,   p->audio_channels,
                               p->audio_bitrate,  p->audio_copied,  p->audio_skip_frames};
    memcpy(names, n, sizeof n);
    memcpy(values, v, sizeof v);
}
#define N_STRING_PARAMS 2
static void string_params(const lavr_packet_log_params *p, const char **names, const char **values) {
    names[0] = "preset", values[0] = p->preset;
    names[1] = "audio_sha256", values[1] = p->audio_sha256;
}

/* ---- streams ---------------------------------------------------------------------------------- */

static lavr_status create_stream(lavr_packet_log *log, int s) {
    log_stream *ls = &log->streams[s];
    ls->group = H5Gcreate2(log->file, stream_names[s], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    LAVR_H5U_TRY(ls->group, log->what, stream_names[s]);
    hsize_t dims[2] = {0, ROW_COLS}, bytes_chunk[1] = {BYTES_CHUNK}, index_chunk[2] = {INDEX_CHUNK_ROWS, ROW_COLS};
    TRY(lavr_h5u_create_extendable(ls->group, log->what, "bytes", H5T_STD_U8LE, 1, dims, bytes_chunk, &ls->bytes));
    return lavr_h5u_create_extendable(ls->group, log->what, "index", H5T_STD_I64LE, 2, dims, index_chunk,
                                      &ls->index);
}

static lavr_status extent(lavr_packet_log *log, hid_t dset, int ndim, hsize_t *dims) {
    hid_t space = H5Dget_space(dset);
    LAVR_H5U_TRY(space, log->what, "cannot read a dataset shape");
    int nd = H5Sget_simple_extent_ndims(space);
    herr_t r = nd == ndim ? H5Sget_simple_extent_dims(space, dims, NULL) : -1;
    H5Sclose(space);
    if (r < 0) return LAVR_FAIL(LAVR_E_FORMAT, "packet log %s: a dataset has the wrong shape", log->path);
    return LAVR_OK;
}

static lavr_status open_stream(lavr_packet_log *log, int s) {
    log_stream *ls = &log->streams[s];
    if (H5Lexists(log->file, stream_names[s], H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return LAVR_FAIL(LAVR_E_FORMAT, "packet log %s has no /%s group", log->path, stream_names[s]);
    }
    ls->group = H5Gopen2(log->file, stream_names[s], H5P_DEFAULT);
    LAVR_H5U_TRY(ls->group, log->what, stream_names[s]);
    ls->bytes = H5Dopen2(ls->group, "bytes", H5P_DEFAULT);
    LAVR_H5U_TRY(ls->bytes, log->what, "cannot open a bytes dataset");
    ls->index = H5Dopen2(ls->group, "index", H5P_DEFAULT);
    LAVR_H5U_TRY(ls->index, log->what, "cannot open an index dataset");
    hsize_t idims[2], bdims[1];
    TRY(extent(log, ls->index, 2, idims));
    TRY(extent(log, ls->bytes, 1, bdims));
    if (idims[1] != ROW_COLS) return LAVR_FAIL(LAVR_E_FORMAT, "packet log %s: index is not [n, 7]", log->path);
    ls->count = (int64_t)idims[0];
    ls->byte_count = (int64_t)bdims[0];
    return LAVR_OK;
}

/* ---- create / open / close -------------------------------------------------------------------- */

static lavr_status alloc_log(const char *path, lavr_packet_log **out) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    lavr_packet_log *log = calloc(1, sizeof *log);
    if (!log) return LAVR_FAIL(LAVR_E_NOMEM, "packet log %s", path);
    log->file = -1;
    for (int s = 0; s < 2; s++) log->streams[s].group = log->streams[s].bytes = log->streams[s].index = -1;
    snprintf(log->path, sizeof log->path, "%s", path);
    snprintf(log->what, sizeof log->what, "packet log %s", path);
    *out = log;
    return LAVR_OK;
}

static void release(lavr_packet_log *log) {
    for (int s = 0; s < 2; s++) {
        log_stream *ls = &log->streams[s];
        if (ls->bytes >= 0) H5Dclose(ls->bytes);
        if (ls->index >= 0) H5Dclose(ls->index);
        if (ls->group >= 0) H5Gclose(ls->group);
    }
    if (log->file >= 0) H5Fclose(log->file);
    H5Eclear2(H5E_DEFAULT);
    free(log);
}

lavr_status lavr_packet_log_create(const char *path, const lavr_packet_log_params *p, lavr_packet_log **out) {
    *out = NULL;
    CHECK_ARG(path && p && p->preset && p->audio_sha256, "lavr_packet_log_create: NULL argument");
    lavr_packet_log *log;
    TRY(alloc_log(path, &log));
    lavr_status st = lavr_h5u_create_file(path, "packet log", log->what, LOG_FORMAT, LOG_VERSION, &log->file);
    const char *snames[N_STRING_PARAMS], *svalues[N_STRING_PARAMS];
    string_params(p, snames, svalues);
    for (int i = 0; i < N_STRING_PARAMS && !st; i++)
        st = lavr_h5u_write_attr_string(log->file, log->what, snames[i], svalues[i]);
    const char *names[N_INT_PARAMS];
    int64_t values[N_INT_PARAMS];
    int_params(p, names, values);
    for (int i = 0; i < N_INT_PARAMS && !st; i++)
        st = lavr_h5u_write_attr_int(log->file, log->what, names[i], values[i]);
    if (!st) st = lavr_h5u_write_attr_int(log->file, log->what, "audio_complete", 0);
    for (int s = 0; s < 2 && !st; s++) st = create_stream(log, s);
    if (!st) st = lavr_packet_log_flush(log);
    if (st) {
        release(log);
        return st;
    }
    *out = log;
    return LAVR_OK;
}

static lavr_status check_params(lavr_packet_log *log, const lavr_packet_log_params *p) {
    char *format = NULL;
    TRY(lavr_h5u_read_attr_string(log->file, log->what, "format", &format));
    int bad = strcmp(format, LOG_FORMAT) != 0;
    free(format);
    if (bad) return LAVR_FAIL(LAVR_E_FORMAT, "'%s' is not a lavr packet log", log->path);
    int64_t version;
    TRY(lavr_h5u_read_attr_int(log->file, log->what, "format_version", &version));
    if (version != LOG_VERSION)
        return LAVR_FAIL(LAVR_E_FORMAT, "packet log %s has format_version %lld; this lavr reads %d", log->path,
                         (long long)version, LOG_VERSION);
    const char *names[N_INT_PARAMS];
    int64_t values[N_INT_PARAMS];
    int_params(p, names, values);
    for (int i = 0; i < N_INT_PARAMS; i++) {
        int64_t v;
        TRY(lavr_h5u_read_attr_int(log->file, log->what, names[i], &v));
        if (v != values[i])
            return LAVR_FAIL(LAVR_E_FORMAT, "packet log %s was written with %s %lld, this output has %lld", log->path,
                             names[i], (long long)v, (long long)values[i]);
    }
    const char *snames[N_STRING_PARAMS], *svalues[N_STRING_PARAMS];
    string_params(p, snames, svalues);
    for (int i = 0; i < N_STRING_PARAMS; i++) {
        char *v = NULL;
        TRY(lavr_h5u_read_attr_string(log->file, log->what, snames[i], &v));
        bad = strcmp(v, svalues[i]) != 0;
        lavr_status st = bad ? LAVR_FAIL(LAVR_E_FORMAT, "packet log %s was written with %s '%s', this output has '%s'",
                                         log->path, snames[i], v, svalues[i])
                             : LAVR_OK;
        free(v);
        TRY(st);
    }
    return LAVR_OK;
}

lavr_status lavr_packet_log_open(const char *path, const lavr_packet_log_params *p, lavr_packet_log **out) {
    *out = NULL;
    CHECK_ARG(path && p && p->preset && p->audio_sha256, "lavr_packet_log_open: NULL argument");
    FILE *probe = fopen(path, "rb");
    if (!probe) return LAVR_FAIL(LAVR_E_IO, "cannot open packet log '%s': %s", path, strerror(errno));
    fclose(probe);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (H5Fis_hdf5(path) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return LAVR_FAIL(LAVR_E_IO, "'%s' is not an HDF5 file (wrong format or empty)", path);
    }
    lavr_packet_log *log;
    TRY(alloc_log(path, &log));
    lavr_status st = LAVR_OK;
    log->file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (log->file < 0)
        st = lavr_h5u_fail(__FILE__, __LINE__, log->what, "cannot open (corrupt, truncated or read-only?)");
    if (!st) st = check_params(log, p);
    int64_t complete = 0;
    if (!st) st = lavr_h5u_read_attr_int(log->file, log->what, "audio_complete", &complete);
    log->audio_complete = complete != 0;
    for (int s = 0; s < 2 && !st; s++) st = open_stream(log, s);
    if (st) {
        release(log);
        return st;
    }
    *out = log;
    return LAVR_OK;
}

lavr_status lavr_packet_log_flush(lavr_packet_log *log) {
    LAVR_H5U_TRY(H5Fflush(log->file, H5F_SCOPE_GLOBAL), log->what, "cannot flush (disk full?)");
    return LAVR_OK;
}

lavr_status lavr_packet_log_close(lavr_packet_log *log) {
    if (!log) return LAVR_OK;
    lavr_status st = lavr_packet_log_flush(log);
    release(log);
    return st;
}

void lavr_packet_log_abandon(lavr_packet_log *log) {
    if (log) release(log);
}

/* ---- packets ---------------------------------------------------------------------------------- */

int64_t lavr_packet_log_count(const lavr_packet_log *log, lavr_log_stream s) { return log->streams[s].count; }

lavr_status lavr_packet_log_append(lavr_packet_log *log, lavr_log_stream s, lavr_packet_row *rows, int64_t n,
                                   const uint8_t *bytes) {
    log_stream *ls = &log->streams[s];
    int64_t *flat = malloc(sizeof(int64_t) * ROW_COLS * (size_t)(n > 0 ? n : 1));
    if (!flat) return LAVR_FAIL(LAVR_E_NOMEM, "packet log %s: %lld rows", log->path, (long long)n);
    int64_t offset = ls->byte_count;
    for (int64_t i = 0; i < n; i++) {
        rows[i].offset = offset;
        offset += rows[i].size;
        const lavr_packet_row *r = &rows[i];
        int64_t v[ROW_COLS] = {r->offset, r->size, r->pts, r->dts, r->duration, r->flags, r->segment};
        memcpy(flat + i * ROW_COLS, v, sizeof v);
    }
    lavr_status st = lavr_h5u_write_rows(ls->bytes, log->what, H5T_NATIVE_UINT8, ls->byte_count,
                                         offset - ls->byte_count, bytes, WRITE_FAIL);
    if (!st) st = lavr_h5u_write_rows(ls->index, log->what, H5T_NATIVE_INT64, ls->count, n, flat, WRITE_FAIL);
    free(flat);
    TRY(st);
    ls->count += n;
    ls->byte_count = offset;
    return LAVR_OK;
}

lavr_status lavr_packet_log_row(lavr_packet_log *log, lavr_log_stream s, int64_t i, lavr_packet_row *row) {
    log_stream *ls = &log->streams[s];
    CHECK_ARG(i >= 0 && i < ls->count, "packet log %s: %s packet %lld requested, it holds %lld", log->path,
              stream_names[s], (long long)i, (long long)ls->count);
    int64_t v[ROW_COLS];
    TRY(lavr_h5u_read_rows(ls->index, log->what, H5T_NATIVE_INT64, i, 1, v, READ_FAIL));
    *row = (lavr_packet_row){v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
    if (row->offset < 0 || row->size < 0 || row->offset + row->size > ls->byte_count)
        return LAVR_FAIL(LAVR_E_FORMAT, "packet log %s: %s packet %lld lies outside its bytes", log->path,
                         stream_names[s], (long long)i);
    return LAVR_OK;
}

lavr_status lavr_packet_log_read(lavr_packet_log *log, lavr_log_stream s, int64_t i, lavr_packet_row *row,
                                 uint8_t **buf, int64_t *cap) {
    log_stream *ls = &log->streams[s];
    TRY(lavr_packet_log_row(log, s, i, row));
    if (row->size > *cap) {
        uint8_t *grown = realloc(*buf, (size_t)row->size);
        if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "packet log %s: a %lld-byte packet", log->path, (long long)row->size);
        *buf = grown;
        *cap = row->size;
    }
    return lavr_h5u_read_rows(ls->bytes, log->what, H5T_NATIVE_UINT8, row->offset, row->size, *buf, READ_FAIL);
}

lavr_status lavr_packet_log_truncate(lavr_packet_log *log, lavr_log_stream s, int64_t n) {
    log_stream *ls = &log->streams[s];
    CHECK_ARG(n >= 0 && n <= ls->count, "packet log %s: cannot keep %lld of %lld %s packets", log->path, (long long)n,
              (long long)ls->count, stream_names[s]);
    int64_t bytes = 0;
    if (n > 0) {
        int64_t v[ROW_COLS];
        TRY(lavr_h5u_read_rows(ls->index, log->what, H5T_NATIVE_INT64, n - 1, 1, v, READ_FAIL));
        bytes = v[0] + v[1];
    }
    TRY(lavr_h5u_write_rows(ls->index, log->what, H5T_NATIVE_INT64, n, 0, NULL, WRITE_FAIL));
    TRY(lavr_h5u_write_rows(ls->bytes, log->what, H5T_NATIVE_UINT8, bytes, 0, NULL, WRITE_FAIL));
    ls->count = n;
    ls->byte_count = bytes;
    return LAVR_OK;
}

/* ---- extradata and completeness --------------------------------------------------------------- */

lavr_status lavr_packet_log_set_extradata(lavr_packet_log *log, lavr_log_stream s, const uint8_t *data, int64_t size) {
    log_stream *ls = &log->streams[s];
    if (H5Lexists(ls->group, "extradata", H5P_DEFAULT) > 0)
        LAVR_H5U_TRY(H5Ldelete(ls->group, "extradata", H5P_DEFAULT), log->what, "cannot replace extradata");
    hsize_t dims[1] = {(hsize_t)size};
    hid_t space = H5Screate_simple(1, dims, NULL);
    LAVR_H5U_TRY(space, log->what, "cannot create a dataspace");
    hid_t d = H5Dcreate2(ls->group, "extradata", H5T_STD_U8LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t r = d < 0 ? -1 : size > 0 ? H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
    if (d >= 0) H5Dclose(d);
    H5Sclose(space);
    LAVR_H5U_TRY(r, log->what, "cannot write extradata");
    return LAVR_OK;
}

lavr_status lavr_packet_log_get_extradata(lavr_packet_log *log, lavr_log_stream s, uint8_t **data, int64_t *size) {
    log_stream *ls = &log->streams[s];
    *data = NULL;
    *size = 0;
    if (H5Lexists(ls->group, "extradata", H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return LAVR_OK;
    }
    hid_t d = H5Dopen2(ls->group, "extradata", H5P_DEFAULT);
    LAVR_H5U_TRY(d, log->what, "cannot open extradata");
    hsize_t dims[1];
    lavr_status st = extent(log, d, 1, dims);
    if (!st && dims[0] > 0) {
        *data = malloc((size_t)dims[0]);
        if (!*data) st = LAVR_FAIL(LAVR_E_NOMEM, "packet log %s: extradata", log->path);
        else if (H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, *data) < 0)
            st = lavr_h5u_fail(__FILE__, __LINE__, log->what, "cannot read extradata");
    }
    H5Dclose(d);
    if (st) {
        free(*data);
        *data = NULL;
        return st;
    }
    *size = (int64_t)dims[0];
    return LAVR_OK;
}

lavr_status lavr_packet_log_set_audio_complete(lavr_packet_log *log, int complete) {
    TRY(lavr_h5u_write_attr_int(log->file, log->what, "audio_complete", complete ? 1 : 0));
    log->audio_complete = complete != 0;
    return LAVR_OK;
}

int lavr_packet_log_audio_complete(const lavr_packet_log *log) { return log->audio_complete; }
