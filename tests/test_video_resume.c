/* The resumable video writer: renders stopped at a cut or mid-segment (the writer abandoned as a
 * crash leaves it) and resumed must write the same MP4 / Y4M bytes as an uninterrupted render. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/audio.h"
#include "io/video.h"
#include "tests/check.h"

#if LAVR_HAVE_FFMPEG
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#endif

#define W 64
#define H 64
#define RATE 16000
#define SPF (RATE / 25)  /* audio samples per frame */
#define FRAMES 45        /* 48 - 3, one clip's worth as the render writes it */
#define CLIP 12          /* cut every 12 frames, as the render cuts after its clips */
#define LEAD 3           /* the render's dropped first frames: the audio starts 3 frames in */
#define TONE_FRAME 20    /* output frame at which the tone starts */
#define FRAME_BYTES (W * H * 3)

static char tmpdir[512];
static uint8_t *pixels;  /* [FRAMES, H, W, 3] */
static char audio_path[600], other_audio[600]; /* the tone below; the same tone 1 frame later */

static void path_in_tmp(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", tmpdir, name); }

/* A pattern that moves with t (so x264 has motion to code) plus a little texture. */
static void make_inputs(void) {
    pixels = malloc((size_t)FRAMES * FRAME_BYTES);
    for (int t = 0; t < FRAMES; t++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                uint8_t *p = pixels + (((size_t)t * H + y) * W + x) * 3;
                int u = x + 2 * t, v = y + t;
                p[0] = (uint8_t)(128 + 100 * sin(u * 0.2) * cos(v * 0.15));
                p[1] = (uint8_t)((u * 4) ^ (v * 3));
                p[2] = (uint8_t)(((x / 8 + y / 8 + t / 4) % 2) * 150 + 50);
            }
    /* silence, then a 440 Hz sine from output frame TONE_FRAME on; longer than the video */
    const int64_t audio_n = (LEAD + FRAMES + 10) * SPF;
    float *audio = malloc(sizeof(float) * (size_t)audio_n);
    for (int shift = 0; shift < 2; shift++) {
        for (int64_t i = 0; i < audio_n; i++)
            audio[i] = i >= (LEAD + TONE_FRAME + shift) * SPF ? 0.5f * (float)sin(2 * M_PI * 440.0 * (double)i / RATE)
                                                               : 0.0f;
        char *path = shift ? other_audio : audio_path;
        path_in_tmp(path, sizeof audio_path, shift ? "other.wav" : "tone.wav");
        CHECK_OK(lavr_wav_write(path, audio, audio_n, RATE));
    }
    free(audio);
}

static lavr_video_options options(const char *log_path) {
    lavr_video_options o;
    lavr_video_options_default(&o);
    o.width = W;
    o.height = H;
    o.keyint = 10; /* a keyframe inside every 12-frame segment as well */
    o.audio_path = audio_path;
    o.audio_skip_frames = LEAD;
    o.log_path = log_path;
    o.total_frames = FRAMES;
    return o;
}

/* Appends frames [from, to) in chunks of 5 and cuts at every multiple of CLIP (as the render does). */
static int run_frames(lavr_video_writer *w, int from, int to) {
    int f = from;
    while (f < to) {
        int next_cut = (f / CLIP + 1) * CLIP, n = 5;
        if (f + n > next_cut) n = next_cut - f;
        if (f + n > to) n = to - f;
        if (lavr_video_writer_append_rgb8(w, pixels + (size_t)f * FRAME_BYTES, n)) return -1;
        f += n;
        if (f % CLIP == 0 && lavr_video_writer_cut(w)) return -1;
    }
    return 0;
}

static uint8_t *read_file(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)*size + 1);
    if (fread(b, 1, (size_t)*size, f) != (size_t)*size) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static int same_files(const char *a, const char *b) {
    long na = -1, nb = -2;
    uint8_t *x = read_file(a, &na), *y = read_file(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, (size_t)na) == 0;
    free(x);
    free(y);
    return same;
}

static long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* Uninterrupted render into out (with log when given). */
static void render_whole(const char *out, const char *log) {
    lavr_video_options o = options(log);
    lavr_video_writer *w = NULL;
    CHECK_OK(lavr_video_writer_open(out, &o, &w));
    CHECK(w && run_frames(w, 0, FRAMES) == 0);
    CHECK_OK(lavr_video_writer_close(w));
}

/* Renders to frame `stop`, checkpoints, goes on to frame `crash` (>= stop) and dies there; resumes
 * from the checkpoint and finishes. The result must equal `reference`. */
static void render_resumed(const char *reference, const char *out, const char *log, int stop, int crash) {
    lavr_video_options o = options(log);
    lavr_video_writer *w = NULL;
    CHECK_OK(lavr_video_writer_open(out, &o, &w));
    if (!w) return;
    CHECK(run_frames(w, 0, stop) == 0);
    lavr_video_position pos;
    const uint8_t *pending;
    int64_t npending;
    lavr_video_writer_position(w, &pos, &pending, &npending);
    CHECK(pos.frames == stop);
    uint8_t *saved = malloc((size_t)(npending > 0 ? npending : 1) * FRAME_BYTES);
    if (npending) memcpy(saved, pending, (size_t)npending * FRAME_BYTES);
    if (log) {
        /* the pending frames are the ones since the last cut, byte for byte */
        CHECK_MSG(npending == stop % CLIP && pos.video_packets == stop - stop % CLIP && pos.segments == stop / CLIP,
                  "stop %d: %lld pending, %lld packets, %lld segments", stop, (long long)npending,
                  (long long)pos.video_packets, (long long)pos.segments);
        CHECK(npending == 0 || memcmp(saved, pixels + (size_t)(stop - npending) * FRAME_BYTES,
                                      (size_t)npending * FRAME_BYTES) == 0);
    }
    CHECK(run_frames(w, stop, crash) == 0);
    lavr_video_writer_abandon(w);
    w = NULL;
    CHECK_OK(lavr_video_writer_resume(out, &o, &pos, saved, npending, &w));
    free(saved);
    if (!w) return;
    CHECK(lavr_video_writer_frames(w) == stop);
    CHECK(run_frames(w, stop, FRAMES) == 0);
    CHECK_OK(lavr_video_writer_close(w));
    CHECK_MSG(same_files(reference, out), "%s (stopped at %d, died at %d) differs from %s", out, stop, crash,
              reference);
}

#if LAVR_HAVE_FFMPEG
/* Demuxes and decodes the MP4: video packet count and duration, audio duration (sum of packet
 * durations), the decoded audio and where its tone starts. */
static void check_mp4_streams(const char *file) {
    AVFormatContext *fc = NULL;
    CHECK(avformat_open_input(&fc, file, NULL, NULL) == 0);
    if (!fc) return;
    CHECK(avformat_find_stream_info(fc, NULL) >= 0);
    CHECK(fc->nb_streams == 2);
    int vi = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    int ai = av_find_best_stream(fc, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    CHECK(vi >= 0 && ai >= 0);
    if (vi < 0 || ai < 0) {
        avformat_close_input(&fc);
        return;
    }
    CHECK(fc->streams[vi]->codecpar->codec_id == AV_CODEC_ID_H264);
    CHECK(fc->streams[ai]->codecpar->codec_id == AV_CODEC_ID_AAC);
    const AVCodec *dec = avcodec_find_decoder(AV_CODEC_ID_AAC);
    AVCodecContext *ac = avcodec_alloc_context3(dec);
    CHECK(ac && avcodec_parameters_to_context(ac, fc->streams[ai]->codecpar) >= 0 && avcodec_open2(ac, dec, NULL) == 0);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    int64_t video_packets = 0, video_end = 0, audio_end = 0, decoded = 0, onset = -1, first_audio = -1;
    int keyframes = 0;
    while (av_read_frame(fc, pkt) >= 0) {
        AVStream *st = fc->streams[pkt->stream_index];
        if (pkt->stream_index == vi) {
            video_packets++;
            keyframes += (pkt->flags & AV_PKT_FLAG_KEY) != 0;
            int64_t end = av_rescale_q(pkt->pts + pkt->duration, st->time_base, (AVRational){1, 25});
            if (end > video_end) video_end = end;
        } else if (pkt->stream_index == ai) {
            int64_t pts = av_rescale_q(pkt->pts, st->time_base, (AVRational){1, RATE});
            if (first_audio < 0) first_audio = pts;
            audio_end = pts + av_rescale_q(pkt->duration, st->time_base, (AVRational){1, RATE});
            if (avcodec_send_packet(ac, pkt) == 0)
                while (avcodec_receive_frame(ac, frame) == 0) {
                    const float *s = (const float *)frame->data[0];
                    for (int i = 0; i < frame->nb_samples; i++)
                        if (onset < 0 && fabsf(s[i]) > 0.1f) onset = decoded + i;
                    decoded += frame->nb_samples;
                }
        }
        av_packet_unref(pkt);
    }
    printf("%s: %lld video packets (%d keyframes), video %lld frames, audio %lld samples (%lld decoded), tone at "
           "%lld\n", file, (long long)video_packets, keyframes, (long long)video_end, (long long)audio_end,
           (long long)decoded, (long long)onset);
    CHECK(video_packets == FRAMES && video_end == FRAMES);
    /* keyframes at every segment start (0, 12, 24, 36) and keyint 10 inside (10, 22, 34) */
    CHECK_MSG(keyframes >= 7, "%d keyframes", keyframes);
    /* the audio track starts with the video and lasts as long, to the sample (the last packet is cut:
     * the track's duration says so; the demuxer still reports that packet's whole 1024 samples) */
    CHECK(first_audio == 0);
    int64_t audio_duration = av_rescale_q(fc->streams[ai]->duration, fc->streams[ai]->time_base, (AVRational){1, RATE});
    CHECK_MSG(audio_duration == (int64_t)FRAMES * SPF, "audio track lasts %lld samples, the video %lld",
              (long long)audio_duration, (long long)FRAMES * SPF);
    CHECK_MSG(audio_end >= FRAMES * SPF && audio_end < FRAMES * SPF + 1024, "audio packets end at %lld",
              (long long)audio_end);
    CHECK(decoded >= FRAMES * SPF && decoded <= FRAMES * SPF + 1024);
    /* in sync: the tone starts with output frame TONE_FRAME, to within 2 ms */
    CHECK_MSG(llabs(onset - TONE_FRAME * SPF) <= 32, "tone starts at sample %lld, expected %lld", (long long)onset,
              (long long)(TONE_FRAME * SPF));
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&ac);
    avformat_close_input(&fc);
}

static void test_mp4_resume(void) {
    char a[600], a_log[600], again[600], again_log[600];
    path_in_tmp(a, sizeof a, "a.mp4");
    path_in_tmp(a_log, sizeof a_log, "a.packets.h5");
    path_in_tmp(again, sizeof again, "again.mp4");
    path_in_tmp(again_log, sizeof again_log, "again.packets.h5");
    render_whole(a, a_log);
    check_mp4_streams(a);
    /* two fresh renders: the same bytes (nothing in the file depends on time or the run) */
    render_whole(again, again_log);
    CHECK_MSG(same_files(a, again), "two uninterrupted renders differ");
    printf("uninterrupted: %s %ld bytes, log %ld bytes\n", a, file_size(a), file_size(a_log));

    /* stop at a cut, mid-segment, mid-first-segment (nothing cut yet), near the end */
    const int stops[][2] = {{12, 12}, {17, 17}, {5, 5}, {36, 36}, {41, 41}, {17, 40}, {24, 44}};
    for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
        char b[600], b_log[600], name[64];
        snprintf(name, sizeof name, "b_%d_%d.mp4", stops[i][0], stops[i][1]);
        path_in_tmp(b, sizeof b, name);
        snprintf(name, sizeof name, "b_%d_%d.packets.h5", stops[i][0], stops[i][1]);
        path_in_tmp(b_log, sizeof b_log, name);
        render_resumed(a, b, b_log, stops[i][0], stops[i][1]);
    }
}

/* A real crash: a child process checkpoints at frame 17 (the parent knows that position: 12 frames
 * in one segment, 5 pending), goes on past the cut at 24 and is killed with SIGKILL at frame 30,
 * leaving the log as flushed at that cut. The parent resumes from the checkpoint. */
static void test_mp4_killed(void) {
    char a[600], b[600], b_log[600];
    path_in_tmp(a, sizeof a, "a.mp4");
    path_in_tmp(b, sizeof b, "killed.mp4");
    path_in_tmp(b_log, sizeof b_log, "killed.packets.h5");
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        lavr_video_options o = options(b_log);
        lavr_video_writer *w = NULL;
        if (lavr_video_writer_open(b, &o, &w) || run_frames(w, 0, 30)) _exit(3);
        if (write(fds[1], "k", 1) != 1) _exit(4);
        for (;;) pause();
    }
    close(fds[1]);
    char c = 0;
    CHECK(read(fds[0], &c, 1) == 1 && c == 'k');
    close(fds[0]);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    lavr_video_options o = options(b_log);
    lavr_video_position pos = {17, 1, 12};
    lavr_video_writer *w = NULL;
    CHECK_OK(lavr_video_writer_resume(b, &o, &pos, pixels + 12 * FRAME_BYTES, 5, &w));
    CHECK(w && run_frames(w, 17, FRAMES) == 0);
    CHECK_OK(lavr_video_writer_close(w));
    CHECK_MSG(same_files(a, b), "%s (killed at 30, resumed at 17) differs from %s", b, a);
}

static void test_mp4_resume_errors(void) {
    char out[600], log[600];
    path_in_tmp(out, sizeof out, "err.mp4");
    path_in_tmp(log, sizeof log, "err.packets.h5");
    lavr_video_options o = options(log);
    lavr_video_writer *w = NULL;
    CHECK_OK(lavr_video_writer_open(out, &o, &w));
    CHECK(w && run_frames(w, 0, 24) == 0);
    lavr_video_position pos;
    const uint8_t *pending;
    int64_t npending;
    lavr_video_writer_position(w, &pos, &pending, &npending);
    lavr_video_writer_abandon(w);
    w = NULL;
    /* another size, another frame rate, another preset: the log's parameters */
    lavr_video_options other = o;
    other.width = W + 2;
    CHECK_FAILS(lavr_video_writer_resume(out, &other, &pos, NULL, 0, &w), LAVR_E_FORMAT);
    printf("size mismatch: %s\n", lavr_error_message());
    other = o;
    other.fps = 30;
    CHECK_FAILS(lavr_video_writer_resume(out, &other, &pos, NULL, 0, &w), LAVR_E_FORMAT);
    /* another audio file, another part of it, another bit rate: the audio track's parameters */
    other = o;
    other.audio_path = other_audio;
    CHECK_FAILS(lavr_video_writer_resume(out, &other, &pos, NULL, 0, &w), LAVR_E_FORMAT);
    printf("audio mismatch: %s\n", lavr_error_message());
    CHECK(strstr(lavr_error_message(), "audio_sha256") != NULL);
    other = o;
    other.audio_skip_frames = LEAD + 1;
    CHECK_FAILS(lavr_video_writer_resume(out, &other, &pos, NULL, 0, &w), LAVR_E_FORMAT);
    other = o;
    other.audio_bitrate = 64000;
    CHECK_FAILS(lavr_video_writer_resume(out, &other, &pos, NULL, 0, &w), LAVR_E_FORMAT);
    other = o;
    other.preset = "fast";
    CHECK_FAILS(lavr_video_writer_resume(out, &other, &pos, NULL, 0, &w), LAVR_E_FORMAT);
    /* a checkpoint beyond what the log holds, or not at a segment's end */
    lavr_video_position ahead = {36, 3, 36};
    CHECK_FAILS(lavr_video_writer_resume(out, &o, &ahead, NULL, 0, &w), LAVR_E_FORMAT);
    lavr_video_position inside = {18, 1, 18};
    CHECK_FAILS(lavr_video_writer_resume(out, &o, &inside, NULL, 0, &w), LAVR_E_FORMAT);
    /* a missing log names its path; an MP4 without a log cannot resume */
    other = o;
    char missing[600];
    path_in_tmp(missing, sizeof missing, "missing.packets.h5");
    other.log_path = missing;
    CHECK_FAILS(lavr_video_writer_resume(out, &other, &pos, NULL, 0, &w), LAVR_E_IO);
    CHECK(strstr(lavr_error_message(), "missing.packets.h5") != NULL);
    other.log_path = NULL;
    CHECK_FAILS(lavr_video_writer_resume(out, &other, &pos, NULL, 0, &w), LAVR_E_ARG);
    CHECK(w == NULL);
    /* the failed attempts changed nothing: the right options still resume */
    CHECK(npending == 0);
    CHECK_OK(lavr_video_writer_resume(out, &o, &pos, NULL, 0, &w));
    CHECK(w && run_frames(w, 24, FRAMES) == 0);
    CHECK_OK(lavr_video_writer_close(w));
    char a[600];
    path_in_tmp(a, sizeof a, "a.mp4");
    CHECK_MSG(same_files(a, out), "resume after refused attempts differs");
}
#endif

static void test_y4m_resume(void) {
    char a[600], b[600], wa[600], wb[600];
    path_in_tmp(a, sizeof a, "a.y4m");
    path_in_tmp(b, sizeof b, "b.y4m");
    path_in_tmp(wa, sizeof wa, "a.wav");
    path_in_tmp(wb, sizeof wb, "b.wav");
    render_whole(a, NULL);
    const long header = (long)strlen("YUV4MPEG2 W64 H64 F25:1 Ip A1:1 C444 XCOLORRANGE=LIMITED\n");
    CHECK(file_size(a) == header + (long)FRAMES * (6 + FRAME_BYTES));
    CHECK(file_size(wa) == 44 + 2L * FRAMES * SPF);
    render_resumed(a, b, NULL, 17, 30);
    CHECK_MSG(same_files(wa, wb), "resumed Y4M's WAV differs");
    /* an unfinished Y4M (under its ".part" name, as a stop leaves it) of another size is refused */
    char part[610];
    snprintf(part, sizeof part, "%s.part", b);
    unlink(part);
    CHECK(link(b, part) == 0);
    lavr_video_options o = options(NULL);
    o.width = W + 2;
    lavr_video_position pos = {10, 0, 0};
    lavr_video_writer *w = NULL;
    CHECK_FAILS(lavr_video_writer_resume(b, &o, &pos, NULL, 0, &w), LAVR_E_FORMAT);
    printf("y4m size mismatch: %s\n", lavr_error_message());
}

int main(void) {
    const char *t = getenv("LAVR_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_video_resume", t ? t : "/tmp");
    mkdir(tmpdir, 0777);
    make_inputs();
    test_y4m_resume();
#if LAVR_HAVE_FFMPEG
    test_mp4_resume();
    test_mp4_killed();
    test_mp4_resume_errors();
#endif
    free(pixels);
    return check_summary("test_video_resume");
}
