/* Speech input and WAV output: read WAV/FLAC/OGG/MP3 with libsndfile, downmix to mono and resample
 * to 16 kHz with libsamplerate (what librosa.load(path, sr=16000) gives the reference, §1.3). */
#ifndef LAVR_IO_AUDIO_H
#define LAVR_IO_AUDIO_H

#include <stdint.h>

#include "core/status.h"

#define LAVR_AUDIO_RATE 16000 /* wav2vec2's input rate */

typedef struct {
    float *samples;          /* mono, nsamples floats at `rate`, malloc'd */
    int64_t nsamples;
    int rate;                /* LAVR_AUDIO_RATE */
    int source_rate;         /* the file's real sample rate */
    int source_channels;     /* the file's channel count (averaged into mono) */
    int64_t source_frames;   /* samples per channel in the file */
    float peak;              /* max |sample| after conversion */
} lavr_audio;

/* Loads, downmixes (channel mean, as librosa) and resamples (SRC_SINC_BEST_QUALITY; no resampling
 * when the file is already at 16 kHz). Refuses missing, unreadable and empty files; logs a warning
 * for a silent file (peak below -60 dBFS). Needs libsndfile (LAVR_E_UNSUPPORTED otherwise). */
lavr_status lavr_audio_load(const char *path, lavr_audio *out);
void lavr_audio_free(lavr_audio *a);

/* Writes mono float samples in [-1, 1] as 16-bit PCM WAV (clamped, rounded); needs no library. */
lavr_status lavr_wav_write(const char *path, const float *samples, int64_t n, int rate);

#endif
