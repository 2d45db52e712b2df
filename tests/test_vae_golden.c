/* Wan2.1 VAE against the official streaming implementation's vectors ($LAVR_GOLDEN_DIR/vae.h5):
 * encode, the streaming decode sequence (first call on latents 0..3, then 3 latents per call) and the
 * whole decode; each output must be within max(3 x noise_floor, 1e-2) rel L2 (golden README). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "io/h5model.h"
#include "models/config.h"
#include "models/vae.h"
#include "tests/check.h"

static double rel_l2(const float *out, const float *ref, int64_t count) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < count; i++) {
        double e = (double)out[i] - ref[i];
        num += e * e;
        den += (double)ref[i] * ref[i];
    }
    return sqrt(num / den);
}

static void poison(lavr_tensor *t) {
    float *p = t->data;
    for (int64_t i = 0; i < lavr_tensor_numel(t); i++) p[i] = NAN;
}

/* Compares out with outputs/<name> under the README's limit and prints both. */
static void compare(lavr_h5file *f, lavr_arena *arena, const char *name, const lavr_tensor *out) {
    char path[96];
    lavr_tensor ref;
    double floor_ = 0;
    snprintf(path, sizeof path, "outputs/%s", name);
    CHECK_OK(lavr_h5_read_f32(f, path, arena, &ref));
    CHECK_OK(lavr_h5_read_attr_double(f, path, "noise_floor", &floor_));
    if (!ref.data) return;
    CHECK_MSG(lavr_tensor_same_shape(&ref, out), "%s: output shape differs from the golden one", name);
    if (!lavr_tensor_same_shape(&ref, out)) return;
    double err = rel_l2(out->data, ref.data, lavr_tensor_numel(out));
    double limit = fmax(3 * floor_, 1e-2);
    printf("%-14s rel L2 %.5f  (noise floor %.5f, limit %.5f)\n", name, err, floor_, limit);
    CHECK_MSG(err <= limit, "%s: rel L2 %g above %g", name, err, limit);
    lavr_tensor_free(&ref);
}

static lavr_status alloc4(lavr_arena *arena, int64_t a, int64_t b, int64_t c, int64_t d, lavr_tensor *out) {
    int64_t shape[4] = {a, b, c, d};
    TRY(lavr_tensor_alloc(arena, LAVR_F32, 4, shape, "test buffer", out));
    poison(out);
    return LAVR_OK;
}

int main(void) {
    const char *dir = getenv("LAVR_GOLDEN_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/vae.h5", dir ? dir : "../shared/golden");
    lavr_h5file *f = NULL;
    lavr_arena *arena = NULL;
    char *config_text = NULL;
    lavr_json *config_json = NULL;
    lavr_vae_config cfg;
    lavr_vae *vae = NULL;
    CHECK_OK(lavr_arena_create("test", 0, &arena));
    CHECK_OK(lavr_h5_open(path, &f));
    if (!f) return check_summary("test_vae_golden");
    CHECK_OK(lavr_h5_read_attr_string(f, "/", "config", &config_text));
    CHECK_OK(lavr_json_parse(config_text, &config_json));
    CHECK_OK(lavr_vae_config_from_json(config_json, &cfg));
    CHECK_OK(lavr_vae_create(f, "weights/", &cfg, NULL, arena, &vae));
    if (!vae) return check_summary("test_vae_golden");

    /* Encode: video [3, 9, 64, 48] -> latents [16, 3, 8, 6]. */
    lavr_tensor video, latent;
    CHECK_OK(lavr_h5_read_f32(f, "inputs/video", arena, &video));
    CHECK_OK(alloc4(arena, 16, 3, video.shape[2] / 8, video.shape[3] / 8, &latent));
    CHECK_OK(lavr_vae_encode(vae, &video, &latent));
    compare(f, arena, "encode_latent", &latent);

    /* Streaming decode: latents 0..3 on a fresh stream, then 4..6, 7..9, 10..12. */
    lavr_tensor lat;
    CHECK_OK(lavr_h5_read_f32(f, "inputs/decode_latents", arena, &lat));
    int64_t h = lat.shape[2], w = lat.shape[3], total = lat.shape[1];
    lavr_vae_decoder_state *state = NULL;
    CHECK_OK(lavr_vae_decoder_state_create(vae, arena, h, w, &state));
    struct { const char *name; int64_t start, count; } calls[] = {
        {"decode_prime", 0, 4}, {"decode_block0", 4, 3}, {"decode_block1", 7, 3}, {"decode_block2", 10, 3}};
    for (int i = 0; i < 4 && state; i++) {
        lavr_tensor view, part, frames;
        CHECK_OK(lavr_tensor_narrow(&lat, 1, calls[i].start, calls[i].count, &view));
        CHECK_OK(alloc4(arena, 16, calls[i].count, h, w, &part));
        CHECK_OK(lavr_tensor_copy(&part, &view));
        int64_t n = lavr_vae_decode_frame_count(state, calls[i].count);
        CHECK(n == (i == 0 ? 13 : 12));
        CHECK_OK(alloc4(arena, 3, n, 8 * h, 8 * w, &frames));
        CHECK_OK(lavr_vae_decode(vae, state, &part, &frames));
        compare(f, arena, calls[i].name, &frames);
        lavr_tensor_free(&part);
        lavr_tensor_free(&frames);
    }
    CHECK(state && lavr_vae_decoder_state_position(state) == total);

    /* Whole decode of all 13 latents on a reset stream: 49 frames. */
    lavr_tensor whole;
    lavr_vae_decoder_state_reset(state);
    CHECK_OK(alloc4(arena, 3, 1 + 4 * (total - 1), 8 * h, 8 * w, &whole));
    CHECK_OK(lavr_vae_decode(vae, state, &lat, &whole));
    compare(f, arena, "decode_whole", &whole);

    /* A wrong input shape is a one-line error, not a crash. */
    CHECK_FAILS(lavr_vae_decode(vae, state, &video, &whole), LAVR_E_ARG);

    lavr_tensor_free(&whole);
    lavr_tensor_free(&lat);
    lavr_tensor_free(&video);
    lavr_tensor_free(&latent);
    lavr_vae_decoder_state_destroy(state);
    lavr_vae_destroy(vae);
    lavr_json_free(config_json);
    free(config_text);
    lavr_h5_close(f);
    lavr_arena_destroy(arena);
    return check_summary("test_vae_golden");
}
