/* MPI bootstrap of lavr: start/finish, the role communicators of a layout (DiT, aux, stage, tp, pipeline
 * neighbours, node-local rank and device) and the one place that reports a failed command to all ranks. */
#ifndef LAVR_PARALLEL_MPI_H
#define LAVR_PARALLEL_MPI_H

#include <mpi.h>

#include "core/status.h"
#include "parallel/layout.h"
#include "parallel/placement.h"

/* Records "CALL failed: <MPI error string>" with file:line and returns LAVR_E_MPI. */
lavr_status lavr_mpi_fail(int mpi_code, const char *call, const char *file, int line);
#define MPI_TRY(call)                                                                     \
    do {                                                                                  \
        int mpi_code_ = (call);                                                           \
        if (mpi_code_ != MPI_SUCCESS) return lavr_mpi_fail(mpi_code_, #call, __FILE__, __LINE__); \
    } while (0)

/* MPI_Init (once; later calls do nothing), errors returned instead of aborting, logger identity set
 * to the world rank when there is more than one. Works without mpirun (a world of 1). */
lavr_status lavr_mpi_start(int *argc, char ***argv);
/* MPI_Finalize when started and not yet finalised. */
lavr_status lavr_mpi_finish(void);
int lavr_mpi_world_rank(void); /* 0 when MPI is not running */
int lavr_mpi_world_size(void); /* 1 when MPI is not running */

/* The communicators and peers of this rank under a layout. Communicators a rank is not part of are
 * MPI_COMM_NULL; missing pipeline neighbours are MPI_PROC_NULL (sends to it do nothing). */
typedef struct {
    lavr_layout layout;
    lavr_role role;
    char role_name[32];             /* "dit s0 tp0 pp0", "aux" */
    int world_rank, world_size;
    int local_rank, local_size;     /* among the ranks of this node */
    char host[MPI_MAX_PROCESSOR_NAME];
    int device;                     /* node-local CUDA device (parallel/placement.h), -1 = CPU */
    MPI_Comm dit;                   /* all DiT ranks */
    MPI_Comm aux;                   /* all aux ranks */
    MPI_Comm stage;                 /* the tp x pp ranks of this stage, ordered (pp, tp) */
    MPI_Comm tp;                    /* same stage and pp index; rank in it = tp_index */
    MPI_Comm node;                  /* ranks sharing this node's memory */
    /* Pipeline order of a tp index: stage 0 pp 0 -> pp 1 ... -> stage 1 pp 0 ...; the rank that hands
     * this one its activations and the rank this one hands them to. */
    int pipe_prev, pipe_next;
} lavr_roles;

/* Checks the layout against the model and the world size (a wrong count names layouts that fit;
 * flagged collective since every rank finds it), builds the communicators and places the ranks
 * on devices with lavr_placement_default(). */
lavr_status lavr_mpi_roles_create(const lavr_layout *layout, int64_t num_heads, int64_t ffn_dim, int64_t num_layers,
                                  lavr_roles **out);
void lavr_mpi_roles_destroy(lavr_roles *roles);
/* Places the ranks again under the user's backends and --aux-gpu (collective: every rank calls it;
 * a failure on one rank, e.g. --aux-gpu beyond its node's devices, is every rank's). */
lavr_status lavr_mpi_roles_place(lavr_roles *roles, const lavr_placement *p);

/* Makes a failure found on some ranks only everyone's (collective: every rank calls it): the lowest
 * failing rank's message goes to all, every rank returns it, the failure is marked collective so
 * rank 0 prints it once. Without MPI (or a world of 1) it returns local, marked collective. */
lavr_status lavr_mpi_agree(lavr_status local);

/* Marks the pending failure as found identically by every rank (bad option, layout, rank count):
 * rank 0 alone reports it and all ranks finalise normally instead of aborting. */
void lavr_mpi_mark_collective_failure(void);
/* 1 once a failure was marked collective (every rank has it). */
int lavr_mpi_failure_is_collective(void);
/* TRY for steps every rank fails identically (argument and layout checks): marks the failure collective. */
#define TRY_COLLECTIVE(x)                        \
    do {                                         \
        lavr_status s_ = (x);                    \
        if (s_) {                                \
            lavr_mpi_mark_collective_failure();  \
            return s_;                           \
        }                                        \
    } while (0)
/* Called by main for a failed command. Without MPI (or after finalise): "lavr: error: MESSAGE" on
 * stderr. Collective failure: rank 0 prints it, every rank finalises. Otherwise the rank prints it
 * with its prefix and aborts the world (exit code 2 for LAVR_E_ARG, else 1) so no rank waits forever. */
void lavr_mpi_report_failure(lavr_status st, const char *message);

#endif
