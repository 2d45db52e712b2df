/* The content fingerprint of a model file, made while lavr init / lavr convert write it: SHA-256 over each
 * tensor's name and bytes in write order, stored as the root attribute content_sha256, so a resume can tell
 * two models of one preset apart at no cost; and the check that every weight written is finite. */
#ifndef LAVR_IO_MODEL_DIGEST_H
#define LAVR_IO_MODEL_DIGEST_H

#include <stdint.h>

#include "core/sha256.h"
#include "core/tensor.h"
#include "io/h5model.h"

#define LAVR_MODEL_DIGEST_ATTR "content_sha256"

typedef struct {
    lavr_sha256 sha;
    int64_t tensors;
} lavr_model_digest;

lavr_status lavr_model_digest_init(lavr_model_digest *d);
/* Rows [row0, row0 + t->shape[0]) of tensor `name` (its first rows start a new tensor in the digest): a
 * NaN or Inf among them is LAVR_E_FORMAT naming the tensor, the element and `source` (what it came from);
 * else their bytes go into the digest. */
lavr_status lavr_model_digest_rows(lavr_model_digest *d, const char *name, int64_t row0, const lavr_tensor *t,
                                   const char *source);
/* Writes the fingerprint to f's root and releases the digest (also on failure). */
lavr_status lavr_model_digest_write(lavr_model_digest *d, lavr_h5file *f);
void lavr_model_digest_abandon(lavr_model_digest *d);
/* The fingerprint of an open model file into hex, or "" for a file written before fingerprints. */
lavr_status lavr_model_digest_read(lavr_h5file *f, char hex[65]);

#endif
