/* The whole audio's [frames, hidden] states of a wav2vec2 forward (a layer's input and output, its keys and
 * values) on an execution context: one resident tensor on the device when they fit, else a scratch file on disk
 * (io/scratch.h) read and written through fixed tiles, so memory does not grow with the audio's length. */
#ifndef LAVR_MODELS_W2V_STATES_H
#define LAVR_MODELS_W2V_STATES_H

#include <stdint.h>

#include "core/status.h"
#include "core/tensor.h"
#include "kernels/ctx.h"

typedef struct lavr_w2v_states lavr_w2v_states;

/* resident: one [rows, cols] tensor of c (a CPU context keeps a scratch file whatever it is asked); else a scratch
 * file in dir (NULL: $TMPDIR or /tmp) staged through at most max_tile rows at a time. */
lavr_status lavr_w2v_states_create(lavr_ctx *c, int resident, const char *dir, const char *what, int64_t rows,
                                   int64_t cols, int64_t max_tile, lavr_w2v_states **out);
void lavr_w2v_states_destroy(lavr_w2v_states *s);
int lavr_w2v_states_resident(const lavr_w2v_states *s);
/* Rows [first, first + n) as a tensor of the context: a view of the resident tensor, or read into tile (a row
 * tensor of at least n rows) and *out its first n rows. */
lavr_status lavr_w2v_states_read(lavr_w2v_states *s, int64_t first, int64_t n, const lavr_tensor *tile,
                                 lavr_tensor *out);
/* Where rows [first, first + n) are to be computed: a view of the resident tensor, or tile's first n rows; then
 * lavr_w2v_states_commit stores them (nothing to do when resident). */
lavr_status lavr_w2v_states_target(lavr_w2v_states *s, int64_t first, int64_t n, const lavr_tensor *tile,
                                   lavr_tensor *out);
lavr_status lavr_w2v_states_commit(lavr_w2v_states *s, int64_t first, const lavr_tensor *rows);

#endif
