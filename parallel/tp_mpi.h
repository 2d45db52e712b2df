/* The DiT's tensor-parallel all-reduce over an MPI communicator (the tp group of a stage): the
 * lavr_dit_tp a sharded lavr_dit calls after its o / ffn.2 GEMMs and for its q/k RMSNorm statistics. */
#ifndef LAVR_PARALLEL_TP_MPI_H
#define LAVR_PARALLEL_TP_MPI_H

#include <mpi.h>

#include "core/status.h"
#include "models/dit.h"
#include "parallel/comm.h"

/* Fills *out with the rank and size of tp_comm and an allreduce_sum that is deterministic and
 * bit-identical on every rank: the partial buffers are exchanged and summed in rank order
 * (MPI_Allreduce promises neither: its reduction order may differ between ranks and runs, and the
 * replicated hidden state must stay identical across the tp group). tp_comm is used, not owned; a
 * size-1 (or MPI_COMM_NULL) communicator gives size 1 and no communication. Scratch is at most
 * size x 16 MiB; free it with lavr_tp_mpi_destroy. With faults (the render's
 * communicator) the exchange runs on it and a peer's fault notice ends a wait (parallel/comm.h); NULL: on
 * tp_comm, no watch. */
lavr_status lavr_tp_mpi_create(MPI_Comm tp_comm, lavr_comm *faults, lavr_dit_tp *out);
void lavr_tp_mpi_destroy(lavr_dit_tp *tp);

#endif
