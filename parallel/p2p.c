/* The pp hand-off's transport (parallel/p2p.h): the pure rule, and its collective use by the DiT ranks (ends
 * gathered over the chain's MPI communicator, then an NCCL communicator of the chain bootstrapped like tp's). */
#include "parallel/p2p.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "parallel/device.h"
#if LAVR_HAVE_NCCL
#include "kernels/cuda/cuda_check.h"
#endif

#define P2P_SETUP_TIMEOUT_S 120.0 /* every rank of a chain joins its communicator within this (as tp's) */

struct lavr_p2p {
    lavr_p2p_transport transport;
    MPI_Comm chain; /* this rank's pp chain (MPI_COMM_NULL with pp = 1) */
    lavr_nccl *nccl;
};

int lavr_p2p_setting(const char *text) {
    if (!text || !text[0] || strcmp(text, "auto") == 0) return LAVR_P2P_SETTING_AUTO;
    if (strcmp(text, "mpi") == 0) return LAVR_P2P_SETTING_MPI;
    return LAVR_P2P_SETTING_BAD;
}

uint64_t lavr_p2p_node_id(const char *host) {
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)(host ? host : ""); *p; p++) h = (h ^ *p) * 1099511628211ull;
    return h;
}

lavr_status lavr_p2p_choose(const lavr_p2p_end *ends, int n, int nccl_built, lavr_p2p_transport *out, char *why,
                            size_t why_len) {
    CHECK_ARG(ends && n >= 1 && out && why && why_len > 0, "lavr_p2p_choose: bad arguments");
    *out = LAVR_P2P_MPI;
    for (int i = 0; i < n; i++)
        if (ends[i].setting == LAVR_P2P_SETTING_BAD)
            return LAVR_FAIL(LAVR_E_ARG, "LAVR_P2P on rank %d: use auto or mpi", ends[i].world_rank);
    for (int i = 0; i < n; i++)
        if (ends[i].setting == LAVR_P2P_SETTING_MPI) {
            snprintf(why, why_len, "LAVR_P2P=mpi");
            return LAVR_OK;
        }
    if (!nccl_built) {
        snprintf(why, why_len, "this lavr was built without NCCL");
        return LAVR_OK;
    }
    for (int i = 0; i < n; i++)
        if (!ends[i].cuda || !ends[i].has_uuid) {
            snprintf(why, why_len, "rank %d computes on the CPU", ends[i].world_rank);
            return LAVR_OK;
        }
    for (int i = 1; i < n; i++)
        if (ends[i].node != ends[0].node) {
            snprintf(why, why_len, "ranks %d and %d are on different nodes", ends[0].world_rank, ends[i].world_rank);
            return LAVR_OK;
        }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (memcmp(ends[i].uuid, ends[j].uuid, sizeof ends[i].uuid) == 0) {
                snprintf(why, why_len, "ranks %d and %d share one GPU", ends[i].world_rank, ends[j].world_rank);
                return LAVR_OK;
            }
    snprintf(why, why_len, "every rank on a GPU of its own");
    *out = LAVR_P2P_NCCL;
    return LAVR_OK;
}

#if LAVR_HAVE_NCCL
/* NCCL connects a pair at its first send/receive, inside a wait that sees no fault notice and gives up after a
 * minute; here every rank of the chain is at the same point (all just joined), so the first hand-off of the render
 * finds its connections made however far apart the ranks then are: one float to the next pp rank, one from the
 * previous, as one group (no order between the two), waited for with the fault watch. */
static lavr_status connect_neighbours(lavr_nccl *c, int pp_index, int pp, int device, lavr_comm *faults) {
    float *probe = NULL;
    CUDA_TRY(cudaSetDevice(device));
    CUDA_TRY(cudaMalloc((void **)&probe, 2 * sizeof(float)));
    lavr_status st = lavr_nccl_group_begin(c);
    if (!st && pp_index + 1 < pp) st = lavr_nccl_send(c, probe, 1, LAVR_F32, pp_index + 1, NULL);
    if (!st && pp_index > 0) st = lavr_nccl_recv(c, probe + 1, 1, LAVR_F32, pp_index - 1, NULL);
    lavr_status end = lavr_nccl_group_end(c);
    if (!st) st = end;
    if (!st) st = lavr_nccl_sync(c, NULL, P2P_SETUP_TIMEOUT_S, faults);
    cudaError_t freed = cudaFree(probe);
    if (!st && freed != cudaSuccess)
        st = LAVR_FAIL(LAVR_E_CUDA, "cudaFree(pp hand-off probe): %s", cudaGetErrorString(freed));
    return st;
}
#endif

/* The ranks of pp chain (stage, tp index) in pp order, out of every DiT rank's end (indexed by world rank). */
static void chain_ends(const lavr_layout *l, const lavr_p2p_end *all, int stage, int tp_index, lavr_p2p_end *out) {
    for (int p = 0; p < l->pp; p++) out[p] = all[lavr_layout_dit_rank(l, stage, p, tp_index)];
}

/* The gather's wait, watching for a peer's fault notice (a rank that failed before it never joins). */
static lavr_status wait_gather(MPI_Request *request, lavr_comm *faults) {
    for (;;) {
        int done = 0;
        MPI_TRY(MPI_Test(request, &done, MPI_STATUS_IGNORE));
        if (done) return LAVR_OK;
        TRY(lavr_comm_check_fault(faults));
        struct timespec t = {0, 200000}; /* 0.2 ms */
        nanosleep(&t, NULL);
    }
}

/* Every DiT rank gathers every rank's end (so all find the same choices and the same bad setting, and world rank 0
 * can say in one line how all chains go), then joins its chain's NCCL communicator when its chain chose NCCL. */
static lavr_status open_chain(const lavr_roles *roles, int cuda, lavr_comm *faults, lavr_p2p *p) {
    const lavr_layout *l = &roles->layout;
    const int dit_ranks = lavr_layout_dit_ranks(l);
    lavr_p2p_end mine;
    memset(&mine, 0, sizeof mine);
    mine.world_rank = roles->world_rank;
    mine.cuda = cuda;
    mine.has_uuid = cuda && lavr_device_uuid(roles->device, mine.uuid);
    mine.setting = lavr_p2p_setting(getenv("LAVR_P2P"));
    mine.node = lavr_p2p_node_id(roles->host);
    lavr_p2p_end *all = calloc((size_t)(dit_ranks + l->pp), sizeof *all);
    if (!all) return LAVR_FAIL(LAVR_E_NOMEM, "pp hand-off: %d rank records", dit_ranks);
    lavr_p2p_end *chain = all + dit_ranks;
    lavr_status st = LAVR_OK;
    /* the DiT communicator is ordered by world rank, and the DiT ranks are world ranks 0 .. dit_ranks - 1 */
    MPI_Request request = MPI_REQUEST_NULL;
    int rc = MPI_Iallgather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, roles->dit, &request);
    if (rc != MPI_SUCCESS) st = lavr_mpi_fail(rc, "MPI_Iallgather(pp hand-off ends)", __FILE__, __LINE__);
    if (!st) st = wait_gather(&request, faults);
    char why[160] = "", why0[160] = "";
    int nccl_chains = 0;
    for (int s = 0; s < l->steps && !st; s++)
        for (int t = 0; t < l->tp && !st; t++) {
            lavr_p2p_transport tr = LAVR_P2P_MPI;
            char w[160];
            chain_ends(l, all, s, t, chain);
            st = lavr_p2p_choose(chain, l->pp, LAVR_HAVE_NCCL, &tr, w, sizeof w);
            nccl_chains += tr == LAVR_P2P_NCCL;
            if (s == 0 && t == 0) memcpy(why0, w, sizeof w);
            if (s == roles->role.stage && t == roles->role.tp_index) p->transport = tr, memcpy(why, w, sizeof w);
        }
    free(all);
    TRY(st); /* found alike by every DiT rank: no one waits below */
    if (roles->world_rank == 0) {
        const int chains = l->steps * l->tp;
        const char *stages = l->steps > 1 ? "; stage and loop hand-offs over host MPI" : "";
        if (nccl_chains == chains)
            LOG_INFO("pp hand-offs: device to device over NCCL (%s)%s", why0, stages);
        else if (nccl_chains > 0)
            LOG_INFO("pp hand-offs: over NCCL in %d of %d pp chains, host MPI in the others (the first: %s)%s",
                     nccl_chains, chains, why0, stages);
        else
            LOG_INFO("pp hand-offs: over host MPI (%s)%s", why0, stages);
    }
    MPI_TRY(MPI_Comm_split(roles->stage, roles->role.tp_index, roles->role.pp_index, &p->chain));
#if LAVR_HAVE_NCCL
    if (p->transport == LAVR_P2P_NCCL) {
        st = lavr_nccl_create(p->chain, roles->device, P2P_SETUP_TIMEOUT_S, &p->nccl);
        if (!st) st = connect_neighbours(p->nccl, roles->role.pp_index, l->pp, roles->device, faults);
        if (st)
            return lavr_error_wrap(st, "while joining the NCCL communicator of the pp hand-off (%s; LAVR_P2P=mpi "
                                       "sends it through host MPI)", why);
    }
#else
    (void)why;
#endif
    return LAVR_OK;
}

lavr_status lavr_p2p_open(const lavr_roles *roles, int cuda, lavr_comm *faults, lavr_p2p **out) {
    CHECK_ARG(roles && roles->role.is_dit && out, "lavr_p2p_open: a DiT rank's roles");
    *out = NULL;
    lavr_p2p *p = calloc(1, sizeof *p);
    if (!p) return LAVR_FAIL(LAVR_E_NOMEM, "pp hand-off record");
    p->transport = LAVR_P2P_MPI;
    p->chain = MPI_COMM_NULL;
    lavr_status st = LAVR_OK;
    if (roles->layout.pp > 1)
        st = open_chain(roles, cuda, faults, p);
    else if (roles->layout.steps > 1 && roles->world_rank == 0)
        LOG_INFO("stage hand-offs: over host MPI");
    if (st) {
        lavr_p2p_close(p);
        return st;
    }
    *out = p;
    return LAVR_OK;
}

void lavr_p2p_close(lavr_p2p *p) {
    if (!p) return;
#if LAVR_HAVE_NCCL
    lavr_nccl_destroy(p->nccl);
#endif
    if (p->chain != MPI_COMM_NULL) MPI_Comm_free(&p->chain);
    free(p);
}

lavr_p2p_transport lavr_p2p_transport_of(const lavr_p2p *p) { return p->transport; }
lavr_nccl *lavr_p2p_nccl(lavr_p2p *p) { return p->nccl; }
