/* HDF5 tensor store (io/h5model.h) on the HDF5 1.10 C API: chunked datasets, 16/8-bit float
 * types kept as raw integers with a `dtype` attribute, hyperslab slices, string/number attributes. */
#include "io/h5model.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/h5util.h"

struct lavr_h5file {
    hid_t file;
    int writable;
    char path[4096];
    const lavr_h5_source *src; /* lavr_h5_open_source: no HDF5 file behind it */
    void *user;
};

/* The refusal of what a callback source cannot do. */
#define NOT_SOURCE(f, what)                                                                            \
    do {                                                                                               \
        if ((f) && (f)->src)                                                                           \
            return LAVR_FAIL(LAVR_E_UNSUPPORTED, "%s: %s is generated, not a file", what, (f)->path); \
    } while (0)

/* Chunks hold whole trailing rows up to this many bytes, so a row-range read touches few chunks. */
#define CHUNK_TARGET_BYTES (1 << 20)

#define H5FAIL(code, f, ...)                                                                           \
    do {                                                                                               \
        char detail_[160];                                                                             \
        char what_[600];                                                                               \
        snprintf(what_, sizeof what_, __VA_ARGS__);                                                    \
        return LAVR_FAIL(code, "%s in %s (%s)", what_, (f)->path, lavr_h5u_detail(detail_));                 \
    } while (0)

static void silence_hdf5(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

const char *lavr_h5_path(const lavr_h5file *f) { return f ? f->path : "(null)"; }

/* "weights/x" and "/weights/x" name the same object; HDF5 resolves both from the file id. */
static const char *skip_slash(const char *path) {
    while (*path == '/') path++;
    return *path ? path : ".";
}

lavr_status lavr_h5_open(const char *path, lavr_h5file **out) {
    CHECK_ARG(path && out, "lavr_h5_open: NULL argument");
    *out = NULL;
    silence_hdf5();
    struct stat st;
    if (stat(path, &st) != 0) return LAVR_FAIL(LAVR_E_IO, "cannot open '%s': %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return LAVR_FAIL(LAVR_E_IO, "cannot open '%s': not a regular file", path);
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return LAVR_FAIL(LAVR_E_IO, "'%s' is not an HDF5 file (wrong format or empty)", path);
    }
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        char detail[160];
        return LAVR_FAIL(LAVR_E_IO, "cannot open HDF5 file '%s': corrupt or truncated (%s)", path, lavr_h5u_detail(detail));
    }
    lavr_h5file *f = calloc(1, sizeof *f);
    if (!f) {
        H5Fclose(file);
        return LAVR_FAIL(LAVR_E_NOMEM, "out of memory opening '%s'", path);
    }
    f->file = file;
    snprintf(f->path, sizeof f->path, "%s", path);
    *out = f;
    return LAVR_OK;
}

lavr_status lavr_h5_create(const char *path, lavr_h5file **out) {
    CHECK_ARG(path && out, "lavr_h5_create: NULL argument");
    *out = NULL;
    silence_hdf5();
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
        char detail[160];
        return LAVR_FAIL(LAVR_E_IO, "cannot create HDF5 file '%s': %s (%s)", path, strerror(errno), lavr_h5u_detail(detail));
    }
    lavr_h5file *f = calloc(1, sizeof *f);
    if (!f) {
        H5Fclose(file);
        return LAVR_FAIL(LAVR_E_NOMEM, "out of memory creating '%s'", path);
    }
    f->file = file;
    f->writable = 1;
    snprintf(f->path, sizeof f->path, "%s", path);
    *out = f;
    return LAVR_OK;
}

lavr_status lavr_h5_close(lavr_h5file *f) {
    if (!f) return LAVR_OK;
    if (f->src) {
        if (f->src->close) f->src->close(f->user);
        free(f);
        return LAVR_OK;
    }
    lavr_status st = LAVR_OK;
    if (f->writable && H5Fflush(f->file, H5F_SCOPE_GLOBAL) < 0) {
        char detail[160];
        st = LAVR_FAIL(LAVR_E_IO, "cannot flush '%s' (%s)", f->path, lavr_h5u_detail(detail));
    }
    if (H5Fclose(f->file) < 0 && !st) {
        char detail[160];
        st = LAVR_FAIL(LAVR_E_IO, "cannot close '%s' (%s)", f->path, lavr_h5u_detail(detail));
    }
    free(f);
    return st;
}

lavr_status lavr_h5_open_source(const char *name, const lavr_h5_source *src, void *user, lavr_h5file **out) {
    CHECK_ARG(name && src && src->lookup && src->read_rows && src->attr && out, "lavr_h5_open_source: NULL argument");
    lavr_h5file *f = calloc(1, sizeof *f);
    if (!f) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory opening '%s'", name);
    f->file = -1;
    f->src = src;
    f->user = user;
    snprintf(f->path, sizeof f->path, "%s", name);
    *out = f;
    return LAVR_OK;
}

int lavr_h5_is_source(const lavr_h5file *f, const lavr_h5_source *src) {
    return f && f->src && (!src || f->src == src);
}
void *lavr_h5_source_user(const lavr_h5file *f) { return f && f->src ? f->user : NULL; }

/* A source's path as its callbacks take it: no leading slash, "" for the root. */
static const char *source_path(const char *path) {
    while (*path == '/') path++;
    return path;
}

int lavr_h5_exists(lavr_h5file *f, const char *path) {
    if (!f || !path) return 0;
    if (f->src) {
        lavr_tensor desc;
        return f->src->lookup(f->user, source_path(path), &desc) != 0;
    }
    const char *p = skip_slash(path);
    if (strcmp(p, ".") == 0) return 1;
    /* H5Lexists needs every parent to exist, so check the path one component at a time. */
    char prefix[1024];
    size_t n = strlen(p);
    if (n >= sizeof prefix) return 0;
    for (size_t i = 0; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        memcpy(prefix, p, i);
        prefix[i] = 0;
        htri_t e = H5Lexists(f->file, prefix, H5P_DEFAULT);
        if (e <= 0) {
            H5Eclear2(H5E_DEFAULT);
            return 0;
        }
    }
    return 1;
}

/* ---- types --------------------------------------------------------------------------------- */

static hid_t file_type_of(lavr_dtype t) {
    switch (t) {
    case LAVR_F32: return H5T_IEEE_F32LE;
    case LAVR_F64: return H5T_IEEE_F64LE;
    case LAVR_BF16:
    case LAVR_F16: return H5T_STD_U16LE;
    case LAVR_FP8_E4M3:
    case LAVR_U8: return H5T_STD_U8LE;
    case LAVR_I32: return H5T_STD_I32LE;
    case LAVR_I64: return H5T_STD_I64LE;
    default: return -1;
    }
}

static hid_t mem_type_of(lavr_dtype t) {
    switch (t) {
    case LAVR_F32: return H5T_NATIVE_FLOAT;
    case LAVR_F64: return H5T_NATIVE_DOUBLE;
    case LAVR_BF16:
    case LAVR_F16: return H5T_NATIVE_UINT16;
    case LAVR_FP8_E4M3:
    case LAVR_U8: return H5T_NATIVE_UINT8;
    case LAVR_I32: return H5T_NATIVE_INT32;
    case LAVR_I64: return H5T_NATIVE_INT64;
    default: return -1;
    }
}

/* The lavr dtype of an HDF5 storage type, or -1 when lavr has no equivalent. */
static int dtype_of_h5type(hid_t type, lavr_dtype *out) {
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    if (cls == H5T_FLOAT) {
        if (size == 4) *out = LAVR_F32;
        else if (size == 8) *out = LAVR_F64;
        else return -1;
        return 0;
    }
    if (cls == H5T_INTEGER) {
        H5T_sign_t sign = H5Tget_sign(type);
        if (size == 1) *out = LAVR_U8;
        else if (size == 2 && sign == H5T_SGN_NONE) *out = LAVR_BF16; /* only valid with a dtype attribute */
        else if (size == 4 && sign == H5T_SGN_2) *out = LAVR_I32;
        else if (size == 8 && sign == H5T_SGN_2) *out = LAVR_I64;
        else return -1;
        return 0;
    }
    return -1;
}

static lavr_status read_attr_string_id(lavr_h5file *f, hid_t obj, const char *objname, const char *name, char **out);

/* Opens a dataset with the "not found" message the header promises. */
static lavr_status open_dataset(lavr_h5file *f, const char *path, hid_t *out) {
    NOT_SOURCE(f, "writing a dataset");
    if (!lavr_h5_exists(f, path)) return LAVR_FAIL(LAVR_E_FORMAT, "tensor '%s' not found in %s", path, f->path);
    hid_t d = H5Dopen2(f->file, skip_slash(path), H5P_DEFAULT);
    if (d < 0) H5FAIL(LAVR_E_FORMAT, f, "'%s' is not a dataset", path);
    *out = d;
    return LAVR_OK;
}

/* Shape and dtype of an open dataset: the `dtype` attribute decides when its element size matches
 * the stored type (bf16/f16 in uint16, fp8 in uint8); otherwise the HDF5 type does. */
static lavr_status describe(lavr_h5file *f, hid_t d, const char *path, lavr_tensor *desc) {
    hid_t space = H5Dget_space(d);
    if (space < 0) H5FAIL(LAVR_E_IO, f, "cannot read the shape of '%s'", path);
    int ndim = H5Sget_simple_extent_ndims(space);
    hsize_t dims[H5S_MAX_RANK];
    if (ndim < 0 || ndim > LAVR_MAX_DIMS || H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        H5Sclose(space);
        return LAVR_FAIL(LAVR_E_FORMAT, "tensor '%s' in %s has %d dims (lavr supports at most %d)", path, f->path, ndim,
                         LAVR_MAX_DIMS);
    }
    H5Sclose(space);
    hid_t type = H5Dget_type(d);
    if (type < 0) H5FAIL(LAVR_E_IO, f, "cannot read the type of '%s'", path);
    lavr_dtype dt;
    int known = dtype_of_h5type(type, &dt) == 0;
    size_t stored_size = H5Tget_size(type);
    H5Tclose(type);
    if (H5Aexists(d, "dtype") > 0) {
        char *name = NULL;
        TRY(read_attr_string_id(f, d, path, "dtype", &name));
        lavr_dtype named;
        if (lavr_dtype_from_name(name, &named) == 0 && lavr_dtype_size(named) == stored_size) {
            dt = named;
            known = 1;
        }
        free(name);
    } else {
        H5Eclear2(H5E_DEFAULT); /* a bare uint16 dataset is taken as raw bf16 bits (dtype_of_h5type) */
    }
    if (!known) return LAVR_FAIL(LAVR_E_FORMAT, "tensor '%s' in %s has an HDF5 type lavr cannot read", path, f->path);
    int64_t shape[LAVR_MAX_DIMS];
    for (int i = 0; i < ndim; i++) shape[i] = (int64_t)dims[i];
    return lavr_tensor_desc(dt, ndim, shape, desc);
}

/* A source's dataset description, with the "not found" message of open_dataset. */
static lavr_status source_info(lavr_h5file *f, const char *path, lavr_tensor *desc) {
    if (f->src->lookup(f->user, source_path(path), desc) != 1)
        return LAVR_FAIL(LAVR_E_FORMAT, "tensor '%s' not found in %s", path, f->path);
    desc->data = NULL;
    return LAVR_OK;
}

lavr_status lavr_h5_info(lavr_h5file *f, const char *path, lavr_tensor *desc) {
    CHECK_ARG(f && path && desc, "lavr_h5_info: NULL argument");
    if (f->src) return source_info(f, path, desc);
    hid_t d;
    TRY(open_dataset(f, path, &d));
    lavr_status st = describe(f, d, path, desc);
    H5Dclose(d);
    return st;
}

/* ---- reading ------------------------------------------------------------------------------- */

/* Reads the selection [start, start+count) of dataset d into buf (stored dtype). start NULL = all. */
static lavr_status read_selection(lavr_h5file *f, hid_t d, const char *path, const lavr_tensor *desc,
                                  const int64_t *start, const int64_t *count, void *buf) {
    hid_t filespace = H5S_ALL, memspace = H5S_ALL;
    if (start) {
        hsize_t hstart[LAVR_MAX_DIMS], hcount[LAVR_MAX_DIMS];
        for (int i = 0; i < desc->ndim; i++) hstart[i] = (hsize_t)start[i], hcount[i] = (hsize_t)count[i];
        filespace = H5Dget_space(d);
        if (filespace < 0) H5FAIL(LAVR_E_IO, f, "cannot read the shape of '%s'", path);
        if (desc->ndim > 0 && H5Sselect_hyperslab(filespace, H5S_SELECT_SET, hstart, NULL, hcount, NULL) < 0) {
            H5Sclose(filespace);
            H5FAIL(LAVR_E_IO, f, "cannot select a slice of '%s'", path);
        }
        memspace = desc->ndim > 0 ? H5Screate_simple(desc->ndim, hcount, NULL) : H5Screate(H5S_SCALAR);
        if (memspace < 0) {
            H5Sclose(filespace);
            H5FAIL(LAVR_E_IO, f, "cannot describe a slice of '%s'", path);
        }
    }
    herr_t r = H5Dread(d, mem_type_of(desc->dtype), memspace, filespace, H5P_DEFAULT, buf);
    if (start) {
        H5Sclose(memspace);
        H5Sclose(filespace);
    }
    if (r < 0) H5FAIL(LAVR_E_IO, f, "cannot read tensor '%s' (file truncated or corrupt?)", path);
    return LAVR_OK;
}

/* The box [start, start + count) of a source's dataset: the rows it spans are made whole, then the box is copied
 * out of them run by run (a run = the box's extent along the last dim). */
static lavr_status source_box(lavr_h5file *f, const char *path, const lavr_tensor *full, const int64_t *start,
                              const int64_t *count, void *out) {
    const int nd = full->ndim;
    const size_t es = lavr_dtype_size(full->dtype);
    int64_t row = 1, n = 1;
    for (int i = 1; i < nd; i++) row *= full->shape[i];
    for (int i = 0; i < nd; i++) n *= count[i];
    if (n == 0) return LAVR_OK;
    int whole = 1;
    for (int i = 1; i < nd; i++) whole &= start[i] == 0 && count[i] == full->shape[i];
    if (whole) return f->src->read_rows(f->user, source_path(path), start[0], count[0], out);
    uint8_t *rows = malloc((size_t)(count[0] * row) * es);
    if (!rows) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory reading a slice of '%s' from %s", path, f->path);
    lavr_status st = f->src->read_rows(f->user, source_path(path), start[0], count[0], rows);
    const int64_t run = count[nd - 1];
    int64_t idx[LAVR_MAX_DIMS] = {0}; /* position inside the box, the last dim always 0 */
    for (int64_t done = 0; !st && done < n; done += run) {
        int64_t off = idx[0] * row, stride = row;
        for (int i = 1; i < nd; i++) {
            stride /= full->shape[i];
            off += (start[i] + idx[i]) * stride;
        }
        memcpy((uint8_t *)out + (size_t)done * es, rows + (size_t)off * es, (size_t)run * es);
        for (int i = nd - 2; i >= 0; i--) {
            if (++idx[i] < count[i]) break;
            idx[i] = 0;
        }
    }
    free(rows);
    return st;
}

static lavr_status source_read(lavr_h5file *f, const char *path, const int64_t *start, const int64_t *count,
                               lavr_arena *arena, lavr_tensor *out) {
    lavr_tensor full;
    TRY(source_info(f, path, &full));
    int64_t s0[LAVR_MAX_DIMS] = {0}, c0[LAVR_MAX_DIMS];
    for (int i = 0; i < full.ndim; i++) {
        c0[i] = full.shape[i];
        if (!start) continue;
        if (start[i] < 0 || count[i] < 0 || start[i] + count[i] > full.shape[i])
            return LAVR_FAIL(LAVR_E_ARG, "slice [%lld, %lld) of dim %d is outside tensor '%s' (size %lld) in %s",
                             (long long)start[i], (long long)(start[i] + count[i]), i, path, (long long)full.shape[i],
                             f->path);
        s0[i] = start[i], c0[i] = count[i];
    }
    TRY(lavr_tensor_alloc(arena, full.dtype, full.ndim, c0, path, out));
    lavr_status st = full.ndim == 0 ? f->src->read_rows(f->user, source_path(path), 0, 1, out->data)
                                    : source_box(f, path, &full, s0, c0, out->data);
    if (st) lavr_tensor_free(out);
    return st;
}

static lavr_status read_common(lavr_h5file *f, const char *path, const int64_t *start, const int64_t *count,
                               lavr_arena *arena, lavr_tensor *out) {
    CHECK_ARG(f && path && out, "lavr_h5_read: NULL argument");
    if (f->src) return source_read(f, path, start, count, arena, out);
    hid_t d;
    TRY(open_dataset(f, path, &d));
    lavr_tensor desc;
    lavr_status st = describe(f, d, path, &desc);
    if (!st && start) {
        for (int i = 0; i < desc.ndim; i++) {
            if (start[i] < 0 || count[i] < 0 || start[i] + count[i] > desc.shape[i]) {
                st = LAVR_FAIL(LAVR_E_ARG, "slice [%lld, %lld) of dim %d is outside tensor '%s' (size %lld) in %s",
                               (long long)start[i], (long long)(start[i] + count[i]), i, path,
                               (long long)desc.shape[i], f->path);
                break;
            }
            desc.shape[i] = count[i];
        }
    }
    if (!st) st = lavr_tensor_alloc(arena, desc.dtype, desc.ndim, desc.shape, path, out);
    if (!st) {
        int64_t n = lavr_tensor_numel(out);
        if (n > 0) st = read_selection(f, d, path, &desc, start, count, out->data);
        if (st) lavr_tensor_free(out);
    }
    H5Dclose(d);
    return st;
}

lavr_status lavr_h5_read(lavr_h5file *f, const char *path, lavr_arena *arena, lavr_tensor *out) {
    return read_common(f, path, NULL, NULL, arena, out);
}

lavr_status lavr_h5_read_slice(lavr_h5file *f, const char *path, const int64_t *start, const int64_t *count,
                               lavr_arena *arena, lavr_tensor *out) {
    CHECK_ARG(start && count, "lavr_h5_read_slice: NULL start/count for '%s'", path ? path : "?");
    return read_common(f, path, start, count, arena, out);
}

lavr_status lavr_h5_read_f32(lavr_h5file *f, const char *path, lavr_arena *arena, lavr_tensor *out) {
    CHECK_ARG(f && path && out, "lavr_h5_read_f32: NULL argument");
    lavr_tensor stored;
    TRY(read_common(f, path, NULL, NULL, arena, &stored));
    if (stored.dtype == LAVR_F32) {
        *out = stored;
        return LAVR_OK;
    }
    lavr_status st = lavr_tensor_alloc(arena, LAVR_F32, stored.ndim, stored.shape, path, out);
    if (!st) st = lavr_tensor_copy(out, &stored);
    if (st) lavr_tensor_free(out);
    lavr_tensor_free(&stored);
    return st;
}

static const char *shape_text(int ndim, const int64_t *shape, char *buf, size_t len) {
    size_t used = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < ndim && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (used < len) snprintf(buf + used, len - used, "]");
    return buf;
}

lavr_status lavr_h5_read_expect(lavr_h5file *f, const char *path, int ndim, const int64_t *shape,
                                lavr_arena *arena, lavr_tensor *out) {
    CHECK_ARG(f && path && shape && out, "lavr_h5_read_expect: NULL argument");
    lavr_tensor desc;
    TRY(lavr_h5_info(f, path, &desc));
    int same = desc.ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = desc.shape[i] == shape[i];
    if (!same) {
        char want[128], got[128];
        return LAVR_FAIL(LAVR_E_FORMAT, "tensor '%s' in %s has shape %s, expected %s", path, f->path,
                         shape_text(desc.ndim, desc.shape, got, sizeof got), shape_text(ndim, shape, want, sizeof want));
    }
    return lavr_h5_read(f, path, arena, out);
}

/* ---- writing ------------------------------------------------------------------------------- */

static lavr_status write_attr_string_id(lavr_h5file *f, hid_t obj, const char *objname, const char *name,
                                        const char *value);

static hid_t link_create_plist(void) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl >= 0 && H5Pset_create_intermediate_group(lcpl, 1) < 0) {
        H5Pclose(lcpl);
        return -1;
    }
    return lcpl;
}

/* Chunk = whole trailing rows while they fit CHUNK_TARGET_BYTES; the first dim that does not fit
 * is cut to what does (at least 1) and the dims before it get 1. */
static void chunk_shape(int ndim, const int64_t *shape, size_t esize, hsize_t *chunk) {
    uint64_t inner = esize;
    int full = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        if (!full) {
            chunk[i] = 1;
            continue;
        }
        uint64_t fit = CHUNK_TARGET_BYTES / inner;
        if (fit >= (uint64_t)shape[i]) {
            chunk[i] = (hsize_t)shape[i];
            inner *= (uint64_t)shape[i];
        } else {
            chunk[i] = fit ? (hsize_t)fit : 1;
            full = 0;
        }
    }
}

lavr_status lavr_h5_create_dataset(lavr_h5file *f, const char *path, lavr_dtype dtype, int ndim,
                                   const int64_t *shape, int compress_level) {
    return lavr_h5_create_dataset_chunked(f, path, dtype, ndim, shape, NULL, compress_level);
}

lavr_status lavr_h5_create_dataset_chunked(lavr_h5file *f, const char *path, lavr_dtype dtype, int ndim,
                                           const int64_t *shape, const int64_t *chunks, int compress_level) {
    CHECK_ARG(f && path && (shape || ndim == 0), "lavr_h5_create_dataset: NULL argument");
    CHECK_ARG(f->writable, "cannot write '%s': %s is open read-only", path, f->path);
    CHECK_ARG(ndim >= 0 && ndim <= LAVR_MAX_DIMS, "tensor '%s': %d dims (at most %d)", path, ndim, LAVR_MAX_DIMS);
    CHECK_ARG(compress_level >= 0 && compress_level <= 9, "compression level %d for '%s' is outside 0..9",
              compress_level, path);
    hid_t ftype = file_type_of(dtype);
    CHECK_ARG(ftype >= 0, "tensor '%s': dtype %d cannot be stored", path, (int)dtype);
    hsize_t dims[LAVR_MAX_DIMS], chunk[LAVR_MAX_DIMS];
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        CHECK_ARG(shape[i] >= 0, "tensor '%s': negative dim %lld", path, (long long)shape[i]);
        dims[i] = (hsize_t)shape[i];
        numel *= shape[i];
    }
    hid_t space = ndim ? H5Screate_simple(ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    if (space < 0) H5FAIL(LAVR_E_HDF5, f, "cannot create the dataspace of '%s'", path);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t lcpl = link_create_plist();
    lavr_status st = LAVR_OK;
    if (dcpl < 0 || lcpl < 0) {
        char detail[160];
        st = LAVR_FAIL(LAVR_E_HDF5, "cannot create property lists for '%s' in %s (%s)", path, f->path, lavr_h5u_detail(detail));
    }
    /* Empty and scalar tensors cannot be chunked; they stay contiguous. */
    if (!st && ndim > 0 && numel > 0) {
        chunk_shape(ndim, shape, lavr_dtype_size(dtype), chunk);
        for (int i = 0; chunks && i < ndim; i++)
            chunk[i] = (hsize_t)(chunks[i] < 1 ? 1 : chunks[i] > shape[i] ? (shape[i] > 0 ? shape[i] : 1) : chunks[i]);
        herr_t r = H5Pset_chunk(dcpl, ndim, chunk);
        if (r >= 0 && compress_level > 0) r = H5Pset_shuffle(dcpl);
        if (r >= 0 && compress_level > 0) r = H5Pset_deflate(dcpl, (unsigned)compress_level);
        if (r < 0) {
            char detail[160];
            st = LAVR_FAIL(LAVR_E_HDF5, "cannot set the layout of '%s' in %s (%s)", path, f->path, lavr_h5u_detail(detail));
        }
    }
    hid_t d = -1;
    if (!st) {
        d = H5Dcreate2(f->file, skip_slash(path), ftype, space, lcpl, dcpl, H5P_DEFAULT);
        if (d < 0) {
            char detail[160];
            st = LAVR_FAIL(LAVR_E_IO, "cannot create tensor '%s' in %s (exists already or disk full?) (%s)", path,
                           f->path, lavr_h5u_detail(detail));
        }
    }
    if (!st) st = write_attr_string_id(f, d, path, "dtype", lavr_dtype_name(dtype));
    if (d >= 0) H5Dclose(d);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (lcpl >= 0) H5Pclose(lcpl);
    H5Sclose(space);
    return st;
}

/* Writes t at start[] (t->ndim entries; NULL for a scalar) of a dataset of the same dtype and rank. */
static lavr_status write_at(lavr_h5file *f, const char *path, const int64_t *start_at, const lavr_tensor *t) {
    CHECK_ARG(lavr_tensor_is_contiguous(t), "cannot write '%s': the tensor is not contiguous", path);
    hid_t d;
    TRY(open_dataset(f, path, &d));
    lavr_tensor desc;
    lavr_status st = describe(f, d, path, &desc);
    if (!st) {
        int ok = desc.dtype == t->dtype && desc.ndim == t->ndim;
        for (int i = 0; ok && i < t->ndim; i++)
            ok = start_at[i] >= 0 && start_at[i] + t->shape[i] <= desc.shape[i];
        if (!ok) {
            char have[128], want[128], at[128];
            st = LAVR_FAIL(LAVR_E_ARG, "cannot write %s %s at %s of tensor '%s' (%s %s) in %s",
                           lavr_dtype_name(t->dtype), shape_text(t->ndim, t->shape, have, sizeof have),
                           shape_text(t->ndim, start_at, at, sizeof at), path, lavr_dtype_name(desc.dtype),
                           shape_text(desc.ndim, desc.shape, want, sizeof want), f->path);
        }
    }
    if (!st && lavr_tensor_numel(t) > 0) {
        hid_t filespace = H5S_ALL, memspace = H5S_ALL;
        if (t->ndim > 0) {
            hsize_t start[LAVR_MAX_DIMS] = {0}, count[LAVR_MAX_DIMS];
            for (int i = 0; i < t->ndim; i++) start[i] = (hsize_t)start_at[i];
            for (int i = 0; i < t->ndim; i++) count[i] = (hsize_t)t->shape[i];
            filespace = H5Dget_space(d);
            memspace = H5Screate_simple(t->ndim, count, NULL);
            if (filespace < 0 || memspace < 0 ||
                H5Sselect_hyperslab(filespace, H5S_SELECT_SET, start, NULL, count, NULL) < 0) {
                char detail[160];
                st = LAVR_FAIL(LAVR_E_HDF5, "cannot select rows of '%s' in %s (%s)", path, f->path, lavr_h5u_detail(detail));
            }
        }
        if (!st && H5Dwrite(d, mem_type_of(t->dtype), memspace, filespace, H5P_DEFAULT, t->data) < 0) {
            char detail[160];
            st = LAVR_FAIL(LAVR_E_IO, "cannot write tensor '%s' to %s (disk full?) (%s)", path, f->path, lavr_h5u_detail(detail));
        }
        if (memspace != H5S_ALL && memspace >= 0) H5Sclose(memspace);
        if (filespace != H5S_ALL && filespace >= 0) H5Sclose(filespace);
    }
    H5Dclose(d);
    return st;
}

lavr_status lavr_h5_write_rows(lavr_h5file *f, const char *path, int64_t row0, const lavr_tensor *t) {
    CHECK_ARG(f && path && t, "lavr_h5_write_rows: NULL argument");
    CHECK_ARG(t->ndim > 0 || row0 == 0, "cannot write a scalar at row %lld of '%s'", (long long)row0, path);
    int64_t start[LAVR_MAX_DIMS] = {0};
    start[0] = row0;
    return write_at(f, path, start, t);
}

lavr_status lavr_h5_write_slice(lavr_h5file *f, const char *path, const int64_t *start, const lavr_tensor *t) {
    CHECK_ARG(f && path && t && (start || t->ndim == 0), "lavr_h5_write_slice: NULL argument");
    return write_at(f, path, start, t);
}

lavr_status lavr_h5_copy(lavr_h5file *src, const char *path, lavr_h5file *dst) {
    CHECK_ARG(src && path && dst, "lavr_h5_copy: NULL argument");
    NOT_SOURCE(src, "copying a dataset");
    CHECK_ARG(dst->writable, "cannot copy '%s' into %s: it is open read-only", path, dst->path);
    if (!lavr_h5_exists(src, path)) return LAVR_FAIL(LAVR_E_FORMAT, "'%s' not found in %s", path, src->path);
    hid_t lcpl = link_create_plist();
    herr_t r = lcpl < 0 ? -1 : H5Ocopy(src->file, skip_slash(path), dst->file, skip_slash(path), H5P_DEFAULT, lcpl);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (r < 0) {
        char detail[160];
        return LAVR_FAIL(LAVR_E_IO, "cannot copy '%s' from %s to %s (disk full?) (%s)", path, src->path, dst->path,
                         lavr_h5u_detail(detail));
    }
    return LAVR_OK;
}

lavr_status lavr_h5_write(lavr_h5file *f, const char *path, const lavr_tensor *t, int compress_level) {
    CHECK_ARG(f && path && t, "lavr_h5_write: NULL argument");
    CHECK_ARG(lavr_tensor_is_contiguous(t), "cannot write '%s': the tensor is not contiguous", path);
    TRY(lavr_h5_create_dataset(f, path, t->dtype, t->ndim, t->shape, compress_level));
    return lavr_h5_write_rows(f, path, 0, t);
}

/* ---- attributes ---------------------------------------------------------------------------- */

static lavr_status open_object(lavr_h5file *f, const char *obj, hid_t *out) {
    CHECK_ARG(f && obj, "NULL HDF5 object name");
    NOT_SOURCE(f, "writing an attribute");
    if (!lavr_h5_exists(f, obj)) return LAVR_FAIL(LAVR_E_FORMAT, "object '%s' not found in %s", obj, f->path);
    hid_t o = H5Oopen(f->file, skip_slash(obj), H5P_DEFAULT);
    if (o < 0) H5FAIL(LAVR_E_IO, f, "cannot open object '%s'", obj);
    *out = o;
    return LAVR_OK;
}

/* Replaces an attribute: deletes an old one of the same name first. */
static lavr_status write_attr_id(lavr_h5file *f, hid_t obj, const char *objname, const char *name, hid_t ftype,
                                 hid_t mtype, const void *value) {
    CHECK_ARG(f->writable, "cannot write attribute '%s': %s is open read-only", name, f->path);
    htri_t e = H5Aexists(obj, name);
    if (e > 0 && H5Adelete(obj, name) < 0) H5FAIL(LAVR_E_HDF5, f, "cannot replace attribute '%s' of '%s'", name, objname);
    hid_t space = H5Screate(H5S_SCALAR);
    if (space < 0) H5FAIL(LAVR_E_HDF5, f, "cannot create attribute '%s' of '%s'", name, objname);
    hid_t a = H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(space);
    if (a < 0) H5FAIL(LAVR_E_HDF5, f, "cannot create attribute '%s' of '%s'", name, objname);
    herr_t r = H5Awrite(a, mtype, value);
    H5Aclose(a);
    if (r < 0) H5FAIL(LAVR_E_IO, f, "cannot write attribute '%s' of '%s'", name, objname);
    return LAVR_OK;
}

static lavr_status write_attr_string_id(lavr_h5file *f, hid_t obj, const char *objname, const char *name,
                                        const char *value) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0 || H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        if (t >= 0) H5Tclose(t);
        H5FAIL(LAVR_E_HDF5, f, "cannot make a string type for attribute '%s' of '%s'", name, objname);
    }
    lavr_status st = write_attr_id(f, obj, objname, name, t, t, &value);
    H5Tclose(t);
    return st;
}

/* Reads variable-length and fixed-length string attributes alike. */
static lavr_status read_attr_string_id(lavr_h5file *f, hid_t obj, const char *objname, const char *name, char **out) {
    *out = NULL;
    if (H5Aexists(obj, name) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return LAVR_FAIL(LAVR_E_FORMAT, "attribute '%s' of '%s' not found in %s", name, objname, f->path);
    }
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) H5FAIL(LAVR_E_IO, f, "cannot open attribute '%s' of '%s'", name, objname);
    hid_t ftype = H5Aget_type(a);
    lavr_status st = LAVR_OK;
    if (ftype < 0 || H5Tget_class(ftype) != H5T_STRING) {
        st = LAVR_FAIL(LAVR_E_FORMAT, "attribute '%s' of '%s' in %s is not a string", name, objname, f->path);
    } else if (H5Tis_variable_str(ftype) > 0) {
        hid_t mtype = H5Tcopy(H5T_C_S1);
        H5Tset_size(mtype, H5T_VARIABLE);
        H5Tset_cset(mtype, H5Tget_cset(ftype));
        char *value = NULL;
        if (H5Aread(a, mtype, &value) < 0 || !value) {
            char detail[160];
            st = LAVR_FAIL(LAVR_E_IO, "cannot read attribute '%s' of '%s' in %s (%s)", name, objname, f->path,
                           lavr_h5u_detail(detail));
        } else {
            *out = strdup(value);
            hid_t space = H5Aget_space(a);
            H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, &value);
            H5Sclose(space);
            if (!*out) st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory reading attribute '%s'", name);
        }
        H5Tclose(mtype);
    } else {
        size_t size = H5Tget_size(ftype);
        char *value = calloc(1, size + 1);
        hid_t mtype = H5Tcopy(H5T_C_S1);
        H5Tset_size(mtype, size + 1);
        if (!value) {
            st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory reading attribute '%s'", name);
        } else if (H5Aread(a, mtype, value) < 0) {
            char detail[160];
            st = LAVR_FAIL(LAVR_E_IO, "cannot read attribute '%s' of '%s' in %s (%s)", name, objname, f->path,
                           lavr_h5u_detail(detail));
            free(value);
        } else {
            *out = value;
        }
        H5Tclose(mtype);
    }
    if (ftype >= 0) H5Tclose(ftype);
    H5Aclose(a);
    return st;
}

lavr_status lavr_h5_write_attr_string(lavr_h5file *f, const char *obj, const char *name, const char *value) {
    CHECK_ARG(name && value, "lavr_h5_write_attr_string: NULL argument");
    hid_t o;
    TRY(open_object(f, obj, &o));
    lavr_status st = write_attr_string_id(f, o, obj, name, value);
    H5Oclose(o);
    return st;
}

/* A source's attribute text, or the "not found" message of the file reads. */
static lavr_status source_attr(lavr_h5file *f, const char *obj, const char *name, const char **out) {
    *out = f->src->attr(f->user, source_path(obj), name);
    if (!*out) return LAVR_FAIL(LAVR_E_FORMAT, "attribute '%s' of '%s' not found in %s", name, obj, f->path);
    return LAVR_OK;
}

lavr_status lavr_h5_read_attr_string(lavr_h5file *f, const char *obj, const char *name, char **out) {
    CHECK_ARG(name && out, "lavr_h5_read_attr_string: NULL argument");
    if (f && f->src) {
        const char *text;
        TRY(source_attr(f, obj, name, &text));
        *out = strdup(text);
        return *out ? LAVR_OK : LAVR_FAIL(LAVR_E_NOMEM, "out of memory reading attribute '%s'", name);
    }
    hid_t o;
    TRY(open_object(f, obj, &o));
    lavr_status st = read_attr_string_id(f, o, obj, name, out);
    H5Oclose(o);
    return st;
}

static lavr_status read_attr_number(lavr_h5file *f, const char *obj, const char *name, hid_t mtype, void *out) {
    CHECK_ARG(name && out, "NULL attribute argument");
    if (f && f->src) {
        const char *text;
        TRY(source_attr(f, obj, name, &text));
        char *end = NULL;
        const double v = strtod(text, &end);
        if (end == text)
            return LAVR_FAIL(LAVR_E_FORMAT, "attribute '%s' of '%s' in %s is not a number", name, obj, f->path);
        if (mtype == H5T_NATIVE_DOUBLE) *(double *)out = v;
        else *(int64_t *)out = strtoll(text, NULL, 10);
        return LAVR_OK;
    }
    hid_t o;
    TRY(open_object(f, obj, &o));
    lavr_status st = LAVR_OK;
    if (H5Aexists(o, name) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        st = LAVR_FAIL(LAVR_E_FORMAT, "attribute '%s' of '%s' not found in %s", name, obj, f->path);
    } else {
        hid_t a = H5Aopen(o, name, H5P_DEFAULT);
        hid_t ftype = a >= 0 ? H5Aget_type(a) : -1;
        H5T_class_t cls = ftype >= 0 ? H5Tget_class(ftype) : H5T_NO_CLASS;
        if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
            st = LAVR_FAIL(LAVR_E_FORMAT, "attribute '%s' of '%s' in %s is not a number", name, obj, f->path);
        } else if (H5Aread(a, mtype, out) < 0) {
            char detail[160];
            st = LAVR_FAIL(LAVR_E_IO, "cannot read attribute '%s' of '%s' in %s (%s)", name, obj, f->path,
                           lavr_h5u_detail(detail));
        }
        if (ftype >= 0) H5Tclose(ftype);
        if (a >= 0) H5Aclose(a);
    }
    H5Oclose(o);
    return st;
}

lavr_status lavr_h5_write_attr_int(lavr_h5file *f, const char *obj, const char *name, int64_t value) {
    CHECK_ARG(name, "lavr_h5_write_attr_int: NULL name");
    hid_t o;
    TRY(open_object(f, obj, &o));
    lavr_status st = write_attr_id(f, o, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
    H5Oclose(o);
    return st;
}

lavr_status lavr_h5_read_attr_int(lavr_h5file *f, const char *obj, const char *name, int64_t *out) {
    return read_attr_number(f, obj, name, H5T_NATIVE_INT64, out);
}

lavr_status lavr_h5_write_attr_double(lavr_h5file *f, const char *obj, const char *name, double value) {
    CHECK_ARG(name, "lavr_h5_write_attr_double: NULL name");
    hid_t o;
    TRY(open_object(f, obj, &o));
    lavr_status st = write_attr_id(f, o, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
    H5Oclose(o);
    return st;
}

lavr_status lavr_h5_read_attr_double(lavr_h5file *f, const char *obj, const char *name, double *out) {
    return read_attr_number(f, obj, name, H5T_NATIVE_DOUBLE, out);
}

int lavr_h5_has_attr(lavr_h5file *f, const char *obj, const char *name) {
    if (!f || !obj || !name || !lavr_h5_exists(f, obj)) return 0;
    if (f->src) return f->src->attr(f->user, source_path(obj), name) != NULL;
    hid_t o = H5Oopen(f->file, skip_slash(obj), H5P_DEFAULT);
    if (o < 0) {
        H5Eclear2(H5E_DEFAULT);
        return 0;
    }
    htri_t e = H5Aexists(o, name);
    H5Oclose(o);
    H5Eclear2(H5E_DEFAULT);
    return e > 0;
}

/* ---- listing ------------------------------------------------------------------------------- */

typedef struct {
    lavr_h5file *f;
    hid_t group;
    const char *group_name;
    lavr_h5_visit_fn fn;
    void *user;
    lavr_status status;
} list_ctx;

static herr_t visit_link(hid_t group, const char *name, const H5L_info_t *info, void *user) {
    list_ctx *c = user;
    if (info->type != H5L_TYPE_HARD) return 0;
    hid_t o = H5Oopen(group, name, H5P_DEFAULT);
    if (o < 0) {
        char detail[160];
        c->status = LAVR_FAIL(LAVR_E_IO, "cannot open '%s/%s' in %s (%s)", c->group_name, name, c->f->path,
                              lavr_h5u_detail(detail));
        return 1;
    }
    int is_dataset = H5Iget_type(o) == H5I_DATASET;
    lavr_tensor desc;
    if (is_dataset) {
        char full[1024];
        snprintf(full, sizeof full, "%s/%s", c->group_name, name);
        c->status = describe(c->f, o, full, &desc);
    }
    H5Oclose(o);
    if (!c->status && is_dataset) c->status = c->fn(name, &desc, c->user);
    return c->status ? 1 : 0;
}

lavr_status lavr_h5_list(lavr_h5file *f, const char *group, lavr_h5_visit_fn fn, void *user) {
    CHECK_ARG(f && group && fn, "lavr_h5_list: NULL argument");
    NOT_SOURCE(f, "listing a group");
    if (!lavr_h5_exists(f, group)) return LAVR_FAIL(LAVR_E_FORMAT, "group '%s' not found in %s", group, f->path);
    hid_t g = H5Gopen2(f->file, skip_slash(group), H5P_DEFAULT);
    if (g < 0) H5FAIL(LAVR_E_FORMAT, f, "'%s' is not a group", group);
    list_ctx c = {f, g, group, fn, user, LAVR_OK};
    herr_t r = H5Lvisit(g, H5_INDEX_NAME, H5_ITER_INC, visit_link, &c);
    H5Gclose(g);
    if (c.status) return c.status;
    if (r < 0) H5FAIL(LAVR_E_IO, f, "cannot list group '%s'", group);
    return LAVR_OK;
}
