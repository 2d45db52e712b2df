/* NCCL communicators bootstrapped through MPI (built with -DLAVR_NCCL=ON): the unique id travels by
 * MPI_Bcast, every call is checked, and waits poll NCCL's asynchronous error so a failed or stuck peer
 * aborts the communicator with a message instead of hanging the job. */
#ifndef LAVR_PARALLEL_NCCL_H
#define LAVR_PARALLEL_NCCL_H

#include <mpi.h>
#include <stdint.h>

#include "core/dtype.h"
#include "core/status.h"
#include "parallel/comm.h"

typedef struct lavr_nccl lavr_nccl;

/* Collective over `comm`: makes `device` current (parallel/mpi.h's roles->device, chosen by node-local
 * rank), then rank 0 of comm creates the unique id, MPI_Bcast hands it to the others and every rank
 * joins with ncclCommInitRankConfig (non-blocking, polled for up to timeout_s seconds). All ranks agree
 * on the outcome (MPI_Allreduce), so either every rank gets a communicator or every rank fails. */
lavr_status lavr_nccl_create(MPI_Comm comm, int device, double timeout_s, lavr_nccl **out);
/* ncclCommDestroy, or ncclCommAbort after an error. NULL is allowed. */
void lavr_nccl_destroy(lavr_nccl *c);
int lavr_nccl_rank(const lavr_nccl *c);
int lavr_nccl_size(const lavr_nccl *c);

/* Enqueue on `stream` (a cudaStream_t; NULL = legacy default stream) and return without waiting.
 * dtype: LAVR_F32 or LAVR_BF16 (bf16 sums are rounded by NCCL after each addition). */
lavr_status lavr_nccl_allreduce_sum(lavr_nccl *c, void *buf, int64_t count, lavr_dtype dtype, void *stream);
/* The element-wise maximum over the group (the FP8 activation amax of a tp-split tensor). */
lavr_status lavr_nccl_allreduce_max(lavr_nccl *c, void *buf, int64_t count, lavr_dtype dtype, void *stream);
lavr_status lavr_nccl_send(lavr_nccl *c, const void *buf, int64_t count, lavr_dtype dtype, int peer, void *stream);
lavr_status lavr_nccl_recv(lavr_nccl *c, void *buf, int64_t count, lavr_dtype dtype, int peer, void *stream);
/* Several sends/receives issued as one group (both sides of an exchange, so neither blocks the other). */
lavr_status lavr_nccl_group_begin(lavr_nccl *c);
lavr_status lavr_nccl_group_end(lavr_nccl *c);

/* Waits until `stream` has finished, polling the communicator's asynchronous error; an NCCL error, or
 * no completion within timeout_s seconds, aborts the communicator and fails with LAVR_E_CUDA. With
 * faults (the render's messages, parallel/comm.h), a peer's fault notice aborts it too (its kernels
 * would wait for that peer forever) and the peer's failure is returned; NULL: no watch. */
lavr_status lavr_nccl_sync(lavr_nccl *c, void *stream, double timeout_s, lavr_comm *faults);

#endif
