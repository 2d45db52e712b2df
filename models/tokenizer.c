/* SentencePiece-unigram tokenizer read from a Hugging Face tokenizer.json or a spiece.model: Wan's prompt
 * cleaning (models/prompt_clean.c), SentencePiece's normalisation with the file's precompiled charsmap
 * (models/charsmap.c), then unigram Viterbi over the whole normalised text as SentencePiece's
 * EncodeOptimized runs it. Pieces are matched on UTF-8 bytes through a hash table.
 * The two formats keep their own arithmetic: spiece.model scores are summed in float with the unknown
 * score min(NORMAL piece scores) - 10 (SentencePiece), tokenizer.json ones in double with min(all) - 10
 * (Hugging Face tokenizers). A spiece.model's user-defined pieces are kept out of normalisation and score
 * length * max(FLT_MIN, NORMAL scores) - 0.1, in SentencePiece's mixed float/double. With byte fallback (TrainerSpec.byte_fallback,
 * tokenizer.json's "byte_fallback") an unknown character is written as the pieces of its UTF-8 bytes. */
#include "models/tokenizer.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/json.h"
#include "models/charsmap.h"
#include "models/codepoints.h"
#include "models/prompt_clean.h"

#define UNK_PENALTY 10.0 /* unknown characters score min(piece score) - 10, as SentencePiece and HF do */

/* SentencePiece's piece types (ModelProto.SentencePiece.Type) */
enum { SP_NORMAL = 1, SP_UNKNOWN = 2, SP_CONTROL = 3, SP_USER_DEFINED = 4, SP_UNUSED = 5, SP_BYTE = 6 };

struct lavr_tokenizer {
    int64_t n_pieces;
    char **pieces;       /* UTF-8 */
    int64_t *piece_len;  /* bytes */
    double *scores;
    unsigned char *matchable; /* 0 for special tokens (never matched inside text) */
    unsigned char *type;      /* spiece.model piece type (SP_NORMAL, ...); SP_NORMAL for tokenizer.json */
    int64_t *slots;      /* open-addressing hash of piece -> id + 1 (0 = empty) */
    int64_t n_slots;
    int64_t max_piece_bytes;
    int64_t unk_id, eos_id;
    double unk_score;
    float max_score;         /* spiece.model: max(FLT_MIN, NORMAL scores), for user-defined pieces */
    int64_t max_user_bytes;  /* longest user-defined piece (0: none) */
    int float_scores;    /* spiece.model: SentencePiece's float lattice */
    int byte_fallback;   /* an unknown character becomes its UTF-8 bytes' pieces <0xHH> */
    int64_t byte_ids[256]; /* -1 where the vocabulary lacks the byte's piece */
    lavr_charsmap *charsmap; /* NULL: identity */
    lavr_sp_spec spec;
};

/* ---- vocabulary -------------------------------------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, int64_t len) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int64_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int64_t lookup_piece(const lavr_tokenizer *t, const char *s, int64_t len) {
    uint64_t mask = (uint64_t)t->n_slots - 1;
    for (uint64_t h = hash_bytes(s, len) & mask;; h = (h + 1) & mask) {
        int64_t id = t->slots[h] - 1;
        if (id < 0) return -1;
        if (t->piece_len[id] == len && memcmp(t->pieces[id], s, (size_t)len) == 0) return id;
    }
}

static lavr_status build_index(lavr_tokenizer *t) {
    t->n_slots = 64;
    while (t->n_slots < 2 * t->n_pieces) t->n_slots *= 2;
    t->slots = calloc((size_t)t->n_slots, sizeof *t->slots);
    if (!t->slots) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the tokenizer index");
    uint64_t mask = (uint64_t)t->n_slots - 1;
    for (int64_t id = 0; id < t->n_pieces; id++) {
        if (lookup_piece(t, t->pieces[id], t->piece_len[id]) >= 0) continue; /* duplicate: first id wins */
        uint64_t h = hash_bytes(t->pieces[id], t->piece_len[id]) & mask;
        while (t->slots[h]) h = (h + 1) & mask;
        t->slots[h] = id + 1;
        if (t->piece_len[id] > t->max_piece_bytes) t->max_piece_bytes = t->piece_len[id];
    }
    return LAVR_OK;
}

/* Empty, with SentencePiece's default normalizer switches (all on). */
static lavr_tokenizer *new_tokenizer(void) {
    lavr_tokenizer *t = calloc(1, sizeof *t);
    if (t) t->spec = (lavr_sp_spec){.add_dummy_prefix = 1, .remove_extra_whitespaces = 1, .escape_whitespaces = 1};
    return t;
}

static lavr_status alloc_pieces(lavr_tokenizer *t, int64_t count) {
    t->n_pieces = count;
    t->pieces = calloc((size_t)count, sizeof *t->pieces);
    t->piece_len = calloc((size_t)count, sizeof *t->piece_len);
    t->scores = calloc((size_t)count, sizeof *t->scores);
    t->matchable = calloc((size_t)count, 1);
    t->type = malloc((size_t)count);
    if (!t->pieces || !t->piece_len || !t->scores || !t->matchable || !t->type)
        return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for %lld pieces", (long long)count);
    memset(t->type, SP_NORMAL, (size_t)count);
    return LAVR_OK;
}

/* Common to both file formats: unknown score (over the NORMAL pieces of a spiece.model, as SentencePiece;
 * over all of a tokenizer.json, as HF), index, EOS. */
static lavr_status finish_vocab(lavr_tokenizer *t) {
    if (t->unk_id < 0 || t->unk_id >= t->n_pieces)
        return LAVR_FAIL(LAVR_E_FORMAT, "tokenizer unk id %lld is outside the vocabulary of %lld", (long long)t->unk_id,
                         (long long)t->n_pieces);
    double min_score = INFINITY;
    for (int64_t id = 0; id < t->n_pieces; id++)
        if ((!t->float_scores || t->type[id] == SP_NORMAL) && t->scores[id] < min_score) min_score = t->scores[id];
    if (min_score == INFINITY) min_score = t->float_scores ? FLT_MAX : 0;
    t->max_score = FLT_MIN;
    for (int64_t id = 0; id < t->n_pieces; id++) {
        if (t->type[id] == SP_NORMAL && (float)t->scores[id] > t->max_score) t->max_score = (float)t->scores[id];
        if (t->type[id] == SP_USER_DEFINED && t->piece_len[id] > t->max_user_bytes) t->max_user_bytes = t->piece_len[id];
    }
    t->unk_score = t->float_scores ? (double)((float)min_score - (float)UNK_PENALTY) : min_score - UNK_PENALTY;
    t->matchable[t->unk_id] = 0;
    TRY(build_index(t));
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_ids[b] = lookup_piece(t, name, 6);
    }
    t->eos_id = lookup_piece(t, "</s>", 4);
    if (t->eos_id < 0) return LAVR_FAIL(LAVR_E_FORMAT, "tokenizer vocabulary has no '</s>' (EOS) piece");
    return LAVR_OK;
}

/* The "Precompiled" normalizer of a tokenizer.json (alone or inside a "Sequence"), or NULL. */
static const lavr_json *find_precompiled(const lavr_json *normalizer) {
    if (!normalizer || normalizer->type != LAVR_JSON_OBJECT) return NULL;
    const lavr_json *type = lavr_json_get(normalizer, "type");
    if (type && type->type == LAVR_JSON_STRING && strcmp(type->string, "Precompiled") == 0) return normalizer;
    const lavr_json *list = lavr_json_get(normalizer, "normalizers"), *found = NULL;
    if (list && list->type == LAVR_JSON_ARRAY)
        for (int i = 0; !found && i < list->count; i++) found = find_precompiled(&list->items[i]);
    return found;
}

/* The base64 "precompiled_charsmap" through libcrypto's decoder. */
static lavr_status read_json_charsmap(lavr_tokenizer *t, const lavr_json *normalizer) {
    const lavr_json *pre = find_precompiled(normalizer);
    if (!pre) return LAVR_OK;
    const lavr_json *b64 = lavr_json_get(pre, "precompiled_charsmap");
    if (b64 && b64->type == LAVR_JSON_NULL) return LAVR_OK; /* null, like an empty one, is the identity */
    if (!b64 || b64->type != LAVR_JSON_STRING)
        return LAVR_FAIL(LAVR_E_FORMAT, "tokenizer.json: the Precompiled normalizer has no precompiled_charsmap string");
    size_t len = strlen(b64->string);
    if (len == 0) return LAVR_OK; /* an empty charsmap is the identity */
    if (len % 4 != 0 || len > INT32_MAX)
        return LAVR_FAIL(LAVR_E_FORMAT, "tokenizer.json: precompiled_charsmap is not base64 (%zu characters)", len);
    unsigned char *blob = malloc(len / 4 * 3 + 1);
    if (!blob) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for a charsmap of %zu base64 characters", len);
    int n = EVP_DecodeBlock(blob, (const unsigned char *)b64->string, (int)len);
    lavr_status st = LAVR_OK;
    if (n < 0) st = LAVR_FAIL(LAVR_E_FORMAT, "tokenizer.json: precompiled_charsmap is not base64");
    else {
        n -= (b64->string[len - 1] == '=') + (b64->string[len - 2] == '='); /* EVP_DecodeBlock counts the padding */
        st = lavr_charsmap_create(blob, n, &t->charsmap);
    }
    free(blob);
    return st ? lavr_error_wrap(st, "tokenizer.json normalizer") : LAVR_OK;
}

static lavr_status read_vocab(lavr_tokenizer *t, const lavr_json *root) {
    const lavr_json *model = lavr_json_get(root, "model");
    if (!model || model->type != LAVR_JSON_OBJECT) return LAVR_FAIL(LAVR_E_FORMAT, "tokenizer.json has no 'model' object");
    const lavr_json *type = lavr_json_get(model, "type");
    if (!type || type->type != LAVR_JSON_STRING || strcmp(type->string, "Unigram") != 0)
        return LAVR_FAIL(LAVR_E_FORMAT, "tokenizer.json model type '%s' is not supported (Unigram only)",
                         type && type->type == LAVR_JSON_STRING ? type->string : "?");
    const lavr_json *vocab = lavr_json_get(model, "vocab");
    if (!vocab || vocab->type != LAVR_JSON_ARRAY || vocab->count == 0)
        return LAVR_FAIL(LAVR_E_FORMAT, "tokenizer.json model has no 'vocab' list");
    TRY(lavr_json_get_int(model, "unk_id", &t->unk_id));
    if (lavr_json_get(model, "byte_fallback")) TRY(lavr_json_get_bool(model, "byte_fallback", &t->byte_fallback));

    TRY(alloc_pieces(t, vocab->count));
    for (int64_t id = 0; id < t->n_pieces; id++) {
        const lavr_json *entry = &vocab->items[id];
        if (entry->type != LAVR_JSON_ARRAY || entry->count != 2 || entry->items[0].type != LAVR_JSON_STRING ||
            entry->items[1].type != LAVR_JSON_NUMBER)
            return LAVR_FAIL(LAVR_E_FORMAT, "tokenizer.json vocab entry %lld is not [piece, score]", (long long)id);
        t->pieces[id] = strdup(entry->items[0].string);
        if (!t->pieces[id]) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for pieces");
        t->piece_len[id] = (int64_t)strlen(t->pieces[id]);
        t->scores[id] = entry->items[1].number;
        t->matchable[id] = t->piece_len[id] > 0;
    }

    const lavr_json *added = lavr_json_get(root, "added_tokens");
    if (added && added->type == LAVR_JSON_ARRAY)
        for (int i = 0; i < added->count; i++) {
            int64_t id;
            int special = 0;
            const lavr_json *tok = &added->items[i];
            if (lavr_json_get(tok, "special")) TRY(lavr_json_get_bool(tok, "special", &special));
            TRY(lavr_json_get_int(tok, "id", &id));
            if (special && id >= 0 && id < t->n_pieces) t->matchable[id] = 0;
        }
    TRY(read_json_charsmap(t, lavr_json_get(root, "normalizer")));
    return finish_vocab(t);
}

lavr_status lavr_tokenizer_from_json(const char *json_text, lavr_tokenizer **out) {
    CHECK_ARG(json_text && out, "lavr_tokenizer_from_json: NULL argument");
    *out = NULL;
    lavr_json *root = NULL;
    TRY(lavr_json_parse(json_text, &root));
    lavr_tokenizer *t = new_tokenizer();
    lavr_status st = t ? read_vocab(t, root) : LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the tokenizer");
    lavr_json_free(root);
    if (st) {
        lavr_tokenizer_destroy(t);
        return st;
    }
    *out = t;
    return LAVR_OK;
}

/* ---- SentencePiece model (spiece.model: a protobuf ModelProto) ----------------------------------------- */

typedef struct {
    const unsigned char *p, *end;
} pb_reader;

static int pb_varint(pb_reader *r, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64 && r->p < r->end; shift += 7) {
        unsigned char byte = *r->p++;
        *v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) return 1;
    }
    return 0;
}

/* Next field: number, wire type, and for length-delimited fields the payload; 0 at the end or on
 * malformed input (r->p != r->end tells them apart). */
static int pb_field(pb_reader *r, uint64_t *field, int *wire, pb_reader *payload, uint64_t *value) {
    uint64_t key, len;
    if (r->p >= r->end || !pb_varint(r, &key)) return 0;
    *field = key >> 3, *wire = (int)(key & 7);
    switch (*wire) {
    case 0: return pb_varint(r, value);
    case 1: if (r->end - r->p < 8) return 0; r->p += 8; return 1;
    case 5:
        if (r->end - r->p < 4) return 0;
        *value = (uint64_t)r->p[0] | (uint64_t)r->p[1] << 8 | (uint64_t)r->p[2] << 16 | (uint64_t)r->p[3] << 24;
        r->p += 4;
        return 1;
    case 2:
        if (!pb_varint(r, &len) || len > (uint64_t)(r->end - r->p)) return 0;
        payload->p = r->p, payload->end = r->p + len;
        r->p += len;
        return 1;
    default: return 0;
    }
}


static lavr_status read_piece(lavr_tokenizer *t, int64_t id, pb_reader msg) {
    uint64_t field, value = 0, type = SP_NORMAL;
    int wire;
    pb_reader payload = {0};
    float score = 0;
    while (pb_field(&msg, &field, &wire, &payload, &value)) {
        if (field == 1 && wire == 2) {
            size_t len = (size_t)(payload.end - payload.p);
            t->pieces[id] = malloc(len + 1);
            if (!t->pieces[id]) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for pieces");
            memcpy(t->pieces[id], payload.p, len);
            t->pieces[id][len] = 0;
            t->piece_len[id] = (int64_t)len;
        } else if (field == 2 && wire == 5) {
            uint32_t bits = (uint32_t)value;
            memcpy(&score, &bits, sizeof score);
        } else if (field == 3 && wire == 0) {
            type = value;
        }
    }
    if (msg.p != msg.end || !t->pieces[id])
        return LAVR_FAIL(LAVR_E_FORMAT, "SentencePiece model: piece %lld is malformed", (long long)id);
    t->scores[id] = score;
    t->type[id] = (unsigned char)(type <= SP_BYTE ? type : SP_UNUSED);
    if (type == SP_UNKNOWN) t->unk_id = id;
    /* Control, unused and byte pieces never match text (byte pieces come only from byte fallback). */
    t->matchable[id] = (type == SP_NORMAL || type == SP_USER_DEFINED) && t->piece_len[id] > 0;
    return LAVR_OK;
}

/* NormalizerSpec: 2 precompiled_charsmap, 3 add_dummy_prefix, 4 remove_extra_whitespaces, 5 escape_whitespaces. */
static lavr_status read_normalizer_spec(lavr_tokenizer *t, pb_reader spec) {
    uint64_t field, value = 0;
    int wire;
    pb_reader sub = {0};
    while (pb_field(&spec, &field, &wire, &sub, &value)) {
        if (field == 2 && wire == 2 && sub.end > sub.p && !t->charsmap)
            TRY(lavr_charsmap_create(sub.p, sub.end - sub.p, &t->charsmap));
        else if (field == 3 && wire == 0) t->spec.add_dummy_prefix = value != 0;
        else if (field == 4 && wire == 0) t->spec.remove_extra_whitespaces = value != 0;
        else if (field == 5 && wire == 0) t->spec.escape_whitespaces = value != 0;
    }
    if (spec.p != spec.end) return LAVR_FAIL(LAVR_E_FORMAT, "SentencePiece model: the normalizer spec is malformed");
    return LAVR_OK;
}

static lavr_status read_spiece(lavr_tokenizer *t, const unsigned char *data, size_t size) {
    pb_reader r = {data, data + size}, payload;
    uint64_t field, value;
    int wire;
    int64_t count = 0;
    while (pb_field(&r, &field, &wire, &payload, &value)) count += field == 1 && wire == 2;
    if (r.p != r.end || count == 0) return LAVR_FAIL(LAVR_E_FORMAT, "not a SentencePiece model (no pieces parsed)");
    TRY(alloc_pieces(t, count));
    t->unk_id = -1;
    t->float_scores = 1;
    r.p = data;
    int64_t id = 0;
    while (pb_field(&r, &field, &wire, &payload, &value)) {
        if (field == 1 && wire == 2) TRY(read_piece(t, id++, payload));
        if (field == 3 && wire == 2) TRY(read_normalizer_spec(t, payload));
        if (field == 2 && wire == 2) { /* TrainerSpec: field 35 is byte_fallback */
            pb_reader spec = payload, sub;
            while (pb_field(&spec, &field, &wire, &sub, &value))
                if (field == 35 && wire == 0) t->byte_fallback = value != 0;
        }
    }
    return finish_vocab(t);
}

/* tokenizer.json is an object; anything else is taken as a serialized SentencePiece ModelProto. */
static int looks_like_json(const uint8_t *data, int64_t size) {
    int64_t i = 0;
    while (i < size && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n')) i++;
    return i < size && data[i] == '{';
}

lavr_status lavr_tokenizer_from_bytes(const uint8_t *data, int64_t size, lavr_tokenizer **out) {
    CHECK_ARG(data && size >= 0 && out, "lavr_tokenizer_from_bytes: NULL argument");
    *out = NULL;
    if (looks_like_json(data, size)) {
        char *text = malloc((size_t)size + 1);
        if (!text) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for a %lld-byte tokenizer.json", (long long)size);
        memcpy(text, data, (size_t)size);
        text[size] = 0;
        lavr_status st = lavr_tokenizer_from_json(text, out);
        free(text);
        return st;
    }
    lavr_tokenizer *t = new_tokenizer();
    lavr_status st = t ? read_spiece(t, data, (size_t)size) : LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the tokenizer");
    if (st) lavr_tokenizer_destroy(t);
    else *out = t;
    return st;
}

lavr_status lavr_tokenizer_load(const char *path, lavr_tokenizer **out) {
    CHECK_ARG(path && out, "lavr_tokenizer_load: NULL argument");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return LAVR_FAIL(LAVR_E_IO, "cannot open tokenizer file %s", path);
    uint8_t *data = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size >= 0 && fseek(f, 0, SEEK_SET) == 0) data = malloc((size_t)size + 1);
    size_t got = data ? fread(data, 1, (size_t)size, f) : 0;
    fclose(f);
    if (!data || got != (size_t)size) {
        free(data);
        return LAVR_FAIL(LAVR_E_IO, "cannot read tokenizer file %s", path);
    }
    lavr_status st = lavr_tokenizer_from_bytes(data, size, out);
    free(data);
    return st ? lavr_error_wrap(st, "%s", path) : LAVR_OK;
}

/* ---- the tokenizer inside a model file ------------------------------------------------------------------ */

static int kind_is_known(const char *kind) {
    return strcmp(kind, LAVR_TOKENIZER_KIND_JSON) == 0 || strcmp(kind, LAVR_TOKENIZER_KIND_SPIECE) == 0;
}

lavr_status lavr_tokenizer_store(lavr_h5file *f, const char *kind, const uint8_t *data, int64_t size) {
    CHECK_ARG(f && kind && data && size > 0, "lavr_tokenizer_store: empty tokenizer");
    CHECK_ARG(kind_is_known(kind), "tokenizer kind '%s' is not one of %s, %s", kind, LAVR_TOKENIZER_KIND_JSON,
              LAVR_TOKENIZER_KIND_SPIECE);
    lavr_tensor t = lavr_tensor_wrap(LAVR_U8, 1, &size, (void *)data);
    TRY(lavr_h5_write(f, LAVR_TOKENIZER_DATASET, &t, 0));
    return lavr_h5_write_attr_string(f, LAVR_TOKENIZER_DATASET, "kind", kind);
}

lavr_status lavr_tokenizer_from_model(lavr_h5file *f, lavr_tokenizer **out) {
    CHECK_ARG(f && out, "lavr_tokenizer_from_model: NULL argument");
    *out = NULL;
    const char *path = lavr_h5_path(f);
    if (!lavr_h5_exists(f, LAVR_TOKENIZER_DATASET))
        return LAVR_FAIL(LAVR_E_FORMAT,
                         "%s has no tokenizer (%s): write one with lavr convert, or give token ids directly (--ids)",
                         path, LAVR_TOKENIZER_DATASET);
    char *kind = NULL;
    TRY(lavr_h5_read_attr_string(f, LAVR_TOKENIZER_DATASET, "kind", &kind));
    lavr_status st = LAVR_OK;
    if (!kind_is_known(kind))
        st = LAVR_FAIL(LAVR_E_FORMAT, "%s: tokenizer kind '%s' is not one of %s, %s", path, kind, LAVR_TOKENIZER_KIND_JSON,
                       LAVR_TOKENIZER_KIND_SPIECE);
    lavr_arena *arena = NULL;
    lavr_tensor bytes = {0};
    if (!st) st = lavr_arena_create("tokenizer", 0, &arena);
    if (!st) st = lavr_h5_read(f, LAVR_TOKENIZER_DATASET, arena, &bytes);
    if (!st && (bytes.dtype != LAVR_U8 || bytes.ndim != 1))
        st = LAVR_FAIL(LAVR_E_FORMAT, "%s: %s is not a 1-D uint8 dataset", path, LAVR_TOKENIZER_DATASET);
    if (!st) {
        /* the content decides the parser; the attribute must agree with it */
        int is_json = looks_like_json(bytes.data, bytes.shape[0]);
        if (is_json != (strcmp(kind, LAVR_TOKENIZER_KIND_JSON) == 0))
            st = LAVR_FAIL(LAVR_E_FORMAT, "%s: %s says kind '%s' but holds %s", path, LAVR_TOKENIZER_DATASET, kind,
                           is_json ? "JSON" : "a binary model");
    }
    if (!st && (st = lavr_tokenizer_from_bytes(bytes.data, bytes.shape[0], out)) != LAVR_OK)
        st = lavr_error_wrap(st, "%s%s", path, LAVR_TOKENIZER_DATASET);
    lavr_tensor_free(&bytes);
    lavr_arena_destroy(arena);
    free(kind);
    return st;
}

void lavr_tokenizer_destroy(lavr_tokenizer *tok) {
    if (!tok) return;
    if (tok->pieces)
        for (int64_t i = 0; i < tok->n_pieces; i++) free(tok->pieces[i]);
    free(tok->pieces), free(tok->piece_len), free(tok->scores), free(tok->matchable), free(tok->type), free(tok->slots);
    lavr_charsmap_destroy(tok->charsmap);
    free(tok);
}

int64_t lavr_tokenizer_vocab_size(const lavr_tokenizer *tok) { return tok->n_pieces; }
int64_t lavr_tokenizer_unk_id(const lavr_tokenizer *tok) { return tok->unk_id; }
int64_t lavr_tokenizer_eos_id(const lavr_tokenizer *tok) { return tok->eos_id; }
int64_t lavr_tokenizer_charsmap_units(const lavr_tokenizer *tok) { return lavr_charsmap_rules(tok->charsmap); }
const char *lavr_tokenizer_piece(const lavr_tokenizer *tok, int64_t id) {
    return id >= 0 && id < tok->n_pieces ? tok->pieces[id] : NULL;
}

/* ---- segmentation -------------------------------------------------------------------------------------- */

typedef struct {
    int64_t *ids;
    int64_t n, cap;
} id_list;

static lavr_status id_push(id_list *l, int64_t id) {
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        int64_t *grown = realloc(l->ids, (size_t)cap * sizeof *grown);
        if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for %lld token ids", (long long)cap);
        l->ids = grown, l->cap = cap;
    }
    l->ids[l->n++] = id;
    return LAVR_OK;
}

/* A path score plus a piece score in the file format's arithmetic. */
static double add_score(const lavr_tokenizer *t, double path, double piece) {
    return t->float_scores ? (double)((float)path + (float)piece) : path + piece;
}

/* Best segmentation of the normalised text s (character starts in offsets[0..m], offsets[m] its length).
 * Nodes are relaxed in order of their start, and a node replaces the best path into its end only when
 * strictly better: on equal scores the path whose last piece starts earliest wins, which is the tie
 * rule of SentencePiece's and HF's lattice Viterbi. Consecutive unknowns fuse into one. */
static lavr_status viterbi(const lavr_tokenizer *t, const char *s, const int64_t *offsets, int64_t m, id_list *out) {
    double *best = malloc((size_t)(m + 1) * sizeof *best);
    int64_t *from = malloc((size_t)(m + 1) * sizeof *from), *piece = malloc((size_t)(m + 1) * sizeof *piece);
    int64_t *path = malloc((size_t)(m + 1) * sizeof *path), *start = malloc((size_t)(m + 1) * sizeof *start);
    lavr_status st = LAVR_OK;
    if (!best || !from || !piece || !path || !start) {
        st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory for a text of %lld characters", (long long)m);
        goto done;
    }
    for (int64_t i = 0; i <= m; i++) from[i] = -1;
    best[0] = 0;
    for (int64_t b = 0; b < m; b++) {
        int single = 0;
        for (int64_t e = b + 1; e <= m && offsets[e] - offsets[b] <= t->max_piece_bytes; e++) {
            int64_t id = lookup_piece(t, s + offsets[b], offsets[e] - offsets[b]);
            if (id < 0 || !t->matchable[id]) continue;
            single |= e == b + 1;
            double score = add_score(t, best[b], t->scores[id]);
            if (t->type[id] == SP_USER_DEFINED) /* float length * max, minus 0.1 and plus the path in double */
                score = (double)((float)(offsets[e] - offsets[b]) * t->max_score) - 0.1 + best[b];
            if (from[e] < 0 || score > best[e])
                best[e] = t->float_scores ? (double)(float)score : score, from[e] = b, piece[e] = id;
        }
        if (!single) {
            double score = add_score(t, best[b], t->unk_score);
            if (from[b + 1] < 0 || score > best[b + 1]) best[b + 1] = score, from[b + 1] = b, piece[b + 1] = t->unk_id;
        }
    }
    int64_t count = 0;
    for (int64_t e = m; e > 0; e = from[e]) start[count] = from[e], path[count++] = piece[e];
    for (int64_t k = count - 1; !st && k >= 0; k--) {
        if (path[k] == t->unk_id && t->byte_fallback) { /* one character: its bytes, when all have pieces */
            const unsigned char *c = (const unsigned char *)s + offsets[start[k]];
            int64_t len = offsets[start[k] + 1] - offsets[start[k]], have = 1;
            for (int64_t i = 0; i < len; i++) have &= t->byte_ids[c[i]] >= 0;
            for (int64_t i = 0; have && !st && i < len; i++) st = id_push(out, t->byte_ids[c[i]]);
            if (have) continue;
        }
        if (path[k] == t->unk_id && k < count - 1 && path[k + 1] == t->unk_id) continue;
        st = id_push(out, path[k]);
    }
done:
    free(best), free(from), free(piece), free(path), free(start);
    return st;
}

/* The longest user-defined piece that prefixes s[0..n) (SentencePiece's PrefixMatcher), in bytes. */
static size_t user_defined_prefix(const void *ctx, const char *s, size_t n) {
    const lavr_tokenizer *t = ctx;
    for (size_t len = n < (size_t)t->max_user_bytes ? n : (size_t)t->max_user_bytes; len > 0; len--) {
        int64_t id = lookup_piece(t, s, (int64_t)len);
        if (id >= 0 && t->type[id] == SP_USER_DEFINED) return len;
    }
    return 0;
}

lavr_status lavr_tokenizer_normalize(const lavr_tokenizer *tok, const char *text, char **out) {
    CHECK_ARG(tok && text && out, "lavr_tokenizer_normalize: NULL argument");
    *out = NULL;
    char *clean = NULL;
    size_t n = 0;
    TRY(lavr_text_clean(text, &clean));
    lavr_sp_spec spec = tok->spec;
    if (tok->max_user_bytes > 0) spec.protected_prefix = user_defined_prefix, spec.ctx = tok;
    lavr_status st = lavr_sp_normalize(tok->charsmap, &spec, clean, strlen(clean), out, &n);
    free(clean);
    return st;
}

/* All ids of the text, EOS last, malloc'd. */
static lavr_status encode_all(const lavr_tokenizer *tok, const char *text, int64_t **ids, int64_t *n) {
    *ids = NULL, *n = 0;
    char *norm = NULL;
    TRY(lavr_tokenizer_normalize(tok, text, &norm));
    size_t len = strlen(norm);
    int64_t *offsets = malloc((len + 1) * sizeof *offsets), m = 0;
    id_list list = {0};
    lavr_status st = offsets ? LAVR_OK : LAVR_FAIL(LAVR_E_NOMEM, "out of memory for text of %zu bytes", len);
    for (size_t i = 0; !st && i < len; i++)
        if (((unsigned char)norm[i] & 0xc0) != 0x80) offsets[m++] = (int64_t)i;
    if (!st) offsets[m] = (int64_t)len;
    if (!st && m > 0) st = viterbi(tok, norm, offsets, m, &list);
    if (!st) st = id_push(&list, tok->eos_id);
    free(norm), free(offsets);
    if (st) {
        free(list.ids);
        return st;
    }
    *ids = list.ids, *n = list.n;
    return LAVR_OK;
}

lavr_status lavr_tokenizer_encode_counted(const lavr_tokenizer *tok, const char *text, int64_t max_len, int64_t *ids,
                                          int64_t *n, int64_t *total) {
    CHECK_ARG(tok && text && ids && n, "lavr_tokenizer_encode: NULL argument");
    CHECK_ARG(max_len >= 1, "lavr_tokenizer_encode: max_len %lld leaves no room for EOS", (long long)max_len);
    int64_t *all = NULL, count = 0;
    TRY(encode_all(tok, text, &all, &count));
    /* Hugging Face truncation with the EOS it adds: the first max_len - 1 pieces, then EOS */
    int64_t keep = count <= max_len ? count - 1 : max_len - 1;
    memcpy(ids, all, (size_t)keep * sizeof *ids);
    ids[keep] = tok->eos_id;
    *n = keep + 1;
    if (total) *total = count;
    free(all);
    return LAVR_OK;
}

lavr_status lavr_tokenizer_encode(const lavr_tokenizer *tok, const char *text, int64_t max_len, int64_t *ids,
                                  int64_t *n) {
    return lavr_tokenizer_encode_counted(tok, text, max_len, ids, n, NULL);
}
