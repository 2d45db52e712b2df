/* Error type of the runtime: every fallible function returns lavr_status (0 = ok) and leaves a
 * one-line message with file:line in a per-thread buffer that main() prints once. */
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
const char *lavr_error_message(void);
const char *lavr_status_name(lavr_status code);
void lavr_error_clear(void);

#define LAVR_FAIL(code, ...) lavr_error_set((code), __FILE__, __LINE__, __VA_ARGS__)
#define TRY(x) do { lavr_status s_ = (x); if (s_) return s_; } while (0)
/* For cleanup paths: jump to a label with the status stored in `st`. */
#define TRY_GOTO(x, st, label) do { (st) = (x); if (st) goto label; } while (0)
#define CHECK_ARG(cond, ...) do { if (!(cond)) return LAVR_FAIL(LAVR_E_ARG, __VA_ARGS__); } while (0)

#endif
