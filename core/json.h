/* A small JSON reader for configuration text: the `config` attributes of model and golden files
 * (official constructor arguments), HF config.json files and safetensors headers; and the one helper
 * writers of JSON (render summary, trace) need: a quoted, escaped string. */
#ifndef LAVR_JSON_H
#define LAVR_JSON_H

#include <stdint.h>
#include <stdio.h>

#include "core/status.h"

typedef enum { LAVR_JSON_NULL, LAVR_JSON_BOOL, LAVR_JSON_NUMBER, LAVR_JSON_STRING, LAVR_JSON_ARRAY, LAVR_JSON_OBJECT } lavr_json_type;

typedef struct lavr_json {
    lavr_json_type type;
    double number;             /* NUMBER; BOOL: 0 or 1 */
    char *string;              /* STRING (UTF-8, unescaped) */
    int count;                 /* ARRAY / OBJECT: number of items */
    struct lavr_json *items;   /* ARRAY / OBJECT values */
    char **keys;               /* OBJECT keys */
} lavr_json;

/* Parses text; on error the message names the byte offset. *out must be freed with lavr_json_free. */
lavr_status lavr_json_parse(const char *text, lavr_json **out);
void lavr_json_free(lavr_json *value);
/* The value under key in an object, or NULL. */
const lavr_json *lavr_json_get(const lavr_json *object, const char *key);

/* Typed lookups with one-line errors naming the key ("config key 'dim' is missing"). */
lavr_status lavr_json_get_int(const lavr_json *object, const char *key, int64_t *out);
lavr_status lavr_json_get_number(const lavr_json *object, const char *key, double *out);
lavr_status lavr_json_get_bool(const lavr_json *object, const char *key, int *out);
/* Integer array (booleans count as 0/1) of at most max entries; *count receives the length. */
lavr_status lavr_json_get_int_array(const lavr_json *object, const char *key, int64_t *out, int max, int *count);

/* Writes s as a JSON string ("..." with \" \\ and control characters escaped; NULL writes null). */
void lavr_json_write_string(FILE *f, const char *s);

#endif
