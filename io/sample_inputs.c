/* The synthetic portrait (layers of ellipses drawn back to front), espeak-ng speech and the voiced signal
 * used by the demo, `lavr sample-inputs`, `lavr bench --e2e` and the tests. */
#include "io/sample_inputs.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/audio.h"
#include "io/image.h"
#include "io/ppm.h"

typedef struct {
    double cx, cy, rx, ry; /* in units of the image width */
    uint8_t r, g, b;
    double shade;          /* darken towards the rim by this fraction */
    double clip_below;     /* only draw where y < clip_below (hair fringe); 0 = no clip */
} layer;

/* Back to front: background is a gradient, then neck, shirt, hair, face, features. */
static const layer layers[] = {
    {0.50, 0.92, 0.075, 0.18, 205, 150, 120, 0.20, 0},  /* neck, under the shirt */
    {0.50, 1.33, 0.46, 0.30, 60, 90, 140, 0.25, 0},     /* shoulders */
    {0.50, 0.50, 0.255, 0.33, 70, 45, 30, 0.30, 0},     /* hair, back */
    {0.50, 0.56, 0.19, 0.25, 235, 190, 160, 0.22, 0},   /* face */
    {0.31, 0.57, 0.03, 0.055, 220, 170, 140, 0.20, 0},  /* ear, left */
    {0.69, 0.57, 0.03, 0.055, 220, 170, 140, 0.20, 0},  /* ear, right */
    {0.50, 0.36, 0.21, 0.11, 70, 45, 30, 0.25, 0.40},   /* fringe */
    {0.43, 0.475, 0.045, 0.008, 60, 40, 30, 0, 0},      /* brow, left */
    {0.57, 0.475, 0.045, 0.008, 60, 40, 30, 0, 0},      /* brow, right */
    {0.43, 0.52, 0.04, 0.019, 250, 250, 250, 0, 0},     /* eye white, left */
    {0.57, 0.52, 0.04, 0.019, 250, 250, 250, 0, 0},     /* eye white, right */
    {0.43, 0.52, 0.016, 0.016, 90, 60, 40, 0.3, 0},     /* iris, left */
    {0.57, 0.52, 0.016, 0.016, 90, 60, 40, 0.3, 0},     /* iris, right */
    {0.43, 0.52, 0.007, 0.007, 15, 10, 10, 0, 0},       /* pupil, left */
    {0.57, 0.52, 0.007, 0.007, 15, 10, 10, 0, 0},       /* pupil, right */
    {0.50, 0.60, 0.018, 0.035, 215, 160, 130, 0.3, 0},  /* nose */
    {0.50, 0.685, 0.06, 0.016, 170, 70, 80, 0.2, 0},    /* lips */
    {0.50, 0.685, 0.05, 0.003, 100, 30, 40, 0, 0},      /* mouth line */
};

static void shade_at(double u, double v, double out[3]) {
    out[0] = 120 + 60 * v, out[1] = 150 + 50 * v, out[2] = 190 + 30 * v; /* background */
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        const layer *l = &layers[i];
        double dx = (u - l->cx) / l->rx, dy = (v - l->cy) / l->ry, d2 = dx * dx + dy * dy;
        if (d2 > 1.0 || (l->clip_below > 0 && v > l->clip_below)) continue;
        double k = 1.0 - l->shade * d2 * d2;
        out[0] = l->r * k, out[1] = l->g * k, out[2] = l->b * k;
    }
}

lavr_status lavr_sample_portrait(uint8_t *rgb, int64_t width, int64_t height) {
    CHECK_ARG(rgb && width >= 16 && height >= 16, "portrait size %lldx%lld too small", (long long)width,
              (long long)height);
    const int ss = 4;
    /* v runs from 0 at the top to height/width at the bottom; the figure sits at the bottom */
    double v0 = (double)height / (double)width - 1.25;
#pragma omp parallel for
    for (int64_t y = 0; y < height; y++)
        for (int64_t x = 0; x < width; x++) {
            double acc[3] = {0, 0, 0};
            for (int sy = 0; sy < ss; sy++)
                for (int sx = 0; sx < ss; sx++) {
                    double c[3];
                    shade_at((x + (sx + 0.5) / ss) / (double)width, (y + (sy + 0.5) / ss) / (double)width - v0, c);
                    for (int k = 0; k < 3; k++) acc[k] += c[k];
                }
            for (int k = 0; k < 3; k++) rgb[(y * width + x) * 3 + k] = (uint8_t)lrint(acc[k] / (ss * ss));
        }
    return LAVR_OK;
}

lavr_status lavr_sample_portrait_png(const char *path, int64_t width, int64_t height) {
    CHECK_ARG(width <= 8192 && height <= 8192, "portrait size %lldx%lld too large", (long long)width, (long long)height);
    uint8_t *rgb = malloc((size_t)(width * height * 3));
    if (!rgb) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for a portrait");
    lavr_status st = lavr_sample_portrait(rgb, width, height);
    if (!st) st = lavr_png_write(path, rgb, width, height);
    free(rgb);
    return st;
}

lavr_status lavr_sample_portrait_ppm(const char *path, int64_t width, int64_t height) {
    CHECK_ARG(width <= 8192 && height <= 8192, "portrait size %lldx%lld too large", (long long)width, (long long)height);
    uint8_t *rgb = malloc((size_t)(width * height * 3));
    if (!rgb) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for a portrait");
    lavr_status st = lavr_sample_portrait(rgb, width, height);
    if (!st) st = lavr_ppm_write(path, rgb, width, height);
    free(rgb);
    return st;
}

lavr_status lavr_sample_speech(const char *path, const char *text, const char *voice) {
    CHECK_ARG(path && text && *text, "speech needs an output path and some text");
    pid_t pid = fork();
    if (pid < 0) return LAVR_FAIL(LAVR_E_IO, "cannot start espeak-ng: %m");
    if (pid == 0) {
        char *args[] = {"espeak-ng", "-v", (char *)(voice ? voice : "en"), "-w", (char *)path, (char *)text, NULL};
        execvp("espeak-ng", args);
        _exit(errno == ENOENT ? 127 : 126);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return LAVR_FAIL(LAVR_E_IO, "waiting for espeak-ng: %m");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "espeak-ng is not installed (apt-get install espeak-ng)");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return LAVR_FAIL(LAVR_E_IO, "espeak-ng failed writing '%s' (exit status %d)", path,
                         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return LAVR_OK;
}

lavr_status lavr_sample_voice_wav(const char *path, double seconds) {
    CHECK_ARG(path && seconds > 0 && seconds <= 36000, "voiced signal: a path and 0 < seconds <= 36000");
    const int64_t n = (int64_t)(seconds * LAVR_AUDIO_RATE);
    float *x = malloc((size_t)n * sizeof *x);
    if (!x) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for %lld audio samples", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        const double t = (double)i / LAVR_AUDIO_RATE, f0 = 120.0 + 15.0 * sin(2 * M_PI * 0.7 * t);
        double v = 0;
        for (int h = 1; h <= 8; h++) v += sin(2 * M_PI * f0 * h * t) / h;
        const double env = 0.5 - 0.5 * cos(2 * M_PI * 4.0 * t);
        x[i] = (float)(0.25 * env * v);
    }
    lavr_status st = lavr_wav_write(path, x, n, LAVR_AUDIO_RATE);
    free(x);
    return st;
}
