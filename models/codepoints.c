/* Code point buffers and UTF-8 (models/codepoints.h): strict decoding as Python's str() of UTF-8
 * bytes accepts them, so a prompt means the same code points here as in the original. */
#include "models/codepoints.h"

#include <stdlib.h>
#include <string.h>

lavr_status lavr_cp_push(lavr_cpbuf *b, uint32_t c) {
    if (b->n == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 64;
        uint32_t *grown = realloc(b->cp, (size_t)cap * sizeof *grown);
        if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for text of %lld characters", (long long)cap);
        b->cp = grown, b->cap = cap;
    }
    b->cp[b->n++] = c;
    return LAVR_OK;
}

lavr_status lavr_cp_push_n(lavr_cpbuf *b, const uint32_t *cps, int max) {
    for (int k = 0; k < max && cps[k]; k++) TRY(lavr_cp_push(b, cps[k]));
    return LAVR_OK;
}

void lavr_cp_swap_in(lavr_cpbuf *b, lavr_cpbuf *with) {
    free(b->cp);
    *b = *with;
    memset(with, 0, sizeof *with);
}

lavr_status lavr_utf8_decode(const char *text, lavr_cpbuf *out) {
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
        TRY(lavr_cp_push(out, c));
        i += extra + 1;
    }
    return LAVR_OK;
}

int lavr_utf8_put(uint32_t c, char *dst) {
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

lavr_status lavr_utf8_encode(const lavr_cpbuf *b, char **out) {
    char *s = malloc((size_t)(4 * b->n + 1));
    if (!s) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for text of %lld characters", (long long)b->n);
    int64_t len = 0;
    for (int64_t i = 0; i < b->n; i++) len += lavr_utf8_put(b->cp[i], s + len);
    s[len] = 0;
    *out = s;
    return LAVR_OK;
}
