/* Demo inputs the project makes itself, with nothing downloaded: a procedurally drawn portrait
 * (PNG or PPM), speech synthesised by espeak-ng (WAV) and a speech-like voiced signal (WAV). */
#ifndef LAVR_IO_SAMPLE_INPUTS_H
#define LAVR_IO_SAMPLE_INPUTS_H

#include <stdint.h>

#include "core/status.h"

/* Draws a front-facing cartoon head and shoulders into rgb (width*height*3 bytes, 4x4
 * supersampled edges). Deterministic: the same size gives the same bytes. */
lavr_status lavr_sample_portrait(uint8_t *rgb, int64_t width, int64_t height);
/* Writes the portrait as a PNG / as a binary PPM (what builds without FFmpeg read). */
lavr_status lavr_sample_portrait_png(const char *path, int64_t width, int64_t height);
lavr_status lavr_sample_portrait_ppm(const char *path, int64_t width, int64_t height);
/* Runs `espeak-ng -v voice -w path text` (no shell); LAVR_E_UNSUPPORTED when espeak-ng is not
 * installed (apt-get install espeak-ng). */
lavr_status lavr_sample_speech(const char *path, const char *text, const char *voice);
/* Writes `seconds` of a deterministic voiced, speech-like signal (a 120 Hz source with falling harmonics,
 * syllables at 4 Hz) as 16 kHz mono 16-bit WAV, which every build reads (no espeak-ng, no libsndfile). */
lavr_status lavr_sample_voice_wav(const char *path, double seconds);

#endif
