/* wav2vec2 on the CPU with generated weights (tests/w2v_small.h): attention folded over key chunks of 64 gives the
 * bits of one attention over all keys (the streamed path of long audio against the direct one, 264 frames),
 * a forward is deterministic, and LiveAvatar's bf16 rounding points stay near the fp32 run (rel L2 below 5e-2 on
 * every state, and above 1e-4: the rounding is really there). */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "io/golden.h"
#include "w2v_small.h"

#define SEED 1515u

static void run(lavr_arena *work, int64_t seconds_x10) {
    const lavr_w2v_config *cfg = &W2V_SMALL;
    const int64_t n = seconds_x10 * 1600, T = lavr_w2v_num_frames(cfg, n), S = cfg->num_layers + 1;
    const int64_t per = T * cfg->hidden;
    printf("%.1f s of audio -> %lld frames\n", (double)seconds_x10 / 10, (long long)T);
    float *wave = w2v_small_wave(n, SEED);
    const lavr_w2v_options whole = {0}, folded = {.key_chunk = 64}, bf16 = {.bf16 = 1};
    lavr_w2v *a = NULL, *b = NULL, *r = NULL;
    CHECK_OK(lavr_w2v_create_generated(cfg, SEED, &whole, &a));
    CHECK_OK(lavr_w2v_create_generated(cfg, SEED, &folded, &b));
    CHECK_OK(lavr_w2v_create_generated(cfg, SEED, &bf16, &r));
    if (!a || !b || !r || !wave) goto done;
    float *x = w2v_small_states(a, wave, n, work), *y = w2v_small_states(b, wave, n, work);
    float *x2 = w2v_small_states(a, wave, n, work), *z = w2v_small_states(r, wave, n, work);
    CHECK(x && y && x2 && z);
    if (x && y && x2 && z) {
        CHECK_MSG(!memcmp(x, y, (size_t)(S * per) * sizeof *x), "folding chunks of 64 keys changed the bits");
        CHECK_MSG(!memcmp(x, x2, (size_t)(S * per) * sizeof *x), "two forwards differ");
        for (int64_t s = 0; s < S; s++) {
            const double e = lavr_golden_rel_l2(z + s * per, x + s * per, per);
            printf("  state %lld: bf16 rounding points vs fp32 rel L2 %.3e\n", (long long)s, e);
            CHECK_MSG(e < 5e-2 && e > 1e-4, "state %lld: rel L2 %.3e", (long long)s, e);
        }
    }
    free(x), free(y), free(x2), free(z);
done:
    free(wave);
    lavr_w2v_destroy(a);
    lavr_w2v_destroy(b);
    lavr_w2v_destroy(r);
}

int main(void) {
    lavr_arena *work = NULL;
    CHECK_OK(lavr_arena_create("test w2v fold", 0, &work));
    if (!work) return check_summary("test_w2v_fold");
    run(work, 53); /* 264 frames: two row tiles of 256, four full key tiles of 64 and a partial one */
    lavr_arena_destroy(work);
    return check_summary("test_w2v_fold");
}
