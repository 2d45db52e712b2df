/* MPI start-up, role communicators built with MPI_Comm_split from the layout's role arithmetic, and
 * failure reporting that either ends all ranks cleanly (collective errors) or aborts the world. */
#include "parallel/mpi.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "parallel/placement.h"

/* Set by lavr_mpi_mark_collective_failure, read once by lavr_mpi_report_failure. */
static int collective_failure;

lavr_status lavr_mpi_fail(int mpi_code, const char *call, const char *file, int line) {
    char text[MPI_MAX_ERROR_STRING];
    int text_len = 0;
    if (MPI_Error_string(mpi_code, text, &text_len) != MPI_SUCCESS) snprintf(text, sizeof text, "MPI error %d", mpi_code);
    return lavr_error_set(LAVR_E_MPI, file, line, "%s failed: %s", call, text);
}

static int mpi_running(void) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    return initialized && !finalized;
}

lavr_status lavr_mpi_start(int *argc, char ***argv) {
    int initialized = 0, finalized = 0;
    MPI_TRY(MPI_Initialized(&initialized));
    MPI_TRY(MPI_Finalized(&finalized));
    if (finalized) return LAVR_FAIL(LAVR_E_MPI, "MPI was already finalised in this process");
    if (initialized) return LAVR_OK;
    /* ranks use OpenMP threads for compute but only the main thread talks to MPI */
    int provided = MPI_THREAD_SINGLE;
    int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return LAVR_FAIL(LAVR_E_MPI, "MPI_Init_thread failed (error %d)", rc);
    MPI_TRY(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    if (provided < MPI_THREAD_FUNNELED)
        return LAVR_FAIL(LAVR_E_MPI, "the MPI library provides thread level %d, lavr needs MPI_THREAD_FUNNELED",
                         provided);
    int rank = 0, size = 1;
    MPI_TRY(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
    MPI_TRY(MPI_Comm_size(MPI_COMM_WORLD, &size));
    if (size > 1) lavr_log_set_identity(rank, NULL);
    return LAVR_OK;
}

lavr_status lavr_mpi_finish(void) {
    if (!mpi_running()) return LAVR_OK;
    MPI_TRY(MPI_Finalize());
    return LAVR_OK;
}

int lavr_mpi_world_rank(void) {
    int rank = 0;
    if (mpi_running() && MPI_Comm_rank(MPI_COMM_WORLD, &rank) != MPI_SUCCESS) rank = 0;
    return rank;
}

int lavr_mpi_world_size(void) {
    int size = 1;
    if (mpi_running() && MPI_Comm_size(MPI_COMM_WORLD, &size) != MPI_SUCCESS) size = 1;
    return size;
}

/* MPI_Comm_split with MPI_UNDEFINED for ranks outside the group; checks the size every member expects. */
static lavr_status split_checked(int member, int color, int key, int expected_size, const char *what,
                                 MPI_Comm *out) {
    MPI_TRY(MPI_Comm_split(MPI_COMM_WORLD, member ? color : MPI_UNDEFINED, key, out));
    if (!member) return LAVR_OK;
    int size = 0;
    MPI_TRY(MPI_Comm_size(*out, &size));
    if (size != expected_size)
        return LAVR_FAIL(LAVR_E_INTERNAL, "%s communicator has %d ranks, the layout says %d", what, size,
                         expected_size);
    return LAVR_OK;
}

static lavr_status build_roles(lavr_roles *r) {
    const lavr_layout *layout = &r->layout;
    const lavr_role *role = &r->role;
    int world = r->world_rank, dit_ranks = lavr_layout_dit_ranks(layout);

    TRY(split_checked(role->is_dit, 0, world, dit_ranks, "DiT", &r->dit));
    TRY(split_checked(!role->is_dit, 0, world, layout->aux, "aux", &r->aux));
    TRY(split_checked(role->is_dit, role->stage, world, layout->tp * layout->pp, "stage", &r->stage));
    TRY(split_checked(role->is_dit, role->stage * layout->pp + role->pp_index, world, layout->tp, "tp", &r->tp));
    if (role->is_dit) {
        int tp_rank = -1;
        MPI_TRY(MPI_Comm_rank(r->tp, &tp_rank));
        if (tp_rank != role->tp_index)
            return LAVR_FAIL(LAVR_E_INTERNAL, "rank %d is tp rank %d, the layout says %d", world, tp_rank,
                             role->tp_index);
        /* DiT ranks are ordered (stage, pp, tp): the next pipeline hop of a tp index is tp ranks on */
        r->pipe_prev = world - layout->tp >= 0 ? world - layout->tp : MPI_PROC_NULL;
        r->pipe_next = world + layout->tp < dit_ranks ? world + layout->tp : MPI_PROC_NULL;
    }

    MPI_TRY(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world, MPI_INFO_NULL, &r->node));
    MPI_TRY(MPI_Comm_rank(r->node, &r->local_rank));
    MPI_TRY(MPI_Comm_size(r->node, &r->local_size));
    int host_len = 0;
    MPI_TRY(MPI_Get_processor_name(r->host, &host_len));
    return LAVR_OK;
}

/* This rank's device under p: the node's ranks share what they are and want (parallel/placement.h).
 * Each rank counts the devices it sees itself (a per-task CUDA_VISIBLE_DEVICES makes that 1). */
static lavr_status place(lavr_roles *r, const lavr_placement *p) {
    int devices = 0;
    TRY(lavr_node_devices(&devices));
    const char *backend = r->role.is_dit ? p->backend : lavr_placement_aux_backend(p);
    lavr_node_rank mine = {.world_rank = r->world_rank, .is_dit = r->role.is_dit,
                           .is_aux = !r->role.is_dit && r->role.aux_index == 0,
                           .wants_device = (r->role.is_dit || r->role.aux_index == 0) &&
                                           lavr_backend_wants_device(backend, devices)};
    lavr_node_rank *ranks = calloc((size_t)r->local_size, sizeof *ranks);
    int *device = calloc((size_t)r->local_size, sizeof *device);
    lavr_status st = ranks && device ? LAVR_OK : LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the node's ranks");
    int rc = MPI_Allgather(&mine, (int)sizeof mine, MPI_BYTE, ranks, (int)sizeof mine, MPI_BYTE, r->node);
    if (!st && rc != MPI_SUCCESS) st = lavr_mpi_fail(rc, "MPI_Allgather(node ranks)", __FILE__, __LINE__);
    if (!st) st = lavr_place_node(ranks, r->local_size, devices, lavr_place_finisher(&r->layout), p->aux_gpu,
                                     strcmp(lavr_placement_aux_backend(p), "cpu") == 0, device);
    if (!st) r->device = device[r->local_rank];
    free(ranks);
    free(device);
    return st;
}

lavr_status lavr_mpi_roles_place(lavr_roles *roles, const lavr_placement *p) {
    CHECK_ARG(roles && p, "lavr_mpi_roles_place: NULL argument");
    return lavr_mpi_agree(place(roles, p));
}

lavr_status lavr_mpi_agree(lavr_status local) {
    if (!mpi_running() || lavr_mpi_world_size() == 1) {
        if (local) lavr_mpi_mark_collective_failure();
        return local;
    }
    int rank = lavr_mpi_world_rank(), mine = local ? rank : INT_MAX, first = INT_MAX;
    MPI_TRY(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD));
    if (first == INT_MAX) return LAVR_OK;
    char message[1024] = "";
    int code = (int)local;
    if (rank == first) snprintf(message, sizeof message, "%s", lavr_error_message());
    MPI_TRY(MPI_Bcast(message, (int)sizeof message, MPI_CHAR, first, MPI_COMM_WORLD));
    MPI_TRY(MPI_Bcast(&code, 1, MPI_INT, first, MPI_COMM_WORLD));
    lavr_mpi_mark_collective_failure();
    if (rank == first) return local;
    return lavr_error_adopt((lavr_status)code, message);
}

lavr_status lavr_mpi_roles_create(const lavr_layout *layout, int64_t num_heads, int64_t ffn_dim, int64_t num_layers,
                                  lavr_roles **out) {
    CHECK_ARG(layout && out, "lavr_mpi_roles_create: null argument");
    *out = NULL;
    if (!mpi_running()) return LAVR_FAIL(LAVR_E_MPI, "lavr_mpi_roles_create called before lavr_mpi_start");
    int world_rank = 0, world_size = 1;
    MPI_TRY(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank));
    MPI_TRY(MPI_Comm_size(MPI_COMM_WORLD, &world_size));
    lavr_status st = lavr_layout_check_world(layout, world_size, num_heads, ffn_dim, num_layers);
    if (st) {
        lavr_mpi_mark_collective_failure();
        return st;
    }

    lavr_roles *r = calloc(1, sizeof *r);
    if (!r) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the rank roles");
    r->layout = *layout;
    r->world_rank = world_rank;
    r->world_size = world_size;
    r->dit = r->aux = r->stage = r->tp = r->node = MPI_COMM_NULL;
    r->pipe_prev = r->pipe_next = MPI_PROC_NULL;
    r->device = -1;
    TRY_GOTO(lavr_layout_role(layout, num_layers, world_rank, &r->role), st, fail);
    lavr_role_name(layout, &r->role, r->role_name, sizeof r->role_name);
    TRY_GOTO(build_roles(r), st, fail);
    const lavr_placement automatic = lavr_placement_default();
    TRY_GOTO(lavr_mpi_agree(place(r, &automatic)), st, fail);
    lavr_log_set_identity(world_rank, r->role_name);
    *out = r;
    return LAVR_OK;
fail:
    lavr_mpi_roles_destroy(r);
    return st;
}

void lavr_mpi_roles_destroy(lavr_roles *roles) {
    if (!roles) return;
    if (mpi_running()) {
        MPI_Comm *comms[] = {&roles->dit, &roles->aux, &roles->stage, &roles->tp, &roles->node};
        for (size_t i = 0; i < sizeof comms / sizeof comms[0]; i++)
            if (*comms[i] != MPI_COMM_NULL) MPI_Comm_free(comms[i]);
    }
    free(roles);
}

void lavr_mpi_mark_collective_failure(void) { collective_failure = 1; }
int lavr_mpi_failure_is_collective(void) { return collective_failure; }

void lavr_mpi_report_failure(lavr_status st, const char *message) {
    const char *kind = st == LAVR_E_STOPPED ? "stopped" : "error";
    if (!mpi_running()) {
        fprintf(stderr, "lavr: %s: %s\n", kind, message);
        return;
    }
    int rank = lavr_mpi_world_rank(), size = lavr_mpi_world_size();
    if (collective_failure || size == 1) {
        /* every rank knows; one line is enough and nobody is left waiting in a collective */
        if (rank == 0) fprintf(stderr, "lavr: %s: %s\n", kind, message);
        fflush(stderr);
        MPI_Finalize();
        return;
    }
    fprintf(stderr, "%s lavr: error: %s\n", lavr_log_prefix(), message);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, st == LAVR_E_ARG ? 2 : 1);
}
