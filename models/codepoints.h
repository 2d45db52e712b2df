/* Growable buffers of Unicode code points and strict UTF-8 decoding/encoding, shared by the prompt
 * cleaning (models/prompt_clean.c) and the tokenizer (models/tokenizer.c). */
#ifndef LAVR_MODELS_CODEPOINTS_H
#define LAVR_MODELS_CODEPOINTS_H

#include <stdint.h>

#include "core/status.h"

typedef struct {
    uint32_t *cp;
    int64_t n, cap;
} lavr_cpbuf;

lavr_status lavr_cp_push(lavr_cpbuf *b, uint32_t c);
/* Appends a 0-terminated array of at most max code points. */
lavr_status lavr_cp_push_n(lavr_cpbuf *b, const uint32_t *cps, int max);
/* Replaces *b by *with (b's storage freed; *with left empty). */
void lavr_cp_swap_in(lavr_cpbuf *b, lavr_cpbuf *with);
/* Appends the code points of a 0-terminated UTF-8 string; invalid UTF-8 (overlong, surrogates, beyond
 * U+10FFFF, truncated) is a LAVR_E_ARG error naming the byte offset. */
lavr_status lavr_utf8_decode(const char *text, lavr_cpbuf *out);
/* Writes c as UTF-8 into dst (room for 4 bytes), returns the byte count. */
int lavr_utf8_put(uint32_t c, char *dst);
/* malloc'd 0-terminated UTF-8 of the buffer. */
lavr_status lavr_utf8_encode(const lavr_cpbuf *b, char **out);

#endif
