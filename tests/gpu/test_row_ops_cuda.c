/* GPU checks of the row ops (kernels/row_ops.h): each CUDA op against its CPU reference (round = 1) on the same
 * random inputs (bf16 values), outputs poisoned with NaN first; row ranges as operands; the random weights equal on
 * both devices. Exits 77 without a CUDA device. Seed: LAVR_TEST_SEED or the clock.
 *
 * Tolerances (rel L2 of the CUDA result against the CPU one): exact for transfers, copies, add, mul, the position
 * bias and the random weights (the same fp32 operation rounded once); 5e-3 for GEMMs, norms and GELUs, whose fp32
 * sums run in another order or whose tanh/erf differ in the last fp32 bits, so a few outputs land on the other side
 * of a bf16 rounding boundary (one ulp = 2^-8 relative); 1e-2 for attention, whose softmax weights enter P·V as
 * bf16 on the GPU (eager: the tensor-core kernel's unnormalised weights against the CPU's normalised ones). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "io/golden.h"
#include "kernels/row_ops.h"
#include "parallel/device.h"

#define TOL 5e-3
#define ATTN_TOL 1e-2

static uint64_t seed, stream_no;
static lavr_ctx *cpu, *gpu;

/* n host floats of bf16 values, scale * N(0, 1) + shift */
static float *random_host(int64_t n, float scale, float shift) {
    float *p = malloc((size_t)n * sizeof *p);
    lavr_rng_normal(seed, lavr_rng_stream(LAVR_STREAM_TEST, (uint32_t)++stream_no, 0, 0), 0, n, p);
    for (int64_t i = 0; i < n; i++) p[i] = lavr_round_bf16(p[i] * scale + shift);
    return p;
}

/* The same rows on both contexts; the device output of an op is poisoned by its allocation helper below. */
typedef struct {
    lavr_tensor c, g;
} pair;

static pair rows_pair(int64_t r, int64_t cols, float scale, float shift) {
    pair p;
    CHECK_OK(lavr_ctx_alloc_rows(cpu, r, cols, "cpu rows", &p.c));
    CHECK_OK(lavr_ctx_alloc_rows(gpu, r, cols, "gpu rows", &p.g));
    float *v = random_host(r * cols, scale, shift);
    CHECK_OK(lavr_rop_upload(cpu, v, &p.c));
    CHECK_OK(lavr_rop_upload(gpu, v, &p.g));
    free(v);
    return p;
}

static pair out_pair(int64_t r, int64_t cols) {
    pair p;
    CHECK_OK(lavr_ctx_alloc_rows(cpu, r, cols, "cpu out", &p.c));
    CHECK_OK(lavr_ctx_alloc_rows(gpu, r, cols, "gpu out", &p.g));
    float *nan = malloc((size_t)(r * cols) * sizeof *nan);
    for (int64_t i = 0; i < r * cols; i++) nan[i] = NAN;
    CHECK_OK(lavr_rop_upload(gpu, nan, &p.g));
    free(nan);
    return p;
}

static pair vector_pair(int64_t n, float scale, float shift) {
    pair p;
    float *v = random_host(n, scale, shift);
    CHECK_OK(lavr_ctx_upload_vector(cpu, v, n, "cpu vector", &p.c));
    CHECK_OK(lavr_ctx_upload_vector(gpu, v, n, "gpu vector", &p.g));
    free(v);
    return p;
}

static void free_pair(pair *p) {
    lavr_ctx_free(cpu, &p->c);
    lavr_ctx_free(gpu, &p->g);
}

/* rel L2 of the device result against the CPU one, checked against tol (0: bit-identical) */
static void compare(const char *what, const pair *p, double tol) {
    const int64_t n = lavr_tensor_numel(&p->c);
    float *d = malloc((size_t)n * sizeof *d);
    CHECK_OK(lavr_rop_download(gpu, &p->g, d));
    const float *h = p->c.data;
    if (tol == 0) {
        int64_t differ = 0;
        for (int64_t i = 0; i < n; i++) differ += memcmp(&d[i], &h[i], sizeof *d) != 0;
        printf("  %-36s %lld of %lld values differ (must be 0)\n", what, (long long)differ, (long long)n);
        CHECK_MSG(differ == 0, "%s: %lld values differ", what, (long long)differ);
    } else {
        const double rel = lavr_golden_rel_l2(d, h, n);
        printf("  %-36s rel L2 %.3g (limit %.3g)\n", what, rel, tol);
        CHECK_MSG(rel <= tol, "%s: rel L2 %.3g over %.3g", what, rel, tol);
    }
    free(d);
}

static void test_linear(int64_t M, int64_t K, int64_t N) {
    pair x = rows_pair(M, K, 1, 0), y = out_pair(M, N);
    lavr_arena *a = lavr_ctx_host_arena(cpu);
    lavr_tensor w[2], b[2];
    float *wv = random_host(N * K, 1.0f / sqrtf((float)K), 0), *bv = random_host(N, 0.5f, 0);
    lavr_linear_weights lw[2];
    for (int i = 0; i < 2; i++) {
        CHECK_OK(lavr_tensor_alloc(a, LAVR_F32, 2, (int64_t[]){N, K}, "w", &w[i]));
        CHECK_OK(lavr_tensor_alloc(a, LAVR_F32, 1, (int64_t[]){N}, "b", &b[i]));
        memcpy(w[i].data, wv, (size_t)(N * K) * sizeof *wv);
        memcpy(b[i].data, bv, (size_t)N * sizeof *bv);
        CHECK_OK(lavr_ctx_linear_weights(i ? gpu : cpu, &w[i], &b[i], &lw[i]));
    }
    CHECK_OK(lavr_rop_linear(cpu, &x.c, &lw[0], 1, &y.c));
    CHECK_OK(lavr_rop_linear(gpu, &x.g, &lw[1], 1, &y.g));
    char what[64];
    snprintf(what, sizeof what, "linear %lldx%lld -> %lld", (long long)M, (long long)K, (long long)N);
    compare(what, &y, TOL);
    /* rows [1, M) into rows [0, M - 1) of the output */
    pair xs, ys;
    CHECK_OK(lavr_tensor_narrow(&x.c, 0, 1, M - 1, &xs.c));
    CHECK_OK(lavr_tensor_narrow(&x.g, 0, 1, M - 1, &xs.g));
    CHECK_OK(lavr_tensor_narrow(&y.c, 0, 0, M - 1, &ys.c));
    CHECK_OK(lavr_tensor_narrow(&y.g, 0, 0, M - 1, &ys.g));
    CHECK_OK(lavr_rop_linear(cpu, &xs.c, &lw[0], 1, &ys.c));
    CHECK_OK(lavr_rop_linear(gpu, &xs.g, &lw[1], 1, &ys.g));
    compare("linear on row ranges", &y, TOL);
    lavr_ctx_linear_weights_free(cpu, &lw[0]);
    lavr_ctx_linear_weights_free(gpu, &lw[1]);
    free(wv), free(bv);
    free_pair(&x), free_pair(&y);
}

static void test_norms_and_elementwise(int64_t R, int64_t C) {
    pair x = rows_pair(R, C, 2, 0.3f), z = rows_pair(R, C, 1, 0), y = out_pair(R, C);
    pair g = vector_pair(C, 0.5f, 1), b = vector_pair(C, 0.5f, 0);
    CHECK_OK(lavr_rop_rms_norm(cpu, &x.c, &g.c, 1e-6f, 1, &y.c));
    CHECK_OK(lavr_rop_rms_norm(gpu, &x.g, &g.g, 1e-6f, 1, &y.g));
    compare("T5 rms norm", &y, TOL);
    CHECK_OK(lavr_rop_layer_norm(cpu, &x.c, &g.c, &b.c, 1e-5f, 1, &y.c));
    CHECK_OK(lavr_rop_layer_norm(gpu, &x.g, &g.g, &b.g, 1e-5f, 1, &y.g));
    compare("layer norm", &y, TOL);
    static const char *names[3] = {"gelu erf", "gelu tanh", "gelu tanh in bf16 steps"};
    for (int k = 0; k < 3; k++) {
        CHECK_OK(lavr_rop_gelu(cpu, &x.c, (lavr_gelu_kind)k, 1, &y.c));
        CHECK_OK(lavr_rop_gelu(gpu, &x.g, (lavr_gelu_kind)k, 1, &y.g));
        compare(names[k], &y, TOL);
    }
    CHECK_OK(lavr_rop_add(cpu, &x.c, &z.c, 1, &y.c));
    CHECK_OK(lavr_rop_add(gpu, &x.g, &z.g, 1, &y.g));
    compare("add", &y, 0);
    CHECK_OK(lavr_rop_mul(cpu, &x.c, &z.c, 1, &x.c)); /* in place */
    CHECK_OK(lavr_rop_mul(gpu, &x.g, &z.g, 1, &x.g));
    compare("mul in place", &x, 0);
    CHECK_OK(lavr_rop_copy(cpu, &z.c, &y.c));
    CHECK_OK(lavr_rop_copy(gpu, &z.g, &y.g));
    compare("copy", &y, 0);
    /* fp32 activations are CPU-only */
    CHECK_FAILS(lavr_rop_add(gpu, &x.g, &z.g, 0, &y.g), LAVR_E_UNSUPPORTED);
    free_pair(&x), free_pair(&z), free_pair(&y), free_pair(&g), free_pair(&b);
}

static void test_attention(int64_t H, int64_t D, int64_t Lq, int64_t Lk, int masked) {
    const int64_t NB = 32;
    pair q = rows_pair(Lq, H * D, 1, 0), k = rows_pair(Lk, H * D, 1, 0), v = rows_pair(Lk, H * D, 1, 0);
    pair o = out_pair(Lq, H * D);
    lavr_arena *a = lavr_ctx_host_arena(cpu);
    lavr_tensor th, bh, mh;
    CHECK_OK(lavr_tensor_alloc(a, LAVR_F32, 2, (int64_t[]){NB, H}, "table", &th));
    CHECK_OK(lavr_tensor_alloc(a, LAVR_I32, 2, (int64_t[]){Lq, Lk}, "bucket", &bh));
    CHECK_OK(lavr_tensor_alloc(a, LAVR_F32, 1, (int64_t[]){Lk}, "mask", &mh));
    float *tv = random_host(NB * H, 2, 0);
    memcpy(th.data, tv, (size_t)(NB * H) * sizeof *tv);
    for (int64_t i = 0; i < Lq * Lk; i++) ((int32_t *)bh.data)[i] = (int32_t)((i * 7 + i / Lk) % NB);
    for (int64_t j = 0; j < Lk; j++) ((float *)mh.data)[j] = masked && j % 5 == 3 ? 0.0f : 1.0f;
    pair table, bucket, mask, bias;
    CHECK_OK(lavr_ctx_upload(cpu, &th, "table", &table.c));
    CHECK_OK(lavr_ctx_upload(gpu, &th, "table", &table.g));
    CHECK_OK(lavr_ctx_upload(cpu, &bh, "bucket", &bucket.c));
    CHECK_OK(lavr_ctx_upload(gpu, &bh, "bucket", &bucket.g));
    CHECK_OK(lavr_ctx_upload(cpu, &mh, "mask", &mask.c));
    CHECK_OK(lavr_ctx_upload(gpu, &mh, "mask", &mask.g));
    CHECK_OK(lavr_ctx_alloc_f32(cpu, 3, (int64_t[]){H, Lq, Lk}, "bias", &bias.c));
    CHECK_OK(lavr_ctx_alloc_f32(gpu, 3, (int64_t[]){H, Lq, Lk}, "bias", &bias.g));
    CHECK_OK(lavr_rop_position_bias(cpu, &table.c, &bucket.c, &mask.c, &bias.c));
    CHECK_OK(lavr_rop_position_bias(gpu, &table.g, &bucket.g, &mask.g, &bias.g));
    /* the bias is F32 on both: compare its bits through a host copy */
    const int64_t nb = H * Lq * Lk;
    lavr_tensor bt;
    CHECK_OK(lavr_tensor_alloc(a, LAVR_F32, 3, bias.g.shape, "bias back", &bt));
    CHECK_OK(lavr_ctx_download(gpu, &bias.g, &bt));
    CHECK_MSG(!memcmp(bt.data, bias.c.data, (size_t)nb * sizeof(float)), "position bias differs between devices");
    lavr_tensor_free(&bt);
    const float scale = masked ? 1.0f : 1.0f / sqrtf((float)D);
    CHECK_OK(lavr_rop_attention(cpu, &q.c, &k.c, &v.c, H, scale, &bias.c, 1, &o.c));
    CHECK_OK(lavr_rop_attention(gpu, &q.g, &k.g, &v.g, H, scale, &bias.g, 1, &o.g));
    char what[80];
    snprintf(what, sizeof what, "attention H%lld D%lld %lldx%lld%s", (long long)H, (long long)D, (long long)Lq,
             (long long)Lk, masked ? " masked" : "");
    compare(what, &o, ATTN_TOL);
    CHECK_OK(lavr_rop_attention(cpu, &q.c, &k.c, &v.c, H, scale, NULL, 1, &o.c));
    CHECK_OK(lavr_rop_attention(gpu, &q.g, &k.g, &v.g, H, scale, NULL, 1, &o.g));
    compare("  ... without bias", &o, ATTN_TOL);
    if (masked) { /* T5's: the eager rounding points (no scaling) */
        CHECK_OK(lavr_rop_attention_eager(cpu, &q.c, &k.c, &v.c, H, &bias.c, &o.c));
        CHECK_OK(lavr_rop_attention_eager(gpu, &q.g, &k.g, &v.g, H, &bias.g, &o.g));
        compare("  ... eager (umT5's rounding points)", &o, ATTN_TOL);
    }
    free(tv);
    lavr_tensor_free(&th), lavr_tensor_free(&bh), lavr_tensor_free(&mh);
    free_pair(&q), free_pair(&k), free_pair(&v), free_pair(&o);
    free_pair(&table), free_pair(&bucket), free_pair(&mask), free_pair(&bias);
}

static void test_random_weights(void) {
    lavr_linear_weights wc, wg;
    CHECK_OK(lavr_ctx_linear_weights_random(cpu, 37, 96, 1234, &wc));
    CHECK_OK(lavr_ctx_linear_weights_random(gpu, 37, 96, 1234, &wg));
    /* y = x W^T with x the identity rows reads the weight back through the op interface */
    pair x, y = out_pair(96, 37);
    CHECK_OK(lavr_ctx_alloc_rows(cpu, 96, 96, "eye", &x.c));
    CHECK_OK(lavr_ctx_alloc_rows(gpu, 96, 96, "eye", &x.g));
    float *eye = calloc(96 * 96, sizeof *eye);
    for (int i = 0; i < 96; i++) eye[i * 96 + i] = 1;
    CHECK_OK(lavr_rop_upload(cpu, eye, &x.c));
    CHECK_OK(lavr_rop_upload(gpu, eye, &x.g));
    CHECK_OK(lavr_rop_linear(cpu, &x.c, &wc, 1, &y.c));
    CHECK_OK(lavr_rop_linear(gpu, &x.g, &wg, 1, &y.g));
    compare("random weights (W^T through I)", &y, 0);
    free(eye);
    lavr_ctx_linear_weights_free(cpu, &wc);
    lavr_ctx_linear_weights_free(gpu, &wg);
    free_pair(&x), free_pair(&y);
}

int main(void) {
    if (lavr_device_count() == 0) {
        printf("test_row_ops_cuda: no CUDA device, skipped\n");
        return 77;
    }
    const char *s = getenv("LAVR_TEST_SEED");
    seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
    printf("seed %llu (LAVR_TEST_SEED)\n", (unsigned long long)seed);
    lavr_arena *arena = NULL;
    CHECK_OK(lavr_arena_create("test row ops cuda", 0, &arena));
    CHECK_OK(lavr_ctx_create_cpu(arena, &cpu));
    lavr_ctx_cuda_options o = {.device = 0, .mem_cap = (uint64_t)1 << 30, .name = "test rows"};
    CHECK_OK(lavr_ctx_create_cuda(&o, &gpu));
    if (!cpu || !gpu) return check_summary("test_row_ops_cuda");
    test_linear(77, 256, 160);
    test_linear(5, 64, 24);
    test_norms_and_elementwise(9, 4096);
    test_norms_and_elementwise(3, 40);
    test_attention(4, 64, 130, 130, 1); /* T5's shape: tensor-core kernel, masked keys */
    test_attention(2, 128, 70, 33, 0);
    test_attention(3, 40, 17, 29, 1); /* the fp32 kernel */
    test_random_weights();
    lavr_ctx_destroy(gpu);
    lavr_ctx_destroy(cpu);
    lavr_arena_destroy(arena);
    return check_summary("test_row_ops_cuda");
}
