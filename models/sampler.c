/* LiveAvatar's sampler: the double-shifted diffusers sigma schedule (model-spec §6) and the Euler
 * update with bf16 rounding of the product and of the new latent. */
#include "models/sampler.h"

#include "core/dtype.h"

#define TRAIN_STEPS 1000
#define SHIFT 3.0

lavr_status lavr_sampler_init(int steps, lavr_sampler *out) {
    CHECK_ARG(steps >= 1 && steps <= LAVR_SAMPLER_STEPS, "sampler: %d steps (1..%d supported)", steps,
              LAVR_SAMPLER_STEPS);
    /* scheduler init (fp32 tensors): training sigmas k/1000 shifted once; only the end points
     * sigma_max (k = 1000) and sigma_min (k = 1) are used by set_timesteps */
    float s_max = (float)TRAIN_STEPS / (float)TRAIN_STEPS, s_min = 1.0f / (float)TRAIN_STEPS;
    float sigma_max = ((float)SHIFT * s_max) / (1.0f + ((float)SHIFT - 1.0f) * s_max);
    float sigma_min = ((float)SHIFT * s_min) / (1.0f + ((float)SHIFT - 1.0f) * s_min);
    /* set_timesteps (numpy float64): linspace of 1000*sigma, back to sigma, shifted again */
    double t0 = (double)sigma_max * TRAIN_STEPS, t1 = (double)sigma_min * TRAIN_STEPS;
    out->steps = steps;
    for (int i = 0; i < steps; i++) {
        double t = steps == 1 ? t0 : (i == steps - 1 ? t1 : t0 + (double)i * ((t1 - t0) / (double)(steps - 1)));
        double s = t / TRAIN_STEPS;
        double sig = SHIFT * s / (1.0 + (SHIFT - 1.0) * s);
        out->sigmas[i] = (float)sig;
        out->timesteps[i] = out->sigmas[i] * (float)TRAIN_STEPS;
    }
    for (int i = steps; i <= LAVR_SAMPLER_STEPS; i++) out->sigmas[i] = 0.0f;
    for (int i = steps; i < LAVR_SAMPLER_STEPS; i++) out->timesteps[i] = 0.0f;
    return LAVR_OK;
}

lavr_status lavr_sampler_delta(const lavr_sampler *s, int step, float *delta) {
    CHECK_ARG(step >= 0 && step < s->steps, "sampler: step %d outside 0..%d", step, s->steps - 1);
    *delta = s->sigmas[step + 1] - s->sigmas[step];
    return LAVR_OK;
}

lavr_status lavr_sampler_step(const lavr_sampler *s, int step, float *x, const float *v, int64_t n) {
    float delta;
    TRY(lavr_sampler_delta(s, step, &delta));
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) x[i] = lavr_round_bf16(x[i] + lavr_round_bf16(delta * v[i]));
    return LAVR_OK;
}
