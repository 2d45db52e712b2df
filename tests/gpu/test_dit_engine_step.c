/* The head + Euler step of the DiT engines (lavr_dit_engine_head_step) on the tiny model: on the CUDA engine the
 * latent stays on the device, and its step must equal lavr_sampler_step on the velocity the engine's head gives,
 * bit for bit; a block embedded from the device-resident latent gives the same velocity as one embedded from that
 * latent uploaded again. The CPU engine's head_step is its head + lavr_sampler_step, bit for bit. Exits 77 without
 * a CUDA device. */
#include "engine_compare.h"
#include "parallel/device.h"
#include "tiny_model.h"

#define GPU_MEM ((uint64_t)1 << 30)
#define BLOCKS 3

static const int64_t WHOLE[2] = {0, 4};

/* One block through e: put x, embed the engine's latent, layers, head -> v; the head again with the Euler step on
 * the engine's latent, get -> x_next; expected: lavr_sampler_step(x, v). Returns the values that differ. */
static int64_t step_once(lavr_dit_engine *e, int cache, lavr_dit_block_input in, const lavr_sampler *smp, int step,
                         float *v, float *x_next, float *expect, int64_t NB) {
    CHECK_OK(lavr_dit_engine_latent_put(e, in.x));
    memcpy(expect, in.x, (size_t)NB * 4);
    in.x = NULL;
    CHECK_OK(lavr_dit_engine_embed_block(e, cache, &in));
    CHECK_OK(lavr_dit_engine_forward(e, cache));
    CHECK_OK(lavr_dit_engine_head(e, cache, v));
    CHECK_OK(lavr_sampler_step(smp, step, expect, v, NB));
    for (int64_t i = 0; i < NB; i++) x_next[i] = NAN;
    CHECK_OK(lavr_dit_engine_head_step(e, cache, smp, step));
    CHECK_OK(lavr_dit_engine_latent_get(e, x_next));
    int64_t differ = 0;
    for (int64_t i = 0; i < NB; i++) differ += memcmp(&x_next[i], &expect[i], 4) != 0;
    return differ;
}

int main(void) {
    if (lavr_device_count() < 1) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    const char *tmp = getenv("LAVR_TEST_TMP");
    char model[512];
    snprintf(model, sizeof model, "%s/gpu_engine_step_tiny.h5", tmp ? tmp : "/tmp");
    lavr_model_config mc;
    CHECK_OK(tiny_model_write(model, 9, 1, 0, &mc));
    const lavr_dit_config *cfg = &mc.dit;
    const int64_t C = cfg->in_dim, NB = C * cfg->frames_per_block * EC_LAT * EC_LAT;
    float *ctx = ec_randn(1, EC_CTX_ROWS * cfg->text_dim), *ref = ec_randn(2, C * EC_LAT * EC_LAT);
    float *motion = ec_randn(3, C * 19 * EC_LAT * EC_LAT);
    ec_chain cpu, gpu;
    ec_open(&cpu, 1, WHOLE, LAVR_BACKEND_CPU, model, ctx, MPI_COMM_NULL, -1, 0);
    ec_open(&gpu, 1, WHOLE, LAVR_BACKEND_CUDA, model, ctx, MPI_COMM_NULL, 0, GPU_MEM);
    ec_prefill(&cpu, ref, motion);
    ec_prefill(&gpu, ref, motion);
    lavr_sampler smp;
    CHECK_OK(lavr_sampler_init(4, &smp));
    float *v = malloc((size_t)NB * 4), *x_next = malloc((size_t)NB * 4), *expect = malloc((size_t)NB * 4);
    float *v_res = malloc((size_t)NB * 4), *v_up = malloc((size_t)NB * 4);
    int64_t differ_gpu = 0, differ_cpu = 0, differ_res = 0;
    for (int n = 0; n < BLOCKS; n++)
        for (int s = 0; s < EC_CACHES; s++) {
            float *x, *audio;
            lavr_dit_block_input in = ec_input(cfg, n, s, &x, &audio);
            differ_gpu += step_once(gpu.e[0], s, in, &smp, s, v, x_next, expect, NB);
            differ_cpu += step_once(cpu.e[0], s, in, &smp, s, v, x_next, expect, NB);
            /* the next step from the stepped latent: resident on the device, or uploaded again from the host copy */
            CHECK_OK(lavr_dit_engine_head_step(gpu.e[0], s, &smp, s));
            CHECK_OK(lavr_dit_engine_latent_get(gpu.e[0], x_next));
            lavr_dit_block_input next = in;
            next.x = NULL;
            CHECK_OK(lavr_dit_engine_embed_block(gpu.e[0], s, &next));
            CHECK_OK(lavr_dit_engine_forward(gpu.e[0], s));
            CHECK_OK(lavr_dit_engine_head(gpu.e[0], s, v_res));
            next.x = x_next;
            CHECK_OK(lavr_dit_engine_embed_block(gpu.e[0], s, &next));
            CHECK_OK(lavr_dit_engine_forward(gpu.e[0], s));
            CHECK_OK(lavr_dit_engine_head(gpu.e[0], s, v_up));
            for (int64_t i = 0; i < NB; i++) differ_res += memcmp(&v_res[i], &v_up[i], 4) != 0;
            free(x), free(audio);
        }
    printf("Euler step after the head, %d blocks x %d steps of %lld values: cuda engine vs lavr_sampler_step %lld "
           "differ, cpu engine %lld differ; device-resident vs uploaded latent: %lld velocity values differ\n",
           BLOCKS, EC_CACHES, (long long)NB, (long long)differ_gpu, (long long)differ_cpu, (long long)differ_res);
    CHECK(differ_gpu == 0 && differ_cpu == 0 && differ_res == 0);
    ec_close(&cpu);
    ec_close(&gpu);
    free(ctx), free(ref), free(motion), free(v), free(x_next), free(expect), free(v_res), free(v_up);
    remove(model);
    return check_summary("test_dit_engine_step");
}
