/* Where a context's tuned cuDNN convolution engines are kept between runs: a record file of the caller's (a render's
 * stage directory, bench --conv-record) and the per-machine cache (io/conv_record.h), loaded before the first
 * convolution and written again whenever new shapes were tuned, so a resumed or a later run takes the same engines. */
#ifndef LAVR_KERNELS_CONV_ENGINES_H
#define LAVR_KERNELS_CONV_ENGINES_H

#include <stdint.h>

#include "core/status.h"
#include "kernels/ctx.h"

#define LAVR_CONV_ENGINES_STAGE_FILE "conv_engines.h5" /* its name in a render's stage directory */

typedef struct {
    lavr_ctx *ctx;
    int active;            /* the context tunes: there is something to keep */
    char file[4096];       /* the caller's record ("" none) */
    char cache[4096];      /* the machine's cache ("" none, or given up after a failure) */
    int64_t saved_timed;   /* lavr_ctx_conv_engines_timed when last written */
} lavr_conv_engines;

/* Preloads ctx from `file` (NULL: none) and then, when use_cache, the machine cache for ctx's tag (the file's
 * choices win where both have a shape). Nothing happens for a context that does not tune. A missing, damaged or
 * foreign record is not an error (one warning line for the last two; tuning runs); no usable cache directory
 * leaves the cache out with one line. Logs what was taken. */
lavr_status lavr_conv_engines_open(lavr_ctx *ctx, const char *file, int use_cache, lavr_conv_engines *out);
/* When the context tuned shapes since the last save: writes every choice to `file` atomically (a failure is an
 * error: a resume would not find its engines) and merges them into the cache (a failure is one warning, and the
 * cache is left alone for the rest of the run). */
lavr_status lavr_conv_engines_save(lavr_conv_engines *e);

#endif
