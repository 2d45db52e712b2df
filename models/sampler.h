/* The 4-step flow-matching Euler sampler of LiveAvatar (model-spec §6): diffusers'
 * FlowMatchEulerDiscreteScheduler(1000 steps, shift 3) schedule and the bf16 Euler update. */
#ifndef LAVR_MODELS_SAMPLER_H
#define LAVR_MODELS_SAMPLER_H

#include <stdint.h>

#include "core/status.h"

#define LAVR_SAMPLER_STEPS 4

typedef struct {
    int steps;
    float sigmas[LAVR_SAMPLER_STEPS + 1]; /* sigma_0..sigma_steps (last = 0) */
    float timesteps[LAVR_SAMPLER_STEPS];  /* model timestep 1000*sigma_s (fp32) */
} lavr_sampler;

/* The schedule computed as diffusers does (steps <= LAVR_SAMPLER_STEPS; LiveAvatar uses 4). */
lavr_status lavr_sampler_init(int steps, lavr_sampler *out);
/* delta_s = sigma_{s+1} - sigma_s (fp32) of step s: the Euler step's factor (the device step takes it too). */
lavr_status lavr_sampler_delta(const lavr_sampler *s, int step, float *delta);
/* Euler step s in place: x = bf16(f32(x) + bf16(delta_s * v)), delta_s = sigma_{s+1} - sigma_s (fp32). */
lavr_status lavr_sampler_step(const lavr_sampler *s, int step, float *x, const float *v, int64_t n);

#endif
