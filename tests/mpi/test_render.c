/* The distributed render against the single-process streaming runner: steps=1 (2 ranks), steps=2
 * (3 ranks) and steps=4 (5 ranks) do not change any summation, so every latent must be bit-identical.
 * mpi-ranks: 2 3 5 */
#include "tests/mpi/render_harness.h"

int main(int argc, char **argv) {
    if (lavr_mpi_start(&argc, &argv)) {
        fprintf(stderr, "%s\n", lavr_error_message());
        return 1;
    }
    int size = lavr_mpi_world_size();
    char layout[64], name[32];
    snprintf(layout, sizeof layout, "steps=%d,tp=1,pp=1,aux=1", size - 1);
    snprintf(name, sizeof name, "steps%d", size - 1);
    harness_run(layout, name, 0);
    int rc = check_summary("test_render");
    lavr_mpi_finish();
    return rc;
}
