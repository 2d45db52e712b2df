/* CPU reference of the element-wise ops: GELU (tanh approximation and exact erf), SiLU, and the
 * bf16 rounding point (RNE through core/dtype.h). All computed in fp32 like PyTorch's fp32 kernels. */
#include <math.h>

#include "core/dtype.h"
#include "kernels/ops.h"

/* below this many elements a parallel region costs more than it saves */
#define PARALLEL_MIN 32768

void lavr_op_gelu_tanh(const float *x, int64_t n, float *y) {
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
}

void lavr_op_gelu_erf(const float *x, int64_t n, float *y) {
    const float inv_sqrt2 = 0.7071067811865476f;
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + erff(v * inv_sqrt2));
    }
}

void lavr_op_silu(const float *x, int64_t n, float *y) {
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v / (1.0f + expf(-v));
    }
}

void lavr_op_round_bf16(float *x, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) x[i] = lavr_round_bf16(x[i]);
}
