/* Image input tests: files made by the ffmpeg CLI from synthetic patterns (PNG 8/16-bit, gray,
 * alpha, JPEG, WebP) decode to the expected pixels; the resize + centre crop matches an independent
 * double-precision triangle filter and pads with black; bad files give clear errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/image.h"
#include "tests/check.h"

#define PW 96
#define PH 64

static char tmpdir[512];

/* Four solid quadrants plus a diagonal gradient in the bottom-right one. */
static void pattern(int x, int y, uint8_t rgb[3]) {
    static const uint8_t q[4][3] = {{200, 30, 40}, {20, 180, 60}, {30, 50, 220}, {240, 240, 240}};
    int k = (y >= PH / 2) * 2 + (x >= PW / 2);
    memcpy(rgb, q[k], 3);
    if (k == 3) rgb[0] = (uint8_t)(x + y);
}
static uint8_t alpha_at(int x, int y) { return (uint8_t)((x * 255) / (PW - 1) * (y < PH / 2) + 255 * (y >= PH / 2)); }
static uint16_t gray16_at(int x, int y) { return (uint16_t)(x * 600 + y * 100); }

static void tmp_path(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", tmpdir, name); }

static int write_sources(void) {
    char p[600];
    tmp_path(p, sizeof p, "src.ppm");
    FILE *f = fopen(p, "wb");
    if (!f) return 0;
    fprintf(f, "P6\n%d %d\n255\n", PW, PH);
    for (int y = 0; y < PH; y++)
        for (int x = 0; x < PW; x++) {
            uint8_t c[3];
            pattern(x, y, c);
            fwrite(c, 1, 3, f);
        }
    fclose(f);
    tmp_path(p, sizeof p, "src.pam");
    f = fopen(p, "wb");
    fprintf(f, "P7\nWIDTH %d\nHEIGHT %d\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n", PW, PH);
    for (int y = 0; y < PH; y++)
        for (int x = 0; x < PW; x++) {
            uint8_t c[4];
            pattern(x, y, c);
            c[3] = alpha_at(x, y);
            fwrite(c, 1, 4, f);
        }
    fclose(f);
    tmp_path(p, sizeof p, "src16.pgm");
    f = fopen(p, "wb");
    fprintf(f, "P5\n%d %d\n65535\n", PW, PH);
    for (int y = 0; y < PH; y++)
        for (int x = 0; x < PW; x++) {
            uint16_t v = gray16_at(x, y);
            uint8_t be[2] = {(uint8_t)(v >> 8), (uint8_t)v};
            fwrite(be, 1, 2, f);
        }
    fclose(f);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && ffmpeg -v error -y -i src.ppm rgb.png && ffmpeg -v error -y -i src.ppm -pix_fmt rgb48be rgb48.png"
             " && ffmpeg -v error -y -i src.ppm -q:v 2 rgb.jpg && ffmpeg -v error -y -i src.ppm -c:v libwebp -quality 95 rgb.webp"
             " && ffmpeg -v error -y -i src.pam -pix_fmt rgba rgba.png && ffmpeg -v error -y -i src.pam -c:v libwebp -lossless 1 rgba.webp"
             " && ffmpeg -v error -y -i src16.pgm -pix_fmt gray16be gray16.png && ffmpeg -v error -y -i src16.pgm -pix_fmt gray gray8.png"
             " && printf 'not an image' > text.png && : > empty.jpg",
             tmpdir);
    return system(cmd) == 0;
}

/* Compares decoded pixels with expect(); interior_only skips pixels within 4 of a quadrant edge
 * (lossy codecs blur edges). Returns the max abs error. */
static int max_error(const lavr_rgb8 *img, int interior_only, int skip_transparent) {
    int worst = 0;
    for (int y = 0; y < PH; y++)
        for (int x = 0; x < PW; x++) {
            if (interior_only && (abs(x - PW / 2) < 5 || abs(y - PH / 2) < 5 || x < 4 || y < 4 || x >= PW - 4 || y >= PH - 4 || (x >= PW / 2 && y >= PH / 2)))
                continue;
            if (skip_transparent && alpha_at(x, y) == 0) continue;
            uint8_t c[3];
            pattern(x, y, c);
            for (int k = 0; k < 3; k++) {
                int e = c[k]; /* alpha dropped, colour kept even where alpha is 0 (PIL's convert('RGB')) */
                int d = abs(e - img->rgb[((int64_t)y * PW + x) * 3 + k]);
                if (d > worst) worst = d;
            }
        }
    return worst;
}

static void check_file_as(const char *name, int interior, int tol, int gray, int alpha, int skip_transparent) {
    char p[600];
    tmp_path(p, sizeof p, name);
    lavr_rgb8 img;
    CHECK_OK(lavr_image_decode(p, &img));
    if (!img.rgb) return;
    CHECK(img.width == PW && img.height == PH);
    int e = max_error(&img, interior, skip_transparent);
    CHECK_MSG(e <= tol, "%s: max error %d > %d (decoded as %s)", name, e, tol, img.source_format);
    CHECK_MSG(img.source_gray == gray && img.source_has_alpha == alpha, "%s: gray %d alpha %d", name, img.source_gray,
              img.source_has_alpha);
    lavr_rgb8_free(&img);
}

static void check_file(const char *name, int interior, int tol, int gray, int alpha) {
    check_file_as(name, interior, tol, gray, alpha, 0);
}

static void check_gray16(const char *name, int tol) {
    char p[600];
    tmp_path(p, sizeof p, name);
    lavr_rgb8 img;
    CHECK_OK(lavr_image_decode(p, &img));
    if (!img.rgb) return;
    int worst = 0;
    for (int y = 0; y < PH; y++)
        for (int x = 0; x < PW; x++) {
            int e = (int)lrint(gray16_at(x, y) / 65535.0 * 255.0);
            for (int k = 0; k < 3; k++) worst = fmax(worst, abs(e - img.rgb[((int64_t)y * PW + x) * 3 + k]));
        }
    CHECK_MSG(worst <= tol && img.source_gray, "%s: max error %d (format %s)", name, worst, img.source_format);
    lavr_rgb8_free(&img);
}

/* Independent reference: antialiased triangle filter in double precision, separable, with the
 * same centre mapping; differs from Pillow's fixed point by at most one level per pass. */
static double ref_resample(const lavr_rgb8 *s, int64_t ow, int64_t oh, int64_t x, int64_t y, int c) {
    double sx = (double)s->width / ow, sy = (double)s->height / oh;
    double fx = sx > 1 ? sx : 1, fy = sy > 1 ? sy : 1;
    double cx = (x + 0.5) * sx, cy = (y + 0.5) * sy, acc = 0, wsum = 0;
    for (int64_t j = 0; j < s->height; j++) {
        double wy = 1 - fabs((j + 0.5 - cy) / fy);
        if (wy <= 0) continue;
        for (int64_t i = 0; i < s->width; i++) {
            double wx = 1 - fabs((i + 0.5 - cx) / fx);
            if (wx <= 0) continue;
            acc += wx * wy * s->rgb[(j * s->width + i) * 3 + c];
            wsum += wx * wy;
        }
    }
    return acc / wsum;
}

static void test_fit(void) {
    /* a 720x400 picture at area 288000 -> 384x704: resized to 691x384, 6 px black left, 7 right */
    lavr_rgb8 src = {.width = 720, .height = 400};
    src.rgb = malloc(720 * 400 * 3);
    for (int64_t i = 0; i < 720 * 400; i++)
        for (int c = 0; c < 3; c++) src.rgb[i * 3 + c] = (uint8_t)((i % 720) * (c + 1) / 11 + (i / 720) / 3);
    int64_t H = 384, W = 704;
    float *out = malloc(sizeof(float) * 3 * H * W);
    for (int64_t i = 0; i < 3 * H * W; i++) out[i] = NAN;
    CHECK_OK(lavr_image_fit(&src, H, W, out));
    int pad_ok = 1, nan_free = 1;
    double worst = 0;
    for (int c = 0; c < 3; c++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++) {
                float v = out[(c * H + y) * W + x];
                if (isnan(v)) nan_free = 0;
                if (x < 6 || x >= 704 - 7) {
                    if (v != -1.0f) pad_ok = 0;
                } else if (y % 37 == 0 && x % 23 == 0) {
                    double ref = ref_resample(&src, 691, 384, x - 6, y, c) / 255.0 * 2 - 1;
                    worst = fmax(worst, fabs(ref - v));
                }
            }
    CHECK(nan_free && pad_ok);
    CHECK_MSG(worst <= 2.5 * 2 / 255.0, "resize differs from the double-precision filter by %g", worst);
    free(out);
    /* a larger picture is cropped around its centre: a 10-px band marks the middle column */
    src.width = 1000, src.height = 500;
    free(src.rgb);
    src.rgb = calloc(1000 * 500 * 3, 1);
    for (int64_t y = 0; y < 500; y++)
        for (int64_t x = 495; x < 505; x++) memset(src.rgb + (y * 1000 + x) * 3, 255, 3);
    out = malloc(sizeof(float) * 3 * 256 * 256);
    CHECK_OK(lavr_image_fit(&src, 256, 256, out));
    /* 1000x500 -> 512x256, band at 253.4..258.6, crop offset 128 -> output columns 125..130 */
    CHECK(out[128 * 256 + 127] > 0.9f && out[128 * 256 + 128] > 0.9f && out[128 * 256 + 118] == -1.0f &&
          out[128 * 256 + 138] == -1.0f);
    free(out);
    free(src.rgb);
}

int main(void) {
    const char *t = getenv("LAVR_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_image", t ? t : "/tmp");
    mkdir(tmpdir, 0777);
    test_fit();
    if (!LAVR_HAVE_FFMPEG) {
        lavr_rgb8 img;
        CHECK_FAILS(lavr_image_decode("x.png", &img), LAVR_E_UNSUPPORTED);
        return check_summary("test_image (no FFmpeg: decoding not tested)");
    }
    CHECK(write_sources());
    check_file("rgb.png", 0, 0, 0, 0);
    check_file("rgb48.png", 0, 1, 0, 0); /* ffmpeg's own 8->16 bit scaling may be off by one */
    check_file("rgba.png", 0, 0, 0, 1);   /* alpha 0 over the top-left: colour channels still there */
    check_file_as("rgba.webp", 0, 0, 0, 1, 1); /* libwebp itself rewrites the colour where alpha is 0 */
    check_file("rgb.jpg", 1, 8, 0, 0);
    check_file("rgb.webp", 1, 10, 0, 0);
    check_gray16("gray16.png", 0);
    check_gray16("gray8.png", 1);

    /* the whole path: a 720x400 PNG at --size 720*400 becomes 384x704 */
    char p[600], cmd[1200];
    tmp_path(p, sizeof p, "wide.png");
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -y -f lavfi -i testsrc=size=720x400 -frames:v 1 '%s'", p);
    CHECK(system(cmd) == 0);
    lavr_image img;
    CHECK_OK(lavr_image_load(p, 720 * 400, &img));
    CHECK(img.height == 384 && img.width == 704 && img.data && img.data[0] == -1.0f);
    lavr_image_free(&img);

    lavr_rgb8 bad;
    tmp_path(p, sizeof p, "missing.png");
    CHECK_FAILS(lavr_image_decode(p, &bad), LAVR_E_IO);
    tmp_path(p, sizeof p, "text.png");
    CHECK_FAILS(lavr_image_decode(p, &bad), LAVR_E_MEDIA);
    tmp_path(p, sizeof p, "empty.jpg");
    CHECK_FAILS(lavr_image_decode(p, &bad), LAVR_E_MEDIA);
    printf("error for an empty file: %s\n", lavr_error_message());
    return check_summary("test_image");
}
