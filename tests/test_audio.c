/* Audio input tests: a 44.1 kHz stereo 1 kHz sine written here comes out at 16 kHz mono with the
 * right length, frequency and level; FLAC/OGG/MP3 made by the ffmpeg CLI load; bad files fail. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/audio.h"
#include "tests/check.h"

#if LAVR_HAVE_SNDFILE
#include <sndfile.h>
#endif

static char tmpdir[512];
static void tmp_path(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", tmpdir, name); }

#define SRC_RATE 44100
#define SECONDS 1.5

#if LAVR_HAVE_SNDFILE
/* Left 0.5 sin, right 0.3 sin of 1 kHz: the downmix (channel mean) has amplitude 0.4. */
static int write_sine(const char *path) {
    SF_INFO info = {.samplerate = SRC_RATE, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) return 0;
    int64_t n = (int64_t)(SRC_RATE * SECONDS);
    float *buf = malloc(sizeof(float) * 2 * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        double s = sin(2 * M_PI * 1000.0 * (double)i / SRC_RATE);
        buf[2 * i] = (float)(0.5 * s);
        buf[2 * i + 1] = (float)(0.3 * s);
    }
    int ok = sf_writef_float(sf, buf, n) == n;
    free(buf);
    sf_close(sf);
    return ok;
}

/* |DFT| at frequency f over [from, to), normalised to amplitude. */
static double tone_amplitude(const float *x, int64_t from, int64_t to, double f, int rate) {
    double re = 0, im = 0;
    for (int64_t i = from; i < to; i++) {
        re += x[i] * cos(2 * M_PI * f * (double)i / rate);
        im -= x[i] * sin(2 * M_PI * f * (double)i / rate);
    }
    return 2 * sqrt(re * re + im * im) / (double)(to - from);
}

static void test_sine(void) {
    char p[600];
    tmp_path(p, sizeof p, "sine.wav");
    CHECK(write_sine(p));
    lavr_audio a;
    CHECK_OK(lavr_audio_load(p, &a));
    if (!a.samples) return;
    CHECK(a.rate == 16000 && a.source_rate == SRC_RATE && a.source_channels == 2);
    CHECK(a.source_frames == (int64_t)(SRC_RATE * SECONDS));
    CHECK_MSG(a.nsamples == (int64_t)(16000 * SECONDS), /* librosa: ceil(n * 16000 / rate) */ "%lld samples", (long long)a.nsamples);
    /* steady part (skip 0.1 s at both ends): 1 kHz at amplitude 0.4 within 0.5%, nothing at 900 Hz;
     * 2 zero crossings per period -> 2000 per second. */
    int64_t from = 1600, to = a.nsamples - 1600;
    double amp = tone_amplitude(a.samples, from, to, 1000.0, 16000);
    CHECK_NEAR(amp, 0.4, 0.002);
    CHECK(tone_amplitude(a.samples, from, to, 900.0, 16000) < 1e-3);
    int crossings = 0;
    for (int64_t i = from + 1; i < from + 16000; i++) crossings += (a.samples[i - 1] < 0) != (a.samples[i] < 0);
    CHECK_MSG(abs(crossings - 2000) <= 1, "%d zero crossings in 1 s", crossings);
    double rms = 0;
    for (int64_t i = from; i < to; i++) rms += (double)a.samples[i] * a.samples[i];
    CHECK_NEAR(sqrt(rms / (double)(to - from)), 0.4 / sqrt(2.0), 0.002);
    lavr_audio_free(&a);
}

/* Other containers, converted by the ffmpeg CLI from the same sine (lossy codecs: level within 5%). */
static void test_formats(void) {
    static const char *ext[] = {"flac", "ogg", "mp3"};
    char cmd[2000];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && ffmpeg -v error -y -i sine.wav -c:a flac sine.flac && ffmpeg -v error -y -i sine.wav -c:a libvorbis sine.ogg"
             " && ffmpeg -v error -y -i sine.wav -c:a libmp3lame -b:a 192k sine.mp3",
             tmpdir);
    CHECK(system(cmd) == 0);
    for (int k = 0; k < 3; k++) {
        char p[600], name[32];
        snprintf(name, sizeof name, "sine.%s", ext[k]);
        tmp_path(p, sizeof p, name);
        lavr_audio a;
        CHECK_OK(lavr_audio_load(p, &a));
        if (!a.samples) continue;
        CHECK_MSG(a.source_rate == SRC_RATE && a.source_channels == 2, "%s: %d Hz %d ch", name, a.source_rate,
                  a.source_channels);
        /* MP3 adds encoder delay and padding (up to ~2 frames of 1152) */
        CHECK_MSG(llabs(a.nsamples - 24000) <= 1000, "%s: %lld samples", name, (long long)a.nsamples);
        double amp = tone_amplitude(a.samples, 4000, 20000, 1000.0, 16000);
        CHECK_MSG(fabs(amp - 0.4) < 0.02, "%s: amplitude %g", name, amp);
        lavr_audio_free(&a);
    }
}
/* A float WAV of n frames at 16 kHz mono with value v at frame `at` (the rest a quiet tone). */
static int write_with(const char *path, int64_t n, int64_t at, float v) {
    SF_INFO info = {.samplerate = 16000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) return 0;
    float *buf = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) buf[i] = (float)(0.1 * sin(0.05 * (double)i));
    if (at >= 0) buf[at] = v;
    int ok = sf_writef_float(sf, buf, n) == n;
    free(buf);
    sf_close(sf);
    return ok;
}

/* NaN and Inf samples are refused naming the file and the time; a cut-off WAV, an M4A (FFmpeg's
 * path), a directory; a scan measures without keeping samples. */
static void test_damaged(void) {
    char p[600], cmd[2000];
    lavr_audio a;
    tmp_path(p, sizeof p, "nan.wav");
    CHECK(write_with(p, 32000, 24000, NAN));
    CHECK_FAILS(lavr_audio_load(p, &a), LAVR_E_FORMAT);
    CHECK_MSG(strstr(lavr_error_message(), "nan.wav': sample 24000 of channel 1 (at 1.500 s) is NaN") != NULL, "%s",
              lavr_error_message());
    CHECK(a.samples == NULL);
    CHECK_FAILS(lavr_audio_scan(p, &a), LAVR_E_FORMAT);
    tmp_path(p, sizeof p, "inf.wav");
    CHECK(write_with(p, 32000, 5, -INFINITY));
    CHECK_FAILS(lavr_audio_load(p, &a), LAVR_E_FORMAT);
    CHECK(strstr(lavr_error_message(), "is infinite") != NULL);

    /* the first 40000 bytes of a 4 s 16-bit WAV: libsndfile reads 1.25 s without a word */
    tmp_path(p, sizeof p, "whole.wav");
    static float tone[64000];
    for (int i = 0; i < 64000; i++) tone[i] = (float)(0.2 * sin(0.01 * i));
    CHECK_OK(lavr_wav_write(p, tone, 64000, 16000));
    CHECK_OK(lavr_audio_scan(p, &a));
    CHECK(!lavr_audio_truncated(&a) && a.source_frames == 64000 && fabs(a.declared_seconds - 4.0) < 1e-9);
    CHECK(a.samples == NULL && a.nsamples == 64000 && fabs(a.peak - 0.2) < 1e-3);
    snprintf(cmd, sizeof cmd, "cd '%s' && head -c 40000 whole.wav > cut.wav", tmpdir);
    CHECK(system(cmd) == 0);
    tmp_path(p, sizeof p, "cut.wav");
    CHECK_OK(lavr_audio_load(p, &a));
    CHECK_MSG(lavr_audio_truncated(&a) && a.source_frames == (40000 - 44) / 2, "%lld frames", (long long)a.source_frames);
    lavr_audio_free(&a);

    /* M4A (AAC): libsndfile does not read it, FFmpeg does */
    snprintf(cmd, sizeof cmd, "cd '%s' && ffmpeg -v error -y -i sine.wav -c:a aac -b:a 128k sine.m4a", tmpdir);
    CHECK(system(cmd) == 0);
    tmp_path(p, sizeof p, "sine.m4a");
#if LAVR_HAVE_FFMPEG
    CHECK_OK(lavr_audio_load(p, &a));
    CHECK_MSG(a.source_rate == SRC_RATE && a.source_channels == 2 && llabs(a.nsamples - 24000) <= 1000,
              "m4a: %d Hz %d ch %lld samples", a.source_rate, a.source_channels, (long long)a.nsamples);
    if (a.samples) CHECK_MSG(fabs(tone_amplitude(a.samples, 4000, 20000, 1000.0, 16000) - 0.4) < 0.02, "m4a level");
    lavr_audio_free(&a);
#else
    CHECK_FAILS(lavr_audio_load(p, &a), LAVR_E_MEDIA);
#endif
    CHECK_FAILS(lavr_audio_load(tmpdir, &a), LAVR_E_IO);
    CHECK(strstr(lavr_error_message(), "is a directory") != NULL);
}
#endif

int main(void) {
    const char *t = getenv("LAVR_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_audio", t ? t : "/tmp");
    mkdir(tmpdir, 0777);
    char p[600];
    /* the WAV writer (no library): 3 samples -> 44 + 6 bytes, values clamped and rounded */
    tmp_path(p, sizeof p, "three.wav");
    const float three[3] = {0.5f, -2.0f, 1.0f};
    CHECK_OK(lavr_wav_write(p, three, 3, 16000));
    FILE *f = fopen(p, "rb");
    unsigned char b[50] = {0};
    CHECK(f && fread(b, 1, 50, f) == 50);
    if (f) fclose(f);
    CHECK(memcmp(b, "RIFF", 4) == 0 && b[24] == 0x80 && b[25] == 0x3e && (int16_t)(b[44] | b[45] << 8) == 16384 &&
          (int16_t)(b[46] | b[47] << 8) == -32767 && (int16_t)(b[48] | b[49] << 8) == 32767);
#if LAVR_HAVE_SNDFILE
    test_sine();
    test_formats();
    lavr_audio a;
    tmp_path(p, sizeof p, "empty.wav");
    fclose(fopen(p, "wb"));
    CHECK_FAILS(lavr_audio_load(p, &a), LAVR_E_FORMAT);
    CHECK(strstr(lavr_error_message(), "empty") != NULL);
    tmp_path(p, sizeof p, "nosamples.wav");
    CHECK_OK(lavr_wav_write(p, NULL, 0, 16000));
    CHECK_FAILS(lavr_audio_load(p, &a), LAVR_E_FORMAT);
    tmp_path(p, sizeof p, "text.wav");
    f = fopen(p, "wb");
    fputs("this is not audio at all, just some text", f);
    fclose(f);
    CHECK_FAILS(lavr_audio_load(p, &a), LAVR_E_MEDIA);
    tmp_path(p, sizeof p, "missing.wav");
    CHECK_FAILS(lavr_audio_load(p, &a), LAVR_E_IO);
    /* silence loads (with a warning) and reports peak 0 */
    static float zeros[1600];
    tmp_path(p, sizeof p, "silent.wav");
    CHECK_OK(lavr_wav_write(p, zeros, 1600, 16000));
    CHECK_OK(lavr_audio_load(p, &a));
    CHECK(a.nsamples == 1600 && a.peak == 0.0f);
    lavr_audio_free(&a);
    test_damaged();
    return check_summary("test_audio");
#else
    lavr_audio a;
    CHECK_FAILS(lavr_audio_load(p, &a), LAVR_E_UNSUPPORTED);
    return check_summary("test_audio (no libsndfile: only the refusal and the WAV writer are tested)");
#endif
}
