/* The aux role of a render (ranks/aux_worker.h): encoders once, the setup broadcast, then a loop
 * that keeps up to `inflight` block packets on their way to stage 0 and takes the clean latents
 * back in block order to stage, decode and write them, checkpointing where the packets said so. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/dtype.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/signals.h"
#include "core/trace.h"
#include "io/disk.h"
#include "io/h5model.h"
#include "models/audio_features.h"
#include "parallel/device.h"
#include "ranks/aux_internal.h"
#include "ranks/dit_stage.h"
#include "ranks/setup.h"
#include "ranks/summary.h"

#define VIDEO_FRAMES_PER_LATENT 4 /* VAE temporal stride: a block of F latents covers 4F video frames */
#define DROPPED_FRAMES 3          /* the first 3 decoded frames are dropped (liveavatar-system §1.9) */
#define OUTPUT_FPS AUX_OUTPUT_FPS
/* the stage files that grow while the render runs: "<name>.part" until it is complete */
#define STAGE_LATENTS "latents.h5"
#define STAGE_VIDEO_LOG "video.log.h5"

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Seconds since *t, which moves to now. */
static double lap(double *t) {
    const double now = seconds_now(), d = now - *t;
    *t = now;
    return d;
}

static lavr_status alloc_floats(int64_t n, const char *what, float **out) {
    *out = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!*out) return LAVR_FAIL(LAVR_E_NOMEM, "aux rank: cannot allocate %s (%lld floats)", what, (long long)n);
    return LAVR_OK;
}

static lavr_status read_dit_config(lavr_h5file *f, lavr_dit_config *out) {
    char *text = NULL;
    TRY(lavr_h5_read_attr_string(f, "/dit", "config", &text));
    lavr_json *j = NULL;
    lavr_status st = lavr_json_parse(text, &j);
    free(text);
    if (!st) st = lavr_dit_config_from_json(j, out);
    lavr_json_free(j);
    return st;
}

/* <stage>/<name> (malloc'd; NULL without a stage directory or memory) */
static char *stage_file(const aux_rank *a, const char *name) {
    if (!a->o->stage_dir) return NULL;
    size_t n = strlen(a->o->stage_dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a->o->stage_dir, name);
    return p;
}

/* The VAE context's cuDNN engines: the stage directory's record (a resumed render takes exactly the interrupted
 * run's engines, so its bytes are those of an uninterrupted render), then the machine's cache (every fresh render
 * on the machine takes the first one's); shapes in neither are tuned and both are written again. */
static lavr_status open_engines(aux_rank *a) {
    if (!a->o->vae_ctx) return LAVR_OK;
    char *file = stage_file(a, LAVR_CONV_ENGINES_STAGE_FILE);
    if (a->o->stage_dir && !file) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    lavr_status st = lavr_conv_engines_open(a->o->vae_ctx, file, 1, &a->engines);
    free(file);
    return st;
}

/* A resumed render takes the conditioning its first run saved when the input hashes match (its audio
 * features stay in the file). */
static int reuse_conditioning(aux_rank *a, const char *path) {
    if (!path || a->start_block == 0 || access(path, R_OK) != 0) return 0;
    lavr_conditioning c;
    memset(&c, 0, sizeof c);
    if (lavr_cond_load_except_audio(path, a->arena, &c)) {
        LOG_WARN("%s cannot be read (%s): encoding the inputs again", path, lavr_error_message());
        lavr_cond_free(&c);
        return 0;
    }
    char image[65], audio[65], prompt[65];
    if (lavr_sha256_file_hex(a->o->image_path, image) || lavr_sha256_file_hex(a->o->audio_path, audio) ||
        lavr_sha256_hex(a->o->prompt, strlen(a->o->prompt), prompt) || strcmp(image, c.image_sha) != 0 ||
        strcmp(audio, c.audio_sha) != 0 || strcmp(prompt, c.prompt_sha) != 0 || !c.context.data || !c.ref.data ||
        !c.motion.data || c.audio_frames == 0) {
        lavr_cond_free(&c);
        return 0;
    }
    LOG_INFO("conditioning taken from %s", path);
    a->cond = c;
    return 1;
}

/* The render's audio features: in memory when given or computed there (no stage directory), else in
 * the stage's conditioning file, read back a clip at a time. */
static lavr_status open_audio_features(aux_rank *a, const char *saved) {
    if (a->cond.audio.data) {
        a->audio_frames = a->cond.audio.shape[0];
        return LAVR_OK;
    }
    TRY(lavr_cond_audio_open(saved, &a->audio_file));
    int64_t shape[3];
    lavr_cond_audio_shape(a->audio_file, shape);
    a->audio_frames = shape[0];
    a->clip_loaded = -1;
    return alloc_floats(LAVR_FRAMES_PER_CLIP * shape[1] * shape[2], "clip audio features", &a->clip_audio);
}

/* The encoded conditioning into the stage directory: written beside its name, renamed when complete; the
 * audio features go straight to the file as wav2vec2 computes them (constant memory). */
static lavr_status save_conditioning(aux_rank *a, lavr_h5file *model, const char *saved) {
    char *part = stage_file(a, "conditioning.h5.part");
    if (!part) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    lavr_status st = LAVR_OK;
    if (unlink(part) != 0 && errno != ENOENT)
        st = LAVR_FAIL(LAVR_E_IO, "cannot replace '%s': %s", part, strerror(errno));
    if (!st) st = lavr_cond_save(part, &a->cond);
    if (!st) st = lavr_cond_encode_audio_file_on(model, a->o->audio_path, part, a->o->stage_dir, a->o->vae_ctx, &a->cond);
    if (!st && rename(part, saved) != 0)
        st = LAVR_FAIL(LAVR_E_IO, "cannot rename '%s' to '%s': %s", part, saved, strerror(errno));
    if (st) {
        lavr_disk_add_free_space(st, a->o->stage_dir);
        unlink(part);
    }
    free(part);
    return st;
}

/* The conditioning (given, reused from the stage directory, or encoded from the user's files, then
 * saved there) and the number of clips to render. */
static lavr_status conditioning(aux_rank *a, lavr_h5file *model) {
    const lavr_aux_options *o = a->o;
    char *saved = stage_file(a, "conditioning.h5");
    if (a->o->stage_dir && !saved) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    lavr_status st = LAVR_OK;
    if (o->cond) {
        a->cond = *o->cond;
    } else if (!reuse_conditioning(a, saved)) {
        LOG_INFO("encoding %s, the prompt and %s", o->image_path, o->audio_path);
        double t = seconds_now();
        const double gen_vae = lavr_generated_model_seconds(model, "vae");
        st = lavr_cond_encode_image_on(model, o->image_path, o->size, o->vae_ctx, a->arena, &a->cond);
        a->meas.image_s = lap(&t);
        a->meas.gen_vae_s = lavr_generated_model_seconds(model, "vae") - gen_vae;
        const lavr_ctx_cuda_options t5 = {.device = o->device, .conv = LAVR_CONV_OWN, .name = "aux t5"};
        if (!st) st = lavr_cond_encode_text_on(model, o->prompt, o->t5_on_gpu ? &t5 : NULL, a->arena, &a->cond);
        a->meas.text_s = lap(&t);
        a->meas.gen_t5_s = lavr_generated_model_seconds(model, "t5");
        if (!st && !saved) st = lavr_cond_encode_audio_on(model, o->audio_path, o->vae_ctx, a->arena, &a->cond);
        if (!st && saved) st = save_conditioning(a, model, saved);
        a->meas.audio_s = lap(&t);
        a->meas.gen_w2v_s = lavr_generated_model_seconds(model, "wav2vec2");
    }
    if (!st) st = open_audio_features(a, saved);
    free(saved);
    TRY(st);
    int64_t clips = a->cond.clips;
    if (o->max_clips > 0 && o->max_clips < clips) {
        clips = o->max_clips;
    } else if (o->max_clips > clips) {
        LOG_WARN("--num-clip %lld: the audio gives only %lld clip%s (%.2f s of video); rendering %lld",
                 (long long)o->max_clips, (long long)clips, clips == 1 ? "" : "s",
                 (double)(48 * clips - DROPPED_FRAMES) / OUTPUT_FPS, (long long)clips);
    }
    a->cond.clips = clips;
    return LAVR_OK;
}

/* LiveAvatar renders whole clips of 48 frames, writes all but the first 3 and muxes them with the speech
 * using ffmpeg -shortest, so its video stops where the speech stops (liveavatar-system §1.3 step 5,
 * §1.9). Here the speech starts with the first written frame's time (3/25 s into the file), so the
 * frames kept are the generated frames k >= 3 that start before the speech ends (k / 25 < S / R). */
int64_t lavr_speech_frames(int64_t samples, int rate) {
    return ((int64_t)OUTPUT_FPS * samples + rate - 1) / rate - DROPPED_FRAMES;
}

/* The frames the video keeps: lavr_speech_frames, at most 48 clips - 3 (--keep-tail, or no speech file:
 * all of them). */
static lavr_status video_frames(aux_rank *a) {
    const int64_t all = LAVR_FRAMES_PER_CLIP * a->sched.clips - DROPPED_FRAMES;
    a->video_frames = all;
    if (a->o->keep_tail || !a->o->audio_path || !a->o->out_path) return LAVR_OK;
    lavr_audio info;
    TRY(lavr_audio_probe(a->o->audio_path, &info));
    const int64_t speech = lavr_speech_frames(info.source_frames, info.source_rate);
    if (speech <= 0)
        return LAVR_FAIL(LAVR_E_ARG, "audio '%s' lasts %.3f s: %s", a->o->audio_path,
                         (double)info.source_frames / info.source_rate, LAVR_SHORT_SPEECH);
    if (speech < all) a->video_frames = speech;
    return LAVR_OK;
}

static lavr_status check_shapes(aux_rank *a, const lavr_dit_config *cfg) {
    const lavr_conditioning *c = &a->cond;
    a->C = c->ref.shape[0];
    a->h = c->ref.shape[2];
    a->w = c->ref.shape[3];
    a->F = cfg->frames_per_block;
    a->vf = VIDEO_FRAMES_PER_LATENT * a->F;
    a->SA = cfg->audio_num_states * cfg->audio_dim;
    a->blk = a->C * a->F * a->h * a->w;
    int64_t shape[3] = {0, 0, 0};
    if (a->audio_file) lavr_cond_audio_shape(a->audio_file, shape);
    else if (c->audio.ndim == 3) memcpy(shape, c->audio.shape, sizeof shape);
    if (shape[1] * shape[2] != a->SA)
        return LAVR_FAIL(LAVR_E_FORMAT, "audio features must be [frames, %lld, %lld]", (long long)cfg->audio_num_states,
                         (long long)cfg->audio_dim);
    if (a->audio_frames < a->sched.blocks * a->vf)
        return LAVR_FAIL(LAVR_E_FORMAT, "audio features have %lld frames, %lld clips need %lld",
                         (long long)a->audio_frames, (long long)a->sched.clips, (long long)(a->sched.blocks * a->vf));
    if (a->audio_file && LAVR_BLOCKS_PER_CLIP * a->vf != LAVR_FRAMES_PER_CLIP)
        return LAVR_FAIL(LAVR_E_FORMAT, "a clip of %lld blocks of %lld frames is not %d frames",
                         (long long)LAVR_BLOCKS_PER_CLIP, (long long)a->vf, LAVR_FRAMES_PER_CLIP);
    const int64_t motion_latents = (cfg->motion_frames + 3) / 4; /* VAE chunks {0}, {1..4}, ... */
    if (c->motion.ndim != 4 || c->motion.shape[1] != motion_latents)
        return LAVR_FAIL(LAVR_E_FORMAT, "motion latents have %lld frames, the DiT's %lld motion frames make %lld",
                         (long long)c->motion.shape[1], (long long)cfg->motion_frames, (long long)motion_latents);
    return LAVR_OK;
}

static lavr_status broadcast_setup(aux_rank *a) {
    lavr_render_setup s = {.clips = a->sched.clips, .start_block = a->start_block, .C = a->C, .h = a->h, .w = a->w,
                           .motion_latents = a->cond.motion.shape[1],
                           .context_rows = a->cond.context.shape[0], .text_dim = a->cond.context.shape[1],
                           .context = a->cond.context.data, .ref = a->cond.ref.data, .motion = a->cond.motion.data};
    return lavr_setup_bcast(a->c, a->sched.aux_rank, &s);
}

/* The latent stage file: created for a fresh render, cut back to the checkpoint for a resumed one. */
static lavr_status open_stage(aux_rank *a) {
    const lavr_aux_options *o = a->o;
    if (!o->stage_dir) return LAVR_OK;
    char *path = stage_file(a, STAGE_LATENTS ".part"); /* renamed when the render is complete */
    if (!path) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    lavr_status st;
    if (a->start_block == 0) {
        lavr_stage_info info = {.C = a->C, .F = a->F, .h = a->h, .w = a->w, .seed = o->stream.seed,
                                .layout = o->layout_text, .model = o->model_path, .inputs = a->inputs_id,
                                .fixed_sink_offset = o->stream.fixed_sink_offset};
        st = lavr_stage_create(path, &info, &a->stage);
    } else {
        st = lavr_stage_open(path, 1, &a->stage);
        if (!st && lavr_stage_blocks(a->stage) < a->start_block)
            st = LAVR_FAIL(LAVR_E_FORMAT, "%s holds %lld blocks, the checkpoint needs %lld", path,
                           (long long)lavr_stage_blocks(a->stage), (long long)a->start_block);
        if (!st) st = lavr_stage_truncate(a->stage, a->start_block);
    }
    free(path);
    return st;
}

static lavr_status open_outputs(aux_rank *a, lavr_h5file *model) {
    const lavr_aux_options *o = a->o;
    TRY(open_stage(a));
    if (!o->out_path) return LAVR_OK;
    lavr_model_config cfg;
    char *text = NULL;
    TRY(lavr_h5_read_attr_string(model, "/vae", "config", &text));
    lavr_json *j = NULL;
    lavr_status st = lavr_json_parse(text, &j);
    free(text);
    if (!st) st = lavr_vae_config_from_json(j, &cfg.vae);
    lavr_json_free(j);
    TRY(st);
    lavr_vae_options vae_opts = lavr_vae_options_default();
    vae_opts.ctx = o->vae_ctx;
    TRY(lavr_vae_create(model, "vae/", &cfg.vae, &vae_opts, a->arena, &a->vae));
    TRY(lavr_decode_stream_create(a->vae, &a->cond.motion, a->arena, &a->decoder));
    TRY(alloc_floats(3 * a->vf * a->cond.height * a->cond.width, "decoded frames", &a->frames));

    lavr_video_options vo;
    lavr_video_options_default(&vo);
    vo.width = a->cond.width;
    vo.height = a->cond.height;
    vo.total_frames = a->video_frames;
    if (o->audio_path) {
        vo.audio_path = o->audio_path;
        /* frame k of the generation shows audio time k / fps; the first written frame is frame 3 */
        vo.audio_skip_frames = DROPPED_FRAMES;
    }
    char *log = stage_file(a, STAGE_VIDEO_LOG ".part");
    if (o->stage_dir && !log) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    vo.log_path = log;
    st = a->start_block > 0 ? aux_restore_outputs(a, &vo) : lavr_video_writer_open(o->out_path, &vo, &a->writer);
    free(log);
    return st;
}

/* Packet of block n: its initial noise (the same bytes as lavr dit-run) and its 4F audio frames. */
static lavr_status feed_block(aux_rank *a, int64_t n) {
    const int64_t clip = n / LAVR_BLOCKS_PER_CLIP, block = n % LAVR_BLOCKS_PER_CLIP;
    lavr_stream_noise(a->o->stream.seed, clip, block, a->C, a->F, a->h, a->w, a->noise);
    if (a->audio_file) {
        const int64_t clip_frames = LAVR_BLOCKS_PER_CLIP * a->vf;
        if (a->clip_loaded != clip) {
            TRY(lavr_cond_audio_read(a->audio_file, clip * clip_frames, clip_frames, a->clip_audio));
            a->clip_loaded = clip;
        }
        memcpy(a->audio, a->clip_audio + block * a->vf * a->SA, (size_t)(a->vf * a->SA) * sizeof(float));
    } else {
        memcpy(a->audio, (const float *)a->cond.audio.data + n * a->vf * a->SA, (size_t)(a->vf * a->SA) * sizeof(float));
    }
    const int64_t flags = aux_block_flags(a, n);
    for (int t = 0; t < a->nfeed; t++) {
        lavr_msg *m = &a->feed[(n % a->sched.inflight) * a->nfeed + t];
        /* the slot's previous block came back clean, so its send has completed (see collect) */
        TRY(lavr_comm_wait(a->c, m));
        memset(m->ints, 0, sizeof m->ints);
        m->ints[LAVR_PKT_BLOCK] = n;
        m->ints[LAVR_PKT_STEP] = 0;
        m->ints[LAVR_PKT_FLAGS] = flags;
        lavr_msg_clear_parts(m);
        TRY(lavr_msg_add(m, a->noise, a->blk, LAVR_WIRE_BF16));
        TRY(lavr_msg_add(m, a->audio, a->vf * a->SA, LAVR_WIRE_BF16));
        TRY(lavr_comm_isend(a->c, a->feed_ranks[t], LAVR_TAG_PACKET, m));
    }
    return LAVR_OK;
}

/* The clip-1 reference (frame 0 of the clean block 0) to every pp-0 rank, sent without waiting. */
static lavr_status send_ref(aux_rank *a) {
    const int64_t hw = a->h * a->w;
    for (int64_t ch = 0; ch < a->C; ch++) memcpy(a->ref + ch * hw, a->latent + ch * a->F * hw, (size_t)hw * sizeof(float));
    for (int i = 0; i < a->nref; i++) {
        lavr_msg *m = &a->ref_msgs[i];
        TRY(lavr_msg_add(m, a->ref, a->C * hw, LAVR_WIRE_BF16));
        TRY(lavr_comm_isend(a->c, a->ref_ranks[i], LAVR_TAG_REF, m));
    }
    return LAVR_OK;
}

/* Stages, decodes and writes clean block n (a failure becomes the render's fault, see run_pipeline). */
static lavr_status output_block(aux_rank *a, int64_t n) {
    /* NaN weights anywhere upstream (DiT, umT5, the VAE encoder, wav2vec2) end up here: refuse them before
     * they are staged, rather than write a black video */
    int64_t first = -1, bad = lavr_count_nonfinite(LAVR_F32, a->latent, a->blk, &first);
    if (bad)
        return LAVR_FAIL(LAVR_E_FORMAT, "clean latent block %lld (clip %lld) holds %lld NaN/Inf value%s (the first at "
                         "element %lld): the model '%s' or the conditioning is damaged; nothing of the block was written",
                         (long long)n, (long long)(n / LAVR_BLOCKS_PER_CLIP), (long long)bad, bad == 1 ? "" : "s",
                         (long long)first, a->o->model_path);
    if (a->stage) {
        lavr_status st = lavr_stage_append(a->stage, a->latent);
        if (st) return lavr_disk_add_free_space(st, a->o->stage_dir);
    }
    if (a->o->on_latent) TRY(a->o->on_latent(a->o->user, n, a->latent, a->blk));
    if (a->decoder) {
        int64_t count = 0, t0 = lavr_trace_now();
        const double busy0 = seconds_now();
        double t = seconds_now();
        TRY(lavr_decode_stream_push(a->decoder, a->latent, a->frames, &count));
        a->meas.decode_s += lap(&t);
        /* the first block tunes the decode's shapes: on record before any checkpoint can need them */
        lavr_status saved = lavr_conv_engines_save(&a->engines);
        if (saved) return a->o->stage_dir ? lavr_disk_add_free_space(saved, a->o->stage_dir) : saved;
        lavr_trace_slice(LAVR_TRACE_DECODE, t0, n, count);
        /* frames past the speech's end are dropped (video_frames) */
        if (count > a->video_frames - a->frames_written) count = a->video_frames - a->frames_written;
        bad = lavr_count_nonfinite(LAVR_F32, a->frames, 3 * count * a->cond.height * a->cond.width, &first);
        if (bad)
            return LAVR_FAIL(LAVR_E_FORMAT, "the VAE decoded block %lld into %lld NaN/Inf pixel value%s: the VAE weights "
                             "of '%s' are damaged; the video was not finished", (long long)n, (long long)bad,
                             bad == 1 ? "" : "s", a->o->model_path);
        t0 = lavr_trace_now();
        lavr_status st = lavr_video_writer_append_f32(a->writer, a->frames, count);
        if (!st && (n + 1) % LAVR_BLOCKS_PER_CLIP == 0) st = lavr_video_writer_cut(a->writer);
        if (st) return lavr_disk_add_free_space(st, a->o->out_path);
        lavr_trace_slice(LAVR_TRACE_ENCODE, t0, n, count);
        a->meas.write_s += lap(&t);
        a->busy_s += seconds_now() - busy0;
        if (a->frames_written == 0 && count > 0) a->meas.first_frame_s = t - a->start_s;
        a->frames_written += count;
    }
    const double done = seconds_now() - a->start_s;
    if (a->meas.blocks++ == 0) a->meas.first_block_s = done;
    a->meas.last_block_s = done;
    lavr_progress_block(a->progress, n, a->frames_written);
    return LAVR_OK;
}

/* The pipeline from the aux rank's side. No deadlock: the aux never blocks on a send it cannot know
 * to be complete. It only waits on (a) the clean latent of the oldest block in flight, which the
 * DiT ranks produce without needing anything more from the aux (their packet is already sent, and
 * the clip-1 reference went out with block 0), and (b) the feed sends of a block whose clean latent
 * already came back: every stage-0 pp-0 rank received that packet (tp ranks compute a block together
 * through their all-reduces, so none finishes it without the others), so those sends have completed.
 * DiT ranks wait only on their predecessors and the aux, so the chain always moves. A checkpoint
 * before block n waits for every DiT rank's entry, which each sends on receiving block n's packet;
 * that packet went out before the clean block n - 1 came back (inflight >= 3), and every DiT rank
 * gets it without anything more from the aux. *stopped_at: the block a stop came before, or -1. */
static lavr_status run_pipeline(aux_rank *a, int64_t *stopped_at) {
    const int64_t blocks = a->sched.blocks;
    int64_t fed = a->start_block;
    *stopped_at = -1;
    if (!a->fault && a->start_block > 0 && a->start_block <= LAVR_BLOCKS_PER_CLIP && a->sched.clips > 1) {
        /* resumed inside clip 0: the clip-1 reference comes from the staged block 0 */
        TRY(lavr_stage_read(a->stage, 0, a->latent));
        TRY(send_ref(a));
    }
    for (int64_t n = a->start_block; n < blocks; n++) {
        while (fed < blocks && fed < n + a->sched.inflight && a->stop_block < 0) TRY(feed_block(a, fed++));
        lavr_msg_clear_parts(&a->clean);
        TRY(lavr_msg_add(&a->clean, a->latent, a->blk, LAVR_WIRE_BF16));
        const int from = lavr_schedule_clean_rank(&a->sched);
        TRY(lavr_comm_recv(a->c, from, LAVR_TAG_CLEAN, &a->clean));
        if ((a->clean.ints[LAVR_PKT_FLAGS] & LAVR_FLAG_STOP) && a->clean.ints[LAVR_PKT_BLOCK] == n) {
            /* every DiT rank passed the stop on: all blocks before n are out (a fault's stop has no checkpoint) */
            if (a->clean.ints[LAVR_PKT_FLAGS] & LAVR_FLAG_CKPT) TRY(aux_checkpoint(a, n));
            if (!a->fault) *stopped_at = n;
            break;
        }
        if (a->clean.ints[LAVR_PKT_BLOCK] != n || a->clean.ints[LAVR_PKT_STEP] != LAVR_SAMPLER_STEPS)
            return LAVR_FAIL(LAVR_E_INTERNAL, "pipeline out of order: clean block %lld (step %lld) arrived, expected %lld",
                             (long long)a->clean.ints[LAVR_PKT_BLOCK], (long long)a->clean.ints[LAVR_PKT_STEP],
                             (long long)n);
        if (n == a->o->fail_block) {
            LOG_INFO("LAVR_FAIL_AT: failing now, at block %lld", (long long)n); /* the moment, for the tests */
            return LAVR_FAIL(LAVR_E_INTERNAL, "injected failure at block %lld (LAVR_FAIL_AT, a testing aid)",
                             (long long)n);
        }
        if (n == 0 && a->sched.clips > 1) TRY(send_ref(a));
        /* Block n + 1's packet, sent blocks ago, is wanted now or already in: stage 0 computed block n before the
         * clean latent could come back. Waiting for it here, while stage 0 waits for it too, moves its last
         * fragments at once; left to the decode below it crawled (5-11 ms per block on one H200, BENCHMARKS.md). */
        if (!a->fault && n + 1 < fed)
            for (int t = 0; t < a->nfeed; t++)
                TRY(lavr_comm_wait(a->c, &a->feed[((n + 1) % a->sched.inflight) * a->nfeed + t]));
        /* after a fault the blocks still in flight come back and are dropped */
        if (!a->fault) aux_fault(a, output_block(a, n));
        /* (a stop's checkpoint waits for the stop itself to come back) */
        if (a->npending > 0 && a->pending[0] == n + 1 && n + 1 != a->stop_block) TRY(aux_checkpoint(a, n + 1));
    }
    /* a stop travels in a block packet: once the last block was sent, the render can only finish */
    if (*stopped_at < 0 && lavr_signals_stop_requested() && a->o->stage_dir)
        LOG_WARN("stop requested (signal %d) when every remaining block was already sent: the render finished instead",
                 lavr_signals_stop_requested());
    for (int64_t i = 0; i < (int64_t)a->sched.inflight * a->nfeed; i++) TRY(lavr_comm_wait(a->c, &a->feed[i]));
    for (int i = 0; i < a->nref; i++) TRY(lavr_comm_wait(a->c, &a->ref_msgs[i]));
    return LAVR_OK;
}

static lavr_status prepare_pipeline(aux_rank *a) {
    const lavr_layout *l = &a->sched.layout;
    a->feed_ranks = calloc((size_t)l->tp, sizeof *a->feed_ranks);
    a->ref_ranks = calloc((size_t)(l->tp * l->steps), sizeof *a->ref_ranks);
    if (!a->feed_ranks || !a->ref_ranks) return LAVR_FAIL(LAVR_E_NOMEM, "aux rank: out of memory for the peer lists");
    a->nfeed = lavr_schedule_feed_ranks(&a->sched, a->feed_ranks, l->tp);
    a->nref = lavr_schedule_ref_ranks(&a->sched, a->ref_ranks, l->tp * l->steps);
    a->feed = calloc((size_t)(a->sched.inflight * a->nfeed), sizeof *a->feed);
    a->ref_msgs = calloc((size_t)a->nref, sizeof *a->ref_msgs);
    if (!a->feed || !a->ref_msgs) return LAVR_FAIL(LAVR_E_NOMEM, "aux rank: out of memory for messages");
    TRY(alloc_floats(a->blk, "noise", &a->noise));
    TRY(alloc_floats(a->vf * a->SA, "block audio", &a->audio));
    TRY(alloc_floats(a->blk, "clean latent", &a->latent));
    TRY(alloc_floats(a->C * a->h * a->w, "reference", &a->ref));
    return LAVR_OK;
}

/* The --summary-json file: how the render ended, the frames and this run's share, the rank rows known. */
static lavr_status write_summary(aux_rank *a, lavr_status how, const char *message, const lavr_rank_stats *rows, int nrows,
                                 int64_t frames_this_run, double wall_s, double render_s, int64_t blocks_done) {
    if (!a->o->summary_path) return LAVR_OK;
    lavr_render_summary s = {.status = how, .writer_rank = a->roles->world_rank, .out_path = a->o->out_path,
                             .layout = a->o->layout_text, .frames = a->frames_written,
                             .frames_this_run = frames_this_run, .blocks_done = blocks_done,
                             .blocks = a->sched.blocks, .fps = OUTPUT_FPS, .wall_s = wall_s, .render_s = render_s,
                             .ranks = rows, .nranks = nrows};
    s.message = message;
    return lavr_render_summary_write(a->o->summary_path, &s);
}

/* Statistics of every DiT rank, then this rank's own, and the summary on stdout (and in --summary-json). */
static lavr_status summary(aux_rank *a, int64_t frames, double wall_s, double render_s, int64_t stopped_at) {
    const int ndit = lavr_layout_dit_ranks(&a->sched.layout);
    lavr_rank_stats *rows = calloc((size_t)ndit + 1, sizeof *rows);
    lavr_dit_report *reports = calloc((size_t)ndit, sizeof *reports);
    if (!rows || !reports) {
        free(rows);
        free(reports);
        return LAVR_FAIL(LAVR_E_NOMEM, "aux rank: out of memory for the summary");
    }
    lavr_status st = LAVR_OK;
    lavr_msg m;
    lavr_msg_init(&m);
    for (int r = 0; r < ndit && !st; r++) {
        lavr_msg_clear_parts(&m);
        st = lavr_msg_add(&m, &reports[r], (int64_t)sizeof reports[r], LAVR_WIRE_BYTES);
        if (!st) st = lavr_comm_recv(a->c, r, LAVR_TAG_STATS, &m);
        if (st) break;
        lavr_role role;
        st = lavr_layout_role(&a->sched.layout, a->dit.num_layers, r, &role);
        if (st) break;
        rows[r] = (lavr_rank_stats){.rank = r, .peak_kb = m.ints[LAVR_STAT_PEAK_KB],
                                    .busy_s = 1e-6 * (double)m.ints[LAVR_STAT_BUSY_US],
                                    .forwards = m.ints[LAVR_STAT_FORWARDS], .sent = m.ints[LAVR_STAT_SENT],
                                    .device_peak_kb = m.ints[LAVR_STAT_DEVICE_PEAK_KB],
                                    .received = m.ints[LAVR_STAT_RECEIVED]};
        lavr_role_name(&a->sched.layout, &role, rows[r].role, sizeof rows[r].role);
    }
    lavr_msg_free(&m);
    if (!st) {
        lavr_rank_stats *me = &rows[ndit];
        me->rank = a->roles->world_rank;
        snprintf(me->role, sizeof me->role, "%s", a->roles->role_name);
        me->peak_kb = lavr_progress_peak_rss_kb();
        lavr_comm_traffic(a->c, &me->sent, &me->received);
        me->busy_s = a->decoder ? a->busy_s : -1;
        /* the bench prints its own report from the measurements; a fault's line is the render's last word */
        if (!a->o->stats && !a->fault) lavr_progress_summary(stdout, frames, OUTPUT_FPS, wall_s, render_s, rows, ndit + 1);
        a->meas.render_s = render_s;
        a->meas.width = a->cond.width;
        a->meas.height = a->cond.height;
        a->meas.frames = frames;
        a->meas.ndit = ndit;
        a->meas.dit = reports;
        reports = NULL;
        char stop[1024] = "";
        if (stopped_at >= 0)
            snprintf(stop, sizeof stop, "stopped after %lld blocks, with a checkpoint in %s; run the same command "
                     "again to continue", (long long)stopped_at, a->o->stage_dir);
        st = write_summary(a, stopped_at >= 0 ? LAVR_E_STOPPED : LAVR_OK, stopped_at >= 0 ? stop : NULL, rows, ndit + 1,
                           frames, wall_s, render_s, stopped_at >= 0 ? stopped_at : a->sched.blocks);
    }
    free(reports);
    free(rows);
    return st;
}

static lavr_status rename_stage_file(aux_rank *a, const char *name) {
    char *final = stage_file(a, name), *part = final ? malloc(strlen(final) + 6) : NULL;
    lavr_status st = LAVR_OK;
    if (!part) st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    else snprintf(part, strlen(final) + 6, "%s.part", final);
    if (!st && rename(part, final) != 0 && errno != ENOENT)
        st = LAVR_FAIL(LAVR_E_IO, "cannot rename '%s' to '%s': %s", part, final, strerror(errno));
    free(part);
    free(final);
    return st;
}

/* Finishes the outputs; a stopped render leaves the video as its last cut left it (resume rebuilds it), and
 * a finished one gives its growing stage files their names. */
static lavr_status close_outputs(aux_rank *a, int stopped) {
    lavr_status st = LAVR_OK, s2;
    if (a->writer && stopped) {
        lavr_video_writer_abandon(a->writer);
        a->writer = NULL;
    }
    if (a->writer) {
        s2 = lavr_video_writer_close(a->writer);
        a->writer = NULL;
        if (!st) st = s2;
    }
    if (a->stage) {
        s2 = lavr_stage_close(a->stage);
        a->stage = NULL;
        if (!st) st = s2;
    }
    if (!st && !stopped && a->o->stage_dir) st = rename_stage_file(a, STAGE_LATENTS);
    if (!st && !stopped && a->o->stage_dir && a->o->out_path) st = rename_stage_file(a, STAGE_VIDEO_LOG);
    return st;
}

static void release(aux_rank *a) {
    lavr_video_writer_abandon(a->writer); /* an unfinished video keeps its .part name */
    if (a->stage) lavr_stage_close(a->stage);
    lavr_decode_stream_destroy(a->decoder);
    lavr_vae_destroy(a->vae);
    if (a->feed)
        for (int64_t i = 0; i < (int64_t)a->sched.inflight * a->nfeed; i++) lavr_msg_free(&a->feed[i]);
    if (a->ref_msgs)
        for (int i = 0; i < a->nref; i++) lavr_msg_free(&a->ref_msgs[i]);
    free(a->feed);
    free(a->ref_msgs);
    free(a->feed_ranks);
    free(a->ref_ranks);
    lavr_msg_free(&a->clean);
    lavr_progress_destroy(a->progress);
    lavr_cond_audio_close(a->audio_file);
    free(a->clip_audio);
    free(a->noise);
    free(a->audio);
    free(a->latent);
    free(a->ref);
    free(a->frames);
    lavr_ckpt_close(a->resume_from);
    lavr_arena_destroy(a->arena);
}

/* The fault as the render's last word: what failed, and what is left to continue from. */
static void end_with_fault(aux_rank *a) {
    lavr_error_adopt(a->fault, a->fault_message);
    /* damaged numbers (LAVR_E_FORMAT) come back the same on a rerun: only a write failure is worth one */
    if (!a->o->stage_dir || a->fault == LAVR_E_FORMAT) return;
    if (a->committed >= 0)
        lavr_error_append(a->fault, "; the render stopped, its checkpoint after %lld blocks in %s is intact: run the "
                          "same command again to continue from it", (long long)a->committed, a->o->stage_dir);
    else
        lavr_error_append(a->fault, "; the render stopped before its first checkpoint: run the same command again to "
                          "start over");
}

lavr_status lavr_aux_run(lavr_comm *c, const lavr_roles *roles, const lavr_aux_options *o) {
    aux_rank a;
    memset(&a, 0, sizeof a);
    a.c = c;
    a.o = o;
    a.roles = roles;
    lavr_msg_init(&a.clean);
    a.start_s = seconds_now();
    if (o->backend == LAVR_BACKEND_CUDA) {
        char device[16];
        lavr_device_name(o->device, device, sizeof device);
        LOG_INFO("aux rank placed on %s: VAE and wav2vec2 %s, umT5 %s", device,
                 o->vae_ctx ? "there" : "on the host", o->t5_on_gpu ? "there (freed after the setup)" : "on the host");
    }
    lavr_h5file *model = NULL;
    lavr_status st = lavr_arena_create("aux", 0, &a.arena);
    if (!st) st = lavr_model_open(o->model_path, o->generated, &model);
    if (!st) st = read_dit_config(model, &a.dit);
    if (!st) st = aux_identity(&a, model);
    if (!st) st = aux_find_resume(&a);
    if (!st) st = open_engines(&a);
    if (!st) st = conditioning(&a, model);
    if (!st) st = lavr_conv_engines_save(&a.engines); /* the setup encodes' shapes */
    if (!st) st = lavr_schedule_init(&roles->layout, a.cond.clips, &a.sched);
    if (!st) st = check_shapes(&a, &a.dit);
    if (!st) st = video_frames(&a);
    st = lavr_mpi_agree(st); /* an input refused here, or a DiT rank that cannot load: every rank ends */
    if (!st) st = broadcast_setup(&a);
    a.meas.setup_s = seconds_now() - a.start_s;
    if (!st) aux_fault(&a, open_outputs(&a, model)); /* the DiT ranks wait for packets: a fault stops them */
    if (!st) st = prepare_pipeline(&a);
    lavr_ckpt_close(a.resume_from);
    a.resume_from = NULL;
    int64_t stopped_at = -1, first_frames = a.frames_written;
    if (!st) {
        lavr_progress_options po = {.blocks = a.sched.blocks, .blocks_per_clip = LAVR_BLOCKS_PER_CLIP,
                                    .fps = OUTPUT_FPS, .live = o->progress_live, .first_block = a.start_block,
                                    .first_frames = first_frames};
        a.progress = lavr_progress_create(&po, stderr);
        LOG_INFO("rendering %lld clip%s (%lld blocks, %lld frames) at %lldx%lld with layout %s%s",
                 (long long)a.sched.clips, a.sched.clips == 1 ? "" : "s", (long long)a.sched.blocks,
                 (long long)a.video_frames, (long long)a.cond.width,
                 (long long)a.cond.height, o->layout_text, a.start_block ? " (resumed)" : "");
        st = run_pipeline(&a, &stopped_at);
    }
    a.meas.device = o->vae_ctx && lavr_ctx_device(o->vae_ctx) == LAVR_DEVICE_CUDA ? o->device : -1;
    if (a.meas.device >= 0) {
        /* before any rank frees its memory (they all wait for the last collective) */
        uint64_t total = 0;
        a.meas.reserved = lavr_ctx_reserved_bytes(o->vae_ctx);
        a.meas.peak = lavr_ctx_peak_bytes(o->vae_ctx);
        lavr_device_memory(a.meas.device, &a.meas.device_used, &total);
    }
    if (!st && a.fault) {
        lavr_video_writer_abandon(a.writer);
        a.writer = NULL;
    }
    if (!st) aux_fault(&a, close_outputs(&a, stopped_at >= 0 || a.fault));
    /* a finished render needs no checkpoint any more (its latents and video stay) */
    if (!st && !a.fault && stopped_at < 0 && o->stage_dir) st = lavr_ckpt_remove_all(o->stage_dir);
    if (!st) st = summary(&a, a.frames_written - first_frames, seconds_now() - a.start_s, lavr_progress_elapsed(a.progress),
                          stopped_at);
    if (!st) st = lavr_setup_end(c, a.sched.aux_rank, &stopped_at);
    if (!st && a.fault) end_with_fault(&a);
    if (!st) st = lavr_mpi_agree(a.fault); /* one line from rank 0, every rank exits alike */
    /* a failure of this rank's own or a DiT rank's (a CUDA error): the fault is every rank's, its line rank 0's */
    st = lavr_comm_end_fault(c, st, roles->role_name);
    if (model) {
        lavr_status close_st = lavr_h5_close(model);
        if (!st) st = close_st;
    }
    if (st && o->summary_path) { /* what this rank knows of a render that failed here */
        lavr_rank_stats me = {.rank = roles->world_rank, .peak_kb = lavr_progress_peak_rss_kb(), .busy_s = -1};
        snprintf(me.role, sizeof me.role, "%s", roles->role_name);
        lavr_comm_traffic(c, &me.sent, &me.received);
        lavr_render_summary s = {.writer_rank = roles->world_rank, .out_path = o->out_path, .layout = o->layout_text,
                                 .frames = a.frames_written, .frames_this_run = a.frames_written - first_frames,
                                 .blocks_done = -1, .blocks = a.sched.blocks, .fps = OUTPUT_FPS,
                                 .wall_s = seconds_now() - a.start_s, .render_s = lavr_progress_elapsed(a.progress),
                                 .ranks = &me, .nranks = 1};
        st = lavr_render_summary_write_failed(o->summary_path, st, &s);
    }
    if (o->stats) *o->stats = a.meas;
    else free(a.meas.dit);
    release(&a);
    if (!st && stopped_at >= 0)
        st = lavr_error_set(LAVR_E_STOPPED, __FILE__, __LINE__,
                            "after %lld blocks (%lld frames), with a checkpoint in %s; run the same command again "
                            "to continue",
                            (long long)stopped_at, (long long)(12 * stopped_at - DROPPED_FRAMES), o->stage_dir);
    return st;
}
