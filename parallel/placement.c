/* The device placement rule (parallel/placement.h): DiT ranks in pipeline order on the node's GPUs, the
 * aux rank on a free GPU or beside the rank that finishes blocks; plus its single-node form. */
#include "parallel/placement.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "parallel/device.h"

#define MAX_FAKE_DEVICES 1024

lavr_placement lavr_placement_default(void) {
    return (lavr_placement){.backend = "auto", .aux_backend = NULL, .aux_gpu = -1};
}

static lavr_status check_backend(const char *option, const char *backend) {
    CHECK_ARG(strcmp(backend, "auto") == 0 || strcmp(backend, "cpu") == 0 || strcmp(backend, "cuda") == 0,
              "--%s '%s': use auto, cpu or cuda", option, backend);
    CHECK_ARG(LAVR_HAVE_CUDA || strcmp(backend, "cuda") != 0,
              "--%s cuda: this lavr was built without CUDA (reconfigure with -DLAVR_CUDA=ON, or use cpu)", option);
    return LAVR_OK;
}

lavr_status lavr_placement_check(const lavr_placement *p) {
    CHECK_ARG(p && p->backend, "lavr_placement_check: NULL argument");
    TRY(check_backend("backend", p->backend));
    if (p->aux_backend) TRY(check_backend("aux-backend", p->aux_backend));
    return LAVR_OK;
}

const char *lavr_placement_aux_backend(const lavr_placement *p) {
    return p->aux_backend ? p->aux_backend : p->backend;
}

int lavr_backend_wants_device(const char *backend, int devices) {
    if (strcmp(backend, "cuda") == 0) return 1;
    return strcmp(backend, "auto") == 0 && LAVR_HAVE_CUDA && devices > 0;
}

lavr_status lavr_place_node(const lavr_node_rank *ranks, int n, int devices, int finisher, int aux_gpu, int aux_cpu,
                            int *device) {
    CHECK_ARG(ranks && device && n >= 0 && devices >= 0, "lavr_place_node: bad arguments");
    for (int i = 0; i < n; i++) {
        device[i] = -1;
        if (!ranks[i].is_aux || aux_cpu || aux_gpu < devices) continue;
        if (devices == 0) return LAVR_FAIL(LAVR_E_ARG, "--aux-gpu %d: the aux rank's node has no CUDA device", aux_gpu);
        return LAVR_FAIL(LAVR_E_ARG, "--aux-gpu %d: the aux rank's node has %d CUDA device%s (0-%d)", aux_gpu,
                         devices, devices == 1 ? "" : "s", devices - 1);
    }
    if (devices == 0) return LAVR_OK;
    /* DiT ranks in world-rank order: the k-th of the node takes device k % devices */
    int taken = 0, last_dit = -1, finisher_at = -1;
    for (int pass_rank = 0; pass_rank < n; pass_rank++) {
        int best = -1; /* the DiT rank with the smallest world rank not yet placed */
        for (int i = 0; i < n; i++)
            if (ranks[i].is_dit && ranks[i].wants_device && device[i] < 0 &&
                (best < 0 || ranks[i].world_rank < ranks[best].world_rank))
                best = i;
        if (best < 0) break;
        device[best] = taken++ % devices;
        last_dit = best;
        if (ranks[best].world_rank == finisher) finisher_at = best;
    }
    int next_free = taken; /* devices [taken, devices) are free */
    for (int i = 0; i < n; i++) {
        if (!ranks[i].is_aux || !ranks[i].wants_device) continue;
        if (aux_gpu >= 0) device[i] = aux_gpu;
        else if (next_free < devices) device[i] = next_free++;
        else if (finisher_at >= 0) device[i] = device[finisher_at];
        else device[i] = device[last_dit]; /* next_free >= devices means some DiT rank took one */
    }
    return LAVR_OK;
}

int lavr_place_finisher(const lavr_layout *layout) {
    return lavr_layout_dit_rank(layout, layout->steps - 1, layout->pp - 1, 0);
}

lavr_status lavr_place_layout(const lavr_layout *layout, const lavr_placement *p, int devices, int *device) {
    CHECK_ARG(layout && p && device, "lavr_place_layout: NULL argument");
    const int n = lavr_layout_ranks(layout), dit = lavr_layout_dit_ranks(layout);
    lavr_node_rank *ranks = calloc((size_t)n, sizeof *ranks);
    if (!ranks) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for %d ranks", n);
    const int dit_wants = lavr_backend_wants_device(p->backend, devices);
    const int aux_wants = lavr_backend_wants_device(lavr_placement_aux_backend(p), devices);
    for (int r = 0; r < n; r++)
        ranks[r] = (lavr_node_rank){.world_rank = r, .is_dit = r < dit, .is_aux = r == dit,
                                    .wants_device = r < dit ? dit_wants : r == dit && aux_wants};
    lavr_status st = lavr_place_node(ranks, n, devices, lavr_place_finisher(layout), p->aux_gpu,
                                     strcmp(lavr_placement_aux_backend(p), "cpu") == 0, device);
    free(ranks);
    return st;
}

lavr_status lavr_place_aux_gpu(const lavr_layout *layout, const lavr_placement *p, int devices, int *gpu,
                               int *shared_with) {
    CHECK_ARG(layout && p && gpu && shared_with, "lavr_place_aux_gpu: NULL argument");
    const int n = lavr_layout_ranks(layout), aux = lavr_layout_dit_ranks(layout);
    int *device = malloc((size_t)n * sizeof *device);
    if (!device) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for %d ranks", n);
    lavr_status st = lavr_place_layout(layout, p, devices, device);
    *gpu = st ? -1 : device[aux];
    *shared_with = -1;
    for (int r = 0; !st && *gpu >= 0 && r < aux && *shared_with < 0; r++)
        if (device[r] == *gpu) *shared_with = r;
    free(device);
    return st;
}

lavr_status lavr_node_devices(int *devices) {
    const char *fake = getenv("LAVR_FAKE_DEVICES");
    if (!fake || !fake[0]) {
        *devices = lavr_device_count();
        return LAVR_OK;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(fake, &end, 10);
    CHECK_ARG(errno == 0 && *end == 0 && v >= 0 && v <= MAX_FAKE_DEVICES,
              "LAVR_FAKE_DEVICES='%s': use a device count 0..%d (a testing aid for lavr topo)", fake,
              MAX_FAKE_DEVICES);
    *devices = (int)v;
    return LAVR_OK;
}
