/* What io/checkpoint.c (directories, manifest, search) and io/h5state.c (rank files: named tensors,
 * ints, strings) share: the found checkpoint and the rank-file naming. Not for other modules. */
#ifndef LAVR_IO_CHECKPOINT_INTERNAL_H
#define LAVR_IO_CHECKPOINT_INTERNAL_H

#include "io/checkpoint.h"
#include "io/h5model.h"

#define LAVR_CKPT_RANK_FORMAT "lavr-checkpoint-rank"

struct lavr_ckpt {
    char *dir;
    int64_t clip, blocks;
    char *layout;
    int nfiles;
    lavr_ckpt_file *files;
    lavr_h5file **open; /* nfiles entries, opened on first use */
};

/* Makes <stage>/ckpt-<blocks> (stage dir too) and deletes a MANIFEST left by an earlier attempt;
 * *dir_out is malloc'd. */
lavr_status lavr_ckpt_prepare_dir(const char *stage_dir, int64_t blocks, char **dir_out);
/* "rank-<r>.h5" */
void lavr_ckpt_rank_file_name(int rank, char name[32]);
/* Closes the rank files opened by the readers. */
void lavr_ckpt_close_rank_files(lavr_ckpt *c);

#endif
