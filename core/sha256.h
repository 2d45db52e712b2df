/* SHA-256 (FIPS 180-4) of a byte buffer, incrementally, or of a whole file read in pieces: the
 * identity hashes of a render's inputs (image, audio, prompt) kept in conditioning and stage files. */
#ifndef LAVR_CORE_SHA256_H
#define LAVR_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct {
    uint32_t h[8];
    uint64_t total_bytes;
    uint8_t block[64];
    size_t block_used;
} lavr_sha256;

void lavr_sha256_init(lavr_sha256 *s);
void lavr_sha256_update(lavr_sha256 *s, const void *data, size_t n);
/* Writes the 32-byte digest; s must be re-initialised before reuse. */
void lavr_sha256_final(lavr_sha256 *s, uint8_t digest[32]);

/* Digest as 64 lowercase hex characters plus NUL. */
void lavr_sha256_hex(const void *data, size_t n, char hex[65]);
/* Hashes a file in 1 MiB pieces (constant memory); a missing or unreadable file is LAVR_E_IO. */
lavr_status lavr_sha256_file_hex(const char *path, char hex[65]);

#endif
