/* RoPE positions and rotation: linspace-and-truncate positions of the FramePack groups (hand-worked
 * values), token counts of the s2v-14b geometry, and the fp16-factor rotation against a
 * double-precision complex reference, including negative (conjugate) and > 45,000 positions. */
#include <complex.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/dtype.h"
#include "models/config.h"
#include "models/dit.h"
#include "models/rope.h"
#include "tests/check.h"

static double f16(double v) { return lavr_f16_to_f32(lavr_f32_to_f16((float)v)); }

int main(void) {
    /* golden geometry h x w = 16 x 12: H' = 8, W' = 6 */
    lavr_rope_group g2 = {{-3, 0, 0}, {-2, 4, 3}, {2, 8, 6}};
    int64_t pos[160 * 3];
    CHECK(lavr_rope_group_tokens(&g2) == 12);
    lavr_rope_group_positions(&g2, pos);
    const int64_t rows2[4] = {0, 2, 4, 7}, cols2[3] = {0, 2, 5}; /* trunc(0, 7/3, 14/3, 7), trunc(0, 2.5, 5) */
    for (int i = 0; i < 12; i++) {
        CHECK(pos[i * 3] == -3);
        CHECK(pos[i * 3 + 1] == rows2[i / 3]);
        CHECK(pos[i * 3 + 2] == cols2[i % 3]);
    }
    lavr_rope_group g4 = {{-19, 0, 0}, {-15, 2, 1}, {16, 8, 6}};
    CHECK(lavr_rope_group_tokens(&g4) == 8);
    lavr_rope_group_positions(&g4, pos);
    const int64_t frames4[4] = {-19, -14, -9, -4};
    for (int i = 0; i < 8; i++) {
        CHECK(pos[i * 3] == frames4[i / 2]);
        CHECK(pos[i * 3 + 1] == (i % 2 ? 7 : 0));
        CHECK(pos[i * 3 + 2] == 0);
    }
    lavr_rope_group noisy = {{30000, 0, 0}, {30003, 8, 6}, {3, 8, 6}};
    lavr_rope_group_positions(&noisy, pos);
    CHECK(pos[0] == 30000 && pos[(3 * 48 - 1) * 3] == 30002 && pos[(3 * 48 - 1) * 3 + 1] == 7 &&
          pos[(3 * 48 - 1) * 3 + 2] == 5);
    CHECK(lavr_rope_linspace_trunc(19, 4, 4, 1) == 14);
    CHECK(lavr_rope_linspace_trunc(0, 43, 22, 21) == 43);
    CHECK(lavr_rope_linspace_trunc(0, 43, 22, 1) == 2); /* 43/21 = 2.047 */

    /* s2v-14b at 704x384: latent 88 x 48 (spec: P 1056, window 12,672, sink 2,640) */
    lavr_model_config mc;
    CHECK_OK(lavr_config_preset("s2v-14b", &mc));
    lavr_dit_geometry geo;
    CHECK_OK(lavr_dit_geometry_of(&mc.dit, 88, 48, &geo));
    CHECK(geo.P == 1056 && geo.block_tokens == 3168 && geo.window == 12672);
    CHECK(geo.n_2x == 264 && geo.n_4x == 264 && geo.sink == 2640);
    CHECK_FAILS(lavr_dit_geometry_of(&mc.dit, 87, 48, &geo), LAVR_E_ARG);

    int64_t pairs[3];
    lavr_rope_axis_pairs(128, pairs);
    CHECK(pairs[0] == 22 && pairs[1] == 21 && pairs[2] == 21);

    /* rotation vs a complex double reference with independently computed fp16 factors */
    enum { L = 7, H = 2, D = 128 };
    const int64_t tp[L][3] = {{0, 0, 0}, {1, 3, 5}, {-1, 2, 2}, {-19, 7, 0}, {44999, 43, 23}, {45000, 1, 1},
                              {123456, 10, 20}};
    float *x = malloc(sizeof(float) * L * H * D), *x0 = malloc(sizeof(float) * L * H * D);
    srand(7);
    for (int i = 0; i < L * H * D; i++) x0[i] = x[i] = lavr_round_bf16((float)rand() / RAND_MAX * 4.0f - 2.0f);
    CHECK_OK(lavr_rope_apply(x, L, H, D, H * D, &tp[0][0]));
    int mismatch = 0;
    double worst = 0;
    for (int t = 0; t < L; t++)
        for (int h = 0; h < H; h++)
            for (int j = 0; j < D / 2; j++) {
                int axis = j < 22 ? 0 : (j < 43 ? 1 : 2), i = axis == 0 ? j : (axis == 1 ? j - 22 : j - 43);
                double dim = axis == 0 ? 44.0 : 42.0;
                double p = (double)tp[t][axis];
                double freq = exp(-log(10000.0) * (2.0 * i) / dim);
                double ang = fabs(p) * freq;
                double complex f = f16(cos(ang)) + I * f16(sin(ang));
                if (p < 0) f = conj(f);
                const float *v = x0 + (t * H + h) * D + 2 * j;
                double complex y = (v[0] + I * v[1]) * f;
                float re = lavr_round_bf16((float)creal(y)), im = lavr_round_bf16((float)cimag(y));
                const float *o = x + (t * H + h) * D + 2 * j;
                if (o[0] != re || o[1] != im) mismatch++;
                double e = fabs(o[0] - re) + fabs(o[1] - im);
                if (e > worst) worst = e;
            }
    /* the two pow/exp routes may differ in the last ulp and flip an fp16 tie: allow a handful */
    CHECK_MSG(mismatch <= 4 && worst <= 0.05, "%d mismatches, worst %g", mismatch, worst);
    /* factors are fp16 values within fp16 rounding of the true cos/sin; negatives conjugate */
    for (int j = 0; j < 64; j++) {
        double c, s, c2, s2;
        int64_t pp[3] = {17, 5, 3}, pn[3] = {-17, 5, 3};
        lavr_rope_factor(128, j, pp, &c, &s);
        lavr_rope_factor(128, j, pn, &c2, &s2);
        CHECK(c == f16(c) && s == f16(s));
        CHECK(j < 22 ? (c2 == c && s2 == -s) : (c2 == c && s2 == s));
    }
    free(x);
    free(x0);
    return check_summary("test_rope");
}
