/* The latent stage file (io/stage.h) on the HDF5 C API: /latents [blocks, C, F, h, w] as uint16 bf16
 * bits with dtype="bfloat16" (h5model's convention), unlimited along blocks, one chunk per block. */
#include "io/stage.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "io/h5util.h"

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
    char what[4096 + 16]; /* "stage file <path>" for h5util messages */
};

static int64_t block_numel(const lavr_stage_info *i) { return i->C * i->F * i->h * i->w; }

static lavr_status alloc_stage(const char *path, lavr_stage **out) {
    lavr_stage *s = calloc(1, sizeof *s);
    if (!s) return LAVR_FAIL(LAVR_E_NOMEM, "stage file %s", path);
    s->file = s->dset = -1;
    snprintf(s->path, sizeof s->path, "%s", path);
    snprintf(s->what, sizeof s->what, "stage file %s", path);
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
    /* one chunk per block: the row shape [1, C, F, h, w] is also the chunk */
    hsize_t block[5] = {1, (hsize_t)i->C, (hsize_t)i->F, (hsize_t)i->h, (hsize_t)i->w};
    TRY(lavr_h5u_create_extendable(s->file, s->what, DATASET, H5T_STD_U16LE, 5, block, block, &s->dset));
    /* dtype attribute on the dataset: readers of h5model see bf16 */
    return lavr_h5u_write_attr_string(s->dset, s->what, "dtype", lavr_dtype_name(LAVR_BF16));
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
    if (!st) st = lavr_h5u_create_file(path, "stage file", s->what, STAGE_FORMAT, STAGE_VERSION, &s->file);
    if (!st) st = lavr_h5u_write_attr_int(s->file, s->what, "seed", (int64_t)info->seed);
    if (!st) st = lavr_h5u_write_attr_string(s->file, s->what, "layout", s->layout);
    if (!st) st = lavr_h5u_write_attr_string(s->file, s->what, "model", s->model);
    if (!st) st = lavr_h5u_write_attr_string(s->file, s->what, "inputs", s->inputs);
    if (!st) st = lavr_h5u_write_attr_int(s->file, s->what, "fixed_sink_offset", info->fixed_sink_offset);
    if (!st) st = create_dataset(s);
    if (!st && H5Fflush(s->file, H5F_SCOPE_GLOBAL) < 0)
        st = lavr_h5u_fail(__FILE__, __LINE__, s->what, "cannot flush");
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
    if (s->file < 0)
        st = lavr_h5u_fail(__FILE__, __LINE__, s->what, "cannot open (corrupt, truncated or read-only?)");
    char *format = NULL;
    if (!st) st = lavr_h5u_read_attr_string(s->file, s->what, "format", &format);
    if (!st && strcmp(format, STAGE_FORMAT) != 0)
        st = LAVR_FAIL(LAVR_E_FORMAT, "'%s' is not a latent stage file (format '%s', expected '%s')", path, format,
                       STAGE_FORMAT);
    free(format);
    int64_t version = 0, seed = 0;
    if (!st) st = lavr_h5u_read_attr_int(s->file, s->what, "format_version", &version);
    if (!st && version != STAGE_VERSION)
        st = LAVR_FAIL(LAVR_E_FORMAT, "stage file %s has format_version %lld; this lavr reads %d", path,
                       (long long)version, STAGE_VERSION);
    if (!st) st = lavr_h5u_read_attr_int(s->file, s->what, "seed", &seed);
    if (!st) st = lavr_h5u_read_attr_int(s->file, s->what, "fixed_sink_offset", &s->info.fixed_sink_offset);
    s->info.seed = (uint64_t)seed;
    char *layout = NULL, *model = NULL, *inputs = NULL;
    if (!st) st = lavr_h5u_read_attr_string(s->file, s->what, "layout", &layout);
    if (!st) st = lavr_h5u_read_attr_string(s->file, s->what, "model", &model);
    if (!st) st = lavr_h5u_read_attr_string(s->file, s->what, "inputs", &inputs);
    if (!st) st = keep_strings(s, layout, model, inputs);
    free(layout), free(model), free(inputs);
    if (!st) {
        if (H5Lexists(s->file, DATASET, H5P_DEFAULT) <= 0) {
            H5Eclear2(H5E_DEFAULT);
            st = LAVR_FAIL(LAVR_E_FORMAT, "stage file %s has no /latents dataset", path);
        } else {
            s->dset = H5Dopen2(s->file, DATASET, H5P_DEFAULT);
            if (s->dset < 0) st = lavr_h5u_fail(__FILE__, __LINE__, s->what, "cannot open /latents");
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
    if (s->dset >= 0 && H5Dclose(s->dset) < 0)
        st = lavr_h5u_fail(__FILE__, __LINE__, s->what, "cannot close /latents");
    if (s->file >= 0 && s->writable && H5Fflush(s->file, H5F_SCOPE_GLOBAL) < 0 && !st)
        st = lavr_h5u_fail(__FILE__, __LINE__, s->what, "cannot flush");
    if (s->file >= 0 && H5Fclose(s->file) < 0 && !st)
        st = lavr_h5u_fail(__FILE__, __LINE__, s->what, "cannot close");
    free(s->layout), free(s->model), free(s->inputs), free(s->bits);
    free(s);
    return st;
}

const lavr_stage_info *lavr_stage_info_of(const lavr_stage *s) { return &s->info; }

int64_t lavr_stage_blocks(const lavr_stage *s) { return s->blocks; }

lavr_status lavr_stage_append(lavr_stage *s, const float *latent) {
    CHECK_ARG(s->writable, "stage file %s is open read-only", s->path);
    const int64_t n = block_numel(&s->info);
    for (int64_t k = 0; k < n; k++) s->bits[k] = lavr_f32_to_bf16(latent[k]);
    char fail[64];
    snprintf(fail, sizeof fail, "cannot write block %lld (disk full?)", (long long)s->blocks);
    TRY(lavr_h5u_write_rows(s->dset, s->what, H5T_NATIVE_UINT16, s->blocks, 1, s->bits, fail));
    LAVR_H5U_TRY(H5Fflush(s->file, H5F_SCOPE_GLOBAL), s->what, "cannot flush");
    s->blocks++;
    return LAVR_OK;
}

lavr_status lavr_stage_read(lavr_stage *s, int64_t b, float *latent) {
    CHECK_ARG(b >= 0 && b < s->blocks, "stage file %s: block %lld requested, it holds %lld", s->path, (long long)b,
              (long long)s->blocks);
    TRY(lavr_h5u_read_rows(s->dset, s->what, H5T_NATIVE_UINT16, b, 1, s->bits,
                           "cannot read a block of /latents (file truncated or corrupt?)"));
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
    LAVR_H5U_TRY(H5Dset_extent(s->dset, dims), s->what, "cannot shrink /latents");
    LAVR_H5U_TRY(H5Fflush(s->file, H5F_SCOPE_GLOBAL), s->what, "cannot flush");
    s->blocks = n;
    return LAVR_OK;
}
