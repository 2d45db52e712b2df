/* NFC as UAX #15 defines it, written by hand: the only Unicode libraries in Debian (ICU, libunistring,
 * utf8proc) follow their own Unicode versions, while the original's NFC is Python's; the tables here are
 * generated from Python's unicodedata, so both agree code point for code point. Hangul syllables are
 * decomposed and composed arithmetically. */
#include "models/nfc.h"

#include <stdlib.h>

#include "models/text_tables.h"

enum { S_BASE = 0xac00, L_BASE = 0x1100, V_BASE = 0x1161, T_BASE = 0x11a7, L_COUNT = 19, V_COUNT = 21, T_COUNT = 28,
       N_COUNT = V_COUNT * T_COUNT, S_COUNT = L_COUNT * N_COUNT };

static int ccc(uint32_t c) {
    int lo = 0, hi = lavr_nfc_ccc_count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c < lavr_nfc_ccc[mid][0]) hi = mid - 1;
        else if (c > lavr_nfc_ccc[mid][1]) lo = mid + 1;
        else return (int)lavr_nfc_ccc[mid][2];
    }
    return 0;
}

static const uint32_t *decomposition(uint32_t c) {
    int lo = 0, hi = lavr_nfc_decomp_count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c == lavr_nfc_decomp[mid][0]) return &lavr_nfc_decomp[mid][1];
        if (c < lavr_nfc_decomp[mid][0]) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

/* The primary composite of a + b, or 0. */
static uint32_t compose(uint32_t a, uint32_t b) {
    if (a >= L_BASE && a < L_BASE + L_COUNT && b >= V_BASE && b < V_BASE + V_COUNT)
        return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
    if (a >= S_BASE && a < S_BASE + S_COUNT && (a - S_BASE) % T_COUNT == 0 && b > T_BASE && b < T_BASE + T_COUNT)
        return a + (b - T_BASE);
    int lo = 0, hi = lavr_nfc_compose_count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const uint32_t *e = lavr_nfc_compose[mid];
        if (a == e[0] && b == e[1]) return e[2];
        if (a < e[0] || (a == e[0] && b < e[1])) hi = mid - 1;
        else lo = mid + 1;
    }
    return 0;
}

/* Full canonical decomposition of c appended to out (decompositions nest at most a few levels). */
static lavr_status decompose(uint32_t c, lavr_cpbuf *out) {
    if (c >= S_BASE && c < S_BASE + S_COUNT) {
        uint32_t s = c - S_BASE, t = s % T_COUNT;
        TRY(lavr_cp_push(out, L_BASE + s / N_COUNT));
        TRY(lavr_cp_push(out, V_BASE + (s % N_COUNT) / T_COUNT));
        return t ? lavr_cp_push(out, T_BASE + t) : LAVR_OK;
    }
    const uint32_t *d = decomposition(c);
    if (!d) return lavr_cp_push(out, c);
    TRY(decompose(d[0], out));
    return d[1] ? decompose(d[1], out) : LAVR_OK;
}

lavr_status lavr_nfc(lavr_cpbuf *text) {
    int plain = 1; /* below U+0300 nothing decomposes, combines or composes */
    for (int64_t i = 0; plain && i < text->n; i++) plain = text->cp[i] < 0x300;
    if (plain) return LAVR_OK;
    lavr_cpbuf d = {0};
    lavr_status st = LAVR_OK;
    for (int64_t i = 0; !st && i < text->n; i++) st = decompose(text->cp[i], &d);
    if (st) {
        free(d.cp);
        return st;
    }
    /* canonical ordering: a stable sort of each run of nonzero classes */
    for (int64_t i = 1; i < d.n; i++) {
        int c = ccc(d.cp[i]);
        for (int64_t k = i; c && k > 0 && ccc(d.cp[k - 1]) > c; k--) {
            uint32_t t = d.cp[k - 1];
            d.cp[k - 1] = d.cp[k], d.cp[k] = t;
        }
    }
    /* composition: a character joins the last starter unless something between blocks it (a class of 0,
     * or one not below its own) */
    int64_t w = 0, starter = -1;
    int last = -1; /* class of the last character kept after the starter; -1: none yet */
    for (int64_t i = 0; i < d.n; i++) {
        uint32_t c = d.cp[i];
        int cc = ccc(c);
        uint32_t joined = starter >= 0 && (last == -1 || (last != 0 && last < cc)) ? compose(d.cp[starter], c) : 0;
        if (joined) {
            d.cp[starter] = joined;
            continue;
        }
        if (cc == 0) starter = w, last = -1;
        else last = cc;
        d.cp[w++] = c;
    }
    d.n = w;
    lavr_cp_swap_in(text, &d);
    return LAVR_OK;
}
