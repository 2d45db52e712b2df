/* Per-denoising-step KV caches of the causal DiT (model-spec §2.2, liveavatar-system §1.7): a rolling
 * window of 4 blocks per layer (slot = block mod 4) and the sink, all bf16, plus the token geometry. */
#include <stdlib.h>
#include <string.h>

#include "models/dit_internal.h"

lavr_status lavr_dit_geometry_of(const lavr_dit_config *c, int64_t h, int64_t w, lavr_dit_geometry *g) {
    CHECK_ARG(h >= 8 && w >= 8 && h % 2 == 0 && w % 2 == 0,
              "dit: latent size %lldx%lld must be even and at least 8x8 (FramePack 4x bucket)", (long long)h,
              (long long)w);
    memset(g, 0, sizeof *g);
    g->h = h;
    g->w = w;
    g->hp = h / 2;
    g->wp = w / 2;
    g->P = g->hp * g->wp;
    g->block_tokens = c->frames_per_block * g->P;
    g->window = 4 * g->block_tokens;
    g->n_post = g->P;
    g->n_2x = (h / 4) * (w / 4);
    g->n_4x = 4 * (h / 8) * (w / 8);
    g->sink = g->P + g->n_post + g->n_2x + g->n_4x;
    return LAVR_OK;
}

lavr_status lavr_dit_cache_create(const lavr_dit *m, int64_t h, int64_t w, lavr_dit_step_cache **out) {
    *out = NULL;
    lavr_dit_step_cache *c = calloc(1, sizeof *c);
    if (!c) return LAVR_FAIL(LAVR_E_NOMEM, "dit cache");
    lavr_status st = lavr_dit_geometry_of(&m->cfg, h, w, &c->g);
    if (st) { free(c); return st; }
    c->layer_begin = m->shard.layer_begin;
    c->layers = m->shard.layer_end - m->shard.layer_begin;
    c->dim = m->width;
    size_t win = (size_t)(c->layers * c->g.window * c->dim), sink = (size_t)(c->layers * c->g.sink * c->dim);
    c->win_k = calloc(win, sizeof(uint16_t));
    c->win_v = calloc(win, sizeof(uint16_t));
    c->sink_k = calloc(sink, sizeof(uint16_t));
    c->sink_v = calloc(sink, sizeof(uint16_t));
    c->sink_pos = calloc((size_t)c->g.sink * 3, sizeof(int64_t));
    if (!c->win_k || !c->win_v || !c->sink_k || !c->sink_v || !c->sink_pos) {
        lavr_dit_cache_destroy(c);
        return LAVR_FAIL(LAVR_E_NOMEM, "dit cache: %zu window + %zu sink bf16 values per K/V", win, sink);
    }
    st = dit_sink_positions(&c->g, c->sink_pos);
    if (st) { lavr_dit_cache_destroy(c); return st; }
    *out = c;
    return LAVR_OK;
}

void lavr_dit_cache_destroy(lavr_dit_step_cache *c) {
    if (!c) return;
    free(c->win_k);
    free(c->win_v);
    free(c->sink_k);
    free(c->sink_v);
    free(c->sink_pos);
    free(c);
}

const lavr_dit_geometry *lavr_dit_cache_geometry(const lavr_dit_step_cache *c) { return &c->g; }

lavr_status lavr_dit_cache_copy_sink(lavr_dit_step_cache *dst, const lavr_dit_step_cache *src) {
    CHECK_ARG(dst->layer_begin == src->layer_begin && dst->layers == src->layers && dst->dim == src->dim &&
                  dst->g.sink == src->g.sink,
              "dit cache: sink copy between different geometries or shards");
    size_t n = (size_t)(src->layers * src->g.sink * src->dim);
    memcpy(dst->sink_k, src->sink_k, n * sizeof(uint16_t));
    memcpy(dst->sink_v, src->sink_v, n * sizeof(uint16_t));
    memcpy(dst->sink_pos, src->sink_pos, (size_t)src->g.sink * 3 * sizeof(int64_t));
    dst->sink_ready = src->sink_ready;
    return LAVR_OK;
}

void lavr_dit_cache_sink(const lavr_dit_step_cache *c, int64_t layer, const uint16_t **k, const uint16_t **v) {
    const int64_t i = layer - c->layer_begin;
    int ok = c->sink_ready && i >= 0 && i < c->layers;
    *k = ok ? c->sink_k + i * c->g.sink * c->dim : NULL;
    *v = ok ? c->sink_v + i * c->g.sink * c->dim : NULL;
}

void lavr_dit_cache_window(lavr_dit_step_cache *c, int64_t layer, uint16_t **k, uint16_t **v) {
    const int64_t i = layer - c->layer_begin;
    int ok = i >= 0 && i < c->layers;
    *k = ok ? c->win_k + i * c->g.window * c->dim : NULL;
    *v = ok ? c->win_v + i * c->g.window * c->dim : NULL;
}

void lavr_dit_cache_sink_restore(lavr_dit_step_cache *c, int64_t layer, uint16_t **k, uint16_t **v) {
    const int64_t i = layer - c->layer_begin;
    int ok = i >= 0 && i < c->layers;
    if (ok) c->sink_ready = 1;
    *k = ok ? c->sink_k + i * c->g.sink * c->dim : NULL;
    *v = ok ? c->sink_v + i * c->g.sink * c->dim : NULL;
}
