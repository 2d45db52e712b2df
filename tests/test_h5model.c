/* Tests of io/h5model.c: bit-exact round trips per dtype, slices against the full read, attributes,
 * listing, the one-line errors (missing tensor/file, corrupt/truncated file, shape mismatch) and a
 * real golden bf16 tensor compared with values read through h5dump. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/rng.h"
#include "io/h5model.h"
#include "tests/check.h"

static char tmp_dir[512];
static lavr_arena *arena;

static const char *tmp_path(const char *name, char *buf, size_t len) {
    snprintf(buf, len, "%s/%s", tmp_dir, name);
    return buf;
}

static int message_has(const char *needle) {
    const char *m = lavr_error_message();
    int ok = m && strstr(m, needle) != NULL;
    if (!ok) fprintf(stderr, "message '%s' lacks '%s'\n", m ? m : "(null)", needle);
    return ok;
}

/* Random bytes of a tensor of any dtype (bit patterns, NaN encodings included: the store must not
 * touch them). */
static lavr_tensor random_tensor(lavr_dtype dtype, int ndim, const int64_t *shape, uint64_t stream) {
    lavr_tensor t;
    CHECK_OK(lavr_tensor_alloc(arena, dtype, ndim, shape, "test", &t));
    int64_t nbytes = lavr_tensor_nbytes(&t);
    double *u = malloc((size_t)nbytes * sizeof *u);
    lavr_rng_uniform(5, stream, 0, nbytes, u);
    for (int64_t i = 0; i < nbytes; i++) ((uint8_t *)t.data)[i] = (uint8_t)(u[i] * 256.0);
    free(u);
    return t;
}

static void test_round_trips(void) {
    char path[600];
    tmp_path("h5model_roundtrip.h5", path, sizeof path);
    const lavr_dtype types[] = {LAVR_F32, LAVR_BF16, LAVR_F16, LAVR_FP8_E4M3, LAVR_I64, LAVR_F64, LAVR_I32, LAVR_U8};
    const int ntypes = (int)(sizeof types / sizeof types[0]);
    const int64_t shape[3] = {5, 3, 7};
    lavr_tensor written[8];
    lavr_h5file *f = NULL;
    CHECK_OK(lavr_h5_create(path, &f));
    if (!f) return;
    for (int i = 0; i < ntypes; i++) {
        char name[64];
        snprintf(name, sizeof name, "/group/sub/%s", lavr_dtype_name(types[i]));
        written[i] = random_tensor(types[i], 3, shape, (uint64_t)i + 1);
        CHECK_OK(lavr_h5_write(f, name, &written[i], i % 2 ? 6 : 0)); /* every other one deflated */
    }
    const int64_t scalar_shape[1] = {1};
    lavr_tensor one = random_tensor(LAVR_F32, 1, scalar_shape, 99);
    CHECK_OK(lavr_h5_write(f, "top", &one, 0));
    CHECK_FAILS(lavr_h5_write(f, "top", &one, 0), LAVR_E_IO); /* exists already */
    CHECK(message_has("'top'"));
    CHECK_OK(lavr_h5_close(f));

    CHECK_OK(lavr_h5_open(path, &f));
    if (!f) return;
    for (int i = 0; i < ntypes; i++) {
        char name[64];
        snprintf(name, sizeof name, "group/sub/%s", lavr_dtype_name(types[i])); /* no leading slash */
        lavr_tensor desc, back;
        CHECK_OK(lavr_h5_info(f, name, &desc));
        CHECK(desc.dtype == types[i] && desc.ndim == 3 && desc.shape[0] == 5 && desc.shape[2] == 7);
        CHECK_OK(lavr_h5_read(f, name, arena, &back));
        CHECK_MSG(back.dtype == types[i] && lavr_tensor_same_shape(&back, &written[i]) &&
                      memcmp(back.data, written[i].data, (size_t)lavr_tensor_nbytes(&back)) == 0,
                  "round trip of %s is not bit-exact", lavr_dtype_name(types[i]));
        char *dtype_attr = NULL;
        CHECK_OK(lavr_h5_read_attr_string(f, name, "dtype", &dtype_attr));
        CHECK(dtype_attr && strcmp(dtype_attr, lavr_dtype_name(types[i])) == 0);
        free(dtype_attr);
        lavr_tensor_free(&back);
    }
    /* f32 view of a bf16 tensor: every element equals the conversion of the stored bits */
    lavr_tensor as_f32;
    CHECK_OK(lavr_h5_read_f32(f, "/group/sub/bfloat16", arena, &as_f32));
    int same = as_f32.dtype == LAVR_F32;
    for (int64_t i = 0; same && i < 105; i++) {
        float want = lavr_bf16_to_f32(((uint16_t *)written[1].data)[i]), got = ((float *)as_f32.data)[i];
        same = memcmp(&want, &got, sizeof want) == 0 || (want != want && got != got);
    }
    CHECK_MSG(same, "read_f32 of bf16 differs from the element-wise conversion");
    lavr_tensor_free(&as_f32);
    CHECK(lavr_h5_exists(f, "/group/sub") && lavr_h5_exists(f, "group/sub/int64") && !lavr_h5_exists(f, "group/nope/x"));
    CHECK_OK(lavr_h5_close(f));
    for (int i = 0; i < ntypes; i++) lavr_tensor_free(&written[i]);
    lavr_tensor_free(&one);
}

/* Compares a slice read with the same elements of the full tensor. */
static int slice_matches(const lavr_tensor *full, const lavr_tensor *slice, const int64_t *start) {
    int64_t n = lavr_tensor_numel(slice);
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, idx[5], fidx[5];
        for (int d = slice->ndim - 1; d >= 0; d--) {
            idx[d] = rem % slice->shape[d];
            rem /= slice->shape[d];
            fidx[d] = idx[d] + start[d];
        }
        if (lavr_tensor_get(slice, idx) != lavr_tensor_get(full, fidx)) return 0;
    }
    return 1;
}

static void test_slices(void) {
    char path[600];
    tmp_path("h5model_slices.h5", path, sizeof path);
    lavr_h5file *f = NULL;
    /* 300 x 1000 f32 rows = 4000 B: chunks of 262 rows, so a row range crosses a chunk border */
    const int64_t mshape[2] = {300, 1000}, cshape[3] = {6, 7, 9};
    lavr_tensor m, c;
    CHECK_OK(lavr_tensor_alloc(arena, LAVR_F32, 2, mshape, "m", &m));
    for (int64_t i = 0; i < 300 * 1000; i++) ((float *)m.data)[i] = (float)i;
    c = random_tensor(LAVR_BF16, 3, cshape, 42);
    CHECK_OK(lavr_h5_create(path, &f));
    if (!f) return;
    CHECK_OK(lavr_h5_write(f, "m", &m, 1));
    CHECK_OK(lavr_h5_write(f, "c", &c, 0));
    CHECK_OK(lavr_h5_close(f));
    CHECK_OK(lavr_h5_open(path, &f));
    if (!f) return;
    lavr_tensor full, s;
    CHECK_OK(lavr_h5_read(f, "m", arena, &full));
    const int64_t rows_start[2] = {250, 0}, rows_count[2] = {30, 1000};
    CHECK_OK(lavr_h5_read_slice(f, "m", rows_start, rows_count, arena, &s));
    CHECK(s.shape[0] == 30 && s.shape[1] == 1000 && slice_matches(&full, &s, rows_start));
    CHECK(((float *)s.data)[0] == 250000.0f);
    lavr_tensor_free(&s);
    const int64_t cols_start[2] = {0, 997}, cols_count[2] = {300, 3};
    CHECK_OK(lavr_h5_read_slice(f, "m", cols_start, cols_count, arena, &s));
    CHECK(s.shape[1] == 3 && slice_matches(&full, &s, cols_start) && ((float *)s.data)[4] == 1998.0f);
    lavr_tensor_free(&s);
    lavr_tensor_free(&full);
    CHECK_OK(lavr_h5_read(f, "c", arena, &full));
    const int64_t mid_start[3] = {1, 2, 3}, mid_count[3] = {3, 4, 5};
    CHECK_OK(lavr_h5_read_slice(f, "c", mid_start, mid_count, arena, &s));
    CHECK(s.dtype == LAVR_BF16 && s.shape[0] == 3 && s.shape[2] == 5 && slice_matches(&full, &s, mid_start));
    lavr_tensor_free(&s);
    const int64_t bad_start[3] = {4, 0, 0}, bad_count[3] = {3, 7, 9};
    CHECK_FAILS(lavr_h5_read_slice(f, "c", bad_start, bad_count, arena, &s), LAVR_E_ARG);
    CHECK(message_has("outside tensor 'c'"));
    lavr_tensor_free(&full);

    /* read_expect: right shape passes, wrong shape names the tensor and both shapes */
    const int64_t want_ok[2] = {300, 1000}, want_bad[2] = {300, 999};
    CHECK_OK(lavr_h5_read_expect(f, "m", 2, want_ok, arena, &s));
    lavr_tensor_free(&s);
    CHECK_FAILS(lavr_h5_read_expect(f, "m", 2, want_bad, arena, &s), LAVR_E_FORMAT);
    CHECK(message_has("tensor 'm'") && message_has("has shape [300,1000], expected [300,999]"));
    CHECK_FAILS(lavr_h5_read(f, "/weights/nope.weight", arena, &s), LAVR_E_FORMAT);
    CHECK(message_has("tensor '/weights/nope.weight' not found in") && message_has(path));
    CHECK_OK(lavr_h5_close(f));
    lavr_tensor_free(&m);
    lavr_tensor_free(&c);
}

typedef struct {
    char names[8][64];
    int n;
} seen_list;

static lavr_status visit(const char *rel, const lavr_tensor *desc, void *user) {
    seen_list *seen = user;
    if (seen->n < 8 && desc->shape[0] == 4) snprintf(seen->names[seen->n++], 64, "%s", rel);
    return LAVR_OK;
}

static void test_attributes_and_listing(void) {
    char path[600];
    tmp_path("h5model_attrs.h5", path, sizeof path);
    lavr_h5file *f = NULL;
    CHECK_OK(lavr_h5_create(path, &f));
    if (!f) return;
    const int64_t shape[1] = {4};
    lavr_tensor t = random_tensor(LAVR_F32, 1, shape, 3);
    const char *names[] = {"/dit/blocks.1.x", "/dit/blocks.0.x", "/dit/a", "/t5/z"};
    for (int i = 0; i < 4; i++) CHECK_OK(lavr_h5_write(f, names[i], &t, 0));
    CHECK_OK(lavr_h5_write_attr_string(f, "/", "format", "old"));
    CHECK_OK(lavr_h5_write_attr_string(f, "/", "format", "lavr-model")); /* replaces */
    CHECK_OK(lavr_h5_write_attr_string(f, "/dit", "config", "{\"dim\": 256, \"name\": \"\xc3\xa9\"}"));
    CHECK_OK(lavr_h5_write_attr_int(f, "/", "seed", -1234567890123LL));
    CHECK_OK(lavr_h5_write_attr_double(f, "/dit/a", "scale", 0.1));
    CHECK_FAILS(lavr_h5_write_attr_int(f, "/nowhere", "x", 1), LAVR_E_FORMAT);
    CHECK_OK(lavr_h5_close(f));

    CHECK_OK(lavr_h5_open(path, &f));
    if (!f) return;
    char *s = NULL;
    CHECK_OK(lavr_h5_read_attr_string(f, "/", "format", &s));
    CHECK(s && strcmp(s, "lavr-model") == 0);
    free(s);
    CHECK_OK(lavr_h5_read_attr_string(f, "dit", "config", &s));
    CHECK(s && strcmp(s, "{\"dim\": 256, \"name\": \"\xc3\xa9\"}") == 0);
    free(s);
    int64_t seed = 0;
    double scale = 0;
    CHECK_OK(lavr_h5_read_attr_int(f, "/", "seed", &seed));
    CHECK(seed == -1234567890123LL);
    CHECK_OK(lavr_h5_read_attr_double(f, "/dit/a", "scale", &scale));
    CHECK(scale == 0.1);
    CHECK(lavr_h5_has_attr(f, "/", "seed") && !lavr_h5_has_attr(f, "/", "nope") && !lavr_h5_has_attr(f, "/x", "seed"));
    CHECK_FAILS(lavr_h5_read_attr_int(f, "/", "nope", &seed), LAVR_E_FORMAT);
    CHECK(message_has("attribute 'nope'"));
    CHECK_FAILS(lavr_h5_write_attr_int(f, "/", "x", 1), LAVR_E_ARG); /* read-only */

    seen_list seen = {.n = 0};
    CHECK_OK(lavr_h5_list(f, "/dit", visit, &seen));
    CHECK(seen.n == 3);
    if (seen.n == 3) CHECK(!strcmp(seen.names[0], "a") && !strcmp(seen.names[1], "blocks.0.x") && !strcmp(seen.names[2], "blocks.1.x"));
    seen.n = 0;
    CHECK_OK(lavr_h5_list(f, "/", visit, &seen));
    CHECK(seen.n == 4 && !strcmp(seen.names[3], "t5/z"));
    CHECK_FAILS(lavr_h5_list(f, "/vae", visit, &seen), LAVR_E_FORMAT);
    CHECK_OK(lavr_h5_close(f));
    lavr_tensor_free(&t);
}

static void test_bad_files(void) {
    char path[600], bad[600], cut[600];
    lavr_h5file *f = NULL;
    CHECK_FAILS(lavr_h5_open(tmp_path("does-not-exist.h5", path, sizeof path), &f), LAVR_E_IO);
    CHECK(message_has("does-not-exist.h5") && message_has("No such file"));
    /* garbage bytes under an .h5 name */
    tmp_path("garbage.h5", bad, sizeof bad);
    FILE *g = fopen(bad, "wb");
    for (int i = 0; i < 4096; i++) fputc((i * 7919) & 0xff, g);
    fclose(g);
    CHECK_FAILS(lavr_h5_open(bad, &f), LAVR_E_IO);
    CHECK(message_has("not an HDF5 file") && message_has("garbage.h5"));
    /* the first half of a valid file */
    tmp_path("h5model_slices.h5", path, sizeof path);
    tmp_path("truncated.h5", cut, sizeof cut);
    FILE *in = fopen(path, "rb"), *out = fopen(cut, "wb");
    CHECK(in && out);
    if (!in || !out) return;
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    fseek(in, 0, SEEK_SET);
    for (long i = 0; i < size / 2; i++) fputc(fgetc(in), out);
    fclose(in);
    fclose(out);
    lavr_status st = lavr_h5_open(cut, &f);
    if (!st) {
        lavr_tensor t;
        st = lavr_h5_read(f, "m", arena, &t);
        lavr_h5_close(f);
    }
    CHECK(st == LAVR_E_IO);
    CHECK(message_has("truncated.h5"));
}

/* t5.h5 /weights/norm.weight holds bf16 bits; h5dump -d /weights/norm.weight -c 4 prints
 * 16272, 16246, 16250, 16239 = 0x3F90, 0x3F76, 0x3F7A, 0x3F6F = 1.125, 0.9609375, 0.9765625, 0.93359375. */
static void test_golden(void) {
    const char *dir = getenv("LAVR_GOLDEN_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/t5.h5", dir ? dir : "../shared/golden");
    lavr_h5file *f = NULL;
    CHECK_OK(lavr_h5_open(path, &f));
    if (!f) return;
    lavr_tensor raw, vals;
    CHECK_OK(lavr_h5_read(f, "/weights/norm.weight", arena, &raw));
    CHECK(raw.dtype == LAVR_BF16 && raw.ndim == 1 && raw.shape[0] == 64);
    if (raw.data) CHECK(((uint16_t *)raw.data)[0] == 16272 && ((uint16_t *)raw.data)[3] == 16239);
    CHECK_OK(lavr_h5_read_f32(f, "/weights/norm.weight", arena, &vals));
    if (vals.data) {
        const float *v = vals.data;
        CHECK(v[0] == 1.125f && v[1] == 0.9609375f && v[2] == 0.9765625f && v[3] == 0.93359375f);
    }
    lavr_tensor ids;
    CHECK_OK(lavr_h5_read(f, "inputs/short/ids", arena, &ids)); /* int64 without a dtype attribute */
    CHECK(ids.dtype == LAVR_I64 && ids.shape[0] == 5 && ((int64_t *)ids.data)[4] == 1); /* EOS last */
    lavr_tensor full, part;
    CHECK_OK(lavr_h5_read(f, "/weights/token_embedding.weight", arena, &full));
    const int64_t start[2] = {100, 8}, count[2] = {50, 16};
    CHECK_OK(lavr_h5_read_slice(f, "/weights/token_embedding.weight", start, count, arena, &part));
    CHECK(part.dtype == LAVR_BF16 && slice_matches(&full, &part, start));
    lavr_tensor_free(&raw);
    lavr_tensor_free(&vals);
    lavr_tensor_free(&ids);
    lavr_tensor_free(&full);
    lavr_tensor_free(&part);
    CHECK_OK(lavr_h5_close(f));
}

int main(void) {
    const char *t = getenv("LAVR_TEST_TMP");
    snprintf(tmp_dir, sizeof tmp_dir, "%s", t ? t : "/tmp");
    CHECK_OK(lavr_arena_create("test", 0, &arena));
    test_round_trips();
    test_slices();
    test_attributes_and_listing();
    test_bad_files();
    test_golden();
    lavr_arena_destroy(arena);
    return check_summary("test_h5model");
}
