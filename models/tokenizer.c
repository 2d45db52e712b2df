/* SentencePiece-unigram tokenizer read from a Hugging Face tokenizer.json, with Wan's prompt cleaning.
 * Text is handled as Unicode code points; pieces are matched on UTF-8 bytes through a hash table.
 *
 * Normalisation actually applied (the table-free part of SentencePiece's nmt-NFKC):
 *   - C0 controls U+0000-0008, U+000B, U+000E-001F and U+007F, U+008F, U+009F are removed;
 *   - TAB, LF, FF, CR, NBSP, U+2000-200A, U+202F, U+205F, U+3000 become a space;
 *   - full-width ASCII U+FF01-FF5E -> U+0021-007E; ligatures U+FB00-FB06 -> ff fi fl ffi ffl st st;
 *     U+2024-2026 -> . .. ...; superscript 1 2 3 -> digits; U+2122 -> TM (all NFKC mappings);
 *   - spaces collapsed and stripped (remove_extra_whitespaces).
 * Not applied: the rest of NFKC (canonical composition of combining sequences, other compatibility
 * mappings such as circled or half-width forms, CJK compatibility ideographs). The exact table is the
 * model's precompiled charsmap, which lavr does not decode; ASCII and already-NFKC text is unaffected. */
#include "models/tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

#define META_SPACE 0x2581u /* '▁' */
#define UNK_PENALTY 10.0   /* unknown characters score min(piece score) - 10, as SentencePiece and HF do */

struct lavr_tokenizer {
    int64_t n_pieces;
    char **pieces;       /* UTF-8 */
    int64_t *piece_len;  /* bytes */
    double *scores;
    unsigned char *matchable; /* 0 for special tokens (never matched inside text) */
    int64_t *slots;      /* open-addressing hash of piece -> id + 1 (0 = empty) */
    int64_t n_slots;
    int64_t max_piece_bytes;
    int64_t unk_id, eos_id;
    double unk_score;
    int has_charsmap;
};

/* ---- code point buffers -------------------------------------------------------------------------- */

typedef struct {
    uint32_t *cp;
    int64_t n, cap;
} cpbuf;

static lavr_status cp_push(cpbuf *b, uint32_t c) {
    if (b->n == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 64;
        uint32_t *grown = realloc(b->cp, (size_t)cap * sizeof *grown);
        if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for text of %lld characters", (long long)cap);
        b->cp = grown, b->cap = cap;
    }
    b->cp[b->n++] = c;
    return LAVR_OK;
}

static lavr_status cp_push_ascii(cpbuf *b, const char *s) {
    for (; *s; s++) TRY(cp_push(b, (unsigned char)*s));
    return LAVR_OK;
}

static lavr_status decode_utf8(const char *text, cpbuf *out) {
    const unsigned char *s = (const unsigned char *)text;
    int64_t i = 0;
    while (s[i]) {
        uint32_t c = s[i], min;
        int extra;
        if (c < 0x80) extra = 0, min = 0;
        else if ((c & 0xe0) == 0xc0) extra = 1, c &= 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0) extra = 2, c &= 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0) extra = 3, c &= 0x07, min = 0x10000;
        else return LAVR_FAIL(LAVR_E_ARG, "text is not valid UTF-8 (byte 0x%02x at offset %lld)", s[i], (long long)i);
        for (int k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return LAVR_FAIL(LAVR_E_ARG, "text is not valid UTF-8 (truncated sequence at offset %lld)", (long long)i);
            c = (c << 6) | (s[i + k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return LAVR_FAIL(LAVR_E_ARG, "text is not valid UTF-8 (bad code point at offset %lld)", (long long)i);
        TRY(cp_push(out, c));
        i += extra + 1;
    }
    return LAVR_OK;
}

static int utf8_put(uint32_t c, char *dst) {
    if (c < 0x80) return dst[0] = (char)c, 1;
    if (c < 0x800) return dst[0] = (char)(0xc0 | c >> 6), dst[1] = (char)(0x80 | (c & 0x3f)), 2;
    if (c < 0x10000) {
        dst[0] = (char)(0xe0 | c >> 12), dst[1] = (char)(0x80 | ((c >> 6) & 0x3f)), dst[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    dst[0] = (char)(0xf0 | c >> 18), dst[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    dst[2] = (char)(0x80 | ((c >> 6) & 0x3f)), dst[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

static lavr_status encode_utf8(const cpbuf *b, char **out) {
    char *s = malloc((size_t)(4 * b->n + 1));
    if (!s) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for text of %lld characters", (long long)b->n);
    int64_t len = 0;
    for (int64_t i = 0; i < b->n; i++) len += utf8_put(b->cp[i], s + len);
    s[len] = 0;
    *out = s;
    return LAVR_OK;
}

/* ---- cleaning: Python's html.unescape and whitespace handling --------------------------------------- */

/* Numeric references to C1 code points mean Windows-1252 (HTML5 rule, as Python applies it). */
static const uint16_t cp1252_c1[32] = {
    0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008d, 0x017d, 0x008f, 0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178};

static lavr_status emit_charref(cpbuf *out, uint64_t num, int overflow) {
    if (!overflow && num == 0) return cp_push(out, 0xfffd);
    if (!overflow && num == 0x0d) return cp_push(out, 0x0d);
    if (!overflow && num >= 0x80 && num <= 0x9f) return cp_push(out, cp1252_c1[num - 0x80]);
    if (overflow || num > 0x10ffff || (num >= 0xd800 && num <= 0xdfff)) return cp_push(out, 0xfffd);
    /* Python drops references to other controls and to noncharacters. */
    if ((num >= 0x1 && num <= 0x8) || num == 0xb || (num >= 0xe && num <= 0x1f) || (num >= 0x7f && num <= 0x9f) ||
        (num >= 0xfdd0 && num <= 0xfdef) || (num & 0xfffe) == 0xfffe)
        return LAVR_OK;
    return cp_push(out, (uint32_t)num);
}

/* The named entities lavr knows (a subset of HTML5's 2231); `legacy` ones also match without ';'. */
static const struct {
    const char *name;
    uint32_t cp;
    int legacy;
} entities[] = {
    {"amp", '&', 1},       {"AMP", '&', 1},       {"lt", '<', 1},        {"LT", '<', 1},       {"gt", '>', 1},
    {"GT", '>', 1},        {"quot", '"', 1},      {"QUOT", '"', 1},      {"apos", '\'', 0},    {"nbsp", 0xa0, 1},
    {"copy", 0xa9, 1},     {"COPY", 0xa9, 1},     {"reg", 0xae, 1},      {"REG", 0xae, 1},     {"deg", 0xb0, 1},
    {"middot", 0xb7, 1},   {"times", 0xd7, 1},    {"laquo", 0xab, 1},    {"raquo", 0xbb, 1},   {"eacute", 0xe9, 1},
    {"hellip", 0x2026, 0}, {"mdash", 0x2014, 0},  {"ndash", 0x2013, 0},  {"lsquo", 0x2018, 0}, {"rsquo", 0x2019, 0},
    {"ldquo", 0x201c, 0},  {"rdquo", 0x201d, 0},  {"bull", 0x2022, 0},   {"trade", 0x2122, 0}, {"euro", 0x20ac, 0},
};

/* Entity whose name equals cp[0..len); with_semicolon allows every entry, else legacy ones only. */
static int find_entity(const uint32_t *cp, int64_t len, int with_semicolon, uint32_t *value) {
    for (size_t e = 0; e < sizeof entities / sizeof entities[0]; e++) {
        const char *name = entities[e].name;
        if ((int64_t)strlen(name) != len || (!with_semicolon && !entities[e].legacy)) continue;
        int64_t k = 0;
        while (k < len && cp[k] == (unsigned char)name[k]) k++;
        if (k == len) return *value = entities[e].cp, 1;
    }
    return 0;
}

static int hex_digit(uint32_t c) {
    if (c >= '0' && c <= '9') return (int)(c - '0');
    if (c >= 'a' && c <= 'f') return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return (int)(c - 'A' + 10);
    return -1;
}

/* One pass of Python's html.unescape: &#NNN; &#xHH; (';' optional) and &name; / legacy &name. */
static lavr_status html_unescape(const cpbuf *in, cpbuf *out) {
    const uint32_t *c = in->cp;
    int64_t n = in->n, i = 0;
    while (i < n) {
        if (c[i] != '&') {
            TRY(cp_push(out, c[i++]));
            continue;
        }
        int64_t j = i + 1;
        if (j < n && c[j] == '#') {
            int64_t k = j + 1;
            int base = 10;
            if (k < n && (c[k] == 'x' || c[k] == 'X')) base = 16, k++;
            int64_t start = k;
            uint64_t num = 0;
            int overflow = 0, d;
            while (k < n && (d = hex_digit(c[k])) >= 0 && d < base) {
                num = num * (uint64_t)base + (uint64_t)d;
                if (num > 0x10ffff) overflow = 1, num = 0x110000;
                k++;
            }
            if (k == start) { /* "&#" or "&#x" without digits stays literal */
                TRY(cp_push(out, c[i++]));
                continue;
            }
            if (k < n && c[k] == ';') k++;
            TRY(emit_charref(out, num, overflow));
            i = k;
            continue;
        }
        int64_t k = j;
        while (k < n && k - j < 32 && c[k] != '\t' && c[k] != '\n' && c[k] != '\f' && c[k] != ' ' && c[k] != '<' &&
               c[k] != '&' && c[k] != '#' && c[k] != ';')
            k++;
        int semicolon = k < n && c[k] == ';';
        uint32_t value;
        if (k > j && find_entity(c + j, k - j, semicolon, &value)) {
            TRY(cp_push(out, value));
            i = k + semicolon;
            continue;
        }
        /* Longest legacy entity that prefixes the name (at least 2 characters, shorter than the
         * whole match); the remainder stays literal. */
        int64_t whole = k - j + semicolon, x = whole - 1;
        for (; x >= 2; x--)
            if (x <= k - j && find_entity(c + j, x, 0, &value)) break;
        if (x >= 2) {
            TRY(cp_push(out, value));
            i = j + x;
        } else {
            TRY(cp_push(out, c[i++]));
        }
    }
    return LAVR_OK;
}

/* Python's str.isspace(), which both `\s` in re and str.strip() use. */
static int is_py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Runs of spaces (per is_space) -> one ' ', leading and trailing ones removed; in place. */
static void collapse_spaces(cpbuf *b, int (*is_space)(uint32_t)) {
    int64_t w = 0;
    int pending = 0;
    for (int64_t r = 0; r < b->n; r++) {
        if (is_space(b->cp[r])) {
            pending = w > 0;
            continue;
        }
        if (pending) b->cp[w++] = ' ', pending = 0;
        b->cp[w++] = b->cp[r];
    }
    b->n = w;
}

static lavr_status clean_codepoints(cpbuf *text) {
    for (int pass = 0; pass < 2; pass++) {
        cpbuf unescaped = {0};
        lavr_status st = html_unescape(text, &unescaped);
        if (st) {
            free(unescaped.cp);
            return st;
        }
        free(text->cp);
        *text = unescaped;
    }
    collapse_spaces(text, is_py_space);
    return LAVR_OK;
}

/* ---- normalisation (nmt-NFKC subset; the file comment lists what is covered) ---------------------------- */

static int is_ascii_space(uint32_t c) { return c == ' '; }

static lavr_status normalize_codepoints(cpbuf *text) {
    static const char *ligatures[7] = {"ff", "fi", "fl", "ffi", "ffl", "st", "st"};
    static const char *leaders[3] = {".", "..", "..."};
    cpbuf out = {0};
    lavr_status st = LAVR_OK;
    for (int64_t i = 0; !st && i < text->n; i++) {
        uint32_t c = text->cp[i];
        if ((c <= 0x08) || c == 0x0b || (c >= 0x0e && c <= 0x1f) || c == 0x7f || c == 0x8f || c == 0x9f) continue;
        if (c == 0x09 || c == 0x0a || c == 0x0c || c == 0x0d || c == 0xa0 || (c >= 0x2000 && c <= 0x200a) ||
            c == 0x202f || c == 0x205f || c == 0x3000)
            st = cp_push(&out, ' ');
        else if (c >= 0xff01 && c <= 0xff5e) st = cp_push(&out, c - 0xfee0);
        else if (c >= 0xfb00 && c <= 0xfb06) st = cp_push_ascii(&out, ligatures[c - 0xfb00]);
        else if (c >= 0x2024 && c <= 0x2026) st = cp_push_ascii(&out, leaders[c - 0x2024]);
        else if (c == 0xb9) st = cp_push(&out, '1');
        else if (c == 0xb2) st = cp_push(&out, '2');
        else if (c == 0xb3) st = cp_push(&out, '3');
        else if (c == 0x2122) st = cp_push_ascii(&out, "TM");
        else st = cp_push(&out, c);
    }
    if (st) {
        free(out.cp);
        return st;
    }
    free(text->cp);
    *text = out;
    collapse_spaces(text, is_ascii_space);
    return LAVR_OK;
}

static lavr_status run_stage(const char *text, lavr_status (*stage)(cpbuf *), char **out) {
    CHECK_ARG(text && out, "text stage: NULL argument");
    cpbuf b = {0};
    lavr_status st = decode_utf8(text, &b);
    if (!st) st = stage(&b);
    if (!st) st = encode_utf8(&b, out);
    free(b.cp);
    return st;
}

lavr_status lavr_text_clean(const char *text, char **out) { return run_stage(text, clean_codepoints, out); }
lavr_status lavr_text_normalize(const char *text, char **out) { return run_stage(text, normalize_codepoints, out); }

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

static lavr_status alloc_pieces(lavr_tokenizer *t, int64_t count) {
    t->n_pieces = count;
    t->pieces = calloc((size_t)count, sizeof *t->pieces);
    t->piece_len = calloc((size_t)count, sizeof *t->piece_len);
    t->scores = calloc((size_t)count, sizeof *t->scores);
    t->matchable = calloc((size_t)count, 1);
    if (!t->pieces || !t->piece_len || !t->scores || !t->matchable)
        return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for %lld pieces", (long long)count);
    return LAVR_OK;
}

/* Common to both file formats: unknown score, index, EOS. */
static lavr_status finish_vocab(lavr_tokenizer *t) {
    if (t->unk_id < 0 || t->unk_id >= t->n_pieces)
        return LAVR_FAIL(LAVR_E_FORMAT, "tokenizer unk id %lld is outside the vocabulary of %lld", (long long)t->unk_id,
                         (long long)t->n_pieces);
    double min_score = INFINITY;
    for (int64_t id = 0; id < t->n_pieces; id++)
        if (t->scores[id] < min_score) min_score = t->scores[id];
    t->unk_score = min_score - UNK_PENALTY;
    t->matchable[t->unk_id] = 0;
    TRY(build_index(t));
    t->eos_id = lookup_piece(t, "</s>", 4);
    if (t->eos_id < 0) return LAVR_FAIL(LAVR_E_FORMAT, "tokenizer vocabulary has no '</s>' (EOS) piece");
    return LAVR_OK;
}

static int has_precompiled(const lavr_json *normalizer) {
    if (!normalizer || normalizer->type != LAVR_JSON_OBJECT) return 0;
    const lavr_json *type = lavr_json_get(normalizer, "type");
    if (type && type->type == LAVR_JSON_STRING && strcmp(type->string, "Precompiled") == 0) return 1;
    const lavr_json *list = lavr_json_get(normalizer, "normalizers");
    if (list && list->type == LAVR_JSON_ARRAY)
        for (int i = 0; i < list->count; i++)
            if (has_precompiled(&list->items[i])) return 1;
    return 0;
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
    t->has_charsmap = has_precompiled(lavr_json_get(root, "normalizer"));
    return finish_vocab(t);
}

lavr_status lavr_tokenizer_from_json(const char *json_text, lavr_tokenizer **out) {
    CHECK_ARG(json_text && out, "lavr_tokenizer_from_json: NULL argument");
    *out = NULL;
    lavr_json *root = NULL;
    TRY(lavr_json_parse(json_text, &root));
    lavr_tokenizer *t = calloc(1, sizeof *t);
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

enum { SP_NORMAL = 1, SP_UNKNOWN = 2, SP_CONTROL = 3, SP_USER_DEFINED = 4, SP_UNUSED = 5, SP_BYTE = 6 };

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
    if (type == SP_UNKNOWN) t->unk_id = id;
    /* Control, unused and byte pieces never match text (byte fallback is not supported). */
    t->matchable[id] = (type == SP_NORMAL || type == SP_USER_DEFINED) && t->piece_len[id] > 0;
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
    r.p = data;
    int64_t id = 0;
    while (pb_field(&r, &field, &wire, &payload, &value)) {
        if (field == 1 && wire == 2) TRY(read_piece(t, id++, payload));
        if (field == 3 && wire == 2) { /* NormalizerSpec: field 2 is the precompiled charsmap */
            pb_reader spec = payload, sub;
            while (pb_field(&spec, &field, &wire, &sub, &value))
                if (field == 2 && wire == 2 && sub.end > sub.p) t->has_charsmap = 1;
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
    lavr_tokenizer *t = calloc(1, sizeof *t);
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
    free(tok->pieces), free(tok->piece_len), free(tok->scores), free(tok->matchable), free(tok->slots);
    free(tok);
}

int64_t lavr_tokenizer_vocab_size(const lavr_tokenizer *tok) { return tok->n_pieces; }
int64_t lavr_tokenizer_unk_id(const lavr_tokenizer *tok) { return tok->unk_id; }
int64_t lavr_tokenizer_eos_id(const lavr_tokenizer *tok) { return tok->eos_id; }
int lavr_tokenizer_has_charsmap(const lavr_tokenizer *tok) { return tok->has_charsmap; }
const char *lavr_tokenizer_piece(const lavr_tokenizer *tok, int64_t id) {
    return id >= 0 && id < tok->n_pieces ? tok->pieces[id] : NULL;
}

/* ---- segmentation -------------------------------------------------------------------------------------- */

typedef struct {
    int64_t *ids;
    int64_t n, limit;
} id_list;

/* Best segmentation of one '▁'-prefixed word (UTF-8 in word, character starts in offsets[0..m]).
 * Nodes are relaxed in order of their start, and a node replaces the best path into its end only
 * when strictly better: on equal scores the path whose last piece starts earliest wins, which is
 * the tie rule of SentencePiece's and HF's lattice Viterbi. Consecutive unknowns fuse into one. */
static lavr_status viterbi_word(const lavr_tokenizer *t, const char *word, const int64_t *offsets, int64_t m,
                                id_list *out) {
    double *best = malloc((size_t)(m + 1) * sizeof *best);
    int64_t *from = malloc((size_t)(m + 1) * sizeof *from), *piece = malloc((size_t)(m + 1) * sizeof *piece);
    int64_t *path = malloc((size_t)(m + 1) * sizeof *path);
    if (!best || !from || !piece || !path) {
        free(best), free(from), free(piece), free(path);
        return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for a word of %lld characters", (long long)m);
    }
    for (int64_t i = 0; i <= m; i++) from[i] = -1;
    best[0] = 0;
    for (int64_t b = 0; b < m; b++) {
        int single = 0;
        for (int64_t e = b + 1; e <= m && offsets[e] - offsets[b] <= t->max_piece_bytes; e++) {
            int64_t id = lookup_piece(t, word + offsets[b], offsets[e] - offsets[b]);
            if (id < 0 || !t->matchable[id]) continue;
            single |= e == b + 1;
            double score = best[b] + t->scores[id];
            if (from[e] < 0 || score > best[e]) best[e] = score, from[e] = b, piece[e] = id;
        }
        if (!single) {
            double score = best[b] + t->unk_score;
            if (from[b + 1] < 0 || score > best[b + 1]) best[b + 1] = score, from[b + 1] = b, piece[b + 1] = t->unk_id;
        }
    }
    int64_t count = 0;
    for (int64_t e = m; e > 0; e = from[e]) path[count++] = piece[e];
    for (int64_t k = count - 1; k >= 0 && out->n < out->limit; k--) {
        int64_t id = path[k];
        if (id == t->unk_id && k < count - 1 && path[k + 1] == t->unk_id) continue;
        out->ids[out->n++] = id;
    }
    free(best), free(from), free(piece), free(path);
    return LAVR_OK;
}

lavr_status lavr_tokenizer_encode(const lavr_tokenizer *tok, const char *text, int64_t max_len, int64_t *ids,
                                  int64_t *n) {
    CHECK_ARG(tok && text && ids && n, "lavr_tokenizer_encode: NULL argument");
    CHECK_ARG(max_len >= 1, "lavr_tokenizer_encode: max_len %lld leaves no room for EOS", (long long)max_len);
    cpbuf cp = {0};
    lavr_status st = decode_utf8(text, &cp);
    if (!st) st = clean_codepoints(&cp);
    if (!st) st = normalize_codepoints(&cp);
    char *word = malloc((size_t)(4 * cp.n + 8));
    int64_t *offsets = malloc((size_t)(cp.n + 2) * sizeof *offsets);
    if (!st && (!word || !offsets)) st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory for text of %lld characters", (long long)cp.n);
    id_list list = {ids, 0, max_len - 1};
    /* Metaspace pre-tokenizer: each space-separated word is segmented alone, prefixed with '▁'. */
    for (int64_t start = 0; !st && start < cp.n && list.n < list.limit;) {
        int64_t end = start;
        while (end < cp.n && cp.cp[end] != ' ') end++;
        int64_t m = 0, len = 0;
        offsets[m++] = 0;
        len += utf8_put(META_SPACE, word);
        for (int64_t i = start; i < end; i++) {
            offsets[m++] = len;
            len += utf8_put(cp.cp[i], word + len);
        }
        offsets[m] = len;
        st = viterbi_word(tok, word, offsets, m, &list);
        start = end + 1;
    }
    free(word), free(offsets), free(cp.cp);
    if (st) return st;
    ids[list.n++] = tok->eos_id;
    *n = list.n;
    return LAVR_OK;
}
