/* Audio input through libsndfile + libsamplerate (streamed in chunks: read, downmix, resample) and
 * a dependency-free 16-bit WAV writer used by the raw video output. */
#include "io/audio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#if LAVR_HAVE_SNDFILE
#include <samplerate.h>
#include <sndfile.h>
#endif

void lavr_audio_free(lavr_audio *a) {
    if (!a) return;
    free(a->samples);
    memset(a, 0, sizeof *a);
}

#if LAVR_HAVE_SNDFILE

#define CHUNK_FRAMES 65536

typedef struct {
    float *data;
    int64_t n, cap;
} sample_buffer;

static lavr_status buffer_reserve(sample_buffer *b, int64_t extra) {
    if (b->n + extra <= b->cap) return LAVR_OK;
    int64_t cap = b->cap ? b->cap : CHUNK_FRAMES;
    while (cap < b->n + extra) cap *= 2;
    float *d = realloc(b->data, sizeof(float) * (size_t)cap);
    if (!d) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for %lld audio samples", (long long)cap);
    b->data = d;
    b->cap = cap;
    return LAVR_OK;
}

static lavr_status read_resampled(SNDFILE *sf, const SF_INFO *info, const char *path, sample_buffer *out) {
    int ch = info->channels;
    float *frames = malloc(sizeof(float) * (size_t)CHUNK_FRAMES * (size_t)ch);
    float *mono = malloc(sizeof(float) * CHUNK_FRAMES);
    if (!frames || !mono) {
        free(frames);
        free(mono);
        return LAVR_FAIL(LAVR_E_NOMEM, "no memory to read '%s'", path);
    }
    lavr_status st = LAVR_OK;
    int err = 0;
    SRC_STATE *src = NULL;
    double ratio = (double)LAVR_AUDIO_RATE / (double)info->samplerate;
    if (info->samplerate != LAVR_AUDIO_RATE) {
        src = src_new(SRC_SINC_BEST_QUALITY, 1, &err);
        if (!src) {
            st = LAVR_FAIL(LAVR_E_MEDIA, "libsamplerate: %s", src_strerror(err));
            goto done;
        }
    }
    for (int eof = 0; !eof;) {
        sf_count_t got = sf_readf_float(sf, frames, CHUNK_FRAMES);
        if (got < 0 || sf_error(sf)) {
            st = LAVR_FAIL(LAVR_E_MEDIA, "'%s': read error: %s", path, sf_strerror(sf));
            goto done;
        }
        eof = got < CHUNK_FRAMES;
        for (sf_count_t i = 0; i < got; i++) {
            double sum = 0.0;
            for (int c = 0; c < ch; c++) sum += frames[i * ch + c];
            mono[i] = (float)(sum / ch);
        }
        if (!src) {
            TRY_GOTO(buffer_reserve(out, got), st, done);
            memcpy(out->data + out->n, mono, sizeof(float) * (size_t)got);
            out->n += got;
            continue;
        }
        /* Feed the chunk; at the end keep calling with end_of_input until the filter is drained. */
        SRC_DATA d = {.data_in = mono, .input_frames = got, .src_ratio = ratio, .end_of_input = eof};
        for (;;) {
            int64_t room = (int64_t)(got * ratio) + 4096;
            TRY_GOTO(buffer_reserve(out, room), st, done);
            d.data_out = out->data + out->n;
            d.output_frames = room;
            if ((err = src_process(src, &d))) {
                st = LAVR_FAIL(LAVR_E_MEDIA, "'%s': resampling failed: %s", path, src_strerror(err));
                goto done;
            }
            out->n += d.output_frames_gen;
            d.data_in += d.input_frames_used;
            d.input_frames -= d.input_frames_used;
            if (d.input_frames == 0 && (!eof || d.output_frames_gen == 0)) break;
        }
    }
done:
    if (src) src_delete(src);
    free(frames);
    free(mono);
    return st;
}

lavr_status lavr_audio_load(const char *path, lavr_audio *out) {
    CHECK_ARG(path && out, "lavr_audio_load: NULL argument");
    memset(out, 0, sizeof *out);
    FILE *probe = fopen(path, "rb");
    if (!probe) return LAVR_FAIL(LAVR_E_IO, "cannot open audio '%s': %m", path);
    fseek(probe, 0, SEEK_END);
    long bytes = ftell(probe);
    fclose(probe);
    if (bytes == 0) return LAVR_FAIL(LAVR_E_FORMAT, "audio file '%s' is empty (0 bytes)", path);
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf)
        return LAVR_FAIL(LAVR_E_MEDIA, "'%s' is not readable audio (WAV, FLAC, OGG, MP3 accepted): %s", path,
                         sf_strerror(NULL));
    lavr_status st = LAVR_OK;
    sample_buffer buf = {0};
    if (info.frames <= 0 || info.channels <= 0 || info.samplerate <= 0) {
        st = LAVR_FAIL(LAVR_E_FORMAT, "audio file '%s' holds no samples", path);
        goto done;
    }
    TRY_GOTO(read_resampled(sf, &info, path, &buf), st, done);
    /* librosa's length: ceil(frames * 16000 / rate); the converter may end a sample short or long */
    int64_t want = (int64_t)((info.frames * (int64_t)LAVR_AUDIO_RATE + info.samplerate - 1) / info.samplerate);
    TRY_GOTO(buffer_reserve(&buf, want > buf.n ? want - buf.n : 0), st, done);
    for (; buf.n < want; buf.n++) buf.data[buf.n] = 0.0f;
    buf.n = want;
    if (buf.n == 0) {
        st = LAVR_FAIL(LAVR_E_FORMAT, "audio file '%s' holds no samples", path);
        goto done;
    }
    float peak = 0.0f;
    for (int64_t i = 0; i < buf.n; i++) peak = fmaxf(peak, fabsf(buf.data[i]));
    out->samples = buf.data;
    out->nsamples = buf.n;
    out->rate = LAVR_AUDIO_RATE;
    out->source_rate = info.samplerate;
    out->source_channels = info.channels;
    out->source_frames = info.frames;
    out->peak = peak;
    buf.data = NULL;
    LOG_INFO("audio %s: %d Hz, %d channel%s, %.2f s -> %lld samples at 16 kHz mono", path, info.samplerate,
             info.channels, info.channels == 1 ? "" : "s", (double)info.frames / info.samplerate,
             (long long)out->nsamples);
    if (peak < 1e-3f) LOG_WARN("audio %s is silent (peak %.1f dBFS): the avatar will not speak", path,
                               peak > 0 ? 20.0 * log10(peak) : -INFINITY);
done:
    free(buf.data);
    sf_close(sf);
    return st;
}

#else

lavr_status lavr_audio_load(const char *path, lavr_audio *out) {
    (void)path;
    if (out) memset(out, 0, sizeof *out);
    return LAVR_FAIL(LAVR_E_UNSUPPORTED,
                     "reading audio needs libsndfile: this build has no libsndfile: reconfigure with -DLAVR_SNDFILE=ON");
}

#endif

static void put_le(uint8_t *p, uint32_t v, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}

lavr_status lavr_wav_write(const char *path, const float *samples, int64_t n, int rate) {
    CHECK_ARG(path && (samples || n == 0), "lavr_wav_write: NULL argument");
    CHECK_ARG(n >= 0 && n * 2 < 0xFFFFFFFFLL - 44 && rate > 0, "WAV '%s': %lld samples at %d Hz out of range", path,
              (long long)n, rate);
    FILE *f = fopen(path, "wb");
    if (!f) return LAVR_FAIL(LAVR_E_IO, "cannot create '%s': %m", path);
    uint8_t h[44];
    memcpy(h, "RIFF", 4);
    put_le(h + 4, (uint32_t)(36 + n * 2), 4);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_le(h + 16, 16, 4);
    put_le(h + 20, 1, 2); /* PCM */
    put_le(h + 22, 1, 2); /* mono */
    put_le(h + 24, (uint32_t)rate, 4);
    put_le(h + 28, (uint32_t)rate * 2, 4);
    put_le(h + 32, 2, 2);
    put_le(h + 34, 16, 2);
    memcpy(h + 36, "data", 4);
    put_le(h + 40, (uint32_t)(n * 2), 4);
    int ok = fwrite(h, 1, 44, f) == 44;
    uint8_t block[8192];
    for (int64_t i = 0; ok && i < n;) {
        int64_t m = 0;
        for (; m < 4096 && i < n; m++, i++) {
            float v = samples[i] < -1.0f ? -1.0f : samples[i] > 1.0f ? 1.0f : samples[i];
            long q = lrintf(v * 32767.0f);
            put_le(block + 2 * m, (uint32_t)(uint16_t)(int16_t)q, 2);
        }
        ok = fwrite(block, 1, (size_t)(2 * m), f) == (size_t)(2 * m);
    }
    if (fclose(f) != 0) ok = 0;
    if (!ok) return LAVR_FAIL(LAVR_E_IO, "cannot write '%s' (disk full?)", path);
    return LAVR_OK;
}
