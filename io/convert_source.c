/* Source tensor sets of the converter (io/convert_source.h): collected from safetensors files or
 * torch zips under their official names, and checked name by name against an inventory. */
#include "io/convert_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lavr_status add(lavr_cv_set *set, const char *file_name, lavr_cv_rename_fn rename, const char *path,
                       lavr_cv_tensor *t) {
    char name[256];
    if (rename) {
        if (!rename(file_name, name, sizeof name)) return LAVR_OK;
    } else if (snprintf(name, sizeof name, "%s", file_name) >= (int)sizeof name) {
        return LAVR_FAIL(LAVR_E_FORMAT, "'%s': tensor name too long: %.60s...", path, file_name);
    }
    if (lavr_cv_find(set, name)) return LAVR_FAIL(LAVR_E_FORMAT, "'%s': tensor '%s' appears twice (as '%s')", path, name, file_name);
    if (set->count == set->cap) {
        int cap = set->cap ? set->cap * 2 : 256;
        lavr_cv_tensor *items = realloc(set->items, (size_t)cap * sizeof *items);
        if (!items) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
        set->items = items, set->cap = cap;
    }
    if (!(t->name = strdup(name))) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    set->items[set->count++] = *t;
    return LAVR_OK;
}

lavr_status lavr_cv_add_safetensors(lavr_cv_set *set, const lavr_safetensors *st, lavr_cv_rename_fn rename) {
    for (int i = 0; i < lavr_st_count(st); i++) {
        const lavr_st_tensor *s = lavr_st_tensor_at(st, i);
        lavr_cv_tensor t = {.dtype = s->dtype, .ndim = s->ndim, .st = st, .st_tensor = s};
        memcpy(t.shape, s->shape, sizeof t.shape);
        TRY(add(set, s->name, rename, lavr_st_path(st), &t));
    }
    return LAVR_OK;
}

lavr_status lavr_cv_add_torchzip(lavr_cv_set *set, lavr_torchzip *tz, lavr_cv_rename_fn rename) {
    for (int i = 0; i < lavr_tz_count(tz); i++) {
        const lavr_tz_tensor *s = lavr_tz_tensor_at(tz, i);
        lavr_cv_tensor t = {.dtype = s->dtype, .ndim = s->ndim, .tz = tz, .tz_tensor = s};
        memcpy(t.shape, s->shape, sizeof t.shape);
        TRY(add(set, s->name, rename, "torch checkpoint", &t));
    }
    return LAVR_OK;
}

void lavr_cv_set_free(lavr_cv_set *set) {
    for (int i = 0; i < set->count; i++) free(set->items[i].name);
    free(set->items);
    memset(set, 0, sizeof *set);
}

const lavr_cv_tensor *lavr_cv_find(const lavr_cv_set *set, const char *name) {
    for (int i = 0; i < set->count; i++)
        if (strcmp(set->items[i].name, name) == 0) return &set->items[i];
    return NULL;
}

lavr_status lavr_cv_read_rows(const lavr_cv_tensor *t, int64_t row0, int64_t nrows, void *dst) {
    if (t->st) return lavr_st_read_rows(t->st, t->st_tensor, row0, nrows, dst);
    return lavr_tz_read_rows(t->tz, t->tz_tensor, row0, nrows, dst);
}

/* ---- the inventory check ------------------------------------------------------------------- */

#define LIST_MAX 6 /* names printed per category before "and N more" */

typedef struct {
    const lavr_cv_set *set;
    char *used;
    char missing[LIST_MAX * 170], shapes[LIST_MAX * 370];
    int n_missing, n_shapes;
} checker;

static void shape_text(int ndim, const int64_t *shape, char *buf, size_t cap) {
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && len < cap; i++) len += (size_t)snprintf(buf + len, cap - len, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
}

static void append(char *list, size_t cap, int *count, const char *text) {
    if (*count < LIST_MAX) {
        size_t len = strlen(list);
        snprintf(list + len, cap - len, "%s%s", *count ? ", " : "", text);
    }
    (*count)++;
}

static lavr_status check_one(const lavr_tensor_spec *spec, void *user) {
    checker *c = user;
    const lavr_cv_tensor *t = lavr_cv_find(c->set, spec->name);
    if (!t) {
        append(c->missing, sizeof c->missing, &c->n_missing, spec->name);
        return LAVR_OK;
    }
    c->used[t - c->set->items] = 1;
    int same = t->ndim == spec->ndim;
    for (int i = 0; same && i < spec->ndim; i++) same = t->shape[i] == spec->shape[i];
    if (!same) {
        char got[96], want[96], text[360];
        shape_text(t->ndim, t->shape, got, sizeof got);
        shape_text(spec->ndim, spec->shape, want, sizeof want);
        if (snprintf(text, sizeof text, "%s is %s, expected %s", spec->name, got, want) < 0) text[0] = 0;
        append(c->shapes, sizeof c->shapes, &c->n_shapes, text);
    }
    return LAVR_OK;
}

static void more(char *msg, size_t cap, int count) {
    size_t len = strlen(msg);
    if (count > LIST_MAX) snprintf(msg + len, cap - len, " and %d more", count - LIST_MAX);
}

lavr_status lavr_cv_check(const lavr_cv_set *set, const char *what, lavr_cv_inventory_fn inventory, const void *cfg) {
    checker *c = calloc(1, sizeof *c);
    if (!c || !(c->used = calloc((size_t)set->count + 1, 1))) {
        free(c);
        return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    }
    c->set = set;
    lavr_status st = inventory(cfg, check_one, c);
    char unexpected[LIST_MAX * 170] = "";
    int n_unexpected = 0;
    for (int i = 0; i < set->count; i++)
        if (!c->used[i]) append(unexpected, sizeof unexpected, &n_unexpected, set->items[i].name);
    if (!st && (c->n_missing || n_unexpected || c->n_shapes)) {
        char msg[4096] = "";
        size_t len;
        if (c->n_missing) {
            snprintf(msg, sizeof msg, "%d missing: %s", c->n_missing, c->missing);
            more(msg, sizeof msg, c->n_missing);
        }
        if (n_unexpected) {
            len = strlen(msg);
            snprintf(msg + len, sizeof msg - len, "%s%d unexpected: %s", len ? "; " : "", n_unexpected, unexpected);
            more(msg, sizeof msg, n_unexpected);
        }
        if (c->n_shapes) {
            len = strlen(msg);
            snprintf(msg + len, sizeof msg - len, "%s%d with the wrong shape: %s", len ? "; " : "", c->n_shapes, c->shapes);
            more(msg, sizeof msg, c->n_shapes);
        }
        st = LAVR_FAIL(LAVR_E_FORMAT, "%s does not match its config: %s", what, msg);
    }
    free(c->used);
    free(c);
    return st;
}
