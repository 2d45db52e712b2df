/* Progress of a render as the aux rank sees it (blocks arriving clean): a live status line on a
 * terminal or one line per clip otherwise (a bar, percentage, blocks, video seconds, FPS, real-time
 * factor, ETA), and the final summary with frames, wall time, FPS and each rank's peak memory. */
#ifndef LAVR_RANKS_PROGRESS_H
#define LAVR_RANKS_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct {
    int64_t blocks;          /* blocks in the render */
    int64_t blocks_per_clip;
    int fps;                 /* output video rate */
    int live;                /* 1: rewrite one status line (stderr is a terminal); 0: a line per clip */
    int64_t first_block;     /* a resumed render: blocks and frames done before this run */
    int64_t first_frames;
    double (*clock)(void);   /* seconds of a monotonic clock; NULL: CLOCK_MONOTONIC (tests pass their own) */
} lavr_progress_options;

typedef struct lavr_progress lavr_progress;

/* Starts the clock. Returns NULL only when out of memory (progress is then silent). */
lavr_progress *lavr_progress_create(const lavr_progress_options *o, FILE *out);
/* Block `block` (0-based, in order) is done and `frames` video frames are written so far. */
void lavr_progress_block(lavr_progress *p, int64_t block, int64_t frames);
/* "[#########...........]  45%": a bar of `width` cells for done of total, and the percentage. */
void lavr_progress_bar(int64_t done, int64_t total, int width, char *buf, size_t len);
/* Seconds since create. */
double lavr_progress_elapsed(const lavr_progress *p);
void lavr_progress_destroy(lavr_progress *p);

/* One rank's line of the summary. */
typedef struct {
    int rank;
    char role[32];
    int64_t peak_kb;        /* peak resident memory */
    int64_t device_peak_kb; /* peak device arena memory (CUDA backend), 0 = none */
    double busy_s;          /* DiT ranks: DiT compute; the aux rank: decoding and encoding blocks (< 0: not measured) */
    int64_t forwards;       /* block-steps this rank ran its layers for */
    int64_t sent, received; /* message bytes */
} lavr_rank_stats;

/* "render: F frames (S s of video) in W s wall (setup s), X FPS while rendering" and a table of
 * the ranks (busy % is of the rendering time render_s). */
void lavr_progress_summary(FILE *out, int64_t frames, int fps, double wall_s, double render_s,
                           const lavr_rank_stats *ranks, int nranks);

/* Peak resident set size of this process in KiB (getrusage). */
int64_t lavr_progress_peak_rss_kb(void);

#endif
