/* The one checked-call macro per GPU library (CUDA runtime, cuBLASLt, cuDNN), shared by kernels/cuda,
 * models and ranks: a failed call becomes a lavr_status with the call, file:line and the library's message. */
#ifndef LAVR_KERNELS_CUDA_CHECK_H
#define LAVR_KERNELS_CUDA_CHECK_H

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "core/status.h"
#ifdef __cplusplus
}
#endif
#if LAVR_HAVE_CUDNN
#include <cudnn.h>
#endif

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

#define CUBLAS_TRY(call)                                                                                 \
    do {                                                                                                 \
        cublasStatus_t e_ = (call);                                                                      \
        if (e_ != CUBLAS_STATUS_SUCCESS)                                                                 \
            return LAVR_FAIL(LAVR_E_CUDA, "%s: %s (%s)", #call, cublasLtGetStatusString(e_),             \
                             cublasLtGetStatusName(e_));                                                 \
    } while (0)

#if LAVR_HAVE_CUDNN
/* cuDNN keeps a longer explanation of the last failure; it goes into the message too. */
#define CUDNN_TRY(call)                                                                                  \
    do {                                                                                                 \
        cudnnStatus_t e_ = (call);                                                                       \
        if (e_ != CUDNN_STATUS_SUCCESS) {                                                                \
            char why_[512];                                                                              \
            cudnnGetLastErrorString(why_, sizeof why_);                                                  \
            return LAVR_FAIL(LAVR_E_CUDA, "%s: %s%s%s", #call, cudnnGetErrorString(e_), why_[0] ? ": " : "", why_); \
        }                                                                                                \
    } while (0)
#endif

static inline cudaStream_t as_stream(void *s) { return (cudaStream_t)s; }

/* Blocks of `threads` covering n elements, capped so the grid-stride loops do the rest. */
static inline unsigned grid_for(int64_t n, int threads) {
    int64_t b = (n + threads - 1) / threads;
    if (b > 65535LL * 16) b = 65535LL * 16;
    return (unsigned)(b > 0 ? b : 1);
}

#endif
