/* The logger: one process-wide identity (rank, role) and level, set once at start-up, written to
 * stderr line by line so lines of different ranks do not mix mid-line. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char log_prefix[64] = "[lavr]";
static lavr_log_level log_level = LAVR_LOG_INFO;
static int log_level_from_env_done;

void lavr_log_set_identity(int rank, const char *role) {
    if (rank >= 0 && role && role[0])
        snprintf(log_prefix, sizeof log_prefix, "[r%d %s]", rank, role);
    else if (rank >= 0)
        snprintf(log_prefix, sizeof log_prefix, "[r%d]", rank);
    else if (role && role[0])
        snprintf(log_prefix, sizeof log_prefix, "[%s]", role);
    else
        snprintf(log_prefix, sizeof log_prefix, "[lavr]");
}

void lavr_log_set_level(lavr_log_level level) {
    log_level = level;
    log_level_from_env_done = 1;
}

const char *lavr_log_prefix(void) { return log_prefix; }

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
    int n = snprintf(line, sizeof line, "%s %s", log_prefix, names[level]);
    if (n < 0) n = 0;
    if ((size_t)n < sizeof line) vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}
