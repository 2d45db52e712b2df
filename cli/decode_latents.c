/* `lavr decode-latents`: the clean latent blocks of a stage file (lavr dit-run, lavr render) through the
 * streaming VAE decoder primed with the conditioning's motion latents, written as MP4 frame by frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/json.h"
#include "core/log.h"
#include "core/sha256.h"
#include "io/audio.h"
#include "io/h5model.h"
#include "io/stage.h"
#include "io/video.h"
#include "models/conditioning.h"
#include "models/decode_stream.h"
#include "models/vae.h"

#define NOPTS(a) ((int)(sizeof(a) / sizeof(a)[0]))

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static lavr_status load_vae(lavr_h5file *model, lavr_arena *arena, lavr_vae_config *cfg, lavr_vae **vae) {
    char *text = NULL;
    lavr_json *j = NULL;
    TRY(lavr_h5_read_attr_string(model, "/vae", "config", &text));
    lavr_status st = lavr_json_parse(text, &j);
    free(text);
    if (!st) st = lavr_vae_config_from_json(j, cfg);
    lavr_json_free(j);
    TRY(st);
    return lavr_vae_create(model, "vae/", cfg, NULL, arena, vae);
}

/* The stage's blocks must be what the VAE and the conditioning's motion latents expect. */
static lavr_status check_shapes(const lavr_stage_info *in, const char *latents, const lavr_conditioning *c,
                                const char *cond, int64_t z_dim) {
    if (c->motion.ndim != 4 || !c->motion.data)
        return LAVR_FAIL(LAVR_E_ARG, "%s has no motion latents: run lavr encode-image --out %s first", cond, cond);
    if (in->C != z_dim || in->F != LAVR_DECODE_BLOCK_LATENTS)
        return LAVR_FAIL(LAVR_E_FORMAT, "%s holds blocks of [%lld, %lld, h, w]; the VAE decodes [%lld, %d, h, w]",
                         latents, (long long)in->C, (long long)in->F, (long long)z_dim, LAVR_DECODE_BLOCK_LATENTS);
    if (c->motion.shape[0] != in->C || c->motion.shape[2] != in->h || c->motion.shape[3] != in->w)
        return LAVR_FAIL(LAVR_E_FORMAT, "%s has %lldx%lld latents but the motion latents in %s are %lldx%lld "
                         "(encoded at another size?)",
                         latents, (long long)in->h, (long long)in->w, cond, (long long)c->motion.shape[2],
                         (long long)c->motion.shape[3]);
    return LAVR_OK;
}

typedef struct {
    const char *model, *cond, *latents, *out, *audio, *preset;
    int64_t crf;
} decode_args;

static lavr_status decode(const decode_args *a) {
    lavr_arena *arena = NULL;
    lavr_h5file *model = NULL;
    lavr_stage *stage = NULL;
    lavr_vae *vae = NULL;
    lavr_vae_config vcfg;
    lavr_decode_stream *ds = NULL;
    lavr_video_writer *writer = NULL;
    lavr_conditioning c;
    memset(&c, 0, sizeof c);
    lavr_audio audio = {0};
    float *latent = NULL, *frames = NULL;
    lavr_status st;
    double t0 = now_s();
    TRY_GOTO(lavr_arena_create("decode-latents", 0, &arena), st, done);
    TRY_GOTO(lavr_stage_open(a->latents, 0, &stage), st, done);
    TRY_GOTO(lavr_cond_load(a->cond, arena, &c), st, done);
    TRY_GOTO(lavr_h5_open(a->model, &model), st, done);
    TRY_GOTO(load_vae(model, arena, &vcfg, &vae), st, done);
    const lavr_stage_info *in = lavr_stage_info_of(stage);
    TRY_GOTO(check_shapes(in, a->latents, &c, a->cond, vcfg.z_dim), st, done);
    const int64_t blocks = lavr_stage_blocks(stage), sf = lavr_vae_spatial_factor(vae);
    const int64_t H = sf * in->h, W = sf * in->w, plane = H * W;
    if (blocks < 1) {
        st = LAVR_FAIL(LAVR_E_FORMAT, "%s holds no latent blocks", a->latents);
        goto done;
    }
    lavr_video_options o;
    lavr_video_options_default(&o);
    o.width = W, o.height = H, o.crf = (int)a->crf, o.preset = a->preset;
    if (a->audio) {
        char sha[65];
        TRY_GOTO(lavr_sha256_file_hex(a->audio, sha), st, done);
        if (c.audio_sha[0] && strcmp(sha, c.audio_sha) != 0)
            LOG_WARN("%s is not the audio %s was encoded from (SHA-256 differs)", a->audio, a->cond);
        TRY_GOTO(lavr_audio_probe(a->audio, &audio), st, done);
        /* written frame 0 is generated frame 3 (the first 3 are dropped): its audio starts 3 frames in */
        o.audio_path = a->audio;
        o.audio_skip_frames = LAVR_DECODE_DROP_FRAMES;
    }
    TRY_GOTO(lavr_decode_stream_create(vae, &c.motion, arena, &ds), st, done);
    latent = malloc((size_t)(in->C * in->F * in->h * in->w) * sizeof(float));
    frames = malloc((size_t)(3 * LAVR_DECODE_BLOCK_FRAMES * plane) * sizeof(float));
    if (!latent || !frames) {
        st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory for a block of %lldx%lld frames", (long long)W, (long long)H);
        goto done;
    }
    TRY_GOTO(lavr_video_writer_open(a->out, &o, &writer), st, done);
    printf("decode-latents: %lld blocks of [%lld,%lld,%lld,%lld] -> %lld frames of %lldx%lld (primed in %.2f s)\n",
           (long long)blocks, (long long)in->C, (long long)in->F, (long long)in->h, (long long)in->w,
           (long long)(blocks * LAVR_DECODE_BLOCK_FRAMES - LAVR_DECODE_DROP_FRAMES), (long long)W, (long long)H,
           now_s() - t0);
    for (int64_t b = 0; b < blocks; b++) {
        double tb = now_s();
        int64_t count = 0;
        TRY_GOTO(lavr_stage_read(stage, b, latent), st, done);
        TRY_GOTO(lavr_decode_stream_push(ds, latent, frames, &count), st, done);
        TRY_GOTO(lavr_video_writer_append_f32(writer, frames, count), st, done);
        printf("block %lld: %lld frames in %.2f s\n", (long long)b, (long long)count, now_s() - tb);
    }
    int64_t written = lavr_video_writer_frames(writer);
    st = lavr_video_writer_close(writer);
    writer = NULL;
    if (!st)
        printf("wrote %s: %lld frames, %lldx%lld, %d fps (%.2f s of video%s) in %.2f s\n", a->out, (long long)written,
               (long long)W, (long long)H, o.fps, (double)written / o.fps, a->audio ? ", audio cut to it" : "",
               now_s() - t0);
done:
    if (writer) lavr_video_writer_close(writer);
    free(latent);
    free(frames);
    lavr_decode_stream_destroy(ds);
    lavr_vae_destroy(vae);
    if (stage) {
        lavr_status cst = lavr_stage_close(stage);
        if (!st) st = cst;
    }
    lavr_status mst = lavr_h5_close(model);
    if (!st) st = mst;
    lavr_cond_free(&c);
    lavr_audio_free(&audio);
    lavr_arena_destroy(arena);
    return st;
}

lavr_status lavr_cmd_decode_latents(int argc, char **argv) {
    cli_option opts[] = {
        {"model", 1, "lavr model file (uses /vae)", NULL},
        {"cond", 1, "conditioning file with the motion latents (lavr encode-image)", NULL},
        {"latents", 1, "latent stage file (lavr dit-run / lavr render)", NULL},
        {"out", 1, "output .mp4 (H.264 + AAC, fragmented) or .y4m (+ .wav)", NULL},
        {"audio", 1, "speech to mux, aligned to the written frames and cut to the video (optional)", NULL},
        {"crf", 1, "libx264 quality, 0..51 (default 18)", NULL},
        {"preset", 1, "libx264 preset (default medium)", NULL},
        {"help", 0, "this help", NULL},
    };
    TRY(cli_parse("decode-latents", argc, argv, 2, opts, NOPTS(opts), NULL, 0, NULL));
    if (cli_flag(opts, NOPTS(opts), "help")) {
        cli_print_help("usage: lavr decode-latents --model M.h5 --cond COND.h5 --latents L.h5 --out video.mp4 "
                       "[--audio FILE]",
                       opts, NOPTS(opts));
        return LAVR_OK;
    }
    decode_args a = {
        .model = cli_get(opts, NOPTS(opts), "model", NULL),
        .cond = cli_get(opts, NOPTS(opts), "cond", NULL),
        .latents = cli_get(opts, NOPTS(opts), "latents", NULL),
        .out = cli_get(opts, NOPTS(opts), "out", NULL),
        .audio = cli_get(opts, NOPTS(opts), "audio", NULL),
        .preset = cli_get(opts, NOPTS(opts), "preset", "medium"),
    };
    CHECK_ARG(a.model && a.cond && a.latents && a.out,
              "lavr decode-latents: --model, --cond, --latents and --out are required");
    TRY(cli_get_int(opts, NOPTS(opts), "crf", 18, 0, 51, &a.crf));
    return decode(&a);
}
