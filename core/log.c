/* The logger: one process-wide identity (rank, role) and level, set once at start-up, written to
 * stderr line by line with the time, so lines of different ranks do not mix mid-line. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char log_identity[64] = "lavr";
static lavr_log_level log_level = LAVR_LOG_INFO;
static int log_level_from_env_done;

void lavr_log_set_identity(int rank, const char *role) {
    if (rank >= 0 && role && role[0])
        snprintf(log_identity, sizeof log_identity, "r%d %s", rank, role);
    else if (rank >= 0)
        snprintf(log_identity, sizeof log_identity, "r%d", rank);
    else if (role && role[0])
        snprintf(log_identity, sizeof log_identity, "%s", role);
    else
        snprintf(log_identity, sizeof log_identity, "lavr");
}

void lavr_log_set_level(lavr_log_level level) {
    log_level = level;
    log_level_from_env_done = 1;
}

const char *lavr_log_prefix(void) {
    static char prefix[128];
    char when[32] = "?";
    time_t now = time(NULL);
    struct tm local;
    if (localtime_r(&now, &local)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &local);
    snprintf(prefix, sizeof prefix, "[%s %s]", when, log_identity);
    return prefix;
}

void lavr_log(lavr_log_level level, const char *fmt, ...) {
    if (!log_level_from_env_done) {
        const char *env = getenv("LAVR_LOG");
        if (env && strcmp(env, "debug") == 0) log_level = LAVR_LOG_DEBUG;
        if (env && strcmp(env, "warn") == 0) log_level = LAVR_LOG_WARN;
        if (env && strcmp(env, "error") == 0) log_level = LAVR_LOG_ERROR;
        log_level_from_env_done = 1;
    }
    if (level > log_level) return;
    static const char *names[] = {"error: ", "warning: ", "", "debug: "};
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(line, sizeof line, "%s %s", lavr_log_prefix(), names[level]);
    if (n < 0) n = 0;
    if ((size_t)n < sizeof line) vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

#define PROGRESS_EVERY_S 10.0

void lavr_log_progress(const char *what, int64_t done, int64_t total, const char *unit) {
    static char last_what[128];
    static double last_s;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const double now = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    const int fresh = strncmp(what, last_what, sizeof last_what - 1) != 0;
    if (!fresh && done != 0 && done != total && now - last_s < PROGRESS_EVERY_S) return;
    snprintf(last_what, sizeof last_what, "%s", what);
    last_s = now;
    const int percent = total > 0 ? (int)(100.0 * (double)done / (double)total) : 100;
    lavr_log(LAVR_LOG_INFO, "%s: %lld/%lld %s (%d%%)", what, (long long)done, (long long)total, unit, percent);
}
