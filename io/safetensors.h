/* safetensors reader: `u64le N | N bytes of JSON header | data`, the header giving each tensor's
 * dtype, shape and byte range. Tensors are read a row range at a time (pread), never whole. */
#ifndef LAVR_IO_SAFETENSORS_H
#define LAVR_IO_SAFETENSORS_H

#include <stdint.h>

#include "core/dtype.h"
#include "core/status.h"
#include "core/tensor.h"

typedef struct {
    char *name;
    lavr_dtype dtype; /* BF16, F16, F32 */
    int ndim;
    int64_t shape[LAVR_MAX_DIMS];
    int64_t offset;   /* absolute byte offset of the data in the file */
    int64_t nbytes;
} lavr_st_tensor;

typedef struct lavr_safetensors lavr_safetensors;

/* Opens and checks the header: a header longer than the file, bad JSON, an unknown dtype, a byte
 * range that does not match the shape, or data past the end of the file are each their own error. */
lavr_status lavr_st_open(const char *path, lavr_safetensors **out);
void lavr_st_close(lavr_safetensors *st);

const char *lavr_st_path(const lavr_safetensors *st);
int64_t lavr_st_file_size(const lavr_safetensors *st);
int lavr_st_count(const lavr_safetensors *st);
const lavr_st_tensor *lavr_st_tensor_at(const lavr_safetensors *st, int i);
const lavr_st_tensor *lavr_st_find(const lavr_safetensors *st, const char *name);
/* A string of the header's "__metadata__" object, or NULL. */
const char *lavr_st_metadata(const lavr_safetensors *st, const char *key);

/* Rows [row0, row0 + nrows) along dim 0 (one row for a 0-dim tensor) in the stored dtype. */
lavr_status lavr_st_read_rows(const lavr_safetensors *st, const lavr_st_tensor *t, int64_t row0, int64_t nrows, void *dst);

#endif
