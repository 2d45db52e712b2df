/* `lavr check-golden FILE... [--backend cpu|cuda]`: runs every golden file through the network it holds
 * (models/golden.h) on the CPU or a CUDA device, prints each output's rel L2 and limit and a summary per file;
 * fails if any does. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "io/golden.h"
#include "kernels/ctx.h"
#include "models/dit_golden_cuda.h"
#include "models/golden.h"

#define MAX_FILES 64

static const char *const usage_text =
    "usage: lavr check-golden FILE... [--backend cpu|cuda] [--device N] [--conv auto|cudnn|own] [--fp8]\n"
    "                          [--attention auto|cudnn|own]";

/* ctx: NULL on the CPU; the DiT's device model (models/dit_golden_cuda.h) takes its own options */
static lavr_status check_file(const char *path, lavr_ctx *ctx, const lavr_golden_cuda_options *dit, int64_t *failed) {
    lavr_golden *g = NULL;
    TRY(lavr_golden_open(path, &g));
    printf("== %s (%s on %s)\n", path, lavr_golden_kind_name(g->kind), ctx ? lavr_ctx_describe(ctx) : "cpu");
    /* wav2vec2 on a device takes --attention own too (lavr's kernel instead of cuDNN's SDPA) */
    const lavr_w2v_options w2v = {.ctx = ctx, .own_attention = !strcmp(dit->attention, "own")};
    lavr_status st = ctx && g->kind == LAVR_GOLDEN_DIT ? lavr_golden_run_dit_cuda(g, dit)
                     : ctx && g->kind == LAVR_GOLDEN_W2V ? lavr_golden_run_w2v_with(g, &w2v)
                                                        : lavr_golden_run_on(g, ctx);
    if (!st) {
        *failed = lavr_golden_failed(g);
        printf("%s: %lld passed, %lld failed\n", path, (long long)(g->n_results - *failed), (long long)*failed);
    } else {
        lavr_error_wrap(st, "checking %s", path);
    }
    lavr_golden_close(g);
    return st;
}

lavr_status lavr_cmd_check_golden(int argc, char **argv) {
    cli_option opts[] = {
        {"backend", 1, "cpu (default) or cuda (every golden runs on the GPU; wav2vec2 there is bf16, held to its bf16 "
                       "limit)", NULL},
        {"device", 1, "CUDA device for --backend cuda (default 0)", NULL},
        {"conv", 1, "CUDA convolutions: auto (cuDNN when loaded, default), cudnn or own (lavr's kernel)", NULL},
        {"fp8", 0, "cuda, DiT: FP8 e4m3 Linears (shows FP8's error; bf16 limits apply, so misses are expected)", NULL},
        {"attention", 1, "cuda, DiT and wav2vec2: auto (default: cuDNN fused SDPA when available), cudnn or own", NULL},
        {"help", 0, "show this help", NULL},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char *files[MAX_FILES];
    int nfiles = 0;
    TRY(cli_parse("check-golden", argc, argv, 2, opts, nopts, files, MAX_FILES, &nfiles));
    if (cli_flag(opts, nopts, "help")) {
        cli_print_help(usage_text, opts, nopts);
        return LAVR_OK;
    }
    const char *backend = cli_get(opts, nopts, "backend", "cpu");
    CHECK_ARG(!strcmp(backend, "cpu") || !strcmp(backend, "cuda"), "check-golden: unknown backend '%s' (cpu or cuda)",
              backend);
    int64_t device = 0;
    TRY(cli_get_int(opts, nopts, "device", 0, 0, 1023, &device));
    lavr_ctx_cuda_options co = {.device = (int)device};
    TRY(lavr_conv_path_parse(cli_get(opts, nopts, "conv", "auto"), &co.conv));
    const lavr_golden_cuda_options dit = {cli_flag(opts, nopts, "fp8"), cli_get(opts, nopts, "attention", "auto"),
                                          (int)device};
    CHECK_ARG(!strcmp(backend, "cuda") || (!dit.fp8 && !strcmp(dit.attention, "auto")),
              "check-golden: --fp8 and --attention apply to --backend cuda only");
    CHECK_ARG(nfiles > 0, "check-golden: no golden file given (%s)", usage_text);
    lavr_ctx *ctx = NULL;
    if (!strcmp(backend, "cuda")) TRY(lavr_ctx_create_cuda(&co, &ctx));
    int64_t files_failed = 0;
    lavr_status st = LAVR_OK;
    for (int i = 0; i < nfiles && !st; i++) {
        int64_t failed = 0;
        st = check_file(files[i], ctx, &dit, &failed);
        files_failed += failed > 0;
    }
    lavr_ctx_destroy(ctx);
    TRY(st);
    if (files_failed)
        return LAVR_FAIL(LAVR_E_FORMAT, "check-golden: %lld of %d files have outputs over their limit",
                         (long long)files_failed, nfiles);
    return LAVR_OK;
}
