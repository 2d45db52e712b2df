/* wav2vec2's whole-audio states (models/w2v_states.h): a resident row tensor of the context, or a scratch file
 * with a host staging buffer for a device context (the CPU reads and writes its tiles in place). */
#include "models/w2v_states.h"

#include <stdlib.h>

#include "io/scratch.h"
#include "kernels/row_ops.h"

struct lavr_w2v_states {
    lavr_ctx *ctx;
    int64_t rows, cols, max_tile;
    lavr_tensor all;     /* resident */
    lavr_scratch *file;  /* else */
    float *host;         /* a device context's staging [max_tile, cols] */
};

lavr_status lavr_w2v_states_create(lavr_ctx *c, int resident, const char *dir, const char *what, int64_t rows,
                                   int64_t cols, int64_t max_tile, lavr_w2v_states **out) {
    *out = NULL;
    lavr_w2v_states *s = calloc(1, sizeof *s);
    if (!s) return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for %s", what);
    s->ctx = c, s->rows = rows, s->cols = cols, s->max_tile = max_tile;
    const int device = lavr_ctx_device(c) != LAVR_DEVICE_CPU;
    lavr_status st;
    if (resident && device) {
        st = lavr_ctx_alloc_rows(c, rows, cols, what, &s->all);
    } else {
        st = lavr_scratch_create(dir, what, rows, cols, &s->file);
        if (!st && device && !(s->host = malloc((size_t)(max_tile * cols) * sizeof(float))))
            st = LAVR_FAIL(LAVR_E_NOMEM, "out of host memory staging %s", what);
    }
    if (st) {
        lavr_w2v_states_destroy(s);
        return st;
    }
    *out = s;
    return LAVR_OK;
}

void lavr_w2v_states_destroy(lavr_w2v_states *s) {
    if (!s) return;
    lavr_ctx_free(s->ctx, &s->all);
    lavr_scratch_destroy(s->file);
    free(s->host);
    free(s);
}

int lavr_w2v_states_resident(const lavr_w2v_states *s) { return s->all.data != NULL; }

static lavr_status tile_rows(const lavr_w2v_states *s, int64_t first, int64_t n, const lavr_tensor *tile,
                             lavr_tensor *out) {
    if (first < 0 || n < 1 || first + n > s->rows || (!s->all.data && (n > s->max_tile || n > tile->shape[0])))
        return LAVR_FAIL(LAVR_E_INTERNAL, "wav2vec2 states: rows [%lld, %lld) of %lld (tiles of %lld)",
                         (long long)first, (long long)(first + n), (long long)s->rows, (long long)s->max_tile);
    if (s->all.data) return lavr_tensor_narrow(&s->all, 0, first, n, out);
    return lavr_tensor_narrow(tile, 0, 0, n, out);
}

lavr_status lavr_w2v_states_read(lavr_w2v_states *s, int64_t first, int64_t n, const lavr_tensor *tile,
                                 lavr_tensor *out) {
    TRY(tile_rows(s, first, n, tile, out));
    if (s->all.data) return LAVR_OK;
    if (!s->host) return lavr_scratch_read(s->file, first, n, out->data);
    TRY(lavr_scratch_read(s->file, first, n, s->host));
    return lavr_rop_upload(s->ctx, s->host, out);
}

lavr_status lavr_w2v_states_target(lavr_w2v_states *s, int64_t first, int64_t n, const lavr_tensor *tile,
                                   lavr_tensor *out) {
    return tile_rows(s, first, n, tile, out);
}

lavr_status lavr_w2v_states_commit(lavr_w2v_states *s, int64_t first, const lavr_tensor *rows) {
    if (s->all.data) return LAVR_OK;
    if (!s->host) return lavr_scratch_write(s->file, first, rows->shape[0], rows->data);
    TRY(lavr_rop_download(s->ctx, rows, s->host));
    return lavr_scratch_write(s->file, first, rows->shape[0], s->host);
}
