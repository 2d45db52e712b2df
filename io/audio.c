/* Audio input through libsndfile, or FFmpeg for other formats (io/audio_ffmpeg.c), + libsamplerate
 * (streamed in chunks: decode, check, downmix, resample, then handed on chunk by chunk or gathered) and a
 * dependency-free 16-bit WAV writer used by the raw video output. */
#include "io/audio.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "io/audio_decode.h"
#include "io/wav_read.h"

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

/* One decode of a file: the frames the decoder hands over are checked (finite), downmixed to mono and
 * resampled, and the converted samples go to `sink` (cut at `limit`; a scan only measures). Reaching the
 * limit stops the decoder early (the rest of the file is not read). */
typedef struct {
    const char *path;
    int scan_only;
    int rate, channels;
    int64_t frames; /* source frames seen */
    float peak;     /* of the mono signal at the source rate */
    float mono[CHUNK_FRAMES];
    SRC_STATE *src;
    double ratio;
    float *converted; /* resampler output of one chunk */
    int64_t converted_cap;
    lavr_audio_sink sink;
    void *user;
    int64_t limit, delivered;
    float out_peak; /* of the delivered samples */
    int full;       /* the limit was reached */
} audio_sink;

static lavr_status deliver(audio_sink *k, const float *x, int64_t n) {
    if (n > k->limit - k->delivered) n = k->limit - k->delivered;
    if (n <= 0) return LAVR_OK;
    for (int64_t i = 0; i < n; i++) k->out_peak = fmaxf(k->out_peak, fabsf(x[i]));
    k->delivered += n;
    return k->sink(k->user, x, n);
}

static lavr_status sink_format(void *user, int rate, int channels) {
    audio_sink *k = user;
    if (rate <= 0 || channels <= 0)
        return LAVR_FAIL(LAVR_E_FORMAT, "audio file '%s' declares %d Hz and %d channels", k->path, rate, channels);
    k->rate = rate;
    k->channels = channels;
    k->ratio = (double)LAVR_AUDIO_RATE / (double)rate;
    if (!k->scan_only && rate != LAVR_AUDIO_RATE) {
        int err = 0;
        k->src = src_new(SRC_SINC_BEST_QUALITY, 1, &err);
        if (!k->src) return LAVR_FAIL(LAVR_E_MEDIA, "libsamplerate: %s", src_strerror(err));
        k->converted_cap = (int64_t)(CHUNK_FRAMES * k->ratio) + 4096;
        k->converted = malloc(sizeof(float) * (size_t)k->converted_cap);
        if (!k->converted) return LAVR_FAIL(LAVR_E_NOMEM, "no memory to resample '%s'", k->path);
    }
    return LAVR_OK;
}

/* Feeds n mono samples to the resampler (end: drains it) and delivers what comes out. */
static lavr_status resample(audio_sink *k, const float *mono, int64_t n, int end) {
    SRC_DATA d = {.data_in = mono, .input_frames = n, .src_ratio = k->ratio, .end_of_input = end};
    for (;;) {
        d.data_out = k->converted;
        d.output_frames = k->converted_cap;
        int err = src_process(k->src, &d);
        if (err) return LAVR_FAIL(LAVR_E_MEDIA, "'%s': resampling failed: %s", k->path, src_strerror(err));
        TRY(deliver(k, k->converted, d.output_frames_gen));
        d.data_in += d.input_frames_used;
        d.input_frames -= d.input_frames_used;
        if (d.input_frames == 0 && (!end || d.output_frames_gen == 0)) return LAVR_OK;
    }
}

static lavr_status sink_frames(void *user, const float *frames, int64_t n) {
    audio_sink *k = user;
    const int ch = k->channels;
    for (int64_t done = 0; done < n;) {
        const int64_t m = n - done < CHUNK_FRAMES ? n - done : CHUNK_FRAMES;
        const float *f = frames + done * ch;
        for (int64_t i = 0; i < m; i++) {
            double sum = 0.0;
            for (int c = 0; c < ch; c++) {
                const float v = f[i * ch + c];
                /* a NaN would spread through the resampler and every feature after it */
                if (!isfinite(v)) {
                    const int64_t at = k->frames + done + i;
                    return LAVR_FAIL(LAVR_E_FORMAT,
                                     "audio '%s': sample %lld of channel %d (at %.3f s) is %s; the file is damaged",
                                     k->path, (long long)at, c + 1, (double)at / k->rate, isnan(v) ? "NaN" : "infinite");
                }
                sum += v;
            }
            k->mono[i] = (float)(sum / ch);
            k->peak = fmaxf(k->peak, fabsf(k->mono[i]));
        }
        if (!k->scan_only) TRY(k->src ? resample(k, k->mono, m, 0) : deliver(k, k->mono, m));
        done += m;
    }
    k->frames += n;
    if (!k->scan_only && k->delivered >= k->limit) {
        k->full = 1;
        return LAVR_E_STOPPED; /* not an error: decode() ends the decoder here */
    }
    return LAVR_OK;
}

static lavr_status read_sndfile(SNDFILE *sf, const SF_INFO *info, const char *path, const lavr_audio_consumer *to) {
    float *frames = malloc(sizeof(float) * (size_t)CHUNK_FRAMES * (size_t)info->channels);
    if (!frames) return LAVR_FAIL(LAVR_E_NOMEM, "no memory to read '%s'", path);
    lavr_status st = to->format(to->user, info->samplerate, info->channels);
    for (sf_count_t got = CHUNK_FRAMES; !st && got == CHUNK_FRAMES;) {
        got = sf_readf_float(sf, frames, CHUNK_FRAMES);
        if (got < 0 || sf_error(sf))
            st = LAVR_FAIL(LAVR_E_MEDIA, "'%s': read error: %s", path, sf_strerror(sf));
        else if (got > 0)
            st = to->frames(to->user, frames, got);
    }
    free(frames);
    return st;
}

static uint32_t le32(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* The seconds of audio a RIFF/WAVE header announces (its data chunk over the fmt byte rate), or -1
 * when the file is no WAV or the size is a streaming placeholder (0 or 0xFFFFFFFF). libsndfile
 * silently reads what is there, so this is how a cut-off WAV is noticed. */
static double wav_declared_seconds(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    uint8_t h[16];
    double seconds = -1;
    uint32_t byte_rate = 0;
    if (fread(h, 1, 12, f) == 12 && !memcmp(h, "RIFF", 4) && !memcmp(h + 8, "WAVE", 4)) {
        for (int chunks = 0; chunks < 64 && fread(h, 1, 8, f) == 8; chunks++) {
            const uint32_t size = le32(h + 4);
            if (!memcmp(h, "fmt ", 4) && size >= 16) {
                uint8_t fmt[16];
                if (fread(fmt, 1, 16, f) != 16) break;
                byte_rate = le32(fmt + 8);
                if (fseek(f, (long)(size - 16 + (size & 1)), SEEK_CUR) != 0) break;
            } else if (!memcmp(h, "data", 4)) {
                if (byte_rate > 0 && size != 0 && size != 0xFFFFFFFFu) seconds = (double)size / byte_rate;
                break;
            } else if (fseek(f, (long)size + (long)(size & 1), SEEK_CUR) != 0) {
                break;
            }
        }
    }
    fclose(f);
    return seconds;
}

/* The refusals every reader shares: missing, a directory, empty. */
static lavr_status check_file(const char *path) {
    CHECK_ARG(path, "audio: no file name");
    struct stat sb;
    if (stat(path, &sb) != 0) return LAVR_FAIL(LAVR_E_IO, "cannot open audio '%s': %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return LAVR_FAIL(LAVR_E_IO, "audio '%s' is a directory, not a file", path);
    FILE *probe = fopen(path, "rb");
    if (!probe) return LAVR_FAIL(LAVR_E_IO, "cannot open audio '%s': %s", path, strerror(errno));
    fclose(probe);
    if (sb.st_size == 0) return LAVR_FAIL(LAVR_E_FORMAT, "audio file '%s' is empty (0 bytes)", path);
    return LAVR_OK;
}

/* Decodes the file into k: libsndfile first (as librosa tries soundfile first), then FFmpeg for what
 * libsndfile does not read. Ends the resampler unless the limit stopped the decoder. */
static lavr_status decode(const char *path, audio_sink *k) {
    TRY(check_file(path));
    const lavr_audio_consumer to = {.format = sink_format, .frames = sink_frames, .user = k};
    SF_INFO info = {0};
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    lavr_status st;
    if (sf) {
        st = info.frames > 0 && info.channels > 0 && info.samplerate > 0
                 ? read_sndfile(sf, &info, path, &to)
                 : LAVR_FAIL(LAVR_E_FORMAT, "audio file '%s' holds no samples", path);
        sf_close(sf);
    } else {
        char why[256];
        snprintf(why, sizeof why, "%s", sf_strerror(NULL));
        st = lavr_audio_ffmpeg_decode(path, &to);
        if (st == LAVR_E_MEDIA && k->frames == 0)
            st = LAVR_FAIL(LAVR_E_MEDIA, "'%s' is not readable audio (libsndfile: %s; FFmpeg: %s)", path, why,
                           lavr_error_message());
        else if (st == LAVR_E_UNSUPPORTED)
            st = LAVR_FAIL(LAVR_E_MEDIA, "'%s' is not readable audio (WAV, FLAC, OGG, MP3 accepted; this build has "
                           "no FFmpeg for others): %s", path, why);
    }
    if (st == LAVR_E_STOPPED && k->full) return LAVR_OK;
    if (!st && k->src) st = resample(k, NULL, 0, 1);
    if (!st && k->frames == 0) st = LAVR_FAIL(LAVR_E_FORMAT, "audio file '%s' holds no samples", path);
    return st;
}

static void sink_free(audio_sink *k) {
    if (k->src) src_delete(k->src);
    free(k->converted);
    free(k);
}

/* librosa's length: ceil(frames * 16000 / rate) */
static int64_t resampled_length(int64_t frames, int rate) {
    return (frames * (int64_t)LAVR_AUDIO_RATE + rate - 1) / rate;
}

lavr_status lavr_audio_scan(const char *path, lavr_audio *out) {
    CHECK_ARG(path && out, "lavr_audio_scan: NULL argument");
    memset(out, 0, sizeof *out);
    audio_sink *k = calloc(1, sizeof *k);
    if (!k) return LAVR_FAIL(LAVR_E_NOMEM, "no memory to read '%s'", path);
    k->path = path;
    k->scan_only = 1;
    lavr_status st = decode(path, k);
    if (!st) {
        out->nsamples = resampled_length(k->frames, k->rate);
        out->rate = LAVR_AUDIO_RATE;
        out->source_rate = k->rate;
        out->source_channels = k->channels;
        out->source_frames = k->frames;
        out->peak = k->peak;
        out->declared_seconds = wav_declared_seconds(path);
    }
    sink_free(k);
    return st;
}

lavr_status lavr_audio_probe(const char *path, lavr_audio *info) {
    CHECK_ARG(path && info, "lavr_audio_probe: NULL argument");
    memset(info, 0, sizeof *info);
    TRY(check_file(path));
    SF_INFO sfi = {0};
    SNDFILE *sf = sf_open(path, SFM_READ, &sfi);
    if (!sf) return lavr_audio_scan(path, info); /* FFmpeg formats: their length is known after a decode */
    sf_close(sf);
    if (sfi.frames <= 0 || sfi.channels <= 0 || sfi.samplerate <= 0)
        return LAVR_FAIL(LAVR_E_FORMAT, "audio file '%s' holds no samples", path);
    info->nsamples = resampled_length(sfi.frames, sfi.samplerate);
    info->rate = LAVR_AUDIO_RATE;
    info->source_rate = sfi.samplerate;
    info->source_channels = sfi.channels;
    info->source_frames = sfi.frames;
    info->declared_seconds = wav_declared_seconds(path);
    return LAVR_OK;
}

/* The converted samples of the file's first max_samples (all: < 0) to sink, exactly that many (the tail
 * zero-padded to librosa's length); info as lavr_audio_probe, with the delivered peak. */
static lavr_status stream_some(const char *path, int64_t max_samples, lavr_audio_sink sink, void *user,
                               lavr_audio *info) {
    TRY(lavr_audio_probe(path, info));
    const int whole = max_samples < 0 || max_samples >= info->nsamples;
    audio_sink *k = calloc(1, sizeof *k);
    if (!k) return LAVR_FAIL(LAVR_E_NOMEM, "no memory to read '%s'", path);
    k->path = path, k->sink = sink, k->user = user;
    k->limit = whole ? info->nsamples : max_samples;
    lavr_status st = decode(path, k);
    static const float zeros[4096];
    while (!st && k->delivered < k->limit) st = deliver(k, zeros, 4096);
    if (!st) {
        info->peak = k->out_peak;
        if (!whole) info->nsamples = k->limit;
    }
    sink_free(k);
    return st;
}

/* The line saying what was read, and the warnings for a cut-off WAV and a silent file. */
static void report(const char *path, const lavr_audio *a) {
    const double seconds = (double)a->source_frames / a->source_rate;
    LOG_INFO("audio %s: %d Hz, %d channel%s, %.2f s -> %lld samples at 16 kHz mono", path, a->source_rate,
             a->source_channels, a->source_channels == 1 ? "" : "s", seconds, (long long)a->nsamples);
    if (lavr_audio_truncated(a))
        LOG_WARN("audio %s is cut off: its header announces %.2f s, the file holds %.2f s; using what is there", path,
                 a->declared_seconds, seconds);
    if (a->peak < 1e-3f)
        LOG_WARN("audio %s is silent (peak %.1f dBFS): the avatar will not speak", path,
                 a->peak > 0 ? 20.0 * log10(a->peak) : -INFINITY);
}

lavr_status lavr_audio_stream(const char *path, lavr_audio_sink sink, void *user, lavr_audio *info) {
    CHECK_ARG(path && sink && info, "lavr_audio_stream: NULL argument");
    TRY(stream_some(path, -1, sink, user, info));
    report(path, info);
    return LAVR_OK;
}

typedef struct {
    float *data;
    int64_t n, cap;
} sample_buffer;

static lavr_status append(void *user, const float *x, int64_t n) {
    sample_buffer *b = user;
    if (b->n + n > b->cap) return LAVR_FAIL(LAVR_E_INTERNAL, "audio: more samples than the file's length");
    memcpy(b->data + b->n, x, sizeof(float) * (size_t)n);
    b->n += n;
    return LAVR_OK;
}

static lavr_status load_some(const char *path, int64_t max_samples, lavr_audio *out) {
    memset(out, 0, sizeof *out);
    lavr_audio info;
    TRY(lavr_audio_probe(path, &info));
    sample_buffer buf = {.cap = max_samples >= 0 && max_samples < info.nsamples ? max_samples : info.nsamples};
    buf.data = malloc(sizeof(float) * (size_t)(buf.cap > 0 ? buf.cap : 1));
    if (!buf.data) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for %lld audio samples", (long long)buf.cap);
    lavr_status st = stream_some(path, max_samples, append, &buf, out);
    if (st) {
        free(buf.data);
        memset(out, 0, sizeof *out);
        return st;
    }
    out->samples = buf.data;
    return LAVR_OK;
}

lavr_status lavr_audio_read(const char *path, lavr_audio *out) {
    CHECK_ARG(path && out, "lavr_audio_read: NULL argument");
    return load_some(path, -1, out);
}

lavr_status lavr_audio_load(const char *path, lavr_audio *out) {
    TRY(lavr_audio_read(path, out));
    report(path, out);
    return LAVR_OK;
}

lavr_status lavr_audio_load_head(const char *path, int64_t max_samples, lavr_audio *out) {
    CHECK_ARG(path && out && max_samples >= 0, "lavr_audio_load_head: bad arguments");
    return load_some(path, max_samples, out);
}

int lavr_audio_truncated(const lavr_audio *a) {
    /* a header rounding a sample either way is no truncation */
    return a->declared_seconds > 0 && a->source_rate > 0 &&
           (double)a->source_frames / a->source_rate < a->declared_seconds - 0.01;
}

#else

/* Without libsndfile: 16 kHz 16-bit PCM WAV only (io/wav_read.h), nothing to resample. */
lavr_status lavr_audio_read(const char *path, lavr_audio *out) { return lavr_wav_read_pcm16(path, -1, 1, out); }
lavr_status lavr_audio_load(const char *path, lavr_audio *out) {
    TRY(lavr_wav_read_pcm16(path, -1, 1, out));
    LOG_INFO("audio %s: 16000 Hz, %d channel%s, %.2f s (read by lavr: no libsndfile)", path, out->source_channels,
             out->source_channels == 1 ? "" : "s", (double)out->nsamples / LAVR_AUDIO_RATE);
    return LAVR_OK;
}
lavr_status lavr_audio_scan(const char *path, lavr_audio *out) { return lavr_wav_read_pcm16(path, -1, 0, out); }
lavr_status lavr_audio_probe(const char *path, lavr_audio *info) { return lavr_wav_read_pcm16(path, -1, 0, info); }
lavr_status lavr_audio_load_head(const char *path, int64_t max_samples, lavr_audio *out) {
    CHECK_ARG(path && out && max_samples >= 0, "lavr_audio_load_head: bad arguments");
    return lavr_wav_read_pcm16(path, max_samples, 1, out);
}
lavr_status lavr_audio_stream(const char *path, lavr_audio_sink sink, void *user, lavr_audio *info) {
    CHECK_ARG(path && sink && info, "lavr_audio_stream: NULL argument");
    TRY(lavr_audio_load(path, info));
    lavr_status st = LAVR_OK;
    for (int64_t i = 0; !st && i < info->nsamples; i += 4096)
        st = sink(user, info->samples + i, info->nsamples - i < 4096 ? info->nsamples - i : 4096);
    free(info->samples);
    info->samples = NULL;
    return st;
}
int lavr_audio_truncated(const lavr_audio *a) {
    return a->declared_seconds > 0 && (double)a->source_frames / a->source_rate < a->declared_seconds - 0.01;
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
