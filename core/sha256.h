/* SHA-256 through OpenSSL's libcrypto (EVP): identity hashes of a render's inputs, checksums of
 * checkpoint files and the content fingerprint of a model, incrementally or of a whole file. */
#ifndef LAVR_CORE_SHA256_H
#define LAVR_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct {
    void *ctx; /* EVP_MD_CTX, NULL when not started */
} lavr_sha256;

lavr_status lavr_sha256_init(lavr_sha256 *s);
lavr_status lavr_sha256_update(lavr_sha256 *s, const void *data, size_t n);
/* Writes the 32-byte digest and releases the context (also on failure). */
lavr_status lavr_sha256_final(lavr_sha256 *s, uint8_t digest[32]);
/* Releases a context that will not be finished (no-op when none). */
void lavr_sha256_abandon(lavr_sha256 *s);

/* Digest as 64 lowercase hex characters plus NUL. */
void lavr_sha256_to_hex(const uint8_t digest[32], char hex[65]);
lavr_status lavr_sha256_hex(const void *data, size_t n, char hex[65]);
/* Hashes a file in 4 MiB pieces (constant memory); a missing or unreadable file is LAVR_E_IO. */
lavr_status lavr_sha256_file_hex(const char *path, char hex[65]);

#endif
