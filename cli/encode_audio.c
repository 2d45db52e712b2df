/* `lavr encode-audio`: the speech file at 16 kHz mono through wav2vec2 (on the CPU or a CUDA device) and the 25 fps
 * bucketing, giving per-video-frame features of all hidden states (bf16 values), written into a conditioning file
 * as they are computed (constant memory for any length; scratch files beside the output). */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/units.h"
#include "io/h5model.h"
#include "kernels/ctx.h"
#include "models/conditioning.h"

#define NOPTS(a) ((int)(sizeof(a) / sizeof(a)[0]))

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

lavr_status lavr_cmd_encode_audio(int argc, char **argv) {
    cli_option opts[] = {
        {"model", 1, "lavr model file (uses /wav2vec2)", NULL},
        {"audio", 1, "speech (WAV, FLAC, OGG, MP3; mixed to mono, resampled to 16 kHz)", NULL},
        {"out", 1, "conditioning file to add the features to (created if missing)", NULL},
        {"backend", 1, "cpu (default: fp32, the reference) or cuda (bf16, LiveAvatar's numerics)", NULL},
        {"device", 1, "CUDA device for --backend cuda (default 0)", NULL},
        {"gpu-mem", 1, "device arena cap for --backend cuda (default 6 GiB)", NULL},
        {"help", 0, "this help", NULL},
    };
    TRY(cli_parse("encode-audio", argc, argv, 2, opts, NOPTS(opts), NULL, 0, NULL));
    if (cli_flag(opts, NOPTS(opts), "help")) {
        cli_print_help("usage: lavr encode-audio --model M.h5 --audio FILE --out COND.h5 [--backend cpu|cuda] [--device N]\n"
                       "                         [--gpu-mem M]", opts, NOPTS(opts));
        return LAVR_OK;
    }
    const char *model_path = cli_get(opts, NOPTS(opts), "model", NULL), *audio = cli_get(opts, NOPTS(opts), "audio", NULL);
    const char *out = cli_get(opts, NOPTS(opts), "out", NULL);
    CHECK_ARG(model_path && audio && out, "lavr encode-audio: --model, --audio and --out are required");
    const char *backend = cli_get(opts, NOPTS(opts), "backend", "cpu"), *mem = cli_get(opts, NOPTS(opts), "gpu-mem", NULL);
    CHECK_ARG(!strcmp(backend, "cpu") || !strcmp(backend, "cuda"), "lavr encode-audio: --backend '%s': use cpu or cuda",
              backend);
    int64_t device = 0;
    TRY(cli_get_int(opts, NOPTS(opts), "device", 0, 0, 1023, &device));
    lavr_ctx_cuda_options co = {.device = (int)device, .name = "encode-audio"};
    if (mem) TRY(lavr_parse_bytes(mem, &co.mem_cap));
    const int cuda = !strcmp(backend, "cuda");
    CHECK_ARG(cuda || (!mem && !cli_get(opts, NOPTS(opts), "device", NULL)),
              "lavr encode-audio: --device and --gpu-mem are for --backend cuda");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    lavr_h5file *model = NULL;
    lavr_ctx *ctx = NULL;
    lavr_conditioning c = {0};
    lavr_cond_audio *saved = NULL;
    lavr_status st;
    double t0 = now_s();
    TRY_GOTO(lavr_h5_open(model_path, &model), st, done);
    if (cuda) TRY_GOTO(lavr_ctx_create_cuda(&co, &ctx), st, done);
    TRY_GOTO(lavr_cond_encode_audio_file_on(model, audio, out, dir, ctx, &c), st, done);
    TRY_GOTO(lavr_cond_audio_open(out, &saved), st, done);
    int64_t shape[3];
    lavr_cond_audio_shape(saved, shape);
    printf("%s: %lld clips of 48 frames -> audio float32[%lld,%lld,%lld] (frames, states, channels) in %.2f s -> %s\n",
           audio, (long long)c.clips, (long long)shape[0], (long long)shape[1], (long long)shape[2], now_s() - t0, out);
done:
    lavr_ctx_destroy(ctx);
    lavr_cond_audio_close(saved);
    lavr_status close_st = lavr_h5_close(model);
    return st ? st : close_st;
}
