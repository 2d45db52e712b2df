/* Audio decoding through libavformat/libavcodec + libswresample (io/audio_decode.h): the fallback of
 * io/audio.c for containers libsndfile does not read (M4A/AAC and others), as librosa falls back to
 * audioread. Samples keep their rate and channels; io/audio.c downmixes and resamples. */
#include "io/audio_decode.h"

#if LAVR_HAVE_FFMPEG

#include <stdio.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

/* every libav call that returns an error code goes through AV_TRY: the step and FFmpeg's reason */
#define AV_TRY(call, ...)                                                                         \
    do {                                                                                          \
        int r_ = (call);                                                                          \
        if (r_ < 0) {                                                                             \
            char msg_[512];                                                                       \
            snprintf(msg_, sizeof msg_, __VA_ARGS__);                                             \
            st = LAVR_FAIL(LAVR_E_MEDIA, "%s: %s", msg_, av_err2str(r_));                         \
            goto done;                                                                            \
        }                                                                                         \
    } while (0)

typedef struct {
    SwrContext *swr;
    float *out;
    int out_cap, channels;
} converter;

/* One decoded frame (or the resampler's tail when f is NULL) as interleaved floats to the consumer. */
static lavr_status convert_frame(converter *c, const AVFrame *f, const char *path, const lavr_audio_consumer *to) {
    lavr_status st = LAVR_OK;
    const int in = f ? f->nb_samples : 0;
    const int room = swr_get_out_samples(c->swr, in);
    if (room < 0) return LAVR_FAIL(LAVR_E_MEDIA, "'%s': libswresample cannot size its output", path);
    if (room > c->out_cap) {
        av_free(c->out);
        c->out = av_malloc((size_t)room * (size_t)c->channels * sizeof(float));
        if (!c->out) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory decoding '%s'", path);
        c->out_cap = room;
    }
    uint8_t *dst[1] = {(uint8_t *)c->out};
    int got = 0;
    AV_TRY(got = swr_convert(c->swr, dst, room, f ? (const uint8_t **)f->extended_data : NULL, in),
           "'%s': converting the samples to float", path);
    if (got > 0) st = to->frames(to->user, c->out, got);
done:
    return st;
}

/* Every frame the decoder has ready, through the converter. */
static lavr_status receive_frames(AVCodecContext *dec, AVFrame *frame, converter *conv, const char *path,
                                  const lavr_audio_consumer *to) {
    lavr_status st = LAVR_OK;
    for (;;) {
        int r = avcodec_receive_frame(dec, frame);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) break;
        AV_TRY(r, "'%s': cannot decode the audio", path);
        st = convert_frame(conv, frame, path, to);
        av_frame_unref(frame);
        if (st) break;
    }
done:
    return st;
}

lavr_status lavr_audio_ffmpeg_decode(const char *path, const lavr_audio_consumer *to) {
    lavr_status st = LAVR_OK;
    AVFormatContext *fmt = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    converter conv = {0};
    if (!pkt || !frame) {
        st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory opening '%s'", path);
        goto done;
    }
    AV_TRY(avformat_open_input(&fmt, path, NULL, NULL), "'%s' is not a file FFmpeg reads", path);
    AV_TRY(avformat_find_stream_info(fmt, NULL), "'%s': cannot read its streams", path);
    const AVCodec *codec = NULL;
    int stream = 0;
    AV_TRY(stream = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0), "'%s' holds no audio stream",
           path);
    dec = avcodec_alloc_context3(codec);
    if (!dec) {
        st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the decoder of '%s'", path);
        goto done;
    }
    AV_TRY(avcodec_parameters_to_context(dec, fmt->streams[stream]->codecpar), "'%s': decoder parameters", path);
    AV_TRY(avcodec_open2(dec, codec, NULL), "'%s': cannot open the %s decoder", path, codec->name);
    if (dec->sample_rate <= 0 || dec->ch_layout.nb_channels <= 0) {
        st = LAVR_FAIL(LAVR_E_MEDIA, "'%s': the audio stream has no sample rate or channels", path);
        goto done;
    }
    conv.channels = dec->ch_layout.nb_channels;
    AV_TRY(swr_alloc_set_opts2(&conv.swr, &dec->ch_layout, AV_SAMPLE_FMT_FLT, dec->sample_rate, &dec->ch_layout,
                               dec->sample_fmt, dec->sample_rate, 0, NULL),
           "'%s': setting up the sample conversion", path);
    AV_TRY(swr_init(conv.swr), "'%s': setting up the sample conversion", path);
    TRY_GOTO(to->format(to->user, dec->sample_rate, conv.channels), st, done);
    int r;
    while ((r = av_read_frame(fmt, pkt)) >= 0) {
        if (pkt->stream_index == stream) r = avcodec_send_packet(dec, pkt);
        av_packet_unref(pkt);
        AV_TRY(r, "'%s': corrupt audio data", path);
        TRY_GOTO(receive_frames(dec, frame, &conv, path, to), st, done);
    }
    if (r != AVERROR_EOF) AV_TRY(r, "'%s': cannot read the audio", path);
    AV_TRY(avcodec_send_packet(dec, NULL), "'%s': flushing the decoder", path);
    TRY_GOTO(receive_frames(dec, frame, &conv, path, to), st, done);
    st = convert_frame(&conv, NULL, path, to);
done:
    av_free(conv.out);
    swr_free(&conv.swr);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    return st;
}

#else

lavr_status lavr_audio_ffmpeg_decode(const char *path, const lavr_audio_consumer *to) {
    (void)to;
    return LAVR_FAIL(LAVR_E_UNSUPPORTED, "'%s': reading this audio format needs FFmpeg (build with -DLAVR_FFMPEG=ON)",
                     path);
}

#endif
