/* The DiT role of a render (ranks/dit_stage.h): per block and owned step, pp 0 embeds the block it
 * received, every pp index runs its layers and hands the activations on, the last one runs the head
 * and the Euler step and passes the latent to the next step, stage or the aux rank. The latent stays in
 * the engine (on a CUDA rank: the device) between the rank's own steps and is copied out only to be sent.
 * A block's first message carries the aux rank's flags: checkpoint the state before it, and stop. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/trace.h"
#include "io/disk.h"
#include "io/checkpoint.h"
#include "models/sampler.h"
#include "parallel/device.h"
#include "parallel/p2p.h"
#include "parallel/schedule.h"
#include "ranks/dit_engine.h"
#include "ranks/dit_stage.h"
#include "ranks/progress.h"
#include "ranks/setup.h"

#define VIDEO_FRAMES_PER_LATENT 4 /* VAE temporal stride: a block of F latents covers 4F video frames */

/* The --trace slice of layers whose GPU work may still be queued: it ends when their activations reach
 * the host (act_send), or the next pp rank's device over NCCL, not when the launches return. */
typedef struct {
    int open;
    lavr_trace_kind kind;
    int64_t start, a, b;
} open_slice;

typedef struct {
    lavr_comm *c;
    const lavr_dit_stage_options *o;
    const lavr_roles *roles;
    lavr_dit_peers peers;
    lavr_schedule sched;
    lavr_render_setup setup;
    lavr_dit_engine *e;
    lavr_p2p *p2p;
    lavr_nccl *act_nccl; /* set: the act buffers go device to device over NCCL, the header and packet by MPI */
    lavr_sampler smp;
    int64_t F, blk, vf, SA;
    float *latent;    /* [C, F, h, w] the block as it travels (bf16 values); the engine holds the one it steps */
    float *audio;     /* [4F, states, audio_dim] the block's audio as it travels (frame major) */
    float *audio_blk; /* [states, audio_dim, 4F] as the DiT takes it */
    float *ref;       /* [C, 1, h, w] the clip-1 reference */
    lavr_msg packet, actmsg, ckptmsg;
    lavr_msg sent;  /* the last block packet sent (a loop, the next stage's or the clean latent), in flight */
    lavr_msg ahead; /* pp 0: the next block's first packet, received while this block computes (see post_ahead) */
    lavr_ckpt_report ckpt_report; /* this rank's last checkpoint part, in flight to the aux in ckptmsg */
    int64_t flags;        /* LAVR_FLAG_* of the block in hand */
    int have_first;       /* the block's first-step message is already here */
    double busy_s;
    int64_t forwards;
    lavr_dit_report report; /* sent with the stats at the end */
    double start_s;
    open_slice compute;
} dit_rank;

static void close_compute(dit_rank *r) {
    if (r->compute.open) lavr_trace_slice(r->compute.kind, r->compute.start, r->compute.a, r->compute.b);
    r->compute.open = 0;
}

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static lavr_status alloc_floats(int64_t n, const char *what, float **out) {
    *out = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!*out) return LAVR_FAIL(LAVR_E_NOMEM, "DiT rank: cannot allocate %s (%lld floats)", what, (long long)n);
    return LAVR_OK;
}

/* LAVR_FAIL_AT's failure; the log line marks the moment for the tests that time the job's end. */
static lavr_status injected_failure(int64_t n, const char *where) {
    LOG_INFO("LAVR_FAIL_AT: failing now, %s %lld", where, (long long)n);
    return LAVR_FAIL(LAVR_E_INTERNAL, "injected failure %s %lld (LAVR_FAIL_AT, a testing aid)", where, (long long)n);
}

/* A sink prefill precedes block n: the first block of a fresh render, and clip 1's first block. */
static int prefill_before(const dit_rank *r, int64_t n) {
    return (n == 0 && r->setup.start_block == 0) || n == LAVR_BLOCKS_PER_CLIP;
}

/* The packet parts: the latent and the block's audio slice, both bf16 values. */
static lavr_status packet_parts(dit_rank *r, lavr_msg *m) {
    TRY(lavr_msg_add(m, r->latent, r->blk, LAVR_WIRE_BF16));
    TRY(lavr_msg_add(m, r->audio, r->vf * r->SA, LAVR_WIRE_BF16));
    return LAVR_OK;
}

static lavr_status expect_header(const lavr_msg *m, int tag, int from, int64_t block, int64_t step, int64_t prefill) {
    if (m->ints[LAVR_PKT_BLOCK] != block || m->ints[LAVR_PKT_STEP] != step || m->ints[LAVR_PKT_PREFILL] != prefill)
        return LAVR_FAIL(LAVR_E_INTERNAL,
                         "pipeline out of order: message tag %d from rank %d is block %lld step %lld prefill %lld, "
                         "expected block %lld step %lld prefill %lld",
                         tag, from, (long long)m->ints[LAVR_PKT_BLOCK], (long long)m->ints[LAVR_PKT_STEP],
                         (long long)m->ints[LAVR_PKT_PREFILL], (long long)block, (long long)step, (long long)prefill);
    return LAVR_OK;
}

/* The act message: header from the act's fields, the act buffer (fp32) and, for blocks, the packet. Over NCCL the
 * act buffers follow the message device to device (the same values; none for a stop, whose contents are unused). */
static lavr_status act_send(dit_rank *r, int64_t step) {
    lavr_msg *m = &r->actmsg;
    lavr_dit_act *a = lavr_dit_engine_act(r->e);
    if (!r->act_nccl) TRY(lavr_dit_engine_act_to_host(r->e));
    if (!r->act_nccl) close_compute(r);
    memset(m->ints, 0, sizeof m->ints);
    m->ints[LAVR_PKT_BLOCK] = a->prefill ? -1 : a->block_index;
    m->ints[LAVR_PKT_STEP] = step;
    m->ints[LAVR_PKT_PREFILL] = a->prefill;
    m->ints[LAVR_PKT_OFFSET] = a->sink_offset;
    m->ints[LAVR_PKT_ROWS] = a->rows;
    m->ints[LAVR_PKT_FLAGS] = r->flags;
    uint32_t bits;
    memcpy(&bits, &a->timestep, sizeof bits);
    m->ints[LAVR_PKT_TIME] = bits;
    lavr_msg_clear_parts(m);
    if (!r->act_nccl) TRY(lavr_msg_add(m, a->buf, a->floats, LAVR_WIRE_F32));
    if (!a->prefill) TRY(packet_parts(r, m));
    TRY(lavr_comm_send(r->c, r->peers.act_to, LAVR_TAG_ACT, m));
    if (r->act_nccl && !(r->flags & LAVR_FLAG_STOP))
        TRY(lavr_dit_engine_act_send_device(r->e, r->act_nccl, r->peers.pp_index + 1));
    close_compute(r); /* over NCCL the layers' slice ends once the act has left the device */
    return LAVR_OK;
}

static lavr_status act_recv(dit_rank *r, int64_t block, int64_t step, int prefill) {
    lavr_msg *m = &r->actmsg;
    lavr_dit_act *a = lavr_dit_engine_act(r->e);
    lavr_msg_clear_parts(m);
    if (!r->act_nccl) TRY(lavr_msg_add(m, a->buf, a->floats, LAVR_WIRE_F32));
    if (!prefill) TRY(packet_parts(r, m));
    TRY(lavr_comm_recv(r->c, r->peers.act_from, LAVR_TAG_ACT, m));
    TRY(expect_header(m, LAVR_TAG_ACT, r->peers.act_from, prefill ? -1 : block, step, prefill));
    a->prefill = m->ints[LAVR_PKT_PREFILL];
    a->block_index = prefill ? 0 : block;
    a->sink_offset = m->ints[LAVR_PKT_OFFSET];
    a->rows = m->ints[LAVR_PKT_ROWS];
    uint32_t bits = (uint32_t)m->ints[LAVR_PKT_TIME];
    memcpy(&a->timestep, &bits, sizeof bits);
    if (m->ints[LAVR_PKT_FLAGS] & LAVR_FLAG_STOP) return LAVR_OK; /* contents unused */
    if (r->act_nccl) return lavr_dit_engine_act_recv_device(r->e, r->act_nccl, r->peers.pp_index - 1);
    return lavr_dit_engine_act_from_host(r->e);
}

static lavr_status packet_recv(dit_rank *r, int from, int tag, int64_t block, int64_t step) {
    lavr_msg *m = &r->packet;
    lavr_msg_clear_parts(m);
    TRY(packet_parts(r, m));
    TRY(lavr_comm_recv(r->c, from, tag, m));
    return expect_header(m, tag, from, block, step, 0);
}

/* Sent without waiting (the previous send is waited for first): the receiver takes it while this rank computes,
 * its progress calls moving it, rather than this rank waiting on the receiver's polling. */
static lavr_status packet_send(dit_rank *r, int to, int tag, int64_t block, int64_t step) {
    lavr_msg *m = &r->sent;
    TRY(lavr_comm_wait(r->c, m));
    memset(m->ints, 0, sizeof m->ints);
    m->ints[LAVR_PKT_BLOCK] = block;
    m->ints[LAVR_PKT_STEP] = step;
    m->ints[LAVR_PKT_FLAGS] = r->flags;
    lavr_msg_clear_parts(m);
    if (tag == LAVR_TAG_CLEAN)
        TRY(lavr_msg_add(m, r->latent, r->blk, LAVR_WIRE_BF16)); /* the aux has the audio */
    else
        TRY(packet_parts(r, m));
    return lavr_comm_isend(r->c, to, tag, m);
}

/* The first message of block n on this rank (pp 0: the block packet; pp > 0: the prefill act when one
 * precedes the block, else the block's act), which carries the block's flags. */
static lavr_status recv_first(dit_rank *r, int64_t n) {
    const lavr_dit_peers *p = &r->peers;
    if (p->embeds) {
        if (r->ahead.request) {
            TRY(lavr_comm_wait(r->c, &r->ahead)); /* unpacks into the latent and audio, free again by now */
            TRY(expect_header(&r->ahead, LAVR_TAG_PACKET, p->packet_from, n, p->step_begin, 0));
            r->flags = r->ahead.ints[LAVR_PKT_FLAGS];
        } else {
            TRY(packet_recv(r, p->packet_from, LAVR_TAG_PACKET, n, p->step_begin));
            r->flags = r->packet.ints[LAVR_PKT_FLAGS];
        }
        r->have_first = 1;
        return LAVR_OK;
    }
    const int pre = prefill_before(r, n);
    TRY(act_recv(r, n, pre ? 0 : p->step_begin, pre));
    r->flags = r->actmsg.ints[LAVR_PKT_FLAGS];
    r->have_first = !pre;
    return LAVR_OK;
}

/* pp 0, holding block n's packet: posts the receive of block n + 1's, so that it travels while block n computes
 * (its sender is then inside MPI, waiting; a receive posted only when the block is needed waits for the sender's
 * next MPI call, e.g. the aux rank's decode and write of the previous block). A packet always follows one without
 * a stop (a stop, a fault's too, travels in a packet). Parts: the latent and the audio, which are unpacked into
 * only at recv_first(n + 1), after block n is out. */
static lavr_status post_ahead(dit_rank *r, int64_t n) {
    if (!r->peers.embeds || n + 1 >= r->sched.blocks || (r->flags & LAVR_FLAG_STOP)) return LAVR_OK;
    lavr_msg_clear_parts(&r->ahead);
    TRY(packet_parts(r, &r->ahead));
    return lavr_comm_irecv(r->c, r->peers.packet_from, LAVR_TAG_PACKET, &r->ahead);
}

/* Between compute calls: lets the posted packet and the last packet sent move. */
static lavr_status progress(dit_rank *r) {
    TRY(lavr_comm_progress(r->c, &r->ahead));
    return lavr_comm_progress(r->c, &r->sent);
}

/* Stop before block n: pass the stop on in the shape the next rank expects as its first message. */
static lavr_status forward_stop(dit_rank *r, int64_t n) {
    const lavr_dit_peers *p = &r->peers;
    if (p->act_to >= 0) {
        const int pre = prefill_before(r, n);
        lavr_dit_act *a = lavr_dit_engine_act(r->e);
        a->prefill = pre;
        a->block_index = n;
        return act_send(r, pre ? 0 : p->step_begin);
    }
    if (p->packet_to >= 0) return packet_send(r, p->packet_to, p->packet_to_tag, n, p->step_end);
    return LAVR_OK;
}

/* This rank's part of the checkpoint "state after n blocks" (deleted again when a write fails). */
static lavr_status write_part_file(dit_rank *r, int64_t n, lavr_ckpt_file *entry) {
    lavr_ckpt_writer *w = NULL;
    lavr_status st = lavr_ckpt_begin(r->o->stage_dir, n, r->roles->world_rank, &w);
    if (st) return lavr_disk_add_free_space(st, r->o->stage_dir);
    for (int i = 0; i < r->peers.step_end - r->peers.step_begin && !st; i++)
        st = lavr_dit_engine_save(r->e, i, r->peers.step_begin + i, i == 0 && r->peers.stage == 0, w);
    if (!st) st = lavr_ckpt_put_string(w, "role", r->roles->role_name);
    if (!st) st = lavr_ckpt_put_string(w, "backend", lavr_backend_name(r->o->backend));
    if (st) {
        lavr_disk_add_free_space(st, r->o->stage_dir);
        lavr_ckpt_abandon(w);
        return st;
    }
    return lavr_ckpt_finish(w, entry); /* which says the free space when it fails */
}

/* The part, then its report to the aux: the file entry, or why it failed (the aux decides; a full disk
 * ends the render there with the last committed checkpoint intact). */
static lavr_status write_part(dit_rank *r, int64_t n) {
    const double t0 = seconds_now();
    const int64_t trace_t0 = lavr_trace_now();
    TRY(lavr_comm_wait(r->c, &r->ckptmsg)); /* the previous report went out */
    lavr_ckpt_report *rep = &r->ckpt_report;
    memset(rep, 0, sizeof *rep);
    lavr_status st = write_part_file(r, n, &rep->entry);
    if (st) {
        rep->status = (int32_t)st;
        snprintf(rep->message, sizeof rep->message, "%s", lavr_error_message());
        lavr_error_clear();
    } else {
        LOG_DEBUG("checkpoint part %s for block %lld written in %.2f s", rep->entry.name, (long long)n,
                  seconds_now() - t0);
    }
    lavr_trace_slice(LAVR_TRACE_CHECKPOINT, trace_t0, n, 0);
    lavr_msg *m = &r->ckptmsg;
    memset(m->ints, 0, sizeof m->ints);
    m->ints[0] = n;
    lavr_msg_clear_parts(m);
    TRY(lavr_msg_add(m, rep, (int64_t)sizeof *rep, LAVR_WIRE_BYTES));
    return lavr_comm_isend(r->c, r->sched.aux_rank, LAVR_TAG_CKPT, m);
}

/* Restores every owned step cache from the checkpoint the aux rank resumes from. */
static lavr_status restore(dit_rank *r) {
    const int64_t start = r->setup.start_block;
    lavr_ckpt *ck = NULL;
    TRY(lavr_ckpt_open(r->o->stage_dir, start, NULL, LAVR_CKPT_VERIFY_SIZES, &ck));
    lavr_status st = LAVR_OK;
    for (int i = 0; i < r->peers.step_end - r->peers.step_begin && !st; i++)
        st = lavr_dit_engine_load(r->e, i, r->peers.step_begin + i, ck);
    lavr_ckpt_close(ck);
    if (st) lavr_error_wrap(st, "while restoring the step caches from %s/ckpt-%06lld", r->o->stage_dir, (long long)start);
    return st;
}

/* Sink prefill through the pp chain into the first owned step cache, then copied to the others. On a
 * pp > 0 rank the prefill act has already arrived (recv_first). */
static lavr_status prefill(dit_rank *r, const float *ref) {
    const lavr_dit_peers *p = &r->peers;
    const int ncache = p->step_end - p->step_begin;
    const int64_t trace_t0 = lavr_trace_now();
    if (p->embeds) {
        double t0 = seconds_now();
        TRY(lavr_dit_engine_embed_sink(r->e, 0, ref, r->setup.motion));
        r->busy_s += seconds_now() - t0;
    }
    double t0 = seconds_now();
    TRY(lavr_dit_engine_forward(r->e, 0));
    r->busy_s += seconds_now() - t0;
    r->compute = (open_slice){.open = 1, .kind = LAVR_TRACE_PREFILL, .start = trace_t0,
                                          .a = r->setup.start_block};
    if (p->act_to >= 0) TRY(act_send(r, 0));
    close_compute(r);
    for (int i = 1; i < ncache; i++) TRY(lavr_dit_engine_copy_sink(r->e, i, 0));
    return LAVR_OK;
}

/* One denoising step of block n on this rank. */
static lavr_status run_step(dit_rank *r, int64_t n, int step) {
    const lavr_dit_peers *p = &r->peers;
    const int64_t clip = n / LAVR_BLOCKS_PER_CLIP, block = n % LAVR_BLOCKS_PER_CLIP;
    const int cache = step - p->step_begin;
    const int first = r->have_first && step == p->step_begin;
    int64_t trace_t0 = 0; /* the forward slice: embed (stage's pp 0), layers, head and Euler step */
    r->have_first = 0;
    if (p->embeds) {
        if (step != p->step_begin && p->loop_from >= 0)
            TRY(packet_recv(r, p->loop_from, LAVR_TAG_LOOP, n, step));
        /* (step_begin: received by recv_first; pp = 1: the latent of the previous step is already here) */
        trace_t0 = lavr_trace_now();
        double t0 = seconds_now();
        /* a latent that arrived (the block's packet, or a loop from the last pp index) goes into the engine; else
         * this rank's previous step left it there */
        if (step == p->step_begin || p->loop_from >= 0) TRY(lavr_dit_engine_latent_put(r->e, r->latent));
        for (int64_t t = 0; t < r->vf; t++)
            for (int64_t i = 0; i < r->SA; i++) r->audio_blk[i * r->vf + t] = r->audio[t * r->SA + i];
        lavr_dit_block_input in = {.x = NULL,
                                   .pose = NULL,
                                   .timestep = r->smp.timesteps[step],
                                   .block_index = n,
                                   .sink_offset = lavr_stream_sink_offset(&r->o->stream, clip, block, step),
                                   .audio = r->audio_blk,
                                   .audio_frames = r->vf,
                                   .audio_first = 0};
        TRY(lavr_dit_engine_embed_block(r->e, cache, &in));
        r->busy_s += seconds_now() - t0;
        TRY(progress(r));
    } else if (!first) {
        TRY(act_recv(r, n, step, 0));
    }
    if (!p->embeds) trace_t0 = lavr_trace_now();
    if (n == r->o->fail_block && r->o->fail_in_forward && step == p->step_begin)
        return injected_failure(n, "in the forward of block");
    double t0 = seconds_now();
    TRY(lavr_dit_engine_forward(r->e, cache));
    r->busy_s += seconds_now() - t0;
    r->forwards++;
    TRY(progress(r));
    if (!p->heads) {
        r->compute = (open_slice){.open = 1, .kind = LAVR_TRACE_FORWARD, .start = trace_t0, .a = n, .b = step};
        return act_send(r, step);
    }

    t0 = seconds_now();
    if (!p->embeds) TRY(lavr_dit_engine_latent_put(r->e, r->latent)); /* it came with the act */
    TRY(lavr_dit_engine_head_step(r->e, cache, &r->smp, step));
    /* the latent leaves the rank: to pp 0 for the next step, or to the next stage or the aux rank */
    const int last = step + 1 == p->step_end, to = last ? p->packet_to : p->loop_to;
    if (to >= 0) TRY(lavr_dit_engine_latent_get(r->e, r->latent));
    r->busy_s += seconds_now() - t0;
    TRY(progress(r));
    lavr_trace_slice(LAVR_TRACE_FORWARD, trace_t0, n, step);
    if (to < 0) return LAVR_OK;
    return packet_send(r, to, last ? p->packet_to_tag : LAVR_TAG_LOOP, n, step + 1);
}

static lavr_status recv_ref(dit_rank *r) {
    lavr_msg m;
    lavr_msg_init(&m);
    lavr_status st = lavr_msg_add(&m, r->ref, r->setup.C * r->setup.h * r->setup.w, LAVR_WIRE_BF16);
    if (!st) st = lavr_comm_recv(r->c, r->sched.aux_rank, LAVR_TAG_REF, &m);
    lavr_msg_free(&m);
    return st;
}

/* Blocks [start, blocks); *stopped_at = the block it stopped before, or -1. */
static lavr_status render_blocks(dit_rank *r, int64_t *stopped_at) {
    const lavr_dit_peers *p = &r->peers;
    *stopped_at = -1;
    if (r->setup.start_block > 0) TRY(restore(r));
    for (int64_t n = r->setup.start_block; n < r->sched.blocks; n++) {
        if (n == r->o->fail_block && !r->o->fail_in_forward) return injected_failure(n, "at block");
        TRY(recv_first(r, n));
        TRY(post_ahead(r, n));
        if (r->flags & LAVR_FLAG_CKPT) TRY(write_part(r, n));
        if (r->flags & LAVR_FLAG_STOP) {
            /* a stop inside clip 0: the aux rank already sent the clip-1 reference (with clean block 0, or at a
             * resume inside clip 0); take it, or the aux rank waits on that send forever (a reference over
             * MPI's eager limit, e.g. 64x128 and up, is only sent once it is received) */
            if (n <= LAVR_BLOCKS_PER_CLIP && r->sched.clips > 1 && p->embeds) TRY(recv_ref(r));
            TRY(forward_stop(r, n));
            *stopped_at = n;
            return LAVR_OK;
        }
        if (prefill_before(r, n)) {
            /* clip 1: the sink's reference becomes the clean frame 0 of block 0 (liveavatar-system §1.6) */
            if (n == LAVR_BLOCKS_PER_CLIP && p->embeds) TRY(recv_ref(r));
            TRY(prefill(r, n == 0 ? r->setup.ref : r->ref));
        }
        for (int step = p->step_begin; step < p->step_end; step++) TRY(run_step(r, n, step));
        const double done = seconds_now() - r->start_s;
        if (r->report.blocks++ == 0) r->report.first_block_s = done;
        r->report.last_block_s = done;
    }
    /* every rank still holds its memory: the device's use now is the run's, all processes on it included */
    uint64_t total = 0;
    if (r->o->backend == LAVR_BACKEND_CUDA) lavr_device_memory(r->roles->device, &r->report.device_used, &total);
    return LAVR_OK;
}

static lavr_status prepare(dit_rank *r) {
    const lavr_dit_config *cfg = lavr_dit_engine_config(r->e);
    const lavr_render_setup *s = &r->setup;
    const int64_t motion_latents = (cfg->motion_frames + 3) / 4;
    if (s->C != cfg->in_dim || s->text_dim != cfg->text_dim || s->motion_latents != motion_latents)
        return LAVR_FAIL(LAVR_E_FORMAT,
                         "conditioning has %lld latent channels, text width %lld and %lld motion latents; the DiT takes "
                         "%lld, %lld and %lld",
                         (long long)s->C, (long long)s->text_dim, (long long)s->motion_latents, (long long)cfg->in_dim,
                         (long long)cfg->text_dim, (long long)motion_latents);
    r->F = cfg->frames_per_block;
    r->vf = VIDEO_FRAMES_PER_LATENT * r->F;
    r->SA = cfg->audio_num_states * cfg->audio_dim;
    r->blk = s->C * r->F * s->h * s->w;
    TRY(lavr_dit_engine_prepare(r->e, s->context, s->context_rows, s->h, s->w, r->peers.step_end - r->peers.step_begin));
    TRY(lavr_sampler_init(LAVR_SAMPLER_STEPS, &r->smp));
    TRY(alloc_floats(r->blk, "latent", &r->latent));
    TRY(alloc_floats(r->vf * r->SA, "block audio", &r->audio));
    TRY(alloc_floats(r->vf * r->SA, "block audio (DiT order)", &r->audio_blk));
    TRY(alloc_floats(s->C * s->h * s->w, "reference", &r->ref));
    return LAVR_OK;
}

static lavr_status send_stats(dit_rank *r) {
    lavr_msg m;
    lavr_msg_init(&m);
    int64_t sent = 0, received = 0;
    lavr_comm_traffic(r->c, &sent, &received);
    m.ints[LAVR_STAT_RANK] = r->roles->world_rank;
    m.ints[LAVR_STAT_PEAK_KB] = lavr_progress_peak_rss_kb();
    m.ints[LAVR_STAT_BUSY_US] = (int64_t)(r->busy_s * 1e6);
    m.ints[LAVR_STAT_FORWARDS] = r->forwards;
    m.ints[LAVR_STAT_SENT] = sent;
    m.ints[LAVR_STAT_RECEIVED] = received;
    m.ints[LAVR_STAT_DEVICE_PEAK_KB] = (int64_t)(lavr_dit_engine_peak_bytes(r->e) / 1024);
    lavr_dit_report *rep = &r->report;
    rep->rank = r->roles->world_rank;
    rep->device = r->o->backend == LAVR_BACKEND_CUDA ? r->roles->device : -1;
    rep->busy_s = r->busy_s;
    rep->reserved = lavr_dit_engine_reserved_bytes(r->e);
    rep->peak = lavr_dit_engine_peak_bytes(r->e);
    lavr_status st = lavr_msg_add(&m, rep, (int64_t)sizeof *rep, LAVR_WIRE_BYTES);
    if (!st) st = lavr_comm_send(r->c, r->sched.aux_rank, LAVR_TAG_STATS, &m);
    lavr_msg_free(&m);
    return st;
}

static void release(dit_rank *r) {
    lavr_p2p_close(r->p2p);
    lavr_dit_engine_close(r->e);
    lavr_msg_free(&r->packet);
    lavr_msg_free(&r->actmsg);
    lavr_msg_free(&r->ckptmsg);
    lavr_msg_free(&r->ahead);
    lavr_msg_free(&r->sent);
    lavr_setup_free(&r->setup);
    free(r->latent);
    free(r->audio);
    free(r->audio_blk);
    free(r->ref);
}

lavr_status lavr_dit_stage_run(lavr_comm *c, const lavr_roles *roles, const lavr_dit_stage_options *o) {
    dit_rank r;
    memset(&r, 0, sizeof r);
    r.c = c;
    r.o = o;
    r.roles = roles;
    r.start_s = seconds_now();
    lavr_msg_init(&r.packet);
    lavr_msg_init(&r.actmsg);
    lavr_msg_init(&r.ckptmsg);
    lavr_msg_init(&r.ahead);
    lavr_msg_init(&r.sent);
    const int aux_rank = lavr_layout_dit_ranks(&roles->layout);
    lavr_dit_engine_options eo = {.backend = o->backend, .model_path = o->model_path, .generated = o->generated,
                                  .roles = roles, .comm = c,
                                  .gpu_mem_bytes = o->gpu_mem_bytes, .fp8 = o->fp8, .attention = o->attention};
    int64_t stopped_at = -1;
    /* the weights load while the aux rank encodes the inputs */
    const int64_t load_t0 = lavr_trace_now();
    lavr_status st = lavr_dit_engine_open(&eo, &r.e);
    lavr_trace_slice(LAVR_TRACE_LOAD, load_t0, 0, 0);
    st = lavr_mpi_agree(st); /* a rank that cannot load, or an input the aux rank refuses: every rank ends */
    if (!st) st = lavr_setup_bcast(c, aux_rank, &r.setup);
    if (!st) st = lavr_schedule_init(&roles->layout, r.setup.clips, &r.sched);
    if (!st) st = lavr_schedule_dit_peers(&r.sched, &roles->role, &r.peers);
    if (!st) st = lavr_p2p_open(roles, o->backend == LAVR_BACKEND_CUDA, c, &r.p2p);
    if (!st && lavr_p2p_transport_of(r.p2p) == LAVR_P2P_NCCL) r.act_nccl = lavr_p2p_nccl(r.p2p);
    if (!st) st = prepare(&r);
    if (!st) st = render_blocks(&r, &stopped_at);
    if (!st) st = lavr_comm_wait(c, &r.ckptmsg);
    if (!st) st = lavr_comm_wait(c, &r.sent);
    if (!st) st = send_stats(&r);
    if (!st) st = lavr_setup_end(c, aux_rank, &stopped_at);
    if (!st) st = lavr_mpi_agree(LAVR_OK); /* the aux rank's verdict (a full disk) becomes every rank's */
    /* this rank's own failure, or a peer's: every rank ends with one line (before any message is freed) */
    st = lavr_comm_end_fault(c, st, roles->role_name);
    release(&r);
    if (!st && stopped_at >= 0)
        st = lavr_error_set(LAVR_E_STOPPED, __FILE__, __LINE__,
                            "after %lld blocks, with a checkpoint in %s; run the same command again to continue",
                            (long long)stopped_at, o->stage_dir);
    return st;
}
