/* The CUDA DiT's arena use against the planner's bytes (models/dit_dev.h, parallel/plan.h): at every stage of a
 * rank's life (create, weights through the staging buffer, text K/V, step caches, activation) the arena's in-use
 * and peak bytes equal the sums of models/dit_dev.c's list, byte for byte, for s2v-14b shards at 704x384 (tp 1 and
 * 4, a pp range, FP8, the contiguous sink) and the tiny model. Exits 77 without a CUDA device. */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/cuda/device_arena.h"
#include "models/dit_cuda.h"
#include "models/dit_dev.h"
#include "parallel/device.h"

/* the tp group is not there: its sums and maxima are left out (only the bytes are looked at) */
static lavr_status no_reduce(void *ctx, float *buf, int64_t n, void *stream) {
    (void)ctx, (void)buf, (void)n, (void)stream;
    return LAVR_OK;
}

static void one(const char *preset, int64_t w, int64_t h, int tp, int64_t lb, int64_t le, int fp8, int contiguous,
                int caches) {
    lavr_model_config cfg;
    CHECK_OK(lavr_config_preset(preset, &cfg));
    const lavr_dit_config *c = &cfg.dit;
    if (le < 0) le = c->num_layers;
    lavr_dit_dev_dims dims;
    lavr_dit_dev_bytes b;
    CHECK_OK(lavr_dit_dev_dims_of(c, tp, fp8, contiguous, lb, le, h / 8, w / 8, &dims));
    CHECK_OK(lavr_dit_dev_bytes_of(&dims, &b));
    lavr_device_arena *arena = NULL;
    lavr_cuda_blas *blas = NULL;
    cudaStream_t stream = NULL;
    CHECK_OK(lavr_device_arena_create("cuda:0", 0, &arena));
    CHECK_OK(lavr_cuda_blas_create(0, &blas));
    CHECK(cudaStreamCreate(&stream) == cudaSuccess);
    lavr_dit_cuda_tp group = {.rank = tp - 1, .size = tp};
    if (tp > 1) group.allreduce_sum = no_reduce, group.allreduce_max = no_reduce, group.graph_safe = 1;
    lavr_dit_cuda_options o = lavr_dit_cuda_options_default();
    o.fp8 = fp8;
    o.sink = contiguous ? LAVR_DIT_SINK_CONTIGUOUS : LAVR_DIT_SINK_SHARED;
    o.attention = LAVR_DIT_ATTN_OWN;
    lavr_dit_cuda *g = NULL;
    lavr_dit_cuda_cache *cache[4] = {0};
    lavr_dit_cuda_act act;
    const uint64_t base = b.weights + b.text_kv + b.work + b.sink;
    CHECK_OK(lavr_dit_cuda_create_opts(c, &group, &o, lb, le, h / 8, w / 8, arena, blas, stream, &g));
    if (g) {
        CHECK(lavr_device_arena_used(arena) == base);
        CHECK_OK(lavr_dit_cuda_generate(g, 1));
        CHECK(lavr_device_arena_used(arena) == base && lavr_device_arena_peak(arena) == base + b.staging);
        float *ctx = calloc((size_t)(c->text_len * c->text_dim), sizeof(float));
        CHECK_OK(lavr_dit_cuda_set_context(g, ctx, c->text_len));
        free(ctx);
        const uint64_t transient = b.staging > b.context ? b.staging : b.context;
        CHECK(lavr_device_arena_used(arena) == base && lavr_device_arena_peak(arena) == base + transient);
        for (int i = 0; i < caches; i++) CHECK_OK(lavr_dit_cuda_cache_create(g, &cache[i]));
        CHECK_OK(lavr_dit_cuda_act_create(g, &act));
        const uint64_t later = (uint64_t)caches * b.cache + b.act;
        CHECK(lavr_device_arena_used(arena) == base + later);
        CHECK(lavr_device_arena_peak(arena) == base + (later > transient ? later : transient));
        printf("%s %lldx%lld tp=%d layers [%lld, %lld)%s%s, %d caches: arena %.3f GiB, planned %.3f GiB\n", preset,
               (long long)w, (long long)h, tp, (long long)lb, (long long)le, fp8 ? " fp8" : "",
               contiguous ? " contiguous" : "", caches, (double)lavr_device_arena_peak(arena) / (1 << 30),
               (double)(base + (later > transient ? later : transient)) / (1 << 30));
        lavr_dit_cuda_act_destroy(g, &act);
        for (int i = 0; i < caches; i++) lavr_dit_cuda_cache_destroy(g, cache[i]);
    }
    lavr_dit_cuda_destroy(g);
    cudaStreamDestroy(stream);
    lavr_cuda_blas_destroy(blas);
    lavr_device_arena_destroy(arena);
}

int main(void) {
    if (lavr_device_count() < 1) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    cudaSetDevice(0);
    one("tiny", 128, 128, 1, 0, -1, 0, 0, 4);
    one("tiny", 128, 128, 2, 1, 3, 1, 1, 2);
    /* shards of the 4 x 22 GiB layouts (FP8) and the single-GPU ones */
    one("s2v-14b", 704, 384, 4, 0, -1, 1, 0, 4);
    one("s2v-14b", 704, 384, 2, 20, 40, 1, 0, 4);
    one("s2v-14b", 704, 384, 1, 14, 27, 0, 1, 1);
    one("s2v-14b", 704, 384, 1, 0, -1, 1, 0, 4);
    return check_summary("gpu_test_dit_memory");
}
