/* The pipeline message interface (parallel/comm.h) on MPI: a message travels as one MPI_BYTE
 * buffer [header ints | part 0 | part 1 ...], so one send is one MPI message whatever the parts. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpi.h>

#include "core/trace.h"
#include "parallel/comm.h"
#include "parallel/mpi.h"

struct lavr_comm {
    MPI_Comm comm;
    int rank, size;
    int64_t sent, received;
};

struct lavr_msg_request {
    MPI_Request request;
    int peer, tag; /* for the trace's wait slice and the size check */
    int64_t bytes;
    int recv;      /* a receive (lavr_comm_irecv), else a send */
    int done;      /* completed by lavr_comm_progress */
    MPI_Status status;
};

static int64_t wire_size(lavr_wire w) { return w == LAVR_WIRE_F32 ? 4 : w == LAVR_WIRE_BF16 ? 2 : 1; }

void lavr_msg_init(lavr_msg *m) { memset(m, 0, sizeof *m); }

void lavr_msg_clear_parts(lavr_msg *m) { m->nparts = 0; }

lavr_status lavr_msg_add(lavr_msg *m, void *data, int64_t count, lavr_wire wire) {
    if (m->nparts >= LAVR_MSG_MAX_PARTS)
        return LAVR_FAIL(LAVR_E_INTERNAL, "message has more than %d parts", LAVR_MSG_MAX_PARTS);
    if (count < 0 || (count > 0 && !data)) return LAVR_FAIL(LAVR_E_INTERNAL, "message part with no data");
    m->parts[m->nparts++] = (lavr_msg_part){data, count, wire};
    return LAVR_OK;
}

void lavr_msg_free(lavr_msg *m) {
    free(m->wire);
    free(m->request);
    lavr_msg_init(m);
}

int64_t lavr_msg_wire_bytes(const lavr_msg *m) {
    int64_t n = (int64_t)sizeof m->ints;
    for (int i = 0; i < m->nparts; i++) n += m->parts[i].count * wire_size(m->parts[i].wire);
    return n;
}

/* Grows the wire buffer to the packed size; MPI counts are int, so larger messages are refused. */
static lavr_status reserve(lavr_msg *m, int64_t *bytes) {
    *bytes = lavr_msg_wire_bytes(m);
    if (*bytes > INT_MAX)
        return LAVR_FAIL(LAVR_E_INTERNAL, "message of %lld bytes exceeds one MPI message (2 GiB)", (long long)*bytes);
    if (*bytes > m->wire_cap) {
        uint8_t *grown = realloc(m->wire, (size_t)*bytes);
        if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for a %lld-byte message", (long long)*bytes);
        m->wire = grown;
        m->wire_cap = *bytes;
    }
    return LAVR_OK;
}

static lavr_status pack(lavr_msg *m, int64_t *bytes) {
    TRY(reserve(m, bytes));
    uint8_t *p = m->wire;
    memcpy(p, m->ints, sizeof m->ints);
    p += sizeof m->ints;
    for (int i = 0; i < m->nparts; i++) {
        const lavr_msg_part *part = &m->parts[i];
        if (part->wire == LAVR_WIRE_BF16) {
            const float *src = part->data;
            uint16_t *dst = (uint16_t *)(void *)p;
            for (int64_t k = 0; k < part->count; k++) {
                uint32_t bits;
                memcpy(&bits, &src[k], 4);
                if (bits & 0xffffu)
                    return LAVR_FAIL(LAVR_E_INTERNAL,
                                     "message part %d element %lld (%g) is not a bf16 value; it cannot travel as bf16",
                                     i, (long long)k, (double)src[k]);
                dst[k] = (uint16_t)(bits >> 16);
            }
        } else {
            memcpy(p, part->data, (size_t)(part->count * wire_size(part->wire)));
        }
        p += part->count * wire_size(part->wire);
    }
    return LAVR_OK;
}

static void unpack(lavr_msg *m) {
    const uint8_t *p = m->wire;
    memcpy(m->ints, p, sizeof m->ints);
    p += sizeof m->ints;
    for (int i = 0; i < m->nparts; i++) {
        const lavr_msg_part *part = &m->parts[i];
        if (part->wire == LAVR_WIRE_BF16) {
            const uint16_t *src = (const uint16_t *)(const void *)p;
            float *dst = part->data;
            for (int64_t k = 0; k < part->count; k++) {
                uint32_t bits = (uint32_t)src[k] << 16;
                memcpy(&dst[k], &bits, 4);
            }
        } else {
            memcpy(part->data, p, (size_t)(part->count * wire_size(part->wire)));
        }
        p += part->count * wire_size(part->wire);
    }
}

/* Waits for a request without holding a core: MPI's blocking calls spin, which starves the ranks
 * that have work when ranks share cores (CPU runs, an aux rank beside DiT ranks). A short spin keeps
 * the latency of a message already on its way; after it the wait sleeps with a backoff up to 1 ms,
 * small next to a block's compute. */
static int wait_request(MPI_Request *request, MPI_Status *status) {
    long sleep_ns = 20000;
    for (int spins = 0;; spins++) {
        int done = 0;
        int rc = MPI_Test(request, &done, status);
        if (rc != MPI_SUCCESS || done) return rc;
        if (spins < 200) continue;
        struct timespec ts = {0, sleep_ns};
        nanosleep(&ts, NULL);
        if (sleep_ns < 1000000) sleep_ns *= 2;
    }
}

static lavr_msg_request *new_request(int peer, int tag, int64_t bytes, int recv) {
    lavr_msg_request *r = calloc(1, sizeof *r);
    if (r) r->peer = peer, r->tag = tag, r->bytes = bytes, r->recv = recv;
    return r;
}

lavr_status lavr_comm_world(lavr_comm **out) {
    lavr_comm *c = calloc(1, sizeof *c);
    if (!c) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for a communicator");
    int rc = MPI_Comm_dup(MPI_COMM_WORLD, &c->comm);
    if (rc != MPI_SUCCESS) {
        free(c);
        return lavr_mpi_fail(rc, "MPI_Comm_dup(MPI_COMM_WORLD)", __FILE__, __LINE__);
    }
    MPI_Comm_rank(c->comm, &c->rank);
    MPI_Comm_size(c->comm, &c->size);
    *out = c;
    return LAVR_OK;
}

void lavr_comm_destroy(lavr_comm *c) {
    if (!c) return;
    MPI_Comm_free(&c->comm);
    free(c);
}

int lavr_comm_rank(const lavr_comm *c) { return c->rank; }
int lavr_comm_size(const lavr_comm *c) { return c->size; }

lavr_status lavr_comm_send(lavr_comm *c, int peer, int tag, lavr_msg *m) {
    if (m->request) return LAVR_FAIL(LAVR_E_INTERNAL, "send on a message whose previous send is in flight");
    const int64_t t0 = lavr_trace_now();
    int64_t bytes = 0;
    TRY(pack(m, &bytes));
    MPI_Request request;
    MPI_TRY(MPI_Isend(m->wire, (int)bytes, MPI_BYTE, peer, tag, c->comm, &request));
    MPI_TRY(wait_request(&request, MPI_STATUS_IGNORE));
    c->sent += bytes;
    lavr_trace_slice(LAVR_TRACE_SEND, t0, peer, bytes);
    return LAVR_OK;
}

lavr_status lavr_comm_isend(lavr_comm *c, int peer, int tag, lavr_msg *m) {
    if (m->request) return LAVR_FAIL(LAVR_E_INTERNAL, "send on a message whose previous send is in flight");
    const int64_t t0 = lavr_trace_now();
    int64_t bytes = 0;
    TRY(pack(m, &bytes));
    lavr_msg_request *r = new_request(peer, tag, bytes, 0);
    if (!r) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for a send request");
    int rc = MPI_Isend(m->wire, (int)bytes, MPI_BYTE, peer, tag, c->comm, &r->request);
    if (rc != MPI_SUCCESS) {
        free(r);
        return lavr_mpi_fail(rc, "MPI_Isend", __FILE__, __LINE__);
    }
    m->request = r;
    c->sent += bytes;
    lavr_trace_slice(LAVR_TRACE_SEND, t0, peer, bytes);
    return LAVR_OK;
}

/* A received message of the size its parts expect: unpacked into them. */
static lavr_status received(lavr_comm *c, lavr_msg *m, const MPI_Status *status, int peer, int tag, int64_t bytes) {
    int got = 0;
    MPI_TRY(MPI_Get_count(status, MPI_BYTE, &got));
    if (got != bytes)
        return LAVR_FAIL(LAVR_E_INTERNAL, "message with tag %d from rank %d has %d bytes, expected %lld", tag, peer,
                         got, (long long)bytes);
    unpack(m);
    c->received += bytes;
    return LAVR_OK;
}

lavr_status lavr_comm_wait(lavr_comm *c, lavr_msg *m) {
    lavr_msg_request *r = m->request;
    if (!r) return LAVR_OK;
    const int64_t t0 = lavr_trace_now();
    int rc = r->done ? MPI_SUCCESS : wait_request(&r->request, &r->status);
    m->request = NULL;
    lavr_status st = LAVR_OK;
    if (rc != MPI_SUCCESS) st = lavr_mpi_fail(rc, r->recv ? "MPI_Wait(receive)" : "MPI_Wait(send)", __FILE__, __LINE__);
    else if (r->recv && lavr_msg_wire_bytes(m) != r->bytes)
        st = LAVR_FAIL(LAVR_E_INTERNAL, "message with tag %d from rank %d: its parts changed size while it was in flight",
                       r->tag, r->peer);
    else if (r->recv) st = received(c, m, &r->status, r->peer, r->tag, r->bytes);
    lavr_trace_slice(LAVR_TRACE_WAIT, t0, r->peer, r->bytes);
    free(r);
    return st;
}

lavr_status lavr_comm_irecv(lavr_comm *c, int peer, int tag, lavr_msg *m) {
    if (m->request) return LAVR_FAIL(LAVR_E_INTERNAL, "receive into a message with a send or receive in flight");
    int64_t bytes = 0;
    TRY(reserve(m, &bytes));
    lavr_msg_request *r = new_request(peer, tag, bytes, 1);
    if (!r) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for a receive request");
    int rc = MPI_Irecv(m->wire, (int)bytes, MPI_BYTE, peer, tag, c->comm, &r->request);
    if (rc != MPI_SUCCESS) {
        free(r);
        return lavr_mpi_fail(rc, "MPI_Irecv", __FILE__, __LINE__);
    }
    m->request = r;
    return LAVR_OK;
}

lavr_status lavr_comm_progress(lavr_comm *c, lavr_msg *m) {
    (void)c;
    lavr_msg_request *r = m->request;
    if (!r || r->done) return LAVR_OK;
    MPI_TRY(MPI_Test(&r->request, &r->done, &r->status));
    return LAVR_OK;
}

lavr_status lavr_comm_recv(lavr_comm *c, int peer, int tag, lavr_msg *m) {
    if (m->request) return LAVR_FAIL(LAVR_E_INTERNAL, "receive into a message with a send or receive in flight");
    const int64_t t0 = lavr_trace_now();
    int64_t bytes = 0;
    TRY(reserve(m, &bytes));
    MPI_Status status;
    MPI_Request request;
    MPI_TRY(MPI_Irecv(m->wire, (int)bytes, MPI_BYTE, peer, tag, c->comm, &request));
    MPI_TRY(wait_request(&request, &status));
    TRY(received(c, m, &status, peer, tag, bytes));
    lavr_trace_slice(LAVR_TRACE_WAIT, t0, peer, bytes);
    return LAVR_OK;
}

lavr_status lavr_comm_bcast(lavr_comm *c, int root, lavr_msg *m) {
    if (m->request) return LAVR_FAIL(LAVR_E_INTERNAL, "broadcast of a message whose send is in flight");
    const int64_t t0 = lavr_trace_now();
    int64_t bytes = 0;
    if (c->rank == root)
        TRY(pack(m, &bytes));
    else
        TRY(reserve(m, &bytes));
    MPI_Request request;
    MPI_TRY(MPI_Ibcast(m->wire, (int)bytes, MPI_BYTE, root, c->comm, &request));
    MPI_TRY(wait_request(&request, MPI_STATUS_IGNORE));
    if (c->rank == root) {
        c->sent += bytes;
    } else {
        unpack(m);
        c->received += bytes;
    }
    /* the root sends to everyone (peer -1); the others wait for the root */
    lavr_trace_slice(c->rank == root ? LAVR_TRACE_SEND : LAVR_TRACE_WAIT, t0, c->rank == root ? -1 : root, bytes);
    return LAVR_OK;
}

void lavr_comm_abort(lavr_comm *c, int exit_code) { MPI_Abort(c ? c->comm : MPI_COMM_WORLD, exit_code); }

void lavr_comm_traffic(const lavr_comm *c, int64_t *sent, int64_t *received) {
    *sent = c->sent;
    *received = c->received;
}
