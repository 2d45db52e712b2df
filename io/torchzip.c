/* torch zip checkpoints (io/torchzip.h): finds `<root>/data.pkl`, unpickles it and turns each
 * _rebuild_tensor_v2 / _rebuild_parameter call into a tensor descriptor over its storage entry. */
#include "io/torchzip.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/torchzip_pickle.h"
#include "io/torchzip_zip.h"

struct lavr_torchzip {
    lavr_zip *zip;
    char *path;
    int count;
    lavr_tz_tensor *tensors;
};

/* Legacy (pre-1.6) torch files are a bare pickle stream starting with PROTO. */
static lavr_status check_magic(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return LAVR_FAIL(LAVR_E_IO, "cannot open '%s': %s", path, strerror(errno));
    unsigned char m[4] = {0};
    size_t got = fread(m, 1, 4, f);
    fclose(f);
    if (got == 4 && m[0] == 'P' && m[1] == 'K' && m[2] == 3 && m[3] == 4) return LAVR_OK;
    if (got >= 1 && m[0] == 0x80)
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "'%s' is in the legacy (pre-1.6) torch format: re-save it with a newer torch "
                         "(torch.save(torch.load(f), f)) or use the safetensors file", path);
    return LAVR_FAIL(LAVR_E_IO, "'%s' is not a torch checkpoint (no ZIP signature%s)", path, got < 4 ? "; file too short" : "");
}

static lavr_status storage_dtype(const char *path, const char *type, lavr_dtype *out) {
    if (strcmp(type, "torch.BFloat16Storage") == 0) *out = LAVR_BF16;
    else if (strcmp(type, "torch.HalfStorage") == 0) *out = LAVR_F16;
    else if (strcmp(type, "torch.FloatStorage") == 0) *out = LAVR_F32;
    else return LAVR_FAIL(LAVR_E_UNSUPPORTED, "'%s': storage type %s is not supported (BFloat16, Half, Float)", path, type);
    return LAVR_OK;
}

static int int_tuple(const lavr_pk_value *v, int64_t *out, int max, int *n) {
    if (v->type != LAVR_PK_TUPLE || v->n > max) return -1;
    for (int i = 0; i < v->n; i++) {
        if (v->items[i]->type != LAVR_PK_INT) return -1;
        out[i] = v->items[i]->i;
    }
    *n = v->n;
    return 0;
}

/* value = _rebuild_tensor_v2(PERSID(('storage', type, key, location, numel)), offset, size, stride, ...) */
static lavr_status make_tensor(lavr_torchzip *tz, const char *root, const char *name, const lavr_pk_value *v,
                               lavr_tz_tensor *t) {
    if (v->type == LAVR_PK_CALL && v->items[0]->type == LAVR_PK_GLOBAL &&
        strcmp(v->items[0]->s, "torch._utils._rebuild_parameter") == 0 && v->items[1]->n >= 1)
        v = v->items[1]->items[0];
    if (v->type != LAVR_PK_CALL || v->items[0]->type != LAVR_PK_GLOBAL ||
        strcmp(v->items[0]->s, "torch._utils._rebuild_tensor_v2") != 0)
        return LAVR_FAIL(LAVR_E_FORMAT, "'%s': state-dict entry '%s' is not a tensor%s%s", tz->path, name,
                         v->type == LAVR_PK_CALL && v->items[0]->type == LAVR_PK_GLOBAL ? " but " : "",
                         v->type == LAVR_PK_CALL && v->items[0]->type == LAVR_PK_GLOBAL ? v->items[0]->s : "");
    const lavr_pk_value *args = v->items[1];
    const lavr_pk_value *pid = args->n >= 4 && args->items[0]->type == LAVR_PK_PERSID ? args->items[0]->items[0] : NULL;
    if (!pid || pid->type != LAVR_PK_TUPLE || pid->n < 5 || pid->items[0]->type != LAVR_PK_STR ||
        strcmp(pid->items[0]->s, "storage") != 0 || pid->items[1]->type != LAVR_PK_GLOBAL ||
        pid->items[2]->type != LAVR_PK_STR || pid->items[4]->type != LAVR_PK_INT || args->items[1]->type != LAVR_PK_INT)
        return LAVR_FAIL(LAVR_E_FORMAT, "'%s': tensor '%s' has a malformed storage reference", tz->path, name);
    memset(t, 0, sizeof *t);
    TRY(storage_dtype(tz->path, pid->items[1]->s, &t->dtype));
    int nd = 0, ns = 0;
    if (int_tuple(args->items[2], t->shape, LAVR_MAX_DIMS, &nd) || int_tuple(args->items[3], t->stride, LAVR_MAX_DIMS, &ns) ||
        nd != ns)
        return LAVR_FAIL(LAVR_E_FORMAT, "'%s': tensor '%s' has a bad size/stride (or more than %d dims)", tz->path, name,
                         LAVR_MAX_DIMS);
    t->ndim = nd;
    t->storage_offset = args->items[1]->i;
    const int64_t numel_storage = pid->items[4]->i, es = (int64_t)lavr_dtype_size(t->dtype);
    int64_t last = t->storage_offset, numel = 1;
    for (int d = 0; d < nd; d++) {
        if (t->shape[d] < 0 || t->stride[d] < 0)
            return LAVR_FAIL(LAVR_E_FORMAT, "'%s': tensor '%s' has a negative size or stride", tz->path, name);
        numel *= t->shape[d];
        last += (t->shape[d] - 1) * t->stride[d];
    }
    if (numel > 0 && (t->storage_offset < 0 || last >= numel_storage))
        return LAVR_FAIL(LAVR_E_FORMAT, "'%s': tensor '%s' reaches element %lld of a %lld-element storage", tz->path, name,
                         (long long)last, (long long)numel_storage);
    char entry[1024];
    snprintf(entry, sizeof entry, "%sdata/%s", root, pid->items[2]->s);
    t->entry = lavr_zip_find(tz->zip, entry);
    if (t->entry < 0) return LAVR_FAIL(LAVR_E_FORMAT, "'%s': storage '%s' of tensor '%s' is missing", tz->path, entry, name);
    const lavr_zip_entry *e = lavr_zip_entry_at(tz->zip, t->entry);
    if (e->usize < numel_storage * es)
        return LAVR_FAIL(LAVR_E_FORMAT, "'%s': storage '%s' has %lld bytes, tensor '%s' needs %lld", tz->path, entry,
                         (long long)e->usize, name, (long long)(numel_storage * es));
    if (!(t->name = strdup(name))) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    return LAVR_OK;
}

static lavr_status load_state_dict(lavr_torchzip *tz) {
    int pkl = -1;
    for (int i = 0; i < lavr_zip_count(tz->zip); i++) {
        const char *n = lavr_zip_entry_at(tz->zip, i)->name;
        size_t len = strlen(n);
        if (strcmp(n, "data.pkl") == 0 || (len > 9 && strcmp(n + len - 9, "/data.pkl") == 0 && !memchr(n, '/', len - 9))) {
            pkl = i;
            break;
        }
    }
    if (pkl < 0) return LAVR_FAIL(LAVR_E_FORMAT, "'%s' is a ZIP file but not a torch checkpoint (no data.pkl)", tz->path);
    const char *pkl_name = lavr_zip_entry_at(tz->zip, pkl)->name;
    char root[512];
    snprintf(root, sizeof root, "%.*s", (int)(strlen(pkl_name) - 8), pkl_name);
    char byteorder_name[600];
    snprintf(byteorder_name, sizeof byteorder_name, "%sbyteorder", root);
    int bo = lavr_zip_find(tz->zip, byteorder_name);
    if (bo >= 0) {
        void *text;
        int64_t n;
        TRY(lavr_zip_read_all(tz->zip, bo, &text, &n));
        int little = n >= 6 && memcmp(text, "little", 6) == 0;
        free(text);
        if (!little) return LAVR_FAIL(LAVR_E_UNSUPPORTED, "'%s' was saved big-endian; only little-endian checkpoints are supported", tz->path);
    }
    void *data;
    int64_t size;
    TRY(lavr_zip_read_all(tz->zip, pkl, &data, &size));
    char what[1100];
    snprintf(what, sizeof what, "'%s' (%s)", tz->path, pkl_name);
    lavr_pickle *p = NULL;
    const lavr_pk_value *dict = NULL;
    lavr_status st = lavr_pickle_load(data, size, what, &p, &dict);
    free(data);
    if (!st && dict->type != LAVR_PK_DICT) st = LAVR_FAIL(LAVR_E_FORMAT, "%s does not hold a state dict (a dict of tensors)", what);
    if (!st) {
        tz->tensors = calloc((size_t)dict->n / 2 + 1, sizeof *tz->tensors);
        if (!tz->tensors) st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    }
    for (int k = 0; !st && k < dict->n / 2; k++) {
        const lavr_pk_value *key = dict->items[2 * k];
        if (key->type != LAVR_PK_STR) st = LAVR_FAIL(LAVR_E_FORMAT, "%s: a state-dict key is not a string", what);
        else if (!(st = make_tensor(tz, root, key->s, dict->items[2 * k + 1], &tz->tensors[tz->count]))) tz->count++;
    }
    lavr_pickle_free(p);
    return st;
}

lavr_status lavr_tz_open(const char *path, lavr_torchzip **out) {
    CHECK_ARG(path && out, "lavr_tz_open: NULL argument");
    *out = NULL;
    TRY(check_magic(path));
    lavr_torchzip *tz = calloc(1, sizeof *tz);
    if (!tz || !(tz->path = strdup(path))) {
        free(tz);
        return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    }
    lavr_status st = lavr_zip_open(path, &tz->zip);
    if (!st) st = load_state_dict(tz);
    if (st) {
        lavr_tz_close(tz);
        return st;
    }
    *out = tz;
    return LAVR_OK;
}

void lavr_tz_close(lavr_torchzip *tz) {
    if (!tz) return;
    for (int i = 0; i < tz->count; i++) free(tz->tensors[i].name);
    free(tz->tensors);
    lavr_zip_close(tz->zip);
    free(tz->path);
    free(tz);
}

int lavr_tz_count(const lavr_torchzip *tz) { return tz->count; }
const lavr_tz_tensor *lavr_tz_tensor_at(const lavr_torchzip *tz, int i) { return i >= 0 && i < tz->count ? &tz->tensors[i] : NULL; }
int64_t lavr_tz_file_size(const lavr_torchzip *tz) { return lavr_zip_file_size(tz->zip); }

const lavr_tz_tensor *lavr_tz_find(const lavr_torchzip *tz, const char *name) {
    for (int i = 0; i < tz->count; i++)
        if (strcmp(tz->tensors[i].name, name) == 0) return &tz->tensors[i];
    return NULL;
}

lavr_status lavr_tz_read_rows(lavr_torchzip *tz, const lavr_tz_tensor *t, int64_t row0, int64_t nrows, void *dst) {
    const int64_t rows = t->ndim ? t->shape[0] : 1;
    CHECK_ARG(row0 >= 0 && nrows >= 0 && row0 + nrows <= rows, "lavr_tz_read_rows: rows [%lld, %lld) outside '%s'",
              (long long)row0, (long long)(row0 + nrows), t->name);
    const int64_t es = (int64_t)lavr_dtype_size(t->dtype);
    int64_t row_len = 1, expect = 1, contiguous = 1;
    for (int d = t->ndim - 1; d >= 1; d--) row_len *= t->shape[d];
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->stride[d] != expect) contiguous = 0;
        expect *= t->shape[d];
    }
    if (nrows == 0 || row_len == 0) return LAVR_OK;
    const int64_t first = t->storage_offset + (t->ndim ? row0 * t->stride[0] : 0);
    if (contiguous) return lavr_zip_read(tz->zip, t->entry, first * es, nrows * row_len * es, dst);
    /* strided: read the storage span the rows touch, then gather element by element */
    int64_t span = 1 + (t->ndim ? (nrows - 1) * t->stride[0] : 0);
    for (int d = 1; d < t->ndim; d++) span += (t->shape[d] - 1) * t->stride[d];
    unsigned char *buf = malloc((size_t)(span * es));
    if (!buf) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory reading '%s'", t->name);
    lavr_status st = lavr_zip_read(tz->zip, t->entry, first * es, span * es, buf);
    int64_t idx[LAVR_MAX_DIMS] = {0};
    unsigned char *out = dst;
    for (int64_t i = 0; !st && i < nrows * row_len; i++) {
        int64_t src = 0;
        for (int d = 0; d < t->ndim; d++) src += idx[d] * t->stride[d];
        memcpy(out + i * es, buf + src * es, (size_t)es);
        for (int d = t->ndim - 1; d >= 0; d--) {
            int64_t extent = d == 0 ? nrows : t->shape[d];
            if (++idx[d] < extent) break;
            idx[d] = 0;
        }
    }
    free(buf);
    return st;
}
