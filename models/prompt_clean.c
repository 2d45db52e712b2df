/* Wan's prompt cleaning, step by step as the original runs it: ftfy.fix_text (ftfy 6 defaults), then
 * Python's html.unescape twice, then whitespace runs (str.isspace) to one space, stripped.
 *
 * ftfy.fix_text, reproduced: the text is cut after each '\n' and every piece is fixed until it no longer
 * changes, by these steps in ftfy's order: unescape_html ("&name;" of HTML5 plus ftfy's uppercased names,
 * "&#N;" / "&#xH;"; off from the first piece that holds '<' on), fix_c1_controls (U+0080-U+009F read
 * as Windows-1252), fix_latin_ligatures (ﬁ -> fi, ĳ -> ij, ǆ -> dž, ...), fix_character_width (full- and
 * half-width forms to their NFKC form, U+3000 -> space), uncurl_quotes (‘ ’ ‚ ‛ ʼ -> ', “ ” „ ‟ -> "),
 * fix_line_breaks (CR LF, CR, U+2028, U+2029 -> LF), remove_terminal_escapes (ESC [ digits/; letter),
 * remove_control_chars (C0 controls but TAB LF FF CR, DEL, U+206A-206F, BOM, U+FFF9-FFFC), then NFC
 * (models/nfc.c). Not reproduced: fix_encoding (mojibake detection, a heuristic over character classes that
 * does not fire on text without mojibake, with restore_byte_a0, replace_lossy_sequences and
 * decode_inconsistent_utf8). Tables: models/text_tables.c (generated from Python's data). */
#include "models/prompt_clean.h"

#include <stdlib.h>
#include <string.h>

#include "models/codepoints.h"
#include "models/nfc.h"
#include "models/text_tables.h"

#define FTFY_MAX_SEGMENT 1000000 /* ftfy's max_decode_length: longer lines are cut there */

/* Windows-1252 for bytes 0x80-0x9f; undefined bytes keep their Latin-1 meaning (ftfy's "sloppy"
 * codec, and Python's html.unescape for numeric references to C1 code points). */
static const uint16_t cp1252_c1[32] = {
    0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008d, 0x017d, 0x008f, 0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178};

/* ---- entity tables ------------------------------------------------------------------------------ */

/* The entry whose name equals the code points c[0..len) (ASCII), or NULL. */
static const lavr_text_entity *find_name(const lavr_text_entity *table, int count, const uint32_t *c, int64_t len) {
    char name[40];
    if (len <= 0 || len >= (int64_t)sizeof name) return NULL;
    for (int64_t k = 0; k < len; k++) {
        if (c[k] == 0 || c[k] >= 0x80) return NULL;
        name[k] = (char)c[k];
    }
    name[len] = 0;
    int lo = 0, hi = count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, cmp = strcmp(name, table[mid].name);
        if (cmp == 0) return &table[mid];
        if (cmp < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

static int digit_value(uint32_t c, int base) {
    int v = c >= '0' && c <= '9' ? (int)(c - '0') : c >= 'a' && c <= 'f' ? (int)(c - 'a' + 10)
          : c >= 'A' && c <= 'F' ? (int)(c - 'A' + 10) : 99;
    return v < base ? v : -1;
}

/* Python's html._replace_charref for a number (num > 0x10ffff when it overflowed): the character, or
 * none (*n = 0) for references to controls and noncharacters. */
static int charref_value(uint64_t num, uint32_t *out) {
    if (num == 0) return *out = 0xfffd, 1;
    if (num == 0x0d) return *out = 0x0d, 1;
    if (num >= 0x80 && num <= 0x9f) return *out = cp1252_c1[num - 0x80], 1;
    if (num > 0x10ffff || (num >= 0xd800 && num <= 0xdfff)) return *out = 0xfffd, 1;
    if ((num >= 0x1 && num <= 0x8) || num == 0xb || (num >= 0xe && num <= 0x1f) || (num >= 0x7f && num <= 0x9f) ||
        (num >= 0xfdd0 && num <= 0xfdef) || (num & 0xfffe) == 0xfffe)
        return 0;
    return *out = (uint32_t)num, 1;
}

/* Digits of base from c[k..n) into *num (saturating past U+10FFFF); returns how many. */
static int64_t read_number(const uint32_t *c, int64_t k, int64_t n, int base, uint64_t *num) {
    int64_t start = k;
    int d;
    *num = 0;
    while (k < n && (d = digit_value(c[k], base)) >= 0) {
        *num = *num * (uint64_t)base + (uint64_t)d;
        if (*num > 0x10ffff) *num = 0x110000;
        k++;
    }
    return k - start;
}

/* ---- Python's html.unescape ----------------------------------------------------------------------- */

/* One pass: '&' then "#digits;?", "#xhex;?" or up to 32 characters other than TAB LF FF space < & # ;
 * with an optional ';' -- a name of the HTML5 table, else its longest prefix (2 characters or more)
 * that is a name (the legacy ones without ';'), the rest literal. */
static lavr_status html_unescape(const lavr_cpbuf *in, lavr_cpbuf *out) {
    const uint32_t *c = in->cp;
    int64_t n = in->n, i = 0;
    while (i < n) {
        if (c[i] != '&') {
            TRY(lavr_cp_push(out, c[i++]));
            continue;
        }
        int64_t j = i + 1;
        if (j < n && c[j] == '#') {
            int64_t k = j + 1;
            int base = 10;
            if (k < n && (c[k] == 'x' || c[k] == 'X')) base = 16, k++;
            uint64_t num;
            int64_t digits = read_number(c, k, n, base, &num);
            if (digits > 0) {
                k += digits;
                if (k < n && c[k] == ';') k++;
                uint32_t v;
                if (charref_value(num, &v)) TRY(lavr_cp_push(out, v));
                i = k;
                continue;
            }
            TRY(lavr_cp_push(out, c[i++])); /* "&#" without digits stays literal */
            continue;
        }
        int64_t k = j;
        while (k < n && k - j < 32 && c[k] != '\t' && c[k] != '\n' && c[k] != '\f' && c[k] != ' ' && c[k] != '<' &&
               c[k] != '&' && c[k] != '#' && c[k] != ';')
            k++;
        if (k == j) {
            TRY(lavr_cp_push(out, c[i++]));
            continue;
        }
        int64_t len = k - j + (k < n && c[k] == ';'); /* the name with its ';' */
        const lavr_text_entity *e = find_name(lavr_html5_entities, lavr_html5_entity_count, c + j, len);
        int64_t used = len;
        for (int64_t x = len - 1; !e && x >= 2; x--)
            if ((e = find_name(lavr_html5_entities, lavr_html5_entity_count, c + j, x)) != NULL) used = x;
        if (!e) {
            TRY(lavr_cp_push(out, c[i++]));
            continue;
        }
        TRY(lavr_cp_push_n(out, e->cp, 3));
        i = j + used;
    }
    return LAVR_OK;
}

/* ---- ftfy.fix_text ----------------------------------------------------------------------------------- */

static int is_alnum_ascii(uint32_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* ftfy's unescape_html: every match of &#?[0-9A-Za-z]{1,24}; that is an HTML5 name with ';' (or
 * ftfy's uppercased one), or a number html.unescape reads whole, is replaced. */
static lavr_status ftfy_unescape(const lavr_cpbuf *in, lavr_cpbuf *out) {
    const uint32_t *c = in->cp;
    int64_t n = in->n, i = 0;
    while (i < n) {
        int64_t j = i + 1, k;
        if (c[i] != '&') goto literal;
        int numeric = j < n && c[j] == '#';
        k = j + numeric;
        while (k < n && k - (j + numeric) < 25 && is_alnum_ascii(c[k])) k++;
        int64_t run = k - (j + numeric);
        if (run < 1 || run > 24 || k >= n || c[k] != ';') goto literal;
        if (!numeric) {
            const lavr_text_entity *e = find_name(lavr_html5_entities, lavr_html5_entity_count, c + j, run + 1);
            if (!e) e = find_name(lavr_ftfy_upper_entities, lavr_ftfy_upper_entity_count, c + j, run + 1);
            if (!e) goto literal;
            TRY(lavr_cp_push_n(out, e->cp, 3));
            i = k + 1;
            continue;
        }
        /* "&#digits;" or "&#xhex;" read whole by html.unescape; a result holding ';' (&#59;) is kept as is */
        int64_t d = j + 1;
        int base = 10;
        if (c[d] == 'x' || c[d] == 'X') base = 16, d++;
        uint64_t num;
        if (d == k || read_number(c, d, k, base, &num) != k - d) goto literal;
        uint32_t v;
        int has = charref_value(num, &v);
        if (has && v == ';') goto literal;
        if (has) TRY(lavr_cp_push(out, v));
        i = k + 1;
        continue;
    literal:
        TRY(lavr_cp_push(out, c[i++]));
    }
    return LAVR_OK;
}

static const struct {
    uint32_t from, to[3];
} ligatures[] = {
    {0x0132, {'I', 'J'}},       {0x0133, {'i', 'j'}},       {0x0149, {0x02bc, 'n'}},    {0x01c4, {'D', 0x017d}},
    {0x01c5, {'D', 0x017e}},    {0x01c6, {'d', 0x017e}},    {0x01c7, {'L', 'J'}},       {0x01c8, {'L', 'j'}},
    {0x01c9, {'l', 'j'}},       {0x01ca, {'N', 'J'}},       {0x01cb, {'N', 'j'}},       {0x01cc, {'n', 'j'}},
    {0x01f1, {'D', 'Z'}},       {0x01f2, {'D', 'z'}},       {0x01f3, {'d', 'z'}},       {0xfb00, {'f', 'f'}},
    {0xfb01, {'f', 'i'}},       {0xfb02, {'f', 'l'}},       {0xfb03, {'f', 'f', 'i'}},  {0xfb04, {'f', 'f', 'l'}},
    {0xfb05, {0x017f, 't'}},    {0xfb06, {'s', 't'}},
};

static const uint32_t *width_form(uint32_t c) {
    static const uint32_t space[3] = {' ', 0, 0};
    if (c == 0x3000) return space;
    int lo = 0, hi = lavr_ftfy_width_count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (lavr_ftfy_width_map[mid][0] == c) return &lavr_ftfy_width_map[mid][1];
        if (lavr_ftfy_width_map[mid][0] < c) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

static int is_ftfy_control(uint32_t c) {
    return c <= 0x08 || c == 0x0b || (c >= 0x0e && c <= 0x1f) || c == 0x7f || (c >= 0x206a && c <= 0x206f) ||
           c == 0xfeff || (c >= 0xfff9 && c <= 0xfffc);
}

enum { STEP_C1, STEP_LIGATURES, STEP_WIDTH, STEP_QUOTES, STEP_LINE_BREAKS, STEP_ESCAPES, STEP_CONTROLS };

/* One of ftfy's character-level fixers over the whole piece. */
static lavr_status ftfy_step(int step, const lavr_cpbuf *in, lavr_cpbuf *out) {
    const uint32_t *c = in->cp;
    for (int64_t i = 0; i < in->n; i++) {
        uint32_t ch = c[i];
        const uint32_t *to = NULL;
        switch (step) {
        case STEP_C1:
            if (ch >= 0x80 && ch <= 0x9f) ch = cp1252_c1[ch - 0x80];
            break;
        case STEP_LIGATURES:
            for (size_t k = 0; k < sizeof ligatures / sizeof ligatures[0]; k++)
                if (ligatures[k].from == ch) to = ligatures[k].to;
            break;
        case STEP_WIDTH: to = width_form(ch); break;
        case STEP_QUOTES:
            if (ch == 0x02bc || (ch >= 0x2018 && ch <= 0x201b)) ch = '\'';
            else if (ch >= 0x201c && ch <= 0x201f) ch = '"';
            break;
        case STEP_LINE_BREAKS:
            if (ch == '\r' && i + 1 < in->n && c[i + 1] == '\n') i++;
            if (ch == '\r' || ch == 0x2028 || ch == 0x2029 || ch == 0x85) ch = '\n';
            break;
        case STEP_ESCAPES:
            if (ch == 0x1b && i + 1 < in->n && c[i + 1] == '[') {
                int64_t k = i + 2;
                while (k < in->n && ((c[k] >= '0' && c[k] <= '9') || c[k] == ';')) k++;
                if (k < in->n && ((c[k] >= 'a' && c[k] <= 'z') || (c[k] >= 'A' && c[k] <= 'Z'))) {
                    i = k;
                    continue;
                }
            }
            break;
        case STEP_CONTROLS:
            if (is_ftfy_control(ch)) continue;
            break;
        }
        if (to) TRY(lavr_cp_push_n(out, to, 3));
        else TRY(lavr_cp_push(out, ch));
    }
    return LAVR_OK;
}

static int same_text(const lavr_cpbuf *a, const lavr_cpbuf *b) {
    return a->n == b->n && (a->n == 0 || memcmp(a->cp, b->cp, (size_t)a->n * sizeof *a->cp) == 0);
}

/* ftfy's fix_and_explain on one piece: all steps, repeated until the piece no longer changes. */
static lavr_status ftfy_piece(lavr_cpbuf *piece, int unescape) {
    lavr_status st = LAVR_OK;
    lavr_cpbuf before = {0}, next = {0};
    for (;;) {
        before.n = 0;
        for (int64_t i = 0; !st && i < piece->n; i++) st = lavr_cp_push(&before, piece->cp[i]);
        if (!st && unescape) st = ftfy_unescape(piece, &next);
        if (!st && unescape) lavr_cp_swap_in(piece, &next);
        for (int step = STEP_C1; !st && step <= STEP_CONTROLS; step++) {
            st = ftfy_step(step, piece, &next);
            if (!st) lavr_cp_swap_in(piece, &next);
        }
        if (!st) st = lavr_nfc(piece);
        if (st || same_text(piece, &before)) break;
    }
    free(before.cp), free(next.cp);
    return st;
}

static lavr_status ftfy_fix_text(lavr_cpbuf *text) {
    lavr_cpbuf out = {0}, piece = {0};
    lavr_status st = LAVR_OK;
    int unescape = 1;
    for (int64_t pos = 0; !st && pos < text->n;) {
        int64_t end = pos;
        while (end < text->n && end - pos < FTFY_MAX_SEGMENT && text->cp[end] != '\n') end++;
        if (end < text->n && end - pos < FTFY_MAX_SEGMENT) end++; /* the piece keeps its '\n' */
        piece.n = 0;
        for (int64_t i = pos; !st && i < end; i++) {
            unescape &= text->cp[i] != '<'; /* ftfy stops unescaping from the first piece with '<' on */
            st = lavr_cp_push(&piece, text->cp[i]);
        }
        if (!st) st = ftfy_piece(&piece, unescape);
        for (int64_t i = 0; !st && i < piece.n; i++) st = lavr_cp_push(&out, piece.cp[i]);
        pos = end;
    }
    free(piece.cp);
    if (st) {
        free(out.cp);
        return st;
    }
    lavr_cp_swap_in(text, &out);
    return LAVR_OK;
}

/* ---- whitespace ------------------------------------------------------------------------------------- */

/* Python's str.isspace(), which both `\s` in re and str.strip() use. */
static int is_py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Runs of whitespace -> one ' ', leading and trailing ones removed; in place. */
static void collapse_spaces(lavr_cpbuf *b) {
    int64_t w = 0;
    int pending = 0;
    for (int64_t r = 0; r < b->n; r++) {
        if (is_py_space(b->cp[r])) {
            pending = w > 0;
            continue;
        }
        if (pending) b->cp[w++] = ' ', pending = 0;
        b->cp[w++] = b->cp[r];
    }
    b->n = w;
}

static lavr_status clean_codepoints(lavr_cpbuf *text) {
    TRY(ftfy_fix_text(text));
    for (int pass = 0; pass < 2; pass++) {
        lavr_cpbuf unescaped = {0};
        lavr_status st = html_unescape(text, &unescaped);
        if (st) {
            free(unescaped.cp);
            return st;
        }
        lavr_cp_swap_in(text, &unescaped);
    }
    collapse_spaces(text);
    return LAVR_OK;
}

static lavr_status run_stage(const char *text, lavr_status (*stage)(lavr_cpbuf *), char **out) {
    CHECK_ARG(text && out, "text stage: NULL argument");
    *out = NULL;
    lavr_cpbuf b = {0};
    lavr_status st = lavr_utf8_decode(text, &b);
    if (!st) st = stage(&b);
    if (!st) st = lavr_utf8_encode(&b, out);
    free(b.cp);
    return st;
}

lavr_status lavr_text_clean(const char *text, char **out) { return run_stage(text, clean_codepoints, out); }
lavr_status lavr_text_ftfy(const char *text, char **out) { return run_stage(text, ftfy_fix_text, out); }
