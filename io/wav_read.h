/* A reader of 16-bit PCM WAV at 16 kHz, the audio a build without libsndfile takes (io/audio.c uses it there; it
 * is what lavr_wav_write writes). Internal to io/. */
#ifndef LAVR_IO_WAV_READ_H
#define LAVR_IO_WAV_READ_H

#include <stdint.h>

#include "io/audio.h"

/* The file's first max_samples samples (all: < 0), channels averaged, into out (samples malloc'd unless keep is 0);
 * another format or rate is a one-line LAVR_E_UNSUPPORTED saying that needs libsndfile. */
lavr_status lavr_wav_read_pcm16(const char *path, int64_t max_samples, int keep, lavr_audio *out);

#endif
