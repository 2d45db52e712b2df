/* The synthetic unigram tokenizer.json that `lavr init --config tiny` stores in the model file: umT5's
 * special ids and a small English vocabulary with made-up but deterministic log-probability scores. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/tokenizer.h"

#define WORD_PREFIX "\xe2\x96\x81" /* '▁' */

/* Frequent English words (and a few prompt words), most frequent first: the earlier, the higher
 * the score. Each becomes the piece '▁word'. */
static const char *const words[] = {
    "the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "he", "was", "for", "on", "are", "with", "as",
    "I", "his", "they", "be", "at", "one", "have", "this", "from", "or", "had", "by", "not", "word", "but", "what",
    "some", "we", "can", "out", "other", "were", "all", "there", "when", "up", "use", "your", "how", "said", "an",
    "each", "she", "which", "do", "their", "time", "if", "will", "way", "about", "many", "then", "them", "write",
    "would", "like", "so", "these", "her", "long", "make", "thing", "see", "him", "two", "has", "look", "more", "day",
    "could", "go", "come", "did", "number", "sound", "no", "most", "people", "my", "over", "know", "water", "than",
    "call", "first", "who", "may", "down", "side", "been", "now", "find", "any", "new", "work", "part", "take", "get",
    "place", "made", "live", "where", "after", "back", "little", "only", "round", "man", "year", "came", "show",
    "every", "good", "me", "give", "our", "under", "name", "very", "through", "just", "form", "sentence", "great",
    "think", "say", "help", "low", "line", "differ", "turn", "cause", "much", "mean", "before", "move", "right",
    "boy", "old", "too", "same", "tell", "does", "set", "three", "want", "air", "well", "also", "play", "small",
    "end", "put", "home", "read", "hand", "large", "add", "even", "land", "here", "must", "big", "high", "such",
    "follow", "act", "why", "ask", "men", "change", "went", "light", "kind", "off", "need", "house", "picture",
    "try", "us", "again", "animal", "point", "mother", "world", "near", "build", "self", "earth", "father", "head",
    "stand", "own", "page", "should", "country", "found", "answer", "school", "grow", "study", "still", "learn",
    "plant", "cover", "food", "sun", "four", "between", "state", "keep", "eye", "never", "last", "let", "thought",
    "city", "tree", "cross", "farm", "hard", "start", "might", "story", "saw", "far", "sea", "draw", "left", "late",
    "run", "while", "press", "close", "night", "real", "life", "few", "north", "hello", "woman", "person", "face",
    "hair", "eyes", "mouth", "smile", "smiling", "talking", "speaking", "looking", "camera", "portrait", "video",
    "background", "soft", "warm", "natural", "lighting", "shirt", "dark", "bright", "calm", "voice", "avatar",
    "frame", "block", "rendered", "synthetic", "am",
};
/* Endings that join a word piece ("▁walk" + "ed"); never single letters (those come below). */
static const char *const endings[] = {"ing", "ed", "er", "ly", "es", "est", "ion", "tion", "ness", "ment", "'s",
                                      "n't", "'re", "'ll", "'ve", "'m", "al", "ful", "less", "able"};
static const char punctuation[] = ".,!?'\"-:;()/&%+=*#@[]_";

typedef struct {
    char *text;
    size_t len, cap;
    int failed;
} strbuf;

static void put(strbuf *b, const char *s) {
    size_t n = strlen(s);
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *grown = realloc(b->text, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->text = grown, b->cap = cap;
    }
    memcpy(b->text + b->len, s, n + 1);
    b->len += n;
}

/* A JSON string of a piece (only '"' and '\\' occur and need escaping). */
static void put_json_string(strbuf *b, const char *s) {
    put(b, "\"");
    for (char one[2] = {0}; *s; s++) {
        if (*s == '"' || *s == '\\') put(b, "\\");
        one[0] = *s;
        put(b, one);
    }
    put(b, "\"");
}

typedef struct {
    char piece[64];
    double score;
    int special;
} entry;

lavr_status lavr_tokenizer_tiny_json(int64_t vocab_size, char **out) {
    enum { SPECIALS = 3 };
    const int64_t n_words = (int64_t)(sizeof words / sizeof words[0]);
    const int64_t n_endings = (int64_t)(sizeof endings / sizeof endings[0]);
    const int64_t n_punct = (int64_t)strlen(punctuation);
    /* every ASCII word must be spellable: specials, '▁', punctuation, letters and digits */
    const int64_t minimum = SPECIALS + 1 + n_punct + 52 + 10;
    CHECK_ARG(vocab_size >= minimum && vocab_size <= 1000000,
              "a synthetic tokenizer needs a vocabulary of %lld to 1000000 ids, got %lld", (long long)minimum,
              (long long)vocab_size);
    entry *e = calloc((size_t)vocab_size, sizeof *e);
    if (!e) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for a %lld-piece tokenizer", (long long)vocab_size);
    int64_t n = 0;
    /* umT5's ids: pad 0, eos 1, unk 2 */
    snprintf(e[n].piece, sizeof e[n].piece, "<pad>"), e[n++].special = 1;
    snprintf(e[n].piece, sizeof e[n].piece, "</s>"), e[n++].special = 1;
    snprintf(e[n].piece, sizeof e[n].piece, "<unk>"), e[n++].special = 1;
    snprintf(e[n].piece, sizeof e[n].piece, WORD_PREFIX), e[n++].score = -2.0;
    for (int64_t i = 0; i < n_punct; i++, n++)
        snprintf(e[n].piece, sizeof e[n].piece, "%c", punctuation[i]), e[n].score = -4.0 - 0.01 * (double)i;
    for (int64_t i = 0; i < 26; i++, n++)
        snprintf(e[n].piece, sizeof e[n].piece, "%c", (char)('a' + i)), e[n].score = -9.0 - 0.01 * (double)i;
    for (int64_t i = 0; i < 26; i++, n++)
        snprintf(e[n].piece, sizeof e[n].piece, "%c", (char)('A' + i)), e[n].score = -10.0 - 0.01 * (double)i;
    for (int64_t i = 0; i < 10; i++, n++)
        snprintf(e[n].piece, sizeof e[n].piece, "%c", (char)('0' + i)), e[n].score = -9.5 - 0.01 * (double)i;
    /* then words and endings while room remains; the rest are T5-style <extra_id_k> (k = 0 is the last id) */
    for (int64_t i = 0; i < n_words && n < vocab_size; i++, n++)
        snprintf(e[n].piece, sizeof e[n].piece, WORD_PREFIX "%s", words[i]), e[n].score = -5.0 - 0.01 * (double)i;
    for (int64_t i = 0; i < n_endings && n < vocab_size; i++, n++)
        snprintf(e[n].piece, sizeof e[n].piece, "%s", endings[i]), e[n].score = -7.0 - 0.01 * (double)i;
    for (int64_t k = 0; n < vocab_size; k++, n++)
        snprintf(e[vocab_size - 1 - k].piece, sizeof e[0].piece, "<extra_id_%lld>", (long long)k),
            e[vocab_size - 1 - k].special = 1;

    strbuf b = {0};
    char num[64];
    put(&b, "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[");
    int first = 1;
    for (int64_t id = 0; id < vocab_size; id++) {
        if (!e[id].special) continue;
        snprintf(num, sizeof num, "%s{\"id\":%lld,\"content\":", first ? "" : ",", (long long)id);
        put(&b, num);
        put_json_string(&b, e[id].piece);
        put(&b, ",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}");
        first = 0;
    }
    put(&b, "],\"normalizer\":null,"
            "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"" WORD_PREFIX "\",\"prepend_scheme\":\"always\","
            "\"split\":true},"
            "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
            "{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}],\"pair\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
            "{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"B\",\"type_id\":0}},"
            "{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}],\"special_tokens\":{\"</s>\":{\"id\":\"</s>\","
            "\"ids\":[1],\"tokens\":[\"</s>\"]}}},"
            "\"decoder\":{\"type\":\"Metaspace\",\"replacement\":\"" WORD_PREFIX "\",\"prepend_scheme\":\"always\","
            "\"split\":true},"
            "\"model\":{\"type\":\"Unigram\",\"unk_id\":2,\"vocab\":[");
    for (int64_t id = 0; id < vocab_size; id++) {
        put(&b, id ? ",[" : "[");
        put_json_string(&b, e[id].piece);
        snprintf(num, sizeof num, ",%.2f]", e[id].score);
        put(&b, num);
    }
    put(&b, "],\"byte_fallback\":false}}\n");
    free(e);
    if (b.failed) {
        free(b.text);
        return LAVR_FAIL(LAVR_E_NOMEM, "out of memory writing the synthetic tokenizer");
    }
    *out = b.text;
    return LAVR_OK;
}
