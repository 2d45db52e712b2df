/* Test helper shared by the GPU DiT engine tests: engines of ranks/dit_engine.h opened without a render (roles
 * built by hand), chained over layer ranges through the host act as the render's pp messages do, driven through
 * prefill and blocks, and checkpoints compared tensor by tensor. Header-only, like check.h. */
#ifndef LAVR_TEST_ENGINE_COMPARE_H
#define LAVR_TEST_ENGINE_COMPARE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "models/sampler.h"
#include "ranks/dit_ckpt.h"
#include "ranks/dit_engine.h"

#define EC_LAT 16     /* latent grid 16x16 */
#define EC_CACHES 2   /* step caches (steps 0 and 1) */
#define EC_CTX_ROWS 7 /* prompt tokens */

typedef struct {
    lavr_dit_engine *e[3];
    lavr_roles roles[3];
    int n;
} ec_chain;

static inline float *ec_randn(uint32_t id, int64_t n) {
    float *x = malloc((size_t)n * sizeof(float));
    if (!x) exit(1);
    lavr_rng_normal(31, lavr_rng_stream(LAVR_STREAM_TEST, 500 + id, 0, 0), 0, n, x);
    for (int64_t i = 0; i < n; i++) x[i] = lavr_round_bf16(x[i]);
    return x;
}

static inline double ec_rel_l2(const float *a, const float *b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    const double e = sqrt(num / (den > 0 ? den : 1e-30));
    return isnan(e) ? INFINITY : e;
}

/* A DiT rank's roles without a layout: the given layers, tp over `tp` (MPI_COMM_NULL: none), `device`. */
static inline lavr_roles ec_roles(int64_t layer_begin, int64_t layer_end, MPI_Comm tp, int device) {
    lavr_roles r;
    memset(&r, 0, sizeof r);
    r.role.is_dit = 1;
    r.role.layer_begin = layer_begin, r.role.layer_end = layer_end;
    r.role.step_begin = 0, r.role.step_end = EC_CACHES;
    r.device = device;
    r.tp = tp;
    r.dit = r.aux = r.stage = r.node = MPI_COMM_NULL;
    snprintf(r.role_name, sizeof r.role_name, "dit [%lld,%lld)", (long long)layer_begin, (long long)layer_end);
    return r;
}

/* Opens and prepares n engines over the ranges [split[i], split[i+1]). */
static inline void ec_open(ec_chain *c, int n, const int64_t *split, lavr_backend b, const char *model,
                           const float *ctx, MPI_Comm tp, int device, uint64_t gpu_mem) {
    memset(c, 0, sizeof *c);
    c->n = n;
    for (int i = 0; i < n; i++) {
        c->roles[i] = ec_roles(split[i], split[i + 1], tp, device);
        lavr_dit_engine_options o = {.backend = b, .model_path = model, .roles = &c->roles[i], .gpu_mem_bytes = gpu_mem};
        CHECK_OK(lavr_dit_engine_open(&o, &c->e[i]));
        if (!c->e[i]) exit(check_summary("engine_compare"));
        CHECK_OK(lavr_dit_engine_prepare(c->e[i], ctx, EC_CTX_ROWS, EC_LAT, EC_LAT, EC_CACHES));
    }
}

static inline void ec_close(ec_chain *c) {
    for (int i = 0; i < c->n; i++) lavr_dit_engine_close(c->e[i]);
    c->n = 0;
}

/* The pp hand-over as the render does it: act to host, buffer and header copied, act from host. */
static inline void ec_pass_act(lavr_dit_engine *from, lavr_dit_engine *to) {
    CHECK_OK(lavr_dit_engine_act_to_host(from));
    const lavr_dit_act *a = lavr_dit_engine_act(from);
    lavr_dit_act *b = lavr_dit_engine_act(to);
    CHECK(a->floats == b->floats);
    memcpy(b->buf, a->buf, (size_t)a->floats * sizeof(float));
    b->prefill = a->prefill, b->block_index = a->block_index, b->sink_offset = a->sink_offset;
    b->rows = a->rows, b->timestep = a->timestep;
    CHECK_OK(lavr_dit_engine_act_from_host(to));
}

static inline void ec_prefill(ec_chain *c, const float *ref, const float *motion) {
    CHECK_OK(lavr_dit_engine_embed_sink(c->e[0], 0, ref, motion));
    for (int i = 0; i < c->n; i++) {
        if (i > 0) ec_pass_act(c->e[i - 1], c->e[i]);
        CHECK_OK(lavr_dit_engine_forward(c->e[i], 0));
        for (int k = 1; k < EC_CACHES; k++) CHECK_OK(lavr_dit_engine_copy_sink(c->e[i], k, 0));
    }
}

static inline void ec_block(ec_chain *c, int cache, const lavr_dit_block_input *in, float *velocity, int64_t nv) {
    for (int64_t i = 0; i < nv; i++) velocity[i] = NAN; /* an unwritten velocity cannot pass */
    CHECK_OK(lavr_dit_engine_embed_block(c->e[0], cache, in));
    for (int i = 0; i < c->n; i++) {
        if (i > 0) ec_pass_act(c->e[i - 1], c->e[i]);
        CHECK_OK(lavr_dit_engine_forward(c->e[i], cache));
    }
    CHECK_OK(lavr_dit_engine_head(c->e[c->n - 1], cache, velocity));
}

/* Block n, step s of the tests: inputs drawn from (n, s); x and audio are the caller's to free. */
static inline lavr_dit_block_input ec_input(const lavr_dit_config *cfg, int n, int s, float **x, float **audio) {
    const int64_t NB = cfg->in_dim * cfg->frames_per_block * EC_LAT * EC_LAT;
    const int64_t AF = 4 * cfg->frames_per_block, SA = cfg->audio_num_states * cfg->audio_dim;
    lavr_sampler smp; /* the first two of the 4 denoising steps' timesteps */
    CHECK_OK(lavr_sampler_init(4, &smp));
    *x = ec_randn(100 + 10 * (uint32_t)n + (uint32_t)s, NB);
    *audio = ec_randn(200 + (uint32_t)n, SA * AF);
    return (lavr_dit_block_input){.x = *x, .pose = NULL, .timestep = smp.timesteps[s], .block_index = n,
                                  .sink_offset = 4 + (7 * n + 3 * s) % 27, .audio = *audio, .audio_frames = AF,
                                  .audio_first = 0};
}

/* Every cache of engine e into rank file `rank` of <dir>/ckpt-<blocks> (cache k as step k, the sink with 0). */
static inline void ec_save_engine(lavr_dit_engine *e, const char *dir, int64_t blocks, int rank, lavr_ckpt_file *entry) {
    lavr_ckpt_writer *w = NULL;
    CHECK_OK(lavr_ckpt_begin(dir, blocks, rank, &w));
    if (!w) return;
    for (int k = 0; k < EC_CACHES; k++) CHECK_OK(lavr_dit_engine_save(e, k, k, k == 0, w));
    CHECK_OK(lavr_ckpt_finish(w, entry));
}

static inline void ec_commit(const char *dir, int64_t blocks, const lavr_ckpt_file *files, int nfiles) {
    lavr_ckpt_manifest m = {.clip = blocks / 4, .blocks = blocks, .layout = "steps=1,tp=1,pp=1,aux=1",
                            .id = {"tiny engine test", "synthetic"}, .nfiles = nfiles, .files = files};
    CHECK_OK(lavr_ckpt_commit(dir, &m));
}

static inline void ec_save(ec_chain *c, const char *dir, int64_t blocks) {
    lavr_ckpt_file files[3];
    memset(files, 0, sizeof files);
    for (int i = 0; i < c->n; i++) ec_save_engine(c->e[i], dir, blocks, i, &files[i]);
    ec_commit(dir, blocks, files, c->n);
}

static inline void ec_load(ec_chain *c, const char *dir, int64_t blocks) {
    lavr_ckpt *ck = NULL;
    CHECK_OK(lavr_ckpt_open(dir, blocks, NULL, LAVR_CKPT_VERIFY_SIZES, &ck));
    if (!ck) return;
    for (int i = 0; i < c->n; i++)
        for (int k = 0; k < EC_CACHES; k++) CHECK_OK(lavr_dit_engine_load(c->e[i], k, k, ck));
    lavr_ckpt_close(ck);
}

/* Every window and sink tensor of checkpoint a against b: the worst rel L2, and how many tensors differ. */
static inline double ec_compare_ckpt(const char *dir_a, const char *dir_b, int64_t blocks, int64_t layers,
                                     int *differing) {
    lavr_ckpt *a = NULL, *b = NULL;
    CHECK_OK(lavr_ckpt_open(dir_a, blocks, NULL, LAVR_CKPT_VERIFY_SIZES, &a));
    CHECK_OK(lavr_ckpt_open(dir_b, blocks, NULL, LAVR_CKPT_VERIFY_SIZES, &b));
    lavr_arena *arena = NULL;
    CHECK_OK(lavr_arena_create("ckpt compare", 0, &arena));
    double worst = 0;
    *differing = 0;
    for (int64_t l = 0; l < layers && a && b && arena; l++)
        for (int t = 0; t <= EC_CACHES; t++)
            for (int v = 0; v < 2; v++) {
                char name[96];
                if (t < EC_CACHES) lavr_dit_ckpt_window_name(name, sizeof name, t, l, v);
                else lavr_dit_ckpt_sink_name(name, sizeof name, l, v);
                lavr_tensor ta, tb;
                memset(&ta, 0, sizeof ta), memset(&tb, 0, sizeof tb);
                CHECK_OK(lavr_ckpt_read_tensor(a, name, arena, &ta));
                CHECK_OK(lavr_ckpt_read_tensor(b, name, arena, &tb));
                const int64_t n = lavr_tensor_numel(&ta);
                CHECK_MSG(n > 0 && n == lavr_tensor_numel(&tb) && ta.dtype == LAVR_BF16 && tb.dtype == LAVR_BF16,
                          "%s: %lld vs %lld values", name, (long long)n, (long long)lavr_tensor_numel(&tb));
                if (n > 0 && n == lavr_tensor_numel(&tb)) {
                    float *fa = malloc((size_t)n * sizeof(float)), *fb = malloc((size_t)n * sizeof(float));
                    for (int64_t i = 0; i < n; i++) {
                        fa[i] = (float)lavr_dtype_load(LAVR_BF16, ta.data, i);
                        fb[i] = (float)lavr_dtype_load(LAVR_BF16, tb.data, i);
                    }
                    const double e = ec_rel_l2(fa, fb, n);
                    if (e > worst) worst = e;
                    *differing += memcmp(ta.data, tb.data, (size_t)n * 2) != 0;
                    free(fa), free(fb);
                }
                lavr_tensor_free(&ta), lavr_tensor_free(&tb);
            }
    lavr_arena_destroy(arena);
    lavr_ckpt_close(a);
    lavr_ckpt_close(b);
    return worst;
}

#endif
