/* The 4-step sampler against model-spec §6: sigmas, timesteps and deltas of diffusers'
 * double-shifted schedule, and the bf16 Euler update against a naive double computation. */
#include <stdint.h>

#include "core/dtype.h"
#include "models/sampler.h"
#include "tests/check.h"

int main(void) {
    lavr_sampler s;
    CHECK_OK(lavr_sampler_init(4, &s));
    /* spec table (fp32 values printed to 8 significant digits) */
    const double sig[5] = {1.0, 0.85769230, 0.60215056, 0.0089285718, 0.0};
    const double ts[4] = {1000.0, 857.69232, 602.15057, 8.9285717};
    const double delta[4] = {-0.14230770, -0.25554174, -0.59322196, -0.0089285718};
    for (int i = 0; i < 5; i++) CHECK_NEAR(s.sigmas[i], sig[i], 1e-7 * (sig[i] > 0.1 ? 1 : 0.1) + 1e-9);
    for (int i = 0; i < 4; i++) CHECK_NEAR(s.timesteps[i], ts[i], 1e-4);
    for (int i = 0; i < 4; i++) CHECK_NEAR(s.sigmas[i + 1] - s.sigmas[i], delta[i], 2e-8);
    /* the spec's construction in double: sigma_min = 3*0.001/1.002, s = linspace, sigma = 3s/(1+2s) */
    double smin = 3.0 * 0.001 / (1.0 + 2.0 * 0.001);
    for (int i = 0; i < 4; i++) {
        double u = (1000.0 + i * (1000.0 * smin - 1000.0) / 3.0) / 1000.0;
        CHECK_NEAR(s.sigmas[i], 3.0 * u / (1.0 + 2.0 * u), 1e-7);
    }

    /* Euler step: x = bf16(x + bf16(delta * v)) */
    float x[64], v[64], want[64];
    for (int i = 0; i < 64; i++) {
        x[i] = lavr_round_bf16((float)(i - 32) * 0.173f);
        v[i] = lavr_round_bf16((float)((i * 37) % 64 - 30) * 0.091f);
    }
    for (int step = 0; step < 4; step++) {
        float d = s.sigmas[step + 1] - s.sigmas[step];
        for (int i = 0; i < 64; i++) want[i] = lavr_round_bf16((float)((double)x[i] + (double)lavr_round_bf16(d * v[i])));
        CHECK_OK(lavr_sampler_step(&s, step, x, v, 64));
        int same = 1;
        for (int i = 0; i < 64; i++) same &= x[i] == want[i];
        CHECK(same);
    }
    CHECK_FAILS(lavr_sampler_step(&s, 4, x, v, 64), LAVR_E_ARG);
    CHECK_FAILS(lavr_sampler_init(0, &s), LAVR_E_ARG);
    return check_summary("test_sampler");
}
