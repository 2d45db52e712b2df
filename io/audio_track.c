/* The MP4's audio track from the user's file (io/audio_track.h) on libavformat/libavcodec/libswresample:
 * AAC packets copied (ADTS through aac_adtstoasc), or decoded, kept at their rate and layout, and encoded. */
#include "io/audio_track.h"

#if LAVR_HAVE_FFMPEG

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libswresample/swresample.h>

#define AV_CHECK(call, ...)                                                                       \
    do {                                                                                          \
        int r_ = (call);                                                                          \
        if (r_ < 0) {                                                                             \
            char msg_[512];                                                                       \
            snprintf(msg_, sizeof msg_, __VA_ARGS__);                                             \
            return LAVR_FAIL(LAVR_E_MEDIA, "%s: %s", msg_, av_err2str(r_));                       \
        }                                                                                         \
    } while (0)

/* AAC carries at most 6144 bits per channel in a frame of 1024 samples (ISO/IEC 14496-3, 4.5.3.2) */
#define AAC_MAX_BITS_PER_CHANNEL_FRAME 6144

struct lavr_audio_track {
    char *path;
    AVFormatContext *fmt;
    int stream, copy, rate;
    int64_t start;           /* source samples before the track's first */
    AVCodecParameters *par;  /* of the output stream */
    AVBSFContext *bsf;       /* copy of ADTS: strips the headers, gives the AudioSpecificConfig */
    AVCodecContext *dec, *enc;
    SwrContext *swr;         /* decoded -> the encoder's sample format, same rate and layout */
    AVAudioFifo *fifo;
    AVFrame *frame, *eframe;
    AVPacket *pkt, *out;
    int64_t to_skip;         /* encode: converted samples still to drop before the encoder's first */
    int64_t fed, limit, end; /* encode: samples sent; the most to send; the track's end (samples) */
    int64_t shift;           /* copy: the first kept packet's source pts (-1 until seen) */
    lavr_status (*emit)(void *, const AVPacket *);
    void *user;
};

static lavr_status open_input(lavr_audio_track *t) {
    AV_CHECK(avformat_open_input(&t->fmt, t->path, NULL, NULL), "'%s' is not a file FFmpeg reads", t->path);
    AV_CHECK(avformat_find_stream_info(t->fmt, NULL), "'%s': cannot read its streams", t->path);
    AV_CHECK(t->stream = av_find_best_stream(t->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0), "'%s' holds no audio stream",
             t->path);
    const AVCodecParameters *in = t->fmt->streams[t->stream]->codecpar;
    if (in->sample_rate <= 0 || in->ch_layout.nb_channels <= 0)
        return LAVR_FAIL(LAVR_E_MEDIA, "'%s': the audio stream has no sample rate or channels", t->path);
    return LAVR_OK;
}

/* ---- copy ------------------------------------------------------------------------------------ */

/* Reads one packet of the audio stream into t->pkt (through the ADTS filter when there is one); *eof at the end. */
static lavr_status next_source_packet(lavr_audio_track *t, int *eof) {
    *eof = 0;
    for (;;) {
        if (t->bsf) {
            int r = av_bsf_receive_packet(t->bsf, t->pkt);
            if (r == 0) return LAVR_OK;
            if (r == AVERROR_EOF) return *eof = 1, LAVR_OK;
            if (r != AVERROR(EAGAIN)) AV_CHECK(r, "'%s': aac_adtstoasc", t->path);
        }
        int r = av_read_frame(t->fmt, t->pkt);
        if (r == AVERROR_EOF) {
            if (!t->bsf) return *eof = 1, LAVR_OK;
            AV_CHECK(av_bsf_send_packet(t->bsf, NULL), "'%s': aac_adtstoasc", t->path);
            continue;
        }
        AV_CHECK(r, "'%s': cannot read the audio", t->path);
        if (t->pkt->stream_index != t->stream) {
            av_packet_unref(t->pkt);
            continue;
        }
        if (!t->bsf) return LAVR_OK;
        r = av_bsf_send_packet(t->bsf, t->pkt);
        av_packet_unref(t->pkt);
        AV_CHECK(r, "'%s': aac_adtstoasc", t->path);
    }
}

/* ADTS (raw .aac): the mp4 stream needs the AudioSpecificConfig, which the filter finds in the first packet;
 * the file is then opened again. */
static lavr_status open_copy(lavr_audio_track *t) {
    const AVStream *in = t->fmt->streams[t->stream];
    AV_CHECK(avcodec_parameters_copy(t->par, in->codecpar), "'%s': stream parameters", t->path);
    t->par->codec_tag = 0;
    if (t->par->extradata_size > 0) return LAVR_OK;
    const AVBitStreamFilter *f = av_bsf_get_by_name("aac_adtstoasc");
    if (!f) return LAVR_FAIL(LAVR_E_UNSUPPORTED, "this FFmpeg has no aac_adtstoasc filter to copy '%s'", t->path);
    for (int pass = 0; pass < 2; pass++) {
        in = t->fmt->streams[t->stream]; /* the file's second opening has its own */
        av_bsf_free(&t->bsf);
        AV_CHECK(av_bsf_alloc(f, &t->bsf), "'%s': aac_adtstoasc", t->path);
        AV_CHECK(avcodec_parameters_copy(t->bsf->par_in, in->codecpar), "'%s': aac_adtstoasc", t->path);
        t->bsf->time_base_in = in->time_base;
        AV_CHECK(av_bsf_init(t->bsf), "'%s': aac_adtstoasc", t->path);
        if (pass == 1) return LAVR_OK;
        int eof;
        TRY(next_source_packet(t, &eof));
        /* the filter hands the configuration over as the first packet's new extradata */
        size_t size = 0;
        const uint8_t *config = eof ? NULL : av_packet_get_side_data(t->pkt, AV_PKT_DATA_NEW_EXTRADATA, &size);
        if (!config) config = t->bsf->par_out->extradata, size = (size_t)t->bsf->par_out->extradata_size;
        uint8_t *ex = size > 0 ? av_mallocz(size + AV_INPUT_BUFFER_PADDING_SIZE) : NULL;
        if (ex) memcpy(ex, config, size);
        av_packet_unref(t->pkt);
        if (size == 0) return LAVR_FAIL(LAVR_E_MEDIA, "'%s': no AAC configuration in its first packet", t->path);
        if (!ex) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
        av_freep(&t->par->extradata);
        t->par->extradata = ex;
        t->par->extradata_size = (int)size;
        avformat_close_input(&t->fmt);
        TRY(open_input(t));
    }
    return LAVR_OK;
}

static lavr_status run_copy(lavr_audio_track *t, int64_t max_samples) {
    const AVRational tb = t->fmt->streams[t->stream]->time_base, samples = {1, t->rate};
    const int64_t half = (t->par->frame_size > 0 ? t->par->frame_size : 1024) / 2;
    for (;;) {
        int eof;
        TRY(next_source_packet(t, &eof));
        if (eof) return LAVR_OK;
        AVPacket *p = t->pkt;
        const int64_t pts = av_rescale_q(p->pts != AV_NOPTS_VALUE ? p->pts : p->dts, tb, samples);
        const int64_t duration = av_rescale_q(p->duration, tb, samples);
        lavr_status st = LAVR_OK;
        if (t->shift < 0 && pts >= t->start - half) t->shift = pts;
        if (t->shift >= 0) {
            p->pts = p->dts = pts - t->shift;
            p->duration = duration;
            if (p->pts >= max_samples) {
                av_packet_unref(p);
                return LAVR_OK;
            }
            if (p->pts + p->duration > max_samples) p->duration = max_samples - p->pts;
            st = t->emit(t->user, p);
        }
        av_packet_unref(p);
        TRY(st);
    }
}

/* ---- encode ---------------------------------------------------------------------------------- */

/* The file's rate when AAC has it, else the next one up (AAC codes 13 rates, 7350 to 96000 Hz). */
static int aac_rate(const AVCodec *aac, int rate) {
    int best = 0, top = 0;
    for (const int *r = aac->supported_samplerates; r && *r; r++) {
        if (*r >= rate && (best == 0 || *r < best)) best = *r;
        if (*r > top) top = *r;
    }
    return best ? best : top ? top : rate;
}

static lavr_status open_encode(lavr_audio_track *t, int64_t bitrate, int64_t skip_num, int64_t skip_den) {
    const AVCodecParameters *in = t->fmt->streams[t->stream]->codecpar;
    const AVCodec *dcodec = avcodec_find_decoder(in->codec_id);
    if (!dcodec) return LAVR_FAIL(LAVR_E_MEDIA, "'%s': this FFmpeg cannot decode its audio", t->path);
    t->dec = avcodec_alloc_context3(dcodec);
    const AVCodec *ecodec = avcodec_find_encoder_by_name("aac");
    if (!ecodec) return LAVR_FAIL(LAVR_E_UNSUPPORTED, "this FFmpeg has no aac encoder (install a full FFmpeg build)");
    t->enc = avcodec_alloc_context3(ecodec);
    if (!t->dec || !t->enc) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the audio codecs");
    AV_CHECK(avcodec_parameters_to_context(t->dec, in), "'%s': decoder parameters", t->path);
    AV_CHECK(avcodec_open2(t->dec, dcodec, NULL), "'%s': cannot open the %s decoder", t->path, dcodec->name);
    AVCodecContext *c = t->enc;
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    t->rate = aac_rate(ecodec, t->rate); /* the samples are resampled only for a rate AAC lacks */
    t->start = skip_num * t->rate / skip_den;
    c->sample_rate = t->rate;
    AV_CHECK(av_channel_layout_copy(&c->ch_layout, &t->dec->ch_layout), "audio layout");
    if (c->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) av_channel_layout_default(&c->ch_layout, c->ch_layout.nb_channels);
    const int64_t most = (int64_t)AAC_MAX_BITS_PER_CHANNEL_FRAME * c->ch_layout.nb_channels * t->rate / 1024;
    c->bit_rate = bitrate < most ? bitrate : most;
    c->time_base = (AVRational){1, t->rate};
    c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER | AV_CODEC_FLAG_BITEXACT;
    AV_CHECK(avcodec_open2(c, ecodec, NULL), "cannot open the AAC encoder at %d Hz, %d channels", t->rate,
             c->ch_layout.nb_channels);
    AV_CHECK(avcodec_parameters_from_context(t->par, c), "audio stream parameters");
    AV_CHECK(swr_alloc_set_opts2(&t->swr, &c->ch_layout, c->sample_fmt, t->rate, &t->dec->ch_layout,
                                 t->dec->sample_fmt, t->dec->sample_rate, 0, NULL),
             "'%s': setting up the sample conversion", t->path);
    AV_CHECK(swr_init(t->swr), "'%s': setting up the sample conversion", t->path);
    t->fifo = av_audio_fifo_alloc(c->sample_fmt, c->ch_layout.nb_channels, c->frame_size);
    t->frame = av_frame_alloc();
    t->eframe = av_frame_alloc();
    if (!t->fifo || !t->frame || !t->eframe) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for audio frames");
    t->eframe->format = c->sample_fmt;
    t->eframe->sample_rate = t->rate;
    t->eframe->nb_samples = c->frame_size;
    AV_CHECK(av_channel_layout_copy(&t->eframe->ch_layout, &c->ch_layout), "audio layout");
    AV_CHECK(av_frame_get_buffer(t->eframe, 0), "audio frame buffer");
    /* the priming (initial_padding) plays in place of the track's first samples: decoded sample k of
     * the track is then source sample start + k */
    t->to_skip = t->start + c->initial_padding;
    return LAVR_OK;
}

/* The encoder's ready packets, cut at the track's end, to emit. */
static lavr_status drain_encoder(lavr_audio_track *t) {
    for (;;) {
        int r = avcodec_receive_packet(t->enc, t->out);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return LAVR_OK;
        AV_CHECK(r, "'%s': the AAC encoder failed", t->path);
        lavr_status st = LAVR_OK;
        AVPacket *p = t->out;
        if (p->pts < t->end) {
            p->dts = p->pts;
            if (p->pts + p->duration > t->end) p->duration = t->end - p->pts;
            st = t->emit(t->user, p);
        }
        av_packet_unref(p);
        TRY(st);
    }
}

/* Sends whole encoder frames from the FIFO (and, at the end, the short rest). */
static lavr_status feed_encoder(lavr_audio_track *t, int last) {
    const int fs = t->enc->frame_size;
    const int64_t pad = t->enc->initial_padding;
    for (;;) {
        int64_t n = av_audio_fifo_size(t->fifo);
        if (n > t->limit - t->fed) n = t->limit - t->fed;
        if (n <= 0 || (n < fs && !last)) return LAVR_OK;
        if (n > fs) n = fs;
        AV_CHECK(av_frame_make_writable(t->eframe), "audio frame");
        t->eframe->nb_samples = (int)n;
        if (av_audio_fifo_read(t->fifo, (void **)t->eframe->data, (int)n) != (int)n)
            return LAVR_FAIL(LAVR_E_INTERNAL, "'%s': audio FIFO read", t->path);
        t->eframe->pts = pad + t->fed;
        t->fed += n;
        AV_CHECK(avcodec_send_frame(t->enc, t->eframe), "'%s': the AAC encoder refused a frame", t->path);
        TRY(drain_encoder(t));
    }
}

/* Converted samples (frame, or the converter's tail when NULL) past the skipped ones into the FIFO. */
static lavr_status convert(lavr_audio_track *t, const AVFrame *f) {
    const int in = f ? f->nb_samples : 0;
    const int room = swr_get_out_samples(t->swr, in);
    if (room < 0) return LAVR_FAIL(LAVR_E_MEDIA, "'%s': libswresample cannot size its output", t->path);
    uint8_t **planes = NULL;
    AV_CHECK(av_samples_alloc_array_and_samples(&planes, NULL, t->enc->ch_layout.nb_channels, room > 0 ? room : 1,
                                                t->enc->sample_fmt, 0),
             "audio buffer");
    int got = swr_convert(t->swr, planes, room, f ? (const uint8_t **)f->extended_data : NULL, in);
    int r = got;
    if (got > 0) {
        int from = 0;
        if (t->to_skip > 0) {
            from = got < t->to_skip ? got : (int)t->to_skip;
            t->to_skip -= from;
        }
        if (got > from) {
            const int bps = av_get_bytes_per_sample(t->enc->sample_fmt);
            void *at[AV_NUM_DATA_POINTERS] = {0};
            for (int c = 0; c < t->enc->ch_layout.nb_channels && c < AV_NUM_DATA_POINTERS; c++)
                at[c] = planes[c] + (size_t)from * (size_t)bps;
            r = av_audio_fifo_write(t->fifo, at, got - from);
        }
    }
    av_freep(&planes[0]);
    av_freep(&planes);
    AV_CHECK(r, "'%s': converting the samples", t->path);
    return feed_encoder(t, 0);
}

static lavr_status receive_decoded(lavr_audio_track *t) {
    for (;;) {
        int r = avcodec_receive_frame(t->dec, t->frame);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return LAVR_OK;
        AV_CHECK(r, "'%s': cannot decode the audio", t->path);
        lavr_status st = convert(t, t->frame);
        av_frame_unref(t->frame);
        TRY(st);
    }
}

static lavr_status run_encode(lavr_audio_track *t, int64_t max_samples) {
    const int64_t pad = t->enc->initial_padding;
    t->limit = max_samples > pad ? max_samples - pad : 0;
    t->end = INT64_MAX;
    int r;
    while (t->fed < t->limit && (r = av_read_frame(t->fmt, t->pkt)) >= 0) {
        if (t->pkt->stream_index == t->stream) r = avcodec_send_packet(t->dec, t->pkt);
        av_packet_unref(t->pkt);
        AV_CHECK(r, "'%s': corrupt audio data", t->path);
        TRY(receive_decoded(t));
    }
    if (t->fed < t->limit) {
        AV_CHECK(avcodec_send_packet(t->dec, NULL), "'%s': flushing the decoder", t->path);
        TRY(receive_decoded(t));
        TRY(convert(t, NULL));
    }
    /* every sample is in: the track ends after the last one sent */
    TRY(feed_encoder(t, 1));
    t->end = t->fed > 0 ? pad + t->fed : 0;
    AV_CHECK(avcodec_send_frame(t->enc, NULL), "'%s': flushing the AAC encoder", t->path);
    return drain_encoder(t);
}

/* ---- the track ------------------------------------------------------------------------------- */

lavr_status lavr_audio_track_open(const char *path, int64_t skip_num, int64_t skip_den, int64_t bitrate,
                                  lavr_audio_track **out) {
    *out = NULL;
    CHECK_ARG(path && skip_num >= 0 && skip_den > 0 && bitrate > 0, "lavr_audio_track_open: bad arguments");
    lavr_audio_track *t = calloc(1, sizeof *t);
    if (!t) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for an audio track");
    t->path = strdup(path);
    t->par = avcodec_parameters_alloc();
    t->pkt = av_packet_alloc();
    t->out = av_packet_alloc();
    t->shift = -1;
    lavr_status st = LAVR_OK;
    if (!t->path || !t->par || !t->pkt || !t->out) st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory for an audio track");
    if (!st) st = open_input(t);
    if (!st) {
        const AVCodecParameters *in = t->fmt->streams[t->stream]->codecpar;
        t->rate = in->sample_rate;
        t->start = skip_num * t->rate / skip_den;
        t->copy = in->codec_id == AV_CODEC_ID_AAC;
        st = t->copy ? open_copy(t) : open_encode(t, bitrate, skip_num, skip_den);
    }
    if (st) {
        lavr_audio_track_close(t);
        return st;
    }
    *out = t;
    return LAVR_OK;
}

const AVCodecParameters *lavr_audio_track_par(const lavr_audio_track *t) { return t->par; }

int lavr_audio_track_copied(const lavr_audio_track *t) { return t->copy; }

lavr_status lavr_audio_track_run(lavr_audio_track *t, int64_t max_samples,
                                 lavr_status (*emit)(void *user, const AVPacket *p), void *user) {
    CHECK_ARG(t && emit && max_samples >= 0, "lavr_audio_track_run: bad arguments");
    t->emit = emit;
    t->user = user;
    return t->copy ? run_copy(t, max_samples) : run_encode(t, max_samples);
}

void lavr_audio_track_close(lavr_audio_track *t) {
    if (!t) return;
    avformat_close_input(&t->fmt);
    av_bsf_free(&t->bsf);
    avcodec_free_context(&t->dec);
    avcodec_free_context(&t->enc);
    swr_free(&t->swr);
    if (t->fifo) av_audio_fifo_free(t->fifo);
    av_frame_free(&t->frame);
    av_frame_free(&t->eframe);
    av_packet_free(&t->pkt);
    av_packet_free(&t->out);
    avcodec_parameters_free(&t->par);
    free(t->path);
    free(t);
}

#endif
