/* wav2vec2 in `lavr bench --encoders` (cli/bench_w2v.h): the preset's speech encoder with generated weights on one
 * GPU (or the CPU reference), run over synthetic speech of each length asked (made on the fly, never held whole),
 * every hidden state handed to the host as a render's bucketer gets it; reports the time of the forward, frames per
 * second, peak device memory and where the whole-audio states lived, and from two or more lengths the fit
 * t = a*T + b*T^2 (the linear layers and convolutions, then global attention) and what it gives for 1 h and
 * 10,000 s of audio. One process, no MPI. */
#include "cli/bench_w2v.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rng.h"
#include "core/units.h"
#include "models/audio_features.h"
#include "models/wav2vec2.h"

#define TARGET_60S 1.0 /* the target: 60 s of audio in <= 1 s on one H200 */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

lavr_status lavr_bench_w2v_parse_seconds(const char *text, lavr_bench_w2v_args *a) {
    const char *p = text;
    a->nlengths = 0;
    while (*p) {
        char *end = NULL;
        const double v = strtod(p, &end);
        CHECK_ARG(end != p && v >= 1 && v <= 36000 && a->nlengths < LAVR_BENCH_W2V_MAX_LENGTHS && (*end == ',' || !*end),
                  "bench: --seconds '%s': up to %d comma-separated audio lengths in [1, 36000] seconds", text,
                  LAVR_BENCH_W2V_MAX_LENGTHS);
        a->seconds[a->nlengths++] = v;
        p = *end ? end + 1 : end;
    }
    CHECK_ARG(a->nlengths > 0, "bench: --seconds is empty");
    return LAVR_OK;
}

/* Synthetic normalised speech: two tones and Philox noise, the same for every tile that asks for a sample. */
static lavr_status speech(void *user, int64_t first, int64_t n, float *out) {
    const uint64_t seed = *(const uint64_t *)user;
    lavr_rng_normal(seed, LAVR_STREAM_TEST, (uint64_t)first, n, out);
    for (int64_t i = 0; i < n; i++) {
        const double t = (double)(first + i) / LAVR_AUDIO_SAMPLE_RATE;
        out[i] = (float)(0.6 * sin(2 * M_PI * 180 * t) + 0.3 * sin(2 * M_PI * 2300 * t) + 0.5 * out[i]);
    }
    return LAVR_OK;
}

/* The rows arrive on the host as the bucketer would take them; a sum keeps them used. */
static lavr_status take_rows(void *user, int64_t index, int64_t first, int64_t rows, int64_t frames, int64_t hidden,
                             const float *state) {
    (void)index, (void)first, (void)frames;
    double *sum = user;
    for (int64_t i = 0; i < rows * hidden; i += 997) *sum += state[i];
    return LAVR_OK;
}

static void print_profile(lavr_ctx *ctx, double scale) {
    double ms[LAVR_CTX_PROF_CATEGORIES], total = 0;
    int64_t calls[LAVR_CTX_PROF_CATEGORIES];
    if (lavr_ctx_profile_take(ctx, ms, calls)) return;
    for (int i = 0; i < LAVR_CTX_PROF_CATEGORIES; i++) total += ms[i];
    for (int i = 0; i < LAVR_CTX_PROF_CATEGORIES; i++)
        if (calls[i])
            printf("    %-22s %9.2f ms  %6.1f%%  %7.1f calls\n", lavr_ctx_prof_name(i), ms[i] * scale,
                   total > 0 ? 100.0 * ms[i] / total : 0.0, (double)calls[i] * scale);
}

/* FLOPs of one forward over T frames: the attention's two T x T products per layer, and the rest (Linears, FFN,
 * positional conv, feature extractor) per frame. */
static void flops(const lavr_w2v_config *c, double T, double *attention, double *rest) {
    const double h = (double)c->hidden, f = (double)c->intermediate, L = (double)c->num_layers;
    *attention = L * 4.0 * T * T * h;
    double conv = 0.0, t = T;
    for (int i = c->n_conv - 1; i >= 1; i--) { /* output frames of layer i: T * 2^(n-1-i) at the XLSR strides */
        conv += 2.0 * t * (double)(c->conv_dim[i] * c->conv_dim[i - 1] * c->conv_kernel[i]);
        t *= (double)c->conv_stride[i];
    }
    *rest = L * 2.0 * T * (4.0 * h * h + 2.0 * h * f) + 2.0 * T * h * h / (double)c->pos_conv_groups *
            (double)c->pos_conv_kernel + conv;
}

static lavr_status time_length(lavr_w2v *m, lavr_ctx *ctx, const lavr_bench_w2v_args *a, lavr_arena *work,
                               double seconds, double *mean_s, int64_t *frames) {
    const int64_t n = (int64_t)llround(seconds * LAVR_AUDIO_SAMPLE_RATE);
    const uint64_t seed = (uint64_t)a->seed;
    double sum = 0;
    *frames = lavr_w2v_num_frames(&a->cfg, n);
    lavr_ctx_reset_peak(ctx);
    /* a warm-up forward builds this length's cuBLASLt / cuDNN plans (a render's setup pays it once) */
    const double w0 = now_s();
    TRY(lavr_w2v_forward_stream(m, n, speech, (void *)&seed, work, NULL, take_rows, &sum));
    const double first = now_s() - w0;
    if (a->profile) print_profile(ctx, 0.0); /* drop the warm-up's events */
    double total = 0, lo = 1e30, hi = 0;
    for (int64_t r = 0; r < a->repeat; r++) {
        const double t0 = now_s();
        TRY(lavr_w2v_forward_stream(m, n, speech, (void *)&seed, work, NULL, take_rows, &sum));
        const double dt = now_s() - t0;
        total += dt, lo = dt < lo ? dt : lo, hi = dt > hi ? dt : hi;
    }
    *mean_s = total / (double)a->repeat;
    double fa, fr;
    flops(&a->cfg, (double)*frames, &fa, &fr);
    char b1[32];
    printf("%7.0f s of audio (%lld frames): mean %.3f s (min %.3f, max %.3f) over %lld forwards, %.0f frames/s, "
           "%.0fx real time, %.1f TFLOP/s", seconds, (long long)*frames, *mean_s, lo, hi, (long long)a->repeat,
           (double)*frames / *mean_s, seconds / *mean_s, (fa + fr) / *mean_s * 1e-12);
    if (!a->on_cpu) {
        printf("; peak device memory %s", lavr_format_bytes(lavr_ctx_peak_bytes(ctx), b1, sizeof b1));
        if (fabs(seconds - 60.0) < 0.5) printf(" (target <= %.0f s: %s)", TARGET_60S, *mean_s <= TARGET_60S ? "met" : "missed");
    }
    printf("\n    first forward (plans built) %.3f s; %s (checksum %.6g)\n", first, lavr_w2v_last_run(m), sum);
    if (a->profile) print_profile(ctx, 1.0 / (double)a->repeat);
    return LAVR_OK;
}

/* Least squares of t = a*T + b*T^2 over the measured points, and what it predicts. */
static void derive(const lavr_bench_w2v_args *a, const double *secs, const int64_t *frames, int n) {
    double s11 = 0, s12 = 0, s22 = 0, y1 = 0, y2 = 0;
    for (int i = 0; i < n; i++) {
        const double T = (double)frames[i];
        s11 += T * T, s12 += T * T * T, s22 += T * T * T * T, y1 += secs[i] * T, y2 += secs[i] * T * T;
    }
    const double det = s11 * s22 - s12 * s12;
    if (n < 2 || det <= 0) return;
    double lin = (y1 * s22 - y2 * s12) / det, quad = (s11 * y2 - s12 * y1) / det;
    if (lin < 0) lin = 0, quad = y2 / s22; /* noisy timings: keep both terms non-negative */
    if (quad < 0) quad = 0, lin = y1 / s11;
    printf("fit: t = %.3g s * T + %.3g s * T^2 (T in frames, 50 per second)\n", lin, quad);
    const double lengths[2] = {3600, 10000};
    for (int i = 0; i < 2; i++) {
        const double T = floor(lengths[i] * LAVR_W2V_FRAME_RATE), kv = 2.0 * T * (double)a->cfg.hidden * 2.0;
        double fa, fr;
        flops(&a->cfg, T, &fa, &fr);
        char b1[32], b2[32];
        printf("  %6.0f s of audio (%.0f frames): %.1f s derived (attention %.2f PFLOP, the rest %.1f TFLOP); keys and "
               "values %s of bf16, all four whole-audio states %s\n", lengths[i], T, lin * T + quad * T * T, fa * 1e-15,
               fr * 1e-12, lavr_format_bytes((uint64_t)kv, b1, sizeof b1),
               lavr_format_bytes((uint64_t)(2 * kv), b2, sizeof b2));
    }
}

lavr_status lavr_bench_w2v(const lavr_bench_w2v_args *a) {
    lavr_arena *host = NULL, *work = NULL;
    lavr_ctx *ctx = NULL;
    lavr_w2v *m = NULL;
    lavr_status st;
    TRY(lavr_arena_create("bench w2v host", 0, &host));
    TRY_GOTO(lavr_arena_create("bench w2v work", 0, &work), st, done);
    if (a->on_cpu) {
        TRY_GOTO(lavr_ctx_create_cpu(host, &ctx), st, done);
    } else {
        TRY_GOTO(lavr_ctx_create_cuda(&a->ctx, &ctx), st, done);
        if (a->profile) TRY_GOTO(lavr_ctx_profile(ctx, 1), st, done);
    }
    const lavr_w2v_options o = {.ctx = ctx, .own_attention = a->own_attention};
    const lavr_w2v_config *c = &a->cfg;
    const double t0 = now_s();
    TRY_GOTO(lavr_w2v_create_generated(c, (uint64_t)a->seed, &o, &m), st, done);
    char b1[32];
    printf("wav2vec2 (hidden %lld, %lld layers, %lld heads, FFN %lld, %d convolutions of %lld channels) on %s\n",
           (long long)c->hidden, (long long)c->num_layers, (long long)c->num_heads, (long long)c->intermediate,
           c->n_conv, (long long)c->conv_dim[0], lavr_w2v_describe(m));
    printf("  weights generated in %.2f s%s%s\n", now_s() - t0, a->on_cpu ? "" : "; device memory after loading ",
           a->on_cpu ? "" : lavr_format_bytes(lavr_ctx_peak_bytes(ctx), b1, sizeof b1));
    double secs[LAVR_BENCH_W2V_MAX_LENGTHS];
    int64_t frames[LAVR_BENCH_W2V_MAX_LENGTHS];
    for (int i = 0; i < a->nlengths; i++)
        TRY_GOTO(time_length(m, ctx, a, work, a->seconds[i], &secs[i], &frames[i]), st, done);
    derive(a, secs, frames, a->nlengths);
    st = LAVR_OK;
done:
    lavr_w2v_destroy(m);
    lavr_ctx_destroy(ctx);
    lavr_arena_destroy(work);
    lavr_arena_destroy(host);
    return st;
}
