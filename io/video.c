/* The streaming video writer: libx264 + AAC muxed into fragmented MP4 frame by frame (FFmpeg's
 * libraries), or, with a packet log, segment by segment from the log (resumable); raw Y4M + WAV; PNGs. */
#include "io/video.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sha256.h"
#include "io/audio.h"
#include "io/audio_track.h"
#include "io/image.h"
#include "io/packet_log.h"

#if LAVR_HAVE_FFMPEG
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#endif

/* libx264 threads in resumable mode: x264's output depends on its thread count, so it is fixed
 * rather than taken from the machine's core count (the same packets on every machine). */
#define LOG_X264_THREADS 4
/* audio packets held before they go to the log while the track is written (bounded memory) */
#define AUDIO_BATCH_PACKETS 4096

/* Packets held in memory before they go to the log: bytes back to back and their index rows. */
typedef struct {
    uint8_t *bytes;
    int64_t nbytes, bytes_cap;
    lavr_packet_row *rows;
    int64_t n, rows_cap;
} packet_batch;

typedef struct {
#if LAVR_HAVE_FFMPEG
    AVFormatContext *oc;
    AVCodecContext *venc;
    AVStream *vst, *ast;
    struct SwsContext *sws;
    AVFrame *vframe;
    AVPacket *pkt;
    lavr_audio_track *track;   /* the audio track's maker (the user's file) */
    int audio_rate;            /* its sample rate: the audio packets' time base is 1 / audio_rate */
    packet_batch audio_mem;    /* streaming mode: the whole audio track, muxed as the video goes */
    int64_t video_shift;       /* frames added to every timestamp (-first dts); -1 until known */
    int header_written;
    /* resumable mode: the log, the current segment's packets, the next logged packets to mux */
    lavr_packet_log *log;
    packet_batch batch;
    int64_t mux_video, mux_audio;
    uint8_t *read_buf;
    int64_t read_cap;
    uint8_t *vextra;           /* libx264's extradata (the same for every fresh encoder) */
    int64_t vextra_size;
#else
    int unused;
#endif
} mp4_state;

struct lavr_video_writer {
    lavr_video_options opt;
    char *path;                /* the file written: the final name + ".part", renamed when complete */
    char *final;               /* the name the user asked for */
    int raw_y4m;
    int failed;                /* a call failed: the file is not finished, only abandoned */
    int logged;                /* MP4 with a packet log (resumable mode) */
    FILE *y4m;
    mp4_state mp4;
    uint8_t *rgb;              /* one frame, [H, W, 3] */
    uint8_t *yuv;              /* one Y4M frame */
    int64_t frames;
    int64_t segments, seg_start; /* segments cut; first frame of the current one */
    uint8_t *pending;          /* logged mode: frames since the last cut, [n, H, W, 3] */
    int64_t pending_cap;
};

void lavr_video_options_default(lavr_video_options *o) {
    memset(o, 0, sizeof *o);
    o->fps = 25;
    o->crf = 18;
    o->preset = "medium";
    o->keyint = 25;
    o->audio_bitrate = 192000;
}

int64_t lavr_video_writer_frames(const lavr_video_writer *w) { return w ? w->frames : 0; }

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Track samples (at `rate`) that play with the first `frames` video frames. */
static int64_t audio_samples_for(const lavr_video_writer *w, int64_t frames, int rate) {
    return frames * rate / w->opt.fps;
}

/* ---- raw Y4M ---------------------------------------------------------------------------------- */

static int64_t y4m_frame_bytes(const lavr_video_writer *w) { return 6 + 3 * w->opt.width * w->opt.height; }

static void y4m_header(const lavr_video_writer *w, char *buf, size_t n) {
    snprintf(buf, n, "YUV4MPEG2 W%lld H%lld F%d:1 Ip A1:1 C444 XCOLORRANGE=LIMITED\n", (long long)w->opt.width,
             (long long)w->opt.height, w->opt.fps);
}

static lavr_status y4m_alloc(lavr_video_writer *w) {
    w->yuv = malloc((size_t)(w->opt.width * w->opt.height * 3));
    if (!w->yuv) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for a Y4M frame");
    return LAVR_OK;
}

static lavr_status y4m_open(lavr_video_writer *w) {
    w->y4m = fopen(w->path, "wb");
    if (!w->y4m) return LAVR_FAIL(LAVR_E_IO, "cannot create '%s': %m", w->path);
    TRY(y4m_alloc(w));
    char header[128];
    y4m_header(w, header, sizeof header);
    if (fputs(header, w->y4m) < 0) return LAVR_FAIL(LAVR_E_IO, "cannot write '%s'", w->path);
    return LAVR_OK;
}

/* Reopens a Y4M written by this writer with the same options and keeps its first `frames` frames. */
static lavr_status y4m_reopen(lavr_video_writer *w, int64_t frames) {
    w->y4m = fopen(w->path, "r+b");
    if (!w->y4m) return LAVR_FAIL(LAVR_E_IO, "cannot reopen '%s' to resume: %m", w->path);
    TRY(y4m_alloc(w));
    char expected[128], found[128] = "";
    y4m_header(w, expected, sizeof expected);
    if (!fgets(found, sizeof found, w->y4m) || strcmp(found, expected) != 0) {
        found[strcspn(found, "\n")] = 0;
        return LAVR_FAIL(LAVR_E_FORMAT, "'%s' was written with another size or frame rate ('%s'), cannot resume it",
                         w->path, found);
    }
    int64_t keep = (int64_t)strlen(expected) + frames * y4m_frame_bytes(w);
    struct stat sb;
    if (fstat(fileno(w->y4m), &sb) != 0) return LAVR_FAIL(LAVR_E_IO, "cannot stat '%s': %m", w->path);
    if ((int64_t)sb.st_size < keep)
        return LAVR_FAIL(LAVR_E_FORMAT, "'%s' holds %lld whole frames, resuming needs %lld", w->path,
                         (long long)(((int64_t)sb.st_size - (int64_t)strlen(expected)) / y4m_frame_bytes(w)),
                         (long long)frames);
    if (fflush(w->y4m) != 0 || ftruncate(fileno(w->y4m), (off_t)keep) != 0 || fseeko(w->y4m, (off_t)keep, SEEK_SET) != 0)
        return LAVR_FAIL(LAVR_E_IO, "cannot truncate '%s' to %lld frames: %m", w->path, (long long)frames);
    return LAVR_OK;
}

static uint8_t clamp_u8(double v) {
    long q = lrint(v);
    return (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
}

/* BT.601 limited range, the same matrix swscale uses for the MP4, without chroma subsampling. */
static lavr_status y4m_frame(lavr_video_writer *w) {
    int64_t n = w->opt.width * w->opt.height;
    for (int64_t i = 0; i < n; i++) {
        double r = w->rgb[i * 3] / 255.0, g = w->rgb[i * 3 + 1] / 255.0, b = w->rgb[i * 3 + 2] / 255.0;
        w->yuv[i] = clamp_u8(16.0 + 65.481 * r + 128.553 * g + 24.966 * b);
        w->yuv[n + i] = clamp_u8(128.0 - 37.797 * r - 74.203 * g + 112.0 * b);
        w->yuv[2 * n + i] = clamp_u8(128.0 + 112.0 * r - 93.786 * g - 18.214 * b);
    }
    if (fputs("FRAME\n", w->y4m) < 0 || fwrite(w->yuv, 1, (size_t)(3 * n), w->y4m) != (size_t)(3 * n) ||
        fflush(w->y4m) != 0)
        return LAVR_FAIL(LAVR_E_IO, "cannot write '%s' (disk full?)", w->path);
    return LAVR_OK;
}

static lavr_status y4m_close(lavr_video_writer *w) {
    lavr_status st = LAVR_OK;
    if (w->y4m && fclose(w->y4m) != 0) st = LAVR_FAIL(LAVR_E_IO, "cannot finish '%s'", w->path);
    w->y4m = NULL;
    if (st || !w->opt.audio_path) return st;
    size_t n = strlen(w->final);
    char *wav = malloc(n + 1), *part = malloc(n + 6);
    if (!wav || !part) {
        free(wav);
        free(part);
        return LAVR_FAIL(LAVR_E_NOMEM, "no memory");
    }
    memcpy(wav, w->final, n - 4);
    memcpy(wav + n - 4, ".wav", 5);
    memcpy(part, wav, n);
    memcpy(part + n, ".part", 6);
    /* the raw output's WAV is the speech as the model hears it (16 kHz mono), from the first written frame;
     * written beside its name like the Y4M */
    const int64_t start = audio_samples_for(w, w->opt.audio_skip_frames, LAVR_AUDIO_RATE);
    lavr_audio speech;
    st = lavr_audio_load_head(w->opt.audio_path, start + audio_samples_for(w, w->frames, LAVR_AUDIO_RATE), &speech);
    if (!st) {
        const int64_t from = start < speech.nsamples ? start : speech.nsamples;
        st = lavr_wav_write(part, speech.samples + from, speech.nsamples - from, LAVR_AUDIO_RATE);
    }
    lavr_audio_free(&speech);
    if (!st && rename(part, wav) != 0) st = LAVR_FAIL(LAVR_E_IO, "cannot rename '%s' to '%s': %m", part, wav);
    free(wav);
    free(part);
    return st;
}

/* ---- MP4 through FFmpeg ----------------------------------------------------------------------- */

#if LAVR_HAVE_FFMPEG

#define AV_CHECK(call, ...)                                                                       \
    do {                                                                                          \
        int r_ = (call);                                                                          \
        if (r_ < 0) {                                                                             \
            char msg_[512];                                                                       \
            snprintf(msg_, sizeof msg_, __VA_ARGS__);                                             \
            return LAVR_FAIL(LAVR_E_MEDIA, "%s: %s", msg_, av_err2str(r_));                       \
        }                                                                                         \
    } while (0)

static lavr_status batch_add(packet_batch *b, const AVPacket *p, int64_t segment) {
    if (b->nbytes + p->size > b->bytes_cap) {
        int64_t cap = 2 * (b->nbytes + p->size);
        uint8_t *grown = realloc(b->bytes, (size_t)cap);
        if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for encoded packets (%lld bytes)", (long long)cap);
        b->bytes = grown, b->bytes_cap = cap;
    }
    if (b->n == b->rows_cap) {
        int64_t cap = 2 * b->rows_cap + 64;
        lavr_packet_row *grown = realloc(b->rows, sizeof *grown * (size_t)cap);
        if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for encoded packets");
        b->rows = grown, b->rows_cap = cap;
    }
    if (p->size > 0) memcpy(b->bytes + b->nbytes, p->data, (size_t)p->size);
    b->rows[b->n++] = (lavr_packet_row){b->nbytes, p->size, p->pts, p->dts, p->duration, p->flags & AV_PKT_FLAG_KEY, segment};
    b->nbytes += p->size;
    return LAVR_OK;
}

/* Appends the batch to the log, flushes the log and empties the batch. */
static lavr_status batch_to_log(lavr_video_writer *w, lavr_log_stream s) {
    packet_batch *b = &w->mp4.batch;
    TRY(lavr_packet_log_append(w->mp4.log, s, b->rows, b->n, b->bytes));
    TRY(lavr_packet_log_flush(w->mp4.log));
    b->n = b->nbytes = 0;
    return LAVR_OK;
}

/* Logged mode: a video packet of the current segment (its frames have pts 0, 1, ... in the
 * segment's own encoder) goes to the batch. */
static lavr_status keep_packet(lavr_video_writer *w) {
    mp4_state *m = &w->mp4;
    AVPacket *p = m->pkt;
    int64_t index = m->batch.n;
    if (p->pts != index || p->dts != index)
        return LAVR_FAIL(LAVR_E_INTERNAL, "'%s': libx264 packet %lld has pts %lld dts %lld (reordered frames?)", w->path,
                         (long long)index, (long long)p->pts, (long long)p->dts);
    p->pts = p->dts = w->seg_start + index;
    p->duration = 1;
    return batch_add(&m->batch, p, w->segments);
}

/* Sends libx264's ready packets to the muxer (to the batch in logged mode); video packets last
 * exactly one frame, so the final frame keeps its duration in the file. */
static lavr_status drain(lavr_video_writer *w) {
    mp4_state *m = &w->mp4;
    for (;;) {
        int r = avcodec_receive_packet(m->venc, m->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return LAVR_OK;
        AV_CHECK(r, "'%s': libx264 failed", w->path);
        if (w->logged) {
            lavr_status s = keep_packet(w);
            av_packet_unref(m->pkt);
            TRY(s);
            continue;
        }
        /* B-frames make x264's first dts negative; FFmpeg's fragmented MP4 then shifts the
         * streams unevenly. Shift both streams ourselves by the same time instead. */
        if (m->video_shift < 0) m->video_shift = m->pkt->dts < 0 ? -m->pkt->dts : 0;
        m->pkt->pts += m->video_shift;
        m->pkt->dts += m->video_shift;
        if (m->pkt->duration == 0) m->pkt->duration = 1;
        av_packet_rescale_ts(m->pkt, m->venc->time_base, m->vst->time_base);
        m->pkt->stream_index = m->vst->index;
        r = av_interleaved_write_frame(m->oc, m->pkt);
        av_packet_unref(m->pkt);
        AV_CHECK(r, "cannot write '%s'", w->path);
    }
}

static lavr_status new_encoder(const char *name, AVCodecContext **ctx) {
    const AVCodec *codec = avcodec_find_encoder_by_name(name);
    if (!codec) return LAVR_FAIL(LAVR_E_UNSUPPORTED, "this FFmpeg has no %s encoder (install a full FFmpeg build)", name);
    *ctx = avcodec_alloc_context3(codec);
    if (!*ctx) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for the %s encoder", name);
    return LAVR_OK;
}

static lavr_status new_stream(lavr_video_writer *w, AVStream **st) {
    *st = avformat_new_stream(w->mp4.oc, NULL);
    if (!*st) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for a stream of '%s'", w->path);
    return LAVR_OK;
}

/* A fresh libx264 encoder with the writer's settings (in logged mode: no B-frames, fixed threads). */
static lavr_status open_x264(lavr_video_writer *w, AVCodecContext **out) {
    TRY(new_encoder("libx264", out));
    AVCodecContext *c = *out;
    c->width = (int)w->opt.width;
    c->height = (int)w->opt.height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = (AVRational){1, w->opt.fps};
    c->framerate = (AVRational){w->opt.fps, 1};
    c->gop_size = w->opt.keyint;
    c->keyint_min = w->opt.keyint;
    /* swscale's default RGB->YUV matrix is BT.601 limited range; say so in the stream. */
    c->colorspace = AVCOL_SPC_SMPTE170M;
    c->color_primaries = AVCOL_PRI_SMPTE170M;
    c->color_trc = AVCOL_TRC_SMPTE170M;
    c->color_range = AVCOL_RANGE_MPEG;
    if (w->mp4.oc->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (w->logged) {
        c->max_b_frames = 0;
        c->thread_count = LOG_X264_THREADS;
        c->flags |= AV_CODEC_FLAG_BITEXACT;
    }
    AVDictionary *opts = NULL;
    char crf[16];
    snprintf(crf, sizeof crf, "%d", w->opt.crf);
    av_dict_set(&opts, "crf", crf, 0);
    av_dict_set(&opts, "preset", w->opt.preset, 0);
    int r = avcodec_open2(c, c->codec, &opts);
    av_dict_free(&opts);
    AV_CHECK(r, "cannot open libx264 (preset '%s', crf %d)", w->opt.preset, w->opt.crf);
    return LAVR_OK;
}

static lavr_status mp4_open_video(lavr_video_writer *w) {
    mp4_state *m = &w->mp4;
    TRY(new_stream(w, &m->vst));
    TRY(open_x264(w, &m->venc));
    AVCodecContext *c = m->venc;
    AV_CHECK(avcodec_parameters_from_context(m->vst->codecpar, c), "video stream parameters");
    m->vst->time_base = c->time_base;
    m->vst->avg_frame_rate = c->framerate;
    m->sws = sws_getContext(c->width, c->height, AV_PIX_FMT_RGB24, c->width, c->height, AV_PIX_FMT_YUV420P,
                            SWS_BICUBIC, NULL, NULL, NULL);
    m->vframe = av_frame_alloc();
    if (!m->sws || !m->vframe) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for the video converter");
    m->vframe->format = c->pix_fmt;
    m->vframe->width = c->width;
    m->vframe->height = c->height;
    AV_CHECK(av_frame_get_buffer(m->vframe, 0), "video frame buffer");
    return LAVR_OK;
}

/* The audio stream, from the track made of the user's file. */
static lavr_status mp4_open_audio(lavr_video_writer *w) {
    mp4_state *m = &w->mp4;
    TRY(new_stream(w, &m->ast));
    AV_CHECK(avcodec_parameters_copy(m->ast->codecpar, lavr_audio_track_par(m->track)), "audio stream parameters");
    m->ast->time_base = (AVRational){1, m->audio_rate};
    return LAVR_OK;
}

/* ---- logged mode: the packet log and muxing from it ------------------------------------------- */

/* What a log must have been written with to be reused: the encoder settings, the frame count and the
 * audio track (the file's SHA-256, how the track is made, from where). */
static lavr_status log_params(const lavr_video_writer *w, lavr_packet_log_params *p, char sha[65]) {
    const lavr_video_options *o = &w->opt;
    const AVCodecParameters *a = w->mp4.track ? lavr_audio_track_par(w->mp4.track) : NULL;
    snprintf(sha, 65, "-");
    if (a) TRY(lavr_sha256_file_hex(o->audio_path, sha));
    *p = (lavr_packet_log_params){
        .width = o->width, .height = o->height, .fps = o->fps, .crf = o->crf, .keyint = o->keyint,
        .preset = o->preset, .total_frames = o->total_frames, .audio_sha256 = sha,
        .audio_rate = a ? a->sample_rate : 0, .audio_channels = a ? a->ch_layout.nb_channels : 0,
        .audio_bitrate = a ? a->bit_rate : 0, .audio_copied = a ? lavr_audio_track_copied(w->mp4.track) : 0,
        .audio_skip_frames = a ? o->audio_skip_frames : 0};
    return LAVR_OK;
}

/* A checkpoint position fits the log when it ends a segment the log holds. */
static lavr_status check_position(lavr_video_writer *w, const lavr_video_position *pos) {
    lavr_packet_log *log = w->mp4.log;
    const char *lp = w->opt.log_path;
    int64_t have = lavr_packet_log_count(log, LAVR_LOG_VIDEO), need = pos->video_packets;
    if (need != w->frames || pos->segments < 0 || (need == 0) != (pos->segments == 0))
        return LAVR_FAIL(LAVR_E_FORMAT, "'%s': checkpoint position (%lld frames, %lld segments, %lld video packets) "
                         "does not fit its pending frames", w->path, (long long)pos->frames, (long long)pos->segments,
                         (long long)need);
    if (have < need)
        return LAVR_FAIL(LAVR_E_FORMAT, "packet log %s holds %lld video packets, the checkpoint needs %lld", lp,
                         (long long)have, (long long)need);
    lavr_packet_row row;
    if (need > 0) {
        TRY(lavr_packet_log_row(log, LAVR_LOG_VIDEO, need - 1, &row));
        if (row.segment != pos->segments - 1)
            return LAVR_FAIL(LAVR_E_FORMAT, "packet log %s: video packet %lld is in segment %lld, the checkpoint says %lld",
                             lp, (long long)(need - 1), (long long)row.segment, (long long)(pos->segments - 1));
    }
    if (have > need) {
        TRY(lavr_packet_log_row(log, LAVR_LOG_VIDEO, need, &row));
        if (row.segment != pos->segments)
            return LAVR_FAIL(LAVR_E_FORMAT, "packet log %s: the checkpoint's %lld video packets do not end a segment",
                             lp, (long long)need);
    }
    return LAVR_OK;
}

/* Fresh writer: a new log. Resume: the writer's log, checked and cut back to the checkpoint. */
static lavr_status open_log(lavr_video_writer *w, const lavr_video_position *resume) {
    mp4_state *m = &w->mp4;
    lavr_packet_log_params p;
    char sha[65];
    TRY(log_params(w, &p, sha));
    if (!resume) return lavr_packet_log_create(w->opt.log_path, &p, &m->log);
    TRY(lavr_packet_log_open(w->opt.log_path, &p, &m->log));
    TRY(check_position(w, resume));
    TRY(lavr_packet_log_truncate(m->log, LAVR_LOG_VIDEO, resume->video_packets));
    return lavr_packet_log_flush(m->log);
}

/* The first stream headers (extradata) go to the log; any later ones (a resumed writer) must equal them. */
static lavr_status match_extradata(lavr_video_writer *w, lavr_log_stream s, const uint8_t *data, int64_t n,
                                   const char *what) {
    uint8_t *logged;
    int64_t size;
    TRY(lavr_packet_log_get_extradata(w->mp4.log, s, &logged, &size));
    if (size == 0) return lavr_packet_log_set_extradata(w->mp4.log, s, data, n);
    int same = size == n && memcmp(logged, data, (size_t)size) == 0;
    free(logged);
    if (!same)
        return LAVR_FAIL(LAVR_E_FORMAT, "packet log %s: this %s stream has other headers than the log's "
                         "(another FFmpeg or x264 build, or other settings?)", w->opt.log_path, what);
    return LAVR_OK;
}

/* Keeps libx264's extradata to check every segment's fresh encoder against it. */
static lavr_status keep_video_extradata(lavr_video_writer *w) {
    mp4_state *m = &w->mp4;
    m->vextra_size = m->venc->extradata_size;
    m->vextra = malloc((size_t)m->vextra_size + 1);
    if (!m->vextra) return LAVR_FAIL(LAVR_E_NOMEM, "no memory");
    if (m->vextra_size) memcpy(m->vextra, m->venc->extradata, (size_t)m->vextra_size);
    return LAVR_OK;
}

/* An audio packet of the track: to the log's batch (flushed to the log every AUDIO_BATCH_PACKETS), or
 * kept in memory (streaming mode). */
static lavr_status keep_audio_packet(void *user, const AVPacket *p) {
    lavr_video_writer *w = user;
    mp4_state *m = &w->mp4;
    TRY(batch_add(w->logged ? &m->batch : &m->audio_mem, p, 0));
    if (w->logged && m->batch.n >= AUDIO_BATCH_PACKETS) TRY(batch_to_log(w, LAVR_LOG_AUDIO));
    return LAVR_OK;
}

/* The whole audio track, to total_frames' end, into the log (unless it already holds it); streaming
 * mode: into memory. */
static lavr_status make_audio_track(lavr_video_writer *w) {
    mp4_state *m = &w->mp4;
    if (!m->track) return LAVR_OK;
    if (!w->logged) return lavr_audio_track_run(m->track, INT64_MAX, keep_audio_packet, w);
    if (lavr_packet_log_audio_complete(m->log)) return LAVR_OK;
    TRY(lavr_packet_log_truncate(m->log, LAVR_LOG_AUDIO, 0));
    TRY(lavr_audio_track_run(m->track, audio_samples_for(w, w->opt.total_frames, m->audio_rate), keep_audio_packet, w));
    TRY(batch_to_log(w, LAVR_LOG_AUDIO));
    TRY(lavr_packet_log_set_audio_complete(m->log, 1));
    return lavr_packet_log_flush(m->log);
}

/* Writes a packet (its bytes in m->read_buf) to the container; streaming mode shifts audio as the video. */
static lavr_status write_logged(lavr_video_writer *w, lavr_log_stream s, const lavr_packet_row *row) {
    mp4_state *m = &w->mp4;
    AVStream *st = s == LAVR_LOG_VIDEO ? m->vst : m->ast;
    AVRational tb = {1, s == LAVR_LOG_VIDEO ? w->opt.fps : m->audio_rate};
    AV_CHECK(av_new_packet(m->pkt, (int)row->size), "'%s': packet of %lld bytes", w->path, (long long)row->size);
    if (row->size > 0) memcpy(m->pkt->data, m->read_buf, (size_t)row->size);
    const int64_t shift = w->logged ? 0 : audio_samples_for(w, m->video_shift, m->audio_rate);
    m->pkt->pts = row->pts + shift;
    m->pkt->dts = row->dts + shift;
    m->pkt->duration = row->duration;
    m->pkt->flags = (int)row->flags;
    av_packet_rescale_ts(m->pkt, tb, st->time_base);
    m->pkt->stream_index = st->index;
    int r = w->logged ? av_write_frame(m->oc, m->pkt) : av_interleaved_write_frame(m->oc, m->pkt);
    av_packet_unref(m->pkt);
    AV_CHECK(r, "cannot write '%s'", w->path);
    return LAVR_OK;
}

/* Audio packet i (row and bytes into m->read_buf), from the log or from memory. */
static lavr_status audio_packet(lavr_video_writer *w, int64_t i, lavr_packet_row *row) {
    mp4_state *m = &w->mp4;
    if (w->logged) return lavr_packet_log_read(m->log, LAVR_LOG_AUDIO, i, row, &m->read_buf, &m->read_cap);
    *row = m->audio_mem.rows[i];
    if (row->size > m->read_cap) {
        uint8_t *grown = realloc(m->read_buf, (size_t)row->size);
        if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for a packet of %lld bytes", (long long)row->size);
        m->read_buf = grown, m->read_cap = row->size;
    }
    memcpy(m->read_buf, m->audio_mem.bytes + row->offset, (size_t)row->size);
    return LAVR_OK;
}

/* Muxes the next audio packets that end by sample `end`, stopping at sample track_end (the last
 * packet's duration is cut there). */
static lavr_status mux_audio_until(lavr_video_writer *w, int64_t end, int64_t track_end) {
    mp4_state *m = &w->mp4;
    if (!m->ast) return LAVR_OK;
    int64_t n = w->logged ? lavr_packet_log_count(m->log, LAVR_LOG_AUDIO) : m->audio_mem.n;
    for (; m->mux_audio < n; m->mux_audio++) {
        lavr_packet_row row;
        TRY(audio_packet(w, m->mux_audio, &row));
        if (row.pts >= track_end || row.pts + row.duration > end) return LAVR_OK;
        if (row.pts + row.duration > track_end) row.duration = track_end - row.pts;
        TRY(write_logged(w, LAVR_LOG_AUDIO, &row));
    }
    return LAVR_OK;
}

/* Muxes logged video packets up to `end` (the end of a segment), each followed by the audio that
 * ends by its frame's end, and flushes the fragment. */
static lavr_status mux_segment(lavr_video_writer *w, int64_t end) {
    mp4_state *m = &w->mp4;
    for (; m->mux_video < end; m->mux_video++) {
        lavr_packet_row row;
        TRY(lavr_packet_log_read(m->log, LAVR_LOG_VIDEO, m->mux_video, &row, &m->read_buf, &m->read_cap));
        TRY(write_logged(w, LAVR_LOG_VIDEO, &row));
        TRY(mux_audio_until(w, audio_samples_for(w, row.pts + 1, m->audio_rate), INT64_MAX));
    }
    AV_CHECK(av_write_frame(m->oc, NULL), "cannot write '%s'", w->path);
    return LAVR_OK;
}

/* Rebuilds the container of a resumed writer: the logged segments, muxed as they were at each cut. */
static lavr_status replay(lavr_video_writer *w) {
    mp4_state *m = &w->mp4;
    int64_t n = lavr_packet_log_count(m->log, LAVR_LOG_VIDEO);
    while (m->mux_video < n) {
        lavr_packet_row first, row;
        TRY(lavr_packet_log_row(m->log, LAVR_LOG_VIDEO, m->mux_video, &first));
        int64_t end = m->mux_video + 1;
        for (; end < n; end++) {
            TRY(lavr_packet_log_row(m->log, LAVR_LOG_VIDEO, end, &row));
            if (row.segment != first.segment) break;
        }
        TRY(mux_segment(w, end));
    }
    return LAVR_OK;
}

/* Ends the current segment: flushes its encoder into the log, then muxes it from the log. */
static lavr_status mp4_cut(lavr_video_writer *w) {
    mp4_state *m = &w->mp4;
    int64_t frames = w->frames - w->seg_start;
    if (frames == 0) return LAVR_OK;
    if (!m->venc) return LAVR_FAIL(LAVR_E_INTERNAL, "'%s': segment cut without its encoder", w->path);
    AV_CHECK(avcodec_send_frame(m->venc, NULL), "'%s': flushing libx264", w->path);
    TRY(drain(w));
    if (m->batch.n != frames)
        return LAVR_FAIL(LAVR_E_INTERNAL, "'%s': libx264 returned %lld packets for %lld frames", w->path,
                         (long long)m->batch.n, (long long)frames);
    avcodec_free_context(&m->venc);
    TRY(batch_to_log(w, LAVR_LOG_VIDEO));
    TRY(mux_segment(w, lavr_packet_log_count(m->log, LAVR_LOG_VIDEO)));
    w->segments++;
    w->seg_start = w->frames;
    return LAVR_OK;
}

/* Logged mode: the frame goes to the segment's encoder (a fresh one after a cut) and is kept as RGB. */
static lavr_status logged_frame(lavr_video_writer *w) {
    mp4_state *m = &w->mp4;
    if (!m->venc) {
        TRY(open_x264(w, &m->venc));
        if (m->venc->extradata_size != m->vextra_size ||
            memcmp(m->venc->extradata, m->vextra, (size_t)m->vextra_size) != 0)
            return LAVR_FAIL(LAVR_E_INTERNAL, "'%s': a fresh libx264 made other stream headers", w->path);
    }
    int64_t index = w->frames - w->seg_start, bytes = w->opt.width * w->opt.height * 3;
    if (index == w->pending_cap) {
        int64_t cap = 2 * w->pending_cap + 16;
        uint8_t *grown = realloc(w->pending, (size_t)(cap * bytes));
        if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "no memory to keep %lld frames until the next cut", (long long)cap);
        w->pending = grown, w->pending_cap = cap;
    }
    memcpy(w->pending + index * bytes, w->rgb, (size_t)bytes);
    AV_CHECK(av_frame_make_writable(m->vframe), "video frame");
    const uint8_t *src[1] = {w->rgb};
    int stride[1] = {(int)(w->opt.width * 3)};
    sws_scale(m->sws, src, stride, 0, (int)w->opt.height, m->vframe->data, m->vframe->linesize);
    m->vframe->pts = index;
    AV_CHECK(avcodec_send_frame(m->venc, m->vframe), "'%s': libx264 refused frame %lld", w->path, (long long)w->frames);
    return drain(w);
}

/* ---- MP4 open / frame / finish ---------------------------------------------------------------- */

static lavr_status mp4_open(lavr_video_writer *w, const lavr_video_position *resume) {
    mp4_state *m = &w->mp4;
    if (av_log_get_level() > AV_LOG_ERROR) av_log_set_level(AV_LOG_ERROR);
    AV_CHECK(avformat_alloc_output_context2(&m->oc, NULL, NULL, w->final),
             "cannot pick a container for '%s' (use .mp4, .mov, .mkv or .y4m)", w->final);
    m->video_shift = w->logged ? 0 : -1; /* no B-frames in logged mode: dts = pts from 0 */
    m->pkt = av_packet_alloc();
    if (!m->pkt) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for a packet");
    if (w->opt.audio_path) {
        TRY(lavr_audio_track_open(w->opt.audio_path, w->opt.audio_skip_frames, w->opt.fps, w->opt.audio_bitrate,
                                  &m->track));
        m->audio_rate = lavr_audio_track_par(m->track)->sample_rate;
    }
    if (w->logged) {
        m->oc->flags |= AVFMT_FLAG_BITEXACT; /* no version strings: the bytes are a function of the log */
        TRY(open_log(w, resume));
    }
    TRY(mp4_open_video(w));
    if (m->track) TRY(mp4_open_audio(w));
    if (w->logged) {
        TRY(match_extradata(w, LAVR_LOG_VIDEO, m->venc->extradata, m->venc->extradata_size, "libx264"));
        TRY(keep_video_extradata(w));
        if (m->ast) TRY(match_extradata(w, LAVR_LOG_AUDIO, m->ast->codecpar->extradata, m->ast->codecpar->extradata_size,
                                        lavr_audio_track_copied(m->track) ? "copied AAC" : "AAC"));
    }
    TRY(make_audio_track(w));
    lavr_audio_track_close(m->track); /* every packet is in the log or in memory */
    m->track = NULL;
    AV_CHECK(avio_open(&m->oc->pb, w->path, AVIO_FLAG_WRITE), "cannot create '%s'", w->path);
    /* Fragmented MP4: an empty moov up front and one moof+mdat per keyframe interval, so the
     * file is playable up to the last finished fragment whenever the process dies; each
     * packet write is flushed to the file. */
    m->oc->flags |= AVFMT_FLAG_FLUSH_PACKETS;
    AVDictionary *opts = NULL;
    if (strcmp(m->oc->oformat->name, "mp4") == 0 || strcmp(m->oc->oformat->name, "mov") == 0)
        av_dict_set(&opts, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
    int r = avformat_write_header(m->oc, &opts);
    av_dict_free(&opts);
    AV_CHECK(r, "cannot start '%s'", w->path);
    m->header_written = 1;
    return w->logged && resume ? replay(w) : LAVR_OK;
}

static lavr_status mp4_frame(lavr_video_writer *w) {
    mp4_state *m = &w->mp4;
    if (w->logged) return logged_frame(w);
    AV_CHECK(av_frame_make_writable(m->vframe), "video frame");
    const uint8_t *src[1] = {w->rgb};
    int stride[1] = {(int)(w->opt.width * 3)};
    sws_scale(m->sws, src, stride, 0, (int)w->opt.height, m->vframe->data, m->vframe->linesize);
    m->vframe->pts = w->frames;
    AV_CHECK(avcodec_send_frame(m->venc, m->vframe), "'%s': libx264 refused frame %lld", w->path, (long long)w->frames);
    TRY(drain(w));
    /* audio of this frame goes out right behind it (once the video's shift is known), so the muxer
     * interleaves as it goes */
    if (m->video_shift < 0) return LAVR_OK;
    return mux_audio_until(w, audio_samples_for(w, w->frames + 1, m->audio_rate), INT64_MAX);
}

/* Logged mode: the last cut, then the rest of the audio (cut to the frames written). */
static lavr_status logged_finish(lavr_video_writer *w) {
    mp4_state *m = &w->mp4;
    TRY(mp4_cut(w));
    TRY(mux_audio_until(w, INT64_MAX, audio_samples_for(w, w->frames, m->audio_rate)));
    AV_CHECK(av_write_trailer(m->oc), "cannot finish '%s'", w->path);
    AV_CHECK(avio_closep(&m->oc->pb), "cannot finish '%s'", w->path);
    lavr_status st = lavr_packet_log_close(m->log);
    m->log = NULL;
    return st;
}

static lavr_status mp4_finish(lavr_video_writer *w) {
    mp4_state *m = &w->mp4;
    if (!m->header_written) return LAVR_OK;
    if (w->logged) return logged_finish(w);
    AV_CHECK(avcodec_send_frame(m->venc, NULL), "'%s': flushing libx264", w->path);
    TRY(drain(w));
    if (m->video_shift < 0) m->video_shift = 0;
    TRY(mux_audio_until(w, INT64_MAX, audio_samples_for(w, w->frames, m->audio_rate)));
    AV_CHECK(av_write_trailer(m->oc), "cannot finish '%s'", w->path);
    AV_CHECK(avio_closep(&m->oc->pb), "cannot finish '%s'", w->path);
    return LAVR_OK;
}

static void mp4_free(mp4_state *m) {
    if (m->oc && m->oc->pb) avio_closep(&m->oc->pb);
    avformat_free_context(m->oc);
    avcodec_free_context(&m->venc);
    lavr_audio_track_close(m->track);
    sws_freeContext(m->sws);
    av_frame_free(&m->vframe);
    av_packet_free(&m->pkt);
    lavr_packet_log_abandon(m->log);
    free(m->batch.bytes);
    free(m->batch.rows);
    free(m->audio_mem.bytes);
    free(m->audio_mem.rows);
    free(m->read_buf);
    free(m->vextra);
    memset(m, 0, sizeof *m);
}

#else

static lavr_status mp4_open(lavr_video_writer *w, const lavr_video_position *resume) {
    (void)resume;
    return LAVR_FAIL(LAVR_E_UNSUPPORTED,
                     "writing '%s' needs FFmpeg: this build has no FFmpeg: reconfigure with -DLAVR_FFMPEG=ON "
                     "(or write raw output to a .y4m path)", w->path);
}
static lavr_status mp4_frame(lavr_video_writer *w) { (void)w; return LAVR_E_INTERNAL; }
static lavr_status mp4_cut(lavr_video_writer *w) { (void)w; return LAVR_E_INTERNAL; }
static lavr_status mp4_finish(lavr_video_writer *w) { (void)w; return LAVR_OK; }
static void mp4_free(mp4_state *m) { (void)m; }

#endif

/* ---- the writer ------------------------------------------------------------------------------- */

static void writer_free(lavr_video_writer *w) {
    if (w->y4m) fclose(w->y4m);
    mp4_free(&w->mp4);
    free(w->path);
    free(w->final);
    free(w->rgb);
    free(w->yuv);
    free(w->pending);
    free(w);
}

static lavr_status check_options(const char *path, const lavr_video_options *o) {
    CHECK_ARG(path || o->png_dir, "video writer: no output path and no PNG folder");
    CHECK_ARG(o->width > 0 && o->height > 0 && o->width % 2 == 0 && o->height % 2 == 0 && o->width <= 16384 &&
                  o->height <= 16384,
              "video size %lldx%lld must be even and at most 16384", (long long)o->width, (long long)o->height);
    CHECK_ARG(o->fps > 0 && o->fps <= 1000, "bad fps %d", o->fps);
    CHECK_ARG(o->crf >= 0 && o->crf <= 51, "bad crf %d (0..51)", o->crf);
    CHECK_ARG(o->keyint > 0, "bad keyframe interval %d", o->keyint);
    CHECK_ARG(o->preset && *o->preset, "missing x264 preset");
    if (o->audio_path) {
        CHECK_ARG(o->audio_skip_frames >= 0, "bad audio skip (%lld frames)", (long long)o->audio_skip_frames);
        CHECK_ARG(o->audio_bitrate > 0, "bad audio bitrate %lld", (long long)o->audio_bitrate);
        CHECK_ARG(!o->log_path || o->total_frames > 0, "video writer: a packet log with audio needs total_frames");
    }
    CHECK_ARG(o->total_frames >= 0, "bad total_frames %lld", (long long)o->total_frames);
    if (o->png_dir) {
        struct stat sb;
        if (mkdir(o->png_dir, 0777) != 0 && (errno != EEXIST || stat(o->png_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)))
            return LAVR_FAIL(LAVR_E_IO, "cannot create PNG folder '%s': %m", o->png_dir);
    }
    return LAVR_OK;
}

/* Opens the outputs of a new writer, or (resume != NULL) reopens them with `base` frames kept. */
static lavr_status writer_start(const char *path, const lavr_video_options *o, const lavr_video_position *resume,
                                int64_t base, lavr_video_writer **out) {
    TRY(check_options(path, o));
    lavr_video_writer *w = calloc(1, sizeof *w);
    if (!w) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for a video writer");
    w->opt = *o;
    lavr_status st = LAVR_OK;
    w->rgb = malloc((size_t)(o->width * o->height * 3));
    if (!w->rgb) {
        st = LAVR_FAIL(LAVR_E_NOMEM, "no memory for a %lldx%lld frame", (long long)o->width, (long long)o->height);
        goto fail;
    }
    w->frames = w->seg_start = base;
    w->segments = resume ? resume->segments : 0;
    if (path) {
        w->final = strdup(path);
        w->path = malloc(strlen(path) + 6);
        if (w->path) snprintf(w->path, strlen(path) + 6, "%s.part", path);
        if (!w->final || !w->path) {
            st = LAVR_FAIL(LAVR_E_NOMEM, "no memory");
            goto fail;
        }
        w->raw_y4m = ends_with(path, ".y4m");
        w->logged = !w->raw_y4m && o->log_path;
        if (resume && !w->raw_y4m && !w->logged) {
            st = LAVR_FAIL(LAVR_E_ARG, "resuming '%s' needs the packet log it was written with (log_path)", path);
            goto fail;
        }
        if (w->raw_y4m) TRY_GOTO(resume ? y4m_reopen(w, base) : y4m_open(w), st, fail);
        else TRY_GOTO(mp4_open(w, resume), st, fail);
    }
    *out = w;
    return LAVR_OK;
fail:
    writer_free(w);
    return st;
}

lavr_status lavr_video_check_path(const char *path) {
    CHECK_ARG(path && path[0], "--out is empty: give the video file to write (e.g. out.mp4)");
    struct stat sb;
    CHECK_ARG(stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode), "--out '%s' is a directory: give a file name (e.g. %s/out.mp4)",
              path, path);
    if (ends_with(path, ".y4m")) return LAVR_OK;
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    CHECK_ARG(dot && (!slash || dot > slash + 1), "--out '%s' has no extension: use .mp4, .mov, .mkv or .y4m", path);
#if LAVR_HAVE_FFMPEG
    CHECK_ARG(av_guess_format(NULL, path, NULL) != NULL, "--out '%s': FFmpeg knows no container for '%s' (use .mp4, "
              ".mov, .mkv or .y4m)", path, dot);
    return LAVR_OK;
#else
    return LAVR_FAIL(LAVR_E_UNSUPPORTED, "writing '%s' needs FFmpeg: this build has no FFmpeg (write raw output to a "
                     ".y4m path)", path);
#endif
}

lavr_status lavr_video_writer_open(const char *path, const lavr_video_options *o, lavr_video_writer **out) {
    CHECK_ARG(o && out, "lavr_video_writer_open: NULL argument");
    *out = NULL;
    return writer_start(path, o, NULL, 0, out);
}

/* Writes the frame held in w->rgb to every output. */
static lavr_status emit_frame(lavr_video_writer *w) {
    if (w->path) TRY(w->raw_y4m ? y4m_frame(w) : mp4_frame(w));
    if (w->opt.png_dir) {
        size_t n = strlen(w->opt.png_dir) + 32;
        char *name = malloc(n);
        if (!name) return LAVR_FAIL(LAVR_E_NOMEM, "no memory");
        snprintf(name, n, "%s/frame_%06lld.png", w->opt.png_dir, (long long)w->frames);
        lavr_status st = lavr_png_write(name, w->rgb, w->opt.width, w->opt.height);
        free(name);
        TRY(st);
    }
    w->frames++;
    return LAVR_OK;
}

lavr_status lavr_video_writer_append_f32(lavr_video_writer *w, const float *frames, int64_t count) {
    CHECK_ARG(w && (frames || count == 0) && count >= 0, "lavr_video_writer_append_f32: bad argument");
    CHECK_ARG(!w->failed, "'%s': the writer failed earlier", w->path);
    int64_t hw = w->opt.width * w->opt.height;
    for (int64_t t = 0; t < count; t++) {
        for (int64_t i = 0; i < hw; i++)
            for (int c = 0; c < 3; c++) {
                float x = frames[(c * count + t) * hw + i];
                x = x > 1.0f ? 1.0f : x < -1.0f ? -1.0f : x != x ? -1.0f : x;
                w->rgb[i * 3 + c] = (uint8_t)((x + 1.0f) / 2.0f * 255.0f); /* truncation, as the reference */
            }
        lavr_status st = emit_frame(w);
        if (st) {
            w->failed = 1;
            return st;
        }
    }
    return LAVR_OK;
}

lavr_status lavr_video_writer_append_rgb8(lavr_video_writer *w, const uint8_t *frames, int64_t count) {
    CHECK_ARG(w && (frames || count == 0) && count >= 0, "lavr_video_writer_append_rgb8: bad argument");
    CHECK_ARG(!w->failed, "'%s': the writer failed earlier", w->path);
    int64_t bytes = w->opt.width * w->opt.height * 3;
    for (int64_t t = 0; t < count; t++) {
        memcpy(w->rgb, frames + t * bytes, (size_t)bytes);
        lavr_status st = emit_frame(w);
        if (st) {
            w->failed = 1;
            return st;
        }
    }
    return LAVR_OK;
}

lavr_status lavr_video_writer_close(lavr_video_writer *w) {
    if (!w) return LAVR_OK;
    lavr_status st = LAVR_OK;
    if (w->failed) st = LAVR_FAIL(LAVR_E_INTERNAL, "'%s' is not finished: the writer failed earlier", w->path);
    else if (w->path) st = w->raw_y4m ? y4m_close(w) : mp4_finish(w);
    /* the finished file takes its name only now: a failure leaves an earlier file of that name as it was */
    if (!st && w->path && rename(w->path, w->final) != 0)
        st = LAVR_FAIL(LAVR_E_IO, "cannot rename '%s' to '%s': %m", w->path, w->final);
    if (!st && w->path)
        LOG_INFO("wrote %s: %lld frames, %.2f s", w->final, (long long)w->frames, (double)w->frames / w->opt.fps);
    writer_free(w);
    return st;
}

void lavr_video_writer_abandon(lavr_video_writer *w) {
    if (w) writer_free(w);
}

/* ---- resumable output ------------------------------------------------------------------------- */

lavr_status lavr_video_writer_cut(lavr_video_writer *w) {
    CHECK_ARG(w, "lavr_video_writer_cut: NULL writer");
    CHECK_ARG(!w->failed, "'%s': the writer failed earlier", w->path);
    lavr_status st = w->logged ? mp4_cut(w) : LAVR_OK;
    if (st) w->failed = 1;
    return st;
}

void lavr_video_writer_position(const lavr_video_writer *w, lavr_video_position *pos, const uint8_t **pending,
                                int64_t *pending_count) {
    pos->frames = w->frames;
    pos->segments = w->segments;
    pos->video_packets = 0;
    *pending = NULL;
    *pending_count = 0;
#if LAVR_HAVE_FFMPEG
    if (w->logged) {
        pos->video_packets = lavr_packet_log_count(w->mp4.log, LAVR_LOG_VIDEO);
        *pending = w->pending;
        *pending_count = w->frames - w->seg_start;
    }
#endif
}

lavr_status lavr_video_writer_resume(const char *path, const lavr_video_options *o, const lavr_video_position *pos,
                                     const uint8_t *pending, int64_t pending_count, lavr_video_writer **out) {
    CHECK_ARG(o && pos && out && (pending || pending_count == 0), "lavr_video_writer_resume: NULL argument");
    *out = NULL;
    CHECK_ARG(pending_count >= 0 && pos->frames >= pending_count && pos->segments >= 0 && pos->video_packets >= 0,
              "resuming '%s': bad position (%lld frames, %lld of them pending)", path ? path : o->png_dir,
              (long long)pos->frames, (long long)pending_count);
    lavr_video_writer *w;
    TRY(writer_start(path, o, pos, pos->frames - pending_count, &w));
    lavr_status st = lavr_video_writer_append_rgb8(w, pending, pending_count);
    if (st) {
        writer_free(w);
        return st;
    }
    LOG_INFO("resumed %s at frame %lld (%lld segments)", path ? path : o->png_dir, (long long)pos->frames,
             (long long)pos->segments);
    *out = w;
    return LAVR_OK;
}
