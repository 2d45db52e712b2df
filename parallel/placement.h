/* Which CUDA device each rank of a node computes on (node-local device index, -1 = the CPU): the pure
 * rule behind lavr_roles.device, `lavr topo` and the planner, testable without MPI or a GPU. */
#ifndef LAVR_PARALLEL_PLACEMENT_H
#define LAVR_PARALLEL_PLACEMENT_H

#include "core/status.h"
#include "parallel/layout.h"

/* What the user asked for: the backend of the DiT ranks and of the aux rank ("auto", "cpu", "cuda";
 * aux_backend NULL = as backend) and the node-local GPU the aux rank must use (-1: automatic). */
typedef struct {
    const char *backend, *aux_backend;
    int aux_gpu;
} lavr_placement;

/* backend auto, aux_backend as backend, aux_gpu automatic. */
lavr_placement lavr_placement_default(void);
/* One-line LAVR_E_ARG for a backend other than auto, cpu, cuda (naming --backend or --aux-backend)
 * and for cuda in a build without CUDA. */
lavr_status lavr_placement_check(const lavr_placement *p);
/* aux_backend, or backend when it is NULL. */
const char *lavr_placement_aux_backend(const lavr_placement *p);
/* Whether a rank with this backend takes a device on a node with `devices` of them: cuda always,
 * auto when this build has CUDA and the node has a device, cpu never. */
int lavr_backend_wants_device(const char *backend, int devices);

/* One rank of a node, as the rule sees it. */
typedef struct {
    int world_rank;
    int is_dit;
    int is_aux;       /* the working aux rank (aux index 0); further aux ranks compute nothing */
    int wants_device; /* its backend computes on a GPU (never for idle aux ranks) */
} lavr_node_rank;

/* The rule, for the n ranks of one node with `devices` devices. DiT ranks that want a device take
 * them in world-rank order (pipeline order), wrapping round when there are more of them than
 * devices. The aux rank takes the first device no DiT rank took; with none free it shares one:
 * aux_gpu when given, else the GPU of `finisher` (the DiT rank that finishes blocks and hands them
 * to the aux: the last stage's last pp index, tp 0) when it runs on this node with a GPU, else the
 * GPU of this node's last DiT rank in pipeline order. aux_gpu >= 0 always wins; it must be below
 * `devices` when the node holds the aux rank and that rank is not a CPU rank by choice (LAVR_E_ARG
 * otherwise; aux_cpu says it is). Ranks that want no device, and every rank when devices is 0, get
 * -1. device[i] is for ranks[i]. */
lavr_status lavr_place_node(const lavr_node_rank *ranks, int n, int devices, int finisher, int aux_gpu, int aux_cpu,
                            int *device);

/* The DiT rank that finishes blocks under a layout (it sends the clean latents to the aux). */
int lavr_place_finisher(const lavr_layout *layout);

/* The rule for a whole layout on one node with `devices` GPUs (what `lavr topo` prints without
 * mpirun and what the planner assumes): device[r] for every world rank r. */
lavr_status lavr_place_layout(const lavr_layout *layout, const lavr_placement *p, int devices, int *device);

/* The GPU the working aux rank lands on when the layout runs on one node with `devices` GPUs (-1:
 * the CPU, or no GPU), and *shared_with the first DiT world rank on that GPU (-1: it has the GPU
 * to itself). For the planner: the aux's memory adds to that GPU. */
lavr_status lavr_place_aux_gpu(const lavr_layout *layout, const lavr_placement *p, int devices, int *gpu,
                               int *shared_with);

/* Devices a node has for placement: LAVR_FAKE_DEVICES=N when set (a testing aid: `lavr topo` then
 * shows the placement of a node with N GPUs on a machine without any; nothing can run on them, so
 * `lavr render` refuses it), else lavr_device_count(). */
lavr_status lavr_node_devices(int *devices);

#endif
