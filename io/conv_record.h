/* The convolution engine record: for each cuDNN convolution shape, which of the heuristics' candidates a context
 * chose, tagged with the GPU, its compute capability, cuDNN's version and the tuning count; a small HDF5 file in a
 * render's stage directory and in a per-machine cache, so that engine choice (and so the bytes) repeats. */
#ifndef LAVR_IO_CONV_RECORD_H
#define LAVR_IO_CONV_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* A shape key: lavr_cudnn_conv_shape's 22 int64 fields in order (n, cin, cout, spatial, in, k, out, stride, pre,
 * post), unused dims zero. */
#define LAVR_CONV_RECORD_KEY 22
#define LAVR_CONV_RECORD_FORMAT "lavr conv engines"
#define LAVR_CONV_RECORD_VERSION 2 /* 2: heur_mode 1 is mode B, 2 the fallback list */

typedef struct {
    int64_t key[LAVR_CONV_RECORD_KEY];
    int64_t candidate;       /* position in lavr_cudnn_plan_candidates' output */
    int64_t heur_mode;       /* 0: CUDNN_HEUR_MODE_A, 1: CUDNN_HEUR_MODE_B, 2: the fallback list (a check) */
    int64_t engine_index;    /* index within that mode's list (a check on the candidate) */
    int64_t workspace_bytes; /* as the plan reported it */
} lavr_conv_choice;

/* What a record is valid for: another GPU, compute capability, cuDNN or tuning count makes it void. */
typedef struct {
    char gpu[256];           /* cudaDeviceProp.name */
    int64_t cc_major, cc_minor;
    int64_t cudnn_version;   /* cudnnGetVersion() */
    int64_t tune;            /* candidates timed per shape (lavr_ctx_cuda_options.conv_tune) */
} lavr_conv_record_tag;

typedef struct {
    lavr_conv_record_tag tag;
    lavr_conv_choice *choice;
    int64_t n, cap;
} lavr_conv_record;

void lavr_conv_record_init(lavr_conv_record *r, const lavr_conv_record_tag *tag);
void lavr_conv_record_free(lavr_conv_record *r);
/* The choice for key, or NULL. */
const lavr_conv_choice *lavr_conv_record_find(const lavr_conv_record *r, const int64_t key[LAVR_CONV_RECORD_KEY]);
/* Adds c unless its key is already there (the first choice stays); *added (optional) says which. */
lavr_status lavr_conv_record_add(lavr_conv_record *r, const lavr_conv_choice *c, int *added);
int lavr_conv_record_same_tag(const lavr_conv_record_tag *a, const lavr_conv_record_tag *b);
/* "NVIDIA H200 (sm 9.0), cuDNN 9.19.0, 8 engines timed" */
void lavr_conv_record_describe(const lavr_conv_record_tag *t, char *buf, size_t len);

/* Writes r to path atomically: "<path>.part.<pid>", then renamed over path. */
lavr_status lavr_conv_record_write(const char *path, const lavr_conv_record *r);
/* Reads path into *r (initialised here): a missing file is LAVR_E_IO, an empty, damaged or foreign one
 * LAVR_E_FORMAT or LAVR_E_HDF5, each with one line naming the file. */
lavr_status lavr_conv_record_read(const char *path, lavr_conv_record *r);
/* Reads path for a context tagged want: *usable = 1 and *r filled when the record is for the same tag. A missing
 * file is silently unusable; a damaged one, or one made for another GPU / cuDNN / tuning count, is unusable with
 * one warning line (the context then tunes). Only a lack of memory is an error. */
lavr_status lavr_conv_record_load(const char *path, const lavr_conv_record_tag *want, lavr_conv_record *r,
                                  int *usable);
/* Adds r's choices to the record at path under an exclusive lock on "<path>.lock": the file's own choices for the
 * same tag stay (first writer wins), a file for another tag or an unreadable one is replaced; written atomically.
 * The directory is created when missing. */
lavr_status lavr_conv_record_merge_into(const char *path, const lavr_conv_record *r);

/* The per-machine cache file for tag: $LAVR_CACHE_DIR, else $XDG_CACHE_HOME/lavr, else $HOME/.cache/lavr, then
 * "conv-engines-<gpu>-sm<M><m>-cudnn<v>-tune<N>.h5" (the GPU name with anything but [A-Za-z0-9.-] as '_').
 * LAVR_E_IO when none of the three is set or the path does not fit. */
lavr_status lavr_conv_record_cache_path(const lavr_conv_record_tag *tag, char *buf, size_t len);

#endif
