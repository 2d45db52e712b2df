/* The CUDA DiT engine with tp = 2 (heads and FFN split, all-reduce over NCCL, one GPU per rank) against the CPU
 * engine's whole model on the tiny model: velocities over 6 blocks x 2 step caches, the two tp ranks' velocities
 * identical, the head-split checkpoint equal to the CPU one within bf16 noise, and resumes across layouts
 * (tp=2 checkpoint into a whole CUDA engine, whole CPU checkpoint into tp=2 CUDA engines). Needs 2 GPUs.
 * mpi-ranks: 2 */
#include "gpu/engine_compare.h"
#include "gpu/mpi/gpu_per_rank.h"
#include "parallel/device.h"
#include "parallel/mpi.h"
#include "tiny_model.h"

#define BLOCKS 6
/* as tests/gpu/test_dit_engine_cuda.c (GPU vs CPU ~5e-3 per forward); tp reorders the split sums on top
 * (3.8e-3 on the CPU, tests/mpi/test_render_shard.c) */
#define VEL_TOL 2e-2
#define KV_TOL 2e-2
#define GPU_MEM ((uint64_t)1 << 30)

static const int64_t WHOLE[2] = {0, 4};

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
    if (!own_gpus || size != 2 || !LAVR_HAVE_NCCL) {
        if (rank == 0) printf("test_dit_engine_cuda_tp: needs 2 ranks, 2 GPUs and NCCL (a GPU of its own: %d on this node), skipped\n", devices);
        lavr_mpi_finish();
        return 77;
    }
    const int device = local % devices;
    const char *tmp = getenv("LAVR_TEST_TMP");
    char model[512], dir_cpu[512], dir_tp[512];
    snprintf(model, sizeof model, "%s/gpu_engine_tp_tiny.h5", tmp ? tmp : "/tmp");
    snprintf(dir_cpu, sizeof dir_cpu, "%s/gpu_engine_tp_ckpt_cpu", tmp ? tmp : "/tmp");
    snprintf(dir_tp, sizeof dir_tp, "%s/gpu_engine_tp_ckpt_cuda", tmp ? tmp : "/tmp");
    lavr_model_config mc;
    CHECK_OK(lavr_config_preset("tiny", &mc));
    if (rank == 0) CHECK_OK(tiny_model_write(model, 9, 1, 0, &mc));
    MPI_Barrier(MPI_COMM_WORLD);
    const lavr_dit_config *cfg = &mc.dit;
    const int64_t C = cfg->in_dim, NB = C * cfg->frames_per_block * EC_LAT * EC_LAT;

    float *ctx = ec_randn(1, EC_CTX_ROWS * cfg->text_dim), *ref = ec_randn(2, C * EC_LAT * EC_LAT);
    float *motion = ec_randn(3, C * 19 * EC_LAT * EC_LAT);
    ec_chain cpu, tp, whole;
    memset(&whole, 0, sizeof whole);
    ec_open(&cpu, 1, WHOLE, LAVR_BACKEND_CPU, model, ctx, MPI_COMM_NULL, -1, 0);
    ec_open(&tp, 1, WHOLE, LAVR_BACKEND_CUDA, model, ctx, MPI_COMM_WORLD, device, GPU_MEM);
    ec_prefill(&cpu, ref, motion);
    ec_prefill(&tp, ref, motion);

    float *v_cpu = malloc((size_t)NB * 4), *v_tp = malloc((size_t)NB * 4), *v_peer = malloc((size_t)NB * 4);
    double worst = 0;
    int64_t peer_differing = 0;
    for (int n = 0; n <= BLOCKS; n++) {
        if (n == BLOCKS) {
            /* the tp checkpoint: one rank file per tp rank, committed by rank 0 */
            lavr_ckpt_file files[2], mine;
            memset(&mine, 0, sizeof mine);
            ec_save_engine(tp.e[0], dir_tp, BLOCKS, rank, &mine);
            MPI_Gather(&mine, (int)sizeof mine, MPI_BYTE, files, (int)sizeof mine, MPI_BYTE, 0, MPI_COMM_WORLD);
            if (rank == 0) {
                ec_commit(dir_tp, BLOCKS, files, 2);
                ec_save(&cpu, dir_cpu, BLOCKS);
                int diff = 0;
                const double kv = ec_compare_ckpt(dir_tp, dir_cpu, BLOCKS, cfg->num_layers, &diff);
                printf("checkpoint K/V: cuda tp=2 (head parts of 2 files) vs cpu whole worst rel L2 %.3g (limit %.0e)\n",
                       kv, KV_TOL);
                CHECK_MSG(kv <= KV_TOL, "saved K/V rel L2 %.3g > %.3g", kv, KV_TOL);
            }
            MPI_Barrier(MPI_COMM_WORLD);
            /* resume across layouts: tp=2 -> whole (one GPU), whole CPU -> tp=2 */
            ec_close(&tp);
            ec_open(&whole, 1, WHOLE, LAVR_BACKEND_CUDA, model, ctx, MPI_COMM_NULL, device, GPU_MEM);
            ec_open(&tp, 1, WHOLE, LAVR_BACKEND_CUDA, model, ctx, MPI_COMM_WORLD, device, GPU_MEM);
            ec_load(&whole, dir_tp, BLOCKS);
            ec_load(&tp, dir_cpu, BLOCKS);
        }
        for (int s = 0; s < EC_CACHES; s++) {
            float *x, *audio;
            const lavr_dit_block_input in = ec_input(cfg, n, s, &x, &audio);
            ec_block(&cpu, s, &in, v_cpu, NB);
            ec_block(&tp, s, &in, v_tp, NB);
            const double e = ec_rel_l2(v_tp, v_cpu, NB);
            /* every tp rank ends with the same replicated velocity */
            if (rank == 1) MPI_Send(v_tp, (int)NB, MPI_FLOAT, 0, 7, MPI_COMM_WORLD);
            if (rank == 0) {
                MPI_Recv(v_peer, (int)NB, MPI_FLOAT, 1, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                for (int64_t i = 0; i < NB; i++) peer_differing += memcmp(&v_peer[i], &v_tp[i], 4) != 0;
            }
            if (n < BLOCKS) {
                worst = e > worst ? e : worst;
            } else {
                ec_block(&whole, s, &in, v_peer, NB);
                const double ew = ec_rel_l2(v_peer, v_cpu, NB);
                printf("rank %d resumed block %d step %d: cuda whole from the tp=2 checkpoint vs cpu rel L2 %.3g; "
                       "cuda tp=2 from the cpu checkpoint vs cpu %.3g\n", rank, n, s, ew, e);
                CHECK_MSG(ew <= VEL_TOL, "resumed whole velocity rel L2 %.3g > %.3g", ew, VEL_TOL);
                CHECK_MSG(e <= VEL_TOL, "resumed tp velocity rel L2 %.3g > %.3g", e, VEL_TOL);
            }
            free(x), free(audio);
        }
    }
    printf("rank %d: cuda tp=2 vs cpu whole over %d blocks x %d steps: worst velocity rel L2 %.3g (limit %.0e)\n",
           rank, BLOCKS, EC_CACHES, worst, VEL_TOL);
    CHECK_MSG(worst <= VEL_TOL, "tp velocity rel L2 %.3g > %.3g", worst, VEL_TOL);
    if (rank == 0) {
        printf("tp ranks' velocities: %lld values differ\n", (long long)peer_differing);
        CHECK_MSG(peer_differing == 0, "the tp ranks' velocities differ in %lld values", (long long)peer_differing);
    }
    ec_close(&cpu);
    ec_close(&tp);
    ec_close(&whole);
    free(ctx), free(ref), free(motion), free(v_cpu), free(v_tp), free(v_peer);
    MPI_Comm_free(&node);
    int rc = check_summary("test_dit_engine_cuda_tp");
    lavr_mpi_finish();
    return rc;
}
