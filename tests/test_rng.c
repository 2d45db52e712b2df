/* The counter-based RNG: Philox-4x32-10 known-answer vectors (Random123), normal statistics, and
 * the property the renderer relies on: any split of a range gives the same samples. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "core/rng.h"

static void kat(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1, uint32_t e0,
                uint32_t e1, uint32_t e2, uint32_t e3) {
    uint32_t ctr[4] = {c0, c1, c2, c3}, key[2] = {k0, k1}, out[4];
    lavr_philox4x32_10(ctr, key, out);
    CHECK_MSG(out[0] == e0 && out[1] == e1 && out[2] == e2 && out[3] == e3, "got %08x %08x %08x %08x", out[0],
              out[1], out[2], out[3]);
}

int main(void) {
    /* known-answer tests published with Random123 (kat_vectors, philox4x32 10 rounds) */
    kat(0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8);
    kat(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6,
        0x6d5451fd);
    kat(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420,
        0x24126ea1);

    /* normal samples: mean 0, variance 1, kurtosis 3 within sampling error for n = 1e6 */
    const int64_t n = 1000000;
    float *z = malloc((size_t)n * sizeof *z);
    uint64_t stream = lavr_rng_stream(LAVR_STREAM_NOISE, 3, 2, 0);
    lavr_rng_normal(42, stream, 0, n, z);
    double s1 = 0, s2 = 0, s4 = 0;
    int64_t beyond3 = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = z[i];
        s1 += v, s2 += v * v, s4 += v * v * v * v;
        if (fabs(v) > 3) beyond3++;
    }
    double mean = s1 / n, var = s2 / n - mean * mean, kurt = (s4 / n) / (var * var);
    CHECK_NEAR(mean, 0.0, 5 * sqrt(1.0 / n));
    CHECK_NEAR(var, 1.0, 5 * sqrt(2.0 / n));
    CHECK_NEAR(kurt, 3.0, 0.05);
    CHECK_NEAR((double)beyond3 / n, 0.0026998, 0.0004); /* P(|z|>3) */

    /* any split of [0, n) (odd offsets too) gives the same samples: noise is rank-count independent */
    float part[1000];
    int mismatches = 0;
    for (int64_t start = 0; start < 20000; start += 997) {
        lavr_rng_normal(42, stream, (uint64_t)start, 1000, part);
        for (int i = 0; i < 1000; i++)
            if (part[i] != z[start + i]) mismatches++;
    }
    CHECK(mismatches == 0);

    /* different seeds / streams give different sequences */
    lavr_rng_normal(43, stream, 0, 1000, part);
    int same = 0;
    for (int i = 0; i < 1000; i++) same += part[i] == z[i];
    CHECK(same < 5);
    lavr_rng_normal(42, lavr_rng_stream(LAVR_STREAM_NOISE, 3, 2, 1), 0, 1000, part);
    same = 0;
    for (int i = 0; i < 1000; i++) same += part[i] == z[i];
    CHECK(same < 5);
    CHECK(lavr_rng_stream(LAVR_STREAM_NOISE, 1, 0, 0) != lavr_rng_stream(LAVR_STREAM_SINK_OFFSET, 1, 0, 0));

    /* randint covers [lo, hi] uniformly */
    int counts[27] = {0};
    for (int i = 0; i < 27000; i++) {
        int64_t d = lavr_rng_randint(5, lavr_rng_stream(LAVR_STREAM_SINK_OFFSET, 0, 0, 0), (uint64_t)i, 4, 30);
        CHECK(d >= 4 && d <= 30);
        if (d >= 4 && d <= 30) counts[d - 4]++;
    }
    for (int k = 0; k < 27; k++) CHECK_MSG(counts[k] > 800 && counts[k] < 1200, "d=%d count %d", k + 4, counts[k]);

    double u[4096];
    lavr_rng_uniform(1, 2, 0, 4096, u);
    double umin = 1, umax = 0;
    for (int i = 0; i < 4096; i++) umin = fmin(umin, u[i]), umax = fmax(umax, u[i]);
    CHECK(umin >= 0 && umax < 1 && umin < 0.01 && umax > 0.99);
    free(z);
    return check_summary("test_rng");
}
