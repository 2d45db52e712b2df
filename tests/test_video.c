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

/* Silence except a 1 kHz tone from sample `onset` on. */
static float *make_audio(int64_t n, int64_t onset) {
    float *a = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) a[i] = i >= onset ? 0.5f * (float)sin(2 * M_PI * 1000.0 * (double)i / RATE) : 0.0f;
    return a;
}

static lavr_video_options small_options(void) {
    lavr_video_options o;
    lavr_video_options_default(&o);
    o.width = W;
    o.height = H;
    o.preset = "ultrafast";
    return o;
}

static void test_mp4_round_trip(void) {
    const int64_t frames = 53, lead = 3, burst_frame = 20;
    char file[600], v[256];
    path_in_tmp(file, sizeof file, "round_trip.mp4");
    /* The audio starts `lead` frames before the first written frame (LiveAvatar's dropped frames)
     * and lasts longer than the video: both must be cut away. */
    int64_t audio_n = (frames + 40) * SPF;
    float *audio = make_audio(audio_n, (lead + burst_frame) * SPF);
    float *pix = make_frames(frames);
    lavr_video_options o = small_options();
    o.audio = audio;
    o.audio_samples = audio_n;
    o.audio_start = lead * SPF;
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
    char cmd[1024];
    /* duration of the video track: last packet's pts + duration (the last frame is not lost) */
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -select_streams v -show_entries packet=pts_time,duration_time -of csv=p=0 '%s' | "
             "sort -t, -k1 -g | tail -1", file);
    double pts = 0, dur = 0;
    CHECK(sscanf(run(cmd), "%lf,%lf", &pts, &dur) == 2);
    CHECK_NEAR(pts + dur, frames / 25.0, 1e-3);

    float *dec = NULL;
    int64_t n = decode_audio(file, &dec);
    /* AAC works in 1024-sample frames; the decoder trims the encoder's priming, so the track is
     * the video's length to within one frame. */
    CHECK_MSG(n >= frames * SPF && n <= frames * SPF + 1024, "decoded %lld audio samples, expected %lld",
              (long long)n, (long long)(frames * SPF));
    /* the tone must start with output frame burst_frame (no lead), to within 2 ms */
    int64_t onset = -1;
    for (int64_t i = 0; n > 0 && i < n; i++)
        if (fabsf(dec[i]) > 0.1f) {
            onset = i;
            break;
        }
    CHECK_MSG(llabs(onset - burst_frame * SPF) <= 32, "tone starts at sample %lld, expected %lld", (long long)onset,
              (long long)(burst_frame * SPF));
    free(dec);
    free(audio);
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
    int fds[2];
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        lavr_video_options o = small_options();
        o.keyint = 10;
        float *audio = make_audio(100 * SPF, 0);
        o.audio = audio;
        o.audio_samples = 100 * SPF;
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
    float *audio = make_audio(20 * SPF, 0);
    lavr_video_options o = small_options();
    o.audio = audio;
    o.audio_samples = 20 * SPF;
    o.audio_start = 2 * SPF;
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
    free(audio);
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
    test_mp4_round_trip();
    test_killed_writer();
    test_y4m_and_png();
    test_bad_arguments();
    return check_summary("test_video");
}
