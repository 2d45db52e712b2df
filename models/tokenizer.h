/* Text -> umT5 token ids: Wan's prompt cleaning (ftfy's deterministic fixes, HTML unescape twice, whitespace
 * collapse), SentencePiece's normalisation with the file's precompiled charsmap, unigram Viterbi (spec §4). */
#ifndef LAVR_MODELS_TOKENIZER_H
#define LAVR_MODELS_TOKENIZER_H

#include <stdint.h>

#include "core/status.h"
#include "io/h5model.h"

#define LAVR_TEXT_LEN 512 /* umT5 text_len: ids per prompt, EOS included */

typedef struct lavr_tokenizer lavr_tokenizer;

/* Loads a Hugging Face tokenizer.json whose model is "Unigram" (vocab of [piece, score], unk_id) or a
 * SentencePiece spiece.model (protobuf; told apart by content). Special tokens (added_tokens marked
 * special; control, unused and byte pieces) are never matched inside text. */
lavr_status lavr_tokenizer_load(const char *path, lavr_tokenizer **out);
lavr_status lavr_tokenizer_from_json(const char *json_text, lavr_tokenizer **out);
/* The same from bytes in memory (tokenizer.json text or a serialized spiece.model, told apart by content). */
lavr_status lavr_tokenizer_from_bytes(const uint8_t *data, int64_t size, lavr_tokenizer **out);

/* Inside a model file: dataset /tokenizer/data holds the file's bytes (uint8) and its string attribute
 * `kind` says which format they are ("tokenizer.json" or "spiece.model"; it must agree with the content). */
#define LAVR_TOKENIZER_DATASET "/tokenizer/data"
#define LAVR_TOKENIZER_KIND_JSON "tokenizer.json"
#define LAVR_TOKENIZER_KIND_SPIECE "spiece.model"
lavr_status lavr_tokenizer_store(lavr_h5file *f, const char *kind, const uint8_t *data, int64_t size);
/* A file without one is a LAVR_E_FORMAT error that says how to get one. */
lavr_status lavr_tokenizer_from_model(lavr_h5file *f, lavr_tokenizer **out);
/* The synthetic tokenizer.json of the tiny preset (models/tokenizer_tiny.c): pad 0, eos 1, unk 2 as in
 * umT5, then '▁' (score -2), punctuation (-4 - 0.01 i), letters a-z (-9 - 0.01 i), A-Z (-10 - 0.01 i),
 * digits (-9.5 - 0.01 i), '▁'-prefixed common English words by frequency (-5 - 0.01 i), word endings
 * such as "ing", "ed", "'s" (-7 - 0.01 i), and the remaining ids <extra_id_k> (special, k = 0 last) as
 * T5 has. Any ASCII text is spellable. *out is malloc'd JSON text (caller frees). */
lavr_status lavr_tokenizer_tiny_json(int64_t vocab_size, char **out);
void lavr_tokenizer_destroy(lavr_tokenizer *tok);

int64_t lavr_tokenizer_vocab_size(const lavr_tokenizer *tok);
int64_t lavr_tokenizer_unk_id(const lavr_tokenizer *tok);
int64_t lavr_tokenizer_eos_id(const lavr_tokenizer *tok);
/* The piece of an id (UTF-8, '▁' for spaces), or NULL outside the vocabulary. */
const char *lavr_tokenizer_piece(const lavr_tokenizer *tok, int64_t id);
/* Units of the precompiled charsmap's trie (0: none, the text is only cleaned and its spaces handled). */
int64_t lavr_tokenizer_charsmap_units(const lavr_tokenizer *tok);

/* Whole pipeline: clean, normalise, segment, then EOS. At most max_len ids are written (the text is
 * cut to max_len - 1 pieces before the EOS, as HF truncation with max_length does); *n receives the count. */
lavr_status lavr_tokenizer_encode(const lavr_tokenizer *tok, const char *text, int64_t max_len, int64_t *ids,
                                  int64_t *n);
/* The same, and *total (if not NULL) receives the count before the cut (EOS included). */
lavr_status lavr_tokenizer_encode_counted(const lavr_tokenizer *tok, const char *text, int64_t max_len, int64_t *ids,
                                          int64_t *n, int64_t *total);
/* The text the segmentation sees: cleaned (models/prompt_clean.h) and normalised by SentencePiece's rules
 * with the charsmap ('▁' for spaces, the dummy prefix included). Input must be valid UTF-8 (else LAVR_E_ARG);
 * *out is malloc'd (caller frees). */
lavr_status lavr_tokenizer_normalize(const lavr_tokenizer *tok, const char *text, char **out);

#endif
