/* Test helper shared by the GPU DiT tests: runs the CPU DiT (the reference) and a GPU DiT side by side on the
 * tiny model (sink prefill into 4 step caches, then blocks x 4 steps) and reports the worst velocity and
 * patch-token rel L2 and whether the device Euler step matched the CPU bits. Header-only, like check.h. */
#ifndef LAVR_TEST_DIT_CUDA_COMPARE_H
#define LAVR_TEST_DIT_CUDA_COMPARE_H

#include <cuda_runtime_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "kernels/cuda/dit_kernels.h"
#include "models/dit.h"
#include "models/dit_cuda.h"
#include "models/sampler.h"

#define CMP_LAT 16  /* latent grid: 64 tokens per frame */
#define CMP_STEPS 4
#define CMP_CTX_ROWS 23

typedef struct {
    double worst_velocity, worst_tokens;
    int euler_same;
} cmp_result;

static float *cmp_randn(uint32_t id, int64_t n) {
    float *x = malloc((size_t)n * sizeof(float));
    if (!x) exit(1);
    lavr_rng_normal(77, lavr_rng_stream(LAVR_STREAM_TEST, id, 0, 0), 0, n, x);
    for (int64_t i = 0; i < n; i++) x[i] = lavr_round_bf16(x[i]);
    return x;
}

static double cmp_rel_l2(const float *a, const float *b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    const double e = sqrt(num / (den > 0 ? den : 1e-30));
    return isnan(e) ? INFINITY : e;
}

static void cmp_copy(void *dst, const void *src, int64_t floats, enum cudaMemcpyKind kind) {
    if (cudaDeviceSynchronize() != cudaSuccess || cudaMemcpy(dst, src, (size_t)floats * 4, kind) != cudaSuccess) {
        fprintf(stderr, "device copy failed: %s\n", cudaGetErrorString(cudaGetLastError()));
        exit(1);
    }
}

/* m: the CPU model (whole), g: the GPU model (any tp shard, weights filled). blocks >= 5 wraps the window. */
static cmp_result cmp_run(lavr_dit *m, lavr_dit_cuda *g, lavr_device_arena *arena, int blocks) {
    cmp_result r = {0, 0, 1};
    const lavr_dit_config *cfg = &m->cfg;
    const int64_t C = cfg->in_dim, F = cfg->frames_per_block, NB = C * F * CMP_LAT * CMP_LAT;
    const int64_t AF = 4 * F * blocks;
    float *ctx = cmp_randn(1, CMP_CTX_ROWS * cfg->text_dim);
    float *audio = cmp_randn(2, cfg->audio_num_states * cfg->audio_dim * AF);
    float *ref = cmp_randn(3, C * CMP_LAT * CMP_LAT), *motion = cmp_randn(4, C * 19 * CMP_LAT * CMP_LAT);
    CHECK_OK(lavr_dit_set_context(m, ctx, CMP_CTX_ROWS));
    CHECK_OK(lavr_dit_cuda_set_context(g, ctx, CMP_CTX_ROWS));

    lavr_dit_step_cache *cc[CMP_STEPS] = {0};
    lavr_dit_cuda_cache *gc[CMP_STEPS] = {0};
    for (int s = 0; s < CMP_STEPS; s++) {
        CHECK_OK(lavr_dit_cache_create(m, CMP_LAT, CMP_LAT, &cc[s]));
        CHECK_OK(lavr_dit_cuda_cache_create(g, &gc[s]));
    }
    lavr_dit_act *act = NULL;
    lavr_dit_cuda_act gact;
    CHECK_OK(lavr_dit_act_create(m, lavr_dit_cache_geometry(cc[0]), &act));
    CHECK_OK(lavr_dit_cuda_act_create(g, &gact));
    CHECK_OK(lavr_dit_embed_sink(m, cc[0], ref, motion, act));
    CHECK_OK(lavr_dit_cuda_act_upload(g, act, &gact));
    CHECK_OK(lavr_dit_forward_layers(m, cc[0], act, NULL, NULL));
    CHECK_OK(lavr_dit_cuda_forward_layers(g, gc[0], &gact));
    for (int s = 1; s < CMP_STEPS; s++) {
        CHECK_OK(lavr_dit_cache_copy_sink(cc[s], cc[0]));
        CHECK_OK(lavr_dit_cuda_cache_copy_sink(g, gc[s], gc[0]));
    }

    lavr_sampler smp;
    CHECK_OK(lavr_sampler_init(CMP_STEPS, &smp));
    const int64_t L = lavr_dit_cache_geometry(cc[0])->block_tokens, d = cfg->dim;
    float *v_cpu = malloc((size_t)NB * 4), *v_gpu = malloc((size_t)NB * 4), *tok = malloc((size_t)(L * d) * 4);
    float *x_next = malloc((size_t)NB * 4), *dev_x = NULL, *dev_v = NULL;
    CHECK_OK(lavr_device_arena_alloc(arena, (size_t)NB * 4, "test latent", (void **)&dev_x));
    CHECK_OK(lavr_device_arena_alloc(arena, (size_t)NB * 4, "test velocity", (void **)&dev_v));
    for (int n = 0; n < blocks; n++) {
        float *x = cmp_randn(100 + (uint32_t)n, NB);
        for (int s = 0; s < CMP_STEPS; s++) {
            lavr_dit_block_input in = {x, NULL, smp.timesteps[s], n, 4 + (7 * n + 3 * s) % 27, audio, AF, 4 * F * n,
                                       NULL, NULL};
            CHECK_OK(lavr_dit_embed_block(m, cc[s], &in, act));
            CHECK_OK(lavr_dit_cuda_act_upload(g, act, &gact));
            /* the device patch embedding replaces the uploaded tokens */
            cmp_copy(dev_x, x, NB, cudaMemcpyHostToDevice);
            CHECK_OK(lavr_dit_cuda_embed_tokens(g, dev_x, n, in.sink_offset, &gact));
            cmp_copy(tok, gact.x, L * d, cudaMemcpyDeviceToHost);
            const double et = cmp_rel_l2(tok, act->x, L * d);
            if (et > r.worst_tokens) r.worst_tokens = et;
            CHECK_OK(lavr_dit_forward_layers(m, cc[s], act, NULL, NULL));
            CHECK_OK(lavr_dit_head(m, cc[s], act, v_cpu));
            /* poisoned, so an unwritten velocity cannot pass */
            cudaMemset(dev_v, 0xff, (size_t)NB * 4);
            CHECK_OK(lavr_dit_cuda_forward_layers(g, gc[s], &gact));
            CHECK_OK(lavr_dit_cuda_head(g, &gact, dev_v));
            cmp_copy(v_gpu, dev_v, NB, cudaMemcpyDeviceToHost);
            const double e = cmp_rel_l2(v_gpu, v_cpu, NB);
            if (e > r.worst_velocity) r.worst_velocity = e;
            /* both sides go on from the CPU's step; the device Euler step must give the same bits */
            memcpy(x_next, x, (size_t)NB * 4);
            CHECK_OK(lavr_sampler_step(&smp, s, x_next, v_cpu, NB));
            cmp_copy(dev_v, v_cpu, NB, cudaMemcpyHostToDevice);
            CHECK_OK(lavr_cuda_euler_step(dev_x, dev_v, NB, smp.sigmas[s + 1] - smp.sigmas[s], NULL));
            cmp_copy(v_gpu, dev_x, NB, cudaMemcpyDeviceToHost);
            r.euler_same &= memcmp(v_gpu, x_next, (size_t)NB * 4) == 0;
            memcpy(x, x_next, (size_t)NB * 4);
        }
        free(x);
    }
    for (int s = 0; s < CMP_STEPS; s++) {
        lavr_dit_cache_destroy(cc[s]);
        lavr_dit_cuda_cache_destroy(g, gc[s]);
    }
    lavr_dit_act_destroy(act);
    lavr_dit_cuda_act_destroy(g, &gact);
    CHECK_OK(lavr_device_arena_free(arena, dev_x));
    CHECK_OK(lavr_device_arena_free(arena, dev_v));
    free(ctx); free(audio); free(ref); free(motion); free(v_cpu); free(v_gpu); free(tok); free(x_next);
    return r;
}

#endif
