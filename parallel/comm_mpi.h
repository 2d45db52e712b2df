/* The MPI side of the message layer (parallel/comm_mpi.c) for the other MPI code of parallel/: the
 * communicator under a lavr_comm, and a wait on MPI requests that watches for a peer's fault notice. */
#ifndef LAVR_PARALLEL_COMM_MPI_H
#define LAVR_PARALLEL_COMM_MPI_H

#include <mpi.h>

#include "parallel/comm.h"

enum { LAVR_TAG_TP = 102 }; /* the tp all-reduce's partial sums (parallel/tp_mpi.c), beside parallel/schedule.h's */

/* The communicator (a duplicate of MPI_COMM_WORLD: its ranks are world ranks). */
MPI_Comm lavr_comm_mpi(const lavr_comm *c);
/* Waits for requests[0, nrecv) (receives) and requests[nrecv, nrecv + nsend) (sends) without holding a
 * core. c NULL: a plain wait. With c, a peer's fault notice ends it: the receives are cancelled, the sends
 * stay in flight with c (their buffers must live until lavr_comm_end_fault) and the peer's failure is
 * returned. */
lavr_status lavr_comm_wait_mpi(lavr_comm *c, int nrecv, int nsend, MPI_Request *requests);

#endif
