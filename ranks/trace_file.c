/* The trace file of ranks/trace_file.h. The root receives one rank's slices at a time and writes
 * them before the next, so it holds at most two ranks' slices; timestamps are integer nanoseconds
 * printed as microseconds with three decimals, so a slice nested in another stays inside it. */
#include "ranks/trace_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/log.h"
#include "core/trace.h"
#include "parallel/mpi.h"

#define ROLE_LEN 64
#define TAG_TRACE 7301

lavr_status lavr_trace_start(void) {
    MPI_TRY(MPI_Barrier(MPI_COMM_WORLD));
    return lavr_trace_enable(LAVR_TRACE_MAX_EVENTS);
}

/* Parents first: by start, the longer (enclosing) slice before the shorter. */
static int by_start(const void *x, const void *y) {
    const lavr_trace_event *a = x, *b = y;
    if (a->start_ns != b->start_ns) return a->start_ns < b->start_ns ? -1 : 1;
    if (a->end_ns != b->end_ns) return a->end_ns > b->end_ns ? -1 : 1;
    return 0;
}

static void write_us(FILE *f, int64_t ns) { fprintf(f, "%lld.%03lld", (long long)(ns / 1000), (long long)(ns % 1000)); }

static void write_rank(FILE *f, int rank, const char *role, lavr_trace_event *ev, int64_t n, int *first) {
    qsort(ev, (size_t)n, sizeof *ev, by_start);
    char name[ROLE_LEN + 16];
    snprintf(name, sizeof name, "r%d %s", rank, role);
    fprintf(f, "%s{\"ph\": \"M\", \"name\": \"process_name\", \"pid\": %d, \"tid\": 0, \"args\": {\"name\": ", *first ? "" : ",\n",
            rank);
    lavr_json_write_string(f, name);
    fprintf(f, "}},\n{\"ph\": \"M\", \"name\": \"process_sort_index\", \"pid\": %d, \"tid\": 0, \"args\": {\"sort_index\": %d}},\n"
               "{\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": %d, \"tid\": 0, \"args\": {\"name\": ",
            rank, rank, rank);
    lavr_json_write_string(f, role);
    fputs("}}", f);
    *first = 0;
    for (int64_t i = 0; i < n; i++) {
        const lavr_trace_event *e = &ev[i];
        fprintf(f, ",\n{\"ph\": \"X\", \"cat\": \"lavr\", \"name\": \"%s\", \"pid\": %d, \"tid\": 0, \"ts\": ",
                lavr_trace_kind_name(e->kind), rank);
        write_us(f, e->start_ns);
        fputs(", \"dur\": ", f);
        write_us(f, e->end_ns - e->start_ns);
        fputs(", \"args\": {", f);
        const char *a = lavr_trace_kind_arg(e->kind, 0), *b = lavr_trace_kind_arg(e->kind, 1);
        if (a) fprintf(f, "\"%s\": %lld", a, (long long)e->a);
        if (b) fprintf(f, "%s\"%s\": %lld", a ? ", " : "", b, (long long)e->b);
        fputs("}}", f);
    }
}

/* Root: receives rank r's role, counts and slices into *buf (grown as needed). */
static lavr_status receive_rank(int r, char *role, int64_t counts[2], lavr_trace_event **buf, int64_t *cap) {
    MPI_TRY(MPI_Recv(role, ROLE_LEN, MPI_CHAR, r, TAG_TRACE, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    MPI_TRY(MPI_Recv(counts, 2, MPI_INT64_T, r, TAG_TRACE, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    if (counts[0] > *cap) {
        lavr_trace_event *grown = realloc(*buf, (size_t)counts[0] * sizeof **buf);
        if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "trace: %lld slices of rank %d", (long long)counts[0], r);
        *buf = grown;
        *cap = counts[0];
    }
    if (counts[0] > 0)
        MPI_TRY(MPI_Recv(*buf, (int)(counts[0] * (int64_t)sizeof **buf), MPI_BYTE, r, TAG_TRACE, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE));
    return LAVR_OK;
}

static lavr_status write_all(const char *path, int root, const char *role, FILE *f) {
    const int size = lavr_mpi_world_size();
    int64_t mine = 0, mine_dropped = 0;
    const lavr_trace_event *local = lavr_trace_events(&mine, &mine_dropped);
    lavr_trace_event *buf = NULL;
    int64_t cap = 0, *dropped = calloc((size_t)size, sizeof *dropped);
    if (!dropped) return LAVR_FAIL(LAVR_E_NOMEM, "trace: out of memory");
    lavr_status st = LAVR_OK;
    int first = 1;
    fputs("{\"displayTimeUnit\": \"ms\",\n\"traceEvents\": [\n", f);
    /* every rank's messages are received even after a failure here, so no sender is left waiting */
    for (int r = 0; r < size; r++) {
        char who[ROLE_LEN];
        int64_t counts[2] = {mine, mine_dropped};
        lavr_status got = LAVR_OK;
        if (r == root) {
            snprintf(who, sizeof who, "%s", role);
            if (mine > cap) {
                lavr_trace_event *grown = realloc(buf, (size_t)mine * sizeof *buf);
                if (grown) buf = grown, cap = mine;
                else got = LAVR_FAIL(LAVR_E_NOMEM, "trace: %lld slices", (long long)mine);
            }
            if (!got && mine > 0) memcpy(buf, local, (size_t)mine * sizeof *buf);
        } else {
            got = receive_rank(r, who, counts, &buf, &cap);
        }
        if (got) {
            if (!st) st = got;
            continue;
        }
        who[ROLE_LEN - 1] = 0;
        dropped[r] = counts[1];
        write_rank(f, r, who, buf, counts[0], &first);
    }
    fputs("\n],\n\"otherData\": {\"dropped_slices\": {", f);
    for (int r = 0; r < size; r++) fprintf(f, "%s\"%d\": %lld", r ? ", " : "", r, (long long)dropped[r]);
    fputs("}}}\n", f);
    for (int r = 0; r < size; r++)
        if (dropped[r] > 0)
            LOG_WARN("trace %s: rank %d kept its first %d slices and dropped %lld", path, r, LAVR_TRACE_MAX_EVENTS,
                     (long long)dropped[r]);
    free(buf);
    free(dropped);
    return st;
}

lavr_status lavr_trace_write(const char *path, int root, const char *role) {
    const int rank = lavr_mpi_world_rank();
    lavr_status st = LAVR_OK;
    if (rank != root) {
        int64_t count = 0, dropped = 0;
        const lavr_trace_event *ev = lavr_trace_events(&count, &dropped);
        char who[ROLE_LEN] = "";
        snprintf(who, sizeof who, "%s", role);
        int64_t counts[2] = {count, dropped};
        MPI_TRY(MPI_Send(who, ROLE_LEN, MPI_CHAR, root, TAG_TRACE, MPI_COMM_WORLD));
        MPI_TRY(MPI_Send(counts, 2, MPI_INT64_T, root, TAG_TRACE, MPI_COMM_WORLD));
        if (count > 0)
            MPI_TRY(MPI_Send(ev, (int)(count * (int64_t)sizeof *ev), MPI_BYTE, root, TAG_TRACE, MPI_COMM_WORLD));
        lavr_trace_disable();
        return LAVR_OK;
    }
    char partial[4096];
    if (snprintf(partial, sizeof partial, "%s.partial", path) >= (int)sizeof partial)
        st = LAVR_FAIL(LAVR_E_ARG, "--trace '%s': path too long", path);
    FILE *f = st ? NULL : fopen(partial, "w");
    if (!st && !f) st = LAVR_FAIL(LAVR_E_IO, "cannot write the trace '%s': %s", partial, strerror(errno));
    /* with no file the other ranks' slices are still taken in (they are sending them now) */
    FILE *sink = f ? f : fopen("/dev/null", "w");
    lavr_status w = sink ? write_all(path, root, role, sink) : LAVR_FAIL(LAVR_E_IO, "cannot open /dev/null");
    if (!st) st = w;
    if (f) {
        const int failed = ferror(f);
        if (fclose(f) != 0 || failed) {
            if (!st) st = LAVR_FAIL(LAVR_E_IO, "cannot write the trace '%s': %s", partial, strerror(errno));
        }
        if (!st && rename(partial, path) != 0)
            st = LAVR_FAIL(LAVR_E_IO, "cannot rename '%s' to '%s': %s", partial, path, strerror(errno));
        if (st) remove(partial);
    } else if (sink) {
        fclose(sink);
    }
    lavr_trace_disable();
    return st;
}
