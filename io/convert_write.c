/* The converter's writing half (io/convert_internal.h): each tensor in row slabs from its source,
 * converted to the lavr dtype (one rounding), LoRA merged in fp32 for DiT weights, and the FP8
 * copies quantised from the merged bf16 weight read back from the output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/units.h"
#include "io/convert_internal.h"

/* Elements per slab: bounded memory whatever the tensor (the umT5 embedding is 1 G elements). */
#define SLAB_ELEMENTS (4 << 20)

int lavr_convert_fp8_target(const char *name, int ndim) {
    static const char *const excluded[] = {"text_embedding", "time_embedding", "time_projection", "head.head",
                                           "casual_audio_encoder.encoder.final_linear", "trainable_cond_mask"};
    size_t len = strlen(name);
    if (ndim != 2 || len < 7 || strcmp(name + len - 7, ".weight") != 0) return 0;
    for (size_t i = 0; i < sizeof excluded / sizeof excluded[0]; i++)
        if (strstr(name, excluded[i])) return 0;
    return 1;
}

static lavr_status grow(void **buf, int64_t *cap, int64_t bytes) {
    if (bytes <= *cap) return LAVR_OK;
    void *b = realloc(*buf, (size_t)bytes);
    if (!b) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for a %lld-byte conversion buffer", (long long)bytes);
    *buf = b, *cap = bytes;
    return LAVR_OK;
}

static void widen(lavr_dtype dt, const void *src, int64_t n, float *dst) {
    if (dt == LAVR_F32) {
        memcpy(dst, src, (size_t)n * sizeof *dst);
    } else if (dt == LAVR_BF16) {
        const uint16_t *s = src;
        for (int64_t i = 0; i < n; i++) dst[i] = lavr_bf16_to_f32(s[i]);
    } else {
        const uint16_t *s = src;
        for (int64_t i = 0; i < n; i++) dst[i] = lavr_f16_to_f32(s[i]);
    }
}

/* Rounds to the output dtype (bf16 or f32) and returns the largest magnitude of the result. */
static float narrow(const float *src, int64_t n, lavr_dtype dt, void *dst) {
    float amax = 0;
    if (dt == LAVR_F32) {
        memcpy(dst, src, (size_t)n * sizeof *src);
        for (int64_t i = 0; i < n; i++) amax = fmaxf(amax, fabsf(src[i]));
    } else {
        uint16_t *d = dst;
        for (int64_t i = 0; i < n; i++) {
            d[i] = lavr_f32_to_bf16(src[i]);
            amax = fmaxf(amax, fabsf(lavr_bf16_to_f32(d[i])));
        }
    }
    return amax;
}

static void progress(lavr_converter *c, const char *group, const char *name) {
    if (!c->opt.progress || c->total_bytes <= 0) return;
    int percent = (int)(100.0 * (double)c->done_bytes / (double)c->total_bytes);
    if (percent < c->next_percent && c->done_bytes < c->total_bytes) return;
    char a[32], b[32];
    fprintf(stderr, "convert: %3d%%  %s of %s  (%s/%s)\n", percent, lavr_format_bytes((uint64_t)c->done_bytes, a, sizeof a),
            lavr_format_bytes((uint64_t)c->total_bytes, b, sizeof b), group, name);
    c->next_percent = percent / 5 * 5 + 5;
}

/* q = e4m3(clamp(w·s, ±448)) with s = min(448/amax, 448) per tensor (§2.8), w the merged bf16 weight. */
static lavr_status write_fp8(lavr_converter *c, const char *name, const int64_t *shape, float amax) {
    char src[320], dst[320];
    snprintf(src, sizeof src, "/dit/%s", name);
    snprintf(dst, sizeof dst, "/dit_fp8/%s", name);
    const float s = amax > 0 ? fminf(448.0f / amax, 448.0f) : 448.0f;
    TRY(lavr_h5_create_dataset(c->out, dst, LAVR_FP8_E4M3, 2, shape, c->opt.compress));
    int64_t per = SLAB_ELEMENTS / (shape[1] > 0 ? shape[1] : 1);
    if (per < 1) per = 1;
    TRY(grow(&c->conv, &c->conv_cap, per * shape[1]));
    for (int64_t r = 0; r < shape[0]; r += per) {
        int64_t n = shape[0] - r < per ? shape[0] - r : per;
        const int64_t start[2] = {r, 0}, count[2] = {n, shape[1]};
        lavr_tensor w;
        TRY(lavr_h5_read_slice(c->out, src, start, count, c->arena, &w));
        const uint16_t *bits = w.data;
        uint8_t *q = c->conv;
        for (int64_t i = 0; i < n * shape[1]; i++)
            q[i] = lavr_f32_to_fp8e4m3(fminf(fmaxf(lavr_bf16_to_f32(bits[i]) * s, -448.0f), 448.0f));
        lavr_tensor_free(&w);
        const int64_t qshape[2] = {n, shape[1]};
        lavr_tensor qt = lavr_tensor_wrap(LAVR_FP8_E4M3, 2, qshape, c->conv);
        TRY(lavr_model_digest_rows(&c->digest, dst, r, &qt, "the FP8 quantisation"));
        TRY(lavr_h5_write_rows(c->out, dst, r, &qt));
        c->done_bytes += n * shape[1];
    }
    TRY(lavr_h5_write_attr_double(c->out, dst, "scale", 1.0 / (double)s));
    c->fp8_written++;
    return LAVR_OK;
}

typedef struct {
    lavr_converter *c;
    const char *group;
    const lavr_cv_set *set;
    int dit;
} component_writer;

static lavr_status write_tensor(const lavr_tensor_spec *spec, void *user) {
    component_writer *w = user;
    lavr_converter *c = w->c;
    const lavr_cv_tensor *src = lavr_cv_find(w->set, spec->name);
    if (!src) return LAVR_FAIL(LAVR_E_INTERNAL, "tensor '%s' vanished after the inventory check", spec->name);
    char path[320];
    snprintf(path, sizeof path, "/%s/%s", w->group, spec->name);
    TRY(lavr_h5_create_dataset(c->out, path, spec->dtype, spec->ndim, spec->shape, c->opt.compress));
    int pair = -1;
    if (w->dit && c->lora && spec->ndim == 2) TRY(lavr_lora_match(c->lora, spec->name, spec->shape[0], spec->shape[1], &pair));
    const int fp8 = w->dit && c->opt.fp8 && lavr_convert_fp8_target(spec->name, spec->ndim);
    const int copy_bits = src->dtype == spec->dtype && pair < 0 && !fp8;
    int64_t numel = 1;
    for (int i = 0; i < spec->ndim; i++) numel *= spec->shape[i];
    const int64_t rows = spec->ndim ? spec->shape[0] : 1, row_len = rows ? numel / rows : 0;
    int64_t per = row_len > 0 ? SLAB_ELEMENTS / row_len : 1;
    if (per < 1) per = 1;
    const int64_t slab = per * row_len, out_es = (int64_t)lavr_dtype_size(spec->dtype);
    TRY(grow(&c->raw, &c->raw_cap, slab * (int64_t)lavr_dtype_size(src->dtype)));
    TRY(grow(&c->conv, &c->conv_cap, slab * out_es));
    TRY(grow((void **)&c->f32, &c->f32_cap, slab * (int64_t)sizeof(float)));
    char source[600];
    if (src->st) snprintf(source, sizeof source, "'%s'%s", lavr_st_path(src->st), pair >= 0 ? " after the LoRA merge" : "");
    else snprintf(source, sizeof source, "the %s .pth checkpoint", w->group);
    float amax = 0;
    for (int64_t r = 0; r < rows && row_len > 0; r += per) {
        int64_t n = rows - r < per ? rows - r : per;
        TRY(lavr_cv_read_rows(src, r, n, c->raw));
        const void *out = c->raw;
        if (!copy_bits) {
            widen(src->dtype, c->raw, n * row_len, c->f32);
            if (pair >= 0) TRY(lavr_lora_apply(c->lora, pair, r, n, c->f32));
            amax = fmaxf(amax, narrow(c->f32, n * row_len, spec->dtype, c->conv));
            out = c->conv;
        }
        int64_t shape[LAVR_MAX_DIMS];
        memcpy(shape, spec->shape, sizeof shape);
        if (spec->ndim) shape[0] = n;
        lavr_tensor t = lavr_tensor_wrap(spec->dtype, spec->ndim, shape, (void *)out);
        TRY(lavr_model_digest_rows(&c->digest, path, r, &t, source));
        TRY(lavr_h5_write_rows(c->out, path, r, &t));
        c->done_bytes += n * row_len * out_es;
        progress(c, w->group, spec->name);
    }
    c->tensors++, c->params += numel;
    if (pair >= 0) c->lora_merged++;
    if (fp8) {
        if (!isfinite(amax)) return LAVR_FAIL(LAVR_E_FORMAT, "dit tensor '%s' holds inf or NaN: no FP8 scale exists", spec->name);
        TRY(write_fp8(c, spec->name, spec->shape, amax));
        progress(c, "dit_fp8", spec->name);
    }
    return LAVR_OK;
}

lavr_status lavr_convert_write_component(lavr_converter *c, const char *group, lavr_cv_inventory_fn inventory,
                                         const void *cfg, const lavr_cv_set *set) {
    component_writer w = {c, group, set, strcmp(group, "dit") == 0};
    lavr_status st = inventory(cfg, write_tensor, &w);
    if (st) lavr_error_wrap(st, "writing /%s", group);
    return st;
}

typedef struct {
    lavr_converter *c;
    int dit;
} byte_counter;

static lavr_status count_one(const lavr_tensor_spec *spec, void *user) {
    byte_counter *b = user;
    int64_t numel = 1;
    for (int i = 0; i < spec->ndim; i++) numel *= spec->shape[i];
    b->c->total_bytes += numel * (int64_t)lavr_dtype_size(spec->dtype);
    if (b->dit && b->c->opt.fp8 && lavr_convert_fp8_target(spec->name, spec->ndim)) b->c->total_bytes += numel;
    return LAVR_OK;
}

lavr_status lavr_convert_count_bytes(lavr_converter *c, lavr_cv_inventory_fn inventory, const void *cfg, int dit) {
    byte_counter b = {c, dit};
    return inventory(cfg, count_one, &b);
}
