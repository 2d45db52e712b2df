/* The pp hand-off device to device over NCCL (parallel/p2p.h) against the same render with LAVR_P2P=mpi (host MPI):
 * CUDA DiT ranks, pp=2 (steps=1: 3 ranks; steps=2: 5 ranks, two pp chains), tiny model, 2 clips. The transport moves
 * the same fp32 act values, so every clean latent must be bit-identical; the NCCL render is also checked against the
 * single-process CPU runner as tests/gpu/mpi/test_render_cuda_shard.c does, and a pp 1 rank's failure must end every
 * rank with its message while pp 0 waits in the NCCL hand-off. Needs 2 GPUs (a chain on one GPU falls back to MPI,
 * which would compare MPI with MPI): skipped with fewer.
 * mpi-ranks: 3 5 */
#include "parallel/device.h"
#include "parallel/p2p.h"
#include "ranks/dit_engine.h"

#define HARNESS_BACKEND LAVR_BACKEND_CUDA
#define HARNESS_GPU_MEM ((uint64_t)2 << 30)
#define LATENT_TOL 2e-2 /* as tests/gpu/mpi/test_render_cuda_shard.c (measured 4.0e-3 for steps=2,pp=2 on H200) */
#include "tests/mpi/render_harness.h"

/* The block a failing rank fails at: clip 1's first, whose sink prefill the pp 0 rank sends as a header-only
 * message (small enough to leave at once) and then the act over NCCL, so pp 0 is waiting in the NCCL hand-off when
 * the fault notice comes (or still in a host wait: either watches for it). */
#define FAIL_BLOCK 4

/* Every rank's outcome of a render where fail_rank failed: that rank's one message, on every rank. */
static void check_fault(lavr_status st, int fail_rank) {
    char expect[64];
    snprintf(expect, sizeof expect, "rank %d (dit s0 tp0 pp1): injected failure", fail_rank);
    CHECK_MSG(st != LAVR_OK && strstr(lavr_error_message(), expect) != NULL, "rank %d ended with %d: %s",
              lavr_mpi_world_rank(), (int)st, lavr_error_message());
    lavr_error_clear();
}

/* Renders layout_text with the model at `model`; DiT ranks first check the transport their chain chooses (expect).
 * The aux rank returns the clean latents (malloc'd, *n values), the others NULL. fail_rank >= 0: that rank fails as
 * block 4 arrives (LAVR_FAIL_AT's aid) and every rank must end with its one message instead. */
static float *render(const char *layout_text, const char *model, lavr_p2p_transport expect, int fail_rank,
                     int64_t *n) {
    lavr_layout layout;
    lavr_model_config cfg;
    CHECK_OK(lavr_layout_parse(layout_text, &layout));
    CHECK_OK(lavr_config_preset("tiny", &cfg));
    lavr_roles *roles = NULL;
    lavr_comm *comm = NULL;
    CHECK_OK(lavr_mpi_roles_create(&layout, cfg.dit.num_heads, cfg.dit.ffn_dim, cfg.dit.num_layers, &roles));
    CHECK_OK(lavr_comm_world(&comm));
    if (!roles || !comm) return NULL;
    lavr_stream_options stream = {.seed = HARNESS_SEED, .fixed_sink_offset = 0};
    float *latents = NULL;
    *n = 0;
    if (roles->role.is_dit) {
        lavr_p2p *p = NULL;
        CHECK_OK(lavr_p2p_open(roles, 1, comm, &p));
        if (p)
            CHECK_MSG(lavr_p2p_transport_of(p) == expect, "rank %d: transport %d, expected %d (%s)", roles->world_rank,
                      (int)lavr_p2p_transport_of(p), (int)expect, expect == LAVR_P2P_NCCL ? "NCCL" : "MPI");
        lavr_p2p_close(p);
        lavr_dit_stage_options o = {.model_path = model, .backend = HARNESS_BACKEND, .gpu_mem_bytes = HARNESS_GPU_MEM,
                                    .stream = stream, .fail_block = roles->world_rank == fail_rank ? FAIL_BLOCK : -1};
        if (fail_rank < 0) CHECK_OK(lavr_dit_stage_run(comm, roles, &o));
        else check_fault(lavr_dit_stage_run(comm, roles, &o), fail_rank);
    } else {
        lavr_arena *arena = NULL;
        CHECK_OK(lavr_arena_create("test", 0, &arena));
        lavr_conditioning cond;
        CHECK_OK(harness_cond(&cfg, arena, &cond));
        const int64_t per_block = cfg.dit.in_dim * cfg.dit.frames_per_block * HARNESS_LAT * HARNESS_LAT;
        const int64_t blocks = 4 * HARNESS_CLIPS;
        harness_sink sink = {malloc(sizeof(float) * (size_t)(blocks * per_block)), 0, per_block};
        lavr_aux_options o = {.model_path = model, .cond = &cond, .stream = stream, .layout_text = layout_text,
                              .fail_block = -1, .on_latent = harness_collect, .user = &sink};
        if (fail_rank < 0) {
            CHECK_OK(lavr_aux_run(comm, roles, &o));
            CHECK(sink.blocks == blocks);
        } else {
            check_fault(lavr_aux_run(comm, roles, &o), fail_rank);
            CHECK(sink.blocks < blocks);
        }
        latents = sink.latents;
        *n = blocks * per_block;
        lavr_arena_destroy(arena);
    }
    lavr_comm_destroy(comm);
    lavr_mpi_roles_destroy(roles);
    return latents;
}

int main(int argc, char **argv) {
    if (lavr_mpi_start(&argc, &argv)) {
        fprintf(stderr, "%s\n", lavr_error_message());
        return 1;
    }
    const int size = lavr_mpi_world_size();
    int devices = lavr_device_count(), min_devices = 0;
    MPI_Allreduce(&devices, &min_devices, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (min_devices < 2) {
        if (lavr_mpi_world_rank() == 0)
            printf("test_render_p2p: the pp hand-off over NCCL needs 2 GPUs (%d visible), skipped\n", min_devices);
        lavr_mpi_finish();
        return 77;
    }
    const char *layout = size == 3 ? "steps=1,tp=1,pp=2,aux=1" : "steps=2,tp=1,pp=2,aux=1";
    CHECK_MSG(size == 3 || size == 5, "no layout for %d ranks", size);
    char name[32], model[512];
    snprintf(name, sizeof name, "p2p_np%d", size);
    /* the NCCL render against the CPU runner (writes the model the two renders below read) */
    harness_run(layout, name, LATENT_TOL);
    const char *tmp = getenv("LAVR_TEST_TMP");
    snprintf(model, sizeof model, "%s/render_%s.h5", tmp ? tmp : ".", name);

    int64_t n_mpi = 0, n_nccl = 0;
    setenv("LAVR_P2P", "mpi", 1);
    float *by_mpi = render(layout, model, LAVR_P2P_MPI, -1, &n_mpi);
    unsetenv("LAVR_P2P");
    float *by_nccl = render(layout, model, LAVR_P2P_NCCL, -1, &n_nccl);
    if (by_mpi && by_nccl) {
        CHECK(n_mpi == n_nccl && n_mpi > 0);
        int64_t differing = 0;
        for (int64_t i = 0; i < n_mpi && n_mpi == n_nccl; i++)
            differing += memcmp(&by_mpi[i], &by_nccl[i], sizeof(float)) != 0;
        printf("test_render_p2p (%s): %lld of %lld latent values differ between NCCL and host MPI hand-offs\n", layout,
               (long long)differing, (long long)n_mpi);
        CHECK_MSG(differing == 0, "%lld values differ; the transport must not change a bit", (long long)differing);
    }
    free(by_mpi);
    free(by_nccl);
    /* last (a failed render may leave requests pending): stage 0's pp 1 fails, its pp 0 waits in the NCCL send */
    int64_t n_fault = 0;
    const double t0 = MPI_Wtime();
    free(render(layout, model, LAVR_P2P_NCCL, 1, &n_fault));
    const double took = MPI_Wtime() - t0;
    CHECK_MSG(took < 60, "the failed render took %.1f s to end on rank %d", took, lavr_mpi_world_rank());
    int rc = check_summary("test_render_p2p");
    lavr_mpi_finish();
    return rc;
}
