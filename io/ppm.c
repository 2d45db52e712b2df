/* Binary PPM (io/ppm.h): the header "P6 W H 255" with '#' comments between its fields, then the raw rows. A
 * format this small needs no library. */
#include "io/ppm.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

lavr_status lavr_ppm_write(const char *path, const uint8_t *rgb, int64_t width, int64_t height) {
    CHECK_ARG(path && rgb && width > 0 && height > 0 && width <= 65535 && height <= 65535,
              "lavr_ppm_write: bad arguments");
    char partial[4096];
    snprintf(partial, sizeof partial, "%s.partial", path);
    FILE *f = fopen(partial, "wb");
    if (!f) return LAVR_FAIL(LAVR_E_IO, "cannot write '%s': %s", partial, strerror(errno));
    const size_t n = (size_t)(width * height * 3);
    int ok = fprintf(f, "P6\n%lld %lld\n255\n", (long long)width, (long long)height) > 0 && fwrite(rgb, 1, n, f) == n;
    ok = fclose(f) == 0 && ok;
    if (ok && rename(partial, path) == 0) return LAVR_OK;
    remove(partial);
    return LAVR_FAIL(LAVR_E_IO, "cannot write '%s': %s", path, strerror(errno));
}

/* The next header number, skipping white space and comments; -1 when there is none. */
static long header_number(FILE *f) {
    int c = fgetc(f);
    for (;;) {
        while (c != EOF && isspace(c)) c = fgetc(f);
        if (c != '#') break;
        while (c != EOF && c != '\n') c = fgetc(f);
    }
    if (c == EOF || !isdigit(c)) return -1;
    long v = 0;
    while (c != EOF && isdigit(c) && v < 1000000) v = v * 10 + (c - '0'), c = fgetc(f);
    return c != EOF && isspace(c) ? v : -1; /* one white space ends the header's last field */
}

lavr_status lavr_ppm_read(const char *path, uint8_t **rgb, int64_t *width, int64_t *height) {
    CHECK_ARG(path && rgb && width && height, "lavr_ppm_read: NULL argument");
    *rgb = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return LAVR_FAIL(LAVR_E_IO, "cannot open image '%s': %s", path, strerror(errno));
    char magic[2] = {0};
    lavr_status st = LAVR_OK;
    if (fread(magic, 1, 2, f) != 2 || magic[0] != 'P' || magic[1] != '6') {
        st = LAVR_FAIL(LAVR_E_FORMAT, "image '%s' is not a binary PPM (P6); this build has no FFmpeg for JPEG, PNG "
                                      "or WebP (reconfigure with -DLAVR_FFMPEG=ON)", path);
    } else {
        const long w = header_number(f), h = header_number(f), maxval = header_number(f);
        if (w <= 0 || h <= 0 || w > 65535 || h > 65535 || maxval != 255) {
            st = LAVR_FAIL(LAVR_E_FORMAT, "PPM '%s': header %ldx%ld maxval %ld, lavr reads 8-bit P6 (maxval 255)", path,
                           w, h, maxval);
        } else {
            const size_t n = (size_t)w * (size_t)h * 3;
            *rgb = malloc(n);
            if (!*rgb) st = LAVR_FAIL(LAVR_E_NOMEM, "no memory for image '%s'", path);
            else if (fread(*rgb, 1, n, f) != n)
                st = LAVR_FAIL(LAVR_E_FORMAT, "PPM '%s' is cut off: %ldx%ld pixels announced", path, w, h);
            *width = w, *height = h;
        }
    }
    fclose(f);
    if (st) {
        free(*rgb);
        *rgb = NULL;
    }
    return st;
}
