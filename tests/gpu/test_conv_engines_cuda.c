/* Tuned cuDNN engines made repeatable by an engine record (kernels/conv_engines.h): a small Wan-shaped VAE encodes
 * 9 frames and decodes a primed stream of 4 blocks on a context that tunes (the default count per shape); its record,
 * written to a file, preloads a fresh context, which must time nothing and give the same bytes (latent and every
 * frame) and the same choices; a record for another tuning count is ignored. Exits 77 without a CUDA device or
 * without cuDNN convolutions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/rng.h"
#include "kernels/conv_engines.h"
#include "kernels/ctx.h"
#include "models/decode_stream.h"
#include "models/vae.h"
#include "parallel/device.h"

#define SEED 777u
#define LH 12 /* latent grid: 96x80 pixels */
#define LW 10
#define BLOCKS 4

static const lavr_vae_config cfg = {.dim = 32, .z_dim = 16, .dim_mult = {1, 2, 4, 4}, .num_res_blocks = 2,
                                    .temporal_downsample = {0, 1, 1}};

typedef struct {
    float *latent, *frames; /* the encode's latent, every block's frames */
    int64_t latent_n, frames_n;
} outputs;

/* The encode and the decode stream on ctx, its engines preloaded from record and saved back after the encode and
 * after each block, as the render does. */
static void run(lavr_ctx *ctx, const char *record, lavr_arena *arena, const float *video, const float *motion,
                const float *blocks, outputs *out, lavr_conv_engines *engines) {
    const int64_t H = 8 * LH, W = 8 * LW, bn = 16 * 3 * LH * LW, fn = 3 * 12 * H * W;
    out->latent_n = 16 * 3 * LH * LW;
    out->frames_n = BLOCKS * fn;
    out->latent = calloc((size_t)out->latent_n, sizeof(float));
    out->frames = calloc((size_t)out->frames_n, sizeof(float));
    CHECK_OK(lavr_conv_engines_open(ctx, record, 0, engines));
    lavr_vae_options o = lavr_vae_options_default();
    o.ctx = ctx;
    lavr_vae *vae = NULL;
    CHECK_OK(lavr_vae_create_generated(&cfg, SEED, &o, arena, &vae));
    if (!vae) return;
    int64_t vshape[4] = {3, 9, H, W}, lshape[4] = {16, 3, LH, LW}, mshape[4] = {16, 7, LH, LW};
    lavr_tensor tv = lavr_tensor_wrap(LAVR_F32, 4, vshape, (void *)video);
    lavr_tensor tl = lavr_tensor_wrap(LAVR_F32, 4, lshape, out->latent);
    lavr_tensor tm = lavr_tensor_wrap(LAVR_F32, 4, mshape, (void *)motion);
    CHECK_OK(lavr_vae_encode(vae, &tv, &tl));
    CHECK_OK(lavr_conv_engines_save(engines));
    lavr_decode_stream *ds = NULL;
    CHECK_OK(lavr_decode_stream_create(vae, &tm, arena, &ds));
    for (int b = 0; ds && b < BLOCKS; b++) {
        int64_t count = 0;
        CHECK_OK(lavr_decode_stream_push(ds, blocks + b * bn, out->frames + b * fn, &count));
        CHECK(count == (b == 0 ? 12 - LAVR_DECODE_DROP_FRAMES : 12)); /* the video's first 3 frames are dropped */
        CHECK_OK(lavr_conv_engines_save(engines));
    }
    lavr_decode_stream_destroy(ds);
    lavr_vae_destroy(vae);
}

static int same_choices(const lavr_conv_record *a, const lavr_conv_record *b) {
    if (a->n != b->n) return 0;
    for (int64_t i = 0; i < a->n; i++) {
        const lavr_conv_choice *y = lavr_conv_record_find(b, a->choice[i].key);
        if (!y || y->candidate != a->choice[i].candidate || y->engine_index != a->choice[i].engine_index ||
            y->heur_mode != a->choice[i].heur_mode)
            return 0;
    }
    return 1;
}

int main(void) {
    if (lavr_device_count() == 0) {
        printf("test_conv_engines_cuda: no CUDA device, skipped\n");
        return 77;
    }
    const lavr_ctx_cuda_options opt = {.device = 0, .mem_cap = (uint64_t)2 << 30, .conv = LAVR_CONV_AUTO,
                                       .conv_tune = LAVR_CONV_TUNE_DEFAULT, .name = "test tuned"};
    lavr_ctx *first = NULL;
    CHECK_OK(lavr_ctx_create_cuda(&opt, &first));
    if (!first) return check_summary("test_conv_engines_cuda");
    lavr_conv_record_tag tag;
    if (!lavr_ctx_conv_engines_tag(first, &tag)) {
        printf("test_conv_engines_cuda: convolutions do not run through cuDNN here (%s), skipped\n",
               lavr_ctx_describe(first));
        lavr_ctx_destroy(first);
        return 77;
    }
    const char *tmp = getenv("LAVR_TEST_TMP");
    char path[1024];
    snprintf(path, sizeof path, "%s/conv_engines_cuda.%ld.h5", tmp ? tmp : "/tmp", (long)getpid());
    unlink(path);

    lavr_arena *arena = NULL;
    CHECK_OK(lavr_arena_create("test", 0, &arena));
    const int64_t H = 8 * LH, W = 8 * LW, vn = 3 * 9 * H * W, mn = 16 * 7 * LH * LW, bn = 16 * 3 * LH * LW;
    float *video = malloc((size_t)vn * sizeof *video), *motion = malloc((size_t)mn * sizeof *motion);
    float *blocks = malloc((size_t)(BLOCKS * bn) * sizeof *blocks);
    double *u = malloc((size_t)vn * sizeof *u);
    lavr_rng_uniform(SEED, 1, 0, vn, u);
    for (int64_t i = 0; i < vn; i++) video[i] = (float)(2 * u[i] - 1);
    free(u);
    lavr_rng_normal(SEED, 2, 0, mn, motion);
    lavr_rng_normal(SEED, 3, 0, BLOCKS * bn, blocks);

    /* run 1 tunes and writes the record */
    outputs a, b;
    lavr_conv_engines ea, eb;
    run(first, path, arena, video, motion, blocks, &a, &ea);
    const int64_t timed = lavr_ctx_conv_engines_timed(first);
    lavr_conv_record ra, rb, file;
    CHECK_OK(lavr_ctx_conv_engines_export(first, &ra));
    printf("run 1: %lld shapes recorded, %lld chosen by timing, %lld candidates passed over\n", (long long)ra.n,
           (long long)timed, (long long)lavr_ctx_conv_engines_passed_over(first));
    CHECK(ra.n > 0 && timed > 0);
    CHECK_OK(lavr_conv_record_read(path, &file));
    CHECK(lavr_conv_record_same_tag(&file.tag, &tag) && same_choices(&ra, &file));
    lavr_conv_record_free(&file);
    lavr_ctx_destroy(first);

    /* run 2: a fresh context preloaded from the file times nothing and gives the same bytes */
    lavr_ctx *second = NULL;
    CHECK_OK(lavr_ctx_create_cuda(&opt, &second));
    if (second) {
        run(second, path, arena, video, motion, blocks, &b, &eb);
        CHECK_MSG(lavr_ctx_conv_engines_timed(second) == 0, "run 2 timed %lld shapes",
                  (long long)lavr_ctx_conv_engines_timed(second));
        CHECK_OK(lavr_ctx_conv_engines_export(second, &rb));
        CHECK(same_choices(&ra, &rb) && same_choices(&rb, &ra));
        lavr_conv_record_free(&rb);
        CHECK_MSG(!memcmp(a.latent, b.latent, (size_t)a.latent_n * sizeof(float)), "the encode's latent differs");
        int64_t differ = 0;
        for (int64_t i = 0; i < a.frames_n; i++) differ += memcmp(&a.frames[i], &b.frames[i], sizeof(float)) != 0;
        CHECK_MSG(differ == 0, "%lld of %lld frame values differ between the tuned and the preloaded run",
                  (long long)differ, (long long)a.frames_n);
        printf("run 2: preloaded, %lld shapes timed; latent and %lld frame values identical: %s\n",
               (long long)lavr_ctx_conv_engines_timed(second), (long long)a.frames_n, differ ? "no" : "yes");
        lavr_ctx_destroy(second);
        free(b.latent);
        free(b.frames);
    }

    /* a record for another tuning count preloads nothing */
    lavr_ctx_cuda_options four = opt;
    four.conv_tune = 4;
    lavr_ctx *third = NULL;
    CHECK_OK(lavr_ctx_create_cuda(&four, &third));
    if (third) {
        int64_t taken = -1;
        CHECK_OK(lavr_ctx_conv_engines_preload(third, &ra, &taken));
        CHECK(taken == 0);
        lavr_ctx_destroy(third);
    }
    lavr_conv_record_free(&ra);
    unlink(path);
    free(a.latent);
    free(a.frames);
    free(video);
    free(motion);
    free(blocks);
    lavr_arena_destroy(arena);
    return check_summary("test_conv_engines_cuda");
}
