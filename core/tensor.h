/* The tensor type: dtype, up to 5 dims, element strides, the device its data lives on and a data
 * pointer, either owned (taken from an arena) or a view into someone else's buffer. Networks and
 * kernels pass these around. */
#ifndef LAVR_TENSOR_H
#define LAVR_TENSOR_H

#include <stdint.h>

#include "core/arena.h"
#include "core/dtype.h"
#include "core/status.h"

#define LAVR_MAX_DIMS 5

/* Where a tensor's data lives. Every tensor this header makes is a host (CPU) tensor; device tensors
 * come from an execution context (kernels/ctx.h), and only the ops of that context touch their data
 * (element access and lavr_tensor_copy below are for host tensors). Zero-initialised = CPU. */
typedef enum { LAVR_DEVICE_CPU = 0, LAVR_DEVICE_CUDA = 1 } lavr_device_type;

typedef struct {
    lavr_dtype dtype;
    int ndim;
    int64_t shape[LAVR_MAX_DIMS];
    int64_t stride[LAVR_MAX_DIMS]; /* in elements */
    void *data;
    lavr_arena *owner;             /* arena the data came from; NULL for views and device tensors */
    lavr_device_type device;
    void *device_owner;            /* the context that allocated device data (kernels/ctx.h); NULL for views */
} lavr_tensor;

/* A contiguous descriptor with no data. */
lavr_status lavr_tensor_desc(lavr_dtype dtype, int ndim, const int64_t *shape, lavr_tensor *out);
/* Allocates a contiguous tensor from the arena; `what` names it in a cap error. */
lavr_status lavr_tensor_alloc(lavr_arena *arena, lavr_dtype dtype, int ndim, const int64_t *shape,
                              const char *what, lavr_tensor *out);
/* Releases owned data (no-op for views) and clears the descriptor. */
void lavr_tensor_free(lavr_tensor *t);
/* A non-owning contiguous view over external memory. */
lavr_tensor lavr_tensor_wrap(lavr_dtype dtype, int ndim, const int64_t *shape, void *data);

int64_t lavr_tensor_numel(const lavr_tensor *t);
int64_t lavr_tensor_nbytes(const lavr_tensor *t); /* numel * element size (contiguous size) */
int lavr_tensor_is_contiguous(const lavr_tensor *t);
int lavr_tensor_same_shape(const lavr_tensor *a, const lavr_tensor *b);

/* View of [start, start+len) along dim. */
lavr_status lavr_tensor_narrow(const lavr_tensor *t, int dim, int64_t start, int64_t len, lavr_tensor *out);
/* View with a new shape; t must be contiguous and have the same number of elements. */
lavr_status lavr_tensor_reshape(const lavr_tensor *t, int ndim, const int64_t *shape, lavr_tensor *out);

/* Element at a multi-index (ndim entries) as double; store rounds to the tensor's dtype. */
double lavr_tensor_get(const lavr_tensor *t, const int64_t *index);
void lavr_tensor_set(lavr_tensor *t, const int64_t *index, double v);
/* Element at the flat row-major position i of the logical shape (handles strides). */
double lavr_tensor_get_flat(const lavr_tensor *t, int64_t i);

/* Element-wise copy with dtype conversion; shapes must match, strides may differ; host tensors only. */
lavr_status lavr_tensor_copy(lavr_tensor *dst, const lavr_tensor *src);
/* "bf16[16,3,48,88]" */
const char *lavr_tensor_describe(const lavr_tensor *t, char *buf, int len);

#endif
