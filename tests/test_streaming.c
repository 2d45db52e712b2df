/* Streaming sampling (models/streaming.h): noise and sink offsets keyed only by (seed, clip, block,
 * step), offsets in [4, 30] and near uniform, the runner against an explicit block/step loop with the
 * golden file's semantics, its errors, and the s2v-14b token geometry and positions at 704*384. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/rng.h"
#include "io/h5model.h"
#include "models/config.h"
#include "models/dit.h"
#include "models/init_weights.h"
#include "models/rope.h"
#include "models/sampler.h"
#include "models/streaming.h"
#include "tests/check.h"

#define LAT 8 /* latent grid of the runner test: P = 16 tokens per frame */
#define BLOCKS 5 /* clip 0 and block 4: clip-1 re-prefill and window wrap */

static void check_noise(void) {
    enum { C = 16, F = 3, H = 4, W = 6, N = C * F * H * W };
    float a[N], b[N], ref[N];
    /* element i is sample i of stream (NOISE, clip, block, 0), rounded to bf16 */
    lavr_stream_noise(9, 2, 1, C, F, H, W, a);
    lavr_rng_normal(9, lavr_rng_stream(LAVR_STREAM_NOISE, 2, 1, 0), 0, N, ref);
    int same = 1, bf16 = 1;
    double sum = 0, sq = 0;
    for (int i = 0; i < N; i++) {
        same &= a[i] == lavr_round_bf16(ref[i]);
        bf16 &= a[i] == lavr_round_bf16(a[i]);
        sum += a[i], sq += (double)a[i] * a[i];
    }
    CHECK(same && bf16);
    CHECK_NEAR(sum / N, 0.0, 0.1);
    CHECK_NEAR(sqrt(sq / N), 1.0, 0.1);
    /* a block's noise does not depend on what was drawn before it */
    lavr_stream_noise(9, 0, 0, C, F, H, W, b);
    lavr_stream_noise(9, 5, 3, C, F, H, W, b);
    lavr_stream_noise(9, 2, 1, C, F, H, W, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    /* other clip, block or seed: other noise */
    int differ[3] = {0, 0, 0};
    lavr_stream_noise(9, 3, 1, C, F, H, W, b);
    for (int i = 0; i < N; i++) differ[0] += a[i] != b[i];
    lavr_stream_noise(9, 2, 2, C, F, H, W, b);
    for (int i = 0; i < N; i++) differ[1] += a[i] != b[i];
    lavr_stream_noise(10, 2, 1, C, F, H, W, b);
    for (int i = 0; i < N; i++) differ[2] += a[i] != b[i];
    CHECK(differ[0] > N * 9 / 10 && differ[1] > N * 9 / 10 && differ[2] > N * 9 / 10);
}

static void check_offsets(void) {
    lavr_stream_options o = {1234, 0};
    enum { CLIPS = 1000, BINS = 27 };
    int64_t hist[BINS] = {0}, n = 0, in_range = 1, step_differs = 0;
    for (int64_t c = 0; c < CLIPS; c++)
        for (int64_t b = 0; b < 4; b++) {
            int64_t prev = -1;
            for (int64_t s = 0; s < 4; s++) {
                int64_t d = lavr_stream_sink_offset(&o, c, b, s);
                in_range &= d >= 4 && d <= 30;
                if (d >= 4 && d <= 30) hist[d - 4]++;
                step_differs += prev >= 0 && d != prev;
                prev = d;
                n++;
            }
        }
    CHECK(in_range);
    /* chi-square over 27 bins (26 degrees of freedom): 99.99% quantile ~ 61 */
    double chi = 0, e = (double)n / BINS;
    for (int i = 0; i < BINS; i++) chi += ((double)hist[i] - e) * ((double)hist[i] - e) / e;
    CHECK_MSG(chi < 61, "chi-square %.1f over %lld draws", chi, (long long)n);
    CHECK(hist[0] > 0 && hist[BINS - 1] > 0); /* both ends reachable */
    /* each step draws its own: consecutive steps agree only about 1/27 of the time */
    CHECK(step_differs > (int64_t)(0.9 * CLIPS * 4 * 3));
    /* keyed by (seed, clip, block, step) alone: order of queries is irrelevant; the seed matters */
    int64_t d1 = lavr_stream_sink_offset(&o, 17, 2, 3);
    lavr_stream_sink_offset(&o, 3, 0, 0);
    CHECK(lavr_stream_sink_offset(&o, 17, 2, 3) == d1);
    CHECK(d1 == lavr_rng_randint(1234, lavr_rng_stream(LAVR_STREAM_SINK_OFFSET, 17, 2, 3), 0, 4, 30));
    lavr_stream_options other = {1235, 0};
    int seed_differs = 0;
    for (int64_t c = 0; c < 100; c++) seed_differs += lavr_stream_sink_offset(&o, c, 0, 0) != lavr_stream_sink_offset(&other, c, 0, 0);
    CHECK(seed_differs > 80);
    lavr_stream_options fixed = {1234, 17};
    int all17 = 1;
    for (int64_t c = 0; c < 50; c++)
        for (int64_t s = 0; s < 4; s++) all17 &= lavr_stream_sink_offset(&fixed, c, c % 4, s) == 17;
    CHECK(all17);
}

/* s2v-14b at 704*384 px: latent 48 x 88 (liveavatar-system §0, model-spec §1.4) */
static void check_s2v_geometry(void) {
    lavr_model_config mc;
    CHECK_OK(lavr_config_preset("s2v-14b", &mc));
    lavr_dit_geometry g;
    CHECK_OK(lavr_dit_geometry_of(&mc.dit, 384 / 8, 704 / 8, &g));
    CHECK(g.hp == 24 && g.wp == 44 && g.P == 1056);
    CHECK(g.block_tokens == 3168 && g.window == 12672);
    CHECK(g.n_post == 1056 && g.n_2x == 12 * 22 && g.n_4x == 4 * 6 * 11 && g.sink == 2640);
    CHECK(g.window + g.sink == 15312); /* keys per query at steady state */
    CHECK(mc.dit.in_dim * mc.dit.frames_per_block * g.h * g.w * 2 == 405504); /* bf16 block message */
    /* the groups as model-spec §1.4 defines them, with positions worked out by hand */
    int64_t *pos = malloc(sizeof(int64_t) * 3 * 3168);
    lavr_rope_group ref = {{30, 0, 0}, {31, 24, 44}, {1, 24, 44}};
    lavr_rope_group_positions(&ref, pos);
    CHECK(lavr_rope_group_tokens(&ref) == 1056 && pos[0] == 30 && pos[1055 * 3] == 30 && pos[1055 * 3 + 1] == 23 &&
          pos[1055 * 3 + 2] == 43 && pos[45 * 3 + 1] == 1 && pos[45 * 3 + 2] == 1);
    lavr_rope_group post = {{-1, 0, 0}, {0, 24, 44}, {1, 24, 44}};
    lavr_rope_group_positions(&post, pos);
    CHECK(lavr_rope_group_tokens(&post) == 1056 && pos[0] == -1 && pos[1055 * 3] == -1 && pos[1055 * 3 + 2] == 43);
    static const int64_t rows2[12] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 23};
    static const int64_t cols2[22] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 43};
    lavr_rope_group two = {{-3, 0, 0}, {-2, 12, 22}, {2, 24, 44}};
    lavr_rope_group_positions(&two, pos);
    int ok2 = lavr_rope_group_tokens(&two) == 264;
    for (int i = 0; i < 264; i++) ok2 &= pos[i * 3] == -3 && pos[i * 3 + 1] == rows2[i / 22] && pos[i * 3 + 2] == cols2[i % 22];
    CHECK(ok2);
    static const int64_t frames4[4] = {-19, -14, -9, -4}, rows4[6] = {0, 4, 9, 13, 18, 23};
    static const int64_t cols4[11] = {0, 4, 8, 12, 17, 21, 25, 30, 34, 38, 43};
    lavr_rope_group four = {{-19, 0, 0}, {-15, 6, 11}, {16, 24, 44}};
    lavr_rope_group_positions(&four, pos);
    int ok4 = lavr_rope_group_tokens(&four) == 264;
    for (int i = 0; i < 264; i++)
        ok4 &= pos[i * 3] == frames4[i / 66] && pos[i * 3 + 1] == rows4[(i / 11) % 6] && pos[i * 3 + 2] == cols4[i % 11];
    CHECK(ok4);
    /* block 5 of the stream: frames 15..17, token offset 5 * 3168, window slot 1 */
    lavr_rope_group noisy = {{15, 0, 0}, {18, 24, 44}, {3, 24, 44}};
    lavr_rope_group_positions(&noisy, pos);
    CHECK(lavr_rope_group_tokens(&noisy) == 3168 && pos[0] == 15 && pos[3167 * 3] == 17 && pos[1056 * 3] == 16);
    CHECK((5 * g.block_tokens) % g.window == 1 * g.block_tokens);
    free(pos);
}

/* ---- the runner on the tiny model ---- */

typedef struct {
    lavr_h5file *f;
} writer;

static lavr_status write_tensor(const lavr_tensor_spec *s, void *user) {
    writer *w = user;
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->shape[i];
    void *buf = malloc((size_t)n * lavr_dtype_size(s->dtype));
    if (!buf) return LAVR_FAIL(LAVR_E_NOMEM, "test weights");
    lavr_status st = lavr_init_tensor_rows(s, "dit", 3, 0, s->ndim ? s->shape[0] : 1, buf);
    char path[200];
    snprintf(path, sizeof path, "/dit/%s", s->name);
    lavr_tensor t = lavr_tensor_wrap(s->dtype, s->ndim, s->shape, buf);
    if (!st) st = lavr_h5_write(w->f, path, &t, 0);
    free(buf);
    return st;
}

static lavr_status load_tiny(lavr_dit **m) {
    const char *tmp = getenv("LAVR_TEST_TMP");
    char path[512];
    snprintf(path, sizeof path, "%s/streaming_tiny.h5", tmp ? tmp : ".");
    lavr_model_config mc;
    TRY(lavr_config_preset("tiny", &mc));
    writer w = {NULL};
    TRY(lavr_h5_create(path, &w.f));
    lavr_status st = lavr_dit_inventory(&mc.dit, write_tensor, &w);
    char *json = lavr_dit_config_to_json(&mc.dit);
    if (!st) st = json ? lavr_h5_write_attr_string(w.f, "/dit", "config", json) : LAVR_FAIL(LAVR_E_NOMEM, "json");
    free(json);
    lavr_status cst = lavr_h5_close(w.f);
    TRY(st);
    TRY(cst);
    lavr_h5file *f;
    TRY(lavr_h5_open(path, &f));
    st = lavr_dit_load(f, "dit/", "/dit", m);
    lavr_h5_close(f);
    return st;
}

/* The golden file's loop written out: one cache per step, sink prefilled at clips 0 and 1 (clip 1 with
 * the clean frame 0 of block 0), block n reads audio frames [12n, 12n+12) of [states, dim, frames]. */
static void explicit_loop(const lavr_dit *m, const float *ref0, const float *motion, const float *audio_cm,
                          int64_t frames, const lavr_stream_options *o, float *out) {
    const int64_t C = m->cfg.in_dim, F = m->cfg.frames_per_block, hw = LAT * LAT, blk = C * F * hw;
    lavr_dit_step_cache *cache[4] = {NULL};
    lavr_sampler smp;
    CHECK_OK(lavr_sampler_init(4, &smp));
    for (int s = 0; s < 4; s++) CHECK_OK(lavr_dit_cache_create(m, LAT, LAT, &cache[s]));
    float *ref = malloc(sizeof(float) * C * hw), *v = malloc(sizeof(float) * blk);
    memcpy(ref, ref0, sizeof(float) * C * hw);
    for (int64_t n = 0; n < BLOCKS; n++) {
        const int64_t clip = n / 4, b = n % 4;
        float *x = out + n * blk;
        if (n == 0 || n == 4) {
            CHECK_OK(lavr_dit_sink_prefill(m, cache[0], ref, motion));
            for (int s = 1; s < 4; s++) CHECK_OK(lavr_dit_cache_copy_sink(cache[s], cache[0]));
        }
        lavr_stream_noise(o->seed, clip, b, C, F, LAT, LAT, x);
        for (int s = 0; s < 4; s++) {
            lavr_dit_block_input in = {.x = x, .timestep = smp.timesteps[s], .block_index = n,
                                       .sink_offset = lavr_stream_sink_offset(o, clip, b, s), .audio = audio_cm,
                                       .audio_frames = frames, .audio_first = 12 * n};
            CHECK_OK(lavr_dit_block_forward(m, cache[s], &in, v));
            CHECK_OK(lavr_sampler_step(&smp, s, x, v, blk));
        }
        if (n == 0)
            for (int64_t c = 0; c < C; c++) memcpy(ref + c * hw, x + c * F * hw, sizeof(float) * hw);
    }
    for (int s = 0; s < 4; s++) lavr_dit_cache_destroy(cache[s]);
    free(ref), free(v);
}

static void run_stream(const lavr_dit *m, const lavr_stream_inputs *in, const lavr_stream_options *o, int64_t blocks,
                       float *out) {
    const int64_t blk = m->cfg.in_dim * m->cfg.frames_per_block * LAT * LAT;
    lavr_stream *s = NULL;
    CHECK_OK(lavr_stream_create(m, in, o, &s));
    for (int64_t n = 0; s && n < blocks; n++) CHECK_OK(lavr_stream_next_block(s, out + n * blk));
    lavr_stream_destroy(s);
}

static void check_runner(void) {
    lavr_dit *m = NULL;
    CHECK_OK(load_tiny(&m));
    if (!m) return;
    const lavr_dit_config *c = &m->cfg;
    const int64_t C = c->in_dim, hw = LAT * LAT, SA = c->audio_num_states * c->audio_dim, frames = 12 * BLOCKS;
    const int64_t blk = C * c->frames_per_block * hw, rows = 6;
    float *ctx = malloc(sizeof(float) * rows * c->text_dim), *ref = malloc(sizeof(float) * C * hw);
    float *motion = malloc(sizeof(float) * C * 19 * hw), *audio = malloc(sizeof(float) * frames * SA);
    float *audio_cm = malloc(sizeof(float) * frames * SA);
    float *want = malloc(sizeof(float) * BLOCKS * blk), *got = malloc(sizeof(float) * BLOCKS * blk);
    float *bufs[4] = {ctx, ref, motion, audio};
    int64_t sizes[4] = {rows * c->text_dim, C * hw, C * 19 * hw, frames * SA};
    for (int i = 0; i < 4; i++) {
        lavr_rng_normal(21, lavr_rng_stream(LAVR_STREAM_TEST, 40 + i, 0, 0), 0, sizes[i], bufs[i]);
        for (int64_t k = 0; k < sizes[i]; k++) bufs[i][k] = lavr_round_bf16(bufs[i][k]);
    }
    for (int64_t t = 0; t < frames; t++)
        for (int64_t i = 0; i < SA; i++) audio_cm[i * frames + t] = audio[t * SA + i];
    CHECK_OK(lavr_dit_set_context(m, ctx, rows));

    lavr_stream_inputs in = {ref, motion, audio, frames, LAT, LAT};
    lavr_stream_options drawn = {5, 0}, fixed = {5, 9};
    explicit_loop(m, ref, motion, audio_cm, frames, &drawn, want);
    run_stream(m, &in, &drawn, BLOCKS, got);
    CHECK_MSG(memcmp(want, got, sizeof(float) * BLOCKS * blk) == 0, "stream differs from the explicit loop (drawn d)");
    int finite = 1;
    for (int64_t i = 0; i < BLOCKS * blk; i++) finite &= isfinite(got[i]) && got[i] == lavr_round_bf16(got[i]);
    CHECK(finite);
    /* a fixed offset is honoured (and changes the result) */
    run_stream(m, &in, &fixed, BLOCKS, got);
    CHECK(memcmp(want, got, sizeof(float) * BLOCKS * blk) != 0);
    explicit_loop(m, ref, motion, audio_cm, frames, &fixed, want);
    CHECK_MSG(memcmp(want, got, sizeof(float) * BLOCKS * blk) == 0, "stream differs from the explicit loop (fixed d)");
    /* errors: past the audio, bad fixed offset */
    lavr_stream_inputs short_in = in;
    short_in.audio_frames = 12 * 2;
    lavr_stream *s = NULL;
    float *again = malloc(sizeof(float) * blk);
    CHECK_OK(lavr_stream_create(m, &short_in, &drawn, &s));
    if (s) {
        CHECK_OK(lavr_stream_next_block(s, again));
        CHECK_OK(lavr_stream_next_block(s, again));
        CHECK_FAILS(lavr_stream_next_block(s, again), LAVR_E_ARG);
        CHECK(strstr(lavr_error_message(), "block 2 needs video frames [24, 36) but the audio has 24 frames") != NULL);
        lavr_stream_destroy(s);
    }
    lavr_stream_options bad = {5, 31};
    s = NULL;
    CHECK_FAILS(lavr_stream_create(m, &in, &bad, &s), LAVR_E_ARG);
    CHECK(s == NULL);
    free(ctx), free(ref), free(motion), free(audio), free(audio_cm), free(want), free(got), free(again);
    lavr_dit_destroy(m);
}

int main(void) {
    check_noise();
    check_offsets();
    check_s2v_geometry();
    check_runner();
    return check_summary("test_streaming");
}
