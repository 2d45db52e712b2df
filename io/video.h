/* Streaming video output: frames are encoded as they arrive (H.264 yuv420p + AAC in fragmented MP4
 * through FFmpeg's libraries, or raw Y4M + WAV, optionally PNG frames), with constant memory and the
 * audio cut to the frames actually written. */
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
    /* Audio (may be NULL): mono float samples at audio_rate. The writer reads from it until close,
     * so it must stay valid until then. Sample audio_start plays with the first written frame (for
     * LiveAvatar's dropped first 3 frames pass 3 * audio_rate / fps). The audio is cut to the
     * written video's length. */
    const float *audio;
    int64_t audio_samples;
    int audio_rate;
    int64_t audio_start;
    int audio_bitrate;        /* AAC bits per second */
    const char *png_dir;      /* also write png_dir/frame_000000.png ... (NULL: no) */
} lavr_video_options;

/* fps 25, crf 18, preset "medium", keyint 25 (one fragment per second), audio rate 16 kHz,
 * AAC 96 kb/s, no audio, no PNG frames; width and height must still be set. */
void lavr_video_options_default(lavr_video_options *o);

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

#endif
