/* Counter-based random numbers (Philox-4x32-10): a sample is a pure function of (seed, stream,
 * offset), so any rank can produce any part of the noise and the result never depends on the
 * number of ranks or the order of calls. */
#ifndef LAVR_RNG_H
#define LAVR_RNG_H

#include <stdint.h>

/* The raw generator: 10 rounds of Philox-4x32 on a 128-bit counter under a 64-bit key. */
void lavr_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* What a stream is used for; keeps e.g. the noise of clip 3 apart from the sink offset draws. */
typedef enum {
    LAVR_STREAM_NOISE = 1,      /* initial latent noise per (clip, block) */
    LAVR_STREAM_SINK_OFFSET = 2,/* rolling sink offset d per (clip, block, step) */
    LAVR_STREAM_WEIGHTS = 3,    /* lavr init: one stream per tensor */
    LAVR_STREAM_DIT_RUN_INPUTS = 4, /* lavr dit-run without --cond: synthetic context, latents, audio */
    LAVR_STREAM_TEST = 15,
} lavr_stream_purpose;

/* Packs (purpose, clip, block, step) into a stream id: purpose 8 bits, clip 32 bits, block and
 * step 8 bits each. */
uint64_t lavr_rng_stream(lavr_stream_purpose purpose, uint32_t clip, uint32_t block, uint32_t step);
/* FNV-1a hash of a name, for per-tensor streams. */
uint64_t lavr_rng_hash(const char *name);

/* out[i] = standard normal sample number offset+i of (seed, stream), i in [0, n).
 * Box-Muller on 53-bit uniforms computed in double, rounded once to float. */
void lavr_rng_normal(uint64_t seed, uint64_t stream, uint64_t offset, int64_t n, float *out);
/* out[i] = uniform in [0, 1) with 53 random bits, sample number offset+i. */
void lavr_rng_uniform(uint64_t seed, uint64_t stream, uint64_t offset, int64_t n, double *out);
/* A uniform integer in [lo, hi] (inclusive), sample number `offset` of (seed, stream). */
int64_t lavr_rng_randint(uint64_t seed, uint64_t stream, uint64_t offset, int64_t lo, int64_t hi);

#endif
