/* The render's decode stream on the tiny VAE: frame counts (9, then 12 per block: 12 B - 3), equality
 * with one VAE decode of [motion[:, :7] | blocks] minus its first 25 + 3 frames, and a checkpoint taken
 * after a block (visit) restored into a fresh stream continuing bit-identically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/rng.h"
#include "models/decode_stream.h"
#include "tiny_model.h"

#define MAX_SAVED 64

typedef struct {
    int n;
    char name[MAX_SAVED][128];
    lavr_tensor t[MAX_SAVED];
    lavr_arena *arena;
} saved_state;

static lavr_status save_one(const char *name, const lavr_tensor *t, void *user) {
    saved_state *s = user;
    if (s->n == MAX_SAVED) return LAVR_FAIL(LAVR_E_INTERNAL, "more than %d state tensors", MAX_SAVED);
    snprintf(s->name[s->n], sizeof s->name[0], "%s", name);
    TRY(lavr_tensor_alloc(s->arena, t->dtype, t->ndim, t->shape, name, &s->t[s->n]));
    TRY(lavr_tensor_copy(&s->t[s->n], t));
    s->n++;
    return LAVR_OK;
}

int main(void) {
    const char *tmp = getenv("LAVR_TEST_TMP");
    char path[4096];
    snprintf(path, sizeof path, "%s/decode_stream_tiny.h5", tmp ? tmp : "/tmp");
    lavr_model_config cfg;
    CHECK_OK(tiny_model_write(path, 3, 0, 0, &cfg));
    lavr_h5file *f = NULL;
    lavr_arena *arena = NULL;
    lavr_vae *vae = NULL;
    CHECK_OK(lavr_h5_open(path, &f));
    CHECK_OK(lavr_arena_create("test", 0, &arena));
    if (f && arena) CHECK_OK(lavr_vae_create(f, "vae/", &cfg.vae, NULL, arena, &vae));
    lavr_h5_close(f);
    if (!vae) return check_summary("test_decode_stream");

    /* 19 motion latents and 4 blocks of 3 (a clip) of 4x6 latents, N(0,1) */
    enum { Z = 16, H = 4, W = 6, BLOCKS = 4, MOTION = 19 };
    const int64_t hw = H * W, plane = 64 * hw, block_numel = Z * 3 * hw;
    lavr_tensor motion, all_latents, all_frames;
    CHECK_OK(lavr_tensor_alloc(arena, LAVR_F32, 4, (int64_t[]){Z, MOTION, H, W}, "motion", &motion));
    float *blocks = malloc((size_t)(BLOCKS * block_numel) * sizeof(float));
    lavr_rng_normal(21, lavr_rng_stream(LAVR_STREAM_TEST, 1, 0, 0), 0, Z * MOTION * hw, motion.data);
    lavr_rng_normal(21, lavr_rng_stream(LAVR_STREAM_TEST, 2, 0, 0), 0, BLOCKS * block_numel, blocks);

    /* expectation: one decode of [motion[:, :7] | block 0 | block 1 | ...] through a fresh state */
    const int64_t T = 7 + 3 * BLOCKS, NF = 1 + 4 * (T - 1);
    CHECK_OK(lavr_tensor_alloc(arena, LAVR_F32, 4, (int64_t[]){Z, T, H, W}, "all latents", &all_latents));
    CHECK_OK(lavr_tensor_alloc(arena, LAVR_F32, 4, (int64_t[]){3, NF, 8 * H, 8 * W}, "all frames", &all_frames));
    float *lat = all_latents.data;
    for (int64_t c = 0; c < Z; c++) {
        memcpy(lat + c * T * hw, (float *)motion.data + c * MOTION * hw, (size_t)(7 * hw) * sizeof(float));
        for (int64_t b = 0; b < BLOCKS; b++)
            memcpy(lat + (c * T + 7 + 3 * b) * hw, blocks + b * block_numel + c * 3 * hw, (size_t)(3 * hw) * sizeof(float));
    }
    lavr_vae_decoder_state *whole = NULL;
    CHECK_OK(lavr_vae_decoder_state_create(vae, arena, H, W, &whole));
    CHECK_OK(lavr_vae_decode(vae, whole, &all_latents, &all_frames));
    lavr_vae_decoder_state_destroy(whole);

    lavr_decode_stream *ds = NULL, *resumed = NULL;
    CHECK_OK(lavr_decode_stream_create(vae, &motion, arena, &ds));
    float *frames = malloc((size_t)(3 * 12 * plane) * sizeof(float));
    float *again = malloc((size_t)(3 * 12 * plane) * sizeof(float));
    saved_state saved = {.arena = arena};
    int64_t total = 0, skip = 25 + 3; /* priming frames, then the dropped 3 */
    for (int64_t b = 0; ds && b < BLOCKS; b++) {
        int64_t count = -1, expect_count = lavr_decode_stream_frame_count(ds);
        CHECK(lavr_decode_stream_blocks(ds) == b);
        CHECK_OK(lavr_decode_stream_push(ds, blocks + b * block_numel, frames, &count));
        CHECK_MSG(count == (b == 0 ? 9 : 12) && count == expect_count, "block %lld gave %lld frames", (long long)b,
                  (long long)count);
        int64_t mismatched = 0;
        for (int64_t c = 0; c < 3 && count > 0; c++)
            for (int64_t k = 0; k < count; k++)
                mismatched += memcmp(frames + (c * count + k) * plane,
                                     (float *)all_frames.data + (c * NF + skip + total + k) * plane,
                                     (size_t)plane * sizeof(float)) != 0;
        CHECK_MSG(mismatched == 0, "block %lld: %lld frames differ from the whole-sequence decode", (long long)b,
                  (long long)mismatched);
        total += count;
        if (b == 1) CHECK_OK(lavr_decode_stream_visit(ds, save_one, &saved));
        if (b == 2) {
            /* the checkpoint of block 1 continues exactly: block 2 again from a fresh, restored stream */
            CHECK_OK(lavr_decode_stream_create(vae, &motion, arena, &resumed));
            for (int i = 0; resumed && i < saved.n; i++)
                CHECK_OK(lavr_decode_stream_restore(resumed, saved.name[i], &saved.t[i]));
            CHECK(saved.n >= 2 && strcmp(saved.name[0], "blocks") == 0);
            if (resumed) {
                CHECK(lavr_decode_stream_blocks(resumed) == 2 && lavr_decode_stream_frame_count(resumed) == 12);
                int64_t n2 = 0;
                CHECK_OK(lavr_decode_stream_push(resumed, blocks + b * block_numel, again, &n2));
                CHECK(n2 == count && memcmp(again, frames, (size_t)(3 * n2 * plane) * sizeof(float)) == 0);
            }
        }
    }
    CHECK_MSG(total == 12 * BLOCKS - 3 && total == NF - 25 - 3, "%lld frames written", (long long)total);

    /* too few motion latents to prime, or a bad checkpoint entry */
    lavr_tensor short_motion = lavr_tensor_wrap(LAVR_F32, 4, (int64_t[]){Z, 6, H, W}, motion.data);
    lavr_decode_stream *bad = NULL;
    CHECK_FAILS(lavr_decode_stream_create(vae, &short_motion, arena, &bad), LAVR_E_ARG);
    if (ds) CHECK_FAILS(lavr_decode_stream_restore(ds, "no.such.cache", &saved.t[1]), LAVR_E_FORMAT);

    for (int i = 0; i < saved.n; i++) lavr_tensor_free(&saved.t[i]);
    lavr_decode_stream_destroy(ds);
    lavr_decode_stream_destroy(resumed);
    free(frames), free(again), free(blocks);
    lavr_tensor_free(&motion), lavr_tensor_free(&all_latents), lavr_tensor_free(&all_frames);
    lavr_vae_destroy(vae);
    lavr_arena_destroy(arena);
    return check_summary("test_decode_stream");
}
