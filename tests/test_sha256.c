/* SHA-256 against the FIPS 180-2 example vectors (empty, "abc", the 448- and 896-bit messages,
 * one million 'a'), fed whole, byte by byte and in odd pieces, and through a file (OpenSSL's EVP). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/sha256.h"

static const char *const msg448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char *const msg896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                                  "mnopqrstnopqrstu";

static void hex_of(lavr_sha256 *s, char hex[65]) {
    uint8_t d[32];
    CHECK_OK(lavr_sha256_final(s, d));
    lavr_sha256_to_hex(d, hex);
}

/* The same digest whatever the split of the message into update calls. */
static void check_pieces(const char *msg, size_t n, const char *expect) {
    char hex[65];
    CHECK_OK(lavr_sha256_hex(msg, n, hex));
    CHECK_MSG(strcmp(hex, expect) == 0, "whole: %s, expected %s", hex, expect);
    for (size_t piece = 1; piece <= 67; piece += 11) {
        lavr_sha256 s;
        CHECK_OK(lavr_sha256_init(&s));
        for (size_t i = 0; i < n; i += piece) CHECK_OK(lavr_sha256_update(&s, msg + i, n - i < piece ? n - i : piece));
        hex_of(&s, hex);
        CHECK_MSG(strcmp(hex, expect) == 0, "pieces of %zu: %s, expected %s", piece, hex, expect);
        CHECK(s.ctx == NULL);
    }
}

int main(void) {
    check_pieces("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_pieces("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check_pieces(msg448, strlen(msg448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    check_pieces(msg896, strlen(msg896), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");

    /* one million 'a', also through a file (read in 1 MiB pieces) */
    const char *expect_a = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    char *million = malloc(1000000);
    CHECK(million != NULL);
    if (million) {
        memset(million, 'a', 1000000);
        check_pieces(million, 1000000, expect_a);
        const char *tmp = getenv("LAVR_TEST_TMP");
        char path[4096];
        snprintf(path, sizeof path, "%s/sha256_million_a.bin", tmp ? tmp : "/tmp");
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite(million, 1, 1000000, f) == 1000000);
        if (f) fclose(f);
        char hex[65] = {0};
        CHECK_OK(lavr_sha256_file_hex(path, hex));
        CHECK_MSG(strcmp(hex, expect_a) == 0, "file: %s", hex);
        remove(path);
        free(million);
    }
    char hex[65];
    CHECK_FAILS(lavr_sha256_file_hex("/nonexistent/file.wav", hex), LAVR_E_IO);
    CHECK_FAILS(lavr_sha256_file_hex("/", hex), LAVR_E_IO); /* a directory opens but does not read */
    lavr_sha256 unused = {0};
    CHECK_FAILS(lavr_sha256_update(&unused, "x", 1), LAVR_E_INTERNAL);
    lavr_sha256_abandon(&unused);
    return check_summary("test_sha256");
}
