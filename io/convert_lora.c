/* LoRA merge for the converter (io/convert_lora.h). The product B·A uses the CPU linear op
 * (fp32 accumulation) on A transposed once per pair; W + scale·BA is rounded once by the caller. */
#include "io/convert_lora.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "io/safetensors.h"
#include "kernels/ops.h"

typedef struct {
    char *module; /* key up to ".lora_A" */
    const lavr_st_tensor *a, *b;
    int used;
} lora_pair;

struct lavr_lora {
    lavr_safetensors *st;
    double scale;
    lora_pair *pairs;
    int count;
    int cached;        /* pair whose A^T is in at, -1 for none */
    float *at, *b_rows, *product;
    int64_t product_cap, b_cap;
};

static lavr_status to_f32(const lavr_st_tensor *t, const void *src, int64_t n, float *dst) {
    for (int64_t i = 0; i < n; i++) dst[i] = (float)lavr_dtype_load(t->dtype, src, i);
    return LAVR_OK;
}

/* "<module>.lora_A[.adapter].weight" -> module and 'A'/'B'; 0 when the key is not a LoRA weight. */
static int split_key(const char *key, size_t *module_len, char *which) {
    const char *a = strstr(key, ".lora_A."), *b = strstr(key, ".lora_B.");
    const char *p = a ? a : b;
    if (!p || (a && b)) return 0;
    size_t len = strlen(key);
    if (len < 7 || strcmp(key + len - 7, ".weight") != 0) return 0;
    *module_len = (size_t)(p - key);
    *which = a ? 'A' : 'B';
    return 1;
}

static lavr_status meta_number(const lavr_safetensors *st, const char *const *keys, int n, double *out) {
    for (int i = 0; i < n; i++) {
        const char *v = lavr_st_metadata(st, keys[i]);
        if (!v) continue;
        char *end;
        double d = strtod(v, &end);
        if (end == v || *end || !(d > 0))
            return LAVR_FAIL(LAVR_E_FORMAT, "'%s': metadata %s = '%s' is not a positive number", lavr_st_path(st), keys[i], v);
        *out = d;
        return LAVR_OK;
    }
    return LAVR_OK;
}

static lavr_status pair_up(lavr_lora *l) {
    const lavr_safetensors *st = l->st;
    l->pairs = calloc((size_t)lavr_st_count(st) + 1, sizeof *l->pairs);
    if (!l->pairs) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    for (int i = 0; i < lavr_st_count(st); i++) {
        const lavr_st_tensor *t = lavr_st_tensor_at(st, i);
        size_t mlen;
        char which;
        if (!split_key(t->name, &mlen, &which))
            return LAVR_FAIL(LAVR_E_FORMAT, "'%s': key '%s' is not a lora_A/lora_B weight", lavr_st_path(st), t->name);
        if (t->ndim != 2)
            return LAVR_FAIL(LAVR_E_FORMAT, "'%s': LoRA weight '%s' is not a matrix", lavr_st_path(st), t->name);
        lora_pair *p = NULL;
        for (int k = 0; k < l->count && !p; k++)
            if (strlen(l->pairs[k].module) == mlen && strncmp(l->pairs[k].module, t->name, mlen) == 0) p = &l->pairs[k];
        if (!p) {
            p = &l->pairs[l->count++];
            if (!(p->module = strndup(t->name, mlen))) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
        }
        const lavr_st_tensor **slot = which == 'A' ? &p->a : &p->b;
        if (*slot) return LAVR_FAIL(LAVR_E_FORMAT, "'%s': module '%s' has two lora_%c weights", lavr_st_path(st), p->module, which);
        *slot = t;
    }
    for (int k = 0; k < l->count; k++) {
        lora_pair *p = &l->pairs[k];
        if (!p->a || !p->b)
            return LAVR_FAIL(LAVR_E_FORMAT, "'%s': module '%s' has lora_%c but no lora_%c", lavr_st_path(st), p->module,
                             p->a ? 'A' : 'B', p->a ? 'B' : 'A');
        if (p->a->shape[0] != p->b->shape[1])
            return LAVR_FAIL(LAVR_E_FORMAT, "'%s': module '%s' has rank %lld in lora_A but %lld in lora_B", lavr_st_path(st),
                             p->module, (long long)p->a->shape[0], (long long)p->b->shape[1]);
    }
    if (l->count == 0) return LAVR_FAIL(LAVR_E_FORMAT, "'%s' holds no LoRA weights", lavr_st_path(st));
    return LAVR_OK;
}

lavr_status lavr_lora_open(const char *path, double scale_override, lavr_lora **out) {
    CHECK_ARG(path && out, "lavr_lora_open: NULL argument");
    *out = NULL;
    lavr_lora *l = calloc(1, sizeof *l);
    if (!l) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    l->cached = -1;
    lavr_status st = lavr_st_open(path, &l->st);
    if (!st) st = pair_up(l);
    if (!st) {
        static const char *const alpha_keys[] = {"lora_alpha", "alpha"}, *const rank_keys[] = {"lora_rank", "rank", "r"};
        double alpha = 64, rank = (double)l->pairs[0].a->shape[0]; /* LiveAvatar: alpha 64, rank 128 (§2.7) */
        st = meta_number(l->st, alpha_keys, 2, &alpha);
        if (!st) st = meta_number(l->st, rank_keys, 3, &rank);
        l->scale = scale_override > 0 ? scale_override : alpha / rank;
    }
    if (st) {
        lavr_lora_close(l);
        return st;
    }
    *out = l;
    return LAVR_OK;
}

void lavr_lora_close(lavr_lora *l) {
    if (!l) return;
    for (int k = 0; k < l->count; k++) free(l->pairs[k].module);
    free(l->pairs);
    free(l->at), free(l->b_rows), free(l->product);
    lavr_st_close(l->st);
    free(l);
}

double lavr_lora_scale(const lavr_lora *l) { return l->scale; }
int lavr_lora_count(const lavr_lora *l) { return l->count; }
int64_t lavr_lora_file_size(const lavr_lora *l) { return lavr_st_file_size(l->st); }

/* module ends with "." + target (or equals it) */
static int suffix_match(const char *module, const char *target, size_t tlen) {
    size_t mlen = strlen(module);
    if (mlen < tlen || strcmp(module + mlen - tlen, target) != 0) return 0;
    return mlen == tlen || module[mlen - tlen - 1] == '.';
}

lavr_status lavr_lora_match(lavr_lora *l, const char *weight_name, int64_t out, int64_t in, int *pair) {
    *pair = -1;
    size_t len = strlen(weight_name);
    if (len < 8 || strcmp(weight_name + len - 7, ".weight") != 0) return LAVR_OK;
    char target[256];
    snprintf(target, sizeof target, "%.*s", (int)(len - 7), weight_name);
    for (int k = 0; k < l->count; k++) {
        if (!suffix_match(l->pairs[k].module, target, len - 7)) continue;
        if (*pair >= 0)
            return LAVR_FAIL(LAVR_E_FORMAT, "'%s': LoRA modules '%s' and '%s' both match '%s'", lavr_st_path(l->st),
                             l->pairs[*pair].module, l->pairs[k].module, weight_name);
        *pair = k;
    }
    if (*pair < 0) return LAVR_OK;
    lora_pair *p = &l->pairs[*pair];
    if (p->a->shape[1] != in || p->b->shape[0] != out)
        return LAVR_FAIL(LAVR_E_FORMAT, "'%s': LoRA '%s' has A [%lld, %lld] and B [%lld, %lld], but '%s' is [%lld, %lld]",
                         lavr_st_path(l->st), p->module, (long long)p->a->shape[0], (long long)p->a->shape[1],
                         (long long)p->b->shape[0], (long long)p->b->shape[1], weight_name, (long long)out, (long long)in);
    p->used = 1;
    return LAVR_OK;
}

static lavr_status ensure(float **buf, int64_t *cap, int64_t n) {
    if (n <= *cap) return LAVR_OK;
    float *b = realloc(*buf, (size_t)n * sizeof *b);
    if (!b) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for a LoRA buffer of %lld floats", (long long)n);
    *buf = b, *cap = n;
    return LAVR_OK;
}

lavr_status lavr_lora_apply(lavr_lora *l, int pair, int64_t row0, int64_t nrows, float *w) {
    CHECK_ARG(pair >= 0 && pair < l->count, "lavr_lora_apply: bad pair %d", pair);
    const lora_pair *p = &l->pairs[pair];
    const int64_t rank = p->a->shape[0], in = p->a->shape[1];
    if (l->cached != pair) {
        /* A^T [in, rank] in fp32: the weight of the linear op below */
        void *raw = malloc((size_t)p->a->nbytes + 1);
        free(l->at);
        l->at = malloc((size_t)(rank * in) * sizeof(float) + 1);
        l->cached = -1;
        if (!raw || !l->at) {
            free(raw);
            return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for LoRA '%s'", p->module);
        }
        lavr_status st = lavr_st_read_rows(l->st, p->a, 0, rank, raw);
        for (int64_t r = 0; !st && r < rank; r++)
            for (int64_t i = 0; i < in; i++) l->at[i * rank + r] = (float)lavr_dtype_load(p->a->dtype, raw, r * in + i);
        free(raw);
        TRY(st);
        l->cached = pair;
    }
    int64_t b_cap_bytes = l->b_cap;
    TRY(ensure(&l->b_rows, &b_cap_bytes, nrows * rank * 2)); /* raw rows, then fp32 rows */
    l->b_cap = b_cap_bytes;
    TRY(ensure(&l->product, &l->product_cap, nrows * in));
    float *b_f32 = l->b_rows + nrows * rank;
    TRY(lavr_st_read_rows(l->st, p->b, row0, nrows, l->b_rows));
    TRY(to_f32(p->b, l->b_rows, nrows * rank, b_f32));
    const int64_t at_shape[2] = {in, rank};
    lavr_tensor at = lavr_tensor_wrap(LAVR_F32, 2, at_shape, l->at);
    TRY(lavr_op_linear(b_f32, nrows, rank, &at, NULL, l->product));
    const float scale = (float)l->scale;
    for (int64_t i = 0; i < nrows * in; i++) w[i] += scale * l->product[i];
    return LAVR_OK;
}

lavr_status lavr_lora_check_used(const lavr_lora *l) {
    char list[1024] = "";
    int unused = 0;
    for (int k = 0; k < l->count; k++) {
        if (l->pairs[k].used) continue;
        size_t len = strlen(list);
        if (unused < 6) snprintf(list + len, sizeof list - len, "%s%s", unused ? ", " : "", l->pairs[k].module);
        unused++;
    }
    if (unused)
        return LAVR_FAIL(LAVR_E_FORMAT, "'%s': %d of %d LoRA modules match no DiT weight: %s%s", lavr_st_path(l->st), unused,
                         l->count, list, unused > 6 ? " ..." : "");
    return LAVR_OK;
}
