/* The streaming video writer: libx264 + AAC muxed into fragmented MP4 frame by frame (FFmpeg's
 * libraries), or raw Y4M + WAV, plus optional PNG frames. Used by the output rank and `lavr encode`. */
#include "io/video.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/log.h"
#include "io/audio.h"
#include "io/image.h"

#if LAVR_HAVE_FFMPEG
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#endif

typedef struct {
#if LAVR_HAVE_FFMPEG
    AVFormatContext *oc;
    AVCodecContext *venc, *aenc;
    AVStream *vst, *ast;
    struct SwsContext *sws;
    AVFrame *vframe, *aframe;
    AVPacket *pkt;
    int64_t audio_sent;        /* samples given to the AAC encoder so far (after the priming) */
    int64_t audio_track_end;   /* track length in samples once known (at close), else INT64_MAX */
    int64_t video_shift;       /* frames added to every timestamp (-first dts); -1 until known */
    int header_written;
#else
    int unused;
#endif
} mp4_state;

struct lavr_video_writer {
    lavr_video_options opt;
    char *path;
    int raw_y4m;
    FILE *y4m;
    mp4_state mp4;
    uint8_t *rgb;              /* one frame, [H, W, 3] */
    uint8_t *yuv;              /* one Y4M frame */
    int64_t frames;
};

void lavr_video_options_default(lavr_video_options *o) {
    memset(o, 0, sizeof *o);
    o->fps = 25;
    o->crf = 18;
    o->preset = "medium";
    o->keyint = 25;
    o->audio_rate = LAVR_AUDIO_RATE;
    o->audio_bitrate = 96000;
}

int64_t lavr_video_writer_frames(const lavr_video_writer *w) { return w ? w->frames : 0; }

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Audio samples that belong with the first `frames` video frames, clipped to what exists. */
static int64_t audio_end_for(const lavr_video_writer *w, int64_t frames) {
    if (!w->opt.audio) return 0;
    int64_t end = w->opt.audio_start + frames * w->opt.audio_rate / w->opt.fps;
    return end < w->opt.audio_samples ? end : w->opt.audio_samples;
}

/* ---- raw Y4M ---------------------------------------------------------------------------------- */

static lavr_status y4m_open(lavr_video_writer *w) {
    w->y4m = fopen(w->path, "wb");
    if (!w->y4m) return LAVR_FAIL(LAVR_E_IO, "cannot create '%s': %m", w->path);
    w->yuv = malloc((size_t)(w->opt.width * w->opt.height * 3));
    if (!w->yuv) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for a Y4M frame");
    if (fprintf(w->y4m, "YUV4MPEG2 W%lld H%lld F%d:1 Ip A1:1 C444 XCOLORRANGE=LIMITED\n", (long long)w->opt.width,
                (long long)w->opt.height, w->opt.fps) < 0)
        return LAVR_FAIL(LAVR_E_IO, "cannot write '%s'", w->path);
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
    if (st || !w->opt.audio) return st;
    size_t n = strlen(w->path);
    char *wav = malloc(n + 1);
    if (!wav) return LAVR_FAIL(LAVR_E_NOMEM, "no memory");
    memcpy(wav, w->path, n - 4);
    memcpy(wav + n - 4, ".wav", 5);
    int64_t start = w->opt.audio_start, end = audio_end_for(w, w->frames);
    st = lavr_wav_write(wav, w->opt.audio + (end > start ? start : 0), end > start ? end - start : 0, w->opt.audio_rate);
    free(wav);
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

/* Sends the encoder's ready packets to the muxer; video packets last exactly one frame, so the
 * final frame keeps its duration in the file. */
static lavr_status drain(lavr_video_writer *w, AVCodecContext *enc, AVStream *st) {
    mp4_state *m = &w->mp4;
    for (;;) {
        int r = avcodec_receive_packet(enc, m->pkt);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return LAVR_OK;
        AV_CHECK(r, "'%s': %s encoder failed", w->path, enc->codec->name);
        /* B-frames make x264's first dts negative; FFmpeg's fragmented MP4 then shifts the
         * streams unevenly. Shift both streams ourselves by the same time instead. */
        if (enc == m->venc) {
            if (m->video_shift < 0) m->video_shift = m->pkt->dts < 0 ? -m->pkt->dts : 0;
            m->pkt->pts += m->video_shift;
            m->pkt->dts += m->video_shift;
        } else {
            int64_t shift = m->video_shift * w->opt.audio_rate / w->opt.fps;
            m->pkt->pts += shift;
            m->pkt->dts += shift;
        }
        if (enc == m->venc && m->pkt->duration == 0) m->pkt->duration = 1;
        /* the encoder's last packets are whole 1024-sample frames: cut their duration at the video's end */
        int64_t track_end = m->audio_track_end + m->video_shift * w->opt.audio_rate / w->opt.fps;
        if (enc == m->aenc && m->pkt->pts + m->pkt->duration > track_end)
            m->pkt->duration = track_end > m->pkt->pts ? track_end - m->pkt->pts : 0;
        av_packet_rescale_ts(m->pkt, enc->time_base, st->time_base);
        m->pkt->stream_index = st->index;
        r = av_interleaved_write_frame(m->oc, m->pkt);
        av_packet_unref(m->pkt);
        AV_CHECK(r, "cannot write '%s'", w->path);
    }
}

/* Encodes audio up to sample `end` in whole encoder frames; `last` also sends the remainder as a
 * short final frame (zero-padded if the encoder cannot take a short one). */
static lavr_status encode_audio_until(lavr_video_writer *w, int64_t end, int last) {
    mp4_state *m = &w->mp4;
    if (!m->aenc || (m->video_shift < 0 && !last)) return LAVR_OK; /* wait for the first video packet */
    int fs = m->aenc->frame_size;
    /* AAC's decoder delay (initial_padding, 1024 samples) cannot be signalled in a fragmented
     * MP4 that starts with an empty moov (no edit list; FFmpeg instead shifts the video and
     * stretches its first frame). So the track starts at pts 0 with the priming in place of the
     * first `pad` samples: decoded sample k then plays exactly with source sample audio_start + k,
     * and the first pad/rate seconds (64 ms at 16 kHz) are silence. */
    int64_t pad = m->aenc->initial_padding;
    for (;;) {
        int64_t pos = w->opt.audio_start + pad + m->audio_sent, avail = end - pos;
        if (avail <= 0 || (avail < fs && !last)) return LAVR_OK;
        int n = avail < fs ? (int)avail : fs;
        int short_ok = (m->aenc->codec->capabilities & AV_CODEC_CAP_SMALL_LAST_FRAME) != 0;
        AV_CHECK(av_frame_make_writable(m->aframe), "audio frame");
        m->aframe->nb_samples = short_ok ? n : fs;
        float *dst = (float *)m->aframe->data[0];
        memcpy(dst, w->opt.audio + pos, sizeof(float) * (size_t)n);
        for (int i = n; i < m->aframe->nb_samples; i++) dst[i] = 0.0f;
        m->aframe->pts = pad + m->audio_sent;
        m->audio_sent += n;
        AV_CHECK(avcodec_send_frame(m->aenc, m->aframe), "'%s': AAC encoder refused a frame", w->path);
        TRY(drain(w, m->aenc, m->ast));
    }
}

static lavr_status open_encoder(lavr_video_writer *w, const char *name, AVCodecContext **ctx, AVStream **st) {
    const AVCodec *codec = avcodec_find_encoder_by_name(name);
    if (!codec) return LAVR_FAIL(LAVR_E_UNSUPPORTED, "this FFmpeg has no %s encoder (install a full FFmpeg build)", name);
    *st = avformat_new_stream(w->mp4.oc, NULL);
    *ctx = avcodec_alloc_context3(codec);
    if (!*st || !*ctx) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for the %s encoder", name);
    return LAVR_OK;
}

static lavr_status mp4_open_video(lavr_video_writer *w) {
    mp4_state *m = &w->mp4;
    TRY(open_encoder(w, "libx264", &m->venc, &m->vst));
    AVCodecContext *c = m->venc;
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
    if (m->oc->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary *opts = NULL;
    char crf[16];
    snprintf(crf, sizeof crf, "%d", w->opt.crf);
    av_dict_set(&opts, "crf", crf, 0);
    av_dict_set(&opts, "preset", w->opt.preset, 0);
    int r = avcodec_open2(c, c->codec, &opts);
    av_dict_free(&opts);
    AV_CHECK(r, "cannot open libx264 (preset '%s', crf %d)", w->opt.preset, w->opt.crf);
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

static lavr_status mp4_open_audio(lavr_video_writer *w) {
    mp4_state *m = &w->mp4;
    TRY(open_encoder(w, "aac", &m->aenc, &m->ast));
    AVCodecContext *c = m->aenc;
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    c->sample_rate = w->opt.audio_rate;
    c->bit_rate = w->opt.audio_bitrate;
    av_channel_layout_default(&c->ch_layout, 1);
    c->time_base = (AVRational){1, w->opt.audio_rate};
    if (m->oc->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AV_CHECK(avcodec_open2(c, c->codec, NULL), "cannot open the AAC encoder at %d Hz", w->opt.audio_rate);
    AV_CHECK(avcodec_parameters_from_context(m->ast->codecpar, c), "audio stream parameters");
    m->ast->time_base = c->time_base;
    m->audio_track_end = INT64_MAX / 2;
    m->aframe = av_frame_alloc();
    if (!m->aframe) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for an audio frame");
    m->aframe->format = c->sample_fmt;
    m->aframe->sample_rate = c->sample_rate;
    m->aframe->nb_samples = c->frame_size;
    AV_CHECK(av_channel_layout_copy(&m->aframe->ch_layout, &c->ch_layout), "audio layout");
    AV_CHECK(av_frame_get_buffer(m->aframe, 0), "audio frame buffer");
    return LAVR_OK;
}

static lavr_status mp4_open(lavr_video_writer *w) {
    mp4_state *m = &w->mp4;
    if (av_log_get_level() > AV_LOG_ERROR) av_log_set_level(AV_LOG_ERROR);
    AV_CHECK(avformat_alloc_output_context2(&m->oc, NULL, NULL, w->path),
             "cannot pick a container for '%s' (use .mp4, .mov, .mkv or .y4m)", w->path);
    m->video_shift = -1;
    m->pkt = av_packet_alloc();
    if (!m->pkt) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for a packet");
    TRY(mp4_open_video(w));
    if (w->opt.audio) TRY(mp4_open_audio(w));
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
    return LAVR_OK;
}

static lavr_status mp4_frame(lavr_video_writer *w) {
    mp4_state *m = &w->mp4;
    AV_CHECK(av_frame_make_writable(m->vframe), "video frame");
    const uint8_t *src[1] = {w->rgb};
    int stride[1] = {(int)(w->opt.width * 3)};
    sws_scale(m->sws, src, stride, 0, (int)w->opt.height, m->vframe->data, m->vframe->linesize);
    m->vframe->pts = w->frames;
    AV_CHECK(avcodec_send_frame(m->venc, m->vframe), "'%s': libx264 refused frame %lld", w->path, (long long)w->frames);
    TRY(drain(w, m->venc, m->vst));
    /* audio of this frame goes out right behind it, so the muxer interleaves as it goes */
    return encode_audio_until(w, audio_end_for(w, w->frames + 1), 0);
}

static lavr_status mp4_finish(lavr_video_writer *w) {
    mp4_state *m = &w->mp4;
    if (!m->header_written) return LAVR_OK;
    AV_CHECK(avcodec_send_frame(m->venc, NULL), "'%s': flushing libx264", w->path);
    TRY(drain(w, m->venc, m->vst));
    if (m->video_shift < 0) m->video_shift = 0;
    if (m->aenc) {
        int64_t end = audio_end_for(w, w->frames);
        m->audio_track_end = end > w->opt.audio_start ? end - w->opt.audio_start : 0;
        TRY(encode_audio_until(w, end, 1));
        AV_CHECK(avcodec_send_frame(m->aenc, NULL), "'%s': flushing AAC", w->path);
        TRY(drain(w, m->aenc, m->ast));
    }
    AV_CHECK(av_write_trailer(m->oc), "cannot finish '%s'", w->path);
    return LAVR_OK;
}

static void mp4_free(mp4_state *m) {
    if (m->oc && m->oc->pb) avio_closep(&m->oc->pb);
    avformat_free_context(m->oc);
    avcodec_free_context(&m->venc);
    avcodec_free_context(&m->aenc);
    sws_freeContext(m->sws);
    av_frame_free(&m->vframe);
    av_frame_free(&m->aframe);
    av_packet_free(&m->pkt);
    memset(m, 0, sizeof *m);
}

#else

static lavr_status mp4_open(lavr_video_writer *w) {
    return LAVR_FAIL(LAVR_E_UNSUPPORTED,
                     "writing '%s' needs FFmpeg: this build has no FFmpeg: reconfigure with -DLAVR_FFMPEG=ON "
                     "(or write raw output to a .y4m path)", w->path);
}
static lavr_status mp4_frame(lavr_video_writer *w) { (void)w; return LAVR_E_INTERNAL; }
static lavr_status mp4_finish(lavr_video_writer *w) { (void)w; return LAVR_OK; }
static void mp4_free(mp4_state *m) { (void)m; }

#endif

/* ---- the writer ------------------------------------------------------------------------------- */

static void writer_free(lavr_video_writer *w) {
    if (w->y4m) fclose(w->y4m);
    mp4_free(&w->mp4);
    free(w->path);
    free(w->rgb);
    free(w->yuv);
    free(w);
}

lavr_status lavr_video_writer_open(const char *path, const lavr_video_options *o, lavr_video_writer **out) {
    CHECK_ARG(o && out, "lavr_video_writer_open: NULL argument");
    *out = NULL;
    CHECK_ARG(path || o->png_dir, "video writer: no output path and no PNG folder");
    CHECK_ARG(o->width > 0 && o->height > 0 && o->width % 2 == 0 && o->height % 2 == 0 && o->width <= 16384 &&
                  o->height <= 16384,
              "video size %lldx%lld must be even and at most 16384", (long long)o->width, (long long)o->height);
    CHECK_ARG(o->fps > 0 && o->fps <= 1000, "bad fps %d", o->fps);
    CHECK_ARG(o->crf >= 0 && o->crf <= 51, "bad crf %d (0..51)", o->crf);
    CHECK_ARG(o->keyint > 0, "bad keyframe interval %d", o->keyint);
    CHECK_ARG(o->preset && *o->preset, "missing x264 preset");
    if (o->audio) {
        CHECK_ARG(o->audio_rate > 0 && o->audio_rate % o->fps == 0,
                  "audio rate %d Hz must be a whole number of samples per frame at %d fps", o->audio_rate, o->fps);
        CHECK_ARG(o->audio_samples >= 0 && o->audio_start >= 0, "bad audio range (%lld samples, start %lld)",
                  (long long)o->audio_samples, (long long)o->audio_start);
        CHECK_ARG(o->audio_bitrate > 0, "bad audio bitrate %d", o->audio_bitrate);
    }
    if (o->png_dir) {
        struct stat sb;
        if (mkdir(o->png_dir, 0777) != 0 && (errno != EEXIST || stat(o->png_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)))
            return LAVR_FAIL(LAVR_E_IO, "cannot create PNG folder '%s': %m", o->png_dir);
    }
    lavr_video_writer *w = calloc(1, sizeof *w);
    if (!w) return LAVR_FAIL(LAVR_E_NOMEM, "no memory for a video writer");
    w->opt = *o;
    lavr_status st = LAVR_OK;
    w->rgb = malloc((size_t)(o->width * o->height * 3));
    if (!w->rgb) {
        st = LAVR_FAIL(LAVR_E_NOMEM, "no memory for a %lldx%lld frame", (long long)o->width, (long long)o->height);
        goto fail;
    }
    if (path) {
        w->path = strdup(path);
        if (!w->path) {
            st = LAVR_FAIL(LAVR_E_NOMEM, "no memory");
            goto fail;
        }
        w->raw_y4m = ends_with(path, ".y4m");
        TRY_GOTO(w->raw_y4m ? y4m_open(w) : mp4_open(w), st, fail);
    }
    *out = w;
    return LAVR_OK;
fail:
    writer_free(w);
    return st;
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
    int64_t hw = w->opt.width * w->opt.height;
    for (int64_t t = 0; t < count; t++) {
        for (int64_t i = 0; i < hw; i++)
            for (int c = 0; c < 3; c++) {
                float x = frames[(c * count + t) * hw + i];
                x = x > 1.0f ? 1.0f : x < -1.0f ? -1.0f : x != x ? -1.0f : x;
                w->rgb[i * 3 + c] = (uint8_t)((x + 1.0f) / 2.0f * 255.0f); /* truncation, as the reference */
            }
        TRY(emit_frame(w));
    }
    return LAVR_OK;
}

lavr_status lavr_video_writer_append_rgb8(lavr_video_writer *w, const uint8_t *frames, int64_t count) {
    CHECK_ARG(w && (frames || count == 0) && count >= 0, "lavr_video_writer_append_rgb8: bad argument");
    int64_t bytes = w->opt.width * w->opt.height * 3;
    for (int64_t t = 0; t < count; t++) {
        memcpy(w->rgb, frames + t * bytes, (size_t)bytes);
        TRY(emit_frame(w));
    }
    return LAVR_OK;
}

lavr_status lavr_video_writer_close(lavr_video_writer *w) {
    if (!w) return LAVR_OK;
    lavr_status st = LAVR_OK;
    if (w->path) st = w->raw_y4m ? y4m_close(w) : mp4_finish(w);
    if (!st && w->path)
        LOG_INFO("wrote %s: %lld frames, %.2f s", w->path, (long long)w->frames, (double)w->frames / w->opt.fps);
    writer_free(w);
    return st;
}
