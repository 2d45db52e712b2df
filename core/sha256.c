/* SHA-256 (core/sha256.h) on OpenSSL's EVP interface, which picks the CPU's SHA extensions or
 * vector code; every libcrypto call goes through OSSL_TRY, which records OpenSSL's own reason. */
#include "core/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

static lavr_status ossl_fail(const char *file, int line, const char *call) {
    char reason[256] = "no reason given";
    unsigned long e = ERR_get_error();
    if (e) ERR_error_string_n(e, reason, sizeof reason);
    ERR_clear_error();
    return lavr_error_set(LAVR_E_INTERNAL, file, line, "OpenSSL %s failed: %s", call, reason);
}

/* libcrypto calls return 1 on success */
#define OSSL_TRY(call) do { if ((call) != 1) return ossl_fail(__FILE__, __LINE__, #call); } while (0)

lavr_status lavr_sha256_init(lavr_sha256 *s) {
    s->ctx = EVP_MD_CTX_new();
    if (!s->ctx) return ossl_fail(__FILE__, __LINE__, "EVP_MD_CTX_new");
    if (EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
        lavr_sha256_abandon(s);
        return ossl_fail(__FILE__, __LINE__, "EVP_DigestInit_ex(sha256)");
    }
    return LAVR_OK;
}

lavr_status lavr_sha256_update(lavr_sha256 *s, const void *data, size_t n) {
    if (!s->ctx) return LAVR_FAIL(LAVR_E_INTERNAL, "SHA-256 update without init");
    if (n) OSSL_TRY(EVP_DigestUpdate(s->ctx, data, n));
    return LAVR_OK;
}

lavr_status lavr_sha256_final(lavr_sha256 *s, uint8_t digest[32]) {
    if (!s->ctx) return LAVR_FAIL(LAVR_E_INTERNAL, "SHA-256 final without init");
    unsigned int len = 0;
    int ok = EVP_DigestFinal_ex(s->ctx, digest, &len);
    lavr_sha256_abandon(s);
    if (ok != 1 || len != 32) return ossl_fail(__FILE__, __LINE__, "EVP_DigestFinal_ex");
    return LAVR_OK;
}

void lavr_sha256_abandon(lavr_sha256 *s) {
    EVP_MD_CTX_free(s->ctx);
    s->ctx = NULL;
}

void lavr_sha256_to_hex(const uint8_t digest[32], char hex[65]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) hex[2 * i] = digits[digest[i] >> 4], hex[2 * i + 1] = digits[digest[i] & 15];
    hex[64] = 0;
}

lavr_status lavr_sha256_hex(const void *data, size_t n, char hex[65]) {
    uint8_t digest[32];
    unsigned int len = 0;
    OSSL_TRY(EVP_Digest(data, n, digest, &len, EVP_sha256(), NULL));
    lavr_sha256_to_hex(digest, hex);
    return LAVR_OK;
}

lavr_status lavr_sha256_file_hex(const char *path, char hex[65]) {
    enum { PIECE = 4 << 20 };
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return LAVR_FAIL(LAVR_E_IO, "cannot open '%s': %s", path, strerror(errno));
    uint8_t *buf = malloc(PIECE);
    lavr_sha256 s = {0};
    lavr_status st = buf ? lavr_sha256_init(&s) : LAVR_FAIL(LAVR_E_NOMEM, "out of memory hashing '%s'", path);
    while (!st) {
        ssize_t got = read(fd, buf, PIECE);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) st = LAVR_FAIL(LAVR_E_IO, "cannot read '%s': %s", path, strerror(errno));
        if (got <= 0) break;
        st = lavr_sha256_update(&s, buf, (size_t)got);
    }
    uint8_t digest[32];
    if (!st) st = lavr_sha256_final(&s, digest);
    lavr_sha256_abandon(&s);
    free(buf);
    close(fd);
    if (!st) lavr_sha256_to_hex(digest, hex);
    return st;
}
