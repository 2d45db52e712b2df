/* SentencePiece's text normaliser: the precompiled charsmap (a darts-clone double-array trie of UTF-8
 * keys and a pool of replacement strings) applied by longest match, plus its whitespace handling. */
#ifndef LAVR_MODELS_CHARSMAP_H
#define LAVR_MODELS_CHARSMAP_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct lavr_charsmap lavr_charsmap;

/* NormalizerSpec's switches (all on by default, as in SentencePiece and umT5), and the text the charsmap
 * must not touch: SentencePiece copies a user-defined piece that starts at the position as it is. */
typedef struct {
    int add_dummy_prefix;         /* a '▁' before the text */
    int remove_extra_whitespaces; /* leading, trailing and repeated spaces removed */
    int escape_whitespaces;       /* ' ' written as '▁' (U+2581) */
    /* bytes of the longest protected piece that prefixes s[0..n), 0 for none; NULL: nothing protected */
    size_t (*protected_prefix)(const void *ctx, const char *s, size_t n);
    const void *ctx;
} lavr_sp_spec;

/* The blob as stored (spiece.model's normalizer_spec.precompiled_charsmap, or tokenizer.json's base64
 * "precompiled_charsmap"): <uint32 LE trie bytes><trie units><NUL-terminated replacements>. Copied. */
lavr_status lavr_charsmap_create(const uint8_t *blob, int64_t size, lavr_charsmap **out);
void lavr_charsmap_destroy(lavr_charsmap *cm);
int64_t lavr_charsmap_rules(const lavr_charsmap *cm); /* trie units, for messages and tests */

/* SentencePiece's Normalizer::Normalize on UTF-8 text in[0..n): cm NULL is the identity rule set. *out is
 * malloc'd and 0-terminated, *out_n its length. A replacement outside the pool is a LAVR_E_FORMAT error. */
lavr_status lavr_sp_normalize(const lavr_charsmap *cm, const lavr_sp_spec *spec, const char *in, size_t n, char **out,
                              size_t *out_n);

#endif
