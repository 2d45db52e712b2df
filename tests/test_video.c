/* Round trips of the streaming video writer through the real FFmpeg CLI: codecs, frame count, fps,
 * duration, audio length and alignment, a writer killed mid-stream, raw Y4M + WAV, PNG frames. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/audio.h"
#include "io/image.h"
#include "io/video.h"
#include "tests/check.h"

#define W 128
#define H 96
#define RATE 16000
#define SPF (RATE / 25) /* audio samples per frame */

static char tmpdir[512];

static void path_in_tmp(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", tmpdir, name); }

/* Runs a shell command and returns its stdout (static buffer). */
static const char *run(const char *cmd) {
    static char buf[8192];
    buf[0] = 0;
    FILE *p = popen(cmd, "r");
    if (!p) return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = 0;
    pclose(p);
    return buf;
}

/* Value of "key=value" in ffprobe's default output for the stream of the given codec_type. */
static int probe_stream(const char *file, const char *type, const char *key, char *value, size_t n) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -count_frames -select_streams %c -show_entries stream=%s -of default=nw=1:nk=1 '%s'",
             type[0], key, file);
    const char *out = run(cmd);
    snprintf(value, n, "%s", out);
    value[strcspn(value, "\n")] = 0;
    return value[0] != 0;
}

/* Decodes the audio track to float samples; returns their count (-1 on failure). */
static int64_t decode_audio(const char *file, float **samples) {
    char raw[600], cmd[1400];
    path_in_tmp(raw, sizeof raw, "decoded.f32");
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -y -i '%s' -map 0:a -f f32le -ac 1 -ar %d '%s'", file, RATE, raw);
    if (system(cmd) != 0) return -1;
    FILE *f = fopen(raw, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    *samples = malloc((size_t)bytes + 4);
    int64_t n = (int64_t)fread(*samples, sizeof(float), (size_t)bytes / 4, f);
    fclose(f);
    return n;
}

/* Frame t is a horizontal gradient whose brightness rises with t, as float [3,T,H,W]. */
static float *make_frames(int64_t count) {
    float *f = malloc(sizeof(float) * 3 * (size_t)count * H * W);
    for (int c = 0; c < 3; c++)
        for (int64_t t = 0; t < count; t++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    f[((c * count + t) * H + y) * W + x] = -0.8f + 1.6f * (float)t / (float)count + 0.1f * (float)x / W;
    return f;
}

/* tmpdir/name: a 16 kHz mono WAV of n samples, silence except a 1 kHz tone from sample `onset` on. */
static const char *make_audio(const char *name, int64_t n, int64_t onset) {
    static char path[600];
    path_in_tmp(path, sizeof path, name);
    float *a = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) a[i] = i >= onset ? 0.5f * (float)sin(2 * M_PI * 1000.0 * (double)i / RATE) : 0.0f;
    CHECK_OK(lavr_wav_write(path, a, n, RATE));
    free(a);
    return path;
}

/* tmpdir/name: `from` converted by the ffmpeg CLI with `args` (another rate, channels or codec); the
 * path in one of 4 static buffers, in turn. */
static const char *convert_audio(const char *from, const char *name, const char *args) {
    static char paths[4][600];
    static int next;
    char *path = paths[next++ % 4], cmd[2000];
    path_in_tmp(path, sizeof paths[0], name);
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -y -i '%s' %s '%s'", from, args, path);
    CHECK(system(cmd) == 0);
    return path;
}

static lavr_video_options small_options(void) {
    lavr_video_options o;
    lavr_video_options_default(&o);
    o.width = W;
    o.height = H;
    o.preset = "ultrafast";
    return o;
}

/* First sample above 0.1 of a decoded track (-1: none). */
static int64_t tone_onset(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (fabsf(x[i]) > 0.1f) return i;
    return -1;
}

/* The track of `audio` (a tone from frame 23's time on) muxed with 53 frames, 3 frames' time of the file
 * skipped: its rate, channels and codec (copied: the packets of `own`, the file or its remux to M4A by
 * ffmpeg -c copy, which strips ADTS headers; else none of them), its length,
 * and where the tone starts: 3 frames earlier than in the file as FFmpeg decodes it, within
 * `tolerance` samples at 16 kHz. */
static void test_mp4_round_trip(const char *audio, int rate, int channels, const char *own, int64_t tolerance) {
    const int64_t frames = 53;
    char file[600], v[256];
    path_in_tmp(file, sizeof file, "round_trip.mp4");
    float *dec = NULL;
    int64_t n = decode_audio(audio, &dec);
    const int64_t expected = tone_onset(dec, n) - 3 * SPF;
    free(dec);
    CHECK(expected > 0);
    float *pix = make_frames(frames);
    lavr_video_options o = small_options();
    o.audio_path = audio;
    o.audio_skip_frames = 3;
    lavr_video_writer *w = NULL;
    CHECK_OK(lavr_video_writer_open(file, &o, &w));
    /* in two calls, as the output rank appends block by block */
    CHECK_OK(lavr_video_writer_append_f32(w, pix, 30));
    float *rest = make_frames(frames);
    /* frames 30..52 of the same sequence, re-laid out as their own [3,23,H,W] tensor */
    int64_t n2 = frames - 30;
    float *tail = malloc(sizeof(float) * 3 * (size_t)n2 * H * W);
    for (int c = 0; c < 3; c++)
        memcpy(tail + (size_t)c * n2 * H * W, rest + ((size_t)c * frames + 30) * H * W, sizeof(float) * n2 * H * W);
    CHECK_OK(lavr_video_writer_append_f32(w, tail, n2));
    CHECK(lavr_video_writer_frames(w) == frames);
    CHECK_OK(lavr_video_writer_close(w));

    CHECK(probe_stream(file, "v", "codec_name", v, sizeof v) && strcmp(v, "h264") == 0);
    CHECK(probe_stream(file, "v", "nb_read_frames", v, sizeof v) && atoll(v) == frames);
    CHECK(probe_stream(file, "v", "r_frame_rate", v, sizeof v) && strcmp(v, "25/1") == 0);
    CHECK(probe_stream(file, "v", "pix_fmt", v, sizeof v) && strcmp(v, "yuv420p") == 0);
    CHECK(probe_stream(file, "a", "codec_name", v, sizeof v) && strcmp(v, "aac") == 0);
    CHECK(probe_stream(file, "a", "sample_rate", v, sizeof v) && atoi(v) == rate);
    CHECK(probe_stream(file, "a", "channels", v, sizeof v) && atoi(v) == channels);
    char cmd[2400];
    /* a copied track holds a run of the file's own packets (same bytes), an encoded one none of them */
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -select_streams a -show_entries packet=data_hash -show_data_hash md5 -of csv=p=0 '%s' "
             "> %s/in.md5 && ffprobe -v error -select_streams a -show_entries packet=data_hash -show_data_hash md5 "
             "-of csv=p=0 '%s' | grep -c -x -F -f %s/in.md5", own ? own : audio, tmpdir, file, tmpdir);
    const long long shared = atoll(run(cmd));
    snprintf(cmd, sizeof cmd, "ffprobe -v error -select_streams a -show_entries packet=pts -of csv=p=0 '%s' | wc -l", file);
    const long long packets = atoll(run(cmd));
    printf("%s: %lld audio packets, %lld of them the file's own\n", audio, packets, shared);
    CHECK(packets > 10 && shared == (own ? packets : 0));
    /* duration of the video track: last packet's pts + duration (the last frame is not lost) */
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -select_streams v -show_entries packet=pts_time,duration_time -of csv=p=0 '%s' | "
             "sort -t, -k1 -g | tail -1", file);
    double pts = 0, dur = 0;
    CHECK(sscanf(run(cmd), "%lf,%lf", &pts, &dur) == 2);
    CHECK_NEAR(pts + dur, frames / 25.0, 1e-3);

    n = decode_audio(file, &dec);
    /* AAC works in 1024-sample frames (a third of that at 16 kHz for a 48 kHz file); the track is
     * the video's length to within one of them. */
    CHECK_MSG(n >= frames * SPF - 1024 && n <= frames * SPF + 1024, "decoded %lld audio samples, expected %lld",
              (long long)n, (long long)(frames * SPF));
    /* the tone must start 3 frames earlier than in the file (no lead) */
    const int64_t onset = tone_onset(dec, n);
    CHECK_MSG(llabs(onset - expected) <= tolerance, "tone starts at sample %lld, expected %lld", (long long)onset,
              (long long)expected);
    free(dec);
    free(pix);
    free(rest);
    free(tail);
}

/* The child writes 40 frames with a keyframe (fragment) every 10, tells the parent, and waits to
 * be killed: the file (still under its ".part" name, the final name never appears) must hold whole
 * fragments only, and ffprobe must read them. */
static void test_killed_writer(void) {
    char file[600], v[256];
    path_in_tmp(file, sizeof file, "killed.mp4");
    unlink(file); /* an earlier run's file would hide what this one leaves */
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        lavr_video_options o = small_options();
        o.keyint = 10;
        o.audio_path = make_audio("killed.wav", 100 * SPF, 0);
        lavr_video_writer *w = NULL;
        float *pix = make_frames(40);
        if (lavr_video_writer_open(file, &o, &w) || lavr_video_writer_append_f32(w, pix, 40)) _exit(3);
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
    CHECK(access(file, F_OK) != 0);
    strcat(file, ".part");
    CHECK(probe_stream(file, "v", "codec_name", v, sizeof v) && strcmp(v, "h264") == 0);
    long long nf = probe_stream(file, "v", "nb_read_frames", v, sizeof v) ? atoll(v) : -1;
    CHECK_MSG(nf >= 10 && nf <= 40 && nf % 10 == 0, "killed writer left %lld readable frames", nf);
    printf("killed writer: %lld of 40 frames readable\n", nf);
}

static void test_y4m_and_png(void) {
    char file[600], wav[600], dir[600], png[700], v[256];
    path_in_tmp(file, sizeof file, "raw.y4m");
    path_in_tmp(wav, sizeof wav, "raw.wav");
    path_in_tmp(dir, sizeof dir, "png_frames");
    const int64_t frames = 7;
    lavr_video_options o = small_options();
    o.audio_path = make_audio("raw_in.wav", 20 * SPF, 0);
    o.audio_skip_frames = 2;
    o.png_dir = dir;
    uint8_t *rgb = malloc((size_t)frames * H * W * 3);
    for (int64_t i = 0; i < frames * H * W * 3; i++) rgb[i] = (uint8_t)(i * 7 % 251);
    lavr_video_writer *w = NULL;
    CHECK_OK(lavr_video_writer_open(file, &o, &w));
    CHECK_OK(lavr_video_writer_append_rgb8(w, rgb, frames));
    CHECK_OK(lavr_video_writer_close(w));
    CHECK(probe_stream(file, "v", "nb_read_frames", v, sizeof v) && atoll(v) == frames);
    CHECK(probe_stream(file, "v", "r_frame_rate", v, sizeof v) && strcmp(v, "25/1") == 0);
    struct stat sb;
    CHECK(stat(wav, &sb) == 0 && sb.st_size == 44 + 2 * frames * SPF);
    CHECK(probe_stream(wav, "a", "sample_rate", v, sizeof v) && atoi(v) == RATE);
    /* PNG frames are lossless: the last one decodes to the exact input bytes */
    snprintf(png, sizeof png, "%s/frame_%06d.png", dir, (int)frames - 1);
    lavr_rgb8 back;
    CHECK_OK(lavr_image_decode(png, &back));
    CHECK(back.width == W && back.height == H && back.rgb &&
          memcmp(back.rgb, rgb + (frames - 1) * H * W * 3, (size_t)H * W * 3) == 0);
    lavr_rgb8_free(&back);
    free(rgb);
}

static void test_bad_arguments(void) {
    lavr_video_options o = small_options();
    lavr_video_writer *w = NULL;
    char file[600];
    path_in_tmp(file, sizeof file, "bad.mp4");
    o.width = 127;
    CHECK_FAILS(lavr_video_writer_open(file, &o, &w), LAVR_E_ARG);
    o = small_options();
    o.crf = 60;
    CHECK_FAILS(lavr_video_writer_open(file, &o, &w), LAVR_E_ARG);
    o = small_options();
    o.preset = "warp-speed";
    CHECK_FAILS(lavr_video_writer_open(file, &o, &w), LAVR_E_MEDIA);
    o = small_options();
    CHECK_FAILS(lavr_video_writer_open("/nonexistent-dir/x.mp4", &o, &w), LAVR_E_MEDIA);
    CHECK(w == NULL);
}

int main(void) {
    const char *t = getenv("LAVR_TEST_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_video", t ? t : "/tmp");
    mkdir(tmpdir, 0777);
    if (!LAVR_HAVE_FFMPEG) {
        lavr_video_options o = small_options();
        lavr_video_writer *w = NULL;
        char file[600];
        path_in_tmp(file, sizeof file, "x.mp4");
        CHECK_FAILS(lavr_video_writer_open(file, &o, &w), LAVR_E_UNSUPPORTED);
        return check_summary("test_video (no FFmpeg: only the refusal is tested)");
    }
    const char *wav = make_audio("tone.wav", 93 * SPF, 23 * SPF);
    test_mp4_round_trip(wav, RATE, 1, NULL, 32);
    test_mp4_round_trip(convert_audio(wav, "tone48.wav", "-ar 48000 -ac 2"), 48000, 2, NULL, 32);
    /* a rate AAC does not code goes up to the next one it does */
    test_mp4_round_trip(convert_audio(wav, "tone22222.wav", "-ar 22222 -ac 3"), 24000, 3, NULL, 32);
    /* AAC is copied: it starts at the AAC frame nearest to 3 frames in (half a frame: 186 samples at 16 kHz) */
    const char *m4a = convert_audio(wav, "tone.m4a", "-ar 44100 -ac 2 -c:a aac -b:a 128k");
    test_mp4_round_trip(m4a, 44100, 2, m4a, 200);
    const char *adts = convert_audio(wav, "tone.aac", "-ar 44100 -ac 2 -c:a aac -b:a 128k");
    test_mp4_round_trip(adts, 44100, 2, convert_audio(adts, "tone_remux.m4a", "-c copy"), 200);
    test_killed_writer();
    test_y4m_and_png();
    test_bad_arguments();
    return check_summary("test_video");
}
