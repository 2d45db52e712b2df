/* Character tables for prompt cleaning (models/prompt_clean.c, models/nfc.c), generated into
 * models/text_tables.c by scripts/gen_text_tables.py from Python's html.entities.html5 and unicodedata. */
#ifndef LAVR_MODELS_TEXT_TABLES_H
#define LAVR_MODELS_TEXT_TABLES_H

#include <stdint.h>

typedef struct {
    const char *name; /* without '&', with ';' where the reference has one; sorted by strcmp */
    uint32_t cp[3];   /* the replacement, 0-terminated when shorter than 3 */
} lavr_text_entity;

/* HTML5 named character references (2231: names with ';' and the legacy ones without). */
extern const lavr_text_entity lavr_html5_entities[];
extern const int lavr_html5_entity_count;
/* ftfy's extra names: an all-lowercase name with ';', uppercased, decodes to the uppercased value. */
extern const lavr_text_entity lavr_ftfy_upper_entities[];
extern const int lavr_ftfy_upper_entity_count;
/* ftfy's width map: {code point, replacement (0-terminated, up to 3)} for U+FF01..U+FFEF, ascending. */
extern const uint32_t lavr_ftfy_width_map[][4];
extern const int lavr_ftfy_width_count;

/* NFC: {first, last, class} ranges of nonzero canonical combining class, ascending; canonical
 * decompositions {code point, first, second or 0}, ascending (Hangul syllables are algorithmic); primary
 * composites {first, second, composite}, ascending by (first, second). */
extern const uint32_t lavr_nfc_ccc[][3];
extern const int lavr_nfc_ccc_count;
extern const uint32_t lavr_nfc_decomp[][3];
extern const int lavr_nfc_decomp_count;
extern const uint32_t lavr_nfc_compose[][3];
extern const int lavr_nfc_compose_count;

#endif
