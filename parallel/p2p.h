/* How the DiT ranks' pp hand-off travels (the act from pp index p to p + 1 of a stage, same tp index): device to
 * device over NCCL when every rank of that pp chain runs CUDA on a GPU of its own, host MPI otherwise. */
#ifndef LAVR_PARALLEL_P2P_H
#define LAVR_PARALLEL_P2P_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "parallel/comm.h"
#include "parallel/mpi.h"
#include "parallel/nccl.h"

typedef enum { LAVR_P2P_MPI = 0, LAVR_P2P_NCCL = 1 } lavr_p2p_transport;

/* The LAVR_P2P environment variable: unset, "" or "auto" (NCCL where it can), "mpi" (host MPI always). */
enum { LAVR_P2P_SETTING_AUTO = 0, LAVR_P2P_SETTING_MPI = 1, LAVR_P2P_SETTING_BAD = -1 };
int lavr_p2p_setting(const char *text);

/* One rank of a pp chain as the rule sees it. */
typedef struct {
    int world_rank;
    int cuda;               /* its DiT engine runs on a CUDA device */
    int has_uuid;           /* uuid is known */
    unsigned char uuid[16]; /* its device (parallel/device.h lavr_device_uuid) */
    int setting;            /* its LAVR_P2P (LAVR_P2P_SETTING_*) */
    uint64_t node;          /* its node (a hash of the host name: lavr_p2p_node_id) */
} lavr_p2p_end;

/* 64-bit FNV-1a of a host name: ends with the same value are on one node. */
uint64_t lavr_p2p_node_id(const char *host);

/* The rule, for the n ranks of a chain in pp order: NCCL when NCCL is built, no rank turned it off, every rank runs
 * CUDA, all are on one node (across nodes NCCL would stage through the host like MPI, with its own bootstrap and
 * network to get right: not worth the risk) and no two share a GPU (NCCL refuses a "duplicate GPU"); else MPI. why: the reason, one phrase. A rank whose
 * LAVR_P2P is neither auto nor mpi is LAVR_E_ARG (every rank of the chain finds it: the ends are gathered). */
lavr_status lavr_p2p_choose(const lavr_p2p_end *ends, int n, int nccl_built, lavr_p2p_transport *out, char *why,
                            size_t why_len);

typedef struct lavr_p2p lavr_p2p;

/* Collective over the DiT ranks (roles->dit): every DiT rank gathers every rank's end over MPI (so all find the same
 * choices and the same bad LAVR_P2P), applies the rule to each stage's pp chain of a tp index and, where its own
 * chain chose NCCL, joins the chain's communicator (lavr_nccl_create on roles->device, rank = pp index). cuda: this
 * rank's engine runs on its device; faults: the render's messages (the gather's wait gives up on a peer's fault
 * notice; NULL: no watch). World rank 0 logs one line saying how the hand-offs travel. With pp = 1 there is no pp
 * hand-off: *out is a record saying MPI, and nothing is collective. */
lavr_status lavr_p2p_open(const lavr_roles *roles, int cuda, lavr_comm *faults, lavr_p2p **out);
/* NULL is allowed. */
void lavr_p2p_close(lavr_p2p *p);
lavr_p2p_transport lavr_p2p_transport_of(const lavr_p2p *p);
/* The chain's NCCL communicator (NCCL only, else NULL); the peer of a pp neighbour is its pp index. */
lavr_nccl *lavr_p2p_nccl(lavr_p2p *p);

#endif
