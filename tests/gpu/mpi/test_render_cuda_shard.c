/* The render with CUDA DiT ranks split by tp (heads over NCCL) and pp (layer ranges on separate devices)
 * against the single-process CPU runner: steps=1,tp=2 (3 ranks, 2 GPUs) and steps=2,pp=2 (5 ranks). tp needs
 * one GPU per tp rank (NCCL refuses two ranks on one device), so it is skipped on a single GPU.
 * mpi-ranks: 3 5 */
#include "parallel/device.h"
#include "ranks/dit_engine.h"

#define HARNESS_BACKEND LAVR_BACKEND_CUDA
#define HARNESS_GPU_MEM ((uint64_t)2 << 30)
/* as tests/gpu/mpi/test_render_cuda.c: GPU vs CPU forwards (~5e-3 each) through 4 steps; tp adds the
 * reordered split sums (3.8e-3 on the CPU, tests/mpi/test_render_shard.c). Measured on H200: 4.0e-3 for both. */
#define LATENT_TOL 2e-2
#include "tests/mpi/render_harness.h"

int main(int argc, char **argv) {
    if (lavr_mpi_start(&argc, &argv)) {
        fprintf(stderr, "%s\n", lavr_error_message());
        return 1;
    }
    const int size = lavr_mpi_world_size();
    int devices = lavr_device_count(), min_devices = 0;
    MPI_Allreduce(&devices, &min_devices, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (min_devices == 0 || (size == 3 && (min_devices < 2 || !LAVR_HAVE_NCCL))) {
        if (lavr_mpi_world_rank() == 0)
            printf("test_render_cuda_shard: %d ranks need %s, skipped\n", size,
                   size == 3 ? "2 GPUs and NCCL" : "a CUDA device");
        lavr_mpi_finish();
        return 77;
    }
    if (size == 3) harness_run("steps=1,tp=2,pp=1,aux=1", "cuda_steps1_tp2", LATENT_TOL);
    else if (size == 5) harness_run("steps=2,tp=1,pp=2,aux=1", "cuda_steps2_pp2", LATENT_TOL);
    else CHECK_MSG(0, "no layout for %d ranks", size);
    int rc = check_summary("test_render_cuda_shard");
    lavr_mpi_finish();
    return rc;
}
