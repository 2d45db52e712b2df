/* The converter's view of a component's source tensors, whatever file they come from (safetensors
 * shards or a torch zip): official name, dtype, shape, row reads, and the check of the whole set
 * against the inventory the config implies (missing, unexpected and mis-shaped tensors by name). */
#ifndef LAVR_IO_CONVERT_SOURCE_H
#define LAVR_IO_CONVERT_SOURCE_H

#include <stdint.h>

#include "core/status.h"
#include "io/safetensors.h"
#include "io/torchzip.h"
#include "models/config.h"

typedef struct {
    char *name; /* official state-dict name (after renaming) */
    lavr_dtype dtype;
    int ndim;
    int64_t shape[LAVR_MAX_DIMS];
    const lavr_safetensors *st; /* exactly one of st / tz is set */
    const lavr_st_tensor *st_tensor;
    lavr_torchzip *tz;
    const lavr_tz_tensor *tz_tensor;
} lavr_cv_tensor;

typedef struct {
    lavr_cv_tensor *items;
    int count, cap;
} lavr_cv_set;

/* Maps a file's name to the official one in out (cap bytes); returns 0 to leave the tensor out. */
typedef int (*lavr_cv_rename_fn)(const char *file_name, char *out, size_t cap);

/* Adds every tensor of the file (rename may be NULL: names kept). A name seen twice is an error. */
lavr_status lavr_cv_add_safetensors(lavr_cv_set *set, const lavr_safetensors *st, lavr_cv_rename_fn rename);
lavr_status lavr_cv_add_torchzip(lavr_cv_set *set, lavr_torchzip *tz, lavr_cv_rename_fn rename);
void lavr_cv_set_free(lavr_cv_set *set);
const lavr_cv_tensor *lavr_cv_find(const lavr_cv_set *set, const char *name);

/* Rows [row0, row0 + nrows) along dim 0 in the source dtype, contiguous. */
lavr_status lavr_cv_read_rows(const lavr_cv_tensor *t, int64_t row0, int64_t nrows, void *dst);

/* The set must hold exactly the inventory's names with its shapes. The LAVR_E_FORMAT error names
 * the component and where the files were ("dit (DIR/diffusion_pytorch_model-*)"), lists missing
 * and unexpected tensors (first few of each, then a count) and every shape mismatch. */
typedef lavr_status (*lavr_cv_inventory_fn)(const void *cfg, lavr_inventory_fn fn, void *user);
lavr_status lavr_cv_check(const lavr_cv_set *set, const char *what, lavr_cv_inventory_fn inventory, const void *cfg);

#endif
