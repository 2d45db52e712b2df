/* `lavr dit-run`: renders clean latent blocks with the DiT and the 4-step sampler on one process,
 * from a conditioning file or from seeded synthetic inputs, into a latent stage file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/arena.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "io/h5model.h"
#include "io/size_rule.h"
#include "io/stage.h"
#include "models/conditioning.h"
#include "models/dit.h"
#include "models/streaming.h"

#define DEFAULT_SIZE "128*128" /* latent 16 x 16, P = 64: a tiny-model block in well under a second */
#define SYNTH_CONTEXT_ROWS 16 /* synthetic prompt length (capped at text_len) */
#define VIDEO_FRAMES_PER_CLIP 48

/* what the stream reads: from the conditioning file or synthesised */
typedef struct {
    float *context, *ref, *motion, *audio;
    int64_t context_rows, audio_frames, clips, h, w;
    char description[256];
} run_inputs;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static lavr_status synth_part(uint64_t seed, uint32_t part, int64_t n, float **out) {
    *out = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!*out) return LAVR_FAIL(LAVR_E_NOMEM, "dit-run: out of memory for %lld synthetic values", (long long)n);
    lavr_rng_normal(seed, lavr_rng_stream(LAVR_STREAM_DIT_RUN_INPUTS, part, 0, 0), 0, n, *out);
    for (int64_t i = 0; i < n; i++) (*out)[i] = lavr_round_bf16((*out)[i]);
    return LAVR_OK;
}

/* Seeded stand-ins for the encoders' outputs: N(0,1) rounded to bf16 from Philox streams
 * (LAVR_STREAM_DIT_RUN_INPUTS, part) with part 0 context, 1 reference, 2 motion, 3 audio. */
static lavr_status synth_inputs(const lavr_dit_config *c, uint64_t seed, const char *size, int64_t blocks,
                                run_inputs *r) {
    int64_t W, H;
    TRY(lavr_size_parse(size, &W, &H));
    CHECK_ARG(W % 16 == 0 && H % 16 == 0,
              "lavr dit-run: --size %s: both sides must be multiples of 16 (latent sides even), e.g. 128*128", size);
    r->h = H / 8, r->w = W / 8;
    r->clips = (blocks + LAVR_BLOCKS_PER_CLIP - 1) / LAVR_BLOCKS_PER_CLIP;
    r->audio_frames = VIDEO_FRAMES_PER_CLIP * r->clips;
    r->context_rows = c->text_len < SYNTH_CONTEXT_ROWS ? c->text_len : SYNTH_CONTEXT_ROWS;
    const int64_t hw = r->h * r->w, motion_latents = (c->motion_frames + 3) / 4;
    TRY(synth_part(seed, 0, r->context_rows * c->text_dim, &r->context));
    TRY(synth_part(seed, 1, c->in_dim * hw, &r->ref));
    TRY(synth_part(seed, 2, c->in_dim * motion_latents * hw, &r->motion));
    TRY(synth_part(seed, 3, r->audio_frames * c->audio_num_states * c->audio_dim, &r->audio));
    snprintf(r->description, sizeof r->description, "synthetic seed=%llu size=%lldx%lld",
             (unsigned long long)seed, (long long)W, (long long)H);
    return LAVR_OK;
}

static lavr_status expect_shape(const char *path, const char *name, const lavr_tensor *t, int ndim,
                                const int64_t *shape) {
    int ok = t->ndim == ndim && t->dtype == LAVR_F32;
    for (int i = 0; ok && i < ndim; i++) ok = shape[i] < 0 || t->shape[i] == shape[i];
    if (ok) return LAVR_OK;
    char got[96];
    return LAVR_FAIL(LAVR_E_FORMAT, "lavr dit-run: %s in %s is %s, which does not fit the model", name, path,
                     lavr_tensor_describe(t, got, (int)sizeof got));
}

static lavr_status cond_inputs(const lavr_dit_config *c, const char *path, lavr_arena *arena, int64_t blocks,
                               run_inputs *r) {
    lavr_conditioning cd;
    memset(&cd, 0, sizeof cd);
    TRY(lavr_cond_load(path, arena, &cd));
    const lavr_tensor *parts[4] = {&cd.context, &cd.ref, &cd.motion, &cd.audio};
    const char *names[4] = {"prompt context (lavr encode-text)", "reference latent (lavr encode-image)",
                            "motion latents (lavr encode-image)", "audio features (lavr encode-audio)"};
    /* lavr_cond_load leaves an absent part zeroed (no data, ndim 0), whose numel is 1, not 0 */
    for (int i = 0; i < 4; i++)
        CHECK_ARG(parts[i]->data && parts[i]->ndim > 0, "lavr dit-run: %s has no %s", path, names[i]);
    const int64_t ctx[2] = {-1, c->text_dim}, ref[4] = {c->in_dim, 1, -1, -1};
    TRY(expect_shape(path, "context", &cd.context, 2, ctx));
    TRY(expect_shape(path, "ref_latent", &cd.ref, 4, ref));
    r->h = cd.ref.shape[2], r->w = cd.ref.shape[3];
    const int64_t mot[4] = {c->in_dim, (c->motion_frames + 3) / 4, r->h, r->w};
    const int64_t aud[3] = {-1, c->audio_num_states, c->audio_dim};
    TRY(expect_shape(path, "motion_latents", &cd.motion, 4, mot));
    TRY(expect_shape(path, "audio", &cd.audio, 3, aud));
    r->context = cd.context.data, r->ref = cd.ref.data, r->motion = cd.motion.data, r->audio = cd.audio.data;
    r->context_rows = cd.context.shape[0];
    r->audio_frames = cd.audio.shape[0];
    r->clips = cd.clips;
    const int64_t have = LAVR_BLOCKS_PER_CLIP * cd.clips;
    CHECK_ARG(blocks <= have && 12 * blocks <= r->audio_frames,
              "lavr dit-run: --blocks %lld is more than the audio in %s gives (%lld clips = %lld blocks)",
              (long long)blocks, path, (long long)cd.clips, (long long)have);
    snprintf(r->description, sizeof r->description, "image=%s audio=%s prompt=%s", cd.image_sha, cd.audio_sha,
             cd.prompt_sha);
    return LAVR_OK;
}

static lavr_status render(lavr_dit *m, const run_inputs *r, const char *model_path, const char *out_path,
                          uint64_t seed, int64_t sink_offset, int64_t blocks) {
    const lavr_dit_config *c = &m->cfg;
    lavr_dit_geometry g;
    TRY(lavr_dit_geometry_of(c, r->h, r->w, &g));
    TRY(lavr_dit_set_context(m, r->context, r->context_rows));
    printf("dit-run: %lld layers, dim %lld; latent block [%lld,%lld,%lld,%lld]: %lld tokens (P = %lld), window %lld, "
           "sink %lld; sink offset %s\n",
           (long long)c->num_layers, (long long)c->dim, (long long)c->in_dim, (long long)c->frames_per_block,
           (long long)r->h, (long long)r->w, (long long)g.block_tokens, (long long)g.P, (long long)g.window,
           (long long)g.sink, sink_offset ? "fixed" : "drawn per (clip, block, step)");
    lavr_stage_info info = {.C = c->in_dim, .F = c->frames_per_block, .h = r->h, .w = r->w, .seed = seed,
                            .layout = "dit-run", .model = model_path, .inputs = r->description,
                            .fixed_sink_offset = sink_offset};
    lavr_stage *stage = NULL;
    lavr_stream *stream = NULL;
    float *latent = NULL;
    lavr_status st = lavr_stage_create(out_path, &info, &stage);
    lavr_stream_inputs in = {r->ref, r->motion, r->audio, r->audio_frames, r->h, r->w};
    lavr_stream_options opt = {seed, sink_offset};
    if (!st) st = lavr_stream_create(m, &in, &opt, &stream);
    if (!st && !(latent = malloc((size_t)(c->in_dim * c->frames_per_block * r->h * r->w) * sizeof(float))))
        st = LAVR_FAIL(LAVR_E_NOMEM, "dit-run: latent block");
    double total = 0;
    for (int64_t n = 0; !st && n < blocks; n++) {
        double t0 = now_s();
        st = lavr_stream_next_block(stream, latent);
        double dt = now_s() - t0;
        if (!st) st = lavr_stage_append(stage, latent);
        if (st) break;
        total += dt;
        printf("block %lld (clip %lld, block %lld): %.3f s, %.1f ms per block-step\n", (long long)n,
               (long long)(n / LAVR_BLOCKS_PER_CLIP), (long long)(n % LAVR_BLOCKS_PER_CLIP), dt,
               1e3 * dt / LAVR_SAMPLER_STEPS);
        fflush(stdout);
    }
    free(latent);
    lavr_stream_destroy(stream);
    lavr_status close_st = lavr_stage_close(stage);
    TRY(st);
    TRY(close_st);
    printf("dit-run: %lld blocks in %.3f s: %.3f s per block, %.1f ms per block-step (blocks 0 and 4 include the "
           "sink prefill); wrote %s\n",
           (long long)blocks, total, total / (double)blocks, 1e3 * total / (double)(blocks * LAVR_SAMPLER_STEPS),
           out_path);
    return LAVR_OK;
}

lavr_status lavr_cmd_dit_run(int argc, char **argv) {
    cli_option opts[] = {
        {"model", "FILE", "model file (lavr init / lavr convert) with a /dit group", NULL},
        {"cond", "FILE", "conditioning file (lavr encode-image/-text/-audio); without it inputs are synthetic", NULL},
        {"blocks", "N", "latent blocks to render (3 latent frames = 12 video frames each)", NULL},
        {"out", "FILE", "latent stage file to write (/latents [blocks, C, F, h, w] bf16)", NULL},
        {"seed", "N", "seed of the noise, the sink offsets and the synthetic inputs (default 0)", NULL},
        {"size", "W*H", "W*H pixel size of the synthetic inputs, sides multiples of 16 (default " DEFAULT_SIZE ")", NULL},
        {"sink-offset", "D", "fixed reference offset d in 4..30 (default: drawn per clip, block and step)", NULL},
        {"help", 0, "show this help", NULL},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char *positional[1];
    int npos = 0;
    TRY(cli_parse("dit-run", argc, argv, 2, opts, nopts, positional, 0, &npos));
    if (cli_flag(opts, nopts, "help")) {
        cli_print_help("usage: lavr dit-run --model M.h5 [--cond COND.h5 | --size W*H] --blocks N --out latents.h5 "
                       "[--seed S] [--sink-offset D]",
                       NULL, opts, nopts);
        return LAVR_OK;
    }
    const char *model_path = cli_get(opts, nopts, "model", NULL), *out_path = cli_get(opts, nopts, "out", NULL);
    const char *cond_path = cli_get(opts, nopts, "cond", NULL), *size = cli_get(opts, nopts, "size", NULL);
    CHECK_ARG(model_path && *model_path, "lavr dit-run: missing --model FILE");
    CHECK_ARG(out_path && *out_path, "lavr dit-run: missing --out FILE");
    CHECK_ARG(cli_get(opts, nopts, "blocks", NULL), "lavr dit-run: missing --blocks N");
    CHECK_ARG(!(cond_path && size), "lavr dit-run: --size is for synthetic inputs; with --cond the size comes from "
                                    "the conditioning file");
    int64_t blocks, seed, sink_offset;
    TRY(cli_get_int(opts, nopts, "blocks", 1, 1, 1 << 20, &blocks));
    TRY(cli_get_int(opts, nopts, "seed", 0, 0, INT64_MAX, &seed));
    TRY(cli_get_int(opts, nopts, "sink-offset", 0, 4, 30, &sink_offset));

    lavr_h5file *f = NULL;
    lavr_dit *m = NULL;
    lavr_arena *arena = NULL;
    run_inputs r;
    memset(&r, 0, sizeof r);
    lavr_status st = lavr_h5_open(model_path, &f);
    if (!st) st = lavr_dit_load(f, "dit/", "/dit", &m);
    if (!st && cond_path) st = lavr_arena_create("conditioning", 0, &arena);
    if (!st && cond_path) st = cond_inputs(&m->cfg, cond_path, arena, blocks, &r);
    if (!st && !cond_path) st = synth_inputs(&m->cfg, (uint64_t)seed, size ? size : DEFAULT_SIZE, blocks, &r);
    if (!st) st = render(m, &r, model_path, out_path, (uint64_t)seed, sink_offset, blocks);
    if (!cond_path) {
        free(r.context), free(r.ref), free(r.motion), free(r.audio);
    }
    lavr_arena_destroy(arena);
    lavr_dit_destroy(m);
    lavr_status close_st = lavr_h5_close(f);
    return st ? st : close_st;
}
