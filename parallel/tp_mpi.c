/* Deterministic fp32 all-reduce for the DiT's tensor parallelism: MPI_Allgather of the partial sums,
 * then the same rank-ordered sum on every rank, chunked so that scratch stays bounded. */
#include "parallel/tp_mpi.h"

#include <stdlib.h>

#include "parallel/mpi.h"

enum { CHUNK_FLOATS = 4 << 20 }; /* 16 MiB of each rank's partial per exchange */

typedef struct {
    MPI_Comm comm;
    int size;
    float *gathered; /* [size][CHUNK_FLOATS] */
} tp_mpi;

static lavr_status allreduce_sum(void *ctx, float *buf, int64_t n) {
    tp_mpi *t = ctx;
    for (int64_t off = 0; off < n; off += CHUNK_FLOATS) {
        const int64_t cnt = n - off < CHUNK_FLOATS ? n - off : CHUNK_FLOATS;
        MPI_TRY(MPI_Allgather(buf + off, (int)cnt, MPI_FLOAT, t->gathered, (int)cnt, MPI_FLOAT, t->comm));
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

lavr_status lavr_tp_mpi_create(MPI_Comm tp_comm, lavr_dit_tp *out) {
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
    t->comm = tp_comm;
    t->size = size;
    t->gathered = malloc((size_t)size * CHUNK_FLOATS * sizeof(float));
    if (!t->gathered) {
        free(t);
        return LAVR_FAIL(LAVR_E_NOMEM, "tp all-reduce: %d x %d floats of scratch", size, (int)CHUNK_FLOATS);
    }
    *out = (lavr_dit_tp){rank, size, allreduce_sum, t};
    return LAVR_OK;
}

void lavr_tp_mpi_destroy(lavr_dit_tp *tp) {
    if (!tp) return;
    tp_mpi *t = tp->ctx;
    if (t) free(t->gathered);
    free(t);
    *tp = (lavr_dit_tp){0, 1, NULL, NULL};
}
