/* Tensor descriptors, views and the strided element access used by the CPU reference code and
 * the tests; hot loops in kernels work on raw contiguous pointers instead. */
#include "core/tensor.h"

#include <stdio.h>
#include <string.h>

static void contiguous_strides(lavr_tensor *t) {
    int64_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        t->stride[d] = s;
        s *= t->shape[d];
    }
}

lavr_status lavr_tensor_desc(lavr_dtype dtype, int ndim, const int64_t *shape, lavr_tensor *out) {
    memset(out, 0, sizeof *out);
    if (ndim < 0 || ndim > LAVR_MAX_DIMS)
        return LAVR_FAIL(LAVR_E_ARG, "tensor rank %d outside 0..%d", ndim, LAVR_MAX_DIMS);
    if ((unsigned)dtype >= LAVR_DTYPE_COUNT) return LAVR_FAIL(LAVR_E_ARG, "invalid dtype %d", (int)dtype);
    out->dtype = dtype;
    out->ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return LAVR_FAIL(LAVR_E_ARG, "negative tensor dimension %lld", (long long)shape[d]);
        out->shape[d] = shape[d];
    }
    contiguous_strides(out);
    return LAVR_OK;
}

lavr_status lavr_tensor_alloc(lavr_arena *arena, lavr_dtype dtype, int ndim, const int64_t *shape,
                              const char *what, lavr_tensor *out) {
    TRY(lavr_tensor_desc(dtype, ndim, shape, out));
    int64_t bytes = lavr_tensor_nbytes(out);
    TRY(lavr_arena_alloc(arena, (size_t)(bytes ? bytes : 1), what, &out->data));
    out->owner = arena;
    return LAVR_OK;
}

void lavr_tensor_free(lavr_tensor *t) {
    if (t->owner) lavr_arena_free(t->owner, t->data);
    memset(t, 0, sizeof *t);
}

lavr_tensor lavr_tensor_wrap(lavr_dtype dtype, int ndim, const int64_t *shape, void *data) {
    lavr_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.ndim = ndim;
    for (int d = 0; d < ndim; d++) t.shape[d] = shape[d];
    contiguous_strides(&t);
    t.data = data;
    return t;
}

int64_t lavr_tensor_numel(const lavr_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

int64_t lavr_tensor_nbytes(const lavr_tensor *t) {
    return lavr_tensor_numel(t) * (int64_t)lavr_dtype_size(t->dtype);
}

int lavr_tensor_is_contiguous(const lavr_tensor *t) {
    int64_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->stride[d] != s) return 0;
        s *= t->shape[d];
    }
    return 1;
}

int lavr_tensor_same_shape(const lavr_tensor *a, const lavr_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

lavr_status lavr_tensor_narrow(const lavr_tensor *t, int dim, int64_t start, int64_t len, lavr_tensor *out) {
    if (dim < 0 || dim >= t->ndim) return LAVR_FAIL(LAVR_E_ARG, "narrow: dim %d of a %d-d tensor", dim, t->ndim);
    if (start < 0 || len < 0 || start + len > t->shape[dim])
        return LAVR_FAIL(LAVR_E_ARG, "narrow: range [%lld, %lld) outside dim %d of size %lld", (long long)start,
                         (long long)(start + len), dim, (long long)t->shape[dim]);
    *out = *t;
    out->owner = NULL;
    out->device_owner = NULL;
    out->shape[dim] = len;
    out->data = (char *)t->data + start * t->stride[dim] * (int64_t)lavr_dtype_size(t->dtype);
    return LAVR_OK;
}

lavr_status lavr_tensor_reshape(const lavr_tensor *t, int ndim, const int64_t *shape, lavr_tensor *out) {
    if (!lavr_tensor_is_contiguous(t)) return LAVR_FAIL(LAVR_E_ARG, "reshape of a non-contiguous tensor");
    lavr_tensor r;
    TRY(lavr_tensor_desc(t->dtype, ndim, shape, &r));
    if (lavr_tensor_numel(&r) != lavr_tensor_numel(t))
        return LAVR_FAIL(LAVR_E_ARG, "reshape from %lld to %lld elements", (long long)lavr_tensor_numel(t),
                         (long long)lavr_tensor_numel(&r));
    r.data = t->data;
    r.device = t->device;
    *out = r;
    return LAVR_OK;
}

static int64_t offset_of(const lavr_tensor *t, const int64_t *index) {
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++) off += index[d] * t->stride[d];
    return off;
}

double lavr_tensor_get(const lavr_tensor *t, const int64_t *index) {
    return lavr_dtype_load(t->dtype, t->data, offset_of(t, index));
}

void lavr_tensor_set(lavr_tensor *t, const int64_t *index, double v) {
    lavr_dtype_store(t->dtype, t->data, offset_of(t, index), v);
}

static int64_t flat_offset(const lavr_tensor *t, int64_t i) {
    int64_t off = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
        off += (i % t->shape[d]) * t->stride[d];
        i /= t->shape[d];
    }
    return off;
}

double lavr_tensor_get_flat(const lavr_tensor *t, int64_t i) {
    return lavr_dtype_load(t->dtype, t->data, flat_offset(t, i));
}

lavr_status lavr_tensor_copy(lavr_tensor *dst, const lavr_tensor *src) {
    if (dst->device != LAVR_DEVICE_CPU || src->device != LAVR_DEVICE_CPU)
        return LAVR_FAIL(LAVR_E_INTERNAL, "lavr_tensor_copy of a device tensor (use the context's lavr_ctx_copy)");
    if (!lavr_tensor_same_shape(dst, src)) {
        char a[96], b[96];
        return LAVR_FAIL(LAVR_E_ARG, "copy between shapes %s and %s", lavr_tensor_describe(dst, a, sizeof a),
                         lavr_tensor_describe(src, b, sizeof b));
    }
    int64_t n = lavr_tensor_numel(src);
    if (dst->dtype == src->dtype && lavr_tensor_is_contiguous(dst) && lavr_tensor_is_contiguous(src)) {
        memmove(dst->data, src->data, (size_t)lavr_tensor_nbytes(src));
        return LAVR_OK;
    }
    for (int64_t i = 0; i < n; i++)
        lavr_dtype_store(dst->dtype, dst->data, flat_offset(dst, i),
                         lavr_dtype_load(src->dtype, src->data, flat_offset(src, i)));
    return LAVR_OK;
}

const char *lavr_tensor_describe(const lavr_tensor *t, char *buf, int len) {
    int o = snprintf(buf, (size_t)len, "%s[", lavr_dtype_name(t->dtype));
    for (int d = 0; d < t->ndim && o < len; d++)
        o += snprintf(buf + o, (size_t)(len - o), d ? ",%lld" : "%lld", (long long)t->shape[d]);
    if (o < len) snprintf(buf + o, (size_t)(len - o), "]");
    return buf;
}
