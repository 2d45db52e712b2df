/* `lavr topo`: which world rank plays which role (DiT stage/tp/pp or aux) on which host and device for
 * a layout; under mpirun the ranks build their communicators and rank 0 prints what they report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "models/config.h"
#include "parallel/device.h"
#include "parallel/layout.h"
#include "parallel/mpi.h"
#include "parallel/placement.h"

/* What one rank reports to rank 0 (plain bytes: all ranks run the same binary). */
typedef struct {
    int world_rank, local_rank, device, pipe_prev, pipe_next;
    lavr_role role;
    char host[MPI_MAX_PROCESSOR_NAME];
} topo_row;

static void format_range(char *buf, size_t len, int64_t begin, int64_t end) {
    if (begin < 0)
        snprintf(buf, len, "-");
    else if (end - begin == 1)
        snprintf(buf, len, "%lld", (long long)begin);
    else
        snprintf(buf, len, "%lld-%lld", (long long)begin, (long long)end - 1);
}

static void format_peer(char *buf, size_t len, int peer) {
    if (peer == MPI_PROC_NULL || peer < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%d", peer);
}

static void print_table(const lavr_layout *layout, const topo_row *rows, int nrows) {
    int host_width = 4;
    for (int i = 0; i < nrows; i++) {
        int n = (int)strlen(rows[i].host);
        if (n > host_width) host_width = n;
    }
    printf("%4s  %-*s  %5s  %-4s  %5s  %-5s  %-5s  %-5s  %-7s  %4s  %4s  %s\n", "rank", host_width, "host", "local",
           "role", "stage", "steps", "tp", "pp", "layers", "prev", "next", "device");
    for (int i = 0; i < nrows; i++) {
        const topo_row *row = &rows[i];
        const lavr_role *role = &row->role;
        char stage[16] = "-", steps[48], tp[32] = "-", pp[32] = "-", layers[48], prev[16], next[16], device[32];
        if (role->is_dit) {
            snprintf(stage, sizeof stage, "%d", role->stage);
            snprintf(tp, sizeof tp, "%d/%d", role->tp_index, layout->tp);
            snprintf(pp, sizeof pp, "%d/%d", role->pp_index, layout->pp);
        }
        format_range(steps, sizeof steps, role->step_begin, role->step_end);
        format_range(layers, sizeof layers, role->layer_begin, role->layer_end);
        format_peer(prev, sizeof prev, row->pipe_prev);
        format_peer(next, sizeof next, row->pipe_next);
        lavr_device_name(row->device, device, sizeof device);
        printf("%4d  %-*s  %5d  %-4s  %5s  %-5s  %-5s  %-5s  %-7s  %4s  %4s  %s\n", row->world_rank, host_width,
               row->host, row->local_rank, role->is_dit ? "dit" : "aux", stage, steps, tp, pp, layers, prev, next,
               device);
    }
    /* sharing a GPU is legal (aux next to a DiT rank) but halves what each rank can hold */
    for (int i = 0; i < nrows; i++) {
        if (rows[i].device < 0) continue;
        int first = 1;
        for (int k = 0; k < i; k++)
            if (rows[k].device == rows[i].device && strcmp(rows[k].host, rows[i].host) == 0) first = 0;
        if (!first) continue;
        char users[256] = "";
        size_t used = 0;
        int count = 0;
        for (int k = i; k < nrows && used < sizeof users; k++) {
            if (rows[k].device != rows[i].device || strcmp(rows[k].host, rows[i].host) != 0) continue;
            used += (size_t)snprintf(users + used, sizeof users - used, " %d", rows[k].world_rank);
            count++;
        }
        if (count > 1) printf("note: cuda:%d on %s is shared by ranks%s\n", rows[i].device, rows[i].host, users);
    }
    fflush(stdout);
}

/* Not under mpirun: the roles the layout would give, with every rank on this node. */
static lavr_status print_plan(const lavr_layout *layout, const lavr_dit_config *dit, const char *header,
                              const char *layout_text, const lavr_placement *placement) {
    int nranks = lavr_layout_ranks(layout), devices = 0;
    TRY(lavr_node_devices(&devices));
    topo_row *rows = calloc((size_t)nranks, sizeof *rows);
    int *device = calloc((size_t)nranks, sizeof *device);
    lavr_status st = rows && device ? LAVR_OK : LAVR_FAIL(LAVR_E_NOMEM, "out of memory for %d table rows", nranks);
    if (!st) st = lavr_place_layout(layout, placement, devices, device);
    for (int r = 0; r < nranks && !st; r++) {
        topo_row *row = &rows[r];
        st = lavr_layout_role(layout, dit->num_layers, r, &row->role);
        row->world_rank = r;
        row->local_rank = r;
        row->device = device[r];
        row->pipe_prev = row->role.is_dit && r - layout->tp >= 0 ? r - layout->tp : -1;
        row->pipe_next = row->role.is_dit && r + layout->tp < lavr_layout_dit_ranks(layout) ? r + layout->tp : -1;
        snprintf(row->host, sizeof row->host, "(this node)");
    }
    free(device);
    if (st) {
        free(rows);
        return st;
    }
    printf("%s\nplan only (not under mpirun): all ranks assumed on this node with its %d CUDA device%s; run it with\n"
           "  mpirun -np %d lavr topo --layout %s\n",
           header, devices, devices == 1 ? "" : "s", nranks, layout_text);
    print_table(layout, rows, nranks);
    free(rows);
    return LAVR_OK;
}

static lavr_status gather_and_print(const lavr_roles *roles) {
    topo_row mine = {.world_rank = roles->world_rank, .local_rank = roles->local_rank, .device = roles->device,
                     .pipe_prev = roles->pipe_prev, .pipe_next = roles->pipe_next, .role = roles->role};
    memcpy(mine.host, roles->host, sizeof mine.host);
    topo_row *rows = NULL;
    if (roles->world_rank == 0) {
        rows = calloc((size_t)roles->world_size, sizeof *rows);
        if (!rows) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for %d table rows", roles->world_size);
    }
    int rc = MPI_Gather(&mine, (int)sizeof mine, MPI_BYTE, rows, (int)sizeof mine, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) {
        free(rows);
        return lavr_mpi_fail(rc, "MPI_Gather(topo rows)", __FILE__, __LINE__);
    }
    if (rows) print_table(&roles->layout, rows, roles->world_size);
    free(rows);
    return LAVR_OK;
}

lavr_status lavr_cmd_topo(int argc, char **argv) {
    cli_option opts[] = {
        {"layout", "LAYOUT", "steps=S,tp=T,pp=P,aux=A; needs S*T*P+A ranks (default steps=4,tp=1,pp=1,aux=1)", NULL},
        {"config", "PRESET", "model preset the layout must fit: tiny or s2v-14b (default s2v-14b)", NULL},
        {"backend", "auto|cpu|cuda", "as lavr render: DiT ranks on auto (a GPU when there is one), cpu or cuda", NULL},
        {"aux-backend", "auto|cpu|cuda", "as lavr render: the aux rank on auto, cpu or cuda (default: as --backend)", NULL},
        {"aux-gpu", "N", "as lavr render: node-local GPU of the aux rank (default: a free one, else the last stage's)",
         NULL},
        {"help", 0, "print this help", NULL},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    TRY(lavr_mpi_start(&argc, &argv));
    int rank = lavr_mpi_world_rank(), size = lavr_mpi_world_size();
    TRY_COLLECTIVE(cli_parse("topo", argc, argv, 2, opts, nopts, NULL, 0, NULL));
    if (cli_flag(opts, nopts, "help")) {
        if (rank == 0)
            cli_print_help("usage: mpirun -np N lavr topo [--layout steps=4,tp=1,pp=1,aux=1] [--config s2v-14b]\n"
                           "           [--backend auto|cpu|cuda] [--aux-backend auto|cpu|cuda] [--aux-gpu N]",
                           "Prints each rank's host, node-local rank, role, denoising steps, tp and pp position,\n"
                           "layer range, pipeline neighbours and the device it computes on (as lavr render\n"
                           "places it with the same options). Without mpirun it prints the plan.\n"
                           "LAVR_FAKE_DEVICES=N makes every node count N GPUs (a testing aid).",
                           opts, nopts);
        return lavr_mpi_finish();
    }
    lavr_layout layout;
    TRY_COLLECTIVE(lavr_layout_parse(cli_get(opts, nopts, "layout", "steps=4,tp=1,pp=1,aux=1"), &layout));
    const char *preset = cli_get(opts, nopts, "config", "s2v-14b");
    lavr_model_config cfg;
    TRY_COLLECTIVE(lavr_config_preset(preset, &cfg));
    const lavr_dit_config *dit = &cfg.dit;
    lavr_placement placement = {.backend = cli_get(opts, nopts, "backend", "auto"),
                                .aux_backend = cli_get(opts, nopts, "aux-backend", NULL)};
    int64_t aux_gpu = -1;
    TRY_COLLECTIVE(cli_get_int(opts, nopts, "aux-gpu", -1, 0, 1023, &aux_gpu));
    placement.aux_gpu = (int)aux_gpu;
    TRY_COLLECTIVE(lavr_placement_check(&placement));
    char layout_text[96];
    lavr_layout_format(&layout, layout_text, sizeof layout_text);

    lavr_roles *roles = NULL;
    if (size == 1)
        TRY_COLLECTIVE(lavr_layout_check(&layout, dit->num_heads, dit->ffn_dim, dit->num_layers));
    else
        TRY(lavr_mpi_roles_create(&layout, dit->num_heads, dit->ffn_dim, dit->num_layers, &roles));
    char header[256];
    snprintf(header, sizeof header, "layout %s: %d ranks (%d DiT, %d aux), model %s (%lld layers, %lld heads, ffn %lld)",
             layout_text, lavr_layout_ranks(&layout), lavr_layout_dit_ranks(&layout), layout.aux, preset,
             (long long)dit->num_layers, (long long)dit->num_heads, (long long)dit->ffn_dim);
    if (size == 1) {
        TRY_COLLECTIVE(print_plan(&layout, dit, header, layout_text, &placement));
        return lavr_mpi_finish();
    }
    lavr_status st = lavr_mpi_roles_place(roles, &placement);
    if (!st && rank == 0) printf("%s\n", header);
    if (!st) st = gather_and_print(roles);
    lavr_mpi_roles_destroy(roles);
    TRY(st);
    return lavr_mpi_finish();
}
