/* The DiT's causal audio encoder on the device (models/dit_audio_cuda.h) against the CPU encoder
 * (lavr_dit_audio_tokens, models/dit_audio.c) on random bf16 weights and frames, at the tiny and the s2v-14b widths:
 * the memo, the arena bytes against the planner's (models/dit_dev.h), and the tokens. Exits 77 without a device. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "models/dit_audio_cuda.h"
#include "models/dit_dev.h"
#include "parallel/device.h"

/* Both sides perform the same bf16 layer mix (bitwise) and the same fp32 operations up to the order of the GEMMs'
 * and the LayerNorms' sums, then round the tokens to bf16 once: a token differs by at most one bf16 step of its value
 * plus the fp32 error that reaches it, bounded here by 1e-5 of the tokens' RMS (the fp32 error of sums of a few
 * thousand products, carried through three normalised convolutions). Most tokens are bitwise equal. */
#define FP32_ERR 1e-5
#define MIN_EQUAL 0.99

static float *rand_bf16(uint32_t id, int64_t n, float scale) {
    float *x = malloc((size_t)n * sizeof(float));
    if (!x) exit(1);
    lavr_rng_normal(77, lavr_rng_stream(LAVR_STREAM_TEST, 900 + id, 0, 0), 0, n, x);
    for (int64_t i = 0; i < n; i++) x[i] = lavr_round_bf16(x[i] * scale);
    return x;
}

/* a bf16 tensor of random values (scale: 1/sqrt(fan_in) for weights) */
static lavr_tensor tensor(uint32_t id, int ndim, const int64_t *shape, float scale) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *v = rand_bf16(id, n, scale);
    uint16_t *b = malloc((size_t)n * 2);
    if (!b) exit(1);
    for (int64_t i = 0; i < n; i++) b[i] = lavr_f32_to_bf16(v[i]);
    free(v);
    return lavr_tensor_wrap(LAVR_BF16, ndim, shape, b);
}

static lavr_dit_linear conv(uint32_t id, int64_t out, int64_t in, int64_t taps) {
    lavr_dit_linear l;
    const int64_t ws[3] = {out, in, taps}, bs[1] = {out};
    l.w = tensor(id, taps ? 3 : 2, ws, (float)(1.0 / sqrt((double)(in * (taps ? taps : 1)))));
    l.b = tensor(id + 1, 1, bs, 0.1f);
    return l;
}

static int64_t bf16_ulps(float a, float b) {
    const int32_t ia = (int16_t)lavr_f32_to_bf16(a), ib = (int16_t)lavr_f32_to_bf16(b);
    const int32_t oa = ia < 0 ? -(ia & 0x7fff) : ia, ob = ib < 0 ? -(ib & 0x7fff) : ib;
    return oa > ob ? oa - ob : ob - oa;
}

static void one(const char *preset) {
    lavr_model_config mc;
    CHECK_OK(lavr_config_preset(preset, &mc));
    lavr_dit m;
    memset(&m, 0, sizeof m);
    m.cfg = mc.dit;
    const lavr_dit_config *c = &m.cfg;
    const int64_t d = c->dim, A = c->audio_dim, S = c->audio_num_states, NT = c->num_audio_token, F = c->frames_per_block;
    const int64_t q = d / 4, AF = 4 * F;
    const int64_t ls[4] = {1, S, 1, 1}, ps[4] = {1, 1, 1, d};
    m.audio.layer_logits = tensor(1, 4, ls, 1.0f);
    m.audio.conv1_local = conv(10, NT * q, A, 3);
    m.audio.conv1_global = conv(20, q, A, 3);
    m.audio.conv2 = conv(30, 2 * q, q, 3);
    m.audio.conv3 = conv(40, d, 2 * q, 3);
    m.audio.final_linear = conv(50, d, d, 0);
    m.audio.padding_tokens = tensor(60, 4, ps, 1.0f);

    lavr_device_arena *arena = NULL;
    lavr_cuda_blas *blas = NULL;
    cudaStream_t stream = NULL;
    CHECK_OK(lavr_device_arena_create("cuda:0", 0, &arena));
    CHECK_OK(lavr_cuda_blas_create(0, &blas));
    CHECK(cudaStreamCreate(&stream) == cudaSuccess);
    lavr_dit_cuda_audio *au = NULL;
    CHECK_OK(lavr_dit_cuda_audio_create(&m, arena, blas, stream, &au));
    uint64_t pw = 0, pwork = 0;
    CHECK_OK(lavr_dit_dev_audio_bytes(c, &pw, &pwork));
    printf("%s: audio encoder arena %.2f MiB (planned %.2f MiB weights + %.2f MiB buffers)\n", preset,
           (double)lavr_device_arena_used(arena) / 1048576.0, (double)pw / 1048576.0, (double)pwork / 1048576.0);
    CHECK(au && lavr_device_arena_used(arena) == pw + pwork);

    const int64_t nloc = F * (NT + 1) * d, nglob = F * d, n = nloc + nglob;
    float *dev = NULL;
    CHECK(cudaMalloc((void **)&dev, (size_t)(2 * n) * sizeof(float)) == cudaSuccess);
    float *got = malloc((size_t)n * sizeof(float)), *want = malloc((size_t)n * sizeof(float));
    float *again = malloc((size_t)n * sizeof(float));
    for (int block = 0; block < 2 && au && dev; block++) {
        float *frames = rand_bf16(100 + (uint32_t)block, S * A * AF, 1.0f);
        const lavr_dit_block_input in = {.audio = frames, .audio_frames = AF, .audio_first = 0};
        CHECK_OK(lavr_dit_audio_tokens(&m, &in, want, want + nloc));
        CHECK(cudaMemset(dev, 0xff, (size_t)(2 * n) * sizeof(float)) == cudaSuccess); /* NaN: unwritten shows */
        CHECK_OK(lavr_dit_cuda_audio_tokens(au, frames, dev, dev + nloc));
        CHECK_OK(lavr_dit_cuda_audio_tokens(au, frames, dev + n, dev + n + nloc)); /* the memo */
        CHECK(cudaStreamSynchronize(stream) == cudaSuccess);
        CHECK(cudaMemcpy(got, dev, (size_t)n * 4, cudaMemcpyDeviceToHost) == cudaSuccess);
        CHECK(cudaMemcpy(again, dev + n, (size_t)n * 4, cudaMemcpyDeviceToHost) == cudaSuccess);
        CHECK_MSG(lavr_dit_cuda_audio_encodes(au) == block + 1, "%lld encodes after %d blocks (the memo)",
                  (long long)lavr_dit_cuda_audio_encodes(au), block + 1);
        CHECK_MSG(!memcmp(got, again, (size_t)n * 4), "a memoised block's tokens differ");
        double ss = 0;
        for (int64_t i = 0; i < n; i++) ss += (double)want[i] * want[i];
        const double rms = sqrt(ss / (double)n);
        int64_t equal = 0, worst_ulp = 0, bad = 0, pad_bad = 0;
        for (int64_t i = 0; i < n; i++) {
            equal += !memcmp(&got[i], &want[i], 4);
            const int64_t u = bf16_ulps(got[i], want[i]);
            if (u > worst_ulp) worst_ulp = u;
            const double step = fabs((double)want[i]) / 128.0; /* one bf16 step (8 significant bits) */
            bad += !(fabs((double)got[i] - want[i]) <= step + FP32_ERR * rms);
            if (i < nloc && (i / d) % (NT + 1) == NT) pad_bad += memcmp(&got[i], &want[i], 4) != 0;
        }
        printf("%s block %d: %lld of %lld tokens bitwise equal (%.4f %%), max %lld bf16 ulp apart, %lld outside "
               "one bf16 step + %.0e rms\n", preset, block, (long long)equal, (long long)n,
               100.0 * (double)equal / (double)n, (long long)worst_ulp, (long long)bad, FP32_ERR);
        CHECK_MSG(bad == 0, "%lld tokens beyond the tolerance", (long long)bad);
        CHECK_MSG((double)equal >= MIN_EQUAL * (double)n, "only %lld of %lld tokens equal", (long long)equal,
                  (long long)n);
        CHECK(pad_bad == 0);
        free(frames);
    }
    free(got), free(want), free(again);
    cudaFree(dev);
    lavr_dit_cuda_audio_destroy(au);
    CHECK(lavr_device_arena_used(arena) == 0);
    cudaStreamDestroy(stream);
    lavr_cuda_blas_destroy(blas);
    lavr_device_arena_destroy(arena);
    lavr_tensor *t[] = {&m.audio.layer_logits, &m.audio.padding_tokens, &m.audio.conv1_local.w, &m.audio.conv1_local.b,
                        &m.audio.conv1_global.w, &m.audio.conv1_global.b, &m.audio.conv2.w, &m.audio.conv2.b,
                        &m.audio.conv3.w, &m.audio.conv3.b, &m.audio.final_linear.w, &m.audio.final_linear.b};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) free(t[i]->data);
}

int main(void) {
    if (lavr_device_count() < 1) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    cudaSetDevice(0);
    one("tiny");
    one("s2v-14b"); /* 1024 -> 5120 / 1280, 2560, 5120, 85 frames: 14 GFLOP a block */
    return check_summary("gpu_test_dit_audio_cuda");
}
