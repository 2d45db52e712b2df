/* The subset of Python's pickle that torch state dicts use (protocol 2, plus the few protocol 4
 * opcodes newer writers emit): values are built as a tree; calls other than OrderedDict() stay
 * unevaluated (callable + arguments) for the torch layer to interpret. */
#ifndef LAVR_IO_TORCHZIP_PICKLE_H
#define LAVR_IO_TORCHZIP_PICKLE_H

#include <stdint.h>

#include "core/status.h"

typedef enum {
    LAVR_PK_NONE,
    LAVR_PK_BOOL,   /* i = 0/1 */
    LAVR_PK_INT,    /* i */
    LAVR_PK_FLOAT,  /* f */
    LAVR_PK_STR,    /* s (UTF-8 or bytes) */
    LAVR_PK_TUPLE,  /* items[0..n) */
    LAVR_PK_LIST,   /* items[0..n) */
    LAVR_PK_DICT,   /* keys items[2k], values items[2k+1], k < n/2, in insertion order */
    LAVR_PK_GLOBAL, /* s = "module.name" */
    LAVR_PK_PERSID, /* items[0] = the persistent id (torch: ('storage', type, key, location, numel)) */
    LAVR_PK_CALL,   /* items[0] = callable, items[1] = argument tuple */
} lavr_pk_type;

typedef struct lavr_pk_value {
    lavr_pk_type type;
    int64_t i;
    double f;
    char *s;
    int n, cap;
    struct lavr_pk_value **items;
} lavr_pk_value;

typedef struct lavr_pickle lavr_pickle;

/* Runs the pickle program in data[0..size). `what` names it in errors ("x.pth: data.pkl"), which
 * give the opcode and byte offset. *root is owned by *out. */
lavr_status lavr_pickle_load(const unsigned char *data, int64_t size, const char *what, lavr_pickle **out,
                             const lavr_pk_value **root);
void lavr_pickle_free(lavr_pickle *p);

#endif
