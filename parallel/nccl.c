/* NCCL bootstrap through MPI and the checked, non-blocking-aware wrappers of parallel/nccl.h: the
 * communicator is created non-blocking so that initialisation and waits can time out and abort. */
#include "parallel/nccl.h"

#include <cuda_runtime_api.h>
#include <nccl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parallel/mpi.h"

struct lavr_nccl {
    ncclComm_t comm;
    int rank, size, device, failed;
};

#define NCCL_TRY(c, call)                                                                       \
    do {                                                                                        \
        ncclResult_t r_ = (call);                                                               \
        if (r_ != ncclSuccess && r_ != ncclInProgress) return nccl_fail((c), r_, #call, __FILE__, __LINE__); \
        if (r_ == ncclInProgress) TRY(wait_ready((c), #call, 60.0));                            \
    } while (0)

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void nap(void) {
    struct timespec t = {0, 50000}; /* 50 us */
    nanosleep(&t, NULL);
}

/* Aborts the communicator (so no peer or kernel waits on it any longer) and records the error. */
static lavr_status nccl_fail(lavr_nccl *c, ncclResult_t r, const char *call, const char *file, int line) {
    const char *detail = c && c->comm ? ncclGetLastError(c->comm) : ncclGetLastError(NULL);
    if (c && c->comm && !c->failed) {
        c->failed = 1;
        ncclCommAbort(c->comm);
        c->comm = NULL;
    }
    return lavr_error_set(LAVR_E_CUDA, file, line, "%s: %s%s%s (communicator aborted)", call, ncclGetErrorString(r),
                          detail && *detail ? ": " : "", detail ? detail : "");
}

/* A non-blocking communicator finishes each call in the background: poll until it is ready. */
static lavr_status wait_ready(lavr_nccl *c, const char *what, double timeout_s) {
    const double start = now_s();
    for (;;) {
        ncclResult_t state = ncclSuccess;
        ncclResult_t r = ncclCommGetAsyncError(c->comm, &state);
        if (r != ncclSuccess) return nccl_fail(c, r, "ncclCommGetAsyncError", __FILE__, __LINE__);
        if (state == ncclSuccess) return LAVR_OK;
        if (state != ncclInProgress) return nccl_fail(c, state, what, __FILE__, __LINE__);
        if (now_s() - start > timeout_s) {
            lavr_status st = nccl_fail(c, ncclInProgress, what, __FILE__, __LINE__);
            return lavr_error_wrap(st, "no progress in %.0f s", timeout_s);
        }
        nap();
    }
}

static lavr_status nccl_type(lavr_dtype dtype, ncclDataType_t *out) {
    if (dtype == LAVR_F32)
        *out = ncclFloat32;
    else if (dtype == LAVR_BF16)
        *out = ncclBfloat16;
    else
        return LAVR_FAIL(LAVR_E_ARG, "nccl: unsupported dtype %s (f32 or bf16)", lavr_dtype_name(dtype));
    return LAVR_OK;
}

static lavr_status check_usable(const lavr_nccl *c, const void *buf, int64_t count) {
    CHECK_ARG(c && (buf || count == 0) && count >= 0, "nccl: bad arguments (count %lld)", (long long)count);
    if (c->failed) return LAVR_FAIL(LAVR_E_CUDA, "nccl: the communicator was aborted after an earlier error");
    return LAVR_OK;
}

lavr_status lavr_nccl_create(MPI_Comm comm, int device, double timeout_s, lavr_nccl **out) {
    *out = NULL;
    int rank, size;
    MPI_TRY(MPI_Comm_rank(comm, &rank));
    MPI_TRY(MPI_Comm_size(comm, &size));
    lavr_nccl *c = calloc(1, sizeof *c);
    if (!c) return LAVR_FAIL(LAVR_E_NOMEM, "nccl: communicator record");
    c->rank = rank;
    c->size = size;
    c->device = device;

    /* rank 0 makes the id; a failure there is broadcast too, so nobody waits in ncclCommInitRank */
    struct {
        int ok;
        ncclUniqueId id;
    } boot;
    memset(&boot, 0, sizeof boot);
    lavr_status st = LAVR_OK;
    cudaError_t ce = cudaSetDevice(device);
    if (ce != cudaSuccess)
        st = LAVR_FAIL(LAVR_E_CUDA, "cudaSetDevice(%d): %s", device, cudaGetErrorString(ce));
    if (rank == 0 && !st) {
        ncclResult_t r = ncclGetUniqueId(&boot.id);
        if (r != ncclSuccess) st = LAVR_FAIL(LAVR_E_CUDA, "ncclGetUniqueId: %s", ncclGetErrorString(r));
    }
    boot.ok = !st;
    int rc = MPI_Bcast(&boot, (int)sizeof boot, MPI_BYTE, 0, comm);
    if (rc != MPI_SUCCESS) {
        free(c);
        return lavr_mpi_fail(rc, "MPI_Bcast(nccl unique id)", __FILE__, __LINE__);
    }
    if (!st && !boot.ok) st = LAVR_FAIL(LAVR_E_CUDA, "nccl: rank 0 of the communicator could not create the unique id");
    if (!st) {
        ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
        config.blocking = 0;
        ncclResult_t r = ncclCommInitRankConfig(&c->comm, size, boot.id, rank, &config);
        if (r != ncclSuccess && r != ncclInProgress)
            st = nccl_fail(c, r, "ncclCommInitRankConfig", __FILE__, __LINE__);
        else
            st = wait_ready(c, "ncclCommInitRankConfig", timeout_s);
    }
    /* every rank learns whether all of them joined */
    int mine = !st, all = 0;
    rc = MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, comm);
    if (rc != MPI_SUCCESS && !st) st = lavr_mpi_fail(rc, "MPI_Allreduce(nccl init outcome)", __FILE__, __LINE__);
    if (!st && !all) st = LAVR_FAIL(LAVR_E_CUDA, "nccl: another rank of the communicator failed to join it");
    if (st) {
        lavr_nccl_destroy(c);
        return st;
    }
    *out = c;
    return LAVR_OK;
}

void lavr_nccl_destroy(lavr_nccl *c) {
    if (!c) return;
    if (c->comm) {
        if (c->failed || ncclCommDestroy(c->comm) != ncclSuccess) ncclCommAbort(c->comm);
    }
    free(c);
}

int lavr_nccl_rank(const lavr_nccl *c) { return c->rank; }
int lavr_nccl_size(const lavr_nccl *c) { return c->size; }

lavr_status lavr_nccl_allreduce_sum(lavr_nccl *c, void *buf, int64_t count, lavr_dtype dtype, void *stream) {
    TRY(check_usable(c, buf, count));
    ncclDataType_t t = ncclFloat32;
    TRY(nccl_type(dtype, &t));
    NCCL_TRY(c, ncclAllReduce(buf, buf, (size_t)count, t, ncclSum, c->comm, (cudaStream_t)stream));
    return LAVR_OK;
}

lavr_status lavr_nccl_allreduce_max(lavr_nccl *c, void *buf, int64_t count, lavr_dtype dtype, void *stream) {
    TRY(check_usable(c, buf, count));
    ncclDataType_t t = ncclFloat32;
    TRY(nccl_type(dtype, &t));
    NCCL_TRY(c, ncclAllReduce(buf, buf, (size_t)count, t, ncclMax, c->comm, (cudaStream_t)stream));
    return LAVR_OK;
}

lavr_status lavr_nccl_send(lavr_nccl *c, const void *buf, int64_t count, lavr_dtype dtype, int peer, void *stream) {
    TRY(check_usable(c, buf, count));
    CHECK_ARG(peer >= 0 && peer < c->size && peer != c->rank, "nccl send: bad peer %d of %d", peer, c->size);
    ncclDataType_t t = ncclFloat32;
    TRY(nccl_type(dtype, &t));
    NCCL_TRY(c, ncclSend(buf, (size_t)count, t, peer, c->comm, (cudaStream_t)stream));
    return LAVR_OK;
}

lavr_status lavr_nccl_recv(lavr_nccl *c, void *buf, int64_t count, lavr_dtype dtype, int peer, void *stream) {
    TRY(check_usable(c, buf, count));
    CHECK_ARG(peer >= 0 && peer < c->size && peer != c->rank, "nccl recv: bad peer %d of %d", peer, c->size);
    ncclDataType_t t = ncclFloat32;
    TRY(nccl_type(dtype, &t));
    NCCL_TRY(c, ncclRecv(buf, (size_t)count, t, peer, c->comm, (cudaStream_t)stream));
    return LAVR_OK;
}

lavr_status lavr_nccl_group_begin(lavr_nccl *c) {
    TRY(check_usable(c, NULL, 0));
    NCCL_TRY(c, ncclGroupStart());
    return LAVR_OK;
}

lavr_status lavr_nccl_group_end(lavr_nccl *c) {
    TRY(check_usable(c, NULL, 0));
    NCCL_TRY(c, ncclGroupEnd());
    return LAVR_OK;
}

lavr_status lavr_nccl_sync(lavr_nccl *c, void *stream, double timeout_s, lavr_comm *faults) {
    TRY(check_usable(c, NULL, 0));
    const double start = now_s();
    for (;;) {
        cudaError_t e = cudaStreamQuery((cudaStream_t)stream);
        if (e == cudaSuccess) return LAVR_OK;
        if (e != cudaErrorNotReady) {
            lavr_status st = nccl_fail(c, ncclUnhandledCudaError, "cudaStreamQuery", __FILE__, __LINE__);
            return lavr_error_wrap(st, "%s", cudaGetErrorString(e));
        }
        ncclResult_t state = ncclSuccess;
        ncclResult_t r = ncclCommGetAsyncError(c->comm, &state);
        if (r != ncclSuccess) return nccl_fail(c, r, "ncclCommGetAsyncError", __FILE__, __LINE__);
        if (state != ncclSuccess && state != ncclInProgress)
            return nccl_fail(c, state, "nccl operation on the stream", __FILE__, __LINE__);
        lavr_status peer = lavr_comm_check_fault(faults);
        if (peer) {
            c->failed = 1;
            ncclCommAbort(c->comm);
            c->comm = NULL;
            return peer;
        }
        if (now_s() - start > timeout_s) {
            lavr_status st = nccl_fail(c, ncclInProgress, "nccl wait", __FILE__, __LINE__);
            return lavr_error_wrap(st, "stream not done after %.0f s (a peer may have failed)", timeout_s);
        }
        nap();
    }
}
