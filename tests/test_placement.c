/* Tests of parallel/placement.c: device tables of whole layouts on one node for 0, 1, 4, 5 and 8 GPUs
 * written out by hand, nodes of a multi-node job (the finisher elsewhere), --aux-gpu, CPU and idle
 * ranks, the backend checks and the planner's view (lavr_place_aux_gpu). */
#include <stdlib.h>
#include <string.h>

#include "parallel/placement.h"
#include "tests/check.h"

static lavr_placement backends(const char *dit, const char *aux, int aux_gpu) {
    return (lavr_placement){.backend = dit, .aux_backend = aux, .aux_gpu = aux_gpu};
}

/* device table of a layout on one node against the expected row, rank by rank */
static void check_layout(const char *layout_text, lavr_placement p, int devices, const int *expected) {
    lavr_layout l;
    CHECK_OK(lavr_layout_parse(layout_text, &l));
    int n = lavr_layout_ranks(&l), got[64];
    for (int i = 0; i < n; i++) got[i] = -7;
    CHECK_OK(lavr_place_layout(&l, &p, devices, got));
    for (int r = 0; r < n; r++)
        CHECK_MSG(got[r] == expected[r], "%s, %d devices, backend %s/%s, aux-gpu %d: rank %d on %d, expected %d",
                  layout_text, devices, p.backend, lavr_placement_aux_backend(&p), p.aux_gpu, r, got[r], expected[r]);
}

static void test_single_node(void) {
    const lavr_placement autos = lavr_placement_default();
    if (!LAVR_HAVE_CUDA) return; /* auto means cpu everywhere in a build without CUDA (checked below) */
    /* LiveAvatar's 5 ranks: the aux beside the last stage (rank 3) until a fifth GPU is free */
    check_layout("steps=4,aux=1", autos, 0, (int[]){-1, -1, -1, -1, -1});
    check_layout("steps=4,aux=1", autos, 1, (int[]){0, 0, 0, 0, 0});
    check_layout("steps=4,aux=1", autos, 4, (int[]){0, 1, 2, 3, 3});
    check_layout("steps=4,aux=1", autos, 5, (int[]){0, 1, 2, 3, 4});
    check_layout("steps=4,aux=1", autos, 8, (int[]){0, 1, 2, 3, 4});
    /* more DiT ranks than GPUs: they wrap; the finisher (stage 1, pp 1, tp 0 = rank 6) keeps the aux */
    check_layout("steps=2,tp=2,pp=2,aux=1", autos, 4, (int[]){0, 1, 2, 3, 0, 1, 2, 3, 2});
    check_layout("steps=1,tp=2,pp=2,aux=1", autos, 2, (int[]){0, 1, 0, 1, 0});
    /* --aux-gpu wins, even over a free GPU */
    check_layout("steps=4,aux=1", backends("auto", NULL, 1), 4, (int[]){0, 1, 2, 3, 1});
    check_layout("steps=4,aux=1", backends("auto", NULL, 0), 5, (int[]){0, 1, 2, 3, 0});
    /* a CPU aux takes nothing; CPU DiT ranks leave every GPU to the aux */
    check_layout("steps=4,aux=1", backends("auto", "cpu", -1), 4, (int[]){0, 1, 2, 3, -1});
    check_layout("steps=4,aux=1", backends("cpu", "cuda", -1), 4, (int[]){-1, -1, -1, -1, 0});
    check_layout("steps=4,aux=1", backends("cpu", NULL, -1), 4, (int[]){-1, -1, -1, -1, -1});
    /* a second aux rank is idle: no device */
    check_layout("steps=2,aux=2", autos, 4, (int[]){0, 1, 2, -1});
    check_layout("steps=2,aux=2", autos, 1, (int[]){0, 0, 0, -1});
}

static void test_without_cuda_build(void) {
    if (LAVR_HAVE_CUDA) return;
    check_layout("steps=4,aux=1", lavr_placement_default(), 4, (int[]){-1, -1, -1, -1, -1});
    CHECK_FAILS(lavr_placement_check(&(lavr_placement){.backend = "cuda"}), LAVR_E_ARG);
}

/* One node of a two-node job: stages 2 and 3 (ranks 2, 3) and the aux (4) here; then a node holding
 * stages 0 and 1 and the aux, the finisher (rank 3) being elsewhere. */
static void test_nodes(void) {
    int dev[8];
    const lavr_node_rank second[] = {{.world_rank = 4, .is_aux = 1, .wants_device = 1},
                                     {.world_rank = 3, .is_dit = 1, .wants_device = 1},
                                     {.world_rank = 2, .is_dit = 1, .wants_device = 1}};
    CHECK_OK(lavr_place_node(second, 3, 2, 3, -1, 0, dev));
    CHECK(dev[0] == 1 && dev[1] == 1 && dev[2] == 0); /* listed out of order: world-rank order decides */
    CHECK_OK(lavr_place_node(second, 3, 3, 3, -1, 0, dev));
    CHECK(dev[0] == 2 && dev[1] == 1 && dev[2] == 0);
    const lavr_node_rank first[] = {{.world_rank = 0, .is_dit = 1, .wants_device = 1},
                                    {.world_rank = 1, .is_dit = 1, .wants_device = 1},
                                    {.world_rank = 4, .is_aux = 1, .wants_device = 1}};
    CHECK_OK(lavr_place_node(first, 3, 2, 3, -1, 0, dev));
    CHECK(dev[0] == 0 && dev[1] == 1 && dev[2] == 1); /* beside the node's last DiT rank */
    /* a node with only the aux: GPU 0 */
    const lavr_node_rank alone[] = {{.world_rank = 8, .is_aux = 1, .wants_device = 1}};
    CHECK_OK(lavr_place_node(alone, 1, 4, 7, -1, 0, dev));
    CHECK(dev[0] == 0);
    /* --aux-gpu beyond the node's devices, and on a node without any: refused unless the aux is a CPU rank */
    lavr_error_clear();
    CHECK_FAILS(lavr_place_node(first, 3, 2, 3, 2, 0, dev), LAVR_E_ARG);
    CHECK_MSG(strstr(lavr_error_message(), "--aux-gpu 2: the aux rank's node has 2 CUDA devices (0-1)") != NULL,
              "message: %s", lavr_error_message());
    const lavr_node_rank cpu_aux[] = {{.world_rank = 0, .is_dit = 1}, {.world_rank = 1, .is_aux = 1}};
    CHECK_FAILS(lavr_place_node(cpu_aux, 2, 0, 0, 0, 0, dev), LAVR_E_ARG);
    CHECK_OK(lavr_place_node(cpu_aux, 2, 0, 0, 0, 1, dev));
    CHECK(dev[0] == -1 && dev[1] == -1);
    /* the check concerns the aux's node only */
    CHECK_OK(lavr_place_node(first, 2, 2, 3, 5, 0, dev));
}

static void test_checks_and_planner(void) {
    CHECK_OK(lavr_placement_check(&(lavr_placement){.backend = "auto", .aux_backend = "cpu"}));
    lavr_error_clear();
    CHECK_FAILS(lavr_placement_check(&(lavr_placement){.backend = "auto", .aux_backend = "gpu"}), LAVR_E_ARG);
    CHECK(strstr(lavr_error_message(), "--aux-backend 'gpu': use auto, cpu or cuda") != NULL);
    CHECK_FAILS(lavr_placement_check(&(lavr_placement){.backend = "host"}), LAVR_E_ARG);
    CHECK(strcmp(lavr_placement_aux_backend(&(lavr_placement){.backend = "cuda"}), "cuda") == 0);

    lavr_layout l = {.steps = 4, .tp = 1, .pp = 1, .aux = 1};
    lavr_placement p = lavr_placement_default();
    int gpu = -7, with = -7;
    CHECK(lavr_place_finisher(&l) == 3);
    CHECK_OK(lavr_place_aux_gpu(&l, &p, 4, &gpu, &with));
    CHECK(LAVR_HAVE_CUDA ? gpu == 3 && with == 3 : gpu == -1 && with == -1);
    CHECK_OK(lavr_place_aux_gpu(&l, &p, 5, &gpu, &with));
    CHECK(LAVR_HAVE_CUDA ? gpu == 4 && with == -1 : gpu == -1 && with == -1);
    CHECK_OK(lavr_place_aux_gpu(&l, &p, 0, &gpu, &with));
    CHECK(gpu == -1 && with == -1);
    p.aux_gpu = 9;
    CHECK_FAILS(lavr_place_aux_gpu(&l, &p, 4, &gpu, &with), LAVR_E_ARG);
}

static void test_fake_devices(void) {
    int devices = -1;
    setenv("LAVR_FAKE_DEVICES", "5", 1);
    CHECK_OK(lavr_node_devices(&devices));
    CHECK(devices == 5);
    setenv("LAVR_FAKE_DEVICES", "5x", 1);
    CHECK_FAILS(lavr_node_devices(&devices), LAVR_E_ARG);
    setenv("LAVR_FAKE_DEVICES", "-1", 1);
    CHECK_FAILS(lavr_node_devices(&devices), LAVR_E_ARG);
    unsetenv("LAVR_FAKE_DEVICES");
    CHECK_OK(lavr_node_devices(&devices));
    CHECK(devices >= 0);
}

int main(void) {
    test_single_node();
    test_without_cuda_build();
    test_nodes();
    test_checks_and_planner();
    test_fake_devices();
    return check_summary("test_placement");
}
