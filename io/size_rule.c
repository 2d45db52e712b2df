/* The LiveAvatar size rule and the --size parser (liveavatar-system.md §1.2). Image loading
 * (io/image.c) and the render command use it to pick the generated height and width. */
#include "io/size_rule.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#define SIZE_FORMS "write WIDTH*HEIGHT or WIDTHxHEIGHT, e.g. 704*384"

static int parse_side(const char *s, const char **end, int64_t *out) {
    if (*s < '0' || *s > '9') return 0;
    errno = 0;
    char *e;
    long long v = strtoll(s, &e, 10);
    if (errno) return 0;
    *end = e;
    *out = v;
    return 1;
}

lavr_status lavr_size_parse(const char *text, int64_t *width, int64_t *height) {
    CHECK_ARG(text && *text, "empty --size value (" SIZE_FORMS ")");
    const char *p;
    int64_t w, h;
    /* LiveAvatar's --size is "704*384"; "704x384" is what most other tools (and users) write */
    if (!parse_side(text, &p, &w) || (*p != '*' && *p != 'x' && *p != 'X') || !parse_side(p + 1, &p, &h) ||
        *p != '\0')
        return LAVR_FAIL(LAVR_E_ARG, "bad --size '%s' (" SIZE_FORMS ")", text);
    if (w < LAVR_SIZE_MIN_SIDE || h < LAVR_SIZE_MIN_SIDE || w > LAVR_SIZE_MAX_SIDE || h > LAVR_SIZE_MAX_SIDE)
        return LAVR_FAIL(LAVR_E_ARG, "bad --size '%s': each side must be in [%d, %d] (" SIZE_FORMS ")", text,
                         LAVR_SIZE_MIN_SIDE, LAVR_SIZE_MAX_SIDE);
    *width = w;
    *height = h;
    return LAVR_OK;
}

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

lavr_status lavr_size_less_than_area(int64_t h0, int64_t w0, int64_t max_area, int64_t divisor,
                                     int64_t *height, int64_t *width, int *iteration) {
    CHECK_ARG(h0 > 0 && w0 > 0, "image size %lldx%lld is empty", (long long)w0, (long long)h0);
    CHECK_ARG(divisor > 0 && max_area >= divisor * divisor,
              "maximum area %lld is smaller than one %lldx%lld tile", (long long)max_area, (long long)divisor,
              (long long)divisor);
    double a = (double)h0 * (double)w0, area = (double)max_area;
    double s_min, s_max;
    if (a <= area) {
        s_min = 0.1;
        s_max = 1.0;
    } else {
        /* Lower bound: the scale at which rounding both sides up by the most possible (divisor-1)
         * reaches the area. The reference takes the root with discriminant b^2 - 2ac rather than
         * the textbook 4ac; only that form reproduces the spec's worked example (720x400 at area
         * 270336 accepted at i=2), and the bound sets the search step, so we keep it. */
        double d = (double)(divisor - 1), b = d * (double)(h0 + w0), c = d * d - area;
        s_min = (-b + sqrt(b * b - 2.0 * a * c)) / (2.0 * a);
        s_max = sqrt(area / a);
    }
    for (int i = 0; i < 100; i++) {
        double s = s_max - (s_max - s_min) * i / 100.0;
        int64_t nh = (int64_t)((double)h0 * s), nw = (int64_t)((double)w0 * s); /* Python int(): truncation */
        int64_t ph = round_up(nh, divisor), pw = round_up(nw, divisor);
        if (ph > 0 && pw > 0 && ph * pw <= max_area) {
            *height = ph;
            *width = pw;
            if (iteration) *iteration = i;
            return LAVR_OK;
        }
    }
    /* Fallback of the reference (only for extreme aspect ratios): sides from the aspect ratio,
     * floored to the divisor, or the image's own floored size if that would upscale. */
    double aspect = (double)w0 / (double)h0;
    int64_t tw = (int64_t)(floor(sqrt(area * aspect) / (double)divisor) * (double)divisor);
    int64_t th = (int64_t)(floor(sqrt(area / aspect) / (double)divisor) * (double)divisor);
    if (tw >= w0 || th >= h0) {
        tw = w0 / divisor * divisor;
        th = h0 / divisor * divisor;
    }
    if (tw <= 0 || th <= 0)
        return LAVR_FAIL(LAVR_E_ARG, "image %lldx%lld is too thin for a %lld-pixel output with sides multiple of %lld",
                         (long long)w0, (long long)h0, (long long)max_area, (long long)divisor);
    *height = th;
    *width = tw;
    if (iteration) *iteration = -1;
    return LAVR_OK;
}
