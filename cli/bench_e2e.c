/* `lavr bench --e2e`: the render's own roles (ranks/render_job.c) with weights generated on each rank (a generated
 * model, models/generated_model.h: the DiT's layers on its device as `lavr bench` makes them), from a portrait and
 * speech through the encoders, the DiT stages, the streaming VAE decode and the video writer. The aux rank reports
 * each encoder's setup time, the time to the first frame, ms per block of every role, its share of its GPU, FPS
 * and device memory per rank and per GPU against the planner. */
#include "cli/bench_e2e.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "core/log.h"
#include "core/units.h"
#include "io/image.h"
#include "io/sample_inputs.h"
#include "io/size_rule.h"
#include "parallel/device.h"
#include "parallel/mpi.h"
#include "parallel/plan.h"
#include "ranks/render_job.h"
#include "ranks/trace_file.h"

#define FRAMES_PER_BLOCK 12 /* video frames of a block of 3 latents */
#define DROPPED_FRAMES 3    /* the first decoded frames the render drops (liveavatar-system §1.9) */
#define CLIP_SECONDS 1.92   /* 48 frames at 25 FPS */

typedef struct {
    lavr_render_job job;
    lavr_generated_model model;
    const char *layout_text;
    int64_t width, height, blocks;
    char scratch[PATH_MAX];             /* inputs and the discarded video (aux rank; "" none) */
    char image[PATH_MAX + 32], audio[PATH_MAX + 32], out[PATH_MAX + 32];
    int made_image, made_audio, discard;
    int cap_default;      /* --gpu-mem not given: the card's memory less 2 GiB (lavr_render_job_default_gpu_mem) */
    double audio_seconds; /* of the synthetic audio */
    lavr_plan_options plan;
} e2e_args;

static lavr_status parse(int argc, char **argv, cli_option *opts, int nopts, e2e_args *a) {
    TRY(cli_parse("bench", argc, argv, 2, opts, nopts, NULL, 0, NULL));
    if (cli_flag(opts, nopts, "help")) return LAVR_OK;
    lavr_render_job *j = &a->job;
    int64_t seed = 0;
    TRY(cli_get_int(opts, nopts, "seed", 1, 0, INT64_MAX, &seed));
    TRY(lavr_config_preset(cli_get(opts, nopts, "config", "s2v-14b"), &a->model.cfg));
    a->model.seed = (uint64_t)seed;
    j->seed = seed;
    j->generated = &a->model;
    j->size = cli_get(opts, nopts, "size", "704*384");
    TRY(lavr_size_parse(j->size, &a->width, &a->height));
    CHECK_ARG(a->width % 16 == 0 && a->height % 16 == 0 && a->width >= 64 && a->height >= 64,
              "bench --e2e: size %lldx%lld must be multiples of 16 and at least 64", (long long)a->width,
              (long long)a->height);
    a->layout_text = cli_get(opts, nopts, "layout", "steps=4,tp=1,pp=1,aux=1");
    TRY(lavr_layout_parse(a->layout_text, &j->layout)); /* aux >= 1: the aux rank is part of the render */
    const lavr_dit_config *d = &a->model.cfg.dit;
    TRY(lavr_layout_check(&j->layout, d->num_heads, d->ffn_dim, d->num_layers));
    CHECK_ARG(!(cli_get(opts, nopts, "blocks", NULL) && cli_get(opts, nopts, "num-clip", NULL)),
              "bench --e2e: give --blocks or --num-clip, not both");
    TRY(cli_get_int(opts, nopts, "blocks", 8, 4, 400000, &a->blocks));
    CHECK_ARG(a->blocks % LAVR_BLOCKS_PER_CLIP == 0, "bench --e2e: --blocks %lld: the render works in clips of %d "
              "blocks, use a multiple of %d (or --num-clip)", (long long)a->blocks, LAVR_BLOCKS_PER_CLIP,
              LAVR_BLOCKS_PER_CLIP);
    TRY(cli_get_int(opts, nopts, "num-clip", a->blocks / LAVR_BLOCKS_PER_CLIP, 1, 100000, &j->num_clip));
    a->blocks = j->num_clip * LAVR_BLOCKS_PER_CLIP;
    j->keep_tail = 1; /* every computed frame is written: the benchmark measures whole clips */
    j->backend = cli_get(opts, nopts, "backend", "auto");
    int64_t aux_gpu = -1;
    TRY(cli_get_int(opts, nopts, "aux-gpu", -1, 0, 1023, &aux_gpu));
    j->placement = (lavr_placement){.backend = j->backend, .aux_backend = cli_get(opts, nopts, "aux-backend", NULL),
                                    .aux_gpu = (int)aux_gpu};
    TRY(lavr_placement_check(&j->placement));
    /* the full model on the host would take hours per block: a benchmark of it measures nothing useful */
    const int host_dit = !strcmp(j->backend, "cpu") || (!strcmp(j->backend, "auto") && lavr_device_count() == 0);
    CHECK_ARG(!host_dit || strcmp(a->model.cfg.preset, "tiny") == 0,
              "bench --e2e: the %s DiT on the CPU backend takes hours per block; run it on GPUs (--backend cuda) or "
              "use --config tiny", a->model.cfg.preset);
    const char *t5 = cli_get(opts, nopts, "t5", "auto");
    CHECK_ARG(!strcmp(t5, "auto") || !strcmp(t5, "gpu") || !strcmp(t5, "host"), "--t5 '%s': use auto, gpu or host",
              t5);
    j->t5 = !strcmp(t5, "auto") ? LAVR_PLAN_T5_AUTO : !strcmp(t5, "gpu");
    j->fp8 = cli_flag(opts, nopts, "fp8");
    CHECK_ARG(!j->fp8 || strcmp(j->backend, "cpu") != 0, "--fp8 runs on the CUDA backend only; drop --fp8 or use "
              "--backend cuda|auto");
    j->attention = cli_get(opts, nopts, "attention", "auto");
    CHECK_ARG(!strcmp(j->attention, "auto") || !strcmp(j->attention, "cudnn") || !strcmp(j->attention, "own"),
              "--attention '%s': expected auto, cudnn or own", j->attention);
    const char *mem = cli_get(opts, nopts, "gpu-mem", NULL);
    if (mem) TRY(lavr_parse_bytes(mem, &j->gpu_mem));
    CHECK_ARG(!mem || j->gpu_mem > 0, "--gpu-mem %s: give the memory per GPU (e.g. 22GiB)", mem);
    j->prompt = cli_get(opts, nopts, "prompt", "a person talking to the camera, soft natural lighting");
    CHECK_ARG(j->prompt[0], "--prompt is empty");
    const char *image = cli_get(opts, nopts, "image", NULL), *audio = cli_get(opts, nopts, "audio", NULL);
    const char *out = cli_get(opts, nopts, "out", NULL);
    if (image) CHECK_ARG(access(image, R_OK) == 0, "image '%s' does not exist or is not readable", image);
    if (audio) CHECK_ARG(access(audio, R_OK) == 0, "audio '%s' does not exist or is not readable", audio);
    /* the synthetic audio: as long as the clips need, or longer (wav2vec2 encodes all of it) */
    const double need = CLIP_SECONDS * (double)j->num_clip - 0.4;
    int64_t seconds = 0;
    TRY(cli_get_int(opts, nopts, "audio-seconds", 0, 1, 36000, &seconds));
    CHECK_ARG(!seconds || !audio,
              "bench --e2e: --audio-seconds sets the synthetic audio's length; drop it with --audio");
    CHECK_ARG(!seconds || (double)seconds >= need, "bench --e2e: --audio-seconds %lld: %lld clips need %.2f s",
              (long long)seconds, (long long)j->num_clip, need);
    a->audio_seconds = seconds ? (double)seconds : need;
    snprintf(a->image, sizeof a->image, "%s", image ? image : "");
    snprintf(a->audio, sizeof a->audio, "%s", audio ? audio : "");
    snprintf(a->out, sizeof a->out, "%s", out ? out : "");
    a->discard = !out;
    if (out) {
        const char *dot = strrchr(out, '.'), *slash = strrchr(out, '/');
        const int y4m = dot && (!slash || dot > slash) && strcmp(dot, ".y4m") == 0;
        CHECK_ARG(y4m || LAVR_HAVE_FFMPEG, "--out '%s': this build has no FFmpeg and writes only .y4m", out);
        char dir[PATH_MAX];
        const int len = !slash ? 1 : slash == out ? 1 : (int)(slash - out);
        snprintf(dir, sizeof dir, "%.*s", len, slash ? out : ".");
        CHECK_ARG(access(dir, W_OK) == 0, "--out '%s': directory '%s' does not exist or is not writable", out, dir);
    }
    char text[96];
    lavr_layout_format(&j->layout, text, sizeof text);
    CHECK_ARG(lavr_layout_ranks(&j->layout) == lavr_mpi_world_size(),
              "bench --e2e: layout %s needs %d ranks (mpirun -np %d), mpirun started %d", text,
              lavr_layout_ranks(&j->layout), lavr_layout_ranks(&j->layout), lavr_mpi_world_size());
    j->resume = LAVR_RESUME_NO;
    j->policy = (lavr_ckpt_policy){.every_clips = 0, .every_seconds = 0, .keep_last = 1};
    j->fail_rank = -1;
    j->fail_block = -1;
    j->trace_path = cli_get(opts, nopts, "trace", NULL);
    CHECK_ARG(!j->trace_path || j->trace_path[0], "--trace: give a file name");
    return LAVR_OK;
}

/* The aux rank's inputs and output: the user's files, else a portrait drawn at the video's size and audio for the
 * clips, in a scratch directory; the video there (discarded) without --out. */
static lavr_status prepare_files(e2e_args *a, int is_aux) {
    lavr_render_job *j = &a->job;
    j->image = a->image;
    j->audio = a->audio;
    j->out = a->out;
    if (!is_aux) return LAVR_OK;
    if (!a->image[0] || !a->audio[0] || a->discard) {
        const char *tmp = getenv("TMPDIR");
        snprintf(a->scratch, sizeof a->scratch, "%s/lavr-bench-e2e-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(a->scratch)) {
            a->scratch[0] = 0;
            return LAVR_FAIL(LAVR_E_IO, "bench --e2e: cannot make a scratch directory under %s", tmp ? tmp : "/tmp");
        }
    }
    if (!a->image[0]) {
        /* PNG needs FFmpeg to be read back; without it lavr reads binary PPM itself */
        snprintf(a->image, sizeof a->image, "%s/portrait.%s", a->scratch, LAVR_HAVE_FFMPEG ? "png" : "ppm");
        TRY(LAVR_HAVE_FFMPEG ? lavr_sample_portrait_png(a->image, a->width, a->height)
                             : lavr_sample_portrait_ppm(a->image, a->width, a->height));
        a->made_image = 1;
    }
    if (!a->audio[0]) {
        snprintf(a->audio, sizeof a->audio, "%s/speech.wav", a->scratch);
        TRY(lavr_sample_voice_wav(a->audio, a->audio_seconds));
        a->made_audio = 1;
    }
    if (a->discard) snprintf(a->out, sizeof a->out, "%s/video.y4m", a->scratch);
    return LAVR_OK;
}

static void remove_scratch(const e2e_args *a) {
    if (!a->scratch[0]) return;
    const char *names[] = {"portrait.png", "portrait.ppm", "speech.wav", "video.y4m", "video.wav"};
    char path[PATH_MAX + 32];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", a->scratch, names[i]);
        unlink(path);
    }
    rmdir(a->scratch);
}

static double gib(uint64_t b) { return (double)b / (double)(1ull << 30); }
static double pct(double measured, double planned) { return planned > 0 ? 100.0 * (measured - planned) / planned : 0; }

/* The device part of the report: each rank's reservation and peak against the planner's arena, then every GPU's
 * whole-device need (in use minus what the reservations left unused) against the planner's ranks on it. */
static void report_memory(const lavr_aux_stats *s, const lavr_plan_rank *plan, int aux_rank) {
    const int n = s->ndit + 1;
    printf("device memory (GiB): reserved = the rank's arena (aux: its context's arena and library workspaces), peak = "
           "its high-water mark; plan-peak = the planner's arena for it (aux: with its workspaces), plan-all = the "
           "planner's whole device for it (parallel/plan.h)\n");
    printf("%4s %-16s %7s %9s %9s %9s %8s %9s\n", "rank", "role", "device", "reserved", "peak", "plan-peak", "diff",
           "plan-all");
    int any_gpu = 0;
    for (int r = 0; r < n; r++) {
        const int is_aux = r == s->ndit;
        const int dev = is_aux ? s->device : (int)s->dit[r].device;
        const uint64_t reserved = is_aux ? s->reserved : s->dit[r].reserved, peak = is_aux ? s->peak : s->dit[r].peak;
        const lavr_plan_rank *p = &plan[is_aux ? aux_rank : r];
        const uint64_t plan_peak = p->arena + (is_aux ? p->blas + p->cudnn : 0);
        char device[16];
        lavr_device_name(dev, device, sizeof device);
        if (dev < 0) {
            printf("%4d %-16s %7s %9s %9s %9.2f %8s %9.2f\n", is_aux ? aux_rank : r, p->role, "host", "-", "-",
                   gib(plan_peak), "n/a", gib(p->total));
            continue;
        }
        any_gpu = 1;
        printf("%4d %-16s %7s %9.2f %9.2f %9.2f %+7.1f%% %9.2f\n", is_aux ? aux_rank : r, p->role, device,
               gib(reserved), gib(peak), gib(plan_peak), pct((double)peak, (double)plan_peak), gib(p->total));
    }
    if (!any_gpu) {
        printf("GPU memory: none (every rank computed on the host)\n");
        return;
    }
    for (int g = 0; g < 1024; g++) {
        uint64_t used = 0, unused = 0, planned = 0;
        int ranks = 0;
        char list[256] = "";
        for (int r = 0; r < n; r++) {
            const int is_aux = r == s->ndit;
            const int dev = is_aux ? s->device : (int)s->dit[r].device;
            if (dev != g) continue;
            const uint64_t u = is_aux ? s->device_used : s->dit[r].device_used;
            const uint64_t res = is_aux ? s->reserved : s->dit[r].reserved, pk = is_aux ? s->peak : s->dit[r].peak;
            if (u > used) used = u;
            unused += res > pk ? res - pk : 0;
            planned += plan[is_aux ? aux_rank : r].total;
            const size_t at = strlen(list);
            snprintf(list + at, sizeof list - at, "%s%d", ranks++ ? "," : "", is_aux ? aux_rank : r);
        }
        if (!ranks) continue;
        const uint64_t need = used > unused ? used - unused : 0;
        printf("GPU %d (rank%s %s): in use %.2f GiB (cudaMemGetInfo, every process on it), need %.2f GiB (in use "
               "minus unused reservations), plan %.2f GiB: %+.1f%%\n", g, ranks == 1 ? "" : "s", list, gib(used),
               gib(need), gib(planned), pct((double)need, (double)planned));
    }
}

static void report(const e2e_args *a, const lavr_aux_stats *s, int aux_rank) {
    const lavr_render_job *j = &a->job;
    const lavr_model_config *cfg = &a->model.cfg;
    char layout[96], cap[64] = "none";
    lavr_layout_format(&j->layout, layout, sizeof layout);
    if (j->gpu_mem) lavr_format_bytes(j->gpu_mem, cap, sizeof cap);
    if (a->cap_default) snprintf(cap + strlen(cap), sizeof cap - strlen(cap), " (the card's less 2 GiB)");
    const int ranks = lavr_layout_ranks(&j->layout);
    lavr_plan_rank *plan = calloc((size_t)ranks, sizeof *plan);
    const int planned = plan && !lavr_plan_layout(cfg, s->width, s->height, &j->layout, &a->plan, plan);
    printf("bench --e2e: %s at %lldx%lld, layout %s (%d ranks), %lld blocks (%lld clip%s), weights generated on each "
           "rank (seed %llu), --backend %s%s, device cap %s\n", cfg->preset, (long long)s->width, (long long)s->height,
           layout, ranks, (long long)s->blocks, (long long)j->num_clip, j->num_clip == 1 ? "" : "s",
           (unsigned long long)a->model.seed, j->backend, j->fp8 ? ", FP8 Linears" : "", cap);
    char audio_what[96] = "given";
    if (a->made_audio)
        snprintf(audio_what, sizeof audio_what, "synthetic voiced signal of %.2f s, not speech", a->audio_seconds);
    printf("inputs: image %s (%s), audio %s (%s), prompt \"%s\"; video %s\n", j->image,
           a->made_image ? "drawn by lavr" : "given", j->audio, audio_what, j->prompt,
           a->discard ? "written as Y4M to a scratch file and discarded" : j->out);
    if (!LAVR_HAVE_FFMPEG || !LAVR_HAVE_SNDFILE)
        printf("media: this build has no %s%s%s: %s\n", LAVR_HAVE_FFMPEG ? "" : "FFmpeg",
               !LAVR_HAVE_FFMPEG && !LAVR_HAVE_SNDFILE ? " and no " : "", LAVR_HAVE_SNDFILE ? "" : "libsndfile",
               "lavr reads the portrait as PPM and the audio as 16 kHz 16-bit WAV itself, and writes Y4M");
    printf("setup (s, each with its weights' load; gen = making the weights, rest = the load's copies and the encode): "
           "VAE encode of the reference and %lld motion frames %.3f (gen %.3f, rest %.3f), umT5 %.3f (gen %.3f, rest "
           "%.3f), wav2vec2 %.3f (gen %.3f, rest %.3f); setup broadcast at %.3f (every rank ready: the DiT ranks' "
           "weights made)\n", (long long)cfg->dit.motion_frames, s->image_s, s->gen_vae_s, s->image_s - s->gen_vae_s,
           s->text_s, s->gen_t5_s, s->text_s - s->gen_t5_s, s->audio_s, s->gen_w2v_s, s->audio_s - s->gen_w2v_s,
           s->setup_s);
    printf("time to first frame: %.3f s from the aux rank's start (model, encoders, every rank's weights, sink "
           "prefill, block 0 through every stage, its decode and write); %.3f s after the setup broadcast\n",
           s->first_frame_s, s->first_frame_s - s->setup_s);
    const double nb = (double)(s->blocks > 0 ? s->blocks : 1);
    printf("per block (ms): busy = the role's own work per block; interval = time between its blocks after the "
           "first\n");
    printf("%4s %-22s %7s %10s %10s\n", "rank", "role", "device", "busy", "interval");
    for (int r = 0; r < s->ndit; r++) {
        const lavr_dit_report *d = &s->dit[r];
        char device[16], role[40];
        lavr_device_name((int)d->device, device, sizeof device);
        snprintf(role, sizeof role, "%s", planned ? plan[r].role : "dit");
        const double interval =
            d->blocks > 1 ? 1e3 * (d->last_block_s - d->first_block_s) / (double)(d->blocks - 1) : 0;
        printf("%4d %-22s %7s %10.1f %10.1f\n", r, role, device, 1e3 * d->busy_s / (double)(d->blocks ? d->blocks : 1),
               interval);
    }
    char device[16];
    lavr_device_name(s->device, device, sizeof device);
    const double aux_interval =
        s->blocks > 1 ? 1e3 * (s->last_block_s - s->first_block_s) / (double)(s->blocks - 1) : 0;
    printf("%4d %-22s %7s %10.1f %10.1f\n", aux_rank, "aux: VAE decode", device, 1e3 * s->decode_s / nb, aux_interval);
    printf("%4d %-22s %7s %10.1f %10s\n", aux_rank, "aux: video write", "host", 1e3 * s->write_s / nb, "-");
    if (s->device >= 0)
        printf("aux share of its GPU: %.1f%% (VAE decode %.3f s of %.3f s rendering; MPS %s)\n",
               100.0 * s->decode_s / s->render_s, s->decode_s, s->render_s, lavr_device_mps(s->device) ? "on" : "off");
    else
        printf("aux share of its GPU: n/a (the aux computes on the host; VAE decode %.3f s of %.3f s rendering)\n",
               s->decode_s, s->render_s);
    const int64_t expect = s->blocks * FRAMES_PER_BLOCK - DROPPED_FRAMES;
    const double fps = s->render_s > 0 ? (double)s->frames / s->render_s : 0;
    const double steady = s->blocks > 1 && s->last_block_s > s->first_block_s
                              ? (double)((s->blocks - 1) * FRAMES_PER_BLOCK) / (s->last_block_s - s->first_block_s)
                              : 0;
    int on_gpu = s->device >= 0;
    for (int r = 0; r < s->ndit; r++) on_gpu |= s->dit[r].device >= 0;
    char plan_fps[64] = "n/a (the planner models GPUs; every rank computed on the host)";
    if (planned && on_gpu) snprintf(plan_fps, sizeof plan_fps, "%.2f FPS", lavr_plan_fps(cfg, plan, ranks));
    printf("frames: %lld written (%lld blocks x %d - %d dropped = %lld) in %.3f s rendering -> %.2f FPS; steady "
           "%.2f FPS (blocks 2..%lld); plan %s\n", (long long)s->frames, (long long)s->blocks, FRAMES_PER_BLOCK,
           DROPPED_FRAMES, (long long)expect, s->render_s, fps, steady, (long long)s->blocks, plan_fps);
    if (planned) report_memory(s, plan, aux_rank);
    free(plan);
}

lavr_status lavr_bench_e2e(int argc, char **argv) {
    cli_option opts[] = {
        {"e2e", 0, "the whole render: every role, generated weights", NULL},
        {"config", "PRESET", "model preset: s2v-14b (default) or tiny", NULL},
        {"size", "W*H", "video size W*H in pixels, multiples of 16 (default 704*384)", NULL},
        {"layout", "LAYOUT", "steps=S,tp=T,pp=P,aux=1: S*T*P + 1 ranks (default steps=4,tp=1,pp=1,aux=1)", NULL},
        {"blocks", "N", "blocks to render, a multiple of 4 (default 8: two clips)", NULL},
        {"num-clip", "K", "clips to render instead (4 blocks, 48 frames each)", NULL},
        {"image", "FILE", "portrait (default: one drawn by lavr at the video's size)", NULL},
        {"audio", "FILE", "speech (default: a synthetic voiced signal as long as the clips need)", NULL},
        {"audio-seconds", "S", "length of the synthetic audio, at least what the clips need (wav2vec2 encodes all of "
                             "it; the render uses the clips' part)", NULL},
        {"prompt", "TEXT", "text prompt (default: a short description)", NULL},
        {"out", "FILE", "keep the video here (.mp4 or .y4m); default: written as Y4M to a scratch file and discarded", NULL},
        {"seed", "N", "seed of the generated weights and the noise (default 1)", NULL},
        {"backend", "auto|cpu|cuda", "auto (default), cpu or cuda, as lavr render", NULL},
        {"aux-backend", "auto|cpu|cuda", "the aux rank on auto, cpu or cuda when it must differ from --backend", NULL},
        {"aux-gpu", "N", "node-local GPU of the aux rank (default: a free GPU, else the last stage's)", NULL},
        {"gpu-mem", "BYTES", "memory per GPU, e.g. 22GiB: refused when the plan needs more; the arenas get the planned "
                       "shares (default: the card's memory less 2 GiB)", NULL},
        {"t5", "auto|gpu|host", "umT5 of an aux rank on a GPU: auto (there when no DiT rank shares it), gpu or host, as lavr render",
         NULL},
        {"fp8", 0, "FP8 e4m3 Linears in the DiT (CUDA)", NULL},
        {"attention", "auto|cudnn|own", "DiT attention on auto, cudnn or own", NULL},
        {"trace", "FILE", "write a Chrome trace-event timeline, a track per rank, as lavr render --trace", NULL},
        {"help", 0, "print this help", NULL},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    TRY(lavr_mpi_start(&argc, &argv));
    e2e_args a;
    memset(&a, 0, sizeof a);
    TRY_COLLECTIVE(parse(argc, argv, opts, nopts, &a));
    if (cli_flag(opts, nopts, "help")) {
        if (lavr_mpi_world_rank() == 0)
            cli_print_help("usage: mpirun -np S*T*P+1 lavr bench --e2e [--config s2v-14b] [--size 704*384]\n"
                           "           [--layout steps=S,tp=T,pp=P,aux=1] [--blocks N | --num-clip K] [--image F]\n"
                           "           [--audio F | --audio-seconds S] [--prompt TEXT] [--out video.mp4|.y4m]\n"
                           "           [--backend auto|cpu|cuda] [--aux-backend B] [--aux-gpu N] [--gpu-mem M] [--fp8]\n"
                           "           [--t5 auto|gpu|host] [--attention auto|cudnn|own] [--seed S] [--trace FILE]",
                           "Runs lavr render's roles with weights generated on each rank (no model file) and reports\n"
                           "the setup time per encoder, time to first frame, ms per block of each role, the aux's\n"
                           "share of its GPU, FPS and device memory per rank against lavr plan.",
                           opts, nopts);
        return lavr_mpi_finish();
    }
    lavr_render_job *j = &a.job;
    if (j->trace_path) TRY_COLLECTIVE(lavr_trace_start());
    const int aux_rank = lavr_layout_dit_ranks(&j->layout), is_aux = lavr_mpi_world_rank() == aux_rank;
    a.cap_default = lavr_render_job_default_gpu_mem(j); /* as lavr render */
    TRY(lavr_mpi_agree(lavr_render_job_plan_options(j, &a.model.cfg, &a.plan)));
    TRY(lavr_mpi_agree(lavr_render_job_plan(j, &a.model.cfg)));
    lavr_aux_stats stats;
    memset(&stats, 0, sizeof stats);
    j->stats = is_aux ? &stats : NULL;
    lavr_status st = lavr_mpi_agree(prepare_files(&a, is_aux));
    if (!st && is_aux)
        LOG_INFO("bench --e2e: %s weights are made as each rank loads them (no model file); image %s, audio %s",
                 a.model.cfg.preset, j->image, j->audio);
    if (!st) st = lavr_render_job_run(j, &a.model.cfg);
    if (!st && is_aux) report(&a, &stats, aux_rank);
    if (is_aux) remove_scratch(&a);
    free(stats.dit);
    TRY(st);
    return lavr_mpi_finish();
}
