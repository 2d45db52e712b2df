/* HDF5 tensor store: model checkpoints (`/dit/<state-dict name>`, `/t5/...`, `/vae/...`,
 * `/wav2vec2/...`, each group with a JSON `config` attribute) and the golden files
 * (`/weights/<name>`, root `config`) are read through the same calls. bf16 tensors are stored as
 * 16-bit integers with a `dtype` attribute "bfloat16"; any slice can be read alone. */
#ifndef LAVR_IO_H5MODEL_H
#define LAVR_IO_H5MODEL_H

#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "core/tensor.h"

typedef struct lavr_h5file lavr_h5file;

/* Opens read-only; a missing or non-HDF5 file is a one-line LAVR_E_IO error naming the path. */
lavr_status lavr_h5_open(const char *path, lavr_h5file **out);
/* A read-only "file" whose datasets and attributes come from callbacks instead of a disk file (a model made on
 * the fly, models/generated_model.h): lavr_h5_exists, _info, every read and the attribute reads work on it, so the
 * loaders take it as they take a file; writes, lavr_h5_copy and lavr_h5_list are refused. Paths reach the
 * callbacks without their leading slash ("" is the root). */
typedef struct {
    /* 1: a dataset (desc gets its dtype, ndim and shape; data NULL), 2: a group, 0: nothing at path */
    int (*lookup)(void *user, const char *path, lavr_tensor *desc);
    /* rows [row0, row0 + nrows) along dim 0 of the dataset (a scalar has one row), contiguous, in its dtype */
    lavr_status (*read_rows)(void *user, const char *path, int64_t row0, int64_t nrows, void *out);
    /* the attribute's text (numbers in decimal), NULL when absent; owned by the source */
    const char *(*attr)(void *user, const char *obj, const char *name);
    void (*close)(void *user); /* called by lavr_h5_close */
} lavr_h5_source;
/* name stands for the path in messages and lavr_h5_path; src must outlive the file, user is handed over. */
lavr_status lavr_h5_open_source(const char *name, const lavr_h5_source *src, void *user, lavr_h5file **out);
/* 1 when f comes from lavr_h5_open_source with these callbacks (NULL: any); its user pointer. */
int lavr_h5_is_source(const lavr_h5file *f, const lavr_h5_source *src);
void *lavr_h5_source_user(const lavr_h5file *f);
/* Creates (truncates) a file for writing. */
lavr_status lavr_h5_create(const char *path, lavr_h5file **out);
/* Flushes and closes; NULL allowed. Returns an error if the final flush fails. */
lavr_status lavr_h5_close(lavr_h5file *f);
const char *lavr_h5_path(const lavr_h5file *f);

/* 1 when a dataset or group exists at path ("/weights/patch_embedding.weight" or without the
 * leading slash). */
int lavr_h5_exists(lavr_h5file *f, const char *path);
/* Shape and stored dtype of a dataset without reading it (dtype from the `dtype` attribute when
 * present, else from the HDF5 type). */
lavr_status lavr_h5_info(lavr_h5file *f, const char *path, lavr_tensor *desc);

/* Reads a whole dataset in its stored dtype into a tensor from the arena. A missing dataset is
 * LAVR_E_FORMAT "tensor 'x' not found in FILE". */
lavr_status lavr_h5_read(lavr_h5file *f, const char *path, lavr_arena *arena, lavr_tensor *out);
/* Reads a whole dataset converted to float32. */
lavr_status lavr_h5_read_f32(lavr_h5file *f, const char *path, lavr_arena *arena, lavr_tensor *out);
/* Reads the hyperslab [start, start+count) (one entry per dim) in the stored dtype, touching only
 * the chunks it needs (a row range of a matrix, a column range, a range of layers). */
lavr_status lavr_h5_read_slice(lavr_h5file *f, const char *path, const int64_t *start, const int64_t *count,
                               lavr_arena *arena, lavr_tensor *out);
/* Reads a whole dataset, checking it has exactly the expected shape (ndim entries); the error
 * names the tensor, the expected and the found shape. */
lavr_status lavr_h5_read_expect(lavr_h5file *f, const char *path, int ndim, const int64_t *shape,
                                lavr_arena *arena, lavr_tensor *out);

/* Writes a contiguous tensor as a chunked dataset (parent groups are created); compress_level
 * 0 = none, 1..9 = deflate. bf16/f16/fp8 keep their bits and get a `dtype` attribute. */
lavr_status lavr_h5_write(lavr_h5file *f, const char *path, const lavr_tensor *t, int compress_level);

/* For tensors too big to hold at once: create an empty chunked dataset (same layout, dtype
 * attribute and compression as lavr_h5_write), then fill it with consecutive slabs along dim 0. */
lavr_status lavr_h5_create_dataset(lavr_h5file *f, const char *path, lavr_dtype dtype, int ndim,
                                   const int64_t *shape, int compress_level);
/* Writes t (contiguous, same dtype, same trailing dims) at rows [row0, row0 + t->shape[0]). */
lavr_status lavr_h5_write_rows(lavr_h5file *f, const char *path, int64_t row0, const lavr_tensor *t);
/* lavr_h5_create_dataset with the chunk shape given (entries clamped to 1..shape), e.g. one clip of
 * one state, so that slices written and read along it touch whole chunks. */
lavr_status lavr_h5_create_dataset_chunked(lavr_h5file *f, const char *path, lavr_dtype dtype, int ndim,
                                           const int64_t *shape, const int64_t *chunks, int compress_level);
/* Writes t (contiguous, same dtype and rank) as the hyperslab [start, start + t->shape). */
lavr_status lavr_h5_write_slice(lavr_h5file *f, const char *path, const int64_t *start, const lavr_tensor *t);
/* Copies the dataset (or group) at path, with its attributes, from src into dst at the same path,
 * chunk by chunk inside HDF5 (parent groups are created). */
lavr_status lavr_h5_copy(lavr_h5file *src, const char *path, lavr_h5file *dst);

/* Attributes on an object (group or dataset; "/" for the root). Strings are variable-length
 * UTF-8; *out from read_attr_string is malloc'd (caller frees). */
lavr_status lavr_h5_write_attr_string(lavr_h5file *f, const char *obj, const char *name, const char *value);
lavr_status lavr_h5_read_attr_string(lavr_h5file *f, const char *obj, const char *name, char **out);
lavr_status lavr_h5_write_attr_int(lavr_h5file *f, const char *obj, const char *name, int64_t value);
lavr_status lavr_h5_read_attr_int(lavr_h5file *f, const char *obj, const char *name, int64_t *out);
lavr_status lavr_h5_write_attr_double(lavr_h5file *f, const char *obj, const char *name, double value);
lavr_status lavr_h5_read_attr_double(lavr_h5file *f, const char *obj, const char *name, double *out);
int lavr_h5_has_attr(lavr_h5file *f, const char *obj, const char *name);

/* Calls fn for every dataset under group (recursively, in name order) with its path relative to
 * the group; a non-zero return from fn stops the walk and is returned. */
typedef lavr_status (*lavr_h5_visit_fn)(const char *relative_path, const lavr_tensor *desc, void *user);
lavr_status lavr_h5_list(lavr_h5file *f, const char *group, lavr_h5_visit_fn fn, void *user);

#endif
