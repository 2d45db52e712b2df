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
#include "core/signals.h"
#include "core/units.h"
#include "io/audio.h"
#include "io/h5model.h"
#include "io/image.h"
#include "io/lock.h"
#include "io/size_rule.h"
#include "io/video.h"
#include "kernels/ctx.h"
#include "models/config.h"
#include "parallel/comm.h"
#include "parallel/device.h"
#include "parallel/mpi.h"
#include "parallel/placement.h"
#include "parallel/plan.h"
#include "ranks/aux_worker.h"
#include "ranks/dit_stage.h"
#include "ranks/setup.h"

typedef struct {
    const char *model, *image, *audio, *prompt, *size, *out, *layout_text, *backend, *attention;
    lavr_placement placement; /* backends of both roles and --aux-gpu */
    int fp8;
    char stage[PATH_MAX];
    int stage_given; /* --stage-dir given (else derived from --out) */
    int64_t num_clip, seed, sink_offset;
    lavr_resume_mode resume;
    lavr_ckpt_policy policy;
    uint64_t gpu_mem;
    uint64_t arena_cap; /* this rank's device arena under --gpu-mem (the planner's share), 0: no cap */
    int progress_live;
    int fail_rank;
    int64_t fail_block;
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
    lavr_status st = lavr_image_decode(a->image, &image);
    lavr_rgb8_free(&image);
    if (st) return lavr_error_wrap(LAVR_E_ARG, "--image");
    lavr_audio audio;
    memset(&audio, 0, sizeof audio);
    st = lavr_audio_scan(a->audio, &audio);
    lavr_audio_free(&audio);
    if (st) return lavr_error_wrap(LAVR_E_ARG, "--audio");
    TRY(lavr_video_check_path(a->out));
    struct stat sb;
    const int stage_exists = stat(a->stage, &sb) == 0;
    CHECK_ARG(!stage_exists || S_ISDIR(sb.st_mode), "--stage-dir '%s' is a file, not a directory%s", a->stage,
              a->stage_given ? "" : " (the default stage directory: --out with .stage for its extension)");
    if (a->resume == LAVR_RESUME_YES) {
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

/* GPUs of the job: this node's devices times the nodes (every node alike); with no device visible, one GPU per
 * DiT rank (the layout's own assumption, so the verdict is the same on a machine without GPUs). Collective. */
static lavr_status job_gpus(const lavr_layout *layout, int *gpus) {
    MPI_Comm node;
    int local = 0, nodes = 1, first = 0;
    MPI_TRY(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
    MPI_TRY(MPI_Comm_rank(node, &local));
    MPI_TRY(MPI_Comm_free(&node));
    first = local == 0;
    MPI_TRY(MPI_Allreduce(&first, &nodes, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD));
    const int devices = lavr_device_count();
    *gpus = devices > 0 ? devices * nodes : lavr_layout_dit_ranks(layout);
    return LAVR_OK;
}

/* The planner's verdict before any weight is loaded (CUDA backend with --gpu-mem): every rank's whole-device bytes,
 * the aux rank's VAE on the GPU it shares included, against the cap per GPU; and this rank's arena share. The
 * size is the --size box, the largest area the size rule can pick for any portrait. */
static lavr_status check_plan(render_args *a, const lavr_model_config *cfg, const lavr_layout *layout) {
    a->arena_cap = 0;
    if (strcmp(a->backend, "cpu") == 0 || a->gpu_mem == 0) return LAVR_OK;
    int64_t w = 0, h = 0;
    TRY(lavr_size_parse(a->size, &w, &h));
    lavr_plan_options o = lavr_plan_options_default();
    TRY(job_gpus(layout, &o.gpus));
    o.gpu_mem = a->gpu_mem;
    o.fp8 = a->fp8;
    /* the aux on its GPU as placement puts it (--aux-backend, --aux-gpu); a model file without the encoders (a
     * DiT-only file) leaves the aux only what it has */
    o.aux_gpu = a->placement.aux_gpu;
    o.aux_on_gpu = cfg->vae.dim > 0 && lavr_backend_wants_device(lavr_placement_aux_backend(&a->placement), o.gpus);
    o.w2v_on_gpu = o.aux_on_gpu && cfg->w2v.hidden > 0;
    const int64_t pw = w / 16 * 16, ph = h / 16 * 16;
    TRY(lavr_plan_check(cfg, pw, ph, layout, &o));
    const int n = lavr_layout_ranks(layout), rank = lavr_mpi_world_rank();
    if (rank >= n) return LAVR_OK; /* a wrong rank count fails when the roles are made */
    lavr_plan_rank *ranks = calloc((size_t)n, sizeof *ranks);
    if (!ranks) return LAVR_FAIL(LAVR_E_NOMEM, "plan: %d rank rows", n);
    lavr_status st = lavr_plan_layout(cfg, pw, ph, layout, &o, ranks);
    if (!st) a->arena_cap = lavr_plan_arena_cap(ranks, n, rank, a->gpu_mem);
    free(ranks);
    return st;
}

/* What the aux rank checks before anything heavy starts (every rank checks the model). */
static lavr_status check_inputs(const render_args *a, int is_aux, lavr_model_config *cfg) {
    TRY(readable("model", a->model));
    TRY(read_model_config(a->model, cfg));
    if (!is_aux) return LAVR_OK;
    if (a->placement.aux_gpu >= 0 && strcmp(lavr_placement_aux_backend(&a->placement), "cpu") != 0) {
        int devices = 0;
        TRY(lavr_node_devices(&devices));
        CHECK_ARG(a->placement.aux_gpu < devices, "--aux-gpu %d: the aux rank's node has %d CUDA device%s",
                  a->placement.aux_gpu, devices, devices == 1 ? "" : "s");
    }
    TRY(readable("image", a->image));
    TRY(readable("audio", a->audio));
    int64_t w = 0, h = 0;
    TRY(lavr_size_parse(a->size, &w, &h));
    CHECK_ARG(a->prompt[0] != 0, "--prompt is empty");
    TRY(writable_dir_of("--out", a->out));
    TRY(writable_dir_of("--stage-dir", a->stage));
    return check_input_files(a);
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
    /* a render that failed before writing anything leaves no stage directory behind */
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
    snprintf(path, sizeof path, "%s.lock", a->out);
    snprintf(what, sizeof what, "the output '%s'", a->out);
    if (!st) st = lavr_lock_take(path, what, &l->out);
    if (st) release_locks(l, a, 1);
    return st;
}

/* LAVR_FAIL_AT="rank=R,block=B": a testing aid that makes rank R fail when block B reaches it. */
static lavr_status parse_fail_at(render_args *a) {
    a->fail_rank = -1;
    a->fail_block = -1;
    const char *spec = getenv("LAVR_FAIL_AT");
    if (!spec || !spec[0]) return LAVR_OK;
    int rank = -1;
    long long block = -1;
    char tail = 0;
    if (sscanf(spec, "rank=%d,block=%lld%c", &rank, &block, &tail) != 2 || rank < 0 || block < 0)
        return LAVR_FAIL(LAVR_E_ARG, "LAVR_FAIL_AT='%s': use rank=R,block=B (a testing aid)", spec);
    a->fail_rank = rank;
    a->fail_block = block;
    return LAVR_OK;
}

static lavr_status parse(int argc, char **argv, cli_option *opts, int nopts, render_args *a) {
    TRY(cli_parse("render", argc, argv, 2, opts, nopts, NULL, 0, NULL));
    if (cli_flag(opts, nopts, "help")) return LAVR_OK;
    const char *required[] = {"model", "image", "audio", "prompt", "out"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        CHECK_ARG(cli_get(opts, nopts, required[i], NULL), "render needs --%s (see lavr render --help)", required[i]);
    a->model = cli_get(opts, nopts, "model", NULL);
    a->image = cli_get(opts, nopts, "image", NULL);
    a->audio = cli_get(opts, nopts, "audio", NULL);
    a->prompt = cli_get(opts, nopts, "prompt", NULL);
    a->out = cli_get(opts, nopts, "out", NULL);
    a->size = cli_get(opts, nopts, "size", "704*384");
    a->layout_text = cli_get(opts, nopts, "layout", "steps=4,tp=1,pp=1,aux=1");
    TRY(cli_get_int(opts, nopts, "num-clip", 0, 1, INT32_MAX, &a->num_clip));
    TRY(cli_get_int(opts, nopts, "seed", 0, 0, INT64_MAX, &a->seed));
    TRY(cli_get_int(opts, nopts, "sink-offset", 0, 0, 30, &a->sink_offset));
    CHECK_ARG(a->sink_offset == 0 || a->sink_offset >= 4, "--sink-offset %lld: use 4..30 (or 0 to draw it)",
              (long long)a->sink_offset);
    /* mpirun hands ranks a pipe for stderr, so "auto" sees a terminal only without mpirun */
    const char *progress = cli_get(opts, nopts, "progress", "auto");
    if (strcmp(progress, "auto") == 0) a->progress_live = isatty(STDERR_FILENO);
    else if (strcmp(progress, "live") == 0) a->progress_live = 1;
    else if (strcmp(progress, "lines") == 0) a->progress_live = 0;
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
        snprintf(a->stage, sizeof a->stage, "%s", a->out);
        char *dot = strrchr(a->stage, '.'), *slash = strrchr(a->stage, '/');
        if (dot && (!slash || dot > slash)) *dot = 0;
        CHECK_ARG(strlen(a->stage) + 7 < sizeof a->stage, "--out path is too long");
        strcat(a->stage, ".stage");
    }
    const char *resume = cli_get(opts, nopts, "resume", "auto");
    if (strcmp(resume, "auto") == 0) a->resume = LAVR_RESUME_AUTO;
    else if (strcmp(resume, "yes") == 0) a->resume = LAVR_RESUME_YES;
    else if (strcmp(resume, "no") == 0) a->resume = LAVR_RESUME_NO;
    else return LAVR_FAIL(LAVR_E_ARG, "--resume '%s': use auto, yes or no", resume);
    int64_t seconds = 0;
    TRY(cli_get_int(opts, nopts, "checkpoint-clips", 0, 0, INT32_MAX, &a->policy.every_clips));
    TRY(cli_get_int(opts, nopts, "checkpoint-seconds", 600, 0, INT32_MAX, &seconds));
    TRY(cli_get_int(opts, nopts, "checkpoint-keep", 2, 1, 1000, &a->policy.keep_last));
    a->policy.every_seconds = (double)seconds;
    TRY(lavr_ckpt_policy_check(&a->policy));
    a->backend = cli_get(opts, nopts, "backend", "auto");
    int64_t aux_gpu = -1;
    TRY(cli_get_int(opts, nopts, "aux-gpu", -1, 0, 1023, &aux_gpu));
    a->placement = (lavr_placement){.backend = a->backend, .aux_backend = cli_get(opts, nopts, "aux-backend", NULL),
                                    .aux_gpu = (int)aux_gpu};
    TRY(lavr_placement_check(&a->placement)); /* the names and the build; each rank checks its device */
    const char *fake = getenv("LAVR_FAKE_DEVICES");
    CHECK_ARG(!fake || !fake[0], "LAVR_FAKE_DEVICES is set: it is a testing aid for lavr topo (its GPUs do not "
                                 "exist); unset it to render");
    const char *mem = cli_get(opts, nopts, "gpu-mem", NULL);
    if (mem) TRY(lavr_parse_bytes(mem, &a->gpu_mem));
    CHECK_ARG(!mem || a->gpu_mem > 0, "--gpu-mem %s: give the memory per DiT rank (e.g. 22GiB), or leave --gpu-mem out "
              "for the card's", mem);
    a->fp8 = cli_flag(opts, nopts, "fp8");
    a->attention = cli_get(opts, nopts, "attention", "auto");
    CHECK_ARG(!strcmp(a->attention, "auto") || !strcmp(a->attention, "cudnn") || !strcmp(a->attention, "own"),
              "--attention '%s': expected auto, cudnn or own", a->attention);
    CHECK_ARG(!a->fp8 || strcmp(a->backend, "cpu") != 0,
              "--fp8 runs on the CUDA backend only; drop --fp8 or use --backend cuda|auto");
    return parse_fail_at(a);
}

/* The backend this rank computes on, from its option and the device placement gave it. */
static lavr_status resolve_backend(const render_args *a, const lavr_roles *roles, lavr_backend *out) {
    *out = LAVR_BACKEND_CPU;
    if (roles->role.is_dit) return lavr_backend_resolve(a->backend, roles->device, out);
    if (roles->role.aux_index > 0) return LAVR_OK; /* an idle aux rank computes nothing */
    const char *text = lavr_placement_aux_backend(&a->placement);
    CHECK_ARG(strcmp(text, "cuda") != 0 || roles->device >= 0,
              "--%s cuda: the aux rank (rank %d on %s) sees no CUDA device%s", a->placement.aux_backend ? "aux-backend"
              : "backend", roles->world_rank, roles->host, a->placement.aux_backend ? "" : " (--aux-backend cpu keeps "
              "the aux on the host)");
    return lavr_backend_resolve(text, roles->device, out);
}

static lavr_status run_role(const render_args *a, const lavr_roles *roles, lavr_comm *comm) {
    lavr_stream_options stream = {.seed = (uint64_t)a->seed, .fixed_sink_offset = a->sink_offset};
    int64_t fail_block = roles->world_rank == a->fail_rank ? a->fail_block : -1;
    lavr_backend backend;
    TRY(resolve_backend(a, roles, &backend));
    if (roles->role.is_dit) {
        lavr_dit_stage_options o = {.model_path = a->model, .stage_dir = a->stage, .backend = backend,
                                    .gpu_mem_bytes = a->arena_cap, .fp8 = a->fp8, .attention = a->attention,
                                    .stream = stream, .fail_block = fail_block};
        return lavr_dit_stage_run(comm, roles, &o);
    }
    if (roles->role.aux_index == 0) {
        char layout[96];
        lavr_layout_format(&roles->layout, layout, sizeof layout);
        lavr_aux_options o = {.model_path = a->model, .image_path = a->image, .audio_path = a->audio,
                              .prompt = a->prompt, .size = a->size, .out_path = a->out, .stage_dir = a->stage,
                              .resume = a->resume, .policy = a->policy, .max_clips = a->num_clip, .stream = stream, .layout_text = layout, .fp8 = a->fp8,
                              .progress_live = a->progress_live, .fail_block = fail_block,
                              .backend = backend, .device = roles->device};
        /* the VAE (portrait encode, streaming decode) on the aux rank's GPU when its backend is cuda */
        lavr_status st = LAVR_OK;
        if (backend == LAVR_BACKEND_CUDA) {
            lavr_ctx_cuda_options co = {.device = roles->device, .name = "aux vae"};
            st = lavr_ctx_create_cuda(&co, &o.vae_ctx);
        }
        if (!st) st = lavr_aux_run(comm, roles, &o);
        lavr_ctx_destroy(o.vae_ctx);
        return st;
    }
    /* an extra aux rank: nothing to compute; it takes part in the setup broadcast and the end only */
    lavr_render_setup setup;
    const int aux_rank = lavr_layout_dit_ranks(&roles->layout);
    lavr_status st = lavr_mpi_agree(LAVR_OK); /* the other ranks' verdict before the setup (ranks/dit_stage.c) */
    if (!st) st = lavr_setup_bcast(comm, aux_rank, &setup);
    lavr_setup_free(&setup);
    int64_t stopped_at = -1;
    if (!st) st = lavr_setup_end(comm, aux_rank, &stopped_at);
    if (!st) st = lavr_mpi_agree(LAVR_OK); /* and after the end (the aux rank's fault) */
    if (!st && stopped_at >= 0) st = lavr_error_set(LAVR_E_STOPPED, __FILE__, __LINE__, "stopped after a checkpoint");
    return st;
}

lavr_status lavr_cmd_render(int argc, char **argv) {
    cli_option opts[] = {
        {"model", 1, "lavr model file (lavr init / lavr convert)", NULL},
        {"image", 1, "portrait (JPEG, PNG, WebP)", NULL},
        {"audio", 1, "speech (WAV, FLAC, OGG, MP3); its length sets the number of clips", NULL},
        {"prompt", 1, "text prompt", NULL},
        {"size", 1, "maximum area WIDTH*HEIGHT (default 704*384); sides become multiples of 64", NULL},
        {"layout", 1, "steps=S,tp=T,pp=P,aux=A; needs S*T*P+A ranks (default steps=4,tp=1,pp=1,aux=1)", NULL},
        {"out", 1, "output video (.mp4; .y4m writes raw Y4M + WAV)", NULL},
        {"num-clip", 1, "render at most this many clips of 48 frames (default: all the audio gives)", NULL},
        {"seed", 1, "seed of the noise and the sink offsets (default 0)", NULL},
        {"sink-offset", 1, "fixed reference offset d in 4..30 (default 0: drawn per clip, block and step)", NULL},
        {"stage-dir", 1, "stage directory: latents.h5, video.log.h5, conditioning.h5, checkpoints ckpt-<blocks>/ "
                         "(default: OUT with .stage instead of its extension)", NULL},
        {"resume", 1, "auto (continue from the stage directory's newest checkpoint of this render, if any), yes "
                      "(must continue) or no (start over, deleting its checkpoints); default auto", NULL},
        {"checkpoint-clips", 1, "checkpoint after every N clips (default 0: off)", NULL},
        {"checkpoint-seconds", 1, "checkpoint at the next clip end once T seconds passed since the last (default "
                                  "600; 0: off); a stop signal always checkpoints", NULL},
        {"checkpoint-keep", 1, "keep the newest K checkpoints (default 2)", NULL},
        {"backend", 1, "DiT ranks and the aux rank compute on auto (cuda when built with CUDA and the node has a GPU), "
                       "cpu or cuda", NULL},
        {"aux-backend", 1, "the aux rank on auto, cpu or cuda when it must differ from --backend", NULL},
        {"aux-gpu", 1, "node-local GPU of the aux rank (default: a GPU no DiT rank uses, else the last stage's)", NULL},
        {"gpu-mem", 1, "memory per GPU, the whole device, e.g. 22GiB: refused before loading when the plan needs more; "
                       "each DiT rank's arena gets its planned share (default: the card's)", NULL},
        {"fp8", 0, "FP8 e4m3 Linears in the DiT (LiveAvatar's --fp8; CUDA backend): half the weight memory", NULL},
        {"attention", 1, "DiT attention on auto (cuDNN fused SDPA when available, default), cudnn or own", NULL},
        {"progress", 1, "live (one status line rewritten per block), lines (a line per clip) or auto (default: live "
                        "when stderr is a terminal, which it never is under mpirun)", NULL},
        {"help", 0, "print this help", NULL},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    TRY(lavr_mpi_start(&argc, &argv));
    render_args a;
    memset(&a, 0, sizeof a);
    TRY_COLLECTIVE(parse(argc, argv, opts, nopts, &a));
    if (cli_flag(opts, nopts, "help")) {
        if (lavr_mpi_world_rank() == 0)
            cli_print_help(
                "usage: mpirun -np N lavr render --model M.h5 --image F --audio F --prompt TEXT --out out.mp4\n"
                "           [--size 704*384] [--layout steps=4,tp=1,pp=1,aux=1] [--num-clip K] [--seed S]\n"
                "           [--sink-offset D] [--stage-dir out.stage] [--resume auto|yes|no] [--checkpoint-clips N]\n"
                "           [--checkpoint-seconds T] [--checkpoint-keep K] [--backend auto|cpu|cuda]\n"
                "           [--aux-backend auto|cpu|cuda] [--aux-gpu N]\n"
                "           [--gpu-mem 22GiB] [--fp8] [--attention auto|cudnn|own] [--progress auto|live|lines]\n"
                "Renders a talking-avatar video: DiT ranks run the denoising steps in a pipeline, the aux rank\n"
                "encodes the inputs, decodes the latents and writes the video as blocks come out.\n"
                "SIGUSR1 to mpirun (or SIGUSR1/SIGTERM to the aux rank, the last one) stops at the next block\n"
                "boundary with a checkpoint and exit code 75; the same command then continues (--resume auto).\n"
                "SIGTERM to mpirun ends the job at once (Open MPI); the last periodic checkpoint remains.\n"
                "LAVR_FAIL_AT=rank=R,block=B makes rank R fail at block B (a testing aid).",
                opts, nopts);
        return lavr_mpi_finish();
    }
    lavr_layout layout;
    TRY_COLLECTIVE(lavr_layout_parse(a.layout_text, &layout));
    const int size = lavr_mpi_world_size(), rank = lavr_mpi_world_rank();
    /* the aux rank of a well-formed run is the first after the DiT ranks; a wrong count fails below */
    const int checks_aux = rank == lavr_layout_dit_ranks(&layout) || (size == 1 && rank == 0);
    lavr_model_config cfg;
    TRY(lavr_mpi_agree(check_inputs(&a, checks_aux, &cfg)));
    TRY(lavr_mpi_agree(check_plan(&a, &cfg, &layout)));
    const lavr_dit_config dit = cfg.dit;
    lavr_roles *roles = NULL;
    TRY(lavr_mpi_roles_create(&layout, dit.num_heads, dit.ffn_dim, dit.num_layers, &roles));
    lavr_comm *comm = NULL;
    lavr_backend backend;
    render_locks locks;
    memset(&locks, 0, sizeof locks);
    lavr_status st = lavr_mpi_roles_place(roles, &a.placement);
    if (!st) st = lavr_mpi_agree(resolve_backend(&a, roles, &backend)); /* every rank's device, before any weight loads */
    /* the render's files, last of the checks: a refusal above leaves no stage directory */
    if (!st) st = lavr_mpi_agree(take_locks(&a, checks_aux, &locks));
    if (!st && size > 1) {
        char token[PATH_MAX + 64];
        st = lavr_mpi_agree(check_stage_shared(&a, lavr_layout_dit_ranks(&layout), token, sizeof token));
        if (token[0]) unlink(token);
        if (st) release_locks(&locks, &a, 1);
    }
    if (!st) st = lavr_signals_install();
    if (!st) st = lavr_comm_world(&comm);
    if (!st) st = run_role(&a, roles, comm);
    release_locks(&locks, &a, 0);
    lavr_comm_destroy(comm);
    lavr_mpi_roles_destroy(roles);
    lavr_signals_restore();
    if (st == LAVR_E_STOPPED) lavr_mpi_mark_collective_failure(); /* every rank stops alike; rank 0 says so */
    TRY(st);
    return lavr_mpi_finish();
}
