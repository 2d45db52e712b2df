/* Streaming decode of a render's latent blocks (liveavatar-system §1.9): prime with motion latents
 * [:, :7], then each block of 3 latents -> 12 frames, minus the first 3 of the video. */
#include "models/decode_stream.h"

#include <stdlib.h>
#include <string.h>

struct lavr_decode_stream {
    lavr_vae *vae;
    lavr_vae_decoder_state *state;
    lavr_arena *arena;
    int64_t z, h, w, blocks;
};

static lavr_status prime(lavr_decode_stream *s, const lavr_tensor *motion) {
    const int64_t z = s->z, t = motion->shape[1], hw = s->h * s->w, sf = lavr_vae_spatial_factor(s->vae);
    const int64_t np = LAVR_DECODE_PRIME_LATENTS, nframes = lavr_vae_decode_frame_count(s->state, np);
    lavr_tensor first = {0}, frames = {0};
    lavr_status st;
    TRY_GOTO(lavr_tensor_alloc(s->arena, LAVR_F32, 4, (int64_t[]){z, np, s->h, s->w}, "priming latents", &first), st,
             done);
    TRY_GOTO(lavr_tensor_alloc(s->arena, LAVR_F32, 4, (int64_t[]){3, nframes, sf * s->h, sf * s->w},
                               "priming frames (discarded)", &frames),
             st, done);
    const float *src = motion->data;
    float *dst = first.data;
    for (int64_t c = 0; c < z; c++) memcpy(dst + c * np * hw, src + c * t * hw, (size_t)(np * hw) * sizeof(float));
    st = lavr_vae_decode(s->vae, s->state, &first, &frames);
done:
    lavr_tensor_free(&first);
    lavr_tensor_free(&frames);
    return st;
}

lavr_status lavr_decode_stream_create(lavr_vae *vae, const lavr_tensor *motion, lavr_arena *arena,
                                      lavr_decode_stream **out) {
    CHECK_ARG(vae && motion && arena && out, "lavr_decode_stream_create: vae, motion, arena and out are required");
    *out = NULL;
    CHECK_ARG(motion->dtype == LAVR_F32 && lavr_tensor_is_contiguous(motion) && motion->ndim == 4 &&
                  motion->shape[1] >= LAVR_DECODE_PRIME_LATENTS,
              "decode stream: motion latents must be float32 [z, >= %d, h, w]", LAVR_DECODE_PRIME_LATENTS);
    lavr_decode_stream *s = calloc(1, sizeof *s);
    if (!s) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for a decode stream");
    s->vae = vae, s->arena = arena, s->z = motion->shape[0], s->h = motion->shape[2], s->w = motion->shape[3];
    lavr_status st = lavr_vae_decoder_state_create(vae, arena, s->h, s->w, &s->state);
    if (!st) st = prime(s, motion);
    if (st) {
        lavr_decode_stream_destroy(s);
        return st;
    }
    *out = s;
    return LAVR_OK;
}

void lavr_decode_stream_destroy(lavr_decode_stream *s) {
    if (!s) return;
    lavr_vae_decoder_state_destroy(s->state);
    free(s);
}

int64_t lavr_decode_stream_frame_count(const lavr_decode_stream *s) {
    return s->blocks == 0 ? LAVR_DECODE_BLOCK_FRAMES - LAVR_DECODE_DROP_FRAMES : LAVR_DECODE_BLOCK_FRAMES;
}

int64_t lavr_decode_stream_blocks(const lavr_decode_stream *s) { return s->blocks; }

lavr_status lavr_decode_stream_push(lavr_decode_stream *s, const float *latent, float *frames, int64_t *count) {
    CHECK_ARG(s && latent && frames && count, "lavr_decode_stream_push: NULL argument");
    const int64_t F = LAVR_DECODE_BLOCK_LATENTS, sf = lavr_vae_spatial_factor(s->vae), plane = sf * s->h * sf * s->w;
    /* after the priming every latent gives 4 frames: 3 latents -> 12 */
    const int64_t n = lavr_vae_decode_frame_count(s->state, F), keep = lavr_decode_stream_frame_count(s);
    if (n != LAVR_DECODE_BLOCK_FRAMES)
        return LAVR_FAIL(LAVR_E_INTERNAL, "decode stream: a block decodes to %lld frames, expected %d (not primed?)",
                         (long long)n, LAVR_DECODE_BLOCK_FRAMES);
    lavr_tensor in = lavr_tensor_wrap(LAVR_F32, 4, (int64_t[]){s->z, F, s->h, s->w}, (void *)latent);
    lavr_tensor out = lavr_tensor_wrap(LAVR_F32, 4, (int64_t[]){3, n, sf * s->h, sf * s->w}, frames);
    TRY(lavr_vae_decode(s->vae, s->state, &in, &out));
    /* drop the leading frames of each channel in place (destinations never pass their sources) */
    for (int64_t c = 0; c < 3 && keep < n; c++)
        memmove(frames + c * keep * plane, frames + (c * n + (n - keep)) * plane, (size_t)(keep * plane) * sizeof(float));
    s->blocks++;
    *count = keep;
    return LAVR_OK;
}

lavr_status lavr_decode_stream_visit(const lavr_decode_stream *s, lavr_vae_state_visit_fn fn, void *user) {
    int64_t blocks = s->blocks;
    lavr_tensor t = lavr_tensor_wrap(LAVR_I64, 1, (int64_t[]){1}, &blocks);
    TRY(fn("blocks", &t, user));
    return lavr_vae_decoder_state_visit(s->state, fn, user);
}

lavr_status lavr_decode_stream_restore(lavr_decode_stream *s, const char *name, const lavr_tensor *t) {
    if (strcmp(name, "blocks") != 0) return lavr_vae_decoder_state_restore(s->state, name, t);
    CHECK_ARG(t->ndim == 1 && t->shape[0] == 1, "decode stream: 'blocks' must be one integer");
    int64_t blocks = (int64_t)lavr_tensor_get_flat(t, 0);
    CHECK_ARG(blocks >= 0, "decode stream: 'blocks' is negative (%lld)", (long long)blocks);
    s->blocks = blocks;
    return LAVR_OK;
}
