/* Wan2.1 VAE against a golden file: encode of inputs/video, the streaming decode calls the golden
 * README lists (latents 0..3 on a fresh stream, then 3 per call) and the whole decode on a reset stream,
 * on any execution context (the CPU or a CUDA device). */
#include <math.h>
#include <stdio.h>

#include "core/arena.h"
#include "models/golden.h"
#include "models/vae.h"

static lavr_status alloc4(lavr_arena *arena, int64_t a, int64_t b, int64_t c, int64_t d, lavr_tensor *out) {
    int64_t shape[4] = {a, b, c, d};
    TRY(lavr_tensor_alloc(arena, LAVR_F32, 4, shape, "golden VAE buffer", out));
    float *p = out->data;
    for (int64_t i = 0; i < lavr_tensor_numel(out); i++) p[i] = NAN;
    return LAVR_OK;
}

static lavr_status compare(lavr_golden *g, const char *name, const lavr_tensor *t) {
    char path[96];
    snprintf(path, sizeof path, "outputs/%s", name);
    return lavr_golden_compare(g, path, t->data, lavr_tensor_numel(t), 0);
}

static lavr_status run(lavr_golden *g, lavr_vae *vae, const lavr_vae_config *cfg, lavr_arena *arena) {
    lavr_tensor video, latent, lat, whole;
    const int64_t s = lavr_vae_spatial_factor(vae);
    TRY(lavr_h5_read_f32(g->file, "inputs/video", arena, &video));
    if (video.ndim != 4 || (video.shape[1] - 1) % 4 || video.shape[2] % s || video.shape[3] % s)
        return LAVR_FAIL(LAVR_E_FORMAT, "%s: inputs/video must be [3, 1+4k, H, W] with H, W multiples of %lld",
                         lavr_h5_path(g->file), (long long)s);
    TRY(alloc4(arena, cfg->z_dim, 1 + (video.shape[1] - 1) / 4, video.shape[2] / s, video.shape[3] / s, &latent));
    TRY(lavr_vae_encode(vae, &video, &latent));
    TRY(compare(g, "encode_latent", &latent));

    TRY(lavr_h5_read_f32(g->file, "inputs/decode_latents", arena, &lat));
    if (lat.ndim != 4 || lat.shape[0] != cfg->z_dim)
        return LAVR_FAIL(LAVR_E_FORMAT, "%s: inputs/decode_latents must be [%lld, T, h, w]", lavr_h5_path(g->file),
                         (long long)cfg->z_dim);
    const int64_t h = lat.shape[2], w = lat.shape[3], total = lat.shape[1];
    lavr_vae_decoder_state *state = NULL;
    TRY(lavr_vae_decoder_state_create(vae, arena, h, w, &state));
    lavr_status st = LAVR_OK;
    /* decode_prime: latents 0..3 (1 + 4*3 = 13 frames); decode_block<i>: the next 3 latents each */
    int64_t start = 0;
    for (int i = -1; start < total; i++) {
        char name[48];
        int64_t count = i < 0 ? (total < 4 ? total : 4) : (total - start < 3 ? total - start : 3);
        if (i < 0) snprintf(name, sizeof name, "decode_prime");
        else snprintf(name, sizeof name, "decode_block%d", i);
        lavr_tensor view, part, frames;
        TRY_GOTO(lavr_tensor_narrow(&lat, 1, start, count, &view), st, done);
        TRY_GOTO(alloc4(arena, cfg->z_dim, count, h, w, &part), st, done);
        TRY_GOTO(lavr_tensor_copy(&part, &view), st, done);
        TRY_GOTO(alloc4(arena, 3, lavr_vae_decode_frame_count(state, count), s * h, s * w, &frames), st, done);
        TRY_GOTO(lavr_vae_decode(vae, state, &part, &frames), st, done);
        st = compare(g, name, &frames);
        lavr_tensor_free(&part);
        lavr_tensor_free(&frames);
        if (st) goto done;
        start += count;
    }
    lavr_vae_decoder_state_reset(state);
    TRY_GOTO(alloc4(arena, 3, 1 + 4 * (total - 1), s * h, s * w, &whole), st, done);
    TRY_GOTO(lavr_vae_decode(vae, state, &lat, &whole), st, done);
    st = compare(g, "decode_whole", &whole);
    lavr_tensor_free(&whole);
done:
    lavr_vae_decoder_state_destroy(state);
    lavr_tensor_free(&lat);
    lavr_tensor_free(&latent);
    lavr_tensor_free(&video);
    return st;
}

lavr_status lavr_golden_run_vae_on(lavr_golden *g, lavr_ctx *ctx) {
    lavr_vae_config cfg;
    lavr_arena *arena = NULL;
    lavr_vae *vae = NULL;
    TRY(lavr_vae_config_from_json(g->config, &cfg));
    TRY(lavr_arena_create("golden vae", 0, &arena));
    lavr_vae_options opts = lavr_vae_options_default();
    opts.ctx = ctx;
    lavr_status st = lavr_vae_create(g->file, "weights/", &cfg, &opts, arena, &vae);
    if (!st) st = run(g, vae, &cfg, arena);
    lavr_vae_destroy(vae);
    lavr_arena_destroy(arena);
    return st;
}

lavr_status lavr_golden_run_vae(lavr_golden *g) { return lavr_golden_run_vae_on(g, NULL); }
