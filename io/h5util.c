/* HDF5 helpers of io/h5util.h: attributes and extendable row datasets for the stage file and the
 * packet log, every call checked, messages "<what>: ..." with the innermost HDF5 message appended. */
#include "io/h5util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the innermost HDF5 message ("can't open file", "bad symbol table") is the one worth a line; a failed
 * write's message is a multi-line dump with "errno = N" in it, said here as the system's words */
static herr_t innermost(unsigned n, const H5E_error2_t *err, void *user) {
    (void)n;
    char *buf = user;
    if (buf[0] || !err->desc || !*err->desc) return 0;
    const char *e = strstr(err->desc, "errno = ");
    int code = 0;
    if (e && sscanf(e, "errno = %d", &code) == 1 && code > 0) snprintf(buf, 160, "%s", strerror(code));
    else snprintf(buf, 160, "%s", err->desc);
    for (char *c = buf; *c; c++)
        if (*c == '\n') *c = ' ';
    return 0;
}

const char *lavr_h5u_detail(char *buf) {
    buf[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, buf);
    H5Eclear2(H5E_DEFAULT);
    if (!buf[0]) snprintf(buf, 160, "HDF5 call failed");
    return buf;
}

void lavr_h5u_no_exit_close(void) { H5dont_atexit(); }

lavr_status lavr_h5u_fail(const char *file, int line, const char *what, const char *msg) {
    char detail[160];
    return lavr_error_set(LAVR_E_HDF5, file, line, "%s: %s (%s)", what, msg, lavr_h5u_detail(detail));
}

/* ---- attributes ------------------------------------------------------------------------------- */

static lavr_status write_attr(hid_t obj, const char *what, const char *name, hid_t ftype, hid_t mtype,
                              const void *value) {
    if (H5Aexists(obj, name) > 0) LAVR_H5U_TRY(H5Adelete(obj, name), what, name);
    hid_t space = H5Screate(H5S_SCALAR);
    LAVR_H5U_TRY(space, what, "cannot create an attribute dataspace");
    hid_t a = H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(space);
    LAVR_H5U_TRY(a, what, name);
    herr_t r = H5Awrite(a, mtype, value);
    H5Aclose(a);
    LAVR_H5U_TRY(r, what, name);
    return LAVR_OK;
}

lavr_status lavr_h5u_write_attr_int(hid_t obj, const char *what, const char *name, int64_t value) {
    return write_attr(obj, what, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

lavr_status lavr_h5u_write_attr_string(hid_t obj, const char *what, const char *name, const char *value) {
    hid_t t = H5Tcopy(H5T_C_S1);
    LAVR_H5U_TRY(t, what, "cannot make a string type");
    lavr_status st = LAVR_OK;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)
        st = lavr_h5u_fail(__FILE__, __LINE__, what, "cannot make a string type");
    if (!st) st = write_attr(obj, what, name, t, t, &value);
    H5Tclose(t);
    return st;
}

/* opens obj's attribute name; a missing one is a format error, not an HDF5 failure */
static lavr_status open_attr(hid_t obj, const char *what, const char *name, hid_t *out) {
    if (H5Aexists(obj, name) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return LAVR_FAIL(LAVR_E_FORMAT, "%s: attribute '%s' missing", what, name);
    }
    *out = H5Aopen(obj, name, H5P_DEFAULT);
    LAVR_H5U_TRY(*out, what, name);
    return LAVR_OK;
}

lavr_status lavr_h5u_read_attr_int(hid_t obj, const char *what, const char *name, int64_t *out) {
    hid_t a;
    TRY(open_attr(obj, what, name, &a));
    herr_t r = H5Aread(a, H5T_NATIVE_INT64, out);
    H5Aclose(a);
    LAVR_H5U_TRY(r, what, name);
    return LAVR_OK;
}

lavr_status lavr_h5u_read_attr_string(hid_t obj, const char *what, const char *name, char **out) {
    *out = NULL;
    hid_t a;
    TRY(open_attr(obj, what, name, &a));
    hid_t ftype = H5Aget_type(a);
    lavr_status st = LAVR_OK;
    if (ftype < 0 || H5Tget_class(ftype) != H5T_STRING || H5Tis_variable_str(ftype) <= 0) {
        st = LAVR_FAIL(LAVR_E_FORMAT, "%s: attribute '%s' is not a string", what, name);
    } else {
        hid_t mtype = H5Tcopy(H5T_C_S1);
        char *value = NULL;
        if (mtype < 0 || H5Tset_size(mtype, H5T_VARIABLE) < 0 || H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0 ||
            H5Aread(a, mtype, &value) < 0 || !value) {
            st = lavr_h5u_fail(__FILE__, __LINE__, what, name);
        } else {
            *out = strdup(value);
            hid_t space = H5Aget_space(a);
            H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, &value);
            H5Sclose(space);
            if (!*out) st = LAVR_FAIL(LAVR_E_NOMEM, "%s: attribute '%s'", what, name);
        }
        if (mtype >= 0) H5Tclose(mtype);
    }
    if (ftype >= 0) H5Tclose(ftype);
    H5Aclose(a);
    return st;
}

lavr_status lavr_h5u_create_file(const char *path, const char *kind, const char *what, const char *format,
                                 int64_t version, hid_t *out) {
    *out = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (*out < 0) {
        H5Eclear2(H5E_DEFAULT);
        return LAVR_FAIL(LAVR_E_IO, "cannot create %s '%s': %s", kind, path, strerror(errno));
    }
    TRY(lavr_h5u_write_attr_string(*out, what, "format", format));
    return lavr_h5u_write_attr_int(*out, what, "format_version", version);
}

/* ---- extendable datasets ---------------------------------------------------------------------- */

lavr_status lavr_h5u_create_extendable(hid_t loc, const char *what, const char *name, hid_t type, int ndim,
                                       const hsize_t *dims, const hsize_t *chunk, hid_t *out) {
    if (ndim < 1 || ndim > H5S_MAX_RANK)
        return LAVR_FAIL(LAVR_E_INTERNAL, "%s: dataset %s of rank %d", what, name, ndim);
    hsize_t cur[H5S_MAX_RANK], maxdims[H5S_MAX_RANK];
    memcpy(cur, dims, sizeof *dims * (size_t)ndim);
    memcpy(maxdims, dims, sizeof *dims * (size_t)ndim);
    cur[0] = 0;
    maxdims[0] = H5S_UNLIMITED;
    hid_t space = H5Screate_simple(ndim, cur, maxdims);
    LAVR_H5U_TRY(space, what, "cannot create a dataspace");
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    lavr_status st = LAVR_OK;
    if (dcpl < 0 || H5Pset_chunk(dcpl, ndim, chunk) < 0)
        st = lavr_h5u_fail(__FILE__, __LINE__, what, "cannot set chunks");
    if (!st) {
        *out = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (*out < 0) st = lavr_h5u_fail(__FILE__, __LINE__, what, name);
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    H5Sclose(space);
    return st;
}

/* dset's dataspace (caller closes) and its extent: rank and dims (H5S_MAX_RANK entries) */
static lavr_status space_of(hid_t dset, const char *what, hid_t *space, hsize_t *dims, int *ndim) {
    *space = H5Dget_space(dset);
    LAVR_H5U_TRY(*space, what, "cannot read a dataset shape");
    *ndim = H5Sget_simple_extent_ndims(*space);
    if (*ndim < 1 || H5Sget_simple_extent_dims(*space, dims, NULL) < 0) {
        H5Sclose(*space);
        return lavr_h5u_fail(__FILE__, __LINE__, what, "cannot read a dataset shape");
    }
    return LAVR_OK;
}

/* rows [row0, row0 + n) of dset, other dimensions whole, read into or written from buf */
static lavr_status transfer_rows(hid_t dset, const char *what, int writing, hid_t mtype, int64_t row0, int64_t n,
                                 void *buf, const char *fail) {
    hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
    int ndim;
    hid_t fs;
    TRY(space_of(dset, what, &fs, count, &ndim));
    start[0] = (hsize_t)row0;
    count[0] = (hsize_t)n;
    hid_t ms = H5Screate_simple(ndim, count, NULL);
    herr_t r = ms < 0 ? -1 : H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    if (r >= 0)
        r = writing ? H5Dwrite(dset, mtype, ms, fs, H5P_DEFAULT, buf) : H5Dread(dset, mtype, ms, fs, H5P_DEFAULT, buf);
    if (ms >= 0) H5Sclose(ms);
    H5Sclose(fs);
    LAVR_H5U_TRY(r, what, fail);
    return LAVR_OK;
}

lavr_status lavr_h5u_write_rows(hid_t dset, const char *what, hid_t mtype, int64_t row0, int64_t n, const void *buf,
                                const char *fail) {
    hsize_t dims[H5S_MAX_RANK];
    int ndim;
    hid_t space;
    TRY(space_of(dset, what, &space, dims, &ndim));
    H5Sclose(space);
    dims[0] = (hsize_t)(row0 + n);
    LAVR_H5U_TRY(H5Dset_extent(dset, dims), what, "cannot extend a dataset");
    if (n == 0) return LAVR_OK;
    return transfer_rows(dset, what, 1, mtype, row0, n, (void *)buf, fail);
}

lavr_status lavr_h5u_read_rows(hid_t dset, const char *what, hid_t mtype, int64_t row0, int64_t n, void *buf,
                               const char *fail) {
    if (n == 0) return LAVR_OK;
    return transfer_rows(dset, what, 0, mtype, row0, n, buf, fail);
}
