/* safetensors reader (io/safetensors.h): header parsed with core/json, every entry checked against
 * the file size before any data is read. */
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.h"

/* Headers of real files are a few hundred KiB; anything beyond this is a corrupt length field. */
#define MAX_HEADER_BYTES (100LL << 20)

struct lavr_safetensors {
    char *path;
    int fd;
    int64_t size;
    int count;
    lavr_st_tensor *tensors;
    lavr_json *metadata; /* the "__metadata__" object or NULL (owned by header) */
    lavr_json *header;
};

static lavr_status read_at(int fd, const char *path, void *dst, int64_t n, int64_t offset) {
    unsigned char *p = dst;
    while (n > 0) {
        ssize_t got = pread(fd, p, (size_t)(n > (1 << 30) ? (1 << 30) : n), (off_t)offset);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return LAVR_FAIL(LAVR_E_IO, "cannot read '%s' at byte %lld: %s", path, (long long)offset,
                                       got < 0 ? strerror(errno) : "unexpected end of file");
        p += got, n -= got, offset += got;
    }
    return LAVR_OK;
}

static lavr_status parse_dtype(const char *path, const char *name, const char *s, lavr_dtype *out) {
    if (strcmp(s, "BF16") == 0) *out = LAVR_BF16;
    else if (strcmp(s, "F16") == 0) *out = LAVR_F16;
    else if (strcmp(s, "F32") == 0) *out = LAVR_F32;
    else return LAVR_FAIL(LAVR_E_UNSUPPORTED, "'%s': tensor '%s' has dtype %s (supported: BF16, F16, F32)", path, name, s);
    return LAVR_OK;
}

static lavr_status parse_entry(lavr_safetensors *st, const char *name, const lavr_json *v, int64_t data_start,
                               lavr_st_tensor *t) {
    const lavr_json *dt = lavr_json_get(v, "dtype"), *shape = lavr_json_get(v, "shape"), *off = lavr_json_get(v, "data_offsets");
    if (v->type != LAVR_JSON_OBJECT || !dt || dt->type != LAVR_JSON_STRING || !shape || shape->type != LAVR_JSON_ARRAY ||
        !off || off->type != LAVR_JSON_ARRAY || off->count != 2)
        return LAVR_FAIL(LAVR_E_FORMAT, "'%s': header entry '%s' lacks dtype, shape or data_offsets", st->path, name);
    memset(t, 0, sizeof *t);
    TRY(parse_dtype(st->path, name, dt->string, &t->dtype));
    if (shape->count > LAVR_MAX_DIMS)
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "'%s': tensor '%s' has %d dims (at most %d)", st->path, name, shape->count, LAVR_MAX_DIMS);
    int64_t numel = 1;
    for (int i = 0; i < shape->count; i++) {
        double d = shape->items[i].number;
        if (shape->items[i].type != LAVR_JSON_NUMBER || d < 0 || d != (double)(int64_t)d || d > 1e15)
            return LAVR_FAIL(LAVR_E_FORMAT, "'%s': tensor '%s' has a bad shape", st->path, name);
        t->shape[i] = (int64_t)d;
        numel *= t->shape[i];
    }
    t->ndim = shape->count;
    double b = off->items[0].number, e = off->items[1].number;
    if (off->items[0].type != LAVR_JSON_NUMBER || off->items[1].type != LAVR_JSON_NUMBER || b < 0 || e < b)
        return LAVR_FAIL(LAVR_E_FORMAT, "'%s': tensor '%s' has bad data_offsets", st->path, name);
    t->offset = data_start + (int64_t)b;
    t->nbytes = (int64_t)e - (int64_t)b;
    if (t->nbytes != numel * (int64_t)lavr_dtype_size(t->dtype))
        return LAVR_FAIL(LAVR_E_FORMAT, "'%s': tensor '%s' has %lld data bytes but its shape and dtype need %lld", st->path,
                         name, (long long)t->nbytes, (long long)(numel * (int64_t)lavr_dtype_size(t->dtype)));
    if (t->offset + t->nbytes > st->size)
        return LAVR_FAIL(LAVR_E_IO, "'%s' is truncated: tensor '%s' needs bytes up to %lld but the file has %lld", st->path,
                         name, (long long)(t->offset + t->nbytes), (long long)st->size);
    if (!(t->name = strdup(name))) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    return LAVR_OK;
}

static lavr_status read_header(lavr_safetensors *st) {
    unsigned char len_bytes[8];
    if (st->size < 8) return LAVR_FAIL(LAVR_E_IO, "'%s' is not a safetensors file (only %lld bytes)", st->path, (long long)st->size);
    TRY(read_at(st->fd, st->path, len_bytes, 8, 0));
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | len_bytes[i];
    if (n > (uint64_t)MAX_HEADER_BYTES || (int64_t)n > st->size - 8)
        return LAVR_FAIL(LAVR_E_IO, "'%s' is truncated or not a safetensors file: header length %llu, file size %lld",
                         st->path, (unsigned long long)n, (long long)st->size);
    char *text = malloc((size_t)n + 1);
    if (!text) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the header of '%s'", st->path);
    lavr_status s = read_at(st->fd, st->path, text, (int64_t)n, 8);
    text[n] = 0;
    if (!s && (n == 0 || text[0] != '{')) s = LAVR_FAIL(LAVR_E_FORMAT, "'%s' is not a safetensors file (header is not a JSON object)", st->path);
    if (!s && (s = lavr_json_parse(text, &st->header))) lavr_error_wrap(s, "'%s': safetensors header", st->path);
    free(text);
    TRY(s);
    if (st->header->type != LAVR_JSON_OBJECT) return LAVR_FAIL(LAVR_E_FORMAT, "'%s': header is not a JSON object", st->path);
    st->tensors = calloc((size_t)st->header->count + 1, sizeof *st->tensors);
    if (!st->tensors) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    for (int i = 0; i < st->header->count; i++) {
        const char *key = st->header->keys[i];
        if (strcmp(key, "__metadata__") == 0) {
            st->metadata = &st->header->items[i];
            continue;
        }
        TRY(parse_entry(st, key, &st->header->items[i], 8 + (int64_t)n, &st->tensors[st->count]));
        st->count++;
    }
    return LAVR_OK;
}

lavr_status lavr_st_open(const char *path, lavr_safetensors **out) {
    CHECK_ARG(path && out, "lavr_st_open: NULL argument");
    *out = NULL;
    lavr_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    }
    st->fd = open(path, O_RDONLY);
    struct stat sb;
    lavr_status s = LAVR_OK;
    if (st->fd < 0) s = LAVR_FAIL(LAVR_E_IO, "cannot open '%s': %s", path, strerror(errno));
    else if (fstat(st->fd, &sb) != 0) s = LAVR_FAIL(LAVR_E_IO, "cannot stat '%s': %s", path, strerror(errno));
    else {
        st->size = (int64_t)sb.st_size;
        s = read_header(st);
    }
    if (s) {
        lavr_st_close(st);
        return s;
    }
    *out = st;
    return LAVR_OK;
}

void lavr_st_close(lavr_safetensors *st) {
    if (!st) return;
    if (st->fd >= 0) close(st->fd);
    for (int i = 0; i < st->count; i++) free(st->tensors[i].name);
    free(st->tensors);
    lavr_json_free(st->header);
    free(st->path);
    free(st);
}

const char *lavr_st_path(const lavr_safetensors *st) { return st->path; }
int64_t lavr_st_file_size(const lavr_safetensors *st) { return st->size; }
int lavr_st_count(const lavr_safetensors *st) { return st->count; }
const lavr_st_tensor *lavr_st_tensor_at(const lavr_safetensors *st, int i) { return i >= 0 && i < st->count ? &st->tensors[i] : NULL; }

const lavr_st_tensor *lavr_st_find(const lavr_safetensors *st, const char *name) {
    for (int i = 0; i < st->count; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

const char *lavr_st_metadata(const lavr_safetensors *st, const char *key) {
    const lavr_json *v = st->metadata ? lavr_json_get(st->metadata, key) : NULL;
    return v && v->type == LAVR_JSON_STRING ? v->string : NULL;
}

lavr_status lavr_st_read_rows(const lavr_safetensors *st, const lavr_st_tensor *t, int64_t row0, int64_t nrows, void *dst) {
    const int64_t rows = t->ndim ? t->shape[0] : 1;
    CHECK_ARG(row0 >= 0 && nrows >= 0 && row0 + nrows <= rows, "lavr_st_read_rows: rows [%lld, %lld) outside '%s'",
              (long long)row0, (long long)(row0 + nrows), t->name);
    const int64_t row_bytes = rows ? t->nbytes / rows : 0;
    return read_at(st->fd, st->path, dst, nrows * row_bytes, t->offset + row0 * row_bytes);
}
