/* The in-memory trace of core/trace.h: one array of slices allocated at enable (so recording never
 * allocates or fails mid-render), timestamps from CLOCK_MONOTONIC in integer nanoseconds so that
 * nested slices stay nested exactly when written. */
#include "core/trace.h"

#include <stdlib.h>
#include <time.h>

static struct {
    lavr_trace_event *events;
    int64_t count, max, dropped;
    int64_t origin_ns;
} trace;

static const struct {
    const char *name, *a, *b;
} kinds[LAVR_TRACE_KINDS] = {
    [LAVR_TRACE_LOAD] = {"load weights", NULL, NULL},
    [LAVR_TRACE_ENCODE_IMAGE] = {"encode image", NULL, NULL},
    [LAVR_TRACE_ENCODE_PROMPT] = {"encode prompt", NULL, NULL},
    [LAVR_TRACE_ENCODE_AUDIO] = {"encode audio", NULL, NULL},
    [LAVR_TRACE_PREFILL] = {"prefill", "block", NULL},
    [LAVR_TRACE_FORWARD] = {"forward", "block", "step"},
    [LAVR_TRACE_DECODE] = {"decode", "block", "frames"},
    [LAVR_TRACE_ENCODE] = {"encode", "block", "frames"},
    [LAVR_TRACE_SEND] = {"send", "peer", "bytes"},
    [LAVR_TRACE_WAIT] = {"wait", "peer", "bytes"},
    [LAVR_TRACE_CHECKPOINT] = {"checkpoint", "blocks", NULL},
};

static int64_t monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

lavr_status lavr_trace_enable(int64_t max_events) {
    lavr_trace_disable();
    if (max_events < 1) return LAVR_FAIL(LAVR_E_ARG, "trace: at least one event, got %lld", (long long)max_events);
    trace.events = malloc((size_t)max_events * sizeof *trace.events);
    if (!trace.events)
        return LAVR_FAIL(LAVR_E_NOMEM, "trace: cannot allocate %lld events (%lld MiB)", (long long)max_events,
                         (long long)(max_events * (int64_t)sizeof *trace.events >> 20));
    trace.max = max_events;
    trace.origin_ns = monotonic_ns();
    return LAVR_OK;
}

int lavr_trace_enabled(void) { return trace.events != NULL; }

int64_t lavr_trace_now(void) { return trace.events ? monotonic_ns() - trace.origin_ns : 0; }

void lavr_trace_slice(lavr_trace_kind kind, int64_t start, int64_t a, int64_t b) {
    if (!trace.events) return;
    if (trace.count >= trace.max) {
        trace.dropped++;
        return;
    }
    trace.events[trace.count++] = (lavr_trace_event){.kind = (int32_t)kind, .start_ns = start,
                                                     .end_ns = monotonic_ns() - trace.origin_ns, .a = a, .b = b};
}

const lavr_trace_event *lavr_trace_events(int64_t *count, int64_t *dropped) {
    *count = trace.count;
    *dropped = trace.dropped;
    return trace.events;
}

void lavr_trace_disable(void) {
    free(trace.events);
    trace.events = NULL;
    trace.count = trace.max = trace.dropped = 0;
}

const char *lavr_trace_kind_name(int kind) { return kind >= 0 && kind < LAVR_TRACE_KINDS ? kinds[kind].name : "?"; }

const char *lavr_trace_kind_arg(int kind, int which) {
    if (kind < 0 || kind >= LAVR_TRACE_KINDS) return NULL;
    return which == 0 ? kinds[kind].a : kinds[kind].b;
}
