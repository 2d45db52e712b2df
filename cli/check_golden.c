/* `lavr check-golden FILE... [--backend cpu|cuda]`: runs every golden file through the network it holds
 * (models/golden.h; on a GPU models/dit_golden_cuda.h), prints each output's rel L2 and limit and a summary per
 * file; fails if any does. */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "io/golden.h"
#include "models/dit_golden_cuda.h"
#include "models/golden.h"

#define MAX_FILES 64

static const char *const usage_text =
    "usage: lavr check-golden FILE... [--backend cpu|cuda] [--fp8] [--attention auto|cudnn|own]";

/* cuda: NULL for the CPU backend */
static lavr_status run_on(lavr_golden *g, const lavr_golden_cuda_options *cuda) {
    if (!cuda) return lavr_golden_run(g);
    if (g->kind == LAVR_GOLDEN_DIT) return lavr_golden_run_dit_cuda(g, cuda);
    return LAVR_FAIL(LAVR_E_UNSUPPORTED, "check-golden --backend cuda: no CUDA path for the %s yet (use --backend cpu)",
                     lavr_golden_kind_name(g->kind));
}

static lavr_status check_file(const char *path, const lavr_golden_cuda_options *cuda, int64_t *failed) {
    lavr_golden *g = NULL;
    TRY(lavr_golden_open(path, &g));
    printf("== %s (%s, %s)\n", path, lavr_golden_kind_name(g->kind), cuda ? "cuda" : "cpu");
    lavr_status st = run_on(g, cuda);
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
        {"backend", 1, "cpu (default) or cuda (GPU 0)", NULL},
        {"fp8", 0, "cuda: FP8 e4m3 Linears (shows FP8's error; bf16 limits apply, so misses are expected)", NULL},
        {"attention", 1, "cuda: auto (default: cuDNN fused SDPA when available), cudnn or own", NULL},
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
    const int on_cuda = !strcmp(backend, "cuda");
    const lavr_golden_cuda_options cuda = {cli_flag(opts, nopts, "fp8"), cli_get(opts, nopts, "attention", "auto")};
    CHECK_ARG(on_cuda || (!cuda.fp8 && !strcmp(cuda.attention, "auto")),
              "check-golden: --fp8 and --attention apply to --backend cuda only");
    CHECK_ARG(nfiles > 0, "check-golden: no golden file given (%s)", usage_text);
    int64_t files_failed = 0;
    for (int i = 0; i < nfiles; i++) {
        int64_t failed = 0;
        TRY(check_file(files[i], on_cuda ? &cuda : NULL, &failed));
        files_failed += failed > 0;
    }
    if (files_failed)
        return LAVR_FAIL(LAVR_E_FORMAT, "check-golden: %lld of %d files have outputs over their limit",
                         (long long)files_failed, nfiles);
    return LAVR_OK;
}
