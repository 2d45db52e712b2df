/* How the audio decoders hand their output to io/audio.c: the stream's format once, then interleaved
 * float frames at the source rate in pieces. Internal to io/audio.c and io/audio_ffmpeg.c. */
#ifndef LAVR_IO_AUDIO_DECODE_H
#define LAVR_IO_AUDIO_DECODE_H

#include <stdint.h>

#include "core/status.h"

typedef struct {
    lavr_status (*format)(void *user, int rate, int channels);
    lavr_status (*frames)(void *user, const float *interleaved, int64_t nframes);
    void *user;
} lavr_audio_consumer;

/* Decodes the best audio stream of any file FFmpeg reads (M4A/AAC, Opus, WebM, ...). On a file
 * FFmpeg cannot open or decode, fails with LAVR_E_MEDIA and its reason. Needs LAVR_HAVE_FFMPEG. */
lavr_status lavr_audio_ffmpeg_decode(const char *path, const lavr_audio_consumer *to);

#endif
