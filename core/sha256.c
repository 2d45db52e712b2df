/* SHA-256 as FIPS 180-4 §6.2 defines it: 64-byte blocks, big-endian words, 64 rounds with the
 * round constants of §4.2.2 and the initial hash of §5.3.3. */
#include "core/sha256.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t round_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void compress_block(uint32_t h[8], const uint8_t *p) {
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 | (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + round_k[t] + w[t];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

void lavr_sha256_init(lavr_sha256 *s) {
    static const uint32_t initial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, initial, sizeof initial);
    s->total_bytes = 0;
    s->block_used = 0;
}

void lavr_sha256_update(lavr_sha256 *s, const void *data, size_t n) {
    const uint8_t *p = data;
    s->total_bytes += n;
    while (n > 0) {
        if (s->block_used == 0 && n >= 64) {
            compress_block(s->h, p);
            p += 64, n -= 64;
            continue;
        }
        size_t take = 64 - s->block_used < n ? 64 - s->block_used : n;
        memcpy(s->block + s->block_used, p, take);
        s->block_used += take, p += take, n -= take;
        if (s->block_used == 64) {
            compress_block(s->h, s->block);
            s->block_used = 0;
        }
    }
}

void lavr_sha256_final(lavr_sha256 *s, uint8_t digest[32]) {
    uint64_t bits = s->total_bytes * 8;
    uint8_t pad[72] = {0x80};
    /* a 1 bit, zeros up to 56 mod 64, then the message length in bits, big-endian */
    size_t pad_len = (s->block_used < 56 ? 56 : 120) - s->block_used;
    for (int i = 0; i < 8; i++) pad[pad_len + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
    lavr_sha256_update(s, pad, pad_len + 8);
    for (int i = 0; i < 8; i++)
        for (int b = 0; b < 4; b++) digest[4 * i + b] = (uint8_t)(s->h[i] >> (24 - 8 * b));
}

static void to_hex(const uint8_t digest[32], char hex[65]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) hex[2 * i] = digits[digest[i] >> 4], hex[2 * i + 1] = digits[digest[i] & 15];
    hex[64] = 0;
}

void lavr_sha256_hex(const void *data, size_t n, char hex[65]) {
    lavr_sha256 s;
    uint8_t digest[32];
    lavr_sha256_init(&s);
    lavr_sha256_update(&s, data, n);
    lavr_sha256_final(&s, digest);
    to_hex(digest, hex);
}

lavr_status lavr_sha256_file_hex(const char *path, char hex[65]) {
    enum { PIECE = 1 << 20 };
    FILE *f = fopen(path, "rb");
    if (!f) return LAVR_FAIL(LAVR_E_IO, "cannot open '%s': %s", path, strerror(errno));
    uint8_t *buf = malloc(PIECE);
    if (!buf) {
        fclose(f);
        return LAVR_FAIL(LAVR_E_NOMEM, "out of memory hashing '%s'", path);
    }
    lavr_sha256 s;
    lavr_sha256_init(&s);
    size_t got;
    while ((got = fread(buf, 1, PIECE, f)) > 0) lavr_sha256_update(&s, buf, got);
    int failed = ferror(f);
    free(buf);
    fclose(f);
    if (failed) return LAVR_FAIL(LAVR_E_IO, "cannot read '%s'", path);
    uint8_t digest[32];
    lavr_sha256_final(&s, digest);
    to_hex(digest, hex);
    return LAVR_OK;
}
