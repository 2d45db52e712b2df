/* `lavr render`: the distributed render. Every rank parses the same options and agrees on the input
 * checks (so a bad input is one line from rank 0 before any heavy work), then plays its role: DiT
 * stage rank (ranks/dit_stage.c) or aux rank (ranks/aux_worker.c); extra aux ranks only take part in
 * the setup broadcast. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/json.h"
#include "core/log.h"
#include "core/signals.h"
#include "core/units.h"
#include "io/audio.h"
#include "io/h5model.h"
#include "io/image.h"
#include "io/lock.h"
#include "io/size_rule.h"
#include "io/video.h"
#include "kernels/ctx.h"
#include "models/conditioning.h"
#include "models/config.h"
#include "parallel/comm.h"
#include "parallel/device.h"
#include "parallel/mpi.h"
#include "parallel/placement.h"
#include "parallel/plan.h"
#include "ranks/render_job.h"
#include "ranks/summary.h"
#include "ranks/trace_file.h"

typedef struct {
    lavr_render_job job; /* what every rank runs */
    const char *layout_text;
    char stage[PATH_MAX];
    int stage_given; /* --stage-dir given (else derived from --out) */
} render_args;

static lavr_status readable(const char *what, const char *path) {
    struct stat sb;
    if (access(path, R_OK) != 0) return LAVR_FAIL(LAVR_E_ARG, "%s '%s' does not exist or is not readable", what, path);
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return LAVR_FAIL(LAVR_E_ARG, "%s '%s' is a directory", what, path);
    return LAVR_OK;
}

/* The inputs as the aux rank will read them, before any weight loads: the image decoded, the audio opened
 * and scanned (every sample finite), the output's container known, the stage path a directory (or none
 * yet), and with --resume yes at least one committed checkpoint there. Their own errors become E_ARG: the
 * user's file is at fault. */
static lavr_status check_input_files(const render_args *a) {
    lavr_rgb8 image;
    memset(&image, 0, sizeof image);
    lavr_status st = lavr_image_decode(a->job.image, &image);
    lavr_rgb8_free(&image);
    if (st) return lavr_error_wrap(LAVR_E_ARG, "--image");
    lavr_audio audio;
    memset(&audio, 0, sizeof audio);
    st = lavr_audio_scan(a->job.audio, &audio);
    lavr_audio_free(&audio);
    if (st) return lavr_error_wrap(LAVR_E_ARG, "--audio");
    TRY(lavr_video_check_path(a->job.out));
    struct stat sb;
    const int stage_exists = stat(a->stage, &sb) == 0;
    CHECK_ARG(!stage_exists || S_ISDIR(sb.st_mode), "--stage-dir '%s' is a file, not a directory%s", a->stage,
              a->stage_given ? "" : " (the default stage directory: --out with .stage for its extension)");
    if (a->job.resume == LAVR_RESUME_YES) {
        char pattern[PATH_MAX + 32];
        snprintf(pattern, sizeof pattern, "%s/ckpt-*/MANIFEST", a->stage);
        glob_t g;
        const int found = stage_exists && glob(pattern, 0, NULL, &g) == 0;
        if (stage_exists && found) globfree(&g);
        CHECK_ARG(found, "--resume yes: there is nothing to resume in '%s' (no committed checkpoint)", a->stage);
    }
    return LAVR_OK;
}

static lavr_status writable_dir_of(const char *what, const char *path) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    if (access(dir, W_OK) != 0)
        return LAVR_FAIL(LAVR_E_ARG, "%s '%s': directory '%s' does not exist or is not writable", what, path, dir);
    return LAVR_OK;
}

/* The JSON config of a model group into *parsed (1 when the group exists). */
static lavr_status read_group_config(lavr_h5file *f, const char *group, lavr_json **parsed) {
    *parsed = NULL;
    if (!lavr_h5_exists(f, group)) return LAVR_OK;
    char *text = NULL;
    TRY(lavr_h5_read_attr_string(f, group, "config", &text));
    lavr_status st = lavr_json_parse(text, parsed);
    free(text);
    return st;
}

/* The configs of the model's parts (the DiT is required; the VAE, umT5 and wav2vec2 when the file has them). */
static lavr_status read_model_config(const char *model, lavr_model_config *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->preset, sizeof out->preset, "file");
    lavr_h5file *f = NULL;
    TRY(lavr_h5_open(model, &f));
    lavr_json *j = NULL;
    lavr_status st = lavr_h5_exists(f, "/dit") ? read_group_config(f, "/dit", &j)
                                              : LAVR_FAIL(LAVR_E_FORMAT, "model '%s' has no /dit group", model);
    if (!st) st = lavr_dit_config_from_json(j, &out->dit);
    lavr_json_free(j);
    if (!st) st = read_group_config(f, "/vae", &j);
    if (!st && j) st = lavr_vae_config_from_json(j, &out->vae);
    lavr_json_free(j);
    if (!st) st = read_group_config(f, "/t5", &j);
    if (!st && j) st = lavr_t5_config_from_json(j, &out->t5);
    lavr_json_free(j);
    if (!st) st = read_group_config(f, "/wav2vec2", &j);
    if (!st && j) st = lavr_w2v_config_from_json(j, &out->w2v);
    lavr_json_free(j);
    lavr_status close_st = lavr_h5_close(f);
    return st ? st : close_st;
}

/* What the aux rank checks before anything heavy starts (every rank checks the model). */
static lavr_status check_inputs(const render_args *a, int is_aux, lavr_model_config *cfg) {
    TRY(readable("model", a->job.model));
    TRY(read_model_config(a->job.model, cfg));
    if (!is_aux) return LAVR_OK;
    if (a->job.placement.aux_gpu >= 0 && strcmp(lavr_placement_aux_backend(&a->job.placement), "cpu") != 0) {
        int devices = 0;
        TRY(lavr_node_devices(&devices));
        CHECK_ARG(a->job.placement.aux_gpu < devices, "--aux-gpu %d: the aux rank's node has %d CUDA device%s",
                  a->job.placement.aux_gpu, devices, devices == 1 ? "" : "s");
    }
    TRY(readable("image", a->job.image));
    TRY(readable("audio", a->job.audio));
    TRY(check_input_files(a));
    if (!a->job.keep_tail) {
        /* the video ends with the speech: a speech that ends within the dropped frames leaves none */
        lavr_audio speech;
        TRY(lavr_audio_probe(a->job.audio, &speech));
        CHECK_ARG(lavr_speech_frames(speech.source_frames, speech.source_rate) > 0, "audio '%s' lasts %.3f s: %s",
                  a->job.audio, (double)speech.source_frames / speech.source_rate, LAVR_SHORT_SPEECH);
    }
    int64_t w = 0, h = 0;
    TRY(lavr_size_parse(a->job.size, &w, &h));
    CHECK_ARG(a->job.prompt[0] != 0, "--prompt is empty");
    int64_t kept = 0, dropped = 0; /* the original cuts a long prompt to its text length (EOS kept) */
    TRY(lavr_cond_prompt_check(a->job.model, a->job.prompt, &kept, &dropped));
    if (dropped > 0)
        LOG_WARN("--prompt has %lld tokens; cut to the model's text length %lld (EOS kept): %lld dropped",
                 (long long)(kept + dropped), (long long)kept, (long long)dropped);
    TRY(writable_dir_of("--out", a->job.out));
    if (a->job.summary_path) TRY(writable_dir_of("--summary-json", a->job.summary_path));
    if (a->job.trace_path) TRY(writable_dir_of("--trace", a->job.trace_path));
    TRY(writable_dir_of("--stage-dir", a->stage));
    return LAVR_OK;
}

/* Every rank must see the stage directory the aux rank writes: each DiT rank puts its checkpoint part
 * there and a resume reads them all back, so a directory local to each node would make checkpoints
 * nobody can resume from. The aux rank creates the directory and a file with a fresh name in it, and
 * every other rank looks for that file (collective: all ranks call it). The aux rank gets the file's
 * path in token, to delete once all ranks have looked (after agree). */
static lavr_status check_stage_shared(const render_args *a, int aux_rank, char *token, size_t token_len) {
    struct {
        char name[64], host[256];
    } note;
    memset(&note, 0, sizeof note);
    const int rank = lavr_mpi_world_rank();
    lavr_status st = LAVR_OK;
    token[0] = 0;
    if (rank == aux_rank) {
        if (gethostname(note.host, sizeof note.host - 1) != 0) snprintf(note.host, sizeof note.host, "?");
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        char name[64];
        snprintf(name, sizeof name, ".lavr-shared-check.%ld.%ld", (long)getpid(), (long)now.tv_nsec);
        struct stat sb;
        int fd = -1;
        if (mkdir(a->stage, 0777) != 0 && (errno != EEXIST || stat(a->stage, &sb) != 0 || !S_ISDIR(sb.st_mode)))
            st = LAVR_FAIL(LAVR_E_ARG, "cannot create the stage directory '%s': %s", a->stage, strerror(errno));
        else if (snprintf(token, token_len, "%s/%s", a->stage, name) >= (int)token_len)
            st = LAVR_FAIL(LAVR_E_ARG, "--stage-dir '%s' is too long", a->stage);
        else if ((fd = open(token, O_WRONLY | O_CREAT | O_EXCL, 0644)) < 0)
            st = LAVR_FAIL(LAVR_E_IO, "cannot write '%s' in the stage directory: %s", token, strerror(errno));
        if (fd >= 0 && close(fd) == 0) snprintf(note.name, sizeof note.name, "%s", name);
        if (!note.name[0]) token[0] = 0;
    }
    int rc = MPI_Bcast(&note, (int)sizeof note, MPI_BYTE, aux_rank, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return lavr_mpi_fail(rc, "MPI_Bcast(stage directory check)", __FILE__, __LINE__);
    if (rank != aux_rank && note.name[0]) {
        char path[PATH_MAX + 64], host[256] = "?";
        snprintf(path, sizeof path, "%s/%s", a->stage, note.name);
        if (access(path, F_OK) != 0) {
            if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "?");
            st = LAVR_FAIL(LAVR_E_ARG,
                           "--stage-dir '%s' is not shared: rank %d on %s does not see the file the aux rank "
                           "(rank %d on %s) wrote there; every rank keeps its checkpoint part in the stage "
                           "directory, so it must be on a file system all nodes see under the same path",
                           a->stage, rank, host, aux_rank, note.host);
        }
    }
    return st;
}

/* The aux rank's hold on the render's files: the stage directory and the output, each locked for the whole
 * render (io/lock.h), so a second render with the same --out or --stage-dir stops at once, touching nothing. */
typedef struct {
    lavr_lock *stage, *out;
    int made_stage; /* the stage directory did not exist before this render */
} render_locks;

static void release_locks(render_locks *l, const render_args *a, int failed) {
    lavr_lock_release(l->out, 1);
    lavr_lock_release(l->stage, failed && l->made_stage);
    /* a render that failed before writing anything leaves no stage directory behind (rmdir: only if empty) */
    if (failed && l->made_stage) rmdir(a->stage);
    memset(l, 0, sizeof *l);
}

static lavr_status take_locks(const render_args *a, int is_aux, render_locks *l) {
    memset(l, 0, sizeof *l);
    if (!is_aux) return LAVR_OK;
    struct stat sb;
    if (mkdir(a->stage, 0777) == 0) l->made_stage = 1;
    else if (errno != EEXIST || stat(a->stage, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return LAVR_FAIL(LAVR_E_ARG, "cannot create the stage directory '%s': %s", a->stage,
                         errno == EEXIST ? "a file of that name exists" : strerror(errno));
    char path[PATH_MAX + 16], what[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/lock", a->stage);
    snprintf(what, sizeof what, "the stage directory '%s'", a->stage);
    lavr_status st = lavr_lock_take(path, what, &l->stage);
    snprintf(path, sizeof path, "%s.lock", a->job.out);
    snprintf(what, sizeof what, "the output '%s'", a->job.out);
    if (!st) st = lavr_lock_take(path, what, &l->out);
    if (st) release_locks(l, a, 1);
    return st;
}

/* LAVR_FAIL_AT="rank=R,block=B[,at=forward]": a testing aid that makes rank R fail when block B reaches it
 * (at=forward, a DiT rank: as B's first forward starts, its tp peers then waiting in the all-reduce). */
static lavr_status parse_fail_at(render_args *a) {
    a->job.fail_rank = -1;
    a->job.fail_block = -1;
    a->job.fail_in_forward = 0;
    const char *spec = getenv("LAVR_FAIL_AT");
    if (!spec || !spec[0]) return LAVR_OK;
    int rank = -1, used = 0;
    long long block = -1;
    const int fields = sscanf(spec, "rank=%d,block=%lld%n", &rank, &block, &used);
    const char *tail = fields == 2 ? spec + used : "";
    if (fields != 2 || rank < 0 || block < 0 || (*tail && strcmp(tail, ",at=forward") != 0))
        return LAVR_FAIL(LAVR_E_ARG, "LAVR_FAIL_AT='%s': use rank=R,block=B or rank=R,block=B,at=forward (a testing aid)",
                         spec);
    a->job.fail_rank = rank;
    a->job.fail_block = block;
    a->job.fail_in_forward = *tail != 0;
    return LAVR_OK;
}

static lavr_status parse(int argc, char **argv, cli_option *opts, int nopts, render_args *a) {
    TRY(cli_parse("render", argc, argv, 2, opts, nopts, NULL, 0, NULL));
    if (cli_flag(opts, nopts, "help")) return LAVR_OK;
    const char *required[] = {"model", "image", "audio", "prompt", "out"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        CHECK_ARG(cli_get(opts, nopts, required[i], NULL), "render needs --%s (see lavr render --help)", required[i]);
    a->job.model = cli_get(opts, nopts, "model", NULL);
    a->job.image = cli_get(opts, nopts, "image", NULL);
    a->job.audio = cli_get(opts, nopts, "audio", NULL);
    a->job.prompt = cli_get(opts, nopts, "prompt", NULL);
    a->job.out = cli_get(opts, nopts, "out", NULL);
    a->job.size = cli_get(opts, nopts, "size", "704*384");
    a->layout_text = cli_get(opts, nopts, "layout", "steps=4,tp=1,pp=1,aux=1");
    TRY(cli_get_int(opts, nopts, "num-clip", 0, 1, INT32_MAX, &a->job.num_clip));
    TRY(cli_get_int(opts, nopts, "seed", 0, 0, INT64_MAX, &a->job.seed));
    TRY(cli_get_int(opts, nopts, "sink-offset", 0, 0, 30, &a->job.sink_offset));
    CHECK_ARG(a->job.sink_offset == 0 || a->job.sink_offset >= 4, "--sink-offset %lld: use 4..30 (or 0 to draw it)",
              (long long)a->job.sink_offset);
    /* mpirun hands ranks a pipe for stderr, so "auto" sees a terminal only without mpirun */
    const char *progress = cli_get(opts, nopts, "progress", "auto");
    if (strcmp(progress, "auto") == 0) a->job.progress_live = isatty(STDERR_FILENO);
    else if (strcmp(progress, "live") == 0) a->job.progress_live = 1;
    else if (strcmp(progress, "lines") == 0) a->job.progress_live = 0;
    else return LAVR_FAIL(LAVR_E_ARG, "--progress '%s': use auto, live or lines", progress);
    const char *stage = cli_get(opts, nopts, "stage-dir", NULL);
    a->stage_given = stage != NULL;
    if (stage) {
        CHECK_ARG(strlen(stage) > 0 && strlen(stage) + 1 < sizeof a->stage, "--stage-dir: empty or too long");
        snprintf(a->stage, sizeof a->stage, "%s", stage);
        size_t n = strlen(a->stage);
        while (n > 1 && a->stage[n - 1] == '/') a->stage[--n] = 0;
    } else {
        /* OUT without its extension + .stage */
        snprintf(a->stage, sizeof a->stage, "%s", a->job.out);
        char *dot = strrchr(a->stage, '.'), *slash = strrchr(a->stage, '/');
        if (dot && (!slash || dot > slash)) *dot = 0;
        CHECK_ARG(strlen(a->stage) + 7 < sizeof a->stage, "--out path is too long");
        strcat(a->stage, ".stage");
    }
    const char *resume = cli_get(opts, nopts, "resume", "auto");
    if (strcmp(resume, "auto") == 0) a->job.resume = LAVR_RESUME_AUTO;
    else if (strcmp(resume, "yes") == 0) a->job.resume = LAVR_RESUME_YES;
    else if (strcmp(resume, "no") == 0) a->job.resume = LAVR_RESUME_NO;
    else return LAVR_FAIL(LAVR_E_ARG, "--resume '%s': use auto, yes or no", resume);
    int64_t seconds = 0;
    TRY(cli_get_int(opts, nopts, "checkpoint-clips", 0, 0, INT32_MAX, &a->job.policy.every_clips));
    TRY(cli_get_int(opts, nopts, "checkpoint-seconds", 600, 0, INT32_MAX, &seconds));
    TRY(cli_get_int(opts, nopts, "checkpoint-keep", 2, 1, 1000, &a->job.policy.keep_last));
    a->job.policy.every_seconds = (double)seconds;
    TRY(lavr_ckpt_policy_check(&a->job.policy));
    a->job.backend = cli_get(opts, nopts, "backend", "auto");
    int64_t aux_gpu = -1;
    TRY(cli_get_int(opts, nopts, "aux-gpu", -1, 0, 1023, &aux_gpu));
    a->job.placement = (lavr_placement){.backend = a->job.backend, .aux_backend = cli_get(opts, nopts, "aux-backend", NULL),
                                    .aux_gpu = (int)aux_gpu};
    TRY(lavr_placement_check(&a->job.placement)); /* the names and the build; each rank checks its device */
    const char *fake = getenv("LAVR_FAKE_DEVICES");
    CHECK_ARG(!fake || !fake[0], "LAVR_FAKE_DEVICES is set: it is a testing aid for lavr topo (its GPUs do not "
                                 "exist); unset it to render");
    const char *mem = cli_get(opts, nopts, "gpu-mem", NULL);
    if (mem) TRY(lavr_parse_bytes(mem, &a->job.gpu_mem));
    CHECK_ARG(!mem || a->job.gpu_mem > 0, "--gpu-mem %s: give the memory per DiT rank (e.g. 22GiB), or leave --gpu-mem out "
              "for the card's", mem);
    const char *t5 = cli_get(opts, nopts, "t5", "auto");
    CHECK_ARG(!strcmp(t5, "auto") || !strcmp(t5, "gpu") || !strcmp(t5, "host"), "--t5 '%s': use auto, gpu or host",
              t5);
    a->job.t5 = !strcmp(t5, "auto") ? LAVR_PLAN_T5_AUTO : !strcmp(t5, "gpu");
    a->job.fp8 = cli_flag(opts, nopts, "fp8");
    int64_t tune = LAVR_CONV_TUNE_DEFAULT;
    TRY(cli_get_int(opts, nopts, "conv-tune", LAVR_CONV_TUNE_DEFAULT, 1, LAVR_CONV_TUNE_MAX, &tune));
    a->job.conv_tune = (int)tune;
    a->job.keep_tail = cli_flag(opts, nopts, "keep-tail");
    a->job.summary_path = cli_get(opts, nopts, "summary-json", NULL);
    a->job.trace_path = cli_get(opts, nopts, "trace", NULL);
    CHECK_ARG(!a->job.summary_path || a->job.summary_path[0], "--summary-json: give a file name");
    CHECK_ARG(!a->job.trace_path || a->job.trace_path[0], "--trace: give a file name");
    a->job.attention = cli_get(opts, nopts, "attention", "auto");
    CHECK_ARG(!strcmp(a->job.attention, "auto") || !strcmp(a->job.attention, "cudnn") || !strcmp(a->job.attention, "own"),
              "--attention '%s': expected auto, cudnn or own", a->job.attention);
    CHECK_ARG(!a->job.fp8 || strcmp(a->job.backend, "cpu") != 0,
              "--fp8 runs on the CUDA backend only; drop --fp8 or use --backend cuda|auto");
    return parse_fail_at(a);
}

lavr_status lavr_cmd_render(int argc, char **argv) {
    cli_option opts[] = {
        {"model", "FILE", "lavr model file (lavr init / lavr convert)", NULL},
        {"image", "FILE", "portrait (JPEG, PNG, WebP)", NULL},
        {"audio", "FILE", "speech (WAV, FLAC, OGG, MP3, M4A/AAC, anything FFmpeg reads); its length sets the number of "
                     "clips and the video's; it is the video's sound (AAC copied, else encoded at 192 kb/s)", NULL},
        {"prompt", "TEXT", "text prompt", NULL},
        {"size", "W*H", "maximum area WIDTH*HEIGHT or WIDTHxHEIGHT (default 704*384); sides become multiples of 64",
         NULL},
        {"layout", "LAYOUT", "steps=S,tp=T,pp=P,aux=A; needs S*T*P+A ranks (default steps=4,tp=1,pp=1,aux=1)", NULL},
        {"out", "FILE", "output video (.mp4; .y4m writes raw Y4M + WAV)", NULL},
        {"num-clip", "N", "render at most this many clips of 48 frames (default: all the audio gives)", NULL},
        {"keep-tail", 0, "write whole clips (48 frames each, the first 3 dropped) instead of ending the video with the "
                         "speech", NULL},
        {"seed", "N", "seed of the noise and the sink offsets (default 0)", NULL},
        {"sink-offset", "D", "fixed reference offset d in 4..30 (default 0: drawn per clip, block and step)", NULL},
        {"stage-dir", "DIR", "stage directory: latents.h5, video.log.h5, conditioning.h5, checkpoints ckpt-<blocks>/ "
                         "(default: OUT with .stage instead of its extension)", NULL},
        {"resume", "auto|yes|no", "auto (continue from the stage directory's newest checkpoint of this render, if any), yes "
                      "(must continue) or no (start over, deleting its checkpoints); default auto", NULL},
        {"checkpoint-clips", "N", "checkpoint after every N clips (default 0: off)", NULL},
        {"checkpoint-seconds", "S", "checkpoint at the next clip end once T seconds passed since the last (default "
                                  "600; 0: off); a stop signal always checkpoints", NULL},
        {"checkpoint-keep", "K", "keep the newest K checkpoints (default 2)", NULL},
        {"backend", "auto|cpu|cuda", "DiT ranks and the aux rank compute on auto (cuda when built with CUDA and the node has a GPU), "
                       "cpu or cuda", NULL},
        {"aux-backend", "auto|cpu|cuda", "the aux rank on auto, cpu or cuda when it must differ from --backend", NULL},
        {"aux-gpu", "N", "node-local GPU of the aux rank (default: a GPU no DiT rank uses, else the last stage's)", NULL},
        {"t5", "auto|gpu|host", "umT5 of an aux rank on a GPU: auto (default: on that GPU when no DiT rank shares it), gpu (in its "
                  "own context, freed after the prompt encode) or host", NULL},
        {"gpu-mem", "BYTES", "memory per GPU, the whole device, e.g. 22GiB: refused before loading when the plan needs more; "
                       "each DiT rank's arena gets its planned share (default: the card's)", NULL},
        {"fp8", 0, "FP8 e4m3 Linears in the DiT (LiveAvatar's --fp8; CUDA backend): half the weight memory", NULL},
        {"attention", "auto|cudnn|own", "DiT attention on auto (cuDNN fused SDPA when available, default), cudnn or own", NULL},
        {"conv-tune", "N", "aux on a GPU: time the first N cuDNN engines per convolution shape and keep the fastest "
                       "(default 64; 1: the heuristics' first, no timing). The choices are kept in the stage directory "
                       "(conv_engines.h5: a resume takes them) and in a per-machine cache ($LAVR_CACHE_DIR, else "
                       "$XDG_CACHE_HOME/lavr or ~/.cache/lavr), so every render on one machine uses the same engines "
                       "and bytes", NULL},
        {"progress", "auto|live|lines", "live (one status line rewritten per block), lines (a line per clip) or auto (default: live "
                        "when stderr is a terminal, which it never is under mpirun)", NULL},
        {"summary-json", "FILE", "write how the render ended as JSON (frames, seconds, FPS, each rank's role, busy %, "
                                 "peak memory, exit reason), also when it fails or stops", NULL},
        {"trace", "FILE", "write a Chrome trace-event timeline (Perfetto, chrome://tracing): a track per rank, a slice "
                          "per forward, decode, encode, send and wait", NULL},
        {"help", 0, "print this help", NULL},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    TRY(lavr_mpi_start(&argc, &argv));
    render_args a;
    memset(&a, 0, sizeof a);
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    a.job.start_s = (double)started.tv_sec + 1e-9 * (double)started.tv_nsec;
    TRY_COLLECTIVE(parse(argc, argv, opts, nopts, &a));
    if (cli_flag(opts, nopts, "help")) {
        if (lavr_mpi_world_rank() == 0)
            cli_print_help(
                "usage: mpirun -np N lavr render --model FILE --image FILE --audio FILE --prompt TEXT --out FILE.mp4",
                "Renders a talking-avatar video: DiT ranks run the denoising steps in a pipeline, the aux rank\n"
                "encodes the inputs, decodes the latents and writes the video as blocks come out.\n"
                "SIGUSR1 to mpirun (or SIGUSR1/SIGTERM to the aux rank, the last one) stops at the next block\n"
                "boundary with a checkpoint and exit code 75; the same command then continues (--resume auto).\n"
                "SIGTERM to mpirun ends the job at once (Open MPI); the last periodic checkpoint remains.\n"
                "LAVR_FAIL_AT=rank=R,block=B[,at=forward] makes rank R fail at block B (a testing aid).",
                opts, nopts);
        return lavr_mpi_finish();
    }
    lavr_render_job *job = &a.job;
    job->layout_text = a.layout_text;
    if (job->summary_path && lavr_mpi_world_rank() == 0)
        TRY(lavr_render_job_ended(job, NULL, 0, lavr_render_summary_forget(job->summary_path)));
    if (job->trace_path) TRY_COLLECTIVE(lavr_trace_start());
    TRY_COLLECTIVE(lavr_layout_parse(a.layout_text, &job->layout));
    job->stage = a.stage;
    const lavr_layout *layout = &job->layout;
    const int size = lavr_mpi_world_size(), rank = lavr_mpi_world_rank();
    /* the aux rank of a well-formed run is the first after the DiT ranks; a wrong count fails below */
    const int checks_aux = rank == lavr_layout_dit_ranks(layout) || (size == 1 && rank == 0);
    lavr_model_config cfg;
    TRY(lavr_render_job_ended(job, NULL, 0, lavr_mpi_agree(check_inputs(&a, checks_aux, &cfg))));
    lavr_render_job_default_gpu_mem(job); /* without --gpu-mem: planned shares of the card's memory */
    TRY(lavr_render_job_ended(job, NULL, 0, lavr_mpi_agree(lavr_render_job_plan(job, &cfg))));
    /* the render's files, after the input checks: a refusal above leaves no stage directory */
    render_locks locks;
    TRY(lavr_render_job_ended(job, NULL, 0, lavr_mpi_agree(take_locks(&a, checks_aux, &locks))));
    lavr_status st = LAVR_OK;
    if (size > 1 && size == lavr_layout_ranks(layout)) { /* a wrong rank count fails below */
        char token[PATH_MAX + 64];
        st = lavr_mpi_agree(check_stage_shared(&a, lavr_layout_dit_ranks(layout), token, sizeof token));
        if (token[0]) unlink(token);
    }
    st = lavr_render_job_ended(job, NULL, 0, st);
    if (!st) st = lavr_render_job_run(job, &cfg);
    release_locks(&locks, &a, st && st != LAVR_E_STOPPED);
    TRY(st);
    return lavr_mpi_finish();
}
