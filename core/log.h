/* Logging prefixed with the rank and role of the process ("[r3 dit s3]"), so interleaved output of
 * many ranks stays readable. Levels: error, warn, info, debug (LAVR_LOG=debug enables debug). */
#ifndef LAVR_LOG_H
#define LAVR_LOG_H

typedef enum { LAVR_LOG_ERROR, LAVR_LOG_WARN, LAVR_LOG_INFO, LAVR_LOG_DEBUG } lavr_log_level;

/* rank < 0 means "not under MPI": no rank in the prefix. role may be NULL. */
void lavr_log_set_identity(int rank, const char *role);
void lavr_log_set_level(lavr_log_level level);
void lavr_log(lavr_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes the prefix for the current identity into buf (for tools that print tables). */
const char *lavr_log_prefix(void);

#define LOG_ERROR(...) lavr_log(LAVR_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) lavr_log(LAVR_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) lavr_log(LAVR_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) lavr_log(LAVR_LOG_DEBUG, __VA_ARGS__)

#endif
