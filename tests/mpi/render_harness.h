/* Test helper for the render's MPI tests: runs the DiT and aux roles of a layout in-process on the
 * tiny model with seeded synthetic conditioning, and on the aux rank compares every clean latent with
 * the single-process streaming runner (lavr dit-run's code) for the same conditioning and seed. */
#ifndef LAVR_TEST_RENDER_HARNESS_H
#define LAVR_TEST_RENDER_HARNESS_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/rng.h"
#include "models/streaming.h"
#include "parallel/comm.h"
#include "parallel/mpi.h"
#include "ranks/aux_worker.h"
#include "ranks/dit_stage.h"
#include "tests/check.h"
#include "tests/tiny_model.h"

#define HARNESS_LAT 16     /* latent grid 16x16 = 128x128 pixels */
#define HARNESS_CLIPS 2    /* 8 blocks: the window wraps and the sink is re-prefilled at clip 1 */
#define HARNESS_ROWS 7     /* prompt tokens */
#define HARNESS_SEED 11
/* The DiT ranks' backend and device arena cap; a GPU test defines them before including this file. */
#ifndef HARNESS_BACKEND
#define HARNESS_BACKEND LAVR_BACKEND_CPU
#endif
#ifndef HARNESS_GPU_MEM
#define HARNESS_GPU_MEM 0
#endif

typedef struct {
    float *latents; /* [blocks, C, F, h, w] as they arrived */
    int64_t blocks, per_block;
} harness_sink;

static lavr_status harness_collect(void *user, int64_t block, const float *latent, int64_t n) {
    harness_sink *s = user;
    if (block != s->blocks || n != s->per_block)
        return LAVR_FAIL(LAVR_E_INTERNAL, "block %lld of %lld values arrived, expected block %lld of %lld",
                         (long long)block, (long long)n, (long long)s->blocks, (long long)s->per_block);
    memcpy(s->latents + block * n, latent, (size_t)n * sizeof(float));
    s->blocks++;
    return LAVR_OK;
}

static void harness_fill(uint32_t part, int64_t n, int bf16, float *out) {
    lavr_rng_normal(HARNESS_SEED, lavr_rng_stream(LAVR_STREAM_TEST, 40 + part, 0, 0), 0, n, out);
    if (bf16)
        for (int64_t i = 0; i < n; i++) out[i] = lavr_round_bf16(out[i]);
}

/* Synthetic conditioning: context and audio features are bf16 values as the encoders give them. */
static lavr_status harness_cond(const lavr_model_config *cfg, lavr_arena *arena, lavr_conditioning *c) {
    const lavr_dit_config *d = &cfg->dit;
    const int64_t C = d->in_dim, L = HARNESS_LAT;
    memset(c, 0, sizeof *c);
    int64_t ctx[2] = {HARNESS_ROWS, d->text_dim}, ref[4] = {C, 1, L, L}, mot[4] = {C, 19, L, L},
            aud[3] = {48 * HARNESS_CLIPS, d->audio_num_states, d->audio_dim};
    TRY(lavr_tensor_alloc(arena, LAVR_F32, 2, ctx, "context", &c->context));
    TRY(lavr_tensor_alloc(arena, LAVR_F32, 4, ref, "ref", &c->ref));
    TRY(lavr_tensor_alloc(arena, LAVR_F32, 4, mot, "motion", &c->motion));
    TRY(lavr_tensor_alloc(arena, LAVR_F32, 3, aud, "audio", &c->audio));
    harness_fill(0, lavr_tensor_numel(&c->context), 1, c->context.data);
    harness_fill(1, lavr_tensor_numel(&c->ref), 0, c->ref.data);
    harness_fill(2, lavr_tensor_numel(&c->motion), 0, c->motion.data);
    harness_fill(3, lavr_tensor_numel(&c->audio), 1, c->audio.data);
    c->clips = HARNESS_CLIPS;
    c->height = c->width = 8 * L;
    return LAVR_OK;
}

/* The reference: lavr_stream (one process, whole model) on the same conditioning and seed. */
static lavr_status harness_reference(const char *model_path, const lavr_conditioning *c,
                                     const lavr_stream_options *o, float *out, int64_t per_block) {
    lavr_h5file *f = NULL;
    lavr_dit *m = NULL;
    lavr_stream *s = NULL;
    TRY(lavr_h5_open(model_path, &f));
    lavr_status st = lavr_dit_load(f, "dit/", "/dit", &m);
    lavr_h5_close(f);
    if (!st) st = lavr_dit_set_context(m, c->context.data, c->context.shape[0]);
    lavr_stream_inputs in = {.ref = c->ref.data, .motion = c->motion.data, .audio = c->audio.data,
                             .audio_frames = c->audio.shape[0], .h = HARNESS_LAT, .w = HARNESS_LAT};
    if (!st) st = lavr_stream_create(m, &in, o, &s);
    for (int64_t n = 0; n < 4 * c->clips && !st; n++) st = lavr_stream_next_block(s, out + n * per_block);
    lavr_stream_destroy(s);
    lavr_dit_destroy(m);
    return st;
}

/* Renders with `layout` (the world must have its rank count). tolerance 0: every latent must equal
 * the reference bit for bit; else the rel L2 error over all latents must stay below it. */
static void harness_run(const char *layout_text, const char *name, double tolerance) {
    lavr_layout layout;
    CHECK_OK(lavr_layout_parse(layout_text, &layout));
    const char *tmp = getenv("LAVR_TEST_TMP");
    char model[512];
    snprintf(model, sizeof model, "%s/render_%s.h5", tmp ? tmp : ".", name);
    lavr_model_config cfg;
    CHECK_OK(lavr_config_preset("tiny", &cfg));
    if (lavr_mpi_world_rank() == 0) CHECK_OK(tiny_model_write(model, 7, 0, 0, &cfg));
    MPI_Barrier(MPI_COMM_WORLD);

    lavr_roles *roles = NULL;
    lavr_comm *comm = NULL;
    CHECK_OK(lavr_mpi_roles_create(&layout, cfg.dit.num_heads, cfg.dit.ffn_dim, cfg.dit.num_layers, &roles));
    CHECK_OK(lavr_comm_world(&comm));
    if (!roles || !comm) return;
    lavr_stream_options stream = {.seed = HARNESS_SEED, .fixed_sink_offset = 0};
    if (roles->role.is_dit) {
        lavr_dit_stage_options o = {.model_path = model, .backend = HARNESS_BACKEND, .gpu_mem_bytes = HARNESS_GPU_MEM,
                                    .stream = stream, .fail_block = -1};
        CHECK_OK(lavr_dit_stage_run(comm, roles, &o));
    } else {
        lavr_arena *arena = NULL;
        CHECK_OK(lavr_arena_create("test", 0, &arena));
        lavr_conditioning cond;
        CHECK_OK(harness_cond(&cfg, arena, &cond));
        const int64_t per_block = cfg.dit.in_dim * cfg.dit.frames_per_block * HARNESS_LAT * HARNESS_LAT;
        const int64_t blocks = 4 * HARNESS_CLIPS;
        harness_sink sink = {malloc(sizeof(float) * (size_t)(blocks * per_block)), 0, per_block};
        float *expect = malloc(sizeof(float) * (size_t)(blocks * per_block));
        lavr_aux_options o = {.model_path = model, .cond = &cond, .stream = stream, .layout_text = layout_text,
                              .fail_block = -1, .on_latent = harness_collect, .user = &sink};
        CHECK_OK(lavr_aux_run(comm, roles, &o));
        CHECK(sink.blocks == blocks);
        CHECK_OK(harness_reference(model, &cond, &stream, expect, per_block));
        double err = 0, ref = 0;
        int64_t differing = 0;
        for (int64_t i = 0; i < blocks * per_block; i++) {
            double d = (double)sink.latents[i] - (double)expect[i];
            err += d * d;
            ref += (double)expect[i] * expect[i];
            differing += memcmp(&sink.latents[i], &expect[i], sizeof(float)) != 0;
        }
        double rel = sqrt(err / (ref > 0 ? ref : 1));
        printf("%s (%s): %lld blocks, %lld of %lld latent values differ from the single-process run, rel L2 %.3g\n",
               name, layout_text, (long long)blocks, (long long)differing, (long long)(blocks * per_block), rel);
        if (tolerance == 0)
            CHECK_MSG(differing == 0, "%lld values differ (rel L2 %.3g); the layout must be bit-identical",
                      (long long)differing, rel);
        else
            CHECK_MSG(rel <= tolerance && isfinite(rel), "rel L2 %.3g above %.3g", rel, tolerance);
        free(sink.latents);
        free(expect);
        lavr_arena_destroy(arena);
    }
    lavr_comm_destroy(comm);
    lavr_mpi_roles_destroy(roles);
}

#endif
