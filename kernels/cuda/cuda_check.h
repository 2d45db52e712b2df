/* Internal to kernels/cuda/*.cu: checked-call macros that turn CUDA runtime and cuBLASLt errors
 * into lavr_status with the library's own error string, plus launch-size helpers. */
#ifndef LAVR_KERNELS_CUDA_CHECK_H
#define LAVR_KERNELS_CUDA_CHECK_H

#include <cuda_runtime.h>

#include "kernels/cuda/ops_cuda.h"

#define CUDA_TRY(call)                                                                                   \
    do {                                                                                                 \
        cudaError_t e_ = (call);                                                                         \
        if (e_ != cudaSuccess)                                                                           \
            return LAVR_FAIL(LAVR_E_CUDA, "%s: %s (%s)", #call, cudaGetErrorString(e_), cudaGetErrorName(e_)); \
    } while (0)

/* After a <<<>>> launch: reports a bad configuration without synchronising. */
#define CUDA_TRY_LAUNCH(what) CUDA_TRY_NAMED(cudaGetLastError(), what)
#define CUDA_TRY_NAMED(call, what)                                                                       \
    do {                                                                                                 \
        cudaError_t e_ = (call);                                                                         \
        if (e_ != cudaSuccess) return LAVR_FAIL(LAVR_E_CUDA, "%s: %s", (what), cudaGetErrorString(e_)); \
    } while (0)

static inline cudaStream_t as_stream(void *s) { return (cudaStream_t)s; }

/* Blocks of `threads` covering n elements, capped so the grid-stride loops do the rest. */
static inline unsigned grid_for(int64_t n, int threads) {
    int64_t b = (n + threads - 1) / threads;
    if (b > 65535LL * 16) b = 65535LL * 16;
    return (unsigned)(b > 0 ? b : 1);
}

#endif
