/* MPI test of parallel/mpi.c: for every layout that fits the world, the role communicators have the
 * layout's sizes, sums over them name the expected ranks and pipeline neighbours exchange messages;
 * the devices of 0, 1, 4 and 5 (faked) GPUs on this one node follow the placement rule.
 * mpi-ranks: 2 3 5 */
#include <string.h>

#include <stdlib.h>

#include "parallel/mpi.h"
#include "tests/check.h"

/* s2v-14b's DiT: 40 heads, FFN 13824, 40 layers */
#define HEADS 40
#define FFN 13824
#define LAYERS 40

static int comm_size(MPI_Comm comm) {
    int size = -1;
    if (comm != MPI_COMM_NULL) MPI_Comm_size(comm, &size);
    return size;
}

static long sum_over(MPI_Comm comm, long value) {
    long total = -1;
    CHECK(MPI_Allreduce(&value, &total, 1, MPI_LONG, MPI_SUM, comm) == MPI_SUCCESS);
    return total;
}

/* The rule restated for one node (every rank of the test is on it): DiT rank r on GPU r % devices, the
 * aux on the first GPU after the DiT ranks', else the finisher's (last stage, last pp, tp 0). */
static int expected_device(const lavr_layout *l, int world_rank, int devices, int aux_gpu) {
    const int dit = l->steps * l->tp * l->pp, finisher = dit - l->tp;
    if (!LAVR_HAVE_CUDA || devices == 0 || world_rank > dit) return -1;
    if (world_rank < dit) return world_rank % devices;
    if (aux_gpu >= 0) return aux_gpu;
    return devices > dit ? dit : finisher % devices;
}

static void check_devices(const lavr_layout *l, int world_rank) {
    static const int counts[] = {0, 1, 4, 5};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        char text[16];
        snprintf(text, sizeof text, "%d", counts[i]);
        setenv("LAVR_FAKE_DEVICES", text, 1);
        lavr_roles *r = NULL;
        CHECK_OK(lavr_mpi_roles_create(l, HEADS, FFN, LAYERS, &r));
        if (!r) continue;
        CHECK_MSG(r->device == expected_device(l, world_rank, counts[i], -1), "rank %d, %d GPUs: device %d, expected %d",
                  world_rank, counts[i], r->device, expected_device(l, world_rank, counts[i], -1));
        if (counts[i] > 0) {
            /* --aux-gpu, then a CPU aux beside CUDA DiT ranks */
            CHECK_OK(lavr_mpi_roles_place(r, &(lavr_placement){.backend = "auto", .aux_gpu = counts[i] - 1}));
            CHECK(r->device == expected_device(l, world_rank, counts[i], counts[i] - 1));
            CHECK_OK(lavr_mpi_roles_place(r, &(lavr_placement){.backend = "auto", .aux_backend = "cpu", .aux_gpu = -1}));
            CHECK(r->role.is_dit ? r->device == expected_device(l, world_rank, counts[i], -1) : r->device == -1);
            /* an --aux-gpu beyond the node fails on the aux rank and so on every rank, with its message */
            lavr_error_clear();
            CHECK_FAILS(lavr_mpi_roles_place(r, &(lavr_placement){.backend = "auto", .aux_gpu = counts[i]}), LAVR_E_ARG);
            CHECK_MSG(strstr(lavr_error_message(), "the aux rank's node has") != NULL, "message: %s",
                      lavr_error_message());
        }
        lavr_mpi_roles_destroy(r);
    }
    unsetenv("LAVR_FAKE_DEVICES");
}

static void check_layout(const lavr_layout *l, int world_rank, int world_size) {
    lavr_roles *r = NULL;
    CHECK_OK(lavr_mpi_roles_create(l, HEADS, FFN, LAYERS, &r));
    if (!r) return;
    const lavr_role *role = &r->role;
    int dit_ranks = l->steps * l->tp * l->pp, per_stage = l->tp * l->pp;
    CHECK(r->world_rank == world_rank && r->world_size == world_size);
    CHECK(role->is_dit == (world_rank < dit_ranks));

    if (role->is_dit) {
        CHECK(comm_size(r->dit) == dit_ranks && r->aux == MPI_COMM_NULL);
        CHECK(comm_size(r->stage) == per_stage && comm_size(r->tp) == l->tp);
        /* ranks are ordered (stage, pp, tp) with tp fastest: a tp group is tp consecutive ranks */
        int first_of_tp = world_rank - world_rank % l->tp, first_of_stage = world_rank - world_rank % per_stage;
        long expect_tp = (long)l->tp * first_of_tp + (long)l->tp * (l->tp - 1) / 2;
        long expect_stage = (long)per_stage * first_of_stage + (long)per_stage * (per_stage - 1) / 2;
        CHECK(sum_over(r->tp, world_rank) == expect_tp);
        CHECK(sum_over(r->tp, role->tp_index) == (long)l->tp * (l->tp - 1) / 2);
        CHECK(sum_over(r->stage, world_rank) == expect_stage);
        CHECK(sum_over(r->dit, 1) == dit_ranks);
        int tp_rank = -1;
        MPI_Comm_rank(r->tp, &tp_rank);
        CHECK(tp_rank == role->tp_index);

        /* pipeline: each rank sends (stage, pp, tp) of itself on; the receiver expects its predecessor */
        int sent[3] = {role->stage, role->pp_index, role->tp_index}, got[3] = {-1, -1, -1};
        CHECK(MPI_Sendrecv(sent, 3, MPI_INT, r->pipe_next, 7, got, 3, MPI_INT, r->pipe_prev, 7, MPI_COMM_WORLD,
                           MPI_STATUS_IGNORE) == MPI_SUCCESS);
        int first = role->stage == 0 && role->pp_index == 0;
        int last = role->stage == l->steps - 1 && role->pp_index == l->pp - 1;
        CHECK((r->pipe_prev == MPI_PROC_NULL) == first);
        CHECK((r->pipe_next == MPI_PROC_NULL) == last);
        if (first) {
            CHECK(got[0] == -1 && got[1] == -1 && got[2] == -1);
        } else {
            int prev_stage = role->pp_index > 0 ? role->stage : role->stage - 1;
            int prev_pp = role->pp_index > 0 ? role->pp_index - 1 : l->pp - 1;
            CHECK_MSG(got[0] == prev_stage && got[1] == prev_pp && got[2] == role->tp_index,
                      "rank %d got (%d,%d,%d) expected (%d,%d,%d)", world_rank, got[0], got[1], got[2], prev_stage,
                      prev_pp, role->tp_index);
        }
        int64_t b, e;
        lavr_layout_layers(LAYERS, l->pp, role->pp_index, &b, &e);
        CHECK(role->layer_begin == b && role->layer_end == e);
        CHECK(role->step_end - role->step_begin == 4 / l->steps);
    } else {
        CHECK(comm_size(r->aux) == l->aux && r->dit == MPI_COMM_NULL);
        CHECK(r->stage == MPI_COMM_NULL && r->tp == MPI_COMM_NULL);
        CHECK(r->pipe_prev == MPI_PROC_NULL && r->pipe_next == MPI_PROC_NULL);
        CHECK(sum_over(r->aux, role->aux_index) == (long)l->aux * (l->aux - 1) / 2);
        CHECK(sum_over(r->aux, world_rank) == (long)l->aux * dit_ranks + (long)l->aux * (l->aux - 1) / 2);
    }

    CHECK(r->local_rank >= 0 && r->local_rank < r->local_size);
    CHECK(sum_over(r->node, 1) == r->local_size);
    lavr_mpi_roles_destroy(r);
    check_devices(l, world_rank);
}

int main(int argc, char **argv) {
    CHECK_OK(lavr_mpi_start(&argc, &argv));
    CHECK_OK(lavr_mpi_start(&argc, &argv)); /* a second start is a no-op */
    int world_rank = lavr_mpi_world_rank(), world_size = lavr_mpi_world_size();

    lavr_layout fits[16];
    int nfits = lavr_layout_suggest(world_size, HEADS, FFN, LAYERS, fits, 16);
    CHECK(nfits >= 1);
    for (int i = 0; i < nfits; i++) check_layout(&fits[i], world_rank, world_size);

    /* a layout for one rank more fails identically on every rank, without communicating */
    lavr_layout too_big = {.steps = 1, .tp = 1, .pp = world_size, .aux = 1};
    lavr_roles *r = NULL;
    CHECK_FAILS(lavr_mpi_roles_create(&too_big, HEADS, FFN, LAYERS, &r), LAVR_E_ARG);
    CHECK(r == NULL);
    char expect[64];
    snprintf(expect, sizeof expect, "needs %d ranks but mpirun started %d", world_size + 1, world_size);
    CHECK_MSG(strstr(lavr_error_message(), expect) != NULL, "message: %s", lavr_error_message());

    char name[32];
    snprintf(name, sizeof name, "test_roles rank %d/%d", world_rank, world_size);
    int failed = check_summary(name);
    CHECK_OK(lavr_mpi_finish());
    return failed;
}
