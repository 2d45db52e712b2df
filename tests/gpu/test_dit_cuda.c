/* The GPU DiT (models/dit_cuda.h) against the CPU DiT on the tiny model: sink prefill into 4 step caches,
 * then 6 blocks x 4 steps (window wrap at block 4) with velocities compared by rel L2, plus the device patch
 * embedding, Euler step and Philox fill against their CPU counterparts. Exits 77 without a CUDA device. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dit_cuda_compare.h"
#include "parallel/device.h"
#include "tiny_model.h"

#define BLOCKS 6 /* blocks 4 and 5 overwrite window slots 0 and 1 */
#define VEL_TOL 2e-2  /* rel L2 of a velocity: bf16 GEMM operands and the bf16 attention path vs the CPU */
#define TOK_TOL 1e-2  /* rel L2 of the patch-embedded tokens (bf16 rounding of GEMM sums near ties) */
#define VEL_TOL_FP8 0.25 /* FP8 e4m3 Linears (3 mantissa bits) against the bf16 CPU model: a bound, not a match */

static void down(float *h, const float *d, int64_t n) { cmp_copy(h, d, n, cudaMemcpyDeviceToHost); }

/* lavr_cuda_fill_uniform against the same formula on the host Philox */
static void check_fill(lavr_device_arena *arena) {
    enum { N = 4096 };
    float *dev = NULL, host[N];
    uint16_t *devb = NULL, hostb[N];
    CHECK_OK(lavr_device_arena_alloc(arena, N * 4, "fill f32", (void **)&dev));
    CHECK_OK(lavr_device_arena_alloc(arena, N * 2, "fill bf16", (void **)&devb));
    const uint64_t seed = 0x1234567890abcdefull, stream = 0xfeedbeef12345ull, offset = (1ull << 32) - 100;
    CHECK_OK(lavr_cuda_fill_uniform(dev, 0, N, seed, stream, offset, 0.5f, 0.25f, NULL));
    CHECK_OK(lavr_cuda_fill_uniform(devb, 1, N, seed, stream, offset, 0.5f, 0.25f, NULL));
    down(host, dev, N);
    CHECK(cudaMemcpy(hostb, devb, sizeof hostb, cudaMemcpyDeviceToHost) == cudaSuccess);
    int same = 1;
    double sum = 0, sq = 0;
    for (int i = 0; i < N; i++) {
        const uint64_t c = offset + (uint64_t)i;
        const uint32_t ctr[4] = {(uint32_t)c, (uint32_t)(c >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
        const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
        uint32_t out[4];
        lavr_philox4x32_10(ctr, key, out);
        const double u = ((double)out[0] + 0.5) / 4294967296.0;
        const float v = (float)(0.25 + 0.5 * 1.7320508075688772 * (2.0 * u - 1.0));
        same &= host[i] == v && hostb[i] == lavr_f32_to_bf16(v);
        sum += (host[i] - 0.25) / 0.5, sq += ((host[i] - 0.25) / 0.5) * ((host[i] - 0.25) / 0.5);
    }
    CHECK(same);
    CHECK_NEAR(sum / N, 0.0, 0.05);
    CHECK_NEAR(sq / N, 1.0, 0.05);
    CHECK_OK(lavr_device_arena_free(arena, dev));
    CHECK_OK(lavr_device_arena_free(arena, devb));
}

int main(void) {
    if (lavr_device_count() < 1) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    cudaSetDevice(0);
    const char *tmp = getenv("LAVR_TEST_TMP");
    char path[512];
    snprintf(path, sizeof path, "%s/gpu_dit_cuda_tiny.h5", tmp ? tmp : "/tmp");
    lavr_model_config mc;
    CHECK_OK(tiny_model_write(path, 5, 1, 0, &mc));
    lavr_h5file *f = NULL;
    lavr_dit *m = NULL;
    CHECK_OK(lavr_h5_open(path, &f));
    CHECK_OK(lavr_dit_load(f, "dit/", "/dit", &m));
    if (!m) return check_summary("test_dit_cuda");
    lavr_device_arena *arena = NULL;
    lavr_cuda_blas *blas = NULL;
    CHECK_OK(lavr_device_arena_create("cuda:0", (size_t)2 << 30, &arena));
    CHECK_OK(lavr_cuda_blas_create(0, &blas));
    check_fill(arena);
    /* the layouts and launch modes of the device model: each against the CPU model */
    const struct {
        const char *name;
        lavr_dit_sink_layout sink;
        int own_stream, graphs, fp8;
    } modes[4] = {{"shared sink, legacy stream", LAVR_DIT_SINK_SHARED, 0, 0, 0},
                  {"shared sink, CUDA graphs", LAVR_DIT_SINK_SHARED, 1, 1, 0},
                  {"contiguous window+sink, CUDA graphs", LAVR_DIT_SINK_CONTIGUOUS, 1, 1, 0},
                  {"FP8 Linears, CUDA graphs", LAVR_DIT_SINK_SHARED, 1, 1, 1}};
    for (int mi = 0; mi < 4; mi++) {
        cudaStream_t stream = NULL;
        if (modes[mi].own_stream) CHECK(cudaStreamCreate(&stream) == cudaSuccess);
        lavr_dit_cuda *g = NULL;
        lavr_dit_cuda_tp tp = {.rank = 0, .size = 1};
        lavr_dit_cuda_options o = lavr_dit_cuda_options_default();
        o.sink = modes[mi].sink, o.graphs = modes[mi].graphs, o.fp8 = modes[mi].fp8;
        CHECK_OK(lavr_dit_cuda_create_opts(&m->cfg, &tp, &o, 0, m->cfg.num_layers, CMP_LAT, CMP_LAT, arena, blas, stream,
                                           &g));
        if (!g) return check_summary("test_dit_cuda");
        CHECK_OK(lavr_dit_cuda_upload(g, m));
        const cmp_result r = cmp_run(m, g, arena, BLOCKS);
        const double tol = modes[mi].fp8 ? VEL_TOL_FP8 : VEL_TOL;
        CHECK_MSG(r.worst_velocity <= tol, "%s: velocity rel L2 %.3g > %.3g", modes[mi].name, r.worst_velocity, tol);
        CHECK_MSG(r.worst_tokens <= TOK_TOL, "patch-embedded tokens rel L2 %.3g > %.3g", r.worst_tokens, TOK_TOL);
        CHECK(r.euler_same);
        char desc[128];
        lavr_device_arena_describe(arena, desc, sizeof desc);
        printf("%s (%s): worst velocity rel L2 %.3g (limit %.0e) over %d blocks x %d steps; tokens %.3g; %s\n",
               modes[mi].name, lavr_dit_cuda_attention_path(g), r.worst_velocity, tol, BLOCKS, CMP_STEPS,
               r.worst_tokens, desc);
        lavr_dit_cuda_destroy(g);
        if (stream) cudaStreamDestroy(stream);
    }
    lavr_cuda_blas_destroy(blas);
    lavr_device_arena_destroy(arena);
    lavr_dit_destroy(m);
    lavr_h5_close(f);
    remove(path);
    return check_summary("test_dit_cuda");
}
