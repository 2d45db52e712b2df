/* Recursive-descent JSON parser into a small tree of lavr_json nodes; strict enough to reject
 * truncated or corrupt text with the offset of the problem. Also the string writer of core/json.h. */
#include "core/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *text, *p;
    int depth;
} parser;

static lavr_status parse_value(parser *ps, lavr_json *out);

static void skip_ws(parser *ps) {
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') ps->p++;
}

static lavr_status syntax(parser *ps, const char *what) {
    return LAVR_FAIL(LAVR_E_FORMAT, "invalid JSON at byte %ld: %s", (long)(ps->p - ps->text), what);
}

static void put_utf8(char **o, uint32_t cp) {
    unsigned char *q = (unsigned char *)*o;
    if (cp < 0x80) *q++ = (unsigned char)cp;
    else if (cp < 0x800) *q++ = (unsigned char)(0xc0 | (cp >> 6)), *q++ = (unsigned char)(0x80 | (cp & 0x3f));
    else if (cp < 0x10000)
        *q++ = (unsigned char)(0xe0 | (cp >> 12)), *q++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f)),
        *q++ = (unsigned char)(0x80 | (cp & 0x3f));
    else
        *q++ = (unsigned char)(0xf0 | (cp >> 18)), *q++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f)),
        *q++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f)), *q++ = (unsigned char)(0x80 | (cp & 0x3f));
    *o = (char *)q;
}

static int hex4(const char *p, uint32_t *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        *v = *v * 16 + (uint32_t)d;
    }
    return 0;
}

static lavr_status parse_string(parser *ps, char **out) {
    ps->p++; /* opening quote */
    const char *start = ps->p;
    size_t len = 0;
    while (*ps->p && *ps->p != '"') {
        if (*ps->p == '\\' && ps->p[1]) ps->p++;
        ps->p++, len++;
    }
    if (*ps->p != '"') return syntax(ps, "unterminated string");
    char *s = malloc(len * 4 + 1), *o = s;
    if (!s) return LAVR_FAIL(LAVR_E_NOMEM, "JSON string of %zu bytes", len);
    for (const char *q = start; q < ps->p; q++) {
        if (*q != '\\') {
            *o++ = *q;
            continue;
        }
        q++;
        switch (*q) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u': {
            uint32_t cp, lo;
            if (q + 4 >= ps->p + 1 || hex4(q + 1, &cp)) {
                free(s);
                return syntax(ps, "bad \\u escape");
            }
            q += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && q[1] == '\\' && q[2] == 'u' && !hex4(q + 3, &lo) && lo >= 0xdc00 &&
                lo < 0xe000) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                q += 6;
            }
            put_utf8(&o, cp);
            break;
        }
        default: *o++ = *q; break; /* \" \\ \/ */
        }
    }
    *o = 0;
    ps->p++;
    *out = s;
    return LAVR_OK;
}

static lavr_status parse_container(parser *ps, lavr_json *out, int is_object) {
    char close = is_object ? '}' : ']';
    out->type = is_object ? LAVR_JSON_OBJECT : LAVR_JSON_ARRAY;
    ps->p++;
    skip_ws(ps);
    int cap = 0;
    if (*ps->p == close) {
        ps->p++;
        return LAVR_OK;
    }
    for (;;) {
        if (out->count == cap) {
            cap = cap ? cap * 2 : 8;
            lavr_json *items = realloc(out->items, (size_t)cap * sizeof *items);
            if (!items) return LAVR_FAIL(LAVR_E_NOMEM, "JSON container of %d items", cap);
            out->items = items;
            if (is_object) {
                char **keys = realloc(out->keys, (size_t)cap * sizeof *keys);
                if (!keys) return LAVR_FAIL(LAVR_E_NOMEM, "JSON object of %d keys", cap);
                out->keys = keys;
            }
        }
        lavr_json *item = &out->items[out->count];
        memset(item, 0, sizeof *item);
        if (is_object) {
            skip_ws(ps);
            if (*ps->p != '"') return syntax(ps, "expected a key");
            TRY(parse_string(ps, &out->keys[out->count]));
            skip_ws(ps);
            if (*ps->p != ':') {
                out->count++;
                return syntax(ps, "expected ':'");
            }
            ps->p++;
        }
        out->count++;
        TRY(parse_value(ps, item));
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            return LAVR_OK;
        }
        return syntax(ps, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static lavr_status parse_value(parser *ps, lavr_json *out) {
    if (++ps->depth > 64) return syntax(ps, "nesting deeper than 64");
    skip_ws(ps);
    lavr_status st = LAVR_OK;
    char c = *ps->p;
    if (c == '{' || c == '[') {
        st = parse_container(ps, out, c == '{');
    } else if (c == '"') {
        out->type = LAVR_JSON_STRING;
        st = parse_string(ps, &out->string);
    } else if (strncmp(ps->p, "true", 4) == 0 || strncmp(ps->p, "false", 5) == 0) {
        out->type = LAVR_JSON_BOOL;
        out->number = c == 't';
        ps->p += c == 't' ? 4 : 5;
    } else if (strncmp(ps->p, "null", 4) == 0) {
        out->type = LAVR_JSON_NULL;
        ps->p += 4;
    } else if (c == '-' || (c >= '0' && c <= '9') || strncmp(ps->p, "NaN", 3) == 0 || strncmp(ps->p, "Infinity", 8) == 0) {
        char *end;
        out->type = LAVR_JSON_NUMBER;
        out->number = strtod(ps->p, &end);
        if (end == ps->p) st = syntax(ps, "bad number");
        ps->p = end;
    } else {
        st = syntax(ps, c ? "unexpected character" : "unexpected end of text");
    }
    ps->depth--;
    return st;
}

static void free_children(lavr_json *v) {
    for (int i = 0; i < v->count; i++) {
        free_children(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
}

lavr_status lavr_json_parse(const char *text, lavr_json **out) {
    *out = NULL;
    lavr_json *root = calloc(1, sizeof *root);
    if (!root) return LAVR_FAIL(LAVR_E_NOMEM, "JSON root");
    parser ps = {text, text, 0};
    lavr_status st = parse_value(&ps, root);
    if (!st) {
        skip_ws(&ps);
        if (*ps.p) st = syntax(&ps, "trailing characters after the value");
    }
    if (st) {
        lavr_json_free(root);
        return st;
    }
    *out = root;
    return LAVR_OK;
}

void lavr_json_free(lavr_json *value) {
    if (!value) return;
    free_children(value);
    free(value);
}

const lavr_json *lavr_json_get(const lavr_json *object, const char *key) {
    if (!object || object->type != LAVR_JSON_OBJECT) return NULL;
    for (int i = 0; i < object->count; i++)
        if (strcmp(object->keys[i], key) == 0) return &object->items[i];
    return NULL;
}

static lavr_status need(const lavr_json *object, const char *key, lavr_json_type type, const lavr_json **v) {
    *v = lavr_json_get(object, key);
    if (!*v) return LAVR_FAIL(LAVR_E_FORMAT, "config key '%s' is missing", key);
    if ((*v)->type != type && !(type == LAVR_JSON_NUMBER && (*v)->type == LAVR_JSON_BOOL))
        return LAVR_FAIL(LAVR_E_FORMAT, "config key '%s' has the wrong type", key);
    return LAVR_OK;
}

lavr_status lavr_json_get_int(const lavr_json *object, const char *key, int64_t *out) {
    const lavr_json *v;
    TRY(need(object, key, LAVR_JSON_NUMBER, &v));
    if (v->number != floor(v->number)) return LAVR_FAIL(LAVR_E_FORMAT, "config key '%s' must be an integer", key);
    *out = (int64_t)v->number;
    return LAVR_OK;
}

lavr_status lavr_json_get_number(const lavr_json *object, const char *key, double *out) {
    const lavr_json *v;
    TRY(need(object, key, LAVR_JSON_NUMBER, &v));
    *out = v->number;
    return LAVR_OK;
}

lavr_status lavr_json_get_bool(const lavr_json *object, const char *key, int *out) {
    const lavr_json *v;
    TRY(need(object, key, LAVR_JSON_BOOL, &v));
    *out = v->number != 0;
    return LAVR_OK;
}

lavr_status lavr_json_get_int_array(const lavr_json *object, const char *key, int64_t *out, int max, int *count) {
    const lavr_json *v;
    TRY(need(object, key, LAVR_JSON_ARRAY, &v));
    if (v->count > max) return LAVR_FAIL(LAVR_E_FORMAT, "config key '%s' has %d entries, at most %d supported", key, v->count, max);
    for (int i = 0; i < v->count; i++) {
        const lavr_json *e = &v->items[i];
        if (e->type != LAVR_JSON_NUMBER && e->type != LAVR_JSON_BOOL)
            return LAVR_FAIL(LAVR_E_FORMAT, "config key '%s' entry %d is not a number", key, i);
        out[i] = (int64_t)e->number;
    }
    *count = v->count;
    return LAVR_OK;
}

void lavr_json_write_string(FILE *f, const char *s) {
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}
