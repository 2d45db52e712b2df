/* Tests of the planner (parallel/plan.h) against numbers computed by hand from the spec
 * (liveavatar-system §4.1-4.3) for s2v-14b at 704x384 and for the tiny model, plus the cap check. */
#include <string.h>

#include "check.h"
#include "core/units.h"
#include "parallel/plan.h"

static lavr_layout L(int steps, int tp, int pp, int aux) { return (lavr_layout){steps, tp, pp, aux}; }

static void test_s2v_default(void) {
    lavr_model_config cfg;
    CHECK_OK(lavr_config_preset("s2v-14b", &cfg));
    lavr_plan_options o = lavr_plan_options_default();
    o.gpus = 5;
    lavr_plan_rank r[5];
    lavr_layout l = L(4, 1, 1, 1);
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, r));
    /* §4.3: window 40 x 2 x [12672 = 12P, 5120] bf16 = 10.38 GB; sink 40 x 2 x [2640 = 2.5P, 5120] = 2.16 GB */
    CHECK(r[0].kv_window == 40ull * 2 * 12672 * 5120 * 2);
    CHECK(r[0].kv_window == 10380902400ull);
    CHECK(r[0].sink == 2162688000ull);
    /* text K/V: 40 layers x 2 x 512 x 5120 fp32 */
    CHECK(r[0].text_kv == 838860800ull);
    /* the whole DiT in bf16: 16,295,755,609 parameters (README, §4.1) */
    CHECK(r[0].weights == 16295755609ull * 2);
    /* activations: 4 B x 3168 rows x (3 x 5120 + 4 x 5120 + 13824) + bf16 operand 3168 x 13824
     * + re-roped sink keys 2640 x 5120 bf16 */
    CHECK(r[0].activations == 4ull * 3168 * (3 * 5120 + 4 * 5120 + 13824) + 2ull * 3168 * 13824 + 2ull * 2640 * 5120);
    CHECK(strcmp(r[0].role, "dit s0 tp0 pp0") == 0 && strcmp(r[4].role, "aux") == 0);
    for (int i = 1; i < 4; i++) CHECK(r[i].total == r[0].total && r[i].gpu == i);
    /* aux with umT5 on the host (default): wav2vec2 315,438,720 fp32 + VAE 126,892,531 fp32 */
    CHECK(r[4].weights == 315438720ull * 4 + 126892531ull * 4);
    /* umT5-XXL on the aux GPU as LiveAvatar runs it: + 5,680,910,336 bf16 */
    {
        lavr_plan_options g = o;
        g.t5_on_host = 0;
        lavr_plan_rank rg[5];
        CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &g, rg));
        CHECK(rg[4].weights == 5680910336ull * 2 + 315438720ull * 4 + 126892531ull * 4);
        CHECK(rg[0].total == r[0].total);
    }
    /* VAE decoder caches, 2 frames fp32 per causal conv input: channel sums 4240 at 48x88, 2496 at
     * 96x176, 1152 at 192x352, 672 at 384x704 (§4.3 quotes ~1.3 GB in bf16) */
    CHECK(r[4].vae_cache == 8ull * (4240ull * 4224 + 2496ull * 16896 + 1152ull * 67584 + 672ull * 270336));
    CHECK(r[4].kv_window == 0 && r[4].block_ms == 0);
    CHECK(r[0].block_ms > 0);

    /* fp8 (§4.2): 15.94 B fp8 + 0.36 B bf16 parameters = 16.65 GB */
    o.fp8 = 1;
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, r));
    CHECK_NEAR((double)r[0].weights / 16.65e9, 1.0, 0.005);
    /* the fp8 model is predicted faster (linear layers at twice the rate) */
    lavr_plan_rank rb[5];
    o.fp8 = 0;
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, rb));
    CHECK(lavr_plan_fps(&cfg, r, 5) > lavr_plan_fps(&cfg, rb, 5));
    /* block time: ~123 TFLOP per block forward (§4.4) at 400 TFLOP/s ~ 300 ms */
    CHECK(rb[0].block_ms > 250 && rb[0].block_ms < 350);
}

static void test_s2v_sharded(void) {
    lavr_model_config cfg;
    CHECK_OK(lavr_config_preset("s2v-14b", &cfg));
    lavr_plan_options o = lavr_plan_options_default();
    o.gpus = 4;
    o.text_kv_bytes = 2;
    /* steps=1, tp=2, pp=2: 4 DiT ranks + aux (sharing GPU 0) */
    lavr_layout l = L(1, 2, 2, 1);
    lavr_plan_rank r[5];
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &l, &o, r));
    /* each rank: 20 layers, half the heads, all 4 step caches */
    CHECK(r[0].kv_window == 4ull * 20 * 2 * 12672 * 2560 * 2);
    CHECK(r[3].sink == 4ull * 20 * 2 * 2640 * 2560 * 2);
    CHECK(r[1].text_kv == 20ull * 2 * 512 * 2560 * 2);
    CHECK(r[4].gpu == 0);
    /* every weight is held somewhere; replicated tensors make the sum larger than the model: at least
     * the second copy of the 12 audio AdaLN linears (5120 -> 10240, replicated over tp), at most that
     * plus ~1.2 GB of embeddings, norms and modulation tables */
    uint64_t sum = 0;
    for (int i = 0; i < 4; i++) sum += r[i].weights;
    const uint64_t adain = 12ull * (5120 * 10240 + 10240) * 2, full = 16295755609ull * 2;
    CHECK(sum >= full + adain && sum < full + adain + 1200000000ull);
    /* the aux rank shares GPU 0, so that GPU is the busiest */
    int at = -1;
    const uint64_t peak = lavr_plan_peak_gpu(r, 5, 4, &at);
    CHECK(at == 0 && peak == r[0].total + r[4].total);
    /* tp and pp communication buffers exist only when used */
    CHECK(r[0].comm > 0);
    lavr_layout single = L(1, 1, 1, 1);
    lavr_plan_rank s[2];
    o.gpus = 1;
    CHECK_OK(lavr_plan_layout(&cfg, 704, 384, &single, &o, s));
    CHECK(s[0].comm == 0);
    /* 4 steps on one rank: 4 times the block time of one step */
    CHECK(s[0].block_ms > 3.9 * 250);
}

static void test_tiny(void) {
    lavr_model_config cfg;
    CHECK_OK(lavr_config_preset("tiny", &cfg));
    lavr_plan_options o = lavr_plan_options_default();
    o.gpus = 5;
    lavr_layout l = L(4, 1, 1, 1);
    lavr_plan_rank r[5];
    CHECK_OK(lavr_plan_layout(&cfg, 128, 128, &l, &o, r));
    /* latent 16x16, P = 64: window 12P = 768 tokens, sink 2.5P = 160; 4 layers, width 256 */
    CHECK(r[0].kv_window == 4ull * 2 * 768 * 256 * 2);
    CHECK(r[0].sink == 4ull * 2 * 160 * 256 * 2);
    CHECK(r[0].text_kv == 4ull * 2 * 32 * 256 * 4);
    /* 7.35 M parameters in all; the DiT share in bf16 is below that */
    CHECK(r[0].weights > 0 && r[0].weights < 2ull * 7350000);
    /* bad sizes and layouts are one-line argument errors */
    CHECK_FAILS(lavr_plan_layout(&cfg, 120, 128, &l, &o, r), LAVR_E_ARG);
    lavr_layout bad = L(1, 3, 1, 1);
    CHECK_FAILS(lavr_plan_layout(&cfg, 128, 128, &bad, &o, r), LAVR_E_ARG);
}

static void test_candidates_and_check(void) {
    lavr_model_config cfg;
    CHECK_OK(lavr_config_preset("s2v-14b", &cfg));
    lavr_layout c[64];
    /* 1 GPU: only steps=1 with the aux rank sharing it */
    CHECK(lavr_plan_candidates(&cfg, 1, c, 64) == 1 && c[0].steps == 1 && c[0].tp == 1 && c[0].pp == 1);
    /* 5 GPUs: 4 DiT ranks + aux, or 5 DiT ranks + aux on GPU 0; every one uses 5 or 6 ranks */
    int n = lavr_plan_candidates(&cfg, 5, c, 64);
    int has_default = 0;
    for (int i = 0; i < n; i++) {
        const int ranks = lavr_layout_ranks(&c[i]);
        CHECK(ranks == 5 || ranks == 6);
        has_default |= c[i].steps == 4 && c[i].tp == 1 && c[i].pp == 1;
    }
    CHECK(n > 3 && has_default);

    lavr_plan_options o = lavr_plan_options_default();
    o.gpus = 5;
    CHECK_OK(lavr_parse_bytes("80GB", &o.gpu_mem));
    lavr_layout l = L(4, 1, 1, 1);
    CHECK_OK(lavr_plan_check(&cfg, 704, 384, &l, &o));
    o.gpus = 4;
    CHECK_OK(lavr_parse_bytes("40GB", &o.gpu_mem));
    CHECK_FAILS(lavr_plan_check(&cfg, 704, 384, &l, &o), LAVR_E_ARG);
    const char *msg = lavr_error_message();
    printf("cap message: %s\n", msg);
    CHECK(strstr(msg, "layout steps=4,tp=1,pp=1,aux=1 needs") != NULL);
    CHECK(strstr(msg, "on rank 0 (dit s0 tp0 pp0) with the ranks sharing its GPU, the cap is 37.25 GiB") != NULL);
    CHECK(strstr(msg, "layouts that fit 4 GPUs: steps=") != NULL);
    /* nothing fits 8 GB */
    CHECK_OK(lavr_parse_bytes("8GB", &o.gpu_mem));
    CHECK_FAILS(lavr_plan_check(&cfg, 704, 384, &l, &o), LAVR_E_ARG);
    CHECK(strstr(lavr_error_message(), "no layout with 4 GPUs fits (try --fp8)") != NULL);
}

int main(void) {
    test_s2v_default();
    test_s2v_sharded();
    test_tiny();
    test_candidates_and_check();
    return check_summary("test_plan");
}
