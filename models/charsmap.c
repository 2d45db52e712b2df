/* SentencePiece normalisation (models/charsmap.h), written by hand: the charsmap is a darts-clone
 * double array, and Debian has no C library that reads one (libsentencepiece and darts-clone are C++,
 * and the runtime stays C). Unit layout as darts-clone defines it: bit 8 has_leaf, bit 9 selects an
 * offset shift of 8, bits 10.. the offset, label = bits 0-7 plus bit 31 (set on value units), value =
 * bits 0-30. A search walks one byte at a time and reports every prefix that ends on a leaf (at most 32,
 * SentencePiece's kMaxTrieResultsSize); the longest wins; no match copies one UTF-8 character. */
#include "models/charsmap.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TRIE_RESULTS 32
#define SPACE_SYMBOL "\xe2\x96\x81" /* '▁' */

struct lavr_charsmap {
    uint32_t *units;
    int64_t n_units;
    char *pool; /* replacements, each NUL-terminated */
    int64_t pool_size;
};

lavr_status lavr_charsmap_create(const uint8_t *blob, int64_t size, lavr_charsmap **out) {
    CHECK_ARG(blob && out, "lavr_charsmap_create: NULL argument");
    *out = NULL;
    if (size <= 4) return LAVR_FAIL(LAVR_E_FORMAT, "precompiled charsmap of %lld bytes is too short", (long long)size);
    uint32_t trie_bytes = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 | (uint32_t)blob[3] << 24;
    if ((int64_t)trie_bytes >= size - 4 || trie_bytes % 4 != 0 || trie_bytes == 0)
        return LAVR_FAIL(LAVR_E_FORMAT, "precompiled charsmap: trie of %u bytes does not fit a blob of %lld bytes",
                         trie_bytes, (long long)size);
    lavr_charsmap *cm = calloc(1, sizeof *cm);
    if (!cm) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the charsmap");
    cm->n_units = trie_bytes / 4;
    cm->pool_size = size - 4 - trie_bytes;
    cm->units = malloc((size_t)cm->n_units * sizeof *cm->units);
    cm->pool = malloc((size_t)cm->pool_size + 1);
    if (!cm->units || !cm->pool) {
        lavr_charsmap_destroy(cm);
        return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for a charsmap of %lld bytes", (long long)size);
    }
    const uint8_t *u = blob + 4;
    for (int64_t i = 0; i < cm->n_units; i++)
        cm->units[i] = (uint32_t)u[4 * i] | (uint32_t)u[4 * i + 1] << 8 | (uint32_t)u[4 * i + 2] << 16 |
                       (uint32_t)u[4 * i + 3] << 24;
    memcpy(cm->pool, blob + 4 + trie_bytes, (size_t)cm->pool_size);
    cm->pool[cm->pool_size] = 0; /* a last replacement without its NUL ends at the pool's end */
    *out = cm;
    return LAVR_OK;
}

void lavr_charsmap_destroy(lavr_charsmap *cm) {
    if (!cm) return;
    free(cm->units), free(cm->pool), free(cm);
}

int64_t lavr_charsmap_rules(const lavr_charsmap *cm) { return cm ? cm->n_units : 0; }

static uint32_t unit_offset(uint32_t unit) { return (unit >> 10) << ((unit & (1u << 9)) >> 6); }
static uint32_t unit_label(uint32_t unit) { return unit & ((1u << 31) | 0xffu); }
static int unit_has_leaf(uint32_t unit) { return (unit >> 8) & 1; }
static uint32_t unit_value(uint32_t unit) { return unit & ((1u << 31) - 1); }

/* Longest key that prefixes s[0..n) (darts-clone commonPrefixSearch, first 32 results): its length,
 * 0 for none; *value is the pool offset of its replacement. -1 when the trie leads outside itself. */
static int64_t longest_prefix(const lavr_charsmap *cm, const unsigned char *s, size_t n, uint32_t *value) {
    int64_t best = 0;
    int results = 0;
    uint64_t id = unit_offset(cm->units[0]);
    for (size_t i = 0; i < n; i++) {
        id ^= s[i];
        if (id >= (uint64_t)cm->n_units) return -1;
        uint32_t unit = cm->units[id];
        if (unit_label(unit) != s[i]) break;
        id ^= unit_offset(unit);
        if (!unit_has_leaf(unit)) continue;
        if (id >= (uint64_t)cm->n_units) return -1;
        if (results++ < MAX_TRIE_RESULTS) best = (int64_t)i + 1, *value = unit_value(cm->units[id]);
    }
    return best;
}

static size_t utf8_len(unsigned char lead) {
    return lead < 0x80 ? 1 : (lead & 0xe0) == 0xc0 ? 2 : (lead & 0xf0) == 0xe0 ? 3 : (lead & 0xf8) == 0xf0 ? 4 : 1;
}

/* Normalizer::NormalizePrefix: a protected piece as it is, else the replacement of the longest rule at
 * in[0..n), else the first character. */
static lavr_status normalize_prefix(const lavr_charsmap *cm, const lavr_sp_spec *spec, const char *in, size_t n,
                                    const char **rep, size_t *rep_n, size_t *consumed) {
    size_t kept = spec->protected_prefix ? spec->protected_prefix(spec->ctx, in, n) : 0;
    if (kept > 0) {
        *rep = in, *rep_n = *consumed = kept;
        return LAVR_OK;
    }
    uint32_t value = 0;
    int64_t len = cm ? longest_prefix(cm, (const unsigned char *)in, n, &value) : 0;
    if (len < 0) return LAVR_FAIL(LAVR_E_FORMAT, "precompiled charsmap is corrupt (a trie link leads outside it)");
    if (len == 0) {
        size_t c = utf8_len((unsigned char)in[0]);
        *rep = in, *rep_n = c < n ? c : n, *consumed = *rep_n;
        return LAVR_OK;
    }
    if ((int64_t)value >= cm->pool_size)
        return LAVR_FAIL(LAVR_E_FORMAT, "precompiled charsmap is corrupt (replacement %u outside a pool of %lld bytes)",
                         value, (long long)cm->pool_size);
    *rep = cm->pool + value, *rep_n = strlen(cm->pool + value), *consumed = (size_t)len;
    return LAVR_OK;
}

typedef struct {
    char *s;
    size_t n, cap;
} byte_buf;

static lavr_status put_bytes(byte_buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *grown = realloc(b->s, cap);
        if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for normalised text of %zu bytes", cap);
        b->s = grown, b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
    return LAVR_OK;
}

static lavr_status normalize(const lavr_charsmap *cm, const lavr_sp_spec *spec, const char *in, size_t n,
                             byte_buf *out) {
    const char *space = spec->escape_whitespaces ? SPACE_SYMBOL : " ";
    const size_t space_n = strlen(space);
    const char *rep;
    size_t rep_n, used, pos = 0;
    TRY(put_bytes(out, "", 0));
    if (spec->remove_extra_whitespaces) /* leading characters that normalise to one space */
        while (pos < n) {
            TRY(normalize_prefix(cm, spec, in + pos, n - pos, &rep, &rep_n, &used));
            if (rep_n != 1 || rep[0] != ' ') break;
            pos += used;
        }
    if (pos == n) return LAVR_OK;
    if (spec->add_dummy_prefix) TRY(put_bytes(out, space, space_n));
    int prev_space = spec->remove_extra_whitespaces;
    while (pos < n) {
        TRY(normalize_prefix(cm, spec, in + pos, n - pos, &rep, &rep_n, &used));
        while (prev_space && rep_n > 0 && rep[0] == ' ') rep++, rep_n--;
        if (rep_n > 0) {
            for (size_t k = 0; k < rep_n; k++)
                TRY(rep[k] == ' ' ? put_bytes(out, space, space_n) : put_bytes(out, rep + k, 1));
            prev_space = rep[rep_n - 1] == ' ';
        }
        pos += used;
        if (!spec->remove_extra_whitespaces) prev_space = 0;
    }
    if (spec->remove_extra_whitespaces)
        while (out->n >= space_n && memcmp(out->s + out->n - space_n, space, space_n) == 0) out->s[out->n -= space_n] = 0;
    return LAVR_OK;
}

lavr_status lavr_sp_normalize(const lavr_charsmap *cm, const lavr_sp_spec *spec, const char *in, size_t n, char **out,
                              size_t *out_n) {
    CHECK_ARG(spec && in && out && out_n, "lavr_sp_normalize: NULL argument");
    byte_buf b = {0};
    lavr_status st = normalize(cm, spec, in, n, &b);
    if (st) {
        free(b.s);
        return st;
    }
    *out = b.s, *out_n = b.n;
    return LAVR_OK;
}
