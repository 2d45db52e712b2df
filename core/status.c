/* Per-thread error buffer behind lavr_status: set once where a failure happens, optionally wrapped
 * with context on the way up, printed by main. */
#include "core/status.h"

#include "core/signals.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char error_text[2048];
static _Thread_local char error_origin[256]; /* "dir/file.c:LINE" of the last lavr_error_set */
static _Thread_local char user_text[sizeof error_text];

lavr_status lavr_error_set(lavr_status code, const char *file, int line, const char *fmt, ...) {
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *base = strrchr(file, '/');
    /* keep the path from the project root (dir/file.c) for a readable origin */
    if (base) {
        const char *p = base - 1;
        while (p > file && *p != '/') p--;
        base = (*p == '/') ? p + 1 : p;
    } else {
        base = file;
    }
    snprintf(error_origin, sizeof error_origin, "%s:%d", base, line);
    snprintf(error_text, sizeof error_text, "%s (%s)", msg, error_origin);
    return code;
}

lavr_status lavr_error_wrap(lavr_status code, const char *fmt, ...) {
    char prefix[512], old[sizeof error_text];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_text, sizeof old);
    /* prefix + ": " + old message, truncated to the buffer (truncation is acceptable here) */
    size_t n = strlen(prefix);
    if (n > sizeof error_text - 3) n = sizeof error_text - 3;
    memcpy(error_text, prefix, n);
    memcpy(error_text + n, ": ", 2);
    size_t rest = sizeof error_text - n - 3, m = strlen(old);
    if (m > rest) m = rest;
    memcpy(error_text + n + 2, old, m);
    error_text[n + 2 + m] = 0;
    return code;
}

lavr_status lavr_error_append(lavr_status code, const char *fmt, ...) {
    char extra[512], old[sizeof error_text];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(extra, sizeof extra, fmt, ap);
    va_end(ap);
    memcpy(old, error_text, sizeof old);
    char *origin = strrchr(old, '(');
    const char *tail = "";
    if (origin && origin > old && origin[-1] == ' ') {
        origin[-1] = 0;
        tail = origin;
    }
    /* old + extra + " (origin" cut to the buffer (truncation is acceptable here, as in lavr_error_wrap) */
    size_t n = 0;
    const char *pieces[] = {old, extra, *tail ? " " : "", tail};
    for (int i = 0; i < 4; i++)
        for (const char *c = pieces[i]; *c && n + 1 < sizeof error_text; c++) error_text[n++] = *c;
    error_text[n] = 0;
    return code;
}

lavr_status lavr_error_adopt(lavr_status code, const char *message) {
    char text[sizeof error_text], origin[256] = "core/status.c";
    int line = 0;
    snprintf(text, sizeof text, "%s", message);
    char *open = strrchr(text, '(');
    if (open && open > text && sscanf(open, "(%255[^:]:%d)", origin, &line) == 2) open[-1] = 0;
    return lavr_error_set(code, origin, line, "%s", text);
}

const char *lavr_error_message(void) { return error_text[0] ? error_text : "unknown error"; }

const char *lavr_error_origin(void) { return error_text[0] ? error_origin : ""; }

const char *lavr_error_user_message(void) {
    const char *debug = getenv("LAVR_DEBUG");
    if (!error_text[0] || (debug && debug[0] && strcmp(debug, "0") != 0)) return lavr_error_message();
    /* wrapping only prepends, so the origin is still the message's tail */
    char tail[sizeof error_origin + 4];
    snprintf(tail, sizeof tail, " (%s)", error_origin);
    size_t n = strlen(error_text), t = strlen(tail);
    snprintf(user_text, sizeof user_text, "%s", error_text);
    if (error_origin[0] && n >= t && strcmp(error_text + n - t, tail) == 0) user_text[n - t] = 0;
    return user_text;
}

void lavr_error_save(lavr_error_saved *saved) {
    snprintf(saved->text, sizeof saved->text, "%s", error_text);
    snprintf(saved->origin, sizeof saved->origin, "%s", error_origin);
}

lavr_status lavr_error_restore(lavr_status code, const lavr_error_saved *saved) {
    snprintf(error_text, sizeof error_text, "%s", saved->text);
    snprintf(error_origin, sizeof error_origin, "%s", saved->origin);
    return code;
}

void lavr_error_clear(void) {
    error_text[0] = 0;
    error_origin[0] = 0;
}

int lavr_status_exit_code(lavr_status code) {
    return code == LAVR_OK ? 0 : code == LAVR_E_ARG ? 2 : code == LAVR_E_STOPPED ? LAVR_EXIT_STOPPED_CHECKPOINTED : 1;
}

const char *lavr_status_name(lavr_status code) {
    switch (code) {
    case LAVR_OK: return "ok";
    case LAVR_E_ARG: return "invalid argument";
    case LAVR_E_IO: return "i/o error";
    case LAVR_E_NOMEM: return "out of memory";
    case LAVR_E_FORMAT: return "format error";
    case LAVR_E_MPI: return "MPI error";
    case LAVR_E_CUDA: return "CUDA error";
    case LAVR_E_HDF5: return "HDF5 error";
    case LAVR_E_MEDIA: return "media error";
    case LAVR_E_UNSUPPORTED: return "not supported by this build";
    case LAVR_E_INTERNAL: return "internal error";
    case LAVR_E_STOPPED: return "stopped after a checkpoint";
    }
    return "unknown status";
}
