/* 16-bit PCM WAV at 16 kHz (io/wav_read.h): the RIFF chunks up to "data", then the samples, downmixed. A reader
 * this small stands in for libsndfile where the build has none (the GPU machine's). */
#include "io/wav_read.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t le32(const uint8_t *p) {
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static int le16(const uint8_t *p) { return p[0] | p[1] << 8; }

#define NEEDS_SNDFILE                                                                                              \
    "this build has no libsndfile and reads only 16 kHz 16-bit PCM WAV (reconfigure with -DLAVR_SNDFILE=ON)"

/* Seeks f to the data chunk after a 16-bit PCM 16 kHz fmt chunk: *channels and *bytes of data. */
static lavr_status find_data(FILE *f, const char *path, int *channels, uint32_t *bytes) {
    uint8_t h[16];
    if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4))
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "audio '%s' is not a WAV file: %s", path, NEEDS_SNDFILE);
    int have_fmt = 0;
    for (int chunks = 0; chunks < 64 && fread(h, 1, 8, f) == 8; chunks++) {
        const uint32_t size = le32(h + 4);
        if (!memcmp(h, "fmt ", 4) && size >= 16) {
            uint8_t fmt[16];
            if (fread(fmt, 1, 16, f) != 16) break;
            const int format = le16(fmt), ch = le16(fmt + 2), bits = le16(fmt + 14);
            const uint32_t rate = le32(fmt + 4);
            if (format != 1 || bits != 16 || rate != LAVR_AUDIO_RATE || ch < 1)
                return LAVR_FAIL(LAVR_E_UNSUPPORTED, "audio '%s' is format %d, %d bit, %u Hz: %s", path, format, bits,
                                 rate, NEEDS_SNDFILE);
            *channels = ch;
            have_fmt = 1;
            if (fseek(f, (long)(size - 16 + (size & 1)), SEEK_CUR) != 0) break;
        } else if (!memcmp(h, "data", 4)) {
            if (!have_fmt) break;
            *bytes = size;
            return LAVR_OK;
        } else if (fseek(f, (long)size + (long)(size & 1), SEEK_CUR) != 0) {
            break;
        }
    }
    return LAVR_FAIL(LAVR_E_FORMAT, "WAV '%s' has no fmt and data chunk lavr can read", path);
}

lavr_status lavr_wav_read_pcm16(const char *path, int64_t max_samples, int keep, lavr_audio *out) {
    CHECK_ARG(path && out, "lavr_wav_read_pcm16: NULL argument");
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return LAVR_FAIL(LAVR_E_IO, "cannot open audio '%s': %s", path, strerror(errno));
    int channels = 1;
    uint32_t bytes = 0;
    lavr_status st = find_data(f, path, &channels, &bytes);
    int16_t *raw = NULL;
    float *mono = NULL;
    int64_t frames = 0;
    if (!st) {
        /* a streaming placeholder size (0 or 0xFFFFFFFF) reads to the end of the file */
        const int64_t announced = bytes == 0 || bytes == 0xFFFFFFFFu ? INT64_MAX : (int64_t)bytes / (2 * channels);
        int64_t cap = max_samples >= 0 && max_samples < announced ? max_samples : announced;
        if (cap == INT64_MAX) cap = 1 << 20;
        raw = malloc((size_t)cap * (size_t)channels * sizeof *raw);
        if (!raw) st = LAVR_FAIL(LAVR_E_NOMEM, "no memory to read '%s'", path);
        while (!st && frames < cap) {
            const size_t got =
                fread(raw + frames * channels, (size_t)channels * sizeof *raw, (size_t)(cap - frames), f);
            frames += (int64_t)got;
            if (got == 0) break;
            if (frames == cap && announced == INT64_MAX && max_samples < 0) {
                int16_t *grown = realloc(raw, (size_t)(2 * cap) * (size_t)channels * sizeof *raw);
                if (!grown) st = LAVR_FAIL(LAVR_E_NOMEM, "no memory to read '%s'", path);
                else raw = grown, cap *= 2;
            }
        }
        if (!st && frames == 0) st = LAVR_FAIL(LAVR_E_FORMAT, "audio file '%s' holds no samples", path);
        out->declared_seconds = announced == INT64_MAX ? -1 : (double)announced / LAVR_AUDIO_RATE;
    }
    if (!st) {
        mono = malloc((size_t)frames * sizeof *mono);
        if (!mono) st = LAVR_FAIL(LAVR_E_NOMEM, "no memory for %lld audio samples", (long long)frames);
    }
    for (int64_t i = 0; !st && i < frames; i++) {
        double sum = 0;
        for (int c = 0; c < channels; c++) sum += raw[i * channels + c] / 32768.0;
        mono[i] = (float)(sum / channels);
        out->peak = fmaxf(out->peak, fabsf(mono[i]));
    }
    fclose(f);
    free(raw);
    if (st) {
        free(mono);
        memset(out, 0, sizeof *out);
        return st;
    }
    out->nsamples = frames;
    out->rate = out->source_rate = LAVR_AUDIO_RATE;
    out->source_channels = channels;
    out->source_frames = frames;
    if (keep) out->samples = mono;
    else free(mono);
    return LAVR_OK;
}
