/* Tests of the pp hand-off's transport rule (parallel/p2p.h lavr_p2p_choose): NCCL only when NCCL is built, nobody
 * set LAVR_P2P=mpi, every end runs CUDA on one node and no two ends share a GPU; the LAVR_P2P values; the reasons it gives. */
#include <string.h>

#include "parallel/p2p.h"
#include "tests/check.h"

/* n CUDA ends on GPUs 0..n-1 (UUID byte 0 = the GPU), world ranks 10, 11, ... */
static void gpu_ends(lavr_p2p_end *ends, int n) {
    memset(ends, 0, (size_t)n * sizeof *ends);
    for (int i = 0; i < n; i++) {
        ends[i].world_rank = 10 + i;
        ends[i].cuda = 1;
        ends[i].has_uuid = 1;
        ends[i].uuid[0] = (unsigned char)i;
        ends[i].uuid[15] = 0xab;
        ends[i].node = lavr_p2p_node_id("node-a");
    }
}

static lavr_p2p_transport choose(const lavr_p2p_end *ends, int n, int nccl_built, const char *why_part) {
    lavr_p2p_transport t = (lavr_p2p_transport)-1;
    char why[160] = "";
    CHECK_OK(lavr_p2p_choose(ends, n, nccl_built, &t, why, sizeof why));
    CHECK_MSG(strstr(why, why_part) != NULL, "reason '%s' lacks '%s'", why, why_part);
    return t;
}

static void test_settings(void) {
    CHECK(lavr_p2p_setting(NULL) == LAVR_P2P_SETTING_AUTO);
    CHECK(lavr_p2p_setting("") == LAVR_P2P_SETTING_AUTO);
    CHECK(lavr_p2p_setting("auto") == LAVR_P2P_SETTING_AUTO);
    CHECK(lavr_p2p_setting("mpi") == LAVR_P2P_SETTING_MPI);
    CHECK(lavr_p2p_setting("nccl") == LAVR_P2P_SETTING_BAD);
    CHECK(lavr_p2p_setting("MPI") == LAVR_P2P_SETTING_BAD);
}

static void test_rule(void) {
    lavr_p2p_end e[4];
    gpu_ends(e, 4);
    CHECK(choose(e, 4, 1, "own") == LAVR_P2P_NCCL);
    CHECK(choose(e, 2, 1, "own") == LAVR_P2P_NCCL);
    /* NCCL not built */
    CHECK(choose(e, 4, 0, "without NCCL") == LAVR_P2P_MPI);
    /* a CPU end, wherever it is in the chain */
    for (int cpu = 0; cpu < 4; cpu++) {
        gpu_ends(e, 4);
        e[cpu].cuda = 0;
        e[cpu].has_uuid = 0;
        char part[32];
        snprintf(part, sizeof part, "rank %d computes on the CPU", 10 + cpu);
        CHECK(choose(e, 4, 1, part) == LAVR_P2P_MPI);
    }
    /* a CUDA end whose device could not be named counts as one NCCL cannot place */
    gpu_ends(e, 4);
    e[2].has_uuid = 0;
    CHECK(choose(e, 4, 1, "rank 12") == LAVR_P2P_MPI);
    /* two ends on one GPU (NCCL: "duplicate GPU"), neighbours or not; UUIDs differing in one byte do not clash */
    gpu_ends(e, 4);
    e[3].uuid[0] = 1;
    CHECK(choose(e, 4, 1, "ranks 11 and 13 share one GPU") == LAVR_P2P_MPI);
    gpu_ends(e, 4);
    e[1].uuid[0] = 0;
    CHECK(choose(e, 4, 1, "ranks 10 and 11 share one GPU") == LAVR_P2P_MPI);
    gpu_ends(e, 4);
    e[1].uuid[15] = 0xac;
    e[1].uuid[0] = 0;
    CHECK(choose(e, 4, 1, "own") == LAVR_P2P_NCCL);
    /* an end on another node (the GPU numbers alone may repeat there) */
    gpu_ends(e, 4);
    e[2].node = lavr_p2p_node_id("node-b");
    CHECK(choose(e, 4, 1, "ranks 10 and 12 are on different nodes") == LAVR_P2P_MPI);
    CHECK(lavr_p2p_node_id("node-a") == lavr_p2p_node_id("node-a"));
    CHECK(lavr_p2p_node_id("node-a") != lavr_p2p_node_id("node-b"));
    /* the off switch on any one end turns the chain to MPI */
    gpu_ends(e, 4);
    e[2].setting = LAVR_P2P_SETTING_MPI;
    CHECK(choose(e, 4, 1, "LAVR_P2P=mpi") == LAVR_P2P_MPI);
}

static void test_bad_setting(void) {
    lavr_p2p_end e[2];
    gpu_ends(e, 2);
    e[1].setting = LAVR_P2P_SETTING_BAD;
    lavr_p2p_transport t = LAVR_P2P_NCCL;
    char why[160];
    lavr_error_clear();
    lavr_status st = lavr_p2p_choose(e, 2, 1, &t, why, sizeof why);
    CHECK(st == LAVR_E_ARG);
    CHECK(t == LAVR_P2P_MPI);
    CHECK_MSG(strstr(lavr_error_message(), "LAVR_P2P on rank 11: use auto or mpi") != NULL, "message: %s",
              lavr_error_message());
    lavr_error_clear();
}

int main(void) {
    test_settings();
    test_rule();
    test_bad_setting();
    return check_summary("test_p2p");
}
