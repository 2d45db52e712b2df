/* The CUDA DiT against golden/dit.h5 through check-golden's code path (bf16, default attention path, then
 * lavr's own attention kernel): every velocity, latent and sink K/V within max(3 x noise_floor, 1e-2); the
 * per-layer debug states are the CPU test's (the device forward has no layer hook). Skips without a GPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/golden.h"
#include "models/dit_golden_cuda.h"
#include "parallel/device.h"
#include "tests/check.h"

static void run(const char *path, const char *attention) {
    lavr_golden *g = NULL;
    CHECK_OK(lavr_golden_open(path, &g));
    if (!g) return;
    g->print = 0;
    const lavr_golden_cuda_options o = {0, attention, 0};
    CHECK_OK(lavr_golden_run_dit_cuda(g, &o));
    int failed = 0;
    double worst = 0;
    const char *worst_name = "-";
    for (int64_t i = 0; i < g->n_results; i++) {
        const lavr_golden_result *r = &g->results[i];
        failed += !r->passed;
        if (!r->passed) fprintf(stderr, "FAIL %s: rel L2 %.3e > limit %.3e\n", r->name, r->rel_l2, r->limit);
        if (r->rel_l2 / r->limit > worst) worst = r->rel_l2 / r->limit, worst_name = r->name;
    }
    printf("attention %s: %lld outputs, %d over limit; worst %s at %.2f of its limit\n", attention,
           (long long)g->n_results, failed, worst_name, worst);
    /* 2 sampler outputs, 32 velocities, 32 latents, 6 sink tensors (no debug states on the device) */
    CHECK_MSG(g->n_results == 72, "%lld outputs compared, expected 72", (long long)g->n_results);
    CHECK(failed == 0);
    lavr_golden_close(g);
}

int main(void) {
    if (lavr_device_count() < 1) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    const char *dir = getenv("LAVR_GOLDEN_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/dit.h5", dir ? dir : "../shared/golden");
    run(path, "auto");
    run(path, "own");
    return check_summary("test_dit_golden_cuda");
}
