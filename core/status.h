/* Error type of the runtime: every fallible function returns lavr_status (0 = ok) and leaves a
 * one-line message with file:line in a per-thread buffer that main() prints once (the user sees the
 * file:line only with LAVR_DEBUG=1). */
#ifndef LAVR_STATUS_H
#define LAVR_STATUS_H

typedef enum {
    LAVR_OK = 0,
    LAVR_E_ARG,      /* bad user input: option, size string, layout */
    LAVR_E_IO,       /* file missing, unreadable, corrupt */
    LAVR_E_NOMEM,    /* host malloc failure or arena cap exceeded */
    LAVR_E_FORMAT,   /* file readable but content wrong (tensor missing, shape mismatch) */
    LAVR_E_MPI,
    LAVR_E_CUDA,
    LAVR_E_HDF5,
    LAVR_E_MEDIA,    /* libav / libsndfile */
    LAVR_E_UNSUPPORTED, /* feature not compiled in */
    LAVR_E_INTERNAL,
    LAVR_E_STOPPED,  /* not a failure: stopped on SIGTERM/SIGUSR1 after a valid checkpoint (exit 75) */
} lavr_status;

/* Records the message (printf-style) with its origin and returns code. */
lavr_status lavr_error_set(lavr_status code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prepends context ("while loading x: ") to the current message; returns code unchanged. */
lavr_status lavr_error_wrap(lavr_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends text ("; 3 MiB free on /data") to the current message, before its " (file.c:LINE)" origin;
 * returns code unchanged. */
lavr_status lavr_error_append(lavr_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets the error from a message made by lavr_error_message() on another rank ("text (dir/file.c:LINE)"),
 * keeping its origin; returns code. */
lavr_status lavr_error_adopt(lavr_status code, const char *message);
/* The message with its origin: "what went wrong (dir/file.c:LINE)" (for logs and tests). */
const char *lavr_error_message(void);
/* The line a user reads: the message without " (dir/file.c:LINE)", unless LAVR_DEBUG=1 keeps it. */
const char *lavr_error_user_message(void);
/* Where the message was set: "dir/file.c:LINE" ("" when no message is set). */
const char *lavr_error_origin(void);
const char *lavr_status_name(lavr_status code);
/* The process exit code of a status (README): 0 ok, 2 bad input, 75 stopped after a checkpoint, 1 other. */
int lavr_status_exit_code(lavr_status code);
void lavr_error_clear(void);
/* A copy of the current error, to put back after a step that may overwrite it (a report written on
 * the way out of a failure). */
typedef struct {
    char text[2048], origin[256];
} lavr_error_saved;
void lavr_error_save(lavr_error_saved *saved);
lavr_status lavr_error_restore(lavr_status code, const lavr_error_saved *saved);

#define LAVR_FAIL(code, ...) lavr_error_set((code), __FILE__, __LINE__, __VA_ARGS__)
#define TRY(x) do { lavr_status s_ = (x); if (s_) return s_; } while (0)
/* For cleanup paths: jump to a label with the status stored in `st`. */
#define TRY_GOTO(x, st, label) do { (st) = (x); if (st) goto label; } while (0)
#define CHECK_ARG(cond, ...) do { if (!(cond)) return LAVR_FAIL(LAVR_E_ARG, __VA_ARGS__); } while (0)

#endif
