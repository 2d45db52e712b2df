/* Deterministic fp32 all-reduce for the DiT's tensor parallelism: every rank sends its partial sums to
 * each peer, then the same rank-ordered sum on every rank, chunked so that scratch stays bounded. */
#include "parallel/tp_mpi.h"

#include <stdlib.h>
#include <string.h>

#include "parallel/comm_mpi.h"
#include "parallel/mpi.h"

enum { CHUNK_FLOATS = 4 << 20 }; /* 16 MiB of each rank's partial per exchange */

typedef struct {
    MPI_Comm comm; /* the fault-watching communicator's, or the tp communicator without one */
    lavr_comm *faults;
    int rank, size;
    int *peer;       /* [size] rank of tp index r in comm */
    MPI_Request *requests; /* [2 (size - 1)]: receives, then sends */
    float *gathered; /* [size][CHUNK_FLOATS] */
} tp_mpi;

/* Point to point rather than MPI_Allgather: a wait that a peer's fault interrupts can cancel its
 * receives and leave its sends to the drain (parallel/comm.h), where a collective would stay pending. */
static lavr_status allreduce_sum(void *ctx, float *buf, int64_t n) {
    tp_mpi *t = ctx;
    for (int64_t off = 0; off < n; off += CHUNK_FLOATS) {
        const int64_t cnt = n - off < CHUNK_FLOATS ? n - off : CHUNK_FLOATS;
        const int others = t->size - 1;
        for (int r = 0, k = 0; r < t->size; r++) {
            if (r == t->rank) continue;
            MPI_TRY(MPI_Irecv(t->gathered + (int64_t)r * cnt, (int)cnt, MPI_FLOAT, t->peer[r], LAVR_TAG_TP, t->comm,
                              &t->requests[k]));
            MPI_TRY(MPI_Isend(buf + off, (int)cnt, MPI_FLOAT, t->peer[r], LAVR_TAG_TP, t->comm,
                              &t->requests[others + k]));
            k++;
        }
        memcpy(t->gathered + (int64_t)t->rank * cnt, buf + off, (size_t)cnt * sizeof(float));
        TRY(lavr_comm_wait_mpi(t->faults, others, others, t->requests));
        /* rank 0's partial + rank 1's + ...: one fixed order, so every rank gets the same bits */
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < cnt; i++) {
            float s = t->gathered[i];
            for (int r = 1; r < t->size; r++) s += t->gathered[(int64_t)r * cnt + i];
            buf[off + i] = s;
        }
    }
    return LAVR_OK;
}

static void free_tp(tp_mpi *t) {
    if (!t) return;
    free(t->peer);
    free(t->requests);
    free(t->gathered);
    free(t);
}

lavr_status lavr_tp_mpi_create(MPI_Comm tp_comm, lavr_comm *faults, lavr_dit_tp *out) {
    *out = (lavr_dit_tp){0, 1, NULL, NULL};
    if (tp_comm == MPI_COMM_NULL) return LAVR_OK;
    int rank = 0, size = 1;
    MPI_TRY(MPI_Comm_rank(tp_comm, &rank));
    MPI_TRY(MPI_Comm_size(tp_comm, &size));
    if (size == 1) {
        out->rank = rank;
        return LAVR_OK;
    }
    tp_mpi *t = calloc(1, sizeof *t);
    if (!t) return LAVR_FAIL(LAVR_E_NOMEM, "tp all-reduce state");
    t->comm = faults ? lavr_comm_mpi(faults) : tp_comm;
    t->faults = faults;
    t->rank = rank;
    t->size = size;
    t->peer = malloc((size_t)size * sizeof *t->peer);
    t->requests = malloc((size_t)(2 * (size - 1)) * sizeof *t->requests);
    t->gathered = malloc((size_t)size * CHUNK_FLOATS * sizeof(float));
    if (!t->peer || !t->requests || !t->gathered) {
        free_tp(t);
        return LAVR_FAIL(LAVR_E_NOMEM, "tp all-reduce: %d x %d floats of scratch", size, (int)CHUNK_FLOATS);
    }
    /* the tp ranks as ranks of the communicator the exchange runs on */
    MPI_Group tp_group, group;
    int *index = malloc((size_t)size * sizeof *index);
    lavr_status st = index ? LAVR_OK : LAVR_FAIL(LAVR_E_NOMEM, "tp all-reduce: peer list");
    for (int r = 0; index && r < size; r++) index[r] = r;
    int rc = st ? MPI_SUCCESS : MPI_Comm_group(tp_comm, &tp_group);
    if (!st && rc == MPI_SUCCESS) {
        rc = MPI_Comm_group(t->comm, &group);
        if (rc == MPI_SUCCESS) {
            rc = MPI_Group_translate_ranks(tp_group, size, index, group, t->peer);
            MPI_Group_free(&group);
        }
        MPI_Group_free(&tp_group);
    }
    if (!st && rc != MPI_SUCCESS) st = lavr_mpi_fail(rc, "MPI_Group_translate_ranks(tp peers)", __FILE__, __LINE__);
    free(index);
    if (st) {
        free_tp(t);
        return st;
    }
    *out = (lavr_dit_tp){rank, size, allreduce_sum, t};
    return LAVR_OK;
}

void lavr_tp_mpi_destroy(lavr_dit_tp *tp) {
    if (!tp) return;
    free_tp(tp->ctx);
    *tp = (lavr_dit_tp){0, 1, NULL, NULL};
}
