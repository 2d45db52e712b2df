/* Reader of torch.save checkpoints (torch >= 1.6 zip format): the state dict's names, dtypes,
 * shapes, strides and storage offsets from `<root>/data.pkl`, tensor bytes from `<root>/data/<key>`,
 * read a row range at a time so a tensor never has to be in memory whole. No Python needed. */
#ifndef LAVR_IO_TORCHZIP_H
#define LAVR_IO_TORCHZIP_H

#include <stdint.h>

#include "core/dtype.h"
#include "core/status.h"
#include "core/tensor.h"

typedef struct {
    char *name;
    lavr_dtype dtype;        /* bf16, f16 or f32 */
    int ndim;
    int64_t shape[LAVR_MAX_DIMS];
    int64_t stride[LAVR_MAX_DIMS]; /* elements */
    int64_t storage_offset;        /* elements */
    int entry;                     /* zip entry of the storage */
} lavr_tz_tensor;

typedef struct lavr_torchzip lavr_torchzip;

/* Opens and unpickles the state dict. Errors name the file and the problem: not a zip (a legacy
 * pre-1.6 torch file gets its own message), no data.pkl, a value that is not a tensor, a storage
 * type other than BFloat16/Half/Float, a tensor reaching past its storage, a missing storage. */
lavr_status lavr_tz_open(const char *path, lavr_torchzip **out);
void lavr_tz_close(lavr_torchzip *tz);

int lavr_tz_count(const lavr_torchzip *tz);
const lavr_tz_tensor *lavr_tz_tensor_at(const lavr_torchzip *tz, int i);
const lavr_tz_tensor *lavr_tz_find(const lavr_torchzip *tz, const char *name);
int64_t lavr_tz_file_size(const lavr_torchzip *tz);

/* Rows [row0, row0 + nrows) along dim 0 (a 0-dim tensor has one row) in the tensor's dtype,
 * contiguous, honouring storage offset and strides. */
lavr_status lavr_tz_read_rows(lavr_torchzip *tz, const lavr_tz_tensor *t, int64_t row0, int64_t nrows, void *dst);

#endif
