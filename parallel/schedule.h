/* Who sends what to whom in a render (liveavatar-system §2.2, generalised to steps x tp x pp): the
 * message tags, each DiT rank's peers, the aux rank's feed and collect ranks and the packet layout.
 * Both roles derive everything from the layout, so no rank asks another where to send. */
#ifndef LAVR_PARALLEL_SCHEDULE_H
#define LAVR_PARALLEL_SCHEDULE_H

#include <stdint.h>

#include "core/status.h"
#include "parallel/layout.h"

/* Message tags (MPI keeps the order of messages with the same source and tag). */
enum {
    LAVR_TAG_SETUP = 1,  /* aux -> all (broadcast): the job header, then the conditioning */
    LAVR_TAG_PACKET = 2, /* block packet into a stage: from aux (stage 0) or the previous stage */
    LAVR_TAG_LOOP = 3,   /* block packet from a stage's last pp index back to its pp 0 (next step) */
    LAVR_TAG_ACT = 4,    /* activations + packet from pp index p to p + 1 */
    LAVR_TAG_CLEAN = 5,  /* clean latent of a block: last stage (tp 0) -> aux */
    LAVR_TAG_REF = 6,    /* clip 1 sink reference: aux -> every pp-0 rank */
    LAVR_TAG_STATS = 7,  /* end of render: each DiT rank's statistics -> aux */
    LAVR_TAG_CKPT = 8,   /* DiT rank -> aux: its checkpoint file entry (bytes), ints[0] = blocks done */
    LAVR_TAG_END = 9,    /* aux -> every rank: how the render ended (ints[0] = blocks of a stop, or -1) */
};

/* Header ints of a block packet / act message (lavr_msg ints). */
enum {
    LAVR_PKT_BLOCK = 0,  /* absolute block n = 4 * clip + block */
    LAVR_PKT_STEP = 1,   /* the denoising step the latent is about to take (4 = clean) */
    LAVR_PKT_PREFILL = 2,/* act messages: 1 for a sink prefill */
    LAVR_PKT_OFFSET = 3, /* act messages: sink offset d */
    LAVR_PKT_ROWS = 4,   /* act messages: token rows */
    LAVR_PKT_TIME = 5,   /* act messages: timestep as float bits */
    LAVR_PKT_FLAGS = 6,  /* LAVR_FLAG_* of the block, set by the aux and passed on by every rank */
};

/* Block flags (LAVR_PKT_FLAGS). They ride on block n's first message to every rank, which by then
 * has finished block n - 1, so "before block n" is a consistent cut of the whole pipeline. */
enum {
    LAVR_FLAG_CKPT = 1, /* write this rank's checkpoint part (state after n blocks) before block n */
    LAVR_FLAG_STOP = 2, /* then stop: pass the message on (contents unused) and do not run block n */
};

typedef struct {
    lavr_layout layout;
    int world_size;
    int aux_rank;          /* the working aux rank (aux index 0); further aux ranks idle */
    int64_t clips, blocks; /* blocks = 4 * clips */
    int inflight;          /* packets the aux keeps in flight: steps * pp + 2 */
} lavr_schedule;

lavr_status lavr_schedule_init(const lavr_layout *layout, int64_t clips, lavr_schedule *out);

/* A DiT rank's part of the schedule. Ranks are world ranks; -1 = none. */
typedef struct {
    int stage, pp_index, tp_index;
    int step_begin, step_end;
    int embeds, heads;   /* pp index 0 embeds; the last pp index runs the head and the Euler step */
    int packet_from;     /* embeds: who sends the block's first-step packet (aux or previous stage) */
    int loop_from;       /* embeds, pp > 1, several steps: the stage's last pp index */
    int act_from, act_to;/* the pp chain inside the stage (same tp index) */
    int loop_to;         /* heads, pp > 1: the stage's pp 0 (same tp index) */
    int packet_to;       /* heads: next stage's pp 0 (same tp index), or the aux (last stage, tp 0 only) */
    int packet_to_tag;   /* LAVR_TAG_PACKET or LAVR_TAG_CLEAN */
    int needs_ref;       /* embeds: receives the clip-1 reference (when clips > 1) */
} lavr_dit_peers;

lavr_status lavr_schedule_dit_peers(const lavr_schedule *s, const lavr_role *role, lavr_dit_peers *out);

/* The aux side: stage 0's pp-0 ranks it feeds (one per tp index), the rank its clean latents come
 * from, and the ranks that take the clip-1 reference (every pp-0 rank). Return counts. */
int lavr_schedule_feed_ranks(const lavr_schedule *s, int *ranks, int max);
int lavr_schedule_clean_rank(const lavr_schedule *s);
int lavr_schedule_ref_ranks(const lavr_schedule *s, int *ranks, int max);

#endif
