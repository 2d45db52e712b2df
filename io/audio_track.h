/* The audio track of an MP4 made from the user's speech file (FFmpeg builds only; internal to io/video.c):
 * its AAC packets copied when the file holds AAC, else its samples, at their own rate and channels, encoded. */
#ifndef LAVR_IO_AUDIO_TRACK_H
#define LAVR_IO_AUDIO_TRACK_H

#if LAVR_HAVE_FFMPEG

#include <stdint.h>

#include <libavcodec/avcodec.h>

#include "core/status.h"

typedef struct lavr_audio_track lavr_audio_track;

/* Opens the best audio stream of path and decides how the track is made: AAC is copied packet by packet,
 * anything else is decoded and encoded with FFmpeg's AAC encoder at `bitrate` bits/s (lowered to AAC's
 * maximum for the rate and channels, 6144 bits per channel per 1024 samples), at the file's rate (or,
 * for a rate AAC does not code, resampled to the next one up). The track starts skip_num /
 * skip_den seconds into the file: track sample k plays source sample start + k, start = that time in
 * samples (floor). An encoded track starts at start exactly (AAC's priming takes the place of its first
 * 1024 samples, as in the original's re-encode); a copied one at the AAC frame whose start is nearest
 * (within half a frame, 11.6 ms at 44.1 kHz). */
lavr_status lavr_audio_track_open(const char *path, int64_t skip_num, int64_t skip_den, int64_t bitrate,
                                  lavr_audio_track **out);
/* The output stream's parameters (codec, rate, channel layout, extradata, bit rate). */
const AVCodecParameters *lavr_audio_track_par(const lavr_audio_track *t);
/* 1 when the packets are the file's own. */
int lavr_audio_track_copied(const lavr_audio_track *t);
/* Hands every packet of the track, in order, to emit: pts = dts = the first sample it plays (from 0),
 * duration in samples, all in 1 / sample rate; the track ends at the file's end or after max_samples,
 * whichever comes first (the last packet's duration is cut there; later ones are not sent). The packet
 * belongs to the track (emit copies what it keeps). Call once. */
lavr_status lavr_audio_track_run(lavr_audio_track *t, int64_t max_samples,
                                 lavr_status (*emit)(void *user, const AVPacket *p), void *user);
void lavr_audio_track_close(lavr_audio_track *t);

#endif
#endif
