/* The packet log of a resumable video writer (HDF5): every encoded video and audio packet (bytes and
 * an index row), the encoders' extradata and the encoding parameters, flushed at every cut. */
#ifndef LAVR_IO_PACKET_LOG_H
#define LAVR_IO_PACKET_LOG_H

#include <stdint.h>

#include "core/status.h"

typedef struct lavr_packet_log lavr_packet_log;

typedef enum { LAVR_LOG_VIDEO = 0, LAVR_LOG_AUDIO = 1 } lavr_log_stream;

/* One index row, in the encoder's time base (video: frames, audio: samples). offset/size locate the
 * bytes in the stream's byte dataset; segment is the video segment the packet belongs to (0 for audio). */
typedef struct {
    int64_t offset, size, pts, dts, duration, flags, segment;
} lavr_packet_row;

/* What must be equal for a log to be reused: the video encoder's settings and frame count, and the audio
 * track's file (SHA-256 hex, "" without audio), rate, channels, bit rate, whether its packets are the
 * file's own (copied) and the frames of the file it skips. */
typedef struct {
    int64_t width, height, fps, crf, keyint, total_frames;
    const char *preset, *audio_sha256;
    int64_t audio_rate, audio_channels, audio_bitrate, audio_copied, audio_skip_frames;
} lavr_packet_log_params;

/* Creates (truncates) a log holding no packets, with p as attributes. */
lavr_status lavr_packet_log_create(const char *path, const lavr_packet_log_params *p, lavr_packet_log **out);
/* Opens an existing log for appending; a missing file is LAVR_E_IO naming it, a log written with
 * other parameters LAVR_E_FORMAT naming the first that differs. */
lavr_status lavr_packet_log_open(const char *path, const lavr_packet_log_params *p, lavr_packet_log **out);
/* Flushes and closes (NULL allowed). */
lavr_status lavr_packet_log_close(lavr_packet_log *log);
/* Closes without reporting errors (a writer abandoned as a crash would leave it). */
void lavr_packet_log_abandon(lavr_packet_log *log);

int64_t lavr_packet_log_count(const lavr_packet_log *log, lavr_log_stream s);
/* Appends n packets (rows' offset and size are set from sizes; bytes holds them back to back). */
lavr_status lavr_packet_log_append(lavr_packet_log *log, lavr_log_stream s, lavr_packet_row *rows, int64_t n,
                                   const uint8_t *bytes);
/* Reads row i and its bytes into *buf (grown with realloc to *cap bytes as needed). */
lavr_status lavr_packet_log_read(lavr_packet_log *log, lavr_log_stream s, int64_t i, lavr_packet_row *row,
                                 uint8_t **buf, int64_t *cap);
/* Reads row i only. */
lavr_status lavr_packet_log_row(lavr_packet_log *log, lavr_log_stream s, int64_t i, lavr_packet_row *row);
/* Keeps the first n packets of a stream. */
lavr_status lavr_packet_log_truncate(lavr_packet_log *log, lavr_log_stream s, int64_t n);
/* The encoder's extradata of a stream (stored once; get returns a malloc'd copy, *size 0 when absent). */
lavr_status lavr_packet_log_set_extradata(lavr_packet_log *log, lavr_log_stream s, const uint8_t *data, int64_t size);
lavr_status lavr_packet_log_get_extradata(lavr_packet_log *log, lavr_log_stream s, uint8_t **data, int64_t *size);
/* The audio track is complete once this is set (after its last packet). */
lavr_status lavr_packet_log_set_audio_complete(lavr_packet_log *log, int complete);
int lavr_packet_log_audio_complete(const lavr_packet_log *log);
/* H5Fflush: what was appended survives a crash from here on. */
lavr_status lavr_packet_log_flush(lavr_packet_log *log);

#endif
