/* The GPU DiT split over a tensor-parallel group (heads and FFN columns, NCCL all-reduce) against the whole CPU
 * DiT on the tiny model: every block and step's velocity by rel L2 on every rank.
 * mpi-ranks: 2
 * Run: OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_NVLS_ENABLE=0 \
 *      mpirun -np 2 build/tests/gpu_test_dit_cuda_tp   (one GPU per rank; exits 77 without them) */
#include <mpi.h>
#include <stdio.h>

#include "check.h"
#include "gpu/mpi/gpu_per_rank.h"
#include "gpu/dit_cuda_compare.h"
#include "parallel/device.h"
#include "parallel/mpi.h"
#include "parallel/nccl.h"
#include "tiny_model.h"

#define BLOCKS 5
#define VEL_TOL 2e-2 /* as the single-GPU test: the all-reduced partial sums add in another order */

static lavr_status host_sum(void *ctx, float *buf, int64_t n) {
    (void)ctx;
    MPI_TRY(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD));
    return LAVR_OK;
}

static lavr_status nccl_sum(void *ctx, float *buf, int64_t n, void *stream) {
    return lavr_nccl_allreduce_sum(ctx, buf, n, LAVR_F32, stream);
}

int main(int argc, char **argv) {
    if (lavr_mpi_start(&argc, &argv)) {
        fprintf(stderr, "%s\n", lavr_error_message());
        return 1;
    }
    const int rank = lavr_mpi_world_rank(), size = lavr_mpi_world_size();
    int devices = 0, local = 0;
    MPI_Comm node;
    CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node) == MPI_SUCCESS);
    CHECK(MPI_Comm_rank(node, &local) == MPI_SUCCESS);
    const int own_gpus = gpu_per_rank(&devices);
    if (!own_gpus || size != 2) {
        if (rank == 0) printf("test_dit_cuda_tp: needs 2 ranks with a GPU each (a GPU of its own: %d on this node), skipped\n", devices);
        lavr_mpi_finish();
        return 77;
    }
    const char *tmp = getenv("LAVR_TEST_TMP");
    char path[512];
    snprintf(path, sizeof path, "%s/gpu_dit_cuda_tp.h5", tmp ? tmp : "/tmp");
    lavr_model_config mc;
    if (rank == 0) CHECK_OK(tiny_model_write(path, 6, 1, 0, &mc));
    MPI_Barrier(MPI_COMM_WORLD);
    lavr_h5file *f = NULL;
    lavr_dit *m = NULL, *part = NULL;
    CHECK_OK(lavr_h5_open(path, &f));
    CHECK_OK(lavr_dit_load(f, "dit/", "/dit", &m));
    /* the CPU shard only supplies this rank's weight slices */
    const lavr_dit_shard shard = {0, -1, {rank, size, host_sum, NULL}, 0};
    CHECK_OK(lavr_dit_load_shard(f, "dit/", "/dit", &shard, &part));
    lavr_nccl *nc = NULL;
    CHECK_OK(lavr_nccl_create(MPI_COMM_WORLD, local % devices, 60, &nc));
    lavr_device_arena *arena = NULL;
    lavr_cuda_blas *blas = NULL;
    CHECK_OK(lavr_device_arena_create("tp", (size_t)2 << 30, &arena));
    CHECK_OK(lavr_cuda_blas_create(0, &blas));
    lavr_dit_cuda *g = NULL;
    const lavr_dit_cuda_tp tp = {.rank = rank, .size = size, .allreduce_sum = nccl_sum, .ctx = nc};
    if (m && part && nc && arena && blas) {
        CHECK_OK(lavr_dit_cuda_create(&m->cfg, &tp, CMP_LAT, CMP_LAT, arena, blas, NULL, &g));
        if (g) CHECK_OK(lavr_dit_cuda_upload(g, part));
    }
    if (g) {
        const cmp_result r = cmp_run(m, g, arena, BLOCKS);
        CHECK_MSG(r.worst_velocity <= VEL_TOL, "rank %d: velocity rel L2 %.3g > %.3g", rank, r.worst_velocity, VEL_TOL);
        CHECK(r.euler_same);
        printf("rank %d of %d: worst velocity rel L2 %.3g (limit %.0e) over %d blocks x %d steps, tp %d\n", rank, size,
               r.worst_velocity, VEL_TOL, BLOCKS, CMP_STEPS, size);
    }
    lavr_dit_cuda_destroy(g);
    lavr_cuda_blas_destroy(blas);
    lavr_device_arena_destroy(arena);
    lavr_nccl_destroy(nc);
    lavr_dit_destroy(part);
    lavr_dit_destroy(m);
    lavr_h5_close(f);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) remove(path);
    MPI_Comm_free(&node);
    const int code = check_summary("test_dit_cuda_tp");
    lavr_mpi_finish();
    return code;
}
