/* The latent stage file (io/stage.h) on the HDF5 C API: /latents [blocks, C, F, h, w] as uint16 bf16
 * bits with dtype="bfloat16" (h5model's convention), unlimited along blocks, one chunk per block. */
#include "io/stage.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"

#define STAGE_FORMAT "lavr-latents"
#define STAGE_VERSION 1
#define DATASET "latents"

struct lavr_stage {
    hid_t file, dset;
    int writable;
    int64_t blocks;
    lavr_stage_info info;
    char *layout, *model, *inputs; /* owned strings behind info */
    uint16_t *bits;                /* one block of bf16 bits */
    char path[4096];
};

/* innermost HDF5 message for the one-line error */
static herr_t innermost(unsigned n, const H5E_error2_t *err, void *user) {
    (void)n;
    char *buf = user;
    if (!buf[0] && err->desc && *err->desc) snprintf(buf, 160, "%s", err->desc);
    return 0;
}

static lavr_status h5_fail(const char *file, int line, const lavr_stage *s, const char *what) {
    char detail[160] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, detail);
    H5Eclear2(H5E_DEFAULT);
    return lavr_error_set(LAVR_E_HDF5, file, line, "stage file %s: %s (%s)", s->path, what,
                          detail[0] ? detail : "HDF5 call failed");
}
#define H5_TRY(call, s, what) \
    do {                      \
        if ((call) < 0) return h5_fail(__FILE__, __LINE__, (s), (what)); \
    } while (0)

static int64_t block_numel(const lavr_stage_info *i) { return i->C * i->F * i->h * i->w; }

static lavr_status write_attr(lavr_stage *s, const char *name, hid_t ftype, hid_t mtype, const void *value) {
    hid_t space = H5Screate(H5S_SCALAR);
    H5_TRY(space, s, "cannot create an attribute dataspace");
    hid_t a = H5Acreate2(s->file, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(space);
    H5_TRY(a, s, name);
    herr_t r = H5Awrite(a, mtype, value);
    H5Aclose(a);
    H5_TRY(r, s, name);
    return LAVR_OK;
}

static lavr_status write_attr_string(lavr_stage *s, const char *name, const char *value) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5_TRY(t, s, "cannot make a string type");
    lavr_status st = LAVR_OK;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)
        st = h5_fail(__FILE__, __LINE__, s, "cannot make a string type");
    if (!st) st = write_attr(s, name, t, t, &value);
    H5Tclose(t);
    return st;
}

static lavr_status write_attr_int(lavr_stage *s, const char *name, int64_t value) {
    return write_attr(s, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

static lavr_status read_attr_int(lavr_stage *s, const char *name, int64_t *out) {
    if (H5Aexists(s->file, name) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return LAVR_FAIL(LAVR_E_FORMAT, "stage file %s: attribute '%s' missing", s->path, name);
    }
    hid_t a = H5Aopen(s->file, name, H5P_DEFAULT);
    H5_TRY(a, s, name);
    herr_t r = H5Aread(a, H5T_NATIVE_INT64, out);
    H5Aclose(a);
    H5_TRY(r, s, name);
    return LAVR_OK;
}

/* variable-length string attribute -> malloc'd copy */
static lavr_status read_attr_string(lavr_stage *s, const char *name, char **out) {
    *out = NULL;
    if (H5Aexists(s->file, name) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return LAVR_FAIL(LAVR_E_FORMAT, "stage file %s: attribute '%s' missing", s->path, name);
    }
    hid_t a = H5Aopen(s->file, name, H5P_DEFAULT);
    H5_TRY(a, s, name);
    hid_t ftype = H5Aget_type(a);
    lavr_status st = LAVR_OK;
    if (ftype < 0 || H5Tget_class(ftype) != H5T_STRING || H5Tis_variable_str(ftype) <= 0) {
        st = LAVR_FAIL(LAVR_E_FORMAT, "stage file %s: attribute '%s' is not a string", s->path, name);
    } else {
        hid_t mtype = H5Tcopy(H5T_C_S1);
        char *value = NULL;
        if (mtype < 0 || H5Tset_size(mtype, H5T_VARIABLE) < 0 || H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0 ||
            H5Aread(a, mtype, &value) < 0 || !value) {
            st = h5_fail(__FILE__, __LINE__, s, name);
        } else {
            *out = strdup(value);
            hid_t space = H5Aget_space(a);
            H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, &value);
            H5Sclose(space);
            if (!*out) st = LAVR_FAIL(LAVR_E_NOMEM, "stage file %s: attribute '%s'", s->path, name);
        }
        if (mtype >= 0) H5Tclose(mtype);
    }
    if (ftype >= 0) H5Tclose(ftype);
    H5Aclose(a);
    return st;
}

static lavr_status alloc_stage(const char *path, lavr_stage **out) {
    lavr_stage *s = calloc(1, sizeof *s);
    if (!s) return LAVR_FAIL(LAVR_E_NOMEM, "stage file %s", path);
    s->file = s->dset = -1;
    snprintf(s->path, sizeof s->path, "%s", path);
    *out = s;
    return LAVR_OK;
}

static lavr_status keep_strings(lavr_stage *s, const char *layout, const char *model, const char *inputs) {
    s->layout = strdup(layout ? layout : "");
    s->model = strdup(model ? model : "");
    s->inputs = strdup(inputs ? inputs : "");
    if (!s->layout || !s->model || !s->inputs) return LAVR_FAIL(LAVR_E_NOMEM, "stage file %s", s->path);
    s->info.layout = s->layout, s->info.model = s->model, s->info.inputs = s->inputs;
    return LAVR_OK;
}

static lavr_status alloc_bits(lavr_stage *s) {
    s->bits = malloc((size_t)block_numel(&s->info) * sizeof(uint16_t));
    if (!s->bits) return LAVR_FAIL(LAVR_E_NOMEM, "stage file %s: one block buffer", s->path);
    return LAVR_OK;
}

static lavr_status create_dataset(lavr_stage *s) {
    const lavr_stage_info *i = &s->info;
    hsize_t dims[5] = {0, (hsize_t)i->C, (hsize_t)i->F, (hsize_t)i->h, (hsize_t)i->w};
    hsize_t maxdims[5] = {H5S_UNLIMITED, dims[1], dims[2], dims[3], dims[4]};
    hsize_t chunk[5] = {1, dims[1], dims[2], dims[3], dims[4]};
    hid_t space = H5Screate_simple(5, dims, maxdims);
    H5_TRY(space, s, "cannot create the latents dataspace");
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    lavr_status st = LAVR_OK;
    if (dcpl < 0 || H5Pset_chunk(dcpl, 5, chunk) < 0) st = h5_fail(__FILE__, __LINE__, s, "cannot set the chunk layout");
    if (!st) {
        s->dset = H5Dcreate2(s->file, DATASET, H5T_STD_U16LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (s->dset < 0) st = h5_fail(__FILE__, __LINE__, s, "cannot create /latents");
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    H5Sclose(space);
    TRY(st);
    /* dtype attribute on the dataset: readers of h5model see bf16 */
    hid_t t = H5Tcopy(H5T_C_S1);
    H5_TRY(t, s, "cannot make a string type");
    const char *name = lavr_dtype_name(LAVR_BF16);
    hid_t aspace = H5Screate(H5S_SCALAR);
    hid_t a = -1;
    if (aspace >= 0 && H5Tset_size(t, H5T_VARIABLE) >= 0 && H5Tset_cset(t, H5T_CSET_UTF8) >= 0)
        a = H5Acreate2(s->dset, "dtype", t, aspace, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, t, &name) < 0) st = h5_fail(__FILE__, __LINE__, s, "cannot write the dtype attribute");
    if (a >= 0) H5Aclose(a);
    if (aspace >= 0) H5Sclose(aspace);
    H5Tclose(t);
    return st;
}

lavr_status lavr_stage_create(const char *path, const lavr_stage_info *info, lavr_stage **out) {
    *out = NULL;
    CHECK_ARG(path && info, "lavr_stage_create: NULL argument");
    CHECK_ARG(info->C > 0 && info->F > 0 && info->h > 0 && info->w > 0, "stage file %s: empty block shape", path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    lavr_stage *s;
    TRY(alloc_stage(path, &s));
    s->writable = 1;
    s->info = *info;
    lavr_status st = keep_strings(s, info->layout, info->model, info->inputs);
    if (!st) st = alloc_bits(s);
    if (!st) {
        s->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        if (s->file < 0) {
            H5Eclear2(H5E_DEFAULT);
            st = LAVR_FAIL(LAVR_E_IO, "cannot create stage file '%s': %s", path, strerror(errno));
        }
    }
    if (!st) st = write_attr_string(s, "format", STAGE_FORMAT);
    if (!st) st = write_attr_int(s, "format_version", STAGE_VERSION);
    if (!st) st = write_attr_int(s, "seed", (int64_t)info->seed);
    if (!st) st = write_attr_string(s, "layout", s->layout);
    if (!st) st = write_attr_string(s, "model", s->model);
    if (!st) st = write_attr_string(s, "inputs", s->inputs);
    if (!st) st = write_attr_int(s, "fixed_sink_offset", info->fixed_sink_offset);
    if (!st) st = create_dataset(s);
    if (!st && H5Fflush(s->file, H5F_SCOPE_GLOBAL) < 0) st = h5_fail(__FILE__, __LINE__, s, "cannot flush");
    if (st) {
        lavr_stage_close(s);
        return st;
    }
    *out = s;
    return LAVR_OK;
}

lavr_status lavr_stage_open(const char *path, int writable, lavr_stage **out) {
    *out = NULL;
    CHECK_ARG(path, "lavr_stage_open: NULL path");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    FILE *probe = fopen(path, "rb");
    if (!probe) return LAVR_FAIL(LAVR_E_IO, "cannot open stage file '%s': %s", path, strerror(errno));
    fclose(probe);
    if (H5Fis_hdf5(path) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return LAVR_FAIL(LAVR_E_IO, "'%s' is not an HDF5 file (wrong format or empty)", path);
    }
    lavr_stage *s;
    TRY(alloc_stage(path, &s));
    s->writable = writable;
    lavr_status st = LAVR_OK;
    s->file = H5Fopen(path, writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
    if (s->file < 0) st = h5_fail(__FILE__, __LINE__, s, "cannot open (corrupt, truncated or read-only?)");
    char *format = NULL;
    if (!st) st = read_attr_string(s, "format", &format);
    if (!st && strcmp(format, STAGE_FORMAT) != 0)
        st = LAVR_FAIL(LAVR_E_FORMAT, "'%s' is not a latent stage file (format '%s', expected '%s')", path, format,
                       STAGE_FORMAT);
    free(format);
    int64_t version = 0, seed = 0;
    if (!st) st = read_attr_int(s, "format_version", &version);
    if (!st && version != STAGE_VERSION)
        st = LAVR_FAIL(LAVR_E_FORMAT, "stage file %s has format_version %lld; this lavr reads %d", path,
                       (long long)version, STAGE_VERSION);
    if (!st) st = read_attr_int(s, "seed", &seed);
    if (!st) st = read_attr_int(s, "fixed_sink_offset", &s->info.fixed_sink_offset);
    s->info.seed = (uint64_t)seed;
    char *layout = NULL, *model = NULL, *inputs = NULL;
    if (!st) st = read_attr_string(s, "layout", &layout);
    if (!st) st = read_attr_string(s, "model", &model);
    if (!st) st = read_attr_string(s, "inputs", &inputs);
    if (!st) st = keep_strings(s, layout, model, inputs);
    free(layout), free(model), free(inputs);
    if (!st) {
        if (H5Lexists(s->file, DATASET, H5P_DEFAULT) <= 0) {
            H5Eclear2(H5E_DEFAULT);
            st = LAVR_FAIL(LAVR_E_FORMAT, "stage file %s has no /latents dataset", path);
        } else {
            s->dset = H5Dopen2(s->file, DATASET, H5P_DEFAULT);
            if (s->dset < 0) st = h5_fail(__FILE__, __LINE__, s, "cannot open /latents");
        }
    }
    if (!st) {
        hid_t space = H5Dget_space(s->dset);
        hsize_t dims[5];
        if (space < 0 || H5Sget_simple_extent_ndims(space) != 5 || H5Sget_simple_extent_dims(space, dims, NULL) < 0)
            st = LAVR_FAIL(LAVR_E_FORMAT, "stage file %s: /latents must be [blocks, C, F, h, w]", path);
        if (space >= 0) H5Sclose(space);
        if (!st) {
            s->blocks = (int64_t)dims[0];
            s->info.C = (int64_t)dims[1], s->info.F = (int64_t)dims[2];
            s->info.h = (int64_t)dims[3], s->info.w = (int64_t)dims[4];
            st = alloc_bits(s);
        }
    }
    if (st) {
        lavr_stage_close(s);
        return st;
    }
    *out = s;
    return LAVR_OK;
}

lavr_status lavr_stage_close(lavr_stage *s) {
    if (!s) return LAVR_OK;
    lavr_status st = LAVR_OK;
    if (s->dset >= 0 && H5Dclose(s->dset) < 0) st = h5_fail(__FILE__, __LINE__, s, "cannot close /latents");
    if (s->file >= 0 && s->writable && H5Fflush(s->file, H5F_SCOPE_GLOBAL) < 0 && !st)
        st = h5_fail(__FILE__, __LINE__, s, "cannot flush");
    if (s->file >= 0 && H5Fclose(s->file) < 0 && !st) st = h5_fail(__FILE__, __LINE__, s, "cannot close");
    free(s->layout), free(s->model), free(s->inputs), free(s->bits);
    free(s);
    return st;
}

const lavr_stage_info *lavr_stage_info_of(const lavr_stage *s) { return &s->info; }

int64_t lavr_stage_blocks(const lavr_stage *s) { return s->blocks; }

/* the file selection of block b (caller closes) */
static lavr_status select_block(lavr_stage *s, int64_t b, hid_t *filespace, hid_t *memspace) {
    const lavr_stage_info *i = &s->info;
    hsize_t start[5] = {(hsize_t)b, 0, 0, 0, 0};
    hsize_t count[5] = {1, (hsize_t)i->C, (hsize_t)i->F, (hsize_t)i->h, (hsize_t)i->w};
    *filespace = H5Dget_space(s->dset);
    H5_TRY(*filespace, s, "cannot read the /latents shape");
    *memspace = H5Screate_simple(5, count, NULL);
    if (*memspace < 0 || H5Sselect_hyperslab(*filespace, H5S_SELECT_SET, start, NULL, count, NULL) < 0) {
        H5Sclose(*filespace);
        if (*memspace >= 0) H5Sclose(*memspace);
        return h5_fail(__FILE__, __LINE__, s, "cannot select a block of /latents");
    }
    return LAVR_OK;
}

lavr_status lavr_stage_append(lavr_stage *s, const float *latent) {
    CHECK_ARG(s->writable, "stage file %s is open read-only", s->path);
    const int64_t n = block_numel(&s->info);
    for (int64_t k = 0; k < n; k++) s->bits[k] = lavr_f32_to_bf16(latent[k]);
    const lavr_stage_info *i = &s->info;
    hsize_t dims[5] = {(hsize_t)(s->blocks + 1), (hsize_t)i->C, (hsize_t)i->F, (hsize_t)i->h, (hsize_t)i->w};
    H5_TRY(H5Dset_extent(s->dset, dims), s, "cannot extend /latents");
    hid_t fs, ms;
    TRY(select_block(s, s->blocks, &fs, &ms));
    herr_t r = H5Dwrite(s->dset, H5T_NATIVE_UINT16, ms, fs, H5P_DEFAULT, s->bits);
    H5Sclose(ms);
    H5Sclose(fs);
    if (r < 0) {
        char what[64];
        snprintf(what, sizeof what, "cannot write block %lld (disk full?)", (long long)s->blocks);
        return h5_fail(__FILE__, __LINE__, s, what);
    }
    H5_TRY(H5Fflush(s->file, H5F_SCOPE_GLOBAL), s, "cannot flush");
    s->blocks++;
    return LAVR_OK;
}

lavr_status lavr_stage_read(lavr_stage *s, int64_t b, float *latent) {
    CHECK_ARG(b >= 0 && b < s->blocks, "stage file %s: block %lld requested, it holds %lld", s->path, (long long)b,
              (long long)s->blocks);
    hid_t fs, ms;
    TRY(select_block(s, b, &fs, &ms));
    herr_t r = H5Dread(s->dset, H5T_NATIVE_UINT16, ms, fs, H5P_DEFAULT, s->bits);
    H5Sclose(ms);
    H5Sclose(fs);
    H5_TRY(r, s, "cannot read a block of /latents (file truncated or corrupt?)");
    const int64_t n = block_numel(&s->info);
    for (int64_t k = 0; k < n; k++) latent[k] = lavr_bf16_to_f32(s->bits[k]);
    return LAVR_OK;
}

lavr_status lavr_stage_truncate(lavr_stage *s, int64_t n) {
    CHECK_ARG(s->writable, "stage file %s is open read-only", s->path);
    CHECK_ARG(n >= 0 && n <= s->blocks, "stage file %s: cannot truncate %lld blocks to %lld", s->path,
              (long long)s->blocks, (long long)n);
    const lavr_stage_info *i = &s->info;
    hsize_t dims[5] = {(hsize_t)n, (hsize_t)i->C, (hsize_t)i->F, (hsize_t)i->h, (hsize_t)i->w};
    H5_TRY(H5Dset_extent(s->dset, dims), s, "cannot shrink /latents");
    H5_TRY(H5Fflush(s->file, H5F_SCOPE_GLOBAL), s, "cannot flush");
    s->blocks = n;
    return LAVR_OK;
}
