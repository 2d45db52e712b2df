/* Wan2.1 VAE against the official streaming implementation's vectors ($LAVR_GOLDEN_DIR/vae.h5) through
 * the check-golden code path (encode, streaming decode calls, whole decode), plus stream properties. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/golden.h"
#include "models/golden.h"
#include "models/vae.h"
#include "tests/check.h"

int main(void) {
    const char *dir = getenv("LAVR_GOLDEN_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/vae.h5", dir ? dir : "../shared/golden");
    lavr_golden *g = NULL;
    CHECK_OK(lavr_golden_open(path, &g));
    if (!g) return check_summary("test_vae_golden");
    CHECK(g->kind == LAVR_GOLDEN_VAE);
    /* encode_latent, decode_prime, decode_block0..2, decode_whole: each within max(3 x noise_floor, 1e-2) */
    CHECK_OK(lavr_golden_run_vae(g));
    CHECK_MSG(g->n_results == 6 && lavr_golden_failed(g) == 0, "%lld outputs, %lld failed", (long long)g->n_results,
              (long long)lavr_golden_failed(g));

    /* Stream bookkeeping: 1 + 4(t-1) frames at the stream start, 4t after; a wrong input shape is a
     * one-line error, not a crash. */
    lavr_arena *arena = NULL;
    lavr_vae_config cfg;
    lavr_vae *vae = NULL;
    lavr_vae_decoder_state *state = NULL;
    CHECK_OK(lavr_arena_create("test", 0, &arena));
    CHECK_OK(lavr_vae_config_from_json(g->config, &cfg));
    CHECK_OK(lavr_vae_create(g->file, "weights/", &cfg, NULL, arena, &vae));
    if (vae) CHECK_OK(lavr_vae_decoder_state_create(vae, arena, 2, 2, &state));
    if (state) {
        CHECK(lavr_vae_decode_frame_count(state, 4) == 13);
        int64_t lshape[4] = {cfg.z_dim, 1, 2, 2}, fshape[4] = {3, 1, 16, 16}, wrong[4] = {3, 1, 2, 2};
        lavr_tensor lat, frames, bad;
        CHECK_OK(lavr_tensor_alloc(arena, LAVR_F32, 4, lshape, "latent", &lat));
        CHECK_OK(lavr_tensor_alloc(arena, LAVR_F32, 4, fshape, "frames", &frames));
        CHECK_OK(lavr_tensor_alloc(arena, LAVR_F32, 4, wrong, "wrong", &bad));
        for (int64_t i = 0; i < lavr_tensor_numel(&lat); i++) ((float *)lat.data)[i] = 0.1f;
        CHECK_OK(lavr_vae_decode(vae, state, &lat, &frames));
        CHECK(lavr_vae_decoder_state_position(state) == 1);
        CHECK(lavr_vae_decode_frame_count(state, 3) == 12);
        CHECK_FAILS(lavr_vae_decode(vae, state, &bad, &frames), LAVR_E_ARG);
        lavr_tensor_free(&lat);
        lavr_tensor_free(&frames);
        lavr_tensor_free(&bad);
    }
    lavr_vae_decoder_state_destroy(state);
    lavr_vae_destroy(vae);
    lavr_arena_destroy(arena);
    lavr_golden_close(g);
    return check_summary("test_vae_golden");
}
