/* Timeline of one process for `lavr render --trace`: slices (what, start, duration, two numbers) kept
 * in memory, at most a fixed number, then written by ranks/trace_file.c as Chrome trace-event JSON.
 * Process-wide like the logger; off (every call returns at once) until lavr_trace_enable. */
#ifndef LAVR_TRACE_H
#define LAVR_TRACE_H

#include <stdint.h>

#include "core/status.h"

/* What a slice is; each kind has its name and the names of its two numbers (lavr_trace_kind_*). */
typedef enum {
    LAVR_TRACE_LOAD,          /* loading weights (a = layers or tensors, b unused) */
    LAVR_TRACE_ENCODE_IMAGE,  /* setup: VAE encode of the portrait and motion frames */
    LAVR_TRACE_ENCODE_PROMPT, /* setup: tokenizer + umT5 */
    LAVR_TRACE_ENCODE_AUDIO,  /* setup: wav2vec2 features of the speech */
    LAVR_TRACE_PREFILL,       /* DiT: sink prefill (a = block before which it runs) */
    LAVR_TRACE_FORWARD,       /* DiT: one block-step: embed, layers, head, Euler step (a = block, b = step) */
    LAVR_TRACE_DECODE,        /* aux: streaming VAE decode of a block (a = block, b = frames out) */
    LAVR_TRACE_ENCODE,        /* aux: H.264 encode and mux of a block's frames (a = block, b = frames) */
    LAVR_TRACE_SEND,          /* a message going out (a = peer rank, b = bytes) */
    LAVR_TRACE_WAIT,          /* blocked on a message coming in or a send completing (a = peer, b = bytes) */
    LAVR_TRACE_CHECKPOINT,    /* writing a checkpoint part (a = blocks done) */
    LAVR_TRACE_KINDS
} lavr_trace_kind;

typedef struct {
    int32_t kind;
    int32_t reserved;
    int64_t start_ns, end_ns; /* since the trace's origin (lavr_trace_enable) */
    int64_t a, b;
} lavr_trace_event;

/* Starts recording with at most max_events slices; the origin of the timeline is now (ranks call it
 * right after a barrier, so their timelines line up). */
lavr_status lavr_trace_enable(int64_t max_events);
int lavr_trace_enabled(void);
/* Nanoseconds since the origin (0 when off): the start of a slice. */
int64_t lavr_trace_now(void);
/* Records a slice from start (lavr_trace_now) to now. Beyond max_events slices are counted, not kept. */
void lavr_trace_slice(lavr_trace_kind kind, int64_t start, int64_t a, int64_t b);
/* The slices kept, in the order they ended, and how many were dropped. */
const lavr_trace_event *lavr_trace_events(int64_t *count, int64_t *dropped);
/* Frees the slices and turns recording off. */
void lavr_trace_disable(void);

const char *lavr_trace_kind_name(int kind);
/* Names of a kind's two numbers ("block", "step"); NULL: the number is not shown. */
const char *lavr_trace_kind_arg(int kind, int which);

#endif
