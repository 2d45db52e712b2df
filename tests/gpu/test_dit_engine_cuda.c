/* The CUDA DiT engine (ranks/dit_engine_cuda.c) against the CPU engine on the tiny model, in one process: the
 * whole model and a 3-way layer split chained through the host act, sink prefill + 6 blocks x 2 step caches
 * (the window wraps), then checkpoints: both backends must save the same K/V, and each resumes the other's.
 * Exits 77 without a CUDA device. */
#include "engine_compare.h"
#include "parallel/device.h"
#include "tiny_model.h"

#define BLOCKS 6 /* blocks 4 and 5 overwrite window slots 0 and 1 */
/* rel L2 of a velocity, GPU vs CPU: bf16 GEMM operands and the bf16 attention path; tests/gpu/test_dit_cuda.c
 * measures ~5e-3 per forward with the same limit. A cache slot in the wrong place or K on the wrong side of
 * RoPE gives errors of order 1. */
#define VEL_TOL 2e-2
/* rel L2 of the saved K/V (bf16 values), GPU vs CPU: the same sources of difference as the velocity */
#define KV_TOL 2e-2
#define GPU_MEM ((uint64_t)1 << 30)

static const int64_t WHOLE[2] = {0, 4}, SPLIT[4] = {0, 1, 3, 4}; /* [1,3) has neither embeddings nor head */

int main(void) {
    if (lavr_device_count() < 1) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    const char *tmp = getenv("LAVR_TEST_TMP");
    char model[512], dir_cpu[512], dir_gpu[512], dir_pp[512];
    snprintf(model, sizeof model, "%s/gpu_engine_tiny.h5", tmp ? tmp : "/tmp");
    snprintf(dir_cpu, sizeof dir_cpu, "%s/gpu_engine_ckpt_cpu", tmp ? tmp : "/tmp");
    snprintf(dir_gpu, sizeof dir_gpu, "%s/gpu_engine_ckpt_cuda", tmp ? tmp : "/tmp");
    snprintf(dir_pp, sizeof dir_pp, "%s/gpu_engine_ckpt_cuda_pp", tmp ? tmp : "/tmp");
    lavr_model_config mc;
    CHECK_OK(tiny_model_write(model, 9, 1, 0, &mc));
    const lavr_dit_config *cfg = &mc.dit;
    CHECK(cfg->num_layers == SPLIT[3]); /* the split covers the tiny model */
    const int64_t C = cfg->in_dim, NB = C * cfg->frames_per_block * EC_LAT * EC_LAT;

    float *ctx = ec_randn(1, EC_CTX_ROWS * cfg->text_dim), *ref = ec_randn(2, C * EC_LAT * EC_LAT);
    float *motion = ec_randn(3, C * 19 * EC_LAT * EC_LAT);
    ec_chain cpu, gpu, pp;
    ec_open(&cpu, 1, WHOLE, LAVR_BACKEND_CPU, model, ctx, MPI_COMM_NULL, -1, 0);
    ec_open(&gpu, 1, WHOLE, LAVR_BACKEND_CUDA, model, ctx, MPI_COMM_NULL, 0, GPU_MEM);
    ec_open(&pp, 3, SPLIT, LAVR_BACKEND_CUDA, model, ctx, MPI_COMM_NULL, 0, GPU_MEM);
    ec_prefill(&cpu, ref, motion);
    ec_prefill(&gpu, ref, motion);
    ec_prefill(&pp, ref, motion);

    float *v_cpu = malloc((size_t)NB * 4), *v_gpu = malloc((size_t)NB * 4), *v_pp = malloc((size_t)NB * 4);
    double worst_gpu = 0, worst_pp = 0;
    int64_t pp_differing = 0;
    for (int n = 0; n <= BLOCKS; n++) {
        if (n == BLOCKS) {
            /* checkpoint after BLOCKS blocks, then the CUDA engines resume from other layouts' checkpoints */
            ec_save(&cpu, dir_cpu, BLOCKS);
            ec_save(&gpu, dir_gpu, BLOCKS);
            ec_save(&pp, dir_pp, BLOCKS);
            int diff_kv = 0, diff_pp = 0;
            const double kv = ec_compare_ckpt(dir_gpu, dir_cpu, BLOCKS, cfg->num_layers, &diff_kv);
            const double kv_pp = ec_compare_ckpt(dir_pp, dir_gpu, BLOCKS, cfg->num_layers, &diff_pp);
            printf("checkpoint K/V: cuda vs cpu worst rel L2 %.3g (limit %.0e, %d of %lld tensors differ); "
                   "cuda split vs cuda whole: %d tensors differ\n",
                   kv, KV_TOL, diff_kv, (long long)(cfg->num_layers * (EC_CACHES + 1) * 2), diff_pp);
            CHECK_MSG(kv <= KV_TOL, "saved K/V rel L2 %.3g > %.3g", kv, KV_TOL);
            CHECK_MSG(diff_pp == 0 && kv_pp == 0, "a layer split changed the saved K/V (rel L2 %.3g)", kv_pp);
            ec_close(&gpu);
            ec_close(&pp);
            ec_open(&gpu, 1, WHOLE, LAVR_BACKEND_CUDA, model, ctx, MPI_COMM_NULL, 0, GPU_MEM);
            ec_open(&pp, 3, SPLIT, LAVR_BACKEND_CUDA, model, ctx, MPI_COMM_NULL, 0, GPU_MEM);
            ec_load(&gpu, dir_cpu, BLOCKS); /* CUDA whole from the CPU's checkpoint */
            ec_load(&pp, dir_gpu, BLOCKS);  /* CUDA split from the CUDA whole model's */
        }
        for (int s = 0; s < EC_CACHES; s++) {
            float *x, *audio;
            const lavr_dit_block_input in = ec_input(cfg, n, s, &x, &audio);
            ec_block(&cpu, s, &in, v_cpu, NB);
            ec_block(&gpu, s, &in, v_gpu, NB);
            ec_block(&pp, s, &in, v_pp, NB);
            const double eg = ec_rel_l2(v_gpu, v_cpu, NB), ep = ec_rel_l2(v_pp, v_cpu, NB);
            int64_t differ = 0;
            for (int64_t i = 0; i < NB; i++) differ += memcmp(&v_pp[i], &v_gpu[i], 4) != 0;
            if (n < BLOCKS) {
                worst_gpu = eg > worst_gpu ? eg : worst_gpu;
                worst_pp = ep > worst_pp ? ep : worst_pp;
                pp_differing += differ;
            } else {
                printf("resumed block %d step %d: cuda (from the cpu checkpoint) vs cpu rel L2 %.3g; cuda split "
                       "(from the cuda whole checkpoint) vs cpu %.3g\n", n, s, eg, ep);
                CHECK_MSG(eg <= VEL_TOL, "resumed cuda velocity rel L2 %.3g > %.3g", eg, VEL_TOL);
                CHECK_MSG(ep <= VEL_TOL, "resumed cuda split velocity rel L2 %.3g > %.3g", ep, VEL_TOL);
            }
            free(x), free(audio);
        }
    }
    printf("velocities over %d blocks x %d steps: cuda vs cpu worst rel L2 %.3g, cuda split [0,1)[1,3)[3,4) vs "
           "cpu %.3g (limit %.0e); split vs whole cuda: %lld values differ\n",
           BLOCKS, EC_CACHES, worst_gpu, worst_pp, VEL_TOL, (long long)pp_differing);
    CHECK_MSG(worst_gpu <= VEL_TOL, "cuda velocity rel L2 %.3g > %.3g", worst_gpu, VEL_TOL);
    CHECK_MSG(worst_pp <= VEL_TOL, "cuda split velocity rel L2 %.3g > %.3g", worst_pp, VEL_TOL);
    /* a layer split runs the same kernels on the same shapes in the same order: the same bits */
    CHECK_MSG(pp_differing == 0, "the layer split changed %lld velocity values", (long long)pp_differing);
    const uint64_t peak = lavr_dit_engine_peak_bytes(gpu.e[0]);
    printf("cuda whole model: device arena peak %.2f MiB (cap %.0f MiB)\n", (double)peak / 1048576.0,
           (double)GPU_MEM / 1048576.0);
    CHECK(peak > 0 && peak <= GPU_MEM);
    CHECK(lavr_dit_engine_peak_bytes(cpu.e[0]) == 0);

    ec_close(&cpu);
    ec_close(&gpu);
    ec_close(&pp);
    free(ctx), free(ref), free(motion), free(v_cpu), free(v_gpu), free(v_pp);
    remove(model);
    return check_summary("test_dit_engine_cuda");
}
