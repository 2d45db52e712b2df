/* Streaming video output: frames are encoded as they arrive (H.264 yuv420p + AAC in fragmented MP4
 * through FFmpeg's libraries, or raw Y4M + WAV, optionally PNG frames), with constant memory for the
 * video; the audio track is the user's file, cut to the frames actually written. */
#ifndef LAVR_IO_VIDEO_H
#define LAVR_IO_VIDEO_H

#include <stdint.h>

#include "core/status.h"

typedef struct lavr_video_writer lavr_video_writer;

typedef struct {
    int64_t width, height;    /* even numbers (yuv420p) */
    int fps;                  /* 25 (LiveAvatar's output rate) */
    int crf;                  /* libx264 constant rate factor, 0..51 */
    const char *preset;       /* libx264 preset, e.g. "medium", "veryfast" */
    int keyint;               /* frames between keyframes = per MP4 fragment (what a killed process keeps) */
    /* Audio (NULL: none): the user's speech file (any format FFmpeg reads). The track starts
     * audio_skip_frames frames' time into the file (LiveAvatar's dropped first frames: 3), so it plays
     * in step with the frames written, and is cut to the written video's length. MP4: the file's own
     * AAC packets when it holds AAC, else its samples at their own rate and channels encoded as AAC at
     * audio_bitrate (io/audio_track.h); Y4M: a 16 kHz mono WAV (the model's input). */
    const char *audio_path;
    int64_t audio_skip_frames;
    int64_t audio_bitrate;    /* AAC bits per second when the file is not AAC */
    const char *png_dir;      /* also write png_dir/frame_000000.png ... (NULL: no) */
    /* Resumable output (see below): the packet log (HDF5, MP4 output only) and the number of frames
     * the whole video will have (sets the audio track's length; needed with audio). NULL / 0: a
     * plain streaming writer. */
    const char *log_path;
    int64_t total_frames;
} lavr_video_options;

/* fps 25, crf 18, preset "medium", keyint 25 (one fragment per second), no audio (AAC at 192 kb/s
 * when there is), no PNG frames; width and height must still be set. */
void lavr_video_options_default(lavr_video_options *o);

/* What lavr_video_writer_open would say of path before any work: LAVR_E_ARG for an empty path, a
 * directory, or an extension no container is known for (no extension included); .y4m is always known. */
lavr_status lavr_video_check_path(const char *path);
/* Opens a writer. path ending in ".y4m" writes raw Y4M (4:4:4, BT.601 limited range) plus the
 * audio as 16-bit WAV next to it (same name, ".wav", written at close); any other path (".mp4",
 * ".mov", ".mkv") is encoded with FFmpeg (LAVR_E_UNSUPPORTED in builds without it). path may be
 * NULL when png_dir is set (PNG frames only). */
lavr_status lavr_video_writer_open(const char *path, const lavr_video_options *o, lavr_video_writer **out);
/* frames: float [3, T, H, W] in [-1, 1], channel-major (the VAE's output layout); converted to
 * 8 bits as LiveAvatar does: clamp, (x + 1) / 2 * 255, truncated. */
lavr_status lavr_video_writer_append_f32(lavr_video_writer *w, const float *frames, int64_t count);
/* frames: uint8 [T, H, W, 3] RGB. */
lavr_status lavr_video_writer_append_rgb8(lavr_video_writer *w, const uint8_t *frames, int64_t count);
int64_t lavr_video_writer_frames(const lavr_video_writer *w);
/* Flushes the encoders, writes the trailer / WAV, and frees the writer (also when it fails). */
lavr_status lavr_video_writer_close(lavr_video_writer *w);

/* ---- resumable output (a render with a stage directory) ------------------------------------
 * With log_path set, the container is a function of a packet log, so a render resumed from a
 * checkpoint writes the same bytes as one that never stopped:
 *  - the video is encoded in segments: lavr_video_writer_cut ends one (the encoder is flushed and
 *    its packets are appended to the log, which is flushed) and the next starts with a fresh
 *    encoder, so no encoder state crosses a cut (no B-frames; a keyframe at every segment start;
 *    libx264 with a fixed thread count, which its output depends on); the render cuts after every clip;
 *  - the whole audio track (up to total_frames' end) is made once, first, into the log (a log
 *    that already holds the complete track is reused);
 *  - the container is muxed at each cut from logged packets only: each video packet of the segment
 *    followed by the audio packets that end by its frame's end, then the fragment is flushed (the
 *    rest of the audio, cut to the frames written, at close); no version strings (bitexact).
 * Frames appended since the last cut are only in memory (and the pending RGB copies): a crash loses
 * them, the checkpoint carries them. Y4M needs no log (it resumes by truncation to whole frames);
 * PNG frames are named by frame index. */
typedef struct {
    int64_t frames;        /* frames appended so far (pending ones included) */
    int64_t segments;      /* segments cut */
    int64_t video_packets; /* video packets in the log at the last cut */
} lavr_video_position;

/* Ends the current segment (nothing to do without a log, or with no frame since the last cut). */
lavr_status lavr_video_writer_cut(lavr_video_writer *w);
/* Where the writer stands, for a checkpoint, and the frames appended since the last cut as RGB
 * [count, H, W, 3] (NULL / 0 without a log; valid until the next append, cut or close). */
void lavr_video_writer_position(const lavr_video_writer *w, lavr_video_position *pos, const uint8_t **pending,
                                int64_t *pending_count);
/* Frees the writer without finishing the container (a render that stopped after a checkpoint: the
 * file stays as the last cut left it; lavr_video_writer_resume rebuilds it). */
void lavr_video_writer_abandon(lavr_video_writer *w);
/* Opens the writer as it stood at pos: truncates the log to pos.video_packets (the audio track
 * stays when complete), rebuilds the container from it and appends the pending frames again with a
 * fresh encoder (pos.frames - pending_count frames were cut before them); Y4M: truncates the file
 * to pos.frames - pending_count frames, then appends the pending ones. o must be the options the
 * writer was opened with. A missing log is LAVR_E_IO; a log that holds fewer packets than pos or
 * whose pos does not end a segment, or one written with other options (size, frame rate, encoder
 * settings, audio file and track) or by another x264 / FFmpeg build, is LAVR_E_FORMAT. */
lavr_status lavr_video_writer_resume(const char *path, const lavr_video_options *o, const lavr_video_position *pos,
                                     const uint8_t *pending, int64_t pending_count, lavr_video_writer **out);

#endif
