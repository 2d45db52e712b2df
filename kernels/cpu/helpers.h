/* Helpers shared by the CPU ops (internal to kernels/cpu): checking weight tensors, widening runs
 * of stored elements (f32, bf16, f16, fp8 e4m3) to float32, and convolution index ranges. */
#ifndef LAVR_KERNELS_CPU_HELPERS_H
#define LAVR_KERNELS_CPU_HELPERS_H

#include <stdint.h>

#include "core/dtype.h"
#include "core/status.h"
#include "core/tensor.h"

/* Lookup table for fp8 e4m3 -> f32, filled once per op call (256 entries). */
typedef struct {
    float fp8[256];
} widen_table;
void widen_table_init(widen_table *t);

/* out[i] = element start+i of a contiguous buffer of dtype dt, for i in [0, n). dt must be one of
 * F32, BF16, F16, FP8_E4M3 (checked by the callers); tab is needed only for fp8. */
void widen_f32(lavr_dtype dt, const void *base, int64_t start, int64_t n, const widen_table *tab, float *out);

/* Fails unless t is a contiguous tensor with data in one of the four float dtypes; `what` names
 * the argument in the message. */
lavr_status check_float_tensor(const lavr_tensor *t, const char *what);
/* As above, and also requires exactly n elements (bias, gamma, beta). */
lavr_status check_vector(const lavr_tensor *t, int64_t n, const char *what);

/* out[r][c] = dot(a row r, b row c) over n elements for four rows of a (lda apart) and four of b
 * (ldb apart): 16 fp32 dot products sharing their loads (the inner kernel of linear and attention). */
void dot_4x4(const float *a, int64_t lda, const float *b, int64_t ldb, int64_t n, float out[4][4]);
/* One fp32 dot product. */
float dot_1x1(const float *a, const float *b, int64_t n);

/* Output positions o in [0, n_out) whose input index o*stride + tap - pad falls inside [0, n_in):
 * the range [*lo, *hi) (empty when *lo >= *hi). Lets convolution loops skip zero padding. */
static inline void conv_valid_range(int64_t n_in, int64_t n_out, int64_t stride, int64_t pad, int64_t tap,
                                    int64_t *lo, int64_t *hi) {
    const int64_t first = tap - pad; /* input index of output 0 */
    int64_t a = first >= 0 ? 0 : (-first + stride - 1) / stride;
    int64_t b = n_in - 1 - first < 0 ? 0 : (n_in - 1 - first) / stride + 1;
    *lo = a;
    *hi = b < n_out ? b : n_out;
}

#endif
