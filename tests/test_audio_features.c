/* Audio feature helpers against independent expectations: normalisation statistics, align-corners
 * interpolation vs a double loop, 25 fps frame indices vs integer arithmetic and hand-worked cases,
 * 30 Hz lengths, clip counts, and bucketing with zeros past the end of the audio. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/audio_features.h"
#include "tests/check.h"

static uint64_t lcg_state = 0x2545F4914F6CDD1DULL;
static float uniform(void) { /* [-1, 1) */
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(lcg_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static void poison(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = NAN;
}

/* round(6k/5) with exact integers: 6k/5 has fraction 0, .2, .4, .6 or .8, never one half. */
static int64_t index_exact(int64_t k) { return (12 * k + 5) / 10; }

static void test_normalize(void) {
    const int64_t n = 5000;
    float *wave = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float));
    for (int64_t i = 0; i < n; i++) wave[i] = 0.3f + 0.05f * uniform() + 0.2f * (float)sin(0.01 * (double)i);
    poison(out, n);
    CHECK_OK(lavr_audio_normalize(wave, n, out));
    double mean = 0.0, var = 0.0;
    for (int64_t i = 0; i < n; i++) mean += out[i];
    mean /= (double)n;
    for (int64_t i = 0; i < n; i++) var += (out[i] - mean) * (out[i] - mean);
    var /= (double)n;
    CHECK_NEAR(mean, 0.0, 1e-6);
    CHECK_NEAR(var, 1.0, 1e-5); /* var/(var + 1e-7) with var ~ 0.02 */
    /* silence: the 1e-7 keeps it finite and zero */
    for (int64_t i = 0; i < n; i++) wave[i] = 0.25f;
    CHECK_OK(lavr_audio_normalize(wave, n, out));
    int all_zero = 1;
    for (int64_t i = 0; i < n; i++) all_zero &= out[i] == 0.0f;
    CHECK(all_zero);
    CHECK_FAILS(lavr_audio_normalize(wave, 0, out), LAVR_E_ARG);
    free(wave);
    free(out);
}

static void test_lengths_and_clips(void) {
    /* int(T / 50 * 30) in double: 3T/5 except where the double product lands just below an integer */
    const int64_t t50[] = {1, 2, 5, 114, 204, 205, 206, 885, 180000};
    const int64_t t30[] = {0, 1, 3, 68, 122, 122, 123, 531, 108000};
    for (int i = 0; i < (int)(sizeof t50 / sizeof t50[0]); i++) CHECK(lavr_audio_feat30_len(t50[i]) == t30[i]);
    int64_t off_by_one = 0;
    for (int64_t t = 0; t < 20000; t++) {
        const int64_t got = lavr_audio_feat30_len(t), exact = 3 * t / 5;
        CHECK_MSG(got == exact || (got == exact - 1 && (3 * t) % 5 == 0), "t50 %lld -> %lld", (long long)t, (long long)got);
        off_by_one += got != exact;
    }
    CHECK(off_by_one > 0); /* the quirk is real: 205 is one of them */

    /* clips = floor(t30 / 57.6) + 1 at 25 fps, 48 frames: exact rational floor(5 t30 / 288) + 1 */
    const int64_t n30[] = {0, 1, 57, 58, 68, 115, 116, 531, 576, 577};
    const int64_t clips[] = {1, 1, 1, 2, 2, 2, 3, 10, 11, 11};
    for (int i = 0; i < (int)(sizeof n30 / sizeof n30[0]); i++)
        CHECK_MSG(lavr_audio_num_clips(n30[i], 48, 25.0) == clips[i], "t30 %lld", (long long)n30[i]);
    for (int64_t t = 0; t < 100000; t++)
        CHECK_MSG(lavr_audio_num_clips(t, 48, 25.0) == 5 * t / 288 + 1, "t30 %lld", (long long)t);
    /* Wan's 16 fps, 80 frames: floor(t30 / 150) + 1 */
    CHECK(lavr_audio_num_clips(149, 80, 16.0) == 1);
    CHECK(lavr_audio_num_clips(150, 80, 16.0) == 2);
}

static void test_frame_index(void) {
    /* hand-worked: k * 1.2 rounded */
    const int64_t k[] = {0, 1, 2, 3, 4, 5, 7, 8, 12, 15, 47, 48, 95};
    const int64_t j[] = {0, 1, 2, 4, 5, 6, 8, 10, 14, 18, 56, 58, 114};
    for (int i = 0; i < (int)(sizeof k / sizeof k[0]); i++)
        CHECK_MSG(lavr_audio_frame_index(k[i], 96, 25.0) == j[i], "k %lld", (long long)k[i]);
    const int64_t clip_counts[] = {1, 2, 3, 10, 77, 1875};
    for (int c = 0; c < 6; c++) {
        const int64_t n = clip_counts[c] * 48;
        for (int64_t kk = 0; kk < n; kk++)
            CHECK_MSG(lavr_audio_frame_index(kk, n, 25.0) == index_exact(kk), "k %lld of %lld", (long long)kk,
                      (long long)n);
    }
    /* 16 fps (Wan): 1.875 k has true halves, numpy rounds them to even: 4 -> 7.5 -> 8, 12 -> 22.5 -> 22 */
    CHECK(lavr_audio_frame_index(4, 80, 16.0) == 8);
    CHECK(lavr_audio_frame_index(12, 80, 16.0) == 22);
    CHECK(lavr_audio_frame_index(20, 80, 16.0) == 38);
    CHECK(lavr_audio_frame_index(28, 80, 16.0) == 52);
}

/* align_corners=True in double: u = j (T-1)/(T30-1) */
static double interp_ref(const float *x, int64_t t_in, int64_t dim, int64_t t_out, int64_t j, int64_t c) {
    const double u = t_out > 1 ? (double)j * (double)(t_in - 1) / (double)(t_out - 1) : 0.0;
    int64_t i0 = (int64_t)floor(u);
    if (i0 > t_in - 1) i0 = t_in - 1;
    const int64_t i1 = i0 + 1 < t_in ? i0 + 1 : i0;
    const double w = u - (double)i0;
    return (1.0 - w) * x[i0 * dim + c] + w * x[i1 * dim + c];
}

static void test_interpolate(void) {
    const int64_t sizes[][2] = {{114, 68}, {5, 3}, {2, 1}, {1, 1}, {205, 122}, {7, 7}, {3, 8}};
    const int64_t dim = 5;
    for (int s = 0; s < 7; s++) {
        const int64_t tin = sizes[s][0], tout = sizes[s][1];
        float *x = malloc(tin * dim * sizeof(float)), *y = malloc(tout * dim * sizeof(float));
        for (int64_t i = 0; i < tin * dim; i++) x[i] = uniform();
        poison(y, tout * dim);
        CHECK_OK(lavr_audio_interpolate(x, tin, dim, tout, y));
        double worst = 0.0;
        for (int64_t j = 0; j < tout; j++)
            for (int64_t c = 0; c < dim; c++) worst = fmax(worst, fabs(y[j * dim + c] - interp_ref(x, tin, dim, tout, j, c)));
        /* PyTorch forms u = scale * j in fp32: |du| <~ t_in * 2^-23, times a slope of at most 2 */
        const double tol = 4.0 * (double)tin * 1.1920929e-7 + 1e-6;
        CHECK_MSG(worst <= tol, "%lld -> %lld: max error %g (tol %g)", (long long)tin, (long long)tout, worst, tol);
        /* align corners: the ends are copied exactly */
        CHECK(y[0] == x[0]);
        if (tout > 1) CHECK(y[(tout - 1) * dim + 2] == x[(tin - 1) * dim + 2]);
        free(x);
        free(y);
    }
    float dummy = 0.0f;
    CHECK_FAILS(lavr_audio_interpolate(&dummy, 1, 1, 0, &dummy), LAVR_E_ARG);
}

static void test_bucket(void) {
    /* t50 = 100 -> t30 = 60 -> 2 clips of 48 = 96 frames; frames with round(1.2 k) >= 60 are zeros */
    const int64_t t50 = 100, dim = 3, states = 2, t30 = lavr_audio_feat30_len(t50);
    CHECK(t30 == 60);
    const int64_t clips = lavr_audio_num_clips(t30, 48, 25.0), n_video = clips * 48;
    CHECK(clips == 2);
    float *x = malloc(t50 * dim * sizeof(float)), *f30 = malloc(t30 * dim * sizeof(float));
    float *out = malloc(n_video * states * dim * sizeof(float));
    for (int64_t i = 0; i < t50 * dim; i++) x[i] = 1.0f + uniform(); /* never zero */
    CHECK_OK(lavr_audio_interpolate(x, t50, dim, t30, f30));
    poison(out, n_video * states * dim);
    CHECK_OK(lavr_audio_bucket_state(x, t50, dim, 1, states, n_video, 25.0, out));
    int64_t zero_frames = 0, bad = 0, untouched = 0;
    for (int64_t k = 0; k < n_video; k++) {
        const int64_t j = index_exact(k);
        for (int64_t c = 0; c < dim; c++) {
            const float got = out[(k * states + 1) * dim + c];
            if (j < t30)
                bad += got != f30[j * dim + c];
            else
                bad += got != 0.0f;
            untouched += !isnan(out[(k * states + 0) * dim + c]); /* state 0 was not written */
        }
        zero_frames += j >= t30;
    }
    CHECK(bad == 0);
    CHECK(untouched == 0);
    /* round(1.2 k) >= 60 from k = 50 on (1.2 * 49.5 = 59.4, 1.2 * 50 = 60): frames 50..95 */
    CHECK(zero_frames == 46);
    CHECK(out[(49 * states + 1) * dim] != 0.0f && out[(50 * states + 1) * dim] == 0.0f);
    CHECK_FAILS(lavr_audio_bucket_state(x, 1, dim, 0, states, n_video, 25.0, out), LAVR_E_ARG);
    CHECK_FAILS(lavr_audio_bucket_state(x, t50, dim, 2, states, n_video, 25.0, out), LAVR_E_ARG);
    free(x);
    free(f30);
    free(out);
}

int main(void) {
    test_normalize();
    test_lengths_and_clips();
    test_frame_index();
    test_interpolate();
    test_bucket();
    return check_summary("test_audio_features");
}
