/* Tests of the readers builds without FFmpeg/libsndfile use (io/ppm.c, io/wav_read.c): a drawn portrait through
 * PPM equals its pixels and, where the build has FFmpeg, FFmpeg's decode of the same file; 16 kHz WAV written by
 * lavr_wav_write reads back as libsndfile reads it (where the build has it) and as its 16-bit values; other
 * formats, rates and cut-off files are one-line refusals. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/audio.h"
#include "io/image.h"
#include "io/ppm.h"
#include "io/sample_inputs.h"
#include "io/wav_read.h"
#include "tests/check.h"

static char dir[512];

static void test_ppm(void) {
    char path[600], bad[600];
    snprintf(path, sizeof path, "%s/ppm_portrait.ppm", dir);
    const int64_t w = 37, h = 21;
    uint8_t *rgb = malloc((size_t)(w * h * 3)), *back = NULL;
    CHECK_OK(lavr_sample_portrait(rgb, w, h));
    CHECK_OK(lavr_sample_portrait_ppm(path, w, h));
    int64_t bw = 0, bh = 0;
    CHECK_OK(lavr_ppm_read(path, &back, &bw, &bh));
    CHECK(bw == w && bh == h && back && memcmp(back, rgb, (size_t)(w * h * 3)) == 0);
    free(back);
#if LAVR_HAVE_FFMPEG
    lavr_rgb8 img;
    CHECK_OK(lavr_image_decode(path, &img)); /* FFmpeg's PPM decoder */
    CHECK(img.width == w && img.height == h && memcmp(img.rgb, rgb, (size_t)(w * h * 3)) == 0);
    lavr_rgb8_free(&img);
#endif
    /* cut off, and not a PPM */
    snprintf(bad, sizeof bad, "%s/ppm_cut.ppm", dir);
    FILE *f = fopen(bad, "wb");
    fprintf(f, "P6\n# a comment\n%lld %lld\n255\n", (long long)w, (long long)h);
    fwrite(rgb, 1, 100, f);
    fclose(f);
    CHECK_FAILS(lavr_ppm_read(bad, &back, &bw, &bh), LAVR_E_FORMAT);
    CHECK(strstr(lavr_error_message(), "cut off") != NULL);
    f = fopen(bad, "wb");
    fprintf(f, "P3\n1 1\n255\n0 0 0\n");
    fclose(f);
    CHECK_FAILS(lavr_ppm_read(bad, &back, &bw, &bh), LAVR_E_FORMAT);
    free(rgb);
}

static void test_wav(void) {
    char path[600], other[600];
    snprintf(path, sizeof path, "%s/wav16k.wav", dir);
    snprintf(other, sizeof other, "%s/wav22k.wav", dir);
    const int64_t n = 5000;
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(0.8 * sin(0.01 * (double)i * (1 + i % 7)));
    CHECK_OK(lavr_wav_write(path, x, n, LAVR_AUDIO_RATE));
    lavr_audio a;
    CHECK_OK(lavr_wav_read_pcm16(path, -1, 1, &a));
    CHECK(a.nsamples == n && a.rate == LAVR_AUDIO_RATE && a.source_channels == 1 && a.samples);
    int exact = a.samples != NULL;
    /* the writer's 16-bit values (x * 32767 rounded) over 32768, as libsndfile normalises them */
    for (int64_t i = 0; exact && i < n; i++) exact = a.samples[i] == (float)lrintf(x[i] * 32767.0f) / 32768.0f;
    CHECK(exact);
#if LAVR_HAVE_SNDFILE
    lavr_audio s;
    CHECK_OK(lavr_audio_read(path, &s));
    CHECK(s.nsamples == n);
    int same = s.nsamples == n;
    for (int64_t i = 0; same && i < n; i++) same = fabsf(s.samples[i] - a.samples[i]) <= 1e-7f;
    CHECK(same);
    lavr_audio_free(&s);
#endif
    lavr_audio head;
    CHECK_OK(lavr_wav_read_pcm16(path, 1234, 1, &head));
    CHECK(head.nsamples == 1234 && memcmp(head.samples, a.samples, 1234 * sizeof(float)) == 0);
    lavr_audio_free(&head);
    lavr_audio_free(&a);
    CHECK_OK(lavr_wav_write(other, x, n, 22050));
    CHECK_FAILS(lavr_wav_read_pcm16(other, -1, 1, &a), LAVR_E_UNSUPPORTED);
    CHECK(strstr(lavr_error_message(), "22050 Hz") != NULL);
    free(x);
}

int main(void) {
    const char *t = getenv("LAVR_TEST_TMP");
    snprintf(dir, sizeof dir, "%s", t ? t : "/tmp");
    test_ppm();
    test_wav();
    return check_summary("test_ppm_wav");
}
