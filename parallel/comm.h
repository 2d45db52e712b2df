/* The message interface of the render pipeline: typed messages (a few header ints plus float
 * buffers sent as fp32 or bf16, or raw bytes) between world ranks, point to point or broadcast.
 * Backend-neutral: comm_mpi.c implements it with MPI; a GPU backend puts NCCL under the same calls. */
#ifndef LAVR_PARALLEL_COMM_H
#define LAVR_PARALLEL_COMM_H

#include <stdint.h>

#include "core/status.h"

#define LAVR_MSG_INTS 8      /* header ints every message carries */
#define LAVR_MSG_MAX_PARTS 4 /* buffers per message */

/* How a part travels. BF16 halves the bytes of buffers whose values are already bf16 (latents,
 * audio features, text context); packing checks that, so it can never change a value. */
typedef enum {
    LAVR_WIRE_F32,   /* float[count] as IEEE fp32 */
    LAVR_WIRE_BF16,  /* float[count] whose values are bf16, as their upper 16 bits */
    LAVR_WIRE_BYTES, /* uint8_t[count] as is */
} lavr_wire;

typedef struct {
    void *data; /* float* (F32, BF16) or uint8_t* (BYTES); the caller's memory */
    int64_t count;
    lavr_wire wire;
} lavr_msg_part;

typedef struct lavr_msg_request lavr_msg_request;

/* A message: header ints and parts pointing at the caller's buffers. Sending packs them into the
 * message's own wire buffer; receiving fills them from it. The receiver sets up the same parts
 * (sizes it expects); a message of another size is an error. */
typedef struct {
    int64_t ints[LAVR_MSG_INTS];
    lavr_msg_part parts[LAVR_MSG_MAX_PARTS];
    int nparts;
    uint8_t *wire;           /* packed form, owned, grown as needed */
    int64_t wire_cap;
    lavr_msg_request *request; /* a send or receive in flight (lavr_comm_isend, lavr_comm_irecv), else NULL */
} lavr_msg;

/* Zeroes the message (no parts, no buffer). */
void lavr_msg_init(lavr_msg *m);
/* Drops the parts (keeps the wire buffer for reuse); the header ints stay. */
void lavr_msg_clear_parts(lavr_msg *m);
lavr_status lavr_msg_add(lavr_msg *m, void *data, int64_t count, lavr_wire wire);
/* Frees the wire buffer; a send still in flight (a fault interrupted its wait) keeps it until the
 * communicator has drained it (lavr_comm_end_fault). */
void lavr_msg_free(lavr_msg *m);
/* Bytes of the packed form (header + parts). */
int64_t lavr_msg_wire_bytes(const lavr_msg *m);

typedef struct lavr_comm lavr_comm;

/* The communicator of all world ranks (peers are world ranks). */
lavr_status lavr_comm_world(lavr_comm **out);
void lavr_comm_destroy(lavr_comm *c);
int lavr_comm_rank(const lavr_comm *c);
int lavr_comm_size(const lavr_comm *c);

/* Blocking send: returns once the message's buffers may be reused. */
lavr_status lavr_comm_send(lavr_comm *c, int peer, int tag, lavr_msg *m);
/* Non-blocking send: packs now (the caller's part buffers are free on return) and keeps the wire
 * buffer busy until lavr_comm_wait. At most one send in flight per message. */
lavr_status lavr_comm_isend(lavr_comm *c, int peer, int tag, lavr_msg *m);
/* Waits for the message's send or receive in flight (nothing to do when none). A receive is unpacked into the
 * parts the message has at the wait (the same sizes as when it was posted) and its header ints are replaced. */
lavr_status lavr_comm_wait(lavr_comm *c, lavr_msg *m);
/* Non-blocking receive: posts it into the message's wire buffer (sized by its parts now); nothing reaches the parts
 * before lavr_comm_wait. Posting early lets a large message travel while the receiver computes, as long as it calls
 * lavr_comm_progress now and then (MPI moves a message only inside MPI calls on both sides). */
lavr_status lavr_comm_irecv(lavr_comm *c, int peer, int tag, lavr_msg *m);
/* Lets MPI move the message in flight (send or receive) without waiting; nothing to do when none. */
lavr_status lavr_comm_progress(lavr_comm *c, lavr_msg *m);
/* Blocking receive of a message from peer with tag into m's parts; its header ints are replaced. */
lavr_status lavr_comm_recv(lavr_comm *c, int peer, int tag, lavr_msg *m);
/* Every rank calls it with the same part sizes; root's ints and parts end up on every rank. */
lavr_status lavr_comm_bcast(lavr_comm *c, int root, lavr_msg *m);
/* Ends every rank of the job now (for a failure no other rank can see). */
void lavr_comm_abort(lavr_comm *c, int exit_code);

/* Faults during the render. Every wait above (and lavr_comm_check_fault, for waits elsewhere: a tp
 * all-reduce, a GPU stream) also watches for a peer's fault notice: once one arrived it fails at once
 * with "rank R failed", marking this rank's failure as caused by the peer's. */
lavr_status lavr_comm_check_fault(lavr_comm *c);
/* Called by every rank of the job with its outcome once a render role is done (st LAVR_OK, stopped or a
 * failure every rank already shares: returned as is). A rank whose failure is its own (an origin) prefixes
 * its message with "rank R (role)" and sends every rank the fault notice; every rank then takes the
 * messages sent to it until all sends of every rank are complete (so none is left pending at
 * MPI_Finalize), and all agree on the lowest origin's message (lavr_mpi_agree: collective, rank 0 prints
 * it). Call it before freeing any message whose send may be in flight. */
lavr_status lavr_comm_end_fault(lavr_comm *c, lavr_status st, const char *role);
/* 1 once lavr_comm_end_fault ended a fault (the aux rank writes the --summary-json of it). */
int lavr_comm_fault_ended(const lavr_comm *c);

/* Bytes this rank has sent and received through c (for the render's summary). */
void lavr_comm_traffic(const lavr_comm *c, int64_t *sent, int64_t *received);

#endif
