/* SentencePiece normalisation (models/charsmap.c) on a charsmap SentencePiece's trainer built from five
 * rules (tests/fixtures/charsmap_rules.h): longest match, deletions, rules that make spaces, and the three
 * whitespace switches, against outputs worked out by hand from Normalizer::Normalize (all but the
 * escape_whitespaces=0 one also read back from sp.encode's pieces of models trained with those switches);
 * corrupt charsmaps are format errors. Needs no Python. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/charsmap.h"
#include "tests/check.h"
#include "tests/fixtures/charsmap_rules.h"

#define SP "\xe2\x96\x81" /* '▁' */

static void expect(const lavr_charsmap *cm, lavr_sp_spec spec, const char *in, const char *want) {
    char *out = NULL;
    size_t n = 0;
    CHECK_OK(lavr_sp_normalize(cm, &spec, in, strlen(in), &out, &n));
    CHECK_MSG(out && n == strlen(want) && strcmp(out, want) == 0, "normalize(\"%s\") = \"%s\", expected \"%s\"", in,
              out ? out : "", want);
    free(out);
}

/* "ab" is protected, as a user-defined piece would be */
static size_t protect_ab(const void *ctx, const char *s, size_t n) {
    (void)ctx;
    return n >= 2 && s[0] == 'a' && s[1] == 'b' ? 2 : 0;
}

int main(void) {
    const lavr_sp_spec all = {1, 1, 1, NULL, NULL}, keep_spaces = {1, 0, 1, NULL, NULL},
                       plain_spaces = {1, 1, 0, NULL, NULL}, no_prefix = {0, 1, 1, NULL, NULL},
                       keep_ab = {1, 1, 1, protect_ab, NULL};
    lavr_charsmap *cm = NULL;
    CHECK_OK(lavr_charsmap_create(charsmap_rules, sizeof charsmap_rules, &cm));
    if (cm) {
        CHECK(lavr_charsmap_rules(cm) > 0);
        expect(cm, all, "abacd d e", SP "XA" SP "e");
        expect(cm, all, "\xef\xac\x81x", SP "fix");
        expect(cm, all, "cc", "");
        expect(cm, all, "dd a", SP "A");
        expect(cm, all, "b", SP "b");
        expect(cm, all, "aab", SP "AX"); /* "ab" is longer than "a" */
        expect(cm, all, "  x  ", SP "x");
        expect(cm, all, "xcd y", SP "x" SP "y");
        expect(cm, keep_spaces, "  x  y ", SP SP SP "x" SP SP "y" SP);
        expect(cm, keep_spaces, "cc", SP);
        expect(cm, plain_spaces, "x d y", " x y");
        expect(cm, no_prefix, "ab x", "X" SP "x");
        expect(cm, keep_ab, "abaab c", SP "abAab"); /* a protected "ab" is copied, not normalised */
    }
    expect(NULL, all, "ab  c ", SP "ab" SP "c"); /* no charsmap: the identity */

    /* a trie that leads outside itself, one too large for the blob, a blob too short */
    unsigned char bad[sizeof charsmap_rules];
    memcpy(bad, charsmap_rules, sizeof bad);
    bad[0] = 8, bad[1] = bad[2] = bad[3] = 0;
    lavr_charsmap *small = NULL;
    CHECK_OK(lavr_charsmap_create(bad, sizeof bad, &small));
    char *out = NULL;
    size_t n = 0;
    if (small) CHECK_FAILS(lavr_sp_normalize(small, &all, "a", 1, &out, &n), LAVR_E_FORMAT);
    lavr_charsmap_destroy(small);
    bad[0] = 0, bad[1] = 0x10;
    lavr_charsmap *big = NULL;
    CHECK_FAILS(lavr_charsmap_create(bad, sizeof bad, &big), LAVR_E_FORMAT);
    CHECK_FAILS(lavr_charsmap_create(charsmap_rules, 4, &big), LAVR_E_FORMAT);
    CHECK(big == NULL && out == NULL);
    lavr_charsmap_destroy(cm);
    return check_summary("test_charsmap");
}
