/* A small XLSR-layout wav2vec2 for tests with generated weights (tests/test_w2v_fold.c, tests/gpu/test_w2v_cuda.c):
 * hidden 256 in 4 heads of 64 (the tensor-core and cuDNN attention shapes), 2 layers, FFN 512, the real conv stack
 * (7 layers, kernels 10,3,3,3,3,2,2, strides 5,2,...) at 64 channels and the real positional conv (128 taps, 16
 * groups), and a seeded pseudo-random waveform. */
#ifndef LAVR_TESTS_W2V_SMALL_H
#define LAVR_TESTS_W2V_SMALL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/rng.h"
#include "models/config.h"
#include "models/wav2vec2.h"

static const lavr_w2v_config W2V_SMALL = {
    .hidden = 256, .num_layers = 2, .num_heads = 4, .intermediate = 512, .n_conv = 7,
    .conv_dim = {64, 64, 64, 64, 64, 64, 64}, .conv_kernel = {10, 3, 3, 3, 3, 2, 2}, .conv_stride = {5, 2, 2, 2, 2, 2, 2},
    .pos_conv_kernel = 128, .pos_conv_groups = 16, .eps = 1e-5, .stable_layer_norm = 1, .conv_bias = 1};

/* n samples of a normalised-looking waveform: a few sines plus uniform noise, zero mean, unit-ish variance. */
static inline float *w2v_small_wave(int64_t n, uint64_t seed) {
    float *x = malloc((size_t)n * sizeof *x);
    float *noise = malloc((size_t)n * sizeof *noise);
    if (noise) lavr_rng_normal(seed, LAVR_STREAM_TEST, 0, n, noise);
    for (int64_t i = 0; x && noise && i < n; i++) {
        const double t = (double)i / 16000.0;
        x[i] = (float)(0.8 * sin(2 * M_PI * 220 * t) + 0.5 * sin(2 * M_PI * 1375 * t + 1.0) + 0.4 * noise[i]);
    }
    free(noise);
    return x;
}

/* All num_layers + 1 states [S, T, hidden] of wave (NAN-poisoned first), or NULL on failure. */
static inline float *w2v_small_states(lavr_w2v *m, const float *wave, int64_t n, lavr_arena *work) {
    const lavr_w2v_config *c = lavr_w2v_config_of(m);
    const int64_t count = (c->num_layers + 1) * lavr_w2v_num_frames(c, n) * c->hidden;
    float *hs = malloc((size_t)count * sizeof *hs);
    for (int64_t i = 0; hs && i < count; i++) hs[i] = NAN;
    if (hs && lavr_w2v_forward(m, wave, n, work, hs)) {
        free(hs);
        return NULL;
    }
    return hs;
}

#endif
