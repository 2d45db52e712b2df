/* Tests of the planner (parallel/plan.h): the DiT arena against bytes counted by hand from the model's shapes and
 * against the arena peaks `lavr bench` measured on an H200, the step time against the measured per-op times, the
 * aux rank's VAE buffers against the decoder's channel sums, the 4 x 22 GiB layout, the arena shares, the cap
 * message and the pp hand-off's NCCL buffers. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "core/units.h"
#include "parallel/plan.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

static lavr_layout L(int steps, int tp, int pp, int aux) { return (lavr_layout){.steps = steps, .tp = tp, .pp = pp, .aux = aux}; }
static uint64_t al(uint64_t n) { return (n + 255) / 256 * 256; }

static lavr_model_config s2v(void) {
    lavr_model_config cfg;
    CHECK_OK(lavr_config_preset("s2v-14b", &cfg));
    return cfg;
}

/* The device model's weights of a tp=1 rank holding every layer, counted from the shapes: Linears bf16 [out, in]
 * with bf16 biases (FP8: e4m3 weights and one 256-byte scale slot per part), norms, modulation and the head fp32. */
static uint64_t hand_weights(int fp8) {
    const uint64_t d = 5120, ff = 13824, w = fp8 ? 1 : 2, sc = fp8 ? 256 : 0;
    /* per layer: q|k|v (3 parts), cross q, k, v, self o, cross o, ffn0, ffn2; q/k norms, norm3 w and b */
    const uint64_t layer = (8 * d * d + 2 * d * ff) * w + (9 * d + ff) * 2 + (3 + 7) * sc + (4 * d + 2 * d) * 4;
    /* per injector: q, k|v (2 parts), o, AdaLN [2d, d]; two norms */
    const uint64_t inject = 6 * d * d * w + 6 * d * 2 + (1 + 2 + 1 + 1) * sc + 2 * d * 4;
    /* patch [d, 64], FramePack [d, 64], [d, 512], [d, 4096], text [d, 4096] and [d, d] in bf16; pose bias, type
     * embedding; head [64, d] fp32, its bias and modulation; 40 modulation tables [6, d] */
    const uint64_t rest = (d * 64 + d) * 2 + (d * (64 + 512 + 4096) + 3 * d) * 2 + 4 * d + 3 * d * 4 +
                          (d * 4096 + d) * 2 + (d * d + d) * 2 + (64 * d + 64 + 2 * d) * 4 + 40 * 6 * d * 4;
    return 40 * layer + 12 * inject + rest;
}

/* The render's first pp index also holds the causal audio encoder (models/dit_audio_cuda.c): conv1_local [5120,
 * 1024, 3], conv1_global [1280, 1024, 3], conv2 [2560, 1280, 3], conv3 [5120, 2560, 3] and final_linear [5120,
 * 5120] in bf16, their biases, the padding token and the 25 layer weights in fp32. */
static uint64_t hand_audio_weights(void) {
    const uint64_t w = 5120ull * 1024 * 3 + 1280ull * 1024 * 3 + 2560ull * 1280 * 3 + 5120ull * 2560 * 3 + 5120ull * 5120;
    return w * 2 + (5120 + 1280 + 2560 + 5120 + 5120) * 4 + 5120 * 4 + al(25 * 4);
}

static void test_dit_bytes(void) {
    lavr_model_config cfg = s2v();
    lavr_plan_options o = lavr_plan_options_default();
    o.gpus = 1;
    lavr_layout l = L(1, 1, 1, 1);
    lavr_plan_rank r[2];
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, r));
    /* 704x384: latent 88x48, P = 1056 tokens a frame, block 3168, window 12672, sink 2640 */
    CHECK(r[0].weights == hand_weights(0) + hand_audio_weights());
    /* 4 step caches: window K and V [40][12672][5120] bf16 and the sink positions [2640][3] int64 */
    CHECK(r[0].kv_window == 4 * (2 * 40ull * 12672 * 5120 * 2 + al(2640 * 3 * 8)));
    /* one sink per rank, K and V [40][2640][5120] bf16 (not one per step cache: 4 x as much) */
    CHECK(r[0].sink == 2 * 40ull * 2640 * 5120 * 2);
    CHECK(r[0].text_kv == 2 * 40ull * 512 * 5120 * 2);
    CHECK(strcmp(r[0].role, "dit s0 tp0 pp0") == 0 && strcmp(r[1].role, "aux") == 0);
    CHECK(r[0].gpu == 0 && r[1].gpu == 0);
    /* the arena: everything above plus the working buffers, the activation, the latent, the velocity and the audio
     * encoder's buffers */
    CHECK(r[0].arena == r[0].weights + r[0].kv_window + r[0].sink + r[0].text_kv + r[0].work);
    CHECK(r[0].work > 300ull << 20 && r[0].work < 700ull << 20);
    /* outside: the CUDA context, cuBLASLt, cuDNN and one graph per step cache; no NCCL without tp */
    CHECK(r[0].context == LAVR_PLAN_CUDA_CONTEXT && r[0].nccl == 0 && r[0].graphs == 4 * (8ull << 20));
    CHECK(r[0].total == r[0].arena + r[0].context + r[0].blas + r[0].cudnn + r[0].graphs);

    /* contiguous sink (bench --sink contiguous): each cache's rows are [window ‖ sink], the rank keeps the keys */
    lavr_plan_rank c[2];
    o.sink_contiguous = 1;
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, c));
    CHECK(c[0].sink == 40ull * 2640 * 5120 * 2);
    CHECK(c[0].kv_window == 4 * (2 * 40ull * (12672 + 2640) * 5120 * 2 + al(2640 * 3 * 8)));
    o.sink_contiguous = 0;

    /* FP8: e4m3 Linears with their scales; the operand buffer [3168, 13824] e4m3 and 3 scalars more work */
    lavr_plan_rank f[2];
    o.fp8 = 1;
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, f));
    CHECK(f[0].weights == hand_weights(1) + hand_audio_weights());
    CHECK(f[0].work == r[0].work + al(3168ull * 13824) + 3 * 256);
    CHECK(f[0].kv_window == r[0].kv_window && f[0].sink == r[0].sink && f[0].text_kv == r[0].text_kv);
}

/* Against the device: `lavr bench ... --layout steps=1,tp=1,pp=1,aux=0 --blocks 8` on one H200 at commit bdd5f93
 * (BENCHMARKS.md) reported weights 29.79 / 14.95 GiB and arena peaks 71.37 / 56.57 GiB (bf16 / FP8). That bench
 * made the text K/V after the caches (25 MB of temporaries on top); it now does it before them, as the render.
 * Since then the FramePack weights (45.7 MiB, bf16 in both) and the sink's latents (5.2 MiB) live on the device
 * too: 29.84 / 14.99 GiB of weights. */
static void test_measured_memory(void) {
    lavr_model_config cfg = s2v();
    lavr_plan_options o = lavr_plan_options_default();
    o.bench = 1;
    lavr_layout l = L(1, 1, 1, 0);
    l.aux = 1; /* bench mode plans no aux */
    lavr_plan_rank r[2];
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, r));
    CHECK(r[1].gpu == -1 && r[1].total == 0);
    printf("bench steps=1 bf16: weights %.2f GiB, arena %.3f GiB (measured 71.37), outside %.3f GiB\n",
           r[0].weights / GIB, r[0].arena / GIB, r[0].outside / GIB);
    CHECK_NEAR(r[0].weights / GIB, 29.79 + 0.0446, 0.01);
    CHECK_NEAR(r[0].arena / GIB / 71.37, 1.0, 0.002);
    o.fp8 = 1;
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, r));
    printf("bench steps=1 FP8: weights %.2f GiB, arena %.3f GiB (measured 56.57)\n", r[0].weights / GIB,
           r[0].arena / GIB);
    CHECK_NEAR(r[0].weights / GIB, 14.95 + 0.0446, 0.01);
    CHECK_NEAR(r[0].arena / GIB / 56.57, 1.0, 0.002);
}

/* The step time from the rates against the measured ms per block-step (same bench, --profile for the split). */
static void test_measured_speed(void) {
    lavr_model_config cfg = s2v();
    lavr_plan_options o = lavr_plan_options_default();
    o.bench = 1;
    lavr_layout l = L(1, 1, 1, 1);
    lavr_role role;
    CHECK_OK(lavr_layout_role(&l, 40, 0, &role));
    lavr_plan_step s;
    CHECK_OK(lavr_plan_dit_step(&cfg, 704, 384, &l, &role, &o, &s));
    printf("bf16 step: self-attn %.2f text %.2f audio %.2f GEMM %.2f norm %.2f total %.2f ms (measured 74.94 3.20 "
           "0.48 113.83 16.17, 208.7)\n", s.self_attn, s.text_attn, s.audio_attn, s.gemm, s.norm, s.total);
    CHECK_NEAR(s.total / 208.7, 1.0, 0.05);
    CHECK_NEAR(s.self_attn / 74.94, 1.0, 0.05);
    CHECK_NEAR(s.gemm / 113.83, 1.0, 0.05);
    CHECK_NEAR(s.norm / 16.17, 1.0, 0.05);
    CHECK(s.comm == 0 && s.host == 0 && s.fp8_quant == 0);
    /* the attention count: 40 layers x 4 x 3168 queries x 15312 keys x 5120 */
    CHECK_NEAR(s.self_attn * 1e-3 * lavr_plan_rates_h200.attn_flops / (40.0 * 4 * 3168 * 15312 * 5120), 1.0, 1e-9);
    o.fp8 = 1;
    CHECK_OK(lavr_plan_dit_step(&cfg, 704, 384, &l, &role, &o, &s));
    printf("FP8 step: GEMM %.2f quant %.2f total %.2f ms (measured 159.5)\n", s.gemm, s.fp8_quant, s.total);
    CHECK_NEAR(s.total / 159.5, 1.0, 0.05);
    CHECK_NEAR(s.self_attn / 74.9, 1.0, 0.05);
    CHECK(s.gemm > 113.83 / 2.6 && s.gemm < 113.83 / 1.7); /* FP8 GEMMs 1.7-2.6x the bf16 rate */
    /* tp = 4: a quarter of the attention and split GEMMs, the norms on full rows, all-reduces */
    lavr_layout t = L(1, 4, 1, 1);
    CHECK_OK(lavr_layout_role(&t, 40, 0, &role));
    lavr_plan_step q;
    o.fp8 = 0;
    CHECK_OK(lavr_plan_dit_step(&cfg, 704, 384, &t, &role, &o, &q));
    CHECK_NEAR(q.self_attn * 4 / 74.94, 1.0, 0.05);
    CHECK(q.norm > s.norm / 4 && q.comm > 0);
    /* the render moves the activation through the host (embedding on the host, MPI between pp ranks) */
    o.bench = 0;
    lavr_plan_step h;
    CHECK_OK(lavr_plan_dit_step(&cfg, 704, 384, &t, &role, &o, &h));
    CHECK(h.host > 0 && h.total > q.total);
}

static void test_sharded(void) {
    lavr_model_config cfg = s2v();
    lavr_plan_options o = lavr_plan_options_default();
    o.gpus = 4;
    /* steps=1, tp=4: 4 DiT ranks, the aux beside the rank that finishes blocks (tp 0 of the last stage) */
    lavr_layout l = L(1, 4, 1, 1);
    lavr_plan_rank r[5];
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, r));
    CHECK(r[4].gpu == 0);
    for (int i = 0; i < 4; i++) {
        CHECK(r[i].gpu == i && r[i].arena == r[0].arena);
        CHECK(r[i].kv_window == 4 * (2 * 40ull * 12672 * 1280 * 2 + al(2640 * 3 * 8)));
        CHECK(r[i].sink == 2 * 40ull * 2640 * 1280 * 2);
        /* NCCL ring: 32 channels x 2 neighbours x (4 MiB + LL128 + LL) */
        CHECK(r[i].nccl == 32ull * 2 * ((4ull << 20) + 4915200 + 524288));
    }
    /* every rank holds the replicated tensors: the 12 AdaLN linears [2d, d], the text MLP, norms */
    const uint64_t adain = 12ull * 2 * 5120 * 5120 * 2;
    CHECK(4 * r[0].weights > hand_weights(0) + 3 * adain);
    int at = -1;
    CHECK(lavr_plan_peak_gpu(r, 5, 4, &at) == r[0].total + r[4].total && at == 0);
    /* pp=2: 20 layers each, the patch embedding on pp 0, the head on pp 1; 5 and 7 injectors */
    lavr_layout p = L(1, 1, 2, 1);
    lavr_plan_rank q[3];
    o.gpus = 2;
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &p, &o, q));
    CHECK(q[0].kv_window == 4 * (2 * 20ull * 12672 * 5120 * 2 + al(2640 * 3 * 8)));
    /* pp 1 holds the text MLP too; pp 0 the audio encoder */
    const uint64_t both = q[0].weights + q[1].weights, whole = hand_weights(0) + hand_audio_weights();
    CHECK(both > whole && both < whole + (100ull << 20));
    /* the stage's block runs every step through both pp ranks */
    CHECK_NEAR(q[0].block_ms, 4 * (q[0].step_ms + q[1].step_ms), 1e-9);
    CHECK(q[2].gpu == 1); /* no free GPU: the aux joins the finisher, the last pp index */
    /* a free GPU takes the aux: steps=1,pp=3 on 4 GPUs; --aux-gpu puts it elsewhere */
    lavr_layout f = L(1, 1, 3, 1);
    lavr_plan_rank fr[4];
    o.gpus = 4;
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &f, &o, fr));
    CHECK(fr[3].gpu == 3);
    o.aux_gpu = 1;
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &f, &o, fr));
    CHECK(fr[3].gpu == 1 && lavr_plan_gpu_bytes(fr, 4, 1) == fr[1].total + fr[3].total);
    o.aux_gpu = 4;
    CHECK_FAILS(lavr_plan_layout(&cfg, 704, 384, &f, &o, fr), LAVR_E_ARG);
    o.aux_gpu = -1;
    /* steps=4 stages run concurrently: one step each */
    lavr_layout s4 = L(4, 1, 1, 1);
    lavr_plan_rank s[5];
    o.gpus = 4;
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &s4, &o, s));
    CHECK_NEAR(s[0].block_ms, s[0].step_ms, 1e-9);
    CHECK(s[0].kv_window == 2 * 40ull * 12672 * 5120 * 2 + al(2640 * 3 * 8));
}

/* The aux rank on its GPU: VAE filters bf16 (channels padded to 8, fp32 biases), the decoder's causal caches (2
 * frames of every 3-tap conv input: channel sums 4240 at 48x88, 2496 at 96x176, 1152 at 192x352, 672 at 384x704)
 * and a block's decode: at 384x704 the second conv of a residual block holds the block's input x, the first conv's
 * output and the 14-frame conv input its norm wrote (96 channels, 12 frames), plus the latents conv2 made
 * (16 x 3 x 48 x 88), all bf16. */
static void test_aux(void) {
    lavr_model_config cfg = s2v();
    lavr_plan_options o = lavr_plan_options_default();
    o.gpus = 2;
    o.t5_on_gpu = 0;
    lavr_layout l = L(1, 1, 1, 1);
    lavr_plan_rank r[2];
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, r));
    const lavr_plan_rank *a = &r[1];
    CHECK(a->gpu == 1);
    CHECK(a->weights > 126892531ull * 2 && a->weights < 126892531ull * 2 * 101 / 100);
    CHECK(a->vae_cache == 2ull * 2 * (4240ull * 4224 + 2496ull * 16896 + 1152ull * 67584 + 672ull * 270336));
    const uint64_t t = 96ull * 12 * 270336 * 2;
    CHECK(a->vae_act == 2 * t + 96ull * 14 * 270336 * 2 + 16ull * 3 * 4224 * 2);
    printf("aux: VAE %.2f GiB, decoder caches %.2f GiB, decode peak %.2f GiB, setup %.2f GiB, total %.2f GiB\n",
           a->weights / GIB, a->vae_cache / GIB, a->vae_act / GIB, a->setup / GIB, a->total / GIB);
    CHECK(a->arena == a->weights + (a->setup > a->vae_cache + a->vae_act ? a->setup : a->vae_cache + a->vae_act));
    CHECK(a->busy_ms > 0 && a->block_ms == a->busy_ms);
    /* umT5-XXL in the setup, in a context of its own freed after it: its 5,680,910,336 bf16 parameters but the token
     * embedding (256384 x 4096, kept on the host), 512 tokens of work and its context's 34 MiB cuBLASLt workspace;
     * LAVR_PLAN_T5_AUTO puts it there when the aux has its GPU alone, on the host when it shares one */
    lavr_plan_rank g[2];
    o.t5_on_gpu = 1;
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, g));
    const uint64_t t5_params = 5680910336ull - 256384ull * 4096;
    const uint64_t t5_bytes = g[1].t5;
    CHECK_MSG(t5_bytes > t5_params * 2 + (34ull << 20) && t5_bytes < t5_params * 2 + (34ull << 20) + (200ull << 20),
              "umT5 on the aux GPU adds %llu bytes", (unsigned long long)t5_bytes);
    /* its context is reserved beside the aux's arena: the arena is unchanged, the total grows by all of it */
    CHECK(g[1].setup == a->setup && g[1].arena == a->arena && g[1].total == a->total + t5_bytes && a->t5 == 0);
    CHECK(g[0].total == r[0].total);
    o.t5_on_gpu = LAVR_PLAN_T5_AUTO;
    lavr_plan_rank h[2];
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, h));
    CHECK(h[1].t5 == g[1].t5);
    o.gpus = 1; /* the aux beside the DiT rank */
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, h));
    CHECK(h[1].gpu == 0 && h[1].t5 == 0);
    o.gpus = 2;
    /* on the host: no GPU bytes */
    o.t5_on_gpu = 0;
    o.aux_on_gpu = 0;
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, g));
    CHECK(g[1].gpu == -1 && g[1].total == 0);
}

static void test_fps(void) {
    lavr_model_config cfg = s2v();
    lavr_plan_options o = lavr_plan_options_default();
    o.gpus = 1;
    lavr_layout l = L(1, 1, 1, 1);
    lavr_plan_rank r[2];
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, r));
    /* one GPU: the 4 steps and the aux's decode share it; 12 frames a block */
    CHECK_NEAR(lavr_plan_fps(&cfg, r, 2), 12.0 / ((r[0].busy_ms + r[1].busy_ms) * 1e-3), 1e-9);
    o.gpus = 2; /* the aux on its own GPU: the DiT alone sets the pace */
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, r));
    CHECK_NEAR(lavr_plan_fps(&cfg, r, 2), 12.0 / (4 * r[0].step_ms * 1e-3), 1e-9);
    const double bf16 = lavr_plan_fps(&cfg, r, 2);
    o.fp8 = 1;
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, r));
    CHECK(lavr_plan_fps(&cfg, r, 2) > bf16 * 1.2);
}

/* issue 18: 4 GPUs capped at 22 GiB hold a full render layout, the aux rank included */
static void test_four_by_22(void) {
    lavr_model_config cfg = s2v();
    lavr_plan_options o = lavr_plan_options_default();
    o.gpus = 4;
    CHECK_OK(lavr_parse_bytes("22GiB", &o.gpu_mem));
    lavr_plan_choice c[64];
    const int n = lavr_plan_choices(&cfg, 704, 384, &o, 0, 0, c, 64);
    CHECK(n > 4 && c[0].fits);
    int fit = 0;
    for (int i = 0; i < n; i++) {
        fit += c[i].fits;
        if (i && c[i].fits) CHECK(c[i - 1].fits && c[i - 1].fps >= c[i].fps); /* fitting ones first, fastest first */
    }
    printf("4 x 22 GiB: %d of %d choices fit; the fastest: steps=%d,tp=%d,pp=%d%s, %.2f GiB, %.1f FPS\n", fit, n,
           c[0].layout.steps, c[0].layout.tp, c[0].layout.pp, c[0].fp8 ? " --fp8" : "", c[0].peak / GIB, c[0].fps);
    /* the best one, checked rank by rank: every GPU under the cap, the aux on a GPU */
    lavr_plan_options f = o;
    f.fp8 = c[0].fp8;
    const int m = lavr_layout_ranks(&c[0].layout);
    lavr_plan_rank r[16];
    CHECK(m <= 16);
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &c[0].layout, &f, r));
    CHECK(r[m - 1].gpu >= 0 && r[m - 1].vae_cache > 0);
    for (int g = 0; g < 4; g++) CHECK(lavr_plan_gpu_bytes(r, m, g) <= o.gpu_mem);
    CHECK_OK(lavr_plan_check(&cfg, 704, 384, &c[0].layout, &f));
    /* the arena shares: each at least the rank's arena, the GPU's shares and outside bytes within the cap */
    for (int g = 0; g < 4; g++) {
        uint64_t sum = 0;
        for (int i = 0; i < m; i++)
            if (r[i].gpu == g) {
                const uint64_t cap = lavr_plan_arena_cap(r, m, i, o.gpu_mem);
                CHECK(cap >= r[i].arena);
                sum += cap + r[i].outside;
            }
        CHECK(sum <= o.gpu_mem && sum + 16 > o.gpu_mem);
    }
    CHECK(lavr_plan_arena_cap(r, m, 0, 0) == 0);
    /* the fastest moves layers off the GPU the aux shares (issue 18's 25 FPS), and its even split is over the cap */
    char text[96];
    lavr_layout_format(&c[0].layout, text, sizeof text);
    CHECK_MSG(!strcmp(text, "steps=2,tp=1,pp=2,aux=1,layers=22+18") && c[0].fp8 && c[0].fps >= 25, "fastest: %s",
              text);
    lavr_layout even = c[0].layout;
    memset(even.layers, 0, sizeof even.layers);
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &even, &f, r));
    CHECK(lavr_plan_peak_gpu(r, m, 4, NULL) > o.gpu_mem && lavr_plan_peak_gpu(r, m, 4, NULL) > c[0].peak);
    CHECK_FAILS(lavr_plan_check(&cfg, 704, 384, &even, &f), LAVR_E_ARG);
    /* bf16: only layouts with a split fit 4 x 22 GiB with the aux on a GPU */
    const int nb = lavr_plan_choices(&cfg, 704, 384, &o, 0, 1, c, 64);
    CHECK(nb > 0 && c[0].fits);
    for (int i = 0; i < nb; i++)
        if (c[i].fits) CHECK(lavr_layout_has_split(&c[i].layout) && !c[i].fp8);
}

/* The planner's layer split: an explicit split changes the ranks' layers and bytes, a rebalanced layout keeps
 * every layer on exactly one pp index, and a split is only proposed for a layout over the cap. */
static void test_split(void) {
    lavr_model_config cfg = s2v();
    lavr_plan_options o = lavr_plan_options_default();
    o.gpus = 4;
    o.fp8 = 1;
    lavr_layout l;
    CHECK_OK(lavr_layout_parse("steps=2,tp=1,pp=2,aux=1,layers=22+18", &l));
    lavr_plan_rank r[8];
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, r));
    /* pp index 0 holds 22 layers: its weights and window K/V are 22/18 of pp index 1's (the last pp index also
     * holds the head, so compare the window caches, which are per layer) */
    CHECK(fabs((double)r[0].kv_window / (double)r[1].kv_window - 22.0 / 18.0) < 1e-3 && r[0].weights > r[1].weights);
    CHECK_OK(lavr_parse_bytes("22GiB", &o.gpu_mem));
    CHECK_OK(lavr_plan_check(&cfg, 704, 384, &l, &o));
    CHECK_OK(lavr_layout_parse("steps=2,tp=1,pp=2,aux=1,layers=39+1", &l));
    CHECK_FAILS(lavr_plan_check(&cfg, 704, 384, &l, &o), LAVR_E_ARG);
    /* no cap: no choice carries a split */
    o.gpu_mem = 0;
    lavr_plan_choice c[64];
    const int n = lavr_plan_choices(&cfg, 704, 384, &o, 0, 0, c, 64);
    for (int i = 0; i < n; i++) CHECK(!lavr_layout_has_split(&c[i].layout));
}

static void test_check_message(void) {
    lavr_model_config cfg = s2v();
    lavr_plan_options o = lavr_plan_options_default();
    o.gpus = 4;
    CHECK_OK(lavr_parse_bytes("22GiB", &o.gpu_mem));
    lavr_layout l = L(4, 1, 1, 1);
    o.fp8 = 1;
    CHECK_FAILS(lavr_plan_check(&cfg, 704, 384, &l, &o), LAVR_E_ARG);
    const char *msg = lavr_error_message();
    printf("cap message: %s\n", msg);
    CHECK(strstr(msg, "layout steps=4,tp=1,pp=1,aux=1 needs ") != NULL);
    CHECK(strstr(msg, "GiB on GPU 3 (rank 3, dit s3 tp0 pp0, with the ranks sharing it), the cap is 22.00 GiB") != NULL);
    CHECK(strstr(msg, "layouts that fit 4 GPUs: steps=") != NULL);
    /* in bf16 what fits has its layers moved off the aux's GPU */
    o.fp8 = 0;
    CHECK_FAILS(lavr_plan_check(&cfg, 704, 384, &l, &o), LAVR_E_ARG);
    CHECK(strstr(lavr_error_message(), "layouts that fit 4 GPUs: steps=1,tp=2,pp=2,aux=1,layers=22+18") != NULL);
    /* 20 GiB: in bf16 nothing fits (the ranks' bytes cannot be spread thinner), the hint is FP8 */
    CHECK_OK(lavr_parse_bytes("20GiB", &o.gpu_mem));
    CHECK_FAILS(lavr_plan_check(&cfg, 704, 384, &l, &o), LAVR_E_ARG);
    CHECK(strstr(lavr_error_message(), "in bf16 no layout with 4 GPUs fits, with --fp8: steps=") != NULL);
    /* nothing fits 8 GiB */
    CHECK_OK(lavr_parse_bytes("8GiB", &o.gpu_mem));
    CHECK_FAILS(lavr_plan_check(&cfg, 704, 384, &l, &o), LAVR_E_ARG);
    CHECK(strstr(lavr_error_message(), "no layout with 4 GPUs fits, even with --fp8") != NULL);
    /* 80 GB cards hold LiveAvatar's layout in bf16 */
    CHECK_OK(lavr_parse_bytes("76GiB", &o.gpu_mem));
    CHECK_OK(lavr_plan_check(&cfg, 704, 384, &l, &o));
}

static void test_candidates_and_tiny(void) {
    lavr_model_config cfg = s2v();
    lavr_layout c[64];
    /* 1 GPU: only steps=1 with the aux rank sharing it */
    CHECK(lavr_plan_candidates(&cfg, 1, c, 64) == 1 && c[0].steps == 1 && c[0].tp == 1 && c[0].pp == 1);
    const int n = lavr_plan_candidates(&cfg, 5, c, 64);
    int has_default = 0;
    for (int i = 0; i < n; i++) {
        const int ranks = lavr_layout_ranks(&c[i]);
        CHECK(ranks >= 2 && ranks <= 6); /* at most one DiT rank per GPU, and the aux */
        has_default |= c[i].steps == 4 && c[i].tp == 1 && c[i].pp == 1;
    }
    CHECK(n > 3 && has_default);

    lavr_model_config tiny;
    CHECK_OK(lavr_config_preset("tiny", &tiny));
    lavr_plan_options o = lavr_plan_options_default();
    o.gpus = 5;
    lavr_layout l = L(4, 1, 1, 1);
    lavr_plan_rank r[5];
    CHECK_OK(lavr_plan_layout(&tiny, 128, 128, &l, &o, r));
    /* latent 16x16, P = 64: window 12P = 768 tokens, sink 2.5P = 160; 4 layers, width 256 */
    CHECK(r[0].kv_window == 2 * 4ull * 768 * 256 * 2 + al(160 * 3 * 8));
    CHECK(r[0].sink == 2 * 4ull * 160 * 256 * 2);
    CHECK(r[0].text_kv == 2 * 4ull * 32 * 256 * 2);
    CHECK(r[4].gpu == 4);
    /* bad sizes and layouts are one-line argument errors */
    CHECK_FAILS(lavr_plan_layout(&tiny, 120, 128, &l, &o, r), LAVR_E_ARG);
    lavr_layout bad = L(1, 3, 1, 1);
    CHECK_FAILS(lavr_plan_layout(&tiny, 128, 128, &bad, &o, r), LAVR_E_ARG);
}

/* The render's pp hand-off over NCCL: a point-to-point connection (8 MiB) per pp neighbour when the chain's ranks are
 * on distinct GPUs; nothing when they share one, with pp_nccl off (LAVR_P2P=mpi, no NCCL) or pp = 1. */
static void test_pp_nccl(void) {
    lavr_model_config cfg = s2v();
    lavr_plan_options o = lavr_plan_options_default();
    o.gpus = 4;
    o.pp_nccl = 1;
    const lavr_layout l = L(1, 1, 3, 1); /* pp 0, 1, 2 on GPUs 0, 1, 2; the aux on GPU 3 */
    lavr_plan_rank on[4], off[4];
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, on));
    o.pp_nccl = 0;
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, off));
    const uint64_t conn = (uint64_t)8 << 20;
    for (int i = 0; i < 3; i++) {
        const uint64_t want = (uint64_t)(i == 1 ? 2 : 1) * conn;
        CHECK(on[i].nccl == off[i].nccl + want);
        CHECK(on[i].outside == off[i].outside + want && on[i].total == off[i].total + want);
        CHECK(on[i].arena == off[i].arena);
    }
    CHECK(on[3].nccl == 0 && on[3].total == off[3].total);
    /* one GPU: the chain shares it, host MPI, no NCCL */
    o.gpus = 1;
    o.pp_nccl = 1;
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, on));
    for (int i = 0; i < 3; i++) CHECK(on[i].nccl == 0);
    /* two stages of pp 2 on 4 GPUs: each rank has one neighbour */
    o.gpus = 4;
    const lavr_layout two = L(2, 1, 2, 1);
    lavr_plan_rank r[5];
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &two, &o, r));
    for (int i = 0; i < 4; i++) CHECK(r[i].nccl == conn);
    /* bench mode plans its own (stage) NCCL, not the render's pp hand-off */
    o.bench = 1;
    const lavr_layout bl = L(1, 1, 2, 0);
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &bl, &o, r));
    CHECK(r[0].nccl == 0 && r[1].nccl == 0);
}

int main(void) {
    test_dit_bytes();
    test_measured_memory();
    test_measured_speed();
    test_sharded();
    test_aux();
    test_fps();
    test_four_by_22();
    test_split();
    test_check_message();
    test_candidates_and_tiny();
    test_pp_nccl();
    return check_summary("test_plan");
}
