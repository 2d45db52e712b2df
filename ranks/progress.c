/* Render progress and summary (ranks/progress.h): elapsed time from a monotonic clock, FPS and the
 * real-time factor over the frames written so far, and the ETA from the mean time per block. */
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "core/log.h"
#include "ranks/progress.h"

struct lavr_progress {
    lavr_progress_options o;
    FILE *out;
    double start;
};

#define BAR_CELLS 20

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void format_duration(double s, char *buf, size_t len) {
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

lavr_progress *lavr_progress_create(const lavr_progress_options *o, FILE *out) {
    lavr_progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->o = *o;
    if (!p->o.clock) p->o.clock = seconds_now;
    p->out = out;
    p->start = p->o.clock();
    return p;
}

double lavr_progress_elapsed(const lavr_progress *p) { return p ? p->o.clock() - p->start : 0; }

void lavr_progress_bar(int64_t done, int64_t total, int width, char *buf, size_t len) {
    if (width > 64) width = 64;
    char cells[65];
    const double part = total > 0 ? (double)(done < total ? done : total) / (double)total : 0;
    const int full = (int)(part * width);
    for (int i = 0; i < width; i++) cells[i] = i < full ? '#' : '.';
    cells[width] = 0;
    snprintf(buf, len, "[%s] %3d%%", cells, (int)(part * 100));
}

void lavr_progress_block(lavr_progress *p, int64_t block, int64_t frames) {
    if (!p) return;
    const int64_t done = block + 1, per_clip = p->o.blocks_per_clip;
    const int clip_done = done % per_clip == 0 || done == p->o.blocks;
    if (!p->o.live && !clip_done) return;
    /* rates count this run's work only (a resumed render starts at first_block / first_frames) */
    double elapsed = p->o.clock() - p->start;
    const int64_t run_blocks = done - p->o.first_block, run_frames = frames - p->o.first_frames;
    double fps = elapsed > 0 ? (double)run_frames / elapsed : 0;
    double eta = run_blocks > 0 ? (double)(p->o.blocks - done) * elapsed / (double)run_blocks : 0;
    /* real-time factor: seconds of video made per second of wall time (1x keeps up with playback) */
    const double realtime = fps / p->o.fps;
    char el[32], et[32], bar[96];
    format_duration(elapsed, el, sizeof el);
    format_duration(eta, et, sizeof et);
    lavr_progress_bar(done, p->o.blocks, BAR_CELLS, bar, sizeof bar);
    const int64_t clips = (p->o.blocks + per_clip - 1) / per_clip;
    if (p->o.live) {
        fprintf(p->out, "\r%s  block %lld/%lld  clip %lld/%lld  video %.2f s  %.2f FPS  %.2fx real time  elapsed %s  "
                "ETA %s   ", bar, (long long)done, (long long)p->o.blocks, (long long)((done + per_clip - 1) / per_clip),
                (long long)clips, (double)frames / p->o.fps, fps, realtime, el, et);
        if (done == p->o.blocks) fputc('\n', p->out);
    } else {
        fprintf(p->out, "%s clip %lld/%lld done: blocks %lld/%lld %s, video %.2f s, %.2f FPS, %.2fx real time, elapsed %s, "
                "ETA %s\n", lavr_log_prefix(), (long long)((done + per_clip - 1) / per_clip), (long long)clips, (long long)done,
                (long long)p->o.blocks, bar, (double)frames / p->o.fps, fps, realtime, el, et);
    }
    fflush(p->out);
}

void lavr_progress_destroy(lavr_progress *p) { free(p); }

void lavr_progress_summary(FILE *out, int64_t frames, int fps, double wall_s, double render_s,
                           const lavr_rank_stats *ranks, int nranks) {
    fprintf(out, "render: %lld frames (%.2f s of video) in %.2f s wall (%.2f s setup), %.2f FPS while rendering\n",
            (long long)frames, (double)frames / fps, wall_s, wall_s - render_s,
            render_s > 0 ? (double)frames / render_s : 0);
    fprintf(out, "%4s  %-16s  %10s  %10s  %7s  %8s  %10s  %10s\n", "rank", "role", "peak MiB", "GPU MiB", "busy %",
            "forwards", "sent MiB", "recv MiB");
    for (int i = 0; i < nranks; i++) {
        const lavr_rank_stats *r = &ranks[i];
        char busy[16] = "-";
        char gpu[24] = "-";
        if (r->busy_s >= 0 && render_s > 0) snprintf(busy, sizeof busy, "%.1f", 100.0 * r->busy_s / render_s);
        if (r->device_peak_kb > 0) snprintf(gpu, sizeof gpu, "%.1f", (double)r->device_peak_kb / 1024.0);
        fprintf(out, "%4d  %-16s  %10.1f  %10s  %7s  %8lld  %10.2f  %10.2f\n", r->rank, r->role,
                (double)r->peak_kb / 1024.0, gpu, busy, (long long)r->forwards, (double)r->sent / 1048576.0,
                (double)r->received / 1048576.0);
    }
    fflush(out);
}

int64_t lavr_progress_peak_rss_kb(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (int64_t)ru.ru_maxrss; /* KiB on Linux */
}
