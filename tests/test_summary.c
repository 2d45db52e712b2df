/* The render summary file (ranks/summary.c) read back with the JSON parser: numbers and nulls as given,
 * rates worked out by hand, a failure's message without its origin and the origin on its own, the first
 * failure of a job kept when a later rank fails too, a finished render replacing it, forget removing it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/json.h"
#include "ranks/summary.h"

static lavr_json *read_back(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    lavr_json *j = NULL;
    return lavr_json_parse(text, &j) ? NULL : j;
}

static const char *string_of(const lavr_json *j, const char *key) {
    const lavr_json *v = lavr_json_get(j, key);
    return v && v->type == LAVR_JSON_STRING ? v->string : NULL;
}

int main(void) {
    char path[] = "/tmp/lavr-test-summary-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    unlink(path);
    lavr_rank_stats rows[2] = {{.rank = 0, .role = "dit s0 tp0 pp0", .peak_kb = 2048, .busy_s = 1.5, .forwards = 8},
                               {.rank = 1, .role = "aux", .peak_kb = 1024, .busy_s = -1}};
    /* 90 frames this run in 4 s of rendering: 22.5 FPS, 0.9x real time; 120 frames in all = 4.8 s */
    lavr_render_summary s = {.status = LAVR_OK, .writer_rank = 1, .out_path = "o.mp4", .layout = "steps=1",
                             .frames = 120, .frames_this_run = 90, .blocks_done = 10, .blocks = 10, .fps = 25,
                             .wall_s = 10, .render_s = 4, .ranks = rows, .nranks = 2};
    CHECK_OK(lavr_render_summary_write(path, &s));
    lavr_json *j = read_back(path);
    CHECK(j != NULL);
    double x = 0;
    int64_t n = 0;
    CHECK(j && strcmp(string_of(j, "exit"), "finished") == 0);
    CHECK(j && !lavr_json_get_int(j, "exit_code", &n) && n == 0);
    CHECK(j && !lavr_json_get_int(j, "frames", &n) && n == 120);
    CHECK(j && !lavr_json_get_number(j, "fps", &x) && x == 22.5);
    CHECK(j && !lavr_json_get_number(j, "realtime_factor", &x) && x == 0.9);
    CHECK(j && !lavr_json_get_number(j, "video_seconds", &x) && x == 4.8);
    CHECK(j && !lavr_json_get_number(j, "setup_seconds", &x) && x == 6);
    CHECK(j && lavr_json_get(j, "message")->type == LAVR_JSON_NULL);
    const lavr_json *ranks = j ? lavr_json_get(j, "ranks") : NULL;
    CHECK(ranks && ranks->type == LAVR_JSON_ARRAY && ranks->count == 2);
    if (ranks && ranks->count == 2) {
        CHECK(!lavr_json_get_number(&ranks->items[0], "busy_percent", &x) && x == 37.5);
        CHECK(!lavr_json_get_number(&ranks->items[0], "peak_rss_mib", &x) && x == 2);
        CHECK(lavr_json_get(&ranks->items[1], "busy_percent")->type == LAVR_JSON_NULL);
        CHECK(strcmp(string_of(&ranks->items[1], "role"), "aux") == 0);
    }
    lavr_json_free(j);

    /* a failure replaces nothing that is already there ... */
    lavr_error_set(LAVR_E_INTERNAL, "ranks/dit_stage.c", 294, "first \"failure\"");
    lavr_render_summary f = {.writer_rank = 0, .frames = -1, .frames_this_run = -1, .blocks_done = -1, .blocks = -1,
                             .fps = 25, .ranks = rows, .nranks = 1};
    CHECK(lavr_render_summary_write_failed(path, LAVR_E_INTERNAL, &f) == LAVR_E_INTERNAL);
    j = read_back(path);
    CHECK(j && strcmp(string_of(j, "exit"), "finished") == 0);
    lavr_json_free(j);
    /* ... so the job's first failure (after forget, as a render starts) is the one kept */
    CHECK_OK(lavr_render_summary_forget(path));
    CHECK(access(path, F_OK) != 0);
    CHECK_OK(lavr_render_summary_forget(path)); /* nothing to remove is fine */
    lavr_error_set(LAVR_E_INTERNAL, "ranks/dit_stage.c", 294, "first \"failure\"");
    CHECK(lavr_render_summary_write_failed(path, LAVR_E_INTERNAL, &f) == LAVR_E_INTERNAL);
    CHECK_MSG(strcmp(lavr_error_message(), "first \"failure\" (ranks/dit_stage.c:294)") == 0, "the error stays: %s",
              lavr_error_message());
    lavr_error_set(LAVR_E_MPI, "parallel/comm_mpi.c", 10, "peer lost");
    CHECK(lavr_render_summary_write_failed(path, LAVR_E_MPI, &f) == LAVR_E_MPI);
    j = read_back(path);
    CHECK(j && strcmp(string_of(j, "exit"), "failed") == 0);
    CHECK(j && strcmp(string_of(j, "message"), "first \"failure\"") == 0);
    CHECK(j && strcmp(string_of(j, "origin"), "ranks/dit_stage.c:294") == 0);
    CHECK(j && !lavr_json_get_int(j, "exit_code", &n) && n == 1);
    CHECK(j && lavr_json_get(j, "frames")->type == LAVR_JSON_NULL);
    lavr_json_free(j);
    char partial[sizeof path + 16];
    snprintf(partial, sizeof partial, "%s.partial", path);
    CHECK(access(partial, F_OK) != 0);
    unlink(path);
    return check_summary("test_summary");
}
