/* Philox-4x32-10 (Salmon et al., SC'11) and the normal/uniform/integer samplers built on it.
 * Sample k of a stream uses counter (k/2 as 64 bits, stream as 64 bits) for normals. */
#include "core/rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void lavr_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1, n3 = (uint32_t)p0;
        c0 = n0, c1 = n1, c2 = n2, c3 = n3;
        k0 += PHILOX_W0, k1 += PHILOX_W1;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

uint64_t lavr_rng_stream(lavr_stream_purpose purpose, uint32_t clip, uint32_t block, uint32_t step) {
    return ((uint64_t)(purpose & 0xffu) << 56) | ((uint64_t)clip << 16) | ((uint64_t)(block & 0xffu) << 8) |
           (uint64_t)(step & 0xffu);
}

uint64_t lavr_rng_hash(const char *name) {
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return h;
}

static void philox_at(uint64_t seed, uint64_t stream, uint64_t counter, uint32_t out[4]) {
    const uint32_t ctr[4] = {(uint32_t)counter, (uint32_t)(counter >> 32), (uint32_t)stream,
                             (uint32_t)(stream >> 32)};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    lavr_philox4x32_10(ctr, key, out);
}

static double u53(uint32_t hi, uint32_t lo) {
    return (double)((((uint64_t)hi << 32) | lo) >> 11) * 0x1p-53;
}

/* Samples 2m and 2m + 1 share one Box-Muller pair, made once for both when both are asked for (same values as
 * one at a time: the same double operations). */
void lavr_rng_normal(uint64_t seed, uint64_t stream, uint64_t offset, int64_t n, float *out) {
    for (int64_t i = 0; i < n;) {
        const uint64_t k = offset + (uint64_t)i;
        uint32_t r[4];
        philox_at(seed, stream, k >> 1, r);
        const double u1 = u53(r[0], r[1]) + 0x1p-53; /* (0, 1]: log never sees 0 */
        const double u2 = u53(r[2], r[3]);
        const double radius = sqrt(-2.0 * log(u1)), angle = 2.0 * M_PI * u2;
        if (k & 1) {
            out[i++] = (float)(radius * sin(angle));
            continue;
        }
        out[i++] = (float)(radius * cos(angle));
        if (i < n) out[i++] = (float)(radius * sin(angle));
    }
}

void lavr_rng_uniform(uint64_t seed, uint64_t stream, uint64_t offset, int64_t n, double *out) {
    for (int64_t i = 0; i < n; i++) {
        uint64_t k = offset + (uint64_t)i;
        uint32_t r[4];
        philox_at(seed, stream, k >> 1, r);
        out[i] = (k & 1) ? u53(r[2], r[3]) : u53(r[0], r[1]);
    }
}

int64_t lavr_rng_randint(uint64_t seed, uint64_t stream, uint64_t offset, int64_t lo, int64_t hi) {
    double u;
    lavr_rng_uniform(seed, stream, offset, 1, &u);
    int64_t span = hi - lo + 1;
    int64_t v = lo + (int64_t)(u * (double)span);
    return v > hi ? hi : v;
}
