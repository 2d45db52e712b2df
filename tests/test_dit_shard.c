/* Layer-range shards of the DiT in one process: the tiny model split into pipeline shards chained
 * through lavr_dit_act gives velocities and sink K/V bit-identical to the full model; bad shards fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/rng.h"
#include "io/h5model.h"
#include "models/config.h"
#include "models/dit.h"
#include "models/init_weights.h"
#include "tests/check.h"

#define H 8
#define W 12
#define BLOCKS 6      /* blocks 0..5: the window wraps at block 4, which is also clip 1 */
#define AUDIO_FRAMES 96

static lavr_status write_tensor(const lavr_tensor_spec *s, void *user) {
    lavr_h5file *f = user;
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->shape[i];
    void *buf = malloc((size_t)n * lavr_dtype_size(s->dtype) + 1);
    if (!buf) return LAVR_FAIL(LAVR_E_NOMEM, "test weights");
    lavr_status st = lavr_init_tensor_rows(s, "dit", 7, 0, s->ndim ? s->shape[0] : 1, buf);
    lavr_tensor t = lavr_tensor_wrap(s->dtype, s->ndim, s->shape, buf);
    char path[256];
    snprintf(path, sizeof path, "/dit/%s", s->name);
    if (!st) st = lavr_h5_write(f, path, &t, 0);
    free(buf);
    return st;
}

/* the tiny preset's DiT with `lavr init` weights, alone in a file */
static lavr_status write_model(const char *path, lavr_dit_config *cfg) {
    lavr_model_config mc;
    TRY(lavr_config_preset("tiny", &mc));
    *cfg = mc.dit;
    lavr_h5file *f = NULL;
    TRY(lavr_h5_create(path, &f));
    lavr_status st = lavr_dit_inventory(&mc.dit, write_tensor, f);
    char *json = st ? NULL : lavr_dit_config_to_json(&mc.dit);
    if (!st) st = json ? lavr_h5_write_attr_string(f, "/dit", "config", json) : LAVR_FAIL(LAVR_E_NOMEM, "json");
    free(json);
    lavr_status cst = lavr_h5_close(f);
    return st ? st : cst;
}

static float *normals(int64_t n, uint64_t stream) {
    float *x = malloc((size_t)n * sizeof(float));
    lavr_rng_normal(11, ((uint64_t)LAVR_STREAM_TEST << 56) | stream, 0, n, x);
    for (int64_t i = 0; i < n; i++) x[i] = lavr_round_bf16(x[i]);
    return x;
}

typedef struct {
    float *ctx, *ref[2], *motion, *audio, *x[BLOCKS];
    int64_t ctx_rows;
} inputs;

static lavr_dit_block_input block_input(const inputs *in, int64_t n) {
    lavr_dit_block_input b = {.x = in->x[n], .timestep = 900.0f - 130.0f * (float)n, .block_index = n,
                              .sink_offset = 4 + 5 * n, .audio = in->audio, .audio_frames = AUDIO_FRAMES,
                              .audio_first = 12 * n};
    return b;
}

/* full model: velocities [BLOCKS][blk] and the last sink (clip 1) per layer */
static void run_full(lavr_dit *m, const inputs *in, int64_t blk, float *vel, lavr_dit_step_cache **cache) {
    CHECK_OK(lavr_dit_set_context(m, in->ctx, in->ctx_rows));
    CHECK_OK(lavr_dit_cache_create(m, H, W, cache));
    if (!*cache) return;
    for (int64_t n = 0; n < BLOCKS; n++) {
        if (n % 4 == 0) CHECK_OK(lavr_dit_sink_prefill(m, *cache, in->ref[n / 4], in->motion));
        lavr_dit_block_input b = block_input(in, n);
        CHECK_OK(lavr_dit_block_forward(m, *cache, &b, vel + n * blk));
    }
}

/* the same run through pipeline shards sh[0..ns) */
static void run_chain(lavr_dit **sh, int ns, const inputs *in, int64_t blk, float *vel, lavr_dit_step_cache **cache) {
    lavr_dit_act *a = NULL;
    for (int s = 0; s < ns; s++) {
        CHECK_OK(lavr_dit_set_context(sh[s], in->ctx, in->ctx_rows));
        CHECK_OK(lavr_dit_cache_create(sh[s], H, W, &cache[s]));
        if (!cache[s]) return;
    }
    CHECK_OK(lavr_dit_act_create(sh[0], lavr_dit_cache_geometry(cache[0]), &a));
    if (!a) return;
    for (int64_t n = 0; n < BLOCKS; n++) {
        if (n % 4 == 0) {
            CHECK_OK(lavr_dit_embed_sink(sh[0], cache[0], in->ref[n / 4], in->motion, a));
            for (int s = 0; s < ns; s++) CHECK_OK(lavr_dit_forward_layers(sh[s], cache[s], a, NULL, NULL));
        }
        lavr_dit_block_input b = block_input(in, n);
        CHECK_OK(lavr_dit_embed_block(sh[0], cache[0], &b, a));
        for (int s = 0; s < ns; s++) CHECK_OK(lavr_dit_forward_layers(sh[s], cache[s], a, NULL, NULL));
        CHECK_OK(lavr_dit_head(sh[ns - 1], cache[ns - 1], a, vel + n * blk));
    }
    lavr_dit_act_destroy(a);
}

static void check_split(lavr_h5file *f, const lavr_dit_config *cfg, const int64_t *cuts, int ns, const inputs *in,
                        int64_t blk, const float *vel_full, const lavr_dit_step_cache *cache_full) {
    lavr_dit *sh[4] = {0};
    lavr_dit_step_cache *cache[4] = {0};
    float *vel = malloc((size_t)(BLOCKS * blk) * sizeof(float));
    for (int s = 0; s < ns; s++) {
        lavr_dit_shard shard = lavr_dit_shard_full();
        shard.layer_begin = s ? cuts[s - 1] : 0;
        shard.layer_end = s < ns - 1 ? cuts[s] : -1;
        CHECK_OK(lavr_dit_load_shard(f, "dit/", "/dit", &shard, &sh[s]));
        if (!sh[s]) goto done;
    }
    CHECK(lavr_dit_shard_of(sh[ns - 1])->layer_end == cfg->num_layers);
    for (int64_t i = 0; i < BLOCKS * blk; i++) vel[i] = NAN;
    run_chain(sh, ns, in, blk, vel, cache);
    CHECK_MSG(memcmp(vel, vel_full, (size_t)(BLOCKS * blk) * sizeof(float)) == 0,
              "%d shards: velocities differ from the full model", ns);
    /* every layer's sink K/V (the clip-1 prefill) lives on exactly one shard, bit-identical */
    const int64_t sink = lavr_dit_cache_geometry(cache_full)->sink * cfg->dim;
    for (int64_t l = 0; l < cfg->num_layers; l++) {
        const uint16_t *fk, *fv, *k = NULL, *v = NULL;
        lavr_dit_cache_sink(cache_full, l, &fk, &fv);
        int owners = 0;
        for (int s = 0; s < ns && cache[s]; s++) {
            const uint16_t *sk, *sv;
            lavr_dit_cache_sink(cache[s], l, &sk, &sv);
            if (sk) owners++, k = sk, v = sv;
        }
        CHECK_MSG(owners == 1 && k && fk && memcmp(k, fk, (size_t)sink * 2) == 0 && memcmp(v, fv, (size_t)sink * 2) == 0,
                  "%d shards: sink of layer %lld (%d owners) differs", ns, (long long)l, owners);
    }
    printf("%d shards (first cut at layer %lld): %d blocks + 2 prefills bit-identical to the full model\n", ns,
           (long long)cuts[0], BLOCKS);
    /* an embedding or head asked of the wrong shard is an argument error */
    lavr_dit_act *a = NULL;
    CHECK_OK(lavr_dit_act_create(sh[0], lavr_dit_cache_geometry(cache[0]), &a));
    if (a) {
        CHECK_FAILS(lavr_dit_embed_sink(sh[ns - 1], cache[ns - 1], in->ref[0], in->motion, a), LAVR_E_ARG);
        lavr_dit_block_input b = block_input(in, 0);
        CHECK_OK(lavr_dit_embed_block(sh[0], cache[0], &b, a));
        CHECK_FAILS(lavr_dit_head(sh[0], cache[0], a, vel), LAVR_E_ARG);
        /* a cache of another shard is refused */
        CHECK_FAILS(lavr_dit_forward_layers(sh[1], cache[0], a, NULL, NULL), LAVR_E_ARG);
    }
    lavr_dit_act_destroy(a);
done:
    for (int s = 0; s < ns; s++) {
        lavr_dit_cache_destroy(cache[s]);
        lavr_dit_destroy(sh[s]);
    }
    free(vel);
}

/* never reached: the shards given it are refused before any forward */
static lavr_status no_allreduce(void *ctx, float *buf, int64_t n) {
    (void)ctx, (void)buf, (void)n;
    return LAVR_FAIL(LAVR_E_INTERNAL, "all-reduce called on a refused shard");
}

static void check_bad_shards(lavr_h5file *f) {
    struct {
        int64_t begin, end;
        int rank, size;
    } bad[] = {{2, 2, 0, 1}, {0, 5, 0, 1}, {-1, 2, 0, 1}, {0, -1, 0, 3}, {0, -1, 2, 2}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lavr_dit_shard s = {bad[i].begin, bad[i].end, {bad[i].rank, bad[i].size, no_allreduce, NULL}, 0};
        lavr_dit *m = NULL;
        CHECK_FAILS(lavr_dit_load_shard(f, "dit/", "/dit", &s, &m), LAVR_E_ARG);
        CHECK(m == NULL);
        printf("refused shard [%lld, %lld) tp %d/%d: %s\n", (long long)bad[i].begin, (long long)bad[i].end,
               bad[i].rank, bad[i].size, lavr_error_message());
    }
}

int main(void) {
    const char *tmp = getenv("LAVR_TEST_TMP");
    char path[512];
    snprintf(path, sizeof path, "%s/dit_shard_tiny.h5", tmp ? tmp : "/tmp");
    lavr_dit_config cfg;
    CHECK_OK(write_model(path, &cfg));
    lavr_h5file *f = NULL;
    CHECK_OK(lavr_h5_open(path, &f));
    if (!f) return check_summary("test_dit_shard");

    const int64_t C = cfg.in_dim, blk = C * cfg.frames_per_block * H * W;
    inputs in = {.ctx_rows = 20};
    in.ctx = normals(in.ctx_rows * cfg.text_dim, 1);
    in.ref[0] = normals(C * H * W, 2);
    in.ref[1] = normals(C * H * W, 3);
    in.motion = normals(C * 19 * H * W, 4);
    in.audio = normals(cfg.audio_num_states * cfg.audio_dim * AUDIO_FRAMES, 5);
    for (int n = 0; n < BLOCKS; n++) in.x[n] = normals(blk, 10 + n);

    lavr_dit *full = NULL;
    lavr_dit_step_cache *cache_full = NULL;
    float *vel_full = malloc((size_t)(BLOCKS * blk) * sizeof(float));
    CHECK_OK(lavr_dit_load(f, "dit/", "/dit", &full));
    if (full) {
        run_full(full, &in, blk, vel_full, &cache_full);
        double sq = 0;
        for (int64_t i = 0; i < BLOCKS * blk; i++) sq += (double)vel_full[i] * vel_full[i];
        CHECK_MSG(sq > 0 && sq == sq, "full-model velocities are zero or NaN (%g)", sq); /* compares real values */
    }
    if (cache_full) {
        const int64_t two[1] = {2}, three[2] = {1, 3};
        check_split(f, &cfg, two, 2, &in, blk, vel_full, cache_full);
        check_split(f, &cfg, three, 3, &in, blk, vel_full, cache_full);
    }
    check_bad_shards(f);

    lavr_dit_cache_destroy(cache_full);
    lavr_dit_destroy(full);
    lavr_h5_close(f);
    remove(path);
    free(vel_full);
    free(in.ctx); free(in.ref[0]); free(in.ref[1]); free(in.motion); free(in.audio);
    for (int n = 0; n < BLOCKS; n++) free(in.x[n]);
    return check_summary("test_dit_shard");
}
