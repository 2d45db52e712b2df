/* The pipeline message interface (parallel/comm.h) on MPI: a message travels as one MPI_BYTE
 * buffer [header ints | part 0 | part 1 ...], so one send is one MPI message whatever the parts.
 * Every wait also watches for a peer's fault notice, and lavr_comm_end_fault drains what is in flight. */
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpi.h>

#include "core/trace.h"
#include "parallel/comm.h"
#include "parallel/comm_mpi.h"
#include "parallel/mpi.h"

enum { TAG_FAULT = 101 }; /* a fault notice: one int, the failing world rank (beside parallel/schedule.h's tags) */

struct lavr_comm {
    MPI_Comm comm;
    int rank, size;
    int64_t sent, received;
    int failed_peer;  /* the rank whose fault notice arrived, -1 none: every wait after it fails at once */
    int interrupted;  /* a wait of this rank returned because of that notice */
    int fault_ended;  /* lavr_comm_end_fault ended a fault */
    lavr_msg_request **inflight; /* sends not yet waited for (the drain of a fault completes them) */
    int ninflight, inflight_cap;
    long max_nap_ns;  /* the longest nap of a wait (see node_naps) */
};

struct lavr_msg_request {
    MPI_Request request; /* MPI_REQUEST_NULL once complete */
    int peer, tag;       /* for the trace's wait slice and the size check */
    int64_t bytes;
    lavr_comm *comm;
    uint8_t *orphan;     /* the wire of a message freed while this send was in flight: freed with it */
    int orphaned;
    int recv;            /* a receive (lavr_comm_irecv, never tracked: lavr_msg_free cancels it), else a send */
    int done;            /* a receive completed by lavr_comm_progress (status holds its size) */
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

static void untrack(lavr_comm *c, lavr_msg_request *r) {
    for (int i = 0; c && i < c->ninflight; i++)
        if (c->inflight[i] == r) {
            c->inflight[i] = c->inflight[--c->ninflight];
            return;
        }
}

static lavr_status track(lavr_comm *c, MPI_Request request, int peer, int64_t bytes, lavr_msg_request **out) {
    if (c->ninflight == c->inflight_cap) {
        const int cap = c->inflight_cap ? 2 * c->inflight_cap : 16;
        lavr_msg_request **grown = realloc(c->inflight, (size_t)cap * sizeof *grown);
        if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the sends in flight");
        c->inflight = grown;
        c->inflight_cap = cap;
    }
    lavr_msg_request *r = calloc(1, sizeof *r);
    if (!r) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for a send request");
    *r = (lavr_msg_request){.request = request, .peer = peer, .bytes = bytes, .comm = c};
    c->inflight[c->ninflight++] = r;
    *out = r;
    return LAVR_OK;
}

/* A send still in flight (a fault interrupted its wait) keeps the wire: the comm frees both once it completes. */
void lavr_msg_free(lavr_msg *m) {
    lavr_msg_request *r = m->request;
    if (r && r->recv) { /* a receive never taken (a fault ended the render): cancelled, or complete by now */
        if (r->request != MPI_REQUEST_NULL && MPI_Cancel(&r->request) == MPI_SUCCESS)
            MPI_Wait(&r->request, MPI_STATUS_IGNORE);
        free(m->wire);
        free(r);
    } else if (r && r->request != MPI_REQUEST_NULL) {
        r->orphan = m->wire;
        r->orphaned = 1;
    } else {
        if (r) untrack(r->comm, r);
        free(m->wire);
        free(r);
    }
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

/* A peer's fault notice, consumed when found; 1 once one arrived. */
static int fault_noticed(lavr_comm *c) {
    if (c->failed_peer >= 0) return 1;
    int flag = 0, notice = -1;
    MPI_Status status;
    if (MPI_Iprobe(MPI_ANY_SOURCE, TAG_FAULT, c->comm, &flag, &status) != MPI_SUCCESS || !flag) return 0;
    /* (a notice that cannot be read still tells who failed) */
    MPI_Recv(&notice, 1, MPI_INT, status.MPI_SOURCE, TAG_FAULT, c->comm, MPI_STATUS_IGNORE);
    c->failed_peer = status.MPI_SOURCE;
    return 1;
}

static lavr_status peer_failed(lavr_comm *c) {
    c->interrupted = 1;
    return LAVR_FAIL(LAVR_E_INTERNAL, "rank %d failed (its fault ends the render)", c->failed_peer);
}

lavr_status lavr_comm_check_fault(lavr_comm *c) { return c && fault_noticed(c) ? peer_failed(c) : LAVR_OK; }

/* Waits for n requests without holding a core: MPI's blocking calls spin, which starves the ranks
 * that have work when ranks share cores (CPU runs, an aux rank beside DiT ranks). A short spin keeps
 * the latency of a message already on its way; after it the wait sleeps with a backoff up to
 * max_sleep_ns (1 ms for pipeline messages, small next to a block's compute). With c, a peer's fault
 * notice ends the wait (the requests stay pending). */
/* Polls until the requests complete. A large message moves in fragments, each needing both sides inside MPI, so a
 * wait naps briefly (20 us) while a transfer may be under way and longer (up to max_sleep_ns) only once it has
 * waited 10 ms: the DiT's wait for a packet already sent finishes in a fraction of a millisecond instead of the
 * 5-11 ms that 1 ms naps gave it, and a long wait still leaves the CPU to the others. */
static lavr_status wait_requests_for(lavr_comm *c, int n, MPI_Request *requests, MPI_Status *statuses,
                                     const char *what, long max_sleep_ns) {
    long sleep_ns = 20000 < max_sleep_ns ? 20000 : max_sleep_ns;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int spins = 0;; spins++) {
        int done = 0;
        int rc = MPI_Testall(n, requests, &done, statuses ? statuses : MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) return lavr_mpi_fail(rc, what, __FILE__, __LINE__);
        if (done) return LAVR_OK;
        if (c && spins % 16 == 0 && fault_noticed(c)) return peer_failed(c);
        if (spins < 200) continue;
        struct timespec ts = {0, sleep_ns};
        nanosleep(&ts, NULL);
        if (sleep_ns >= max_sleep_ns) continue;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - t0.tv_sec) * 1000000000L + (now.tv_nsec - t0.tv_nsec) > 10000000L) sleep_ns *= 2;
    }
}

static lavr_status wait_requests(lavr_comm *c, int n, MPI_Request *requests, MPI_Status *statuses, const char *what) {
    return wait_requests_for(c, n, requests, statuses, what, c ? c->max_nap_ns : 1000000);
}

/* A waiting rank naps at most 50 us when its node has two CPUs for each of its ranks, so that the peer of a long
 * wait (the aux, ~700 ms per block for the clean latent) keeps a transfer to it moving: with 1 ms naps the DiT's
 * next packet and the latent each took 5-10 ms to cross on one H200. On a node with fewer CPUs, 1 ms naps leave
 * them to the ranks that compute. */
static long node_naps(MPI_Comm comm) {
    MPI_Comm node;
    int ranks = 0;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) != MPI_SUCCESS) return 1000000;
    if (MPI_Comm_size(node, &ranks) != MPI_SUCCESS) ranks = 0;
    MPI_Comm_free(&node);
    cpu_set_t set;
    const int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    return ranks > 0 && 2 * ranks <= cpus ? 50000 : 1000000;
}

MPI_Comm lavr_comm_mpi(const lavr_comm *c) { return c->comm; }

lavr_status lavr_comm_wait_mpi(lavr_comm *c, int nrecv, int nsend, MPI_Request *requests) {
    /* an all-reduce runs several times per layer and a large one needs both sides in MPI to progress (its
     * rendezvous): naps of at most 50 us */
    lavr_status st = wait_requests_for(c, nrecv + nsend, requests, NULL, "MPI_Testall(tp exchange)", 50000);
    if (!st || !c || !c->interrupted) return st;
    for (int i = 0; i < nrecv; i++) /* a receive cancelled, or matched and then complete */
        if (requests[i] != MPI_REQUEST_NULL && MPI_Cancel(&requests[i]) == MPI_SUCCESS)
            MPI_Wait(&requests[i], MPI_STATUS_IGNORE);
    for (int i = nrecv; i < nrecv + nsend; i++) {
        if (requests[i] == MPI_REQUEST_NULL) continue;
        lavr_msg_request *r = NULL;
        if (track(c, requests[i], -1, 0, &r) == LAVR_OK) r->orphaned = 1; /* no wire: the caller's buffer */
        requests[i] = MPI_REQUEST_NULL;
    }
    return peer_failed(c);
}

static lavr_msg_request *new_receive(int peer, int tag, int64_t bytes) {
    lavr_msg_request *r = calloc(1, sizeof *r);
    if (r) r->request = MPI_REQUEST_NULL, r->peer = peer, r->tag = tag, r->bytes = bytes, r->recv = 1;
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
    c->failed_peer = -1;
    c->max_nap_ns = node_naps(c->comm);
    *out = c;
    return LAVR_OK;
}

void lavr_comm_destroy(lavr_comm *c) {
    if (!c) return;
    /* sends a failure left behind without a drain: MPI may still read their buffers, left to the exit */
    for (int i = 0; i < c->ninflight; i++) {
        lavr_msg_request *r = c->inflight[i];
        if (r->request != MPI_REQUEST_NULL) MPI_Request_free(&r->request);
        else if (r->orphaned) free(r->orphan);
        if (r->orphaned) free(r);
        else r->comm = NULL;
    }
    free(c->inflight);
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
    lavr_status st = wait_requests(c, 1, &request, NULL, "MPI_Wait(send)");
    if (st) {
        /* a fault interrupted it: the send stays in flight, as if it were an isend, for the drain */
        if (c->interrupted && track(c, request, peer, bytes, &m->request) == LAVR_OK) return peer_failed(c);
        return st;
    }
    c->sent += bytes;
    lavr_trace_slice(LAVR_TRACE_SEND, t0, peer, bytes);
    return LAVR_OK;
}

lavr_status lavr_comm_isend(lavr_comm *c, int peer, int tag, lavr_msg *m) {
    if (m->request) return LAVR_FAIL(LAVR_E_INTERNAL, "send on a message whose previous send is in flight");
    const int64_t t0 = lavr_trace_now();
    int64_t bytes = 0;
    TRY(pack(m, &bytes));
    MPI_Request request;
    MPI_TRY(MPI_Isend(m->wire, (int)bytes, MPI_BYTE, peer, tag, c->comm, &request));
    lavr_status st = track(c, request, peer, bytes, &m->request);
    if (st) {
        MPI_Request_free(&request); /* (out of memory: the buffer is leaked with it) */
        m->wire = NULL;
        m->wire_cap = 0;
        return st;
    }
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
    if (r->recv) {
        /* a fault leaves the receive posted (lavr_msg_free cancels it) */
        lavr_status st = r->done ? LAVR_OK : wait_requests(c, 1, &r->request, &r->status, "MPI_Wait(receive)");
        if (st) return st;
        m->request = NULL;
        if (lavr_msg_wire_bytes(m) != r->bytes)
            st = LAVR_FAIL(LAVR_E_INTERNAL, "message with tag %d from rank %d: its parts changed size while it was in "
                           "flight", r->tag, r->peer);
        else
            st = received(c, m, &r->status, r->peer, r->tag, r->bytes);
        lavr_trace_slice(LAVR_TRACE_WAIT, t0, r->peer, r->bytes);
        free(r);
        return st;
    }
    TRY(wait_requests(c, 1, &r->request, NULL, "MPI_Wait(send)")); /* a fault leaves it in flight */
    lavr_trace_slice(LAVR_TRACE_WAIT, t0, r->peer, r->bytes);
    untrack(c, r);
    free(r);
    m->request = NULL;
    return LAVR_OK;
}

lavr_status lavr_comm_irecv(lavr_comm *c, int peer, int tag, lavr_msg *m) {
    if (m->request) return LAVR_FAIL(LAVR_E_INTERNAL, "receive into a message with a send or receive in flight");
    int64_t bytes = 0;
    TRY(reserve(m, &bytes));
    lavr_msg_request *r = new_receive(peer, tag, bytes);
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
    if (!r || r->done || r->request == MPI_REQUEST_NULL) return LAVR_OK;
    int flag = 0;
    MPI_TRY(MPI_Test(&r->request, &flag, r->recv ? &r->status : MPI_STATUS_IGNORE));
    if (r->recv) r->done = flag;
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
    lavr_status st = wait_requests(c, 1, &request, &status, "MPI_Wait(receive)");
    if (st) {
        /* cancelled, or matched just now and then complete: nothing is left to write into the wire */
        if (c->interrupted && MPI_Cancel(&request) == MPI_SUCCESS) MPI_Wait(&request, MPI_STATUS_IGNORE);
        return st;
    }
    TRY(received(c, m, &status, peer, tag, bytes));
    lavr_trace_slice(LAVR_TRACE_WAIT, t0, peer, bytes);
    return LAVR_OK;
}

/* (a fault during the setup broadcast leaves it pending; the render's end travels point to point) */
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
    TRY(wait_requests(c, 1, &request, NULL, "MPI_Wait(broadcast)"));
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

/* Takes every message sent to this rank (discarded) until each rank's own sends are complete: a rank
 * enters the barrier once its sends are done and keeps receiving until everyone has (NBX), so no send
 * is left waiting for a receiver at MPI_Finalize. */
static lavr_status drain(lavr_comm *c) {
    MPI_Request barrier = MPI_REQUEST_NULL;
    int entered = 0, sink_cap = 0;
    uint8_t *sink = NULL;
    long sleep_ns = 20000;
    lavr_status st = LAVR_OK;
    for (int spins = 0; !st; spins++) {
        int flag = 0, n = 0;
        MPI_Message message;
        MPI_Status status;
        int rc = MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, c->comm, &flag, &message, &status);
        if (rc == MPI_SUCCESS && flag) rc = MPI_Get_count(&status, MPI_BYTE, &n);
        if (rc != MPI_SUCCESS) {
            st = lavr_mpi_fail(rc, "MPI_Improbe(drain)", __FILE__, __LINE__);
            break;
        }
        if (flag) {
            if (n > sink_cap) {
                uint8_t *grown = realloc(sink, (size_t)n);
                if (!grown) {
                    st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory for a %d-byte message to drain", n);
                    break;
                }
                sink = grown;
                sink_cap = n;
            }
            rc = MPI_Mrecv(sink, n, MPI_BYTE, &message, MPI_STATUS_IGNORE);
            if (rc != MPI_SUCCESS) st = lavr_mpi_fail(rc, "MPI_Mrecv(drain)", __FILE__, __LINE__);
            spins = 0;
            sleep_ns = 20000;
            continue;
        }
        if (!entered) {
            int done = 1;
            for (int i = c->ninflight - 1; i >= 0; i--) {
                lavr_msg_request *r = c->inflight[i];
                int complete = 0;
                rc = MPI_Test(&r->request, &complete, MPI_STATUS_IGNORE);
                if (rc != MPI_SUCCESS) complete = 1; /* a failed send is over too */
                if (!complete) done = 0;
                else if (r->orphaned) {
                    untrack(c, r);
                    free(r->orphan);
                    free(r);
                }
            }
            if (done) {
                rc = MPI_Ibarrier(c->comm, &barrier);
                if (rc != MPI_SUCCESS) st = lavr_mpi_fail(rc, "MPI_Ibarrier(drain)", __FILE__, __LINE__);
                entered = 1;
            }
        } else {
            int done = 0;
            rc = MPI_Test(&barrier, &done, MPI_STATUS_IGNORE);
            if (rc != MPI_SUCCESS) st = lavr_mpi_fail(rc, "MPI_Test(drain barrier)", __FILE__, __LINE__);
            if (done) break;
        }
        if (spins < 200) continue;
        struct timespec ts = {0, sleep_ns};
        nanosleep(&ts, NULL);
        if (sleep_ns < 1000000) sleep_ns *= 2;
    }
    free(sink);
    return st;
}

lavr_status lavr_comm_end_fault(lavr_comm *c, lavr_status st, const char *role) {
    if (!st || st == LAVR_E_STOPPED || lavr_mpi_failure_is_collective()) return st;
    const int origin = !c->interrupted;
    if (origin) {
        lavr_error_wrap(st, "rank %d (%s)", c->rank, role);
        for (int peer = 0; peer < c->size; peer++) {
            if (peer == c->rank) continue;
            MPI_Request request;
            lavr_msg_request *r = NULL;
            if (MPI_Isend(&c->rank, 1, MPI_INT, peer, TAG_FAULT, c->comm, &request) == MPI_SUCCESS &&
                track(c, request, peer, (int64_t)sizeof c->rank, &r) == LAVR_OK)
                r->orphaned = 1;
        }
    }
    lavr_error_saved saved;
    lavr_error_save(&saved);
    lavr_status drained = drain(c);
    if (drained) return drained; /* (not collective: this rank then aborts the job) */
    lavr_error_restore(st, &saved);
    c->fault_ended = 1;
    /* the lowest failing rank's message is every rank's, and rank 0 prints it */
    lavr_status agreed = lavr_mpi_agree(origin ? st : LAVR_OK);
    return agreed ? agreed : st;
}

int lavr_comm_fault_ended(const lavr_comm *c) { return c && c->fault_ended; }

void lavr_comm_abort(lavr_comm *c, int exit_code) { MPI_Abort(c ? c->comm : MPI_COMM_WORLD, exit_code); }

void lavr_comm_traffic(const lavr_comm *c, int64_t *sent, int64_t *received) {
    *sent = c->sent;
    *received = c->received;
}
