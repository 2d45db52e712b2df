/* The sink's embedding on the device (lavr_dit_cuda_embed_sink: the reference's patch embedding and FramePack's
 * bucket convs, models/dit_cuda.c) against the host's (lavr_dit_embed_sink, models/dit_embed.c, framepack.c) on
 * random bf16 weights and random fp32 latents, at the tiny and the s2v-14b widths. Exits 77 without a device. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "kernels/cuda/device_arena.h"
#include "models/dit_cuda.h"
#include "parallel/device.h"

/* Both sides round the same latents to bf16 and take the same bf16 products; the GEMMs sum them in fp32 in another
 * order, then both round bf16(sum + bias) and bf16(token + type embedding) at the same places. A value may thus sit
 * one bf16 step of the GEMM's output away (that step is at most |want - type| / 128), plus one of its own rounding
 * (|want| / 128), plus the fp32 error of a sum of up to 4096 products, bounded here by 1e-5 of the tokens' RMS.
 * Most values are bitwise equal. */
#define FP32_ERR 1e-5
#define MIN_EQUAL 0.98

static float *randn(uint32_t id, int64_t n, float scale, int bf16) {
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!x) exit(1);
    lavr_rng_normal(78, lavr_rng_stream(LAVR_STREAM_TEST, 950 + id, 0, 0), 0, n, x);
    for (int64_t i = 0; i < n; i++) x[i] = bf16 ? lavr_round_bf16(x[i] * scale) : x[i] * scale;
    return x;
}

/* a bf16 tensor: random values of the scale, or zeros when scale is 0 */
static lavr_tensor tensor(uint32_t id, int ndim, const int64_t *shape, float scale) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    uint16_t *b = calloc((size_t)n, 2);
    if (!b) exit(1);
    if (scale != 0.0f) {
        float *v = randn(id, n, scale, 1);
        for (int64_t i = 0; i < n; i++) b[i] = lavr_f32_to_bf16(v[i]);
        free(v);
    }
    return lavr_tensor_wrap(LAVR_BF16, ndim, shape, b);
}

/* a kernel = stride Conv3d [d, C, kt, kh, kw] with variance 1/fan_in, or a Linear [out, in] of zeros (kt = 0) */
static lavr_dit_linear conv(uint32_t id, int64_t d, int64_t C, int64_t kt, int64_t kh, int64_t kw) {
    lavr_dit_linear l;
    const int64_t ws[5] = {d, C, kt, kh, kw}, bs[1] = {d};
    if (kt) l.w = tensor(id, 5, ws, (float)(1.0 / sqrt((double)(C * kt * kh * kw))));
    else l.w = tensor(id, 2, ws, 0.0f);
    l.b = tensor(id + 1, 1, bs, kt ? 0.1f : 0.0f);
    return l;
}

static int64_t bf16_ulps(float a, float b) {
    const int32_t ia = (int16_t)lavr_f32_to_bf16(a), ib = (int16_t)lavr_f32_to_bf16(b);
    const int32_t oa = ia < 0 ? -(ia & 0x7fff) : ia, ob = ib < 0 ? -(ib & 0x7fff) : ib;
    return oa > ob ? oa - ob : ob - oa;
}

static void free_linear(lavr_dit_linear *l) {
    free(l->w.data);
    free(l->b.data);
}

static void one(const char *preset, int64_t h, int64_t w) {
    lavr_model_config mc;
    CHECK_OK(lavr_config_preset(preset, &mc));
    lavr_dit m;
    memset(&m, 0, sizeof m);
    m.cfg = mc.dit;
    m.shard.layer_begin = 0, m.shard.layer_end = 1, m.shard.tp.size = 1;
    const lavr_dit_config *c = &m.cfg;
    const int64_t d = c->dim, C = c->in_dim, T = LAVR_DIT_MOTION_LATENTS;
    m.patch = conv(1, d, C, 1, 2, 2);
    m.fp_proj = conv(3, d, C, 1, 2, 2);
    m.fp_proj2 = conv(5, d, C, 2, 4, 4);
    m.fp_proj4 = conv(7, d, C, 4, 8, 8);
    const int64_t bs[1] = {d}, ms[2] = {3, d};
    m.cond.b = tensor(9, 1, bs, 0.1f);
    m.cond_mask = tensor(10, 2, ms, 1.0f);
    /* the time MLP is not under test (the host computes the t = 0 rows, the device takes them as they are) */
    m.time0 = conv(0, d, c->freq_dim, 0, 0, 0);
    m.time2 = conv(0, d, d, 0, 0, 0);
    m.time_proj = conv(0, 6 * d, d, 0, 0, 0);

    lavr_device_arena *arena = NULL;
    lavr_cuda_blas *blas = NULL;
    cudaStream_t stream = NULL;
    CHECK_OK(lavr_device_arena_create("cuda:0", 0, &arena));
    CHECK_OK(lavr_cuda_blas_create(0, &blas));
    CHECK(cudaStreamCreate(&stream) == cudaSuccess);
    const lavr_dit_cuda_tp tp = {.rank = 0, .size = 1};
    lavr_dit_cuda_options o = lavr_dit_cuda_options_default();
    o.attention = LAVR_DIT_ATTN_OWN;
    lavr_dit_cuda *g = NULL;
    /* layer 0 only: the embeddings come with it; its layer weights stay unfilled */
    CHECK_OK(lavr_dit_cuda_create_opts(c, &tp, &o, 0, 1, h, w, arena, blas, stream, &g));
    lavr_dit_cuda_act dact;
    lavr_dit_act *want = NULL, *got = NULL;
    if (g) {
        CHECK_OK(lavr_dit_cuda_upload_embeddings(g, &m));
        CHECK_OK(lavr_dit_cuda_act_create(g, &dact));
        const lavr_dit_geometry *geo = lavr_dit_cuda_geometry(g);
        CHECK_OK(lavr_dit_act_create(&m, geo, &want));
        CHECK_OK(lavr_dit_act_create(&m, geo, &got));
        const int64_t S = geo->sink, P = geo->P, R = geo->block_tokens > S ? geo->block_tokens : S, n = S * d;
        float *motion = randn(20, C * T * h * w, 1.0f, 0);
        /* a second reference, as the clip-1 reference swap re-embeds the sink */
        for (int pass = 0; pass < 2; pass++) {
            float *ref = randn(21 + (uint32_t)pass, C * h * w, 1.0f, 0);
            CHECK_OK(lavr_dit_cuda_embed_sink_host(g, &m, ref, motion, want));
            CHECK(cudaMemset(dact.x, 0xff, (size_t)(R * d + 7 * d) * 4) == cudaSuccess); /* NaN: unwritten shows */
            CHECK_OK(lavr_dit_cuda_embed_sink(g, ref, motion, &dact));
            CHECK_OK(lavr_dit_cuda_act_upload_time(g, want, &dact));
            got->rows = S;
            CHECK_OK(lavr_dit_cuda_act_download(g, &dact, got));
            CHECK(dact.prefill == 1 && dact.rows == S && dact.block_index == 0 && dact.sink_offset == 0);
            CHECK_MSG(!memcmp(got->e, want->e, (size_t)(7 * d) * 4), "the t = 0 time rows differ");
            double ss = 0;
            for (int64_t i = 0; i < n; i++) ss += (double)want->x[i] * want->x[i];
            const double rms = sqrt(ss / (double)n);
            int64_t equal = 0, worst_ulp = 0, bad = 0, first_bad = -1;
            for (int64_t i = 0; i < n; i++) {
                const float type = (float)lavr_dtype_load(LAVR_BF16, m.cond_mask.data, (i / d < P ? 1 : 2) * d + i % d);
                const double x = want->x[i], y = got->x[i];
                equal += !memcmp(&got->x[i], &want->x[i], 4);
                const int64_t u = bf16_ulps(got->x[i], want->x[i]);
                if (u > worst_ulp) worst_ulp = u;
                const double tol = (fabs(x) + fabs(x - type)) / 128.0 + FP32_ERR * rms;
                if (!(fabs(y - x) <= tol)) {
                    if (first_bad < 0) first_bad = i;
                    bad++;
                }
            }
            printf("%s %lldx%lld pass %d: sink of %lld tokens, %lld of %lld values bitwise equal (%.4f %%), max %lld "
                   "bf16 ulp apart, %lld outside the tolerance\n", preset, (long long)h, (long long)w, pass,
                   (long long)S, (long long)equal, (long long)n, 100.0 * (double)equal / (double)n,
                   (long long)worst_ulp, (long long)bad);
            CHECK_MSG(bad == 0, "%lld values beyond the tolerance; the first: token %lld column %lld, %g (host %g)",
                      (long long)bad, (long long)(first_bad / d), (long long)(first_bad % d),
                      first_bad >= 0 ? got->x[first_bad] : 0.0, first_bad >= 0 ? want->x[first_bad] : 0.0);
            CHECK_MSG((double)equal >= MIN_EQUAL * (double)n, "only %lld of %lld values equal", (long long)equal,
                      (long long)n);
            free(ref);
        }
        free(motion);
        lavr_dit_cuda_act_destroy(g, &dact);
    }
    lavr_dit_act_destroy(want);
    lavr_dit_act_destroy(got);
    lavr_dit_cuda_destroy(g);
    cudaStreamDestroy(stream);
    lavr_cuda_blas_destroy(blas);
    lavr_device_arena_destroy(arena);
    lavr_dit_linear *lins[] = {&m.patch, &m.fp_proj, &m.fp_proj2, &m.fp_proj4, &m.time0, &m.time2, &m.time_proj};
    for (size_t i = 0; i < sizeof lins / sizeof lins[0]; i++) free_linear(lins[i]);
    free(m.cond.b.data);
    free(m.cond_mask.data);
}

int main(void) {
    if (lavr_device_count() < 1) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    cudaSetDevice(0);
    /* tiny at 18x26: floor sizes in FramePack's buckets, and the 4x bucket's patches in two chunks of a_bf */
    one("tiny", 18, 26);
    one("s2v-14b", 48, 88); /* 704x384 */
    return check_summary("gpu_test_dit_sink_cuda");
}
