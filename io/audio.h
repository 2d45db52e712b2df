/* Speech input and WAV output: read WAV/FLAC/OGG/MP3 with libsndfile (anything else FFmpeg reads, M4A
 * included, through it), downmix to mono and resample to 16 kHz with libsamplerate (what
 * librosa.load(path, sr=16000) gives the reference, §1.3). */
#ifndef LAVR_IO_AUDIO_H
#define LAVR_IO_AUDIO_H

#include <stdint.h>

#include "core/status.h"

#define LAVR_AUDIO_RATE 16000 /* wav2vec2's input rate */

typedef struct {
    float *samples;          /* mono, nsamples floats at `rate`, malloc'd (NULL after a scan) */
    int64_t nsamples;
    int rate;                /* LAVR_AUDIO_RATE */
    int source_rate;         /* the file's real sample rate */
    int source_channels;     /* the file's channel count (averaged into mono) */
    int64_t source_frames;   /* samples per channel in the file */
    double declared_seconds; /* what a WAV header announces (-1: no WAV, or a streaming placeholder) */
    float peak;              /* max |sample| after conversion (a scan: of the mono source) */
} lavr_audio;

/* Decodes, checks every sample is finite (NaN/Inf: LAVR_E_FORMAT naming the file and the time),
 * downmixes (channel mean, as librosa) and resamples (SRC_SINC_BEST_QUALITY; no resampling when the
 * file is already at 16 kHz). Refuses missing, unreadable, empty and sample-less files and
 * directories. Needs libsndfile (LAVR_E_UNSUPPORTED otherwise). Prints nothing. */
lavr_status lavr_audio_read(const char *path, lavr_audio *out);
/* lavr_audio_read, then one line saying what was read, and warnings for a cut-off WAV and for a
 * silent file (peak below -60 dBFS). */
lavr_status lavr_audio_load(const char *path, lavr_audio *out);
/* The checks of lavr_audio_read without resampling or keeping samples (fast): fills everything but
 * `samples`. */
lavr_status lavr_audio_scan(const char *path, lavr_audio *out);
/* 1 when the file holds clearly less than its WAV header announces. */
int lavr_audio_truncated(const lavr_audio *a);
/* lavr_audio_load of the first max_samples samples only (all of a shorter file): the audio of a
 * video of that length. The rest of the file is not read; no log line. */
lavr_status lavr_audio_load_head(const char *path, int64_t max_samples, lavr_audio *out);
/* What lavr_audio_load would give, without keeping the samples: nsamples (librosa's length) and the
 * source fields from the header (a format only FFmpeg reads is decoded once: lavr_audio_scan); samples
 * NULL, peak 0. The same refusals. */
lavr_status lavr_audio_probe(const char *path, lavr_audio *info);
/* Receives the next n converted samples; a non-zero return stops the stream with that status. */
typedef lavr_status (*lavr_audio_sink)(void *user, const float *samples, int64_t n);
/* lavr_audio_load's samples handed to sink in order, a chunk at a time (constant memory, any
 * length); info as lavr_audio_load fills it, with samples NULL; the same log line and warning. */
lavr_status lavr_audio_stream(const char *path, lavr_audio_sink sink, void *user, lavr_audio *info);
void lavr_audio_free(lavr_audio *a);

/* Writes mono float samples in [-1, 1] as 16-bit PCM WAV (clamped, rounded); needs no library. */
lavr_status lavr_wav_write(const char *path, const float *samples, int64_t n, int rate);

#endif
