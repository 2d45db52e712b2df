/* Tokenizer on a small synthetic unigram vocabulary whose best segmentations were worked out by hand
 * (scores summed along every candidate path), plus the cleaning stages against what Python's
 * html.unescape and ftfy.fix_text return. tests/tokenizer/sp_compare.py checks against SentencePiece. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/prompt_clean.h"
#include "models/tokenizer.h"
#include "tests/check.h"

/* ids: 0 <pad>, 1 </s>, 2 <unk>, then pieces with chosen scores; the lowest score is -5, so an
 * unknown character costs -15. */
static const char *vocab_json =
    "{\"version\":\"1.0\",\"added_tokens\":["
    "{\"id\":0,\"content\":\"<pad>\",\"special\":true},{\"id\":1,\"content\":\"</s>\",\"special\":true},"
    "{\"id\":2,\"content\":\"<unk>\",\"special\":true}],"
    "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"\"}]},"
    "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\"},"
    "\"model\":{\"type\":\"Unigram\",\"unk_id\":2,\"vocab\":["
    "[\"<pad>\",0.0],[\"</s>\",0.0],[\"<unk>\",0.0],"
    "[\"\\u2581\",-2.0],"        /* 3 */
    "[\"\\u2581hello\",-1.0],"   /* 4 */
    "[\"\\u2581wor\",-2.0],"     /* 5 */
    "[\"ld\",-2.5],"             /* 6 */
    "[\"\\u2581world\",-5.0],"   /* 7 */
    "[\"h\",-3.0],[\"e\",-3.0],[\"l\",-3.0],[\"o\",-3.0]," /* 8..11 */
    "[\"\\u2581he\",-2.0],"      /* 12 */
    "[\"llo\",-2.0],"            /* 13 */
    "[\"\\u2581ab\",-3.0],"      /* 14 */
    "[\"\\u2581a\",-1.0],"       /* 15 */
    "[\"b\",-2.0],"              /* 16 */
    "[\"xy\",-1.0],"             /* 17 */
    "[\"\\u2581x\",-2.0],"       /* 18 */
    "[\"y\",-1.0],"              /* 19 */
    "[\"\\u2581caf\\u00e9\",-1.5]," /* 20 */
    "[\"a\",-4.0]]}}";

static void expect_ids(const lavr_tokenizer *tok, const char *text, int64_t max_len, const int64_t *want,
                       int64_t want_n) {
    int64_t ids[LAVR_TEXT_LEN], n = -1;
    for (int i = 0; i < LAVR_TEXT_LEN; i++) ids[i] = -7;
    CHECK_OK(lavr_tokenizer_encode(tok, text, max_len, ids, &n));
    int same = n == want_n;
    for (int64_t i = 0; same && i < n; i++) same = ids[i] == want[i];
    if (!same) {
        fprintf(stderr, "text \"%s\": got", text);
        for (int64_t i = 0; i < n && i < 16; i++) fprintf(stderr, " %lld", (long long)ids[i]);
        fprintf(stderr, " (n=%lld)\n", (long long)n);
    }
    CHECK_MSG(same, "segmentation of \"%s\"", text);
    CHECK(n >= max_len || ids[n] == -7); /* nothing written past the count */
}

#define EXPECT(tok, text, ...)                                           \
    do {                                                                 \
        static const int64_t want_[] = {__VA_ARGS__};                    \
        expect_ids(tok, text, LAVR_TEXT_LEN, want_, (int64_t)(sizeof want_ / sizeof want_[0])); \
    } while (0)

static void test_segmentation(const lavr_tokenizer *tok) {
    CHECK(lavr_tokenizer_vocab_size(tok) == 22);
    CHECK(lavr_tokenizer_eos_id(tok) == 1 && lavr_tokenizer_unk_id(tok) == 2);
    CHECK(strcmp(lavr_tokenizer_piece(tok, 4), "\xe2\x96\x81hello") == 0);
    CHECK(lavr_tokenizer_piece(tok, 22) == NULL);
    CHECK(lavr_tokenizer_charsmap_units(tok) == 0); /* an empty charsmap is the identity */

    /* ▁hello -1 beats ▁he+llo -4; ▁wor+ld -4.5 beats ▁world -5. */
    EXPECT(tok, "hello world", 4, 5, 6, 1);
    /* Whitespace runs, tabs and newlines collapse; ends are stripped. */
    EXPECT(tok, "  hello \t\n  world  ", 4, 5, 6, 1);
    /* Tie: ▁ab = ▁a+b = -3; the path whose last piece starts earliest (▁ab) wins. */
    EXPECT(tok, "ab", 14, 1);
    /* Tie: ▁+xy = ▁x+y = -3; xy starts before y, so ▁ xy. */
    EXPECT(tok, "xy", 3, 17, 1);
    /* Unknown characters: ▁ then one fused <unk> for both snowmen. */
    EXPECT(tok, "hello \xe2\x98\x83\xe2\x98\x83 world", 4, 3, 2, 5, 6, 1);
    /* é has no piece: ▁ h <unk> llo (-22) is the only path not through more unknowns. */
    EXPECT(tok, "h\xc3\xa9llo", 3, 8, 2, 13, 1);
    /* A multi-byte piece matches as one. */
    EXPECT(tok, "caf\xc3\xa9", 20, 1);
    /* Full-width letters and the ideographic space become ASCII (ftfy's width fix). */
    EXPECT(tok, "\xef\xbd\x88\xef\xbd\x85\xef\xbd\x8c\xef\xbd\x8c\xef\xbd\x8f\xe3\x80\x80\xef\xbd\x97\xef\xbd\x8f"
                "\xef\xbd\x92\xef\xbd\x8c\xef\xbd\x84",
           4, 5, 6, 1);
    /* HTML unescaped twice: "&amp;amp;" -> "&", which is unknown. */
    EXPECT(tok, "hello &amp;amp; world", 4, 3, 2, 5, 6, 1);
    /* Special tokens are not matched inside text. */
    EXPECT(tok, "</s>", 3, 2, 1);
    /* Control characters are removed (ftfy), curly quotes straightened: "’" is unknown as "'" is. */
    EXPECT(tok, "hel\x01lo", 4, 1);
    EXPECT(tok, "hello \xe2\x80\x99 world", 4, 3, 2, 5, 6, 1);
    EXPECT(tok, "", 1);
    EXPECT(tok, "  \t ", 1);
    /* What the segmentation sees: '▁' prefix and separators, spaces collapsed, ftfy's fixes applied. */
    char *norm = NULL;
    CHECK_OK(lavr_tokenizer_normalize(tok, "  h\xef\xac\x81   \xe2\x80\x9cw\xe2\x80\x9d\t", &norm));
    CHECK_MSG(norm && strcmp(norm, "\xe2\x96\x81hfi\xe2\x96\x81\"w\"") == 0, "normalised \"%s\"", norm ? norm : "");
    free(norm);
}

static void test_truncation(const lavr_tokenizer *tok) {
    size_t len = 600 * 6;
    char *text = malloc(len + 1);
    for (int i = 0; i < 600; i++) memcpy(text + 6 * i, "hello ", 6);
    text[len] = 0;
    int64_t ids[LAVR_TEXT_LEN], n = 0;
    CHECK_OK(lavr_tokenizer_encode(tok, text, LAVR_TEXT_LEN, ids, &n));
    CHECK(n == LAVR_TEXT_LEN);
    int all_hello = 1;
    for (int64_t i = 0; i + 1 < n; i++) all_hello &= ids[i] == 4;
    CHECK(all_hello && ids[n - 1] == 1);
    static const int64_t three[] = {4, 4, 1}, one[] = {1};
    expect_ids(tok, text, 3, three, 3);
    expect_ids(tok, text, 1, one, 1);
    free(text);
    CHECK_FAILS(lavr_tokenizer_encode(tok, "hello", 0, ids, &n), LAVR_E_ARG);
}

static void expect_clean(const char *in, const char *want) {
    char *out = NULL;
    CHECK_OK(lavr_text_clean(in, &out));
    CHECK_MSG(out && strcmp(out, want) == 0, "clean(\"%s\") = \"%s\", expected \"%s\"", in, out ? out : "", want);
    free(out);
}

/* Expected values are what Python's html.unescape(html.unescape(s)) returns, then whitespace_clean. */
static void test_clean(void) {
    expect_clean("a&amp;lt;b", "a<b");
    expect_clean("&#128;", "\xe2\x82\xac");  /* C1 reference read as Windows-1252: € */
    expect_clean("&#x41;&#66", "AB");
    expect_clean("&ampfoo", "&foo");          /* legacy entity without ';' */
    expect_clean("&apos", "&apos");           /* apos needs its ';' */
    expect_clean("&#0;", "\xef\xbf\xbd");
    expect_clean("&nosuch;", "&nosuch;");
    expect_clean("&#1;x", "x");               /* control reference dropped */
    expect_clean("&#xD800;", "\xef\xbf\xbd");
    expect_clean("&copy2", "\xc2\xa9" "2");
    expect_clean("&eacute;t&eacute", "\xc3\xa9t\xc3\xa9");
    expect_clean("&#99999999999;", "\xef\xbf\xbd");
    expect_clean(" \xc2\xa0 a \xe2\x80\x83\n b\xe3\x80\x80", "a b"); /* NBSP, em space, ideographic space */
    expect_clean("&amp;nbsp;x", "x");         /* the second pass yields NBSP, which is whitespace */

    expect_clean("&lang;x&rang; &NotEqualTilde; &fjlig;", "\xe2\x9f\xa8x\xe2\x9f\xa9 \xe2\x89\x82\xcc\xb8 fj");
    expect_clean("&notit; &notin &noti", "\xc2\xacit; \xc2\xacin \xc2\xaci"); /* longest legacy prefix ("notin;" needs its ';') */
    char *out = NULL;
    CHECK_FAILS(lavr_text_clean("bad \xff byte", &out), LAVR_E_ARG);
    CHECK_FAILS(lavr_text_clean("cut \xe2\x96", &out), LAVR_E_ARG);
    CHECK(out == NULL);
}

static void expect_ftfy(const char *in, const char *want) {
    char *out = NULL;
    CHECK_OK(lavr_text_ftfy(in, &out));
    CHECK_MSG(out && strcmp(out, want) == 0, "ftfy(\"%s\") = \"%s\", expected \"%s\"", in, out ? out : "", want);
    free(out);
}

/* Expected values are what ftfy.fix_text (6.x, defaults) returns for these inputs (its fixers worked
 * through by hand; none of them triggers its mojibake or NFC steps). */
static void test_ftfy(void) {
    expect_ftfy("\xe2\x80\x9c" "a\xe2\x80\x9d \xe2\x80\x98" "b\xe2\x80\x99 \xe2\x80\x9e\xe2\x80\x9b", "\"a\" 'b' \"'");
    expect_ftfy("\xef\xac\x81 \xef\xac\x83 \xc4\xb3 \xc7\x86", "fi ffi ij d\xc5\xbe");
    expect_ftfy("\xc5\x89", "'n"); /* ŉ -> ʼn, whose ʼ is then uncurled */
    expect_ftfy("\xef\xbc\xa1\xef\xbd\x82\xe3\x80\x80\xef\xbd\xb6\xef\xbf\xa5", "Ab \xe3\x82\xab\xc2\xa5");
    expect_ftfy("a\x01" "b\x7f\xef\xbb\xbf" "c\x1b[1;31md\x1b[0m", "abcd");
    expect_ftfy("a\r\nb\rc\xe2\x80\xa8", "a\nb\nc\n");
    expect_ftfy("\xc2\x93q\xc2\x94 \xc2\x81", "\"q\" \xc2\x81"); /* C1 as Windows-1252, then uncurled */
    expect_ftfy("&amp;amp;amp; &EACUTE; &Eacute; &#39;x&#39; &#59; &#x4e00;", "& \xc3\x89 \xc3\x89 'x' &#59; \xe4\xb8\x80");
    expect_ftfy("&ldquo;q&rdquo;", "\"q\""); /* unescaped, then uncurled in the next round */
    expect_ftfy("&amp;\n<b>&amp;\n&amp;", "&\n<b>&amp;\n&amp;"); /* no unescaping from the first '<' on */
    expect_ftfy("&amp &nosuch; &#xZZ; &#12ab;", "&amp &nosuch; &#xZZ; &#12ab;");
    /* NFC (unicodedata.normalize): composed, reordered (dot below, class 220, before acute, 230), singleton
     * Angstrom sign, Hangul jamo, an excluded composite (U+0958) kept decomposed, a lone mark kept */
    expect_ftfy("e\xcc\x81 e\xcc\x81\xcc\xa3 \xe2\x84\xab \xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab \xe0\xa5\x98 \xcc\x81",
                "\xc3\xa9 \xe1\xba\xb9\xcc\x81 \xc3\x85 \xed\x95\x9c \xe0\xa4\x95\xe0\xa4\xbc \xcc\x81");
}

static void test_errors(void) {
    lavr_tokenizer *tok = NULL;
    CHECK_FAILS(lavr_tokenizer_from_json("{\"model\":{\"type\":\"BPE\",\"vocab\":{}}}", &tok), LAVR_E_FORMAT);
    CHECK(strstr(lavr_error_message(), "BPE") != NULL);
    CHECK_FAILS(lavr_tokenizer_from_json("{\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0]]}}", &tok),
                LAVR_E_FORMAT); /* no </s> */
    CHECK_FAILS(lavr_tokenizer_load("/nonexistent/tokenizer.json", &tok), LAVR_E_IO);
    CHECK(tok == NULL);
}

/* Protobuf writers for a hand-built spiece.model (ModelProto: field 1 pieces, field 3 normalizer spec). */
static size_t put_varint(unsigned char *b, uint64_t v) {
    size_t n = 0;
    do {
        b[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

static size_t put_piece(unsigned char *b, const char *piece, float score, int type) {
    unsigned char msg[64];
    size_t m = 0, len = strlen(piece), n = 0;
    msg[m++] = 0x0a; /* field 1, bytes */
    m += put_varint(msg + m, len);
    memcpy(msg + m, piece, len), m += len;
    msg[m++] = 0x15; /* field 2, fixed32 */
    uint32_t bits;
    memcpy(&bits, &score, 4);
    for (int k = 0; k < 4; k++) msg[m++] = (unsigned char)(bits >> (8 * k));
    msg[m++] = 0x18; /* field 3, varint */
    m += put_varint(msg + m, (uint64_t)type);
    b[n++] = 0x0a;
    n += put_varint(b + n, m);
    memcpy(b + n, msg, m);
    return n + m;
}

static void test_spiece_model(const char *dir) {
    unsigned char model[512];
    size_t n = 0;
    n += put_piece(model + n, "<pad>", 0, 3);
    n += put_piece(model + n, "</s>", 0, 3);
    n += put_piece(model + n, "<unk>", 0, 2);
    n += put_piece(model + n, "\xe2\x96\x81", -2, 1);
    n += put_piece(model + n, "\xe2\x96\x81hello", -1, 1);
    n += put_piece(model + n, "\xe2\x96\x81wor", -2, 1);
    n += put_piece(model + n, "ld", -2.5f, 1);
    n += put_piece(model + n, "\xe2\x96\x81world", -5, 1);
    /* NormalizerSpec: name "identity", an empty charsmap, add_dummy_prefix 1 */
    static const unsigned char normalizer[] = {0x1a, 0x0e, 0x0a, 0x08, 'i', 'd', 'e', 'n', 't', 'i', 't', 'y',
                                               0x12, 0x00, 0x18, 0x01};
    memcpy(model + n, normalizer, sizeof normalizer), n += sizeof normalizer;
    char path[1024];
    snprintf(path, sizeof path, "%s/test_tokenizer_spiece.model", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(model, 1, n, f) == n);
    fclose(f);
    lavr_tokenizer *tok = NULL;
    CHECK_OK(lavr_tokenizer_load(path, &tok));
    if (tok) {
        CHECK(lavr_tokenizer_vocab_size(tok) == 8 && lavr_tokenizer_unk_id(tok) == 2 && lavr_tokenizer_eos_id(tok) == 1);
        CHECK(lavr_tokenizer_charsmap_units(tok) == 0);
        EXPECT(tok, "hello world", 4, 5, 6, 1);
        EXPECT(tok, "</s> hello", 3, 2, 4, 1); /* control pieces are not matched in text */
    }
    lavr_tokenizer_destroy(tok);
    /* A truncated model is a format error, not a crash. */
    f = fopen(path, "wb");
    if (f) {
        fwrite(model, 1, 20, f);
        fclose(f);
        tok = NULL;
        CHECK_FAILS(lavr_tokenizer_load(path, &tok), LAVR_E_FORMAT);
        CHECK(tok == NULL);
    }
    remove(path);
}

int main(void) {
    lavr_tokenizer *tok = NULL;
    CHECK_OK(lavr_tokenizer_from_json(vocab_json, &tok));
    if (tok) {
        test_segmentation(tok);
        test_truncation(tok);
    }
    lavr_tokenizer_destroy(tok);
    test_clean();
    test_ftfy();
    test_errors();
    /* a charsmap too short to hold its trie is a format error */
    lavr_tokenizer *bad = NULL;
    const char *at = strstr(vocab_json, "\"precompiled_charsmap\":\"\"");
    CHECK(at != NULL);
    if (at) {
        size_t head = (size_t)(at - vocab_json) + strlen("\"precompiled_charsmap\":\""), len = strlen(vocab_json);
        char *json = malloc(len + 8);
        memcpy(json, vocab_json, head);
        memcpy(json + head, "AAEC", 4);
        memcpy(json + head + 4, vocab_json + head, len - head + 1);
        CHECK_FAILS(lavr_tokenizer_from_json(json, &bad), LAVR_E_FORMAT);
        CHECK(strstr(lavr_error_message(), "charsmap") != NULL);
        free(json);
    }

    /* The same vocabulary through a file. */
    const char *tmp = getenv("LAVR_TEST_TMP");
    char path[1024];
    snprintf(path, sizeof path, "%s/test_tokenizer.json", tmp ? tmp : "/tmp");
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs(vocab_json, f);
        fclose(f);
        tok = NULL;
        CHECK_OK(lavr_tokenizer_load(path, &tok));
        if (tok) EXPECT(tok, "hello world", 4, 5, 6, 1);
        lavr_tokenizer_destroy(tok);
        remove(path);
    }
    test_spiece_model(tmp ? tmp : "/tmp");
    return check_summary("test_tokenizer");
}
