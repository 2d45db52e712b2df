/* wav2vec2's part of `lavr bench --encoders` (cli/bench_w2v.c): the speech encoder of a model preset with weights
 * generated where it runs, timed on audio of given lengths, with the cost of longer audio derived from the fit. */
#ifndef LAVR_CLI_BENCH_W2V_H
#define LAVR_CLI_BENCH_W2V_H

#include <stdint.h>

#include "core/status.h"
#include "kernels/ctx.h"
#include "models/config.h"

#define LAVR_BENCH_W2V_MAX_LENGTHS 8

typedef struct {
    lavr_w2v_config cfg;
    double seconds[LAVR_BENCH_W2V_MAX_LENGTHS]; /* audio lengths to time */
    int nlengths;
    int64_t repeat, seed;
    int on_cpu, profile, own_attention;
    lavr_ctx_cuda_options ctx; /* mem_cap 0: LAVR_CTX_DEFAULT_CUDA_CAP */
} lavr_bench_w2v_args;

/* "60,300" -> a->seconds (each in [1, 36000]). */
lavr_status lavr_bench_w2v_parse_seconds(const char *text, lavr_bench_w2v_args *a);
lavr_status lavr_bench_w2v(const lavr_bench_w2v_args *a);

#endif
