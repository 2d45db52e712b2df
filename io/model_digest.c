/* io/model_digest.h: the weights' non-finite check and content fingerprint, fed slab by slab by the
 * model writers (cli/init.c, io/convert_write.c) with the bytes they write. */
#include "io/model_digest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"

lavr_status lavr_model_digest_init(lavr_model_digest *d) {
    memset(d, 0, sizeof *d);
    return lavr_sha256_init(&d->sha);
}

lavr_status lavr_model_digest_rows(lavr_model_digest *d, const char *name, int64_t row0, const lavr_tensor *t,
                                   const char *source) {
    const int64_t n = lavr_tensor_numel(t);
    int64_t first = -1;
    const int64_t bad = lavr_count_nonfinite(t->dtype, t->data, n, &first);
    if (bad > 0) {
        char where[96];
        const int64_t row_len = t->ndim > 1 && t->shape[0] > 0 ? n / t->shape[0] : 1;
        if (t->ndim > 1)
            snprintf(where, sizeof where, "in row %lld, element %lld of the row", (long long)(row0 + first / row_len),
                     (long long)(first % row_len));
        else
            snprintf(where, sizeof where, "at element %lld", (long long)(row0 + first));
        return LAVR_FAIL(LAVR_E_FORMAT, "tensor '%s' from %s holds %lld NaN/Inf value%s (the first %s): refusing to "
                         "write a model that renders garbage", name, source, (long long)bad, bad == 1 ? "" : "s", where);
    }
    if (row0 == 0) {
        TRY(lavr_sha256_update(&d->sha, name, strlen(name) + 1));
        d->tensors++;
    }
    return lavr_sha256_update(&d->sha, t->data, (size_t)n * lavr_dtype_size(t->dtype));
}

lavr_status lavr_model_digest_write(lavr_model_digest *d, lavr_h5file *f) {
    uint8_t digest[32];
    char hex[65];
    TRY(lavr_sha256_final(&d->sha, digest));
    lavr_sha256_to_hex(digest, hex);
    return lavr_h5_write_attr_string(f, "/", LAVR_MODEL_DIGEST_ATTR, hex);
}

void lavr_model_digest_abandon(lavr_model_digest *d) { lavr_sha256_abandon(&d->sha); }

lavr_status lavr_model_digest_read(lavr_h5file *f, char hex[65]) {
    hex[0] = 0;
    if (!lavr_h5_has_attr(f, "/", LAVR_MODEL_DIGEST_ATTR)) return LAVR_OK;
    char *text = NULL;
    TRY(lavr_h5_read_attr_string(f, "/", LAVR_MODEL_DIGEST_ATTR, &text));
    snprintf(hex, 65, "%s", text);
    free(text);
    return LAVR_OK;
}
