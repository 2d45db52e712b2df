/* The causal DiT against golden/dit.h5 through the check-golden code path: the whole TPP streaming
 * run (2 clips x 4 blocks x 4 steps, sink prefill, clip-1 reference replacement), every velocity,
 * latent, sink K/V and debug layer state within max(3 x noise_floor, 1e-2); summarised per kind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/golden.h"
#include "models/golden.h"
#include "tests/check.h"

int main(void) {
    const char *dir = getenv("LAVR_GOLDEN_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/dit.h5", dir ? dir : "../shared/golden");
    lavr_golden *g = NULL;
    CHECK_OK(lavr_golden_open(path, &g));
    if (!g) return check_summary("test_dit_golden");
    CHECK(g->kind == LAVR_GOLDEN_DIT);
    g->print = 0;
    CHECK_OK(lavr_golden_run_dit(g));
    /* the file holds 2 sampler outputs, 32 velocities, 32 latents, 6 sink tensors, 8 debug states */
    static const char *const kinds[] = {"sampler/", "velocity", "latent_out", "sink/", "debug/"};
    static const int expected[] = {2, 32, 32, 6, 8};
    for (int k = 0; k < 5; k++) {
        int count = 0, failed = 0;
        double worst = 0, worst_limit = 1;
        const char *worst_name = "-";
        for (int64_t i = 0; i < g->n_results; i++) {
            const lavr_golden_result *r = &g->results[i];
            if (!strstr(r->name, kinds[k])) continue;
            count++;
            failed += !r->passed;
            if (!r->passed) fprintf(stderr, "FAIL %s: rel L2 %.3e > limit %.3e\n", r->name, r->rel_l2, r->limit);
            if (r->rel_l2 / r->limit >= worst / worst_limit) worst = r->rel_l2, worst_limit = r->limit, worst_name = r->name;
        }
        printf("%-10s %2d outputs, %d over limit; worst %s rel L2 %.3e (limit %.3e)\n", kinds[k], count, failed,
               worst_name, worst, worst_limit);
        CHECK_MSG(count == expected[k], "%s: %d outputs, expected %d", kinds[k], count, expected[k]);
        CHECK(failed == 0);
    }
    CHECK(g->n_results == 80);
    lavr_golden_close(g);
    return check_summary("test_dit_golden");
}
