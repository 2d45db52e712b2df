/* `lavr bench --vae` (cli/bench_vae.c): the render's VAE work on one GPU, called by `lavr bench` before any MPI
 * start-up. */
#ifndef LAVR_CLI_BENCH_VAE_H
#define LAVR_CLI_BENCH_VAE_H

#include "core/status.h"

lavr_status lavr_bench_vae(int argc, char **argv);

#endif
