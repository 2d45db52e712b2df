/* Logging prefixed with the local time and the rank and role of the process ("[2026-12-03 11:54:02
 * r3 dit s3]"), so interleaved output of many ranks stays readable and a long render's log says when
 * things happened. Levels: error, warn, info, debug (LAVR_LOG=debug enables debug). */
#ifndef LAVR_LOG_H
#define LAVR_LOG_H

#include <stdint.h>

typedef enum { LAVR_LOG_ERROR, LAVR_LOG_WARN, LAVR_LOG_INFO, LAVR_LOG_DEBUG } lavr_log_level;

/* rank < 0 means "not under MPI": no rank in the prefix. role may be NULL. */
void lavr_log_set_identity(int rank, const char *role);
void lavr_log_set_level(lavr_log_level level);
void lavr_log(lavr_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* How far a long step is, as an info line "what: done/total unit (P%)": at its start (done 0), at its end
 * (done == total) and in between at most every 10 s, so a long setup says what it is doing without
 * flooding the log. */
void lavr_log_progress(const char *what, int64_t done, int64_t total, const char *unit);
/* The prefix of a line written now: "[YYYY-MM-DD HH:MM:SS identity]" (a static buffer). */
const char *lavr_log_prefix(void);

#define LOG_ERROR(...) lavr_log(LAVR_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) lavr_log(LAVR_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) lavr_log(LAVR_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) lavr_log(LAVR_LOG_DEBUG, __VA_ARGS__)

#endif
