/* Checkpoint and resume on the aux rank (ranks/aux_internal.h): the render's identity, the --resume
 * decision, the flags of each block packet, the aux part (decoder caches, writer position and the
 * frames of the open segment), the DiT ranks' entries and the manifest; and the way back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/log.h"
#include "core/sha256.h"
#include "core/signals.h"
#include "io/disk.h"
#include "io/h5model.h"
#include "io/model_digest.h"
#include "kernels/ctx.h"
#include "ranks/aux_internal.h"
#include "ranks/dit_stage.h"

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* SHA-256 of a model group's `config` attribute ("-" when the group is absent). */
static lavr_status config_sha(lavr_h5file *model, const char *group, char hex[65]) {
    if (!lavr_h5_exists(model, group)) {
        snprintf(hex, 65, "-");
        return LAVR_OK;
    }
    char *text = NULL;
    TRY(lavr_h5_read_attr_string(model, group, "config", &text));
    lavr_status st = lavr_sha256_hex(text, strlen(text), hex);
    free(text);
    return st;
}

/* Where this rank's VAE decodes: "cuda" or "cpu" (recorded in its checkpoint part; the part itself is
 * backend-independent: the decoder caches as float32 host tensors, the writer's position and RGB frames). */
static const char *aux_backend_name(const aux_rank *a) {
    return a->o->vae_ctx && lavr_ctx_device(a->o->vae_ctx) == LAVR_DEVICE_CUDA ? "cuda" : "cpu";
}

/* One line when the checkpoint's aux decoded on another backend than this run's (nothing for a part
 * written before lavr recorded it). */
static lavr_status note_backend_change(aux_rank *a) {
    char *was = NULL;
    TRY(lavr_ckpt_get_optional_string(a->resume_from, lavr_ckpt_ranks(a->resume_from) - 1, "aux_backend", &was));
    const char *now = aux_backend_name(a);
    if (was && strcmp(was, now) != 0)
        LOG_INFO("resuming across aux backends: the video up to block %lld was decoded on %s, the rest is decoded on "
                 "%s from the checkpoint's decoder caches (latents unchanged; frames from there on differ from an "
                 "uninterrupted %s-aux render in low bits, docs/resume.md)",
                 (long long)a->start_block, was, now, was);
    free(was);
    return LAVR_OK;
}

lavr_status aux_fault(aux_rank *a, lavr_status st) {
    if (st && !a->fault) {
        a->fault = st;
        snprintf(a->fault_message, sizeof a->fault_message, "%s", lavr_error_message());
    }
    if (st) lavr_error_clear();
    return LAVR_OK;
}

lavr_status aux_identity(aux_rank *a, lavr_h5file *model) {
    const lavr_aux_options *o = a->o;
    char image[65], audio[65], prompt[65], dit[65], vae[65];
    if (o->cond) {
        memcpy(image, o->cond->image_sha, 65);
        memcpy(audio, o->cond->audio_sha, 65);
        memcpy(prompt, o->cond->prompt_sha, 65);
    } else {
        TRY(lavr_sha256_file_hex(o->image_path, image));
        TRY(lavr_sha256_file_hex(o->audio_path, audio));
        TRY(lavr_sha256_hex(o->prompt, strlen(o->prompt), prompt));
    }
    TRY(config_sha(model, "/dit", dit));
    TRY(config_sha(model, "/vae", vae));
    char content[65];
    TRY(lavr_model_digest_read(model, content));
    struct stat st = {0};
    const char *name = lavr_h5_path(model), *base = strrchr(name, '/');
    if (!content[0] && o->stage_dir && !o->generated)
        LOG_WARN("model '%s' has no content fingerprint (written by an older lavr): a resume cannot tell it from "
                 "another model of its preset written to the same path; write it again with lavr convert or lavr init",
                 name);
    if (!o->generated && stat(name, &st) != 0) return LAVR_FAIL(LAVR_E_IO, "cannot stat the model '%s'", name);
    /* FP8 Linears change the DiT's numbers: a render resumed with another --fp8 is another render */
    snprintf(a->model_id, sizeof a->model_id, "%.200s bytes=%lld dit=%s vae=%s content=%s fp8=%d", base ? base + 1 : name,
             (long long)st.st_size, dit, vae, content[0] ? content : "-", o->fp8 ? 1 : 0);
    snprintf(a->inputs_id, sizeof a->inputs_id,
             "image=%s audio=%s prompt=%s size=%.40s seed=%llu sink_offset=%lld num_clip=%lld keep_tail=%d", image,
             audio, prompt, o->size ? o->size : "-", (unsigned long long)o->stream.seed,
             (long long)o->stream.fixed_sink_offset, (long long)o->max_clips, o->keep_tail);
    return LAVR_OK;
}

lavr_status aux_find_resume(aux_rank *a) {
    const lavr_aux_options *o = a->o;
    a->start_block = 0;
    a->stop_block = -1;
    a->committed = -1;
    a->last_ckpt_s = seconds_now();
    if (!o->stage_dir) return LAVR_OK;
    if (mkdir(o->stage_dir, 0777) != 0 && errno != EEXIST)
        return LAVR_FAIL(LAVR_E_IO, "cannot create the stage directory '%s': %s", o->stage_dir, strerror(errno));
    if (o->resume == LAVR_RESUME_NO) return lavr_ckpt_remove_all(o->stage_dir);
    lavr_ckpt_identity id = {a->model_id, a->inputs_id};
    lavr_ckpt_search s;
    TRY(lavr_ckpt_find_latest(o->stage_dir, &id, LAVR_CKPT_VERIFY_SHA256, &s));
    if (s.found) {
        a->resume_from = s.found;
        a->start_block = a->committed = lavr_ckpt_blocks(s.found);
        a->last_ckpt_clips = a->start_block / LAVR_BLOCKS_PER_CLIP;
        LOG_INFO("resuming from %s: %lld blocks done (written with layout %s, this run %s)", lavr_ckpt_dir(s.found),
                 (long long)a->start_block, lavr_ckpt_layout(s.found), o->layout_text);
        return note_backend_change(a);
    }
    if (s.skipped_other)
        return LAVR_FAIL(LAVR_E_ARG,
                         "stage directory '%s' holds checkpoints of another render (%s); use --resume no to start "
                         "over there, or another --stage-dir",
                         o->stage_dir, s.other_reason);
    if (o->resume == LAVR_RESUME_YES)
        return LAVR_FAIL(LAVR_E_ARG, "--resume yes: no usable checkpoint in '%s'%s", o->stage_dir,
                         s.skipped_torn ? " (only incomplete ones, see the warnings above)" : "");
    return LAVR_OK;
}

typedef struct {
    char (*names)[128];
    int n, cap;
} name_list;

static lavr_status collect_name(const char *name, const lavr_tensor *t, void *user) {
    (void)t;
    name_list *l = user;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char(*grown)[128] = realloc(l->names, (size_t)cap * sizeof *l->names);
        if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory listing the decoder state");
        l->names = grown;
        l->cap = cap;
    }
    snprintf(l->names[l->n++], 128, "vae/%s", name);
    return LAVR_OK;
}

lavr_status aux_restore_outputs(aux_rank *a, const lavr_video_options *vo) {
    lavr_ckpt *ck = a->resume_from;
    const int me = lavr_ckpt_ranks(ck) - 1; /* the aux rank is the last of every layout */
    lavr_status st = LAVR_OK;
    if (a->decoder) {
        name_list l = {0};
        st = lavr_decode_stream_visit(a->decoder, collect_name, &l);
        for (int i = 0; i < l.n && !st; i++) {
            lavr_tensor t;
            memset(&t, 0, sizeof t);
            st = lavr_ckpt_read_tensor(ck, l.names[i], a->arena, &t);
            if (!st) st = lavr_decode_stream_restore(a->decoder, l.names[i] + 4, &t);
            lavr_tensor_free(&t);
        }
        free(l.names);
        TRY(st);
    }
    if (a->o->out_path) {
        lavr_video_position pos;
        int64_t pending = 0;
        TRY(lavr_ckpt_get_int(ck, me, "writer_frames", &pos.frames));
        TRY(lavr_ckpt_get_int(ck, me, "writer_segments", &pos.segments));
        TRY(lavr_ckpt_get_int(ck, me, "writer_video_packets", &pos.video_packets));
        TRY(lavr_ckpt_get_int(ck, me, "writer_pending", &pending));
        lavr_tensor frames;
        memset(&frames, 0, sizeof frames);
        if (pending > 0) TRY(lavr_ckpt_read_tensor(ck, "writer/pending", a->arena, &frames));
        if (pending > 0 && (frames.dtype != LAVR_U8 || frames.ndim != 4 || frames.shape[0] != pending))
            st = LAVR_FAIL(LAVR_E_FORMAT, "checkpoint %s: writer/pending is not %lld RGB frames", lavr_ckpt_dir(ck),
                           (long long)pending);
        if (!st) st = lavr_video_writer_resume(a->o->out_path, vo, &pos, frames.data, pending, &a->writer);
        lavr_tensor_free(&frames);
        TRY(st);
        a->frames_written = pos.frames;
    }
    return LAVR_OK;
}

static lavr_status push_pending(aux_rank *a, int64_t n) {
    if (a->npending == AUX_MAX_PENDING)
        return LAVR_FAIL(LAVR_E_INTERNAL, "more than %d checkpoints in flight", AUX_MAX_PENDING);
    a->pending[a->npending++] = n;
    return LAVR_OK;
}

int64_t aux_block_flags(aux_rank *a, int64_t n) {
    if (a->fault && a->stop_block < 0) {
        a->stop_block = n; /* a stop without a checkpoint: every rank ends, the newest checkpoint stays */
        return LAVR_FLAG_STOP;
    }
    if (a->fault || !a->o->stage_dir || n <= a->start_block || a->stop_block >= 0) return 0;
    const double now = seconds_now();
    int64_t flags = 0;
    if (lavr_signals_stop_requested()) {
        LOG_INFO("stop requested (signal %d): the blocks in flight finish, then a checkpoint before block %lld",
                 lavr_signals_stop_requested(), (long long)n);
        a->stop_block = n;
        flags = LAVR_FLAG_CKPT | LAVR_FLAG_STOP;
    } else if (n % LAVR_BLOCKS_PER_CLIP == 0 &&
               lavr_ckpt_policy_due(&a->o->policy, n / LAVR_BLOCKS_PER_CLIP, a->last_ckpt_clips, now - a->last_ckpt_s)) {
        flags = LAVR_FLAG_CKPT;
    }
    if (flags && push_pending(a, n) == LAVR_OK) {
        a->last_ckpt_clips = n / LAVR_BLOCKS_PER_CLIP;
        a->last_ckpt_s = now;
        return flags;
    }
    return 0;
}

typedef struct {
    lavr_ckpt_writer *w;
} state_writer;

static lavr_status put_state(const char *name, const lavr_tensor *t, void *user) {
    char full[160];
    snprintf(full, sizeof full, "vae/%s", name);
    return lavr_ckpt_put_tensor(((state_writer *)user)->w, full, t);
}

static lavr_status write_aux_part(aux_rank *a, int64_t n, lavr_ckpt_file *entry) {
    lavr_ckpt_writer *w = NULL;
    lavr_status begin = lavr_ckpt_begin(a->o->stage_dir, n, a->roles->world_rank, &w);
    if (begin) return lavr_disk_add_free_space(begin, a->o->stage_dir);
    state_writer sw = {w};
    lavr_status st = LAVR_OK;
    if (a->decoder) st = lavr_decode_stream_visit(a->decoder, put_state, &sw);
    if (!st && a->writer) {
        lavr_video_position pos;
        const uint8_t *pending = NULL;
        int64_t count = 0;
        lavr_video_writer_position(a->writer, &pos, &pending, &count);
        st = lavr_ckpt_put_int(w, "writer_frames", pos.frames);
        if (!st) st = lavr_ckpt_put_int(w, "writer_segments", pos.segments);
        if (!st) st = lavr_ckpt_put_int(w, "writer_video_packets", pos.video_packets);
        if (!st) st = lavr_ckpt_put_int(w, "writer_pending", count);
        if (!st && count > 0) {
            lavr_tensor t = lavr_tensor_wrap(LAVR_U8, 4, (int64_t[]){count, a->cond.height, a->cond.width, 3},
                                             (void *)pending);
            st = lavr_ckpt_put_tensor(w, "writer/pending", &t);
        }
    }
    if (!st) st = lavr_ckpt_put_int(w, "frames_written", a->frames_written);
    if (!st) st = lavr_ckpt_put_string(w, "role", "aux");
    if (!st) st = lavr_ckpt_put_string(w, "aux_backend", aux_backend_name(a));
    if (st) {
        lavr_disk_add_free_space(st, a->o->stage_dir);
        lavr_ckpt_abandon(w);
        return st;
    }
    return lavr_ckpt_finish(w, entry);
}

lavr_status aux_checkpoint(aux_rank *a, int64_t n) {
    if (a->npending == 0 || a->pending[0] != n)
        return LAVR_FAIL(LAVR_E_INTERNAL, "checkpoint before block %lld was not flagged", (long long)n);
    const double t0 = seconds_now();
    const int ndit = lavr_layout_dit_ranks(&a->sched.layout);
    lavr_ckpt_file *files = calloc((size_t)ndit + 1, sizeof *files);
    if (!files) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the checkpoint entries");
    /* after a fault nothing more is written, but every DiT rank's report is still taken */
    if (!a->fault) {
        lavr_status part = write_aux_part(a, n, &files[ndit]);
        aux_fault(a, part); /* its message says the free space */
    }
    lavr_status st = LAVR_OK;
    lavr_ckpt_report rep;
    lavr_msg m;
    lavr_msg_init(&m);
    for (int r = 0; r < ndit && !st; r++) {
        lavr_msg_clear_parts(&m);
        st = lavr_msg_add(&m, &rep, (int64_t)sizeof rep, LAVR_WIRE_BYTES);
        if (!st) st = lavr_comm_recv(a->c, r, LAVR_TAG_CKPT, &m);
        if (!st && m.ints[0] != n)
            st = LAVR_FAIL(LAVR_E_INTERNAL, "rank %d sent its checkpoint part for block %lld, expected %lld", r,
                           (long long)m.ints[0], (long long)n);
        if (!st && rep.status) {
            rep.message[sizeof rep.message - 1] = 0;
            aux_fault(a, lavr_error_adopt((lavr_status)rep.status, rep.message));
        }
        if (!st) files[r] = rep.entry;
    }
    lavr_msg_free(&m);
    if (!st && !a->fault) {
        lavr_ckpt_manifest man = {.clip = n / LAVR_BLOCKS_PER_CLIP, .blocks = n, .layout = a->o->layout_text,
                                  .id = {a->model_id, a->inputs_id}, .nfiles = ndit + 1, .files = files};
        lavr_status commit = lavr_ckpt_commit(a->o->stage_dir, &man);
        if (!commit) commit = lavr_ckpt_prune(a->o->stage_dir, a->o->policy.keep_last);
        if (commit) aux_fault(a, lavr_disk_add_free_space(commit, a->o->stage_dir));
        else a->committed = n;
    }
    free(files);
    TRY(st);
    memmove(a->pending, a->pending + 1, (size_t)(--a->npending) * sizeof *a->pending);
    if (a->committed == n)
        LOG_INFO("checkpoint before block %lld (%.2f s of video) written in %.2f s", (long long)n,
                 (double)a->frames_written / AUX_OUTPUT_FPS, seconds_now() - t0);
    return LAVR_OK;
}
