/* `lavr bench --vae`: the Wan VAE of a render on one GPU with weights generated on the host (no checkpoint): the
 * setup encodes (reference frame, motion frames), the decode stream's priming and its blocks (3 latents -> 12 frames),
 * with ms per block, FPS, peak device memory, SHA-256 of the outputs, and optionally ms per op type; the cuDNN
 * engines tuned as the render does, optionally kept in a record file. One process, no MPI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/bench_vae.h"
#include "core/rng.h"
#include "core/sha256.h"
#include "core/units.h"
#include "io/size_rule.h"
#include "kernels/conv_engines.h"
#include "kernels/ctx.h"
#include "models/config.h"
#include "models/decode_stream.h"
#include "models/vae.h"

/* the targets at 704*384 on one H200 */
#define TARGET_BLOCK_MS 80.0
#define TARGET_ENCODE_S 0.5
#define TARGET_PEAK_GIB 4.0

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    lavr_vae_config cfg;
    int64_t width, height, blocks, warmup, motion_frames, seed;
    int profile, on_cpu;
    const char *conv_record; /* --conv-record FILE, NULL: none */
    lavr_ctx_cuda_options ctx;
} vae_bench_args;

/* Device bytes at the high-water mark (CUDA), or the host arena's (CPU). */
static uint64_t peak_of(lavr_ctx *ctx, lavr_arena *arena) {
    return lavr_ctx_device(ctx) == LAVR_DEVICE_CPU ? (uint64_t)lavr_arena_peak(arena) : lavr_ctx_peak_bytes(ctx);
}

static void print_profile(const char *what, const double *ms, const int64_t *calls, double scale) {
    double total = 0;
    for (int i = 0; i < LAVR_CTX_PROF_CATEGORIES; i++) total += ms[i];
    printf("  per op type, %s (ms):\n", what);
    for (int i = 0; i < LAVR_CTX_PROF_CATEGORIES; i++)
        if (calls[i])
            printf("    %-22s %9.2f  %6.1f%%  %7.1f calls\n", lavr_ctx_prof_name(i), ms[i] * scale,
                   total > 0 ? 100.0 * ms[i] / total : 0.0, (double)calls[i] * scale);
    printf("    %-22s %9.2f\n", "sum of ops", total * scale);
}

static int by_ms_desc(const void *a, const void *b) {
    const double x = ((const lavr_conv_time *)a)->ms, y = ((const lavr_conv_time *)b)->ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The cuDNN convolutions' per-shape sums since the last reset, slowest first, scaled (per block). */
static void print_conv_times(lavr_ctx *ctx, const char *what, double scale) {
    enum { MAX_ROWS = 96 };
    lavr_conv_time rows[MAX_ROWS];
    const int n = lavr_ctx_conv_times(ctx, rows, MAX_ROWS), shown = n < MAX_ROWS ? n : MAX_ROWS;
    if (!n) return;
    qsort(rows, (size_t)shown, sizeof *rows, by_ms_desc);
    printf("  cuDNN convolutions per shape, %s (channels as run: padded to 8; TFLOP/s of those):\n", what);
    for (int i = 0; i < shown; i++)
        printf("    %-58s %5.1f calls %8.2f ms %6.1f TFLOP/s  engine: candidate %lld, workspace %lld MiB\n",
               rows[i].shape, (double)rows[i].calls * scale, rows[i].ms * scale,
               rows[i].ms > 0 ? rows[i].gflop * (double)rows[i].calls / rows[i].ms : 0.0, (long long)rows[i].candidate,
               (long long)(rows[i].workspace_bytes >> 20));
    if (n > shown) printf("    (%d more shapes not shown)\n", n - shown);
}

static lavr_status take_profile(lavr_ctx *ctx, const vae_bench_args *a, double *acc, int64_t *acc_calls) {
    if (!a->profile) return LAVR_OK;
    double ms[LAVR_CTX_PROF_CATEGORIES];
    int64_t calls[LAVR_CTX_PROF_CATEGORIES];
    TRY(lavr_ctx_profile_take(ctx, ms, calls));
    for (int i = 0; acc && i < LAVR_CTX_PROF_CATEGORIES; i++) acc[i] += ms[i], acc_calls[i] += calls[i];
    return LAVR_OK;
}

/* Encodes `frames` random frames in [-1, 1]: *seconds of the call, after a warm-up encode of the same shape;
 * sha: the SHA-256 of the latent's floats. */
static lavr_status time_encode(lavr_vae *vae, lavr_arena *arena, const vae_bench_args *a, int64_t frames,
                               double *seconds, double *prof, int64_t *prof_calls, char sha[65]) {
    const int64_t H = a->height, W = a->width, sf = lavr_vae_spatial_factor(vae), nlat = 1 + (frames - 1) / 4;
    lavr_tensor video = {0}, latent = {0};
    TRY(lavr_tensor_alloc(arena, LAVR_F32, 4, (int64_t[]){3, frames, H, W}, "bench video", &video));
    lavr_status st = lavr_tensor_alloc(arena, LAVR_F32, 4, (int64_t[]){a->cfg.z_dim, nlat, H / sf, W / sf},
                                       "bench latent", &latent);
    if (!st) {
        const int64_t n = lavr_tensor_numel(&video);
        double *u = malloc((size_t)n * sizeof *u);
        if (!u) st = LAVR_FAIL(LAVR_E_NOMEM, "bench: %lld input values", (long long)n);
        else {
            lavr_rng_uniform((uint64_t)a->seed, lavr_rng_stream(LAVR_STREAM_TEST, 40, (uint32_t)frames, 0), 0, n, u);
            for (int64_t i = 0; i < n; i++) ((float *)video.data)[i] = (float)(2 * u[i] - 1);
            free(u);
        }
    }
    lavr_ctx *ctx = lavr_vae_ctx(vae);
    if (!st) st = lavr_vae_encode(vae, &video, &latent); /* warm-up: plans, workspaces */
    if (!st) st = take_profile(ctx, a, NULL, NULL);
    lavr_ctx_conv_times_reset(ctx);
    const double t0 = now_s();
    if (!st) st = lavr_vae_encode(vae, &video, &latent);
    if (!st) st = lavr_ctx_sync(ctx);
    *seconds = now_s() - t0;
    if (!st) st = take_profile(ctx, a, prof, prof_calls);
    if (!st) st = lavr_sha256_hex(latent.data, (size_t)lavr_tensor_numel(&latent) * sizeof(float), sha);
    lavr_tensor_free(&latent);
    lavr_tensor_free(&video);
    return st;
}

static lavr_status run(const vae_bench_args *a) {
    lavr_arena *arena = NULL;
    lavr_ctx *ctx = NULL;
    lavr_vae *vae = NULL;
    lavr_decode_stream *ds = NULL;
    lavr_tensor motion = {0};
    float *latents = NULL, *frames = NULL;
    double *block_ms = NULL;
    lavr_sha256 frames_sha = {0};
    lavr_conv_engines engines;
    memset(&engines, 0, sizeof engines);
    lavr_status st;
    char b1[32], b2[32], b3[32];
    TRY(lavr_arena_create("bench vae host", 0, &arena));
    if (a->on_cpu) TRY_GOTO(lavr_ctx_create_cpu(arena, &ctx), st, done);
    else TRY_GOTO(lavr_ctx_create_cuda(&a->ctx, &ctx), st, done);
    if (a->profile) TRY_GOTO(lavr_ctx_profile(ctx, 1), st, done);
    TRY_GOTO(lavr_conv_engines_open(ctx, a->conv_record, 0, &engines), st, done);
    lavr_vae_options o = lavr_vae_options_default();
    o.ctx = ctx;
    const double t_load = now_s();
    TRY_GOTO(lavr_vae_create_generated(&a->cfg, (uint64_t)a->seed, &o, arena, &vae), st, done);
    const uint64_t weights = peak_of(ctx, arena);
    printf("VAE dim %lld at %lldx%lld on %s\n  weights generated and uploaded in %.2f s (%s held, with the "
           "library workspaces)\n",
           (long long)a->cfg.dim, (long long)a->width, (long long)a->height, lavr_ctx_describe(ctx), now_s() - t_load,
           lavr_format_bytes(weights, b1, sizeof b1));

    /* setup encodes: the reference frame and the motion frames */
    double prof[LAVR_CTX_PROF_CATEGORIES] = {0};
    int64_t prof_calls[LAVR_CTX_PROF_CATEGORIES] = {0};
    double t_ref = 0, t_motion = 0;
    char ref_sha[65], motion_sha[65], frames_hex[65];
    uint8_t digest[32];
    lavr_ctx_reset_peak(ctx);
    TRY_GOTO(time_encode(vae, arena, a, 1, &t_ref, NULL, NULL, ref_sha), st, done);
    TRY_GOTO(time_encode(vae, arena, a, a->motion_frames, &t_motion, prof, prof_calls, motion_sha), st, done);
    TRY_GOTO(lavr_conv_engines_save(&engines), st, done);
    const uint64_t encode_peak = peak_of(ctx, arena);
    printf("encode: reference 1 frame %.1f ms, motion %lld frames %.1f ms, total %.3f s (target <= %.1f s); peak %s\n",
           1e3 * t_ref, (long long)a->motion_frames, 1e3 * t_motion, t_ref + t_motion, TARGET_ENCODE_S,
           lavr_format_bytes(encode_peak, b1, sizeof b1));
    if (a->profile) print_profile("motion encode", prof, prof_calls, 1.0);
    if (a->profile) print_conv_times(ctx, "motion encode", 1.0);

    /* the decode stream: priming with 7 motion latents, then blocks of 3 */
    const int64_t sf = lavr_vae_spatial_factor(vae), h = a->height / sf, w = a->width / sf, z = a->cfg.z_dim;
    const int64_t block_n = z * LAVR_DECODE_BLOCK_LATENTS * h * w;
    const int64_t frame_n = 3 * LAVR_DECODE_BLOCK_FRAMES * a->height * a->width;
    TRY_GOTO(lavr_tensor_alloc(arena, LAVR_F32, 4, (int64_t[]){z, LAVR_DECODE_PRIME_LATENTS, h, w}, "motion latents",
                               &motion), st, done);
    latents = malloc((size_t)(a->blocks * block_n) * sizeof *latents);
    frames = malloc((size_t)frame_n * sizeof *frames);
    block_ms = calloc((size_t)a->blocks, sizeof *block_ms);
    if (!latents || !frames || !block_ms) {
        st = LAVR_FAIL(LAVR_E_NOMEM, "bench: host buffers for %lld blocks", (long long)a->blocks);
        goto done;
    }
    lavr_rng_normal((uint64_t)a->seed, lavr_rng_stream(LAVR_STREAM_TEST, 41, 0, 0), 0, lavr_tensor_numel(&motion),
                    motion.data);
    lavr_rng_normal((uint64_t)a->seed, lavr_rng_stream(LAVR_STREAM_TEST, 42, 0, 0), 0, a->blocks * block_n, latents);
    lavr_ctx_reset_peak(ctx);
    TRY_GOTO(take_profile(ctx, a, NULL, NULL), st, done);
    double t0 = now_s();
    TRY_GOTO(lavr_decode_stream_create(vae, &motion, arena, &ds), st, done);
    TRY_GOTO(lavr_ctx_sync(ctx), st, done);
    const double t_prime = now_s() - t0;
    TRY_GOTO(take_profile(ctx, a, NULL, NULL), st, done);
    memset(prof, 0, sizeof prof);
    memset(prof_calls, 0, sizeof prof_calls);
    lavr_ctx_conv_times_reset(ctx);
    TRY_GOTO(lavr_sha256_init(&frames_sha), st, done);
    for (int64_t b = 0; b < a->blocks; b++) {
        int64_t count = 0;
        t0 = now_s();
        TRY_GOTO(lavr_decode_stream_push(ds, latents + b * block_n, frames, &count), st, done);
        block_ms[b] = 1e3 * (now_s() - t0); /* push returns with the frames on the host */
        TRY_GOTO(take_profile(ctx, a, b >= a->warmup ? prof : NULL, prof_calls), st, done);
        if (b + 1 == a->warmup) lavr_ctx_conv_times_reset(ctx); /* per shape: the timed blocks only */
        TRY_GOTO(lavr_sha256_update(&frames_sha, frames, (size_t)(3 * count * a->height * a->width) * sizeof *frames),
                 st, done);
        if (b == 0) TRY_GOTO(lavr_conv_engines_save(&engines), st, done);
    }
    TRY_GOTO(lavr_sha256_final(&frames_sha, digest), st, done);
    lavr_sha256_to_hex(digest, frames_hex);
    const uint64_t decode_peak = peak_of(ctx, arena);
    double sum = 0, lo = 1e30, hi = 0;
    const int64_t timed = a->blocks - a->warmup;
    for (int64_t b = a->warmup; b < a->blocks; b++) {
        sum += block_ms[b];
        lo = block_ms[b] < lo ? block_ms[b] : lo;
        hi = block_ms[b] > hi ? block_ms[b] : hi;
    }
    const double mean = sum / (double)timed;
    printf("decode: priming (7 latents -> 25 frames) %.1f ms; first block %.1f ms\n", 1e3 * t_prime, block_ms[0]);
    printf("decode: %lld blocks of %d latents -> %d frames: mean %.2f ms (min %.2f, max %.2f; target <= %.0f ms), "
           "%.1f frames/s\n",
           (long long)timed, LAVR_DECODE_BLOCK_LATENTS, LAVR_DECODE_BLOCK_FRAMES, mean, lo, hi, TARGET_BLOCK_MS,
           1e3 * LAVR_DECODE_BLOCK_FRAMES / mean);
    if (a->on_cpu)
        printf("decode: host arena peak %s (encode %s)\n", lavr_format_bytes(decode_peak, b1, sizeof b1),
               lavr_format_bytes(encode_peak, b2, sizeof b2));
    else
        printf("decode: peak device memory %s (target <= %.0f GiB: %s); encode peak %s; arena cap %s\n",
               lavr_format_bytes(decode_peak, b1, sizeof b1), TARGET_PEAK_GIB,
               (double)decode_peak <= TARGET_PEAK_GIB * (double)(1ull << 30) ? "met" : "missed",
               lavr_format_bytes(encode_peak, b2, sizeof b2),
               lavr_format_bytes(a->ctx.mem_cap ? a->ctx.mem_cap : LAVR_CTX_DEFAULT_CUDA_CAP, b3, sizeof b3));
    if (a->profile) print_profile("per decode block", prof, prof_calls, 1.0 / (double)timed);
    if (a->profile) print_conv_times(ctx, "per decode block", 1.0 / (double)timed);
    printf("sha256: reference latent %.16s, motion latent %.16s, decoded frames of all %lld blocks %s\n", ref_sha,
           motion_sha, (long long)a->blocks, frames_hex);
    lavr_conv_record_tag tag;
    if (lavr_ctx_conv_engines_tag(ctx, &tag))
        printf("conv engines: %lld shapes chosen by timing in this run (%lld candidates passed over: workspace over "
               "the cap, nondeterministic or reduced-precision reduction), the others taken from %s\n",
               (long long)lavr_ctx_conv_engines_timed(ctx), (long long)lavr_ctx_conv_engines_passed_over(ctx),
               a->conv_record ? a->conv_record : "(no record)");
    st = LAVR_OK;
done:
    lavr_sha256_abandon(&frames_sha);
    free(block_ms);
    free(frames);
    free(latents);
    lavr_tensor_free(&motion);
    lavr_decode_stream_destroy(ds);
    lavr_vae_destroy(vae);
    lavr_ctx_destroy(ctx);
    lavr_arena_destroy(arena);
    return st;
}

lavr_status lavr_bench_vae(int argc, char **argv) {
    cli_option opts[] = {
        {"vae", 0, "benchmark the VAE (this mode)", NULL},
        {"config", "PRESET", "model preset: s2v-14b (default) or tiny", NULL},
        {"size", "W*H", "video size W*H in pixels, multiples of 16 (default 704*384)", NULL},
        {"blocks", "N", "decode blocks to run (default warm-up + 5)", NULL},
        {"warmup", "N", "leading blocks left out of the averages (default 1)", NULL},
        {"motion-frames", "N", "frames of the motion encode, 1 + 4k (default: the model's, 73)", NULL},
        {"backend", "cuda|cpu", "cuda (default) or cpu (the reference ops; slow at full size)", NULL},
        {"device", "N", "CUDA device (default 0)", NULL},
        {"conv", "auto|cudnn|own", "convolutions: auto (cuDNN when loaded, default), cudnn or own (lavr's kernel)", NULL},
        {"conv-tune", "N", "cuDNN: time the first N engines per convolution shape and keep the fastest (default 64, as "
                         "lavr render; 1: the heuristics' first, no timing)", NULL},
        {"conv-record", "FILE", "cuDNN engine record: take the engines FILE holds for this GPU and cuDNN (no timing), "
                           "tune the other shapes and write them all back to FILE (lavr render keeps one in its "
                           "stage directory)", NULL},
        {"gpu-mem", "BYTES", "device arena cap, e.g. 6GiB (default 6 GiB)", NULL},
        {"seed", "N", "seed of the generated weights and inputs (default 1)", NULL},
        {"profile", 0, "time every op with CUDA events and print ms per op type and per cuDNN convolution shape", NULL},
        {"help", 0, "print this help", NULL},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    TRY(cli_parse("bench", argc, argv, 2, opts, nopts, NULL, 0, NULL));
    if (cli_flag(opts, nopts, "help")) {
        cli_print_help("usage: lavr bench --vae [--config PRESET] [--size 704*384] [--blocks N] [--warmup W] [--conv auto|cudnn|own]\n"
                       "           [--conv-tune N] [--conv-record FILE] [--gpu-mem 6GiB] [--device N] [--profile]\n"
                       "           [--backend cuda|cpu]",
                       "Runs the render's VAE work on one GPU with generated weights: the setup encodes (reference and\n"
                       "motion frames) and the streaming decode (priming, then blocks of 3 latents -> 12 frames), and\n"
                       "reports their times, FPS, peak device memory and the SHA-256 of the latents and frames (two runs\n"
                       "with one --conv-record FILE must print the same hashes).",
                       opts, nopts);
        return LAVR_OK;
    }
    vae_bench_args a;
    memset(&a, 0, sizeof a);
    lavr_model_config cfg;
    TRY(lavr_config_preset(cli_get(opts, nopts, "config", "s2v-14b"), &cfg));
    a.cfg = cfg.vae;
    TRY(lavr_size_parse(cli_get(opts, nopts, "size", "704*384"), &a.width, &a.height));
    CHECK_ARG(a.width % 16 == 0 && a.height % 16 == 0 && a.width >= 64 && a.height >= 64,
              "bench: size %lldx%lld must be multiples of 16 and at least 64", (long long)a.width, (long long)a.height);
    TRY(cli_get_int(opts, nopts, "warmup", 1, 0, 1000, &a.warmup));
    TRY(cli_get_int(opts, nopts, "blocks", a.warmup + 5, a.warmup + 1, 100000, &a.blocks));
    TRY(cli_get_int(opts, nopts, "motion-frames", cfg.dit.motion_frames, 1, 100001, &a.motion_frames));
    CHECK_ARG((a.motion_frames - 1) % 4 == 0, "bench: --motion-frames %lld is not 1 + 4k", (long long)a.motion_frames);
    TRY(cli_get_int(opts, nopts, "seed", 1, 0, INT64_MAX, &a.seed));
    int64_t device = 0;
    TRY(cli_get_int(opts, nopts, "device", 0, 0, 1023, &device));
    a.ctx.device = (int)device;
    a.ctx.name = "bench vae";
    TRY(lavr_conv_path_parse(cli_get(opts, nopts, "conv", "auto"), &a.ctx.conv));
    int64_t tune = LAVR_CONV_TUNE_DEFAULT;
    TRY(cli_get_int(opts, nopts, "conv-tune", LAVR_CONV_TUNE_DEFAULT, 1, LAVR_CONV_TUNE_MAX, &tune));
    a.ctx.conv_tune = (int)tune;
    a.conv_record = cli_get(opts, nopts, "conv-record", NULL);
    CHECK_ARG(!a.conv_record || a.conv_record[0], "bench: --conv-record: give a file name");
    const char *mem = cli_get(opts, nopts, "gpu-mem", NULL);
    if (mem) TRY(lavr_parse_bytes(mem, &a.ctx.mem_cap));
    a.profile = cli_flag(opts, nopts, "profile");
    const char *backend = cli_get(opts, nopts, "backend", "cuda");
    CHECK_ARG(!strcmp(backend, "cuda") || !strcmp(backend, "cpu"), "bench: --backend '%s': use cuda or cpu", backend);
    a.on_cpu = !strcmp(backend, "cpu");
    CHECK_ARG(!(a.on_cpu && a.profile), "bench: --profile times CUDA ops; drop it with --backend cpu");
    return run(&a);
}
