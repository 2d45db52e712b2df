/* `lavr bench --encoders` (cli/bench_encoders.c): the render's prompt encode (umT5) and speech encode (wav2vec2,
 * cli/bench_w2v.c) on one GPU or the CPU, called by `lavr bench` before any MPI start-up. */
#ifndef LAVR_CLI_BENCH_ENCODERS_H
#define LAVR_CLI_BENCH_ENCODERS_H

#include "core/status.h"

lavr_status lavr_bench_encoders(int argc, char **argv);

#endif
