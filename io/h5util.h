/* HDF5 helpers shared by the stage file (io/stage.c) and the packet log (io/packet_log.c): checked
 * scalar attributes, extendable datasets grown and read by rows, errors prefixed "<what>: ". */
#ifndef LAVR_IO_H5UTIL_H
#define LAVR_IO_H5UTIL_H

#include <hdf5.h>
#include <stdint.h>

#include "core/status.h"

/* `what` names the file in messages ("stage file X", "packet log X"). Records
 * "<what>: <msg> (<innermost HDF5 message>)", clears the HDF5 error stack, returns LAVR_E_HDF5. */
/* Called first thing by main: HDF5 does not close files at exit. A file whose close failed (a full disk)
 * stays half-closed in HDF5's tables and its exit-time close crashes; every file lavr writes is closed
 * (or given up) explicitly, so nothing is lost. */
void lavr_h5u_no_exit_close(void);
lavr_status lavr_h5u_fail(const char *file, int line, const char *what, const char *msg);
/* The innermost message of HDF5's error stack in buf (160 bytes; a failed write's errno in words), then
 * the stack cleared; returns buf. */
const char *lavr_h5u_detail(char *buf);
#define LAVR_H5U_TRY(call, what, msg) \
    do {                              \
        if ((call) < 0) return lavr_h5u_fail(__FILE__, __LINE__, (what), (msg)); \
    } while (0)

/* Creates (truncates) path with root attributes format and format_version; a file that cannot be
 * created is LAVR_E_IO "cannot create <kind> '<path>'". *out is the file (or < 0) even on failure. */
lavr_status lavr_h5u_create_file(const char *path, const char *kind, const char *what, const char *format,
                                 int64_t version, hid_t *out);

/* Scalar attributes of obj (file, group or dataset); a write replaces an existing attribute.
 * Strings are variable-length UTF-8; read_attr_string returns a malloc'd copy. A missing
 * attribute or a non-string one is LAVR_E_FORMAT. */
lavr_status lavr_h5u_write_attr_int(hid_t obj, const char *what, const char *name, int64_t value);
lavr_status lavr_h5u_write_attr_string(hid_t obj, const char *what, const char *name, const char *value);
lavr_status lavr_h5u_read_attr_int(hid_t obj, const char *what, const char *name, int64_t *out);
lavr_status lavr_h5u_read_attr_string(hid_t obj, const char *what, const char *name, char **out);

/* Creates loc/name with 0 rows: dims[ndim] with dims[0] ignored (unlimited), chunked as chunk. */
lavr_status lavr_h5u_create_extendable(hid_t loc, const char *what, const char *name, hid_t type, int ndim,
                                       const hsize_t *dims, const hsize_t *chunk, hid_t *out);
/* Sets the row count (dimension 0) of dset to row0 + n, then writes n rows from buf (mtype, the
 * other dimensions whole). n = 0 only resizes. fail names a failed write. */
lavr_status lavr_h5u_write_rows(hid_t dset, const char *what, hid_t mtype, int64_t row0, int64_t n, const void *buf,
                                const char *fail);
/* Reads rows [row0, row0 + n) of dset into buf. fail names a failed read. */
lavr_status lavr_h5u_read_rows(hid_t dset, const char *what, hid_t mtype, int64_t row0, int64_t n, void *buf,
                               const char *fail);

#endif
