/* Window and sink K/V of the DiT step caches in a checkpoint (ranks/dit_ckpt.h): views over the host
 * buffers written as head-split parts, read back as any head range through lavr_ckpt_read_range. */
#include "ranks/dit_ckpt.h"

#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/tensor.h"

void lavr_dit_ckpt_window_name(char *buf, size_t n, int step, int64_t layer, int v) {
    snprintf(buf, n, "step%d/layer%03lld/win_%c", step, (long long)layer, v ? 'v' : 'k');
}

void lavr_dit_ckpt_sink_name(char *buf, size_t n, int64_t layer, int v) {
    snprintf(buf, n, "sink/layer%03lld/%c", (long long)layer, v ? 'v' : 'k');
}

lavr_status lavr_dit_ckpt_put(lavr_ckpt_writer *w, const char *name, const uint16_t *kv, int64_t tokens,
                              const lavr_dit_ckpt_heads *h) {
    CHECK_ARG(w && name && kv && h && tokens > 0 && h->heads > 0 && h->head_begin + h->heads <= h->num_heads,
              "lavr_dit_ckpt_put: bad argument for '%s'", name ? name : "?");
    lavr_tensor t = lavr_tensor_wrap(LAVR_BF16, 3, (int64_t[]){tokens, h->heads, h->head_dim}, (void *)kv);
    return lavr_ckpt_put_part(w, name, &t, 1, h->head_begin, h->num_heads);
}

lavr_status lavr_dit_ckpt_get(lavr_ckpt *c, const char *name, uint16_t *kv, int64_t tokens,
                              const lavr_dit_ckpt_heads *h) {
    CHECK_ARG(c && name && kv && h && tokens > 0 && h->heads > 0, "lavr_dit_ckpt_get: bad argument");
    lavr_arena *arena = NULL;
    TRY(lavr_arena_create("checkpoint read", 0, &arena));
    lavr_tensor t;
    memset(&t, 0, sizeof t);
    lavr_status st = lavr_ckpt_read_range(c, name, 1, h->head_begin, h->heads, arena, &t);
    if (!st && (t.ndim != 3 || t.shape[0] != tokens || t.shape[2] != h->head_dim || t.dtype != LAVR_BF16))
        st = LAVR_FAIL(LAVR_E_FORMAT,
                       "checkpoint tensor '%s' is [%lld, %lld, %lld], this render needs [%lld, %lld, %lld] bf16 "
                       "(another latent size or model?)",
                       name, (long long)t.shape[0], (long long)t.shape[1], (long long)t.shape[2], (long long)tokens,
                       (long long)h->heads, (long long)h->head_dim);
    if (!st) memcpy(kv, t.data, (size_t)(tokens * h->heads * h->head_dim) * sizeof(uint16_t));
    lavr_tensor_free(&t);
    lavr_arena_destroy(arena);
    return st;
}
