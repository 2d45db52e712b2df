/* Render progress lines (ranks/progress.c) on a clock the test moves: the bar and percentage, FPS, the
 * real-time factor and the ETA against values worked out by hand, for live and per-clip lines and for a
 * resumed render whose rates count only this run's blocks; and the error line without its origin. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ranks/progress.h"

static double fake_now;
static double fake_clock(void) { return fake_now; }

/* What progress wrote to f since the last call (f rewound and truncated). */
static void take(FILE *f, char *buf, size_t len) {
    fflush(f);
    long n = ftell(f);
    rewind(f);
    size_t got = fread(buf, 1, n > 0 && (size_t)n < len ? (size_t)n : len - 1, f);
    buf[got] = 0;
    rewind(f);
    CHECK(ftruncate(fileno(f), 0) == 0);
}

static void test_bar(void) {
    char bar[96];
    lavr_progress_bar(0, 8, 20, bar, sizeof bar);
    CHECK_MSG(strcmp(bar, "[....................]   0%") == 0, "%s", bar);
    lavr_progress_bar(3, 8, 20, bar, sizeof bar); /* 7.5 cells, 37.5 % */
    CHECK_MSG(strcmp(bar, "[#######.............]  37%") == 0, "%s", bar);
    lavr_progress_bar(8, 8, 20, bar, sizeof bar);
    CHECK_MSG(strcmp(bar, "[####################] 100%") == 0, "%s", bar);
    lavr_progress_bar(9, 8, 4, bar, sizeof bar); /* never past full */
    CHECK_MSG(strcmp(bar, "[####] 100%") == 0, "%s", bar);
}

static void test_lines(void) {
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (!f) return;
    char out[4096];
    /* 8 blocks of 12 frames (the first one 9), 4 per clip, 2 s a block: 12 frames / 2 s = 6 FPS at the
     * end of clip 1 ((9 + 3 * 12) / 8 s = 5.625), real time 5.625 / 25 = 0.225x, ETA 4 blocks * 2 s = 0:08 */
    fake_now = 100;
    lavr_progress_options o = {.blocks = 8, .blocks_per_clip = 4, .fps = 25, .live = 0, .clock = fake_clock};
    lavr_progress *p = lavr_progress_create(&o, f);
    CHECK(p != NULL);
    int64_t frames = 0;
    for (int64_t b = 0; b < 3; b++) {
        fake_now += 2;
        frames += b == 0 ? 9 : 12;
        lavr_progress_block(p, b, frames);
    }
    take(f, out, sizeof out);
    CHECK_MSG(out[0] == 0, "no line before a clip ends: '%s'", out);
    fake_now += 2;
    frames += 12;
    lavr_progress_block(p, 3, frames);
    take(f, out, sizeof out);
    CHECK_MSG(strstr(out, "] clip 1/2 done: blocks 4/8 [##########..........]  50%, video 1.80 s, 5.62 FPS, "
                          "0.23x real time, elapsed 0:08, ETA 0:08\n") != NULL, "'%s'", out);
    CHECK_MSG(out[0] == '[' && strchr(out, ':') != NULL, "a timestamped log line: '%s'", out);
    CHECK(lavr_progress_elapsed(p) == 8);
    lavr_progress_destroy(p);

    /* live, resumed after 4 blocks (45 frames): 1 block in 4 s = 12 frames / 4 s = 3 FPS, 0.12x, ETA 3 * 4 s */
    fake_now = 0;
    lavr_progress_options r = {.blocks = 8, .blocks_per_clip = 4, .fps = 25, .live = 1, .first_block = 4,
                               .first_frames = 45, .clock = fake_clock};
    p = lavr_progress_create(&r, f);
    fake_now = 4;
    lavr_progress_block(p, 4, 57);
    take(f, out, sizeof out);
    CHECK_MSG(strcmp(out, "\r[############........]  62%  block 5/8  clip 2/2  video 2.28 s  3.00 FPS  0.12x real time  "
                          "elapsed 0:04  ETA 0:12   ") == 0, "'%s'", out);
    for (int64_t b = 5; b < 8; b++) {
        fake_now += 4;
        lavr_progress_block(p, b, 57 + 12 * (b - 4));
    }
    take(f, out, sizeof out);
    const size_t n = strlen(out);
    CHECK_MSG(n > 0 && out[n - 1] == '\n' && strstr(out, "[####################] 100%  block 8/8") != NULL,
              "the last live line ends the line: '%s'", out);
    lavr_progress_destroy(p);
    fclose(f);
}

static void test_user_message(void) {
    lavr_error_set(LAVR_E_ARG, "cli/args.c", 32, "bad option");
    CHECK(strcmp(lavr_error_message(), "bad option (cli/args.c:32)") == 0);
    CHECK(strcmp(lavr_error_origin(), "cli/args.c:32") == 0);
    unsetenv("LAVR_DEBUG");
    CHECK(strcmp(lavr_error_user_message(), "bad option") == 0);
    lavr_error_wrap(LAVR_E_ARG, "while parsing");
    CHECK_MSG(strcmp(lavr_error_user_message(), "while parsing: bad option") == 0, "%s", lavr_error_user_message());
    setenv("LAVR_DEBUG", "1", 1);
    CHECK(strcmp(lavr_error_user_message(), "while parsing: bad option (cli/args.c:32)") == 0);
    setenv("LAVR_DEBUG", "0", 1);
    CHECK(strcmp(lavr_error_user_message(), "while parsing: bad option") == 0);
    unsetenv("LAVR_DEBUG");
}

int main(void) {
    test_bar();
    test_lines();
    test_user_message();
    return check_summary("test_progress");
}
