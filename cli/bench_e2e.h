/* `lavr bench --e2e` (cli/bench_e2e.c): the whole render, every role, with weights generated on each rank instead
 * of a model file; called by `lavr bench`. */
#ifndef LAVR_CLI_BENCH_E2E_H
#define LAVR_CLI_BENCH_E2E_H

#include "core/status.h"

lavr_status lavr_bench_e2e(int argc, char **argv);

#endif
