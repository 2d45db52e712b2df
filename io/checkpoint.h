/* Render checkpoints at block boundaries: every rank writes its own HDF5 file, then one rank writes a
 * checksummed MANIFEST last and atomically; only a complete, matching checkpoint is ever resumed.
 *
 * Layout under the render's stage directory:
 *   <stage>/ckpt-000016/rank-0.h5 ... rank-<N-1>.h5   state after 16 blocks (resume renders block 16 next)
 *   <stage>/ckpt-000016/MANIFEST                       written last: write MANIFEST.tmp, fsync, rename,
 *                                                      fsync the directory
 * A rank file holds named tensors (one dataset each, at /<name>, uncompressed, chunked by rows as in
 * io/h5model.h) and named ints and strings (attributes of the root group). A tensor split across
 * ranks (a tp rank's share of the heads of a KV cache, say [heads, tokens, head_dim] split on dim 0)
 * is written by each owner with lavr_ckpt_put_part: the dataset holds the rank's share and the
 * attributes part_dim, part_offset and full_len say where it sits in the whole, so a reader with
 * another layout asks for any range (lavr_ckpt_read_range) and gets it assembled from the files
 * that hold it, reading only the hyperslabs it needs.
 *
 * MANIFEST is text, one "key value" per line:
 *   lavr-checkpoint 1
 *   clip 4                      whole clips done (blocks / 4)
 *   blocks 16                   latent blocks done = the directory's number (the stage file is
 *                               truncated to this on resume)
 *   layout steps=4,tp=1,pp=1,aux=1
 *   model <identity string>
 *   inputs <identity string>
 *   files 5
 *   file 0 rank-0.h5 <bytes> <sha256 hex>       one line per rank, in rank order
 *   checksum <sha256 hex of every byte above this line>
 * so a truncated or edited manifest fails its own checksum. */
#ifndef LAVR_IO_CHECKPOINT_H
#define LAVR_IO_CHECKPOINT_H

#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "core/tensor.h"

#define LAVR_CKPT_MANIFEST "MANIFEST"

/* What makes two renders the same render: a checkpoint is resumed only when both strings are equal
 * (single line each, at most 1023 bytes). The render chooses them, e.g. model = "tiny.h5 size=...
 * sha256=..." and inputs = "image=<sha> audio=<sha> prompt=<sha> seed=7 size=256*256 ...". The
 * layout is recorded but not part of the identity: another layout may resume. */
typedef struct {
    const char *model;
    const char *inputs;
} lavr_ckpt_identity;

/* One rank file as listed in the manifest. Plain bytes, so ranks can send it to the committing rank
 * with MPI_Gather(&entry, sizeof entry, MPI_BYTE, ...). */
typedef struct {
    char name[32];     /* "rank-3.h5" */
    int64_t bytes;
    char sha256[65];   /* lowercase hex */
} lavr_ckpt_file;

/* ---- policy ------------------------------------------------------------------------------- */

/* When to checkpoint: after every `every_clips` clips and/or when `every_seconds` have passed since
 * the last one (0 turns either off; both off = only on a stop signal); keep the newest `keep_last`
 * (>= 1). Under MPI the time-based decision must be taken by one rank and broadcast. */
typedef struct {
    int64_t every_clips;
    double every_seconds;
    int64_t keep_last;
} lavr_ckpt_policy;

/* LAVR_E_ARG with a one-line message for negative values or keep_last < 1. */
lavr_status lavr_ckpt_policy_check(const lavr_ckpt_policy *p);
/* 1 when a checkpoint is due after `clips_done` clips, the last one having been taken after
 * `clips_at_last` clips, `seconds_since_last` seconds ago; never when no clip was done since. */
int lavr_ckpt_policy_due(const lavr_ckpt_policy *p, int64_t clips_done, int64_t clips_at_last,
                         double seconds_since_last);

/* ---- writing (every rank) ------------------------------------------------------------------ */

typedef struct lavr_ckpt_writer lavr_ckpt_writer;

/* Creates <stage>/ckpt-<blocks> if needed (every rank may call it at once), removes a MANIFEST left
 * there by an earlier attempt, and creates (truncates) this rank's file. */
lavr_status lavr_ckpt_begin(const char *stage_dir, int64_t blocks, int rank, lavr_ckpt_writer **out);
const char *lavr_ckpt_writer_path(const lavr_ckpt_writer *w);
/* Names: tensors [A-Za-z0-9_.-/] ("step2/layer17/k"), ints and strings [A-Za-z0-9_.-]; names starting
 * with "lavr_" are reserved. */
lavr_status lavr_ckpt_put_tensor(lavr_ckpt_writer *w, const char *name, const lavr_tensor *t);
/* This rank's share of a tensor split along dim: t holds [offset, offset + t->shape[dim]) of a
 * whole whose extent along dim is full_len. */
lavr_status lavr_ckpt_put_part(lavr_ckpt_writer *w, const char *name, const lavr_tensor *t, int dim, int64_t offset,
                               int64_t full_len);
lavr_status lavr_ckpt_put_int(lavr_ckpt_writer *w, const char *name, int64_t value);
lavr_status lavr_ckpt_put_string(lavr_ckpt_writer *w, const char *name, const char *value);
/* Closes the file, fsyncs it and fills *entry (name, size, SHA-256); frees w in every case (a failure
 * says the free space and deletes the file). */
lavr_status lavr_ckpt_finish(lavr_ckpt_writer *w, lavr_ckpt_file *entry);
/* Closes, deletes the file and frees without an entry (error paths); the checkpoint stays torn and is
 * ignored. */
void lavr_ckpt_abandon(lavr_ckpt_writer *w);

/* ---- committing (one rank, after every rank finished) -------------------------------------- */

typedef struct {
    int64_t clip;            /* clips done */
    int64_t blocks;          /* latent blocks done */
    const char *layout;
    lavr_ckpt_identity id;
    int nfiles;              /* = ranks; files[r] is rank r's entry */
    const lavr_ckpt_file *files;
} lavr_ckpt_manifest;

/* Checks every listed file is there with its size, then writes the MANIFEST atomically. From this
 * moment the checkpoint is valid. */
lavr_status lavr_ckpt_commit(const char *stage_dir, const lavr_ckpt_manifest *m);
/* Deletes every checkpoint directory older than the keep_last newest committed ones (torn ones
 * included; MANIFEST first, so a crash mid-delete leaves a torn directory, never a bad valid one).
 * Directories newer than the newest committed one are left alone. */
lavr_status lavr_ckpt_prune(const char *stage_dir, int64_t keep_last);

/* Deletes every checkpoint directory (a render that starts over). */
lavr_status lavr_ckpt_remove_all(const char *stage_dir);

/* ---- finding and reading (resume) ---------------------------------------------------------- */

typedef struct lavr_ckpt lavr_ckpt;

typedef enum {
    LAVR_CKPT_VERIFY_SIZES,  /* manifest checksum + file sizes: cheap */
    LAVR_CKPT_VERIFY_SHA256, /* also hash every rank file (reads them all once) */
} lavr_ckpt_verify;

typedef struct {
    lavr_ckpt *found;        /* newest valid checkpoint with this identity, or NULL; lavr_ckpt_close it */
    int64_t skipped_torn;    /* newer directories ignored: no/truncated manifest, missing or bad files */
    int64_t skipped_other;   /* newer complete checkpoints of another model or other inputs */
    char other_reason[1024]; /* the newest of those: "ckpt-000004 is for other inputs (...)" */
} lavr_ckpt_search;

/* Scans <stage>/ckpt-* newest first. Each directory skipped is logged (warn) with its reason. A
 * missing stage directory is no error (nothing found). */
lavr_status lavr_ckpt_find_latest(const char *stage_dir, const lavr_ckpt_identity *id, lavr_ckpt_verify verify,
                                  lavr_ckpt_search *result);
void lavr_ckpt_close(lavr_ckpt *c);
/* Opens <stage>/ckpt-<blocks> itself (the ranks of a resumed render open the one the aux rank found):
 * its manifest must be valid, with this identity (id NULL: any) and its files present (LAVR_E_FORMAT
 * otherwise). */
lavr_status lavr_ckpt_open(const char *stage_dir, int64_t blocks, const lavr_ckpt_identity *id,
                           lavr_ckpt_verify verify, lavr_ckpt **out);

const char *lavr_ckpt_dir(const lavr_ckpt *c);
int64_t lavr_ckpt_clip(const lavr_ckpt *c);
int64_t lavr_ckpt_blocks(const lavr_ckpt *c);
const char *lavr_ckpt_layout(const lavr_ckpt *c);
int lavr_ckpt_ranks(const lavr_ckpt *c);

/* Per-rank values of the writing layout's rank `rank`; *out of get_string is malloc'd. */
lavr_status lavr_ckpt_get_int(lavr_ckpt *c, int rank, const char *name, int64_t *out);
lavr_status lavr_ckpt_get_string(lavr_ckpt *c, int rank, const char *name, char **out);
/* As get_string, but a value the rank file does not hold (written by an older lavr) gives *out = NULL. */
lavr_status lavr_ckpt_get_optional_string(lavr_ckpt *c, int rank, const char *name, char **out);
/* The whole tensor `name`, from whichever rank files hold it (a whole tensor or parts). */
lavr_status lavr_ckpt_read_tensor(lavr_ckpt *c, const char *name, lavr_arena *arena, lavr_tensor *out);
/* [start, start + len) along dim (all of every other dim), assembled from the parts that overlap
 * it; LAVR_E_FORMAT when the parts do not cover it exactly once (so a value that several ranks
 * hold, replicated, is written by one of them only). */
lavr_status lavr_ckpt_read_range(lavr_ckpt *c, const char *name, int dim, int64_t start, int64_t len,
                                 lavr_arena *arena, lavr_tensor *out);

#endif
