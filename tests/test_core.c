/* Core runtime pieces: the capped arena (cap error naming request/cap/use, high-water mark),
 * tensors (views, strides, conversion copies), JSON reading, byte-size parsing, error wrapping. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "core/arena.h"
#include "core/json.h"
#include "core/tensor.h"
#include "core/units.h"

static void test_arena(void) {
    lavr_arena *a;
    CHECK_OK(lavr_arena_create("host", 1000, &a));
    void *p1, *p2, *p3;
    CHECK_OK(lavr_arena_alloc(a, 600, "kv window", &p1));
    CHECK(((uintptr_t)p1 & 63) == 0);
    CHECK(lavr_arena_used(a) == 600);
    CHECK_FAILS(lavr_arena_alloc(a, 500, "ffn activations", &p2), LAVR_E_NOMEM);
    const char *msg = lavr_error_message();
    CHECK_MSG(strstr(msg, "ffn activations") && strstr(msg, "500 B") && strstr(msg, "1000 B") && strstr(msg, "600 B"),
              "message: %s", msg);
    CHECK(p2 == NULL);
    CHECK(lavr_arena_used(a) == 600);
    CHECK_OK(lavr_arena_alloc(a, 400, "sink", &p2));
    CHECK(lavr_arena_used(a) == 1000 && lavr_arena_peak(a) == 1000);
    lavr_arena_free(a, p1);
    lavr_arena_free(a, p2);
    CHECK(lavr_arena_used(a) == 0 && lavr_arena_peak(a) == 1000);
    CHECK_OK(lavr_arena_alloc(a, 10, "small", &p3));
    memset(p3, 1, 10);
    lavr_arena_free(a, p3);
    lavr_arena_destroy(a);

    lavr_arena *unlimited;
    CHECK_OK(lavr_arena_create("host", 0, &unlimited));
    CHECK_OK(lavr_arena_alloc(unlimited, 1 << 20, "big", &p1));
    lavr_arena_free(unlimited, p1);
    lavr_arena_destroy(unlimited);
}

static void test_tensor(void) {
    lavr_arena *a;
    CHECK_OK(lavr_arena_create("host", 1 << 20, &a));
    lavr_tensor t, v, bf, r;
    int64_t shape[3] = {2, 3, 4};
    CHECK_OK(lavr_tensor_alloc(a, LAVR_F32, 3, shape, "t", &t));
    CHECK(lavr_tensor_numel(&t) == 24 && lavr_tensor_nbytes(&t) == 96);
    CHECK(t.stride[0] == 12 && t.stride[1] == 4 && t.stride[2] == 1);
    for (int i = 0; i < 24; i++) ((float *)t.data)[i] = (float)i + 0.5f;
    CHECK_OK(lavr_tensor_narrow(&t, 1, 1, 2, &v));
    CHECK(v.shape[1] == 2 && !lavr_tensor_is_contiguous(&v));
    int64_t idx[3] = {1, 0, 2};
    CHECK(lavr_tensor_get(&v, idx) == 1 * 12 + 1 * 4 + 2 + 0.5);
    CHECK(lavr_tensor_get_flat(&v, 7) == 0 * 12 + 2 * 4 + 3 + 0.5); /* flat 7 = (0,1,3) of the view = (0,2,3) of t */
    int64_t vshape[3] = {2, 2, 4};
    CHECK_OK(lavr_tensor_alloc(a, LAVR_BF16, 3, vshape, "bf", &bf));
    CHECK_OK(lavr_tensor_copy(&bf, &v));
    CHECK(lavr_tensor_get(&bf, idx) == 18.5); /* exactly representable in bf16 */
    CHECK_FAILS(lavr_tensor_copy(&bf, &t), LAVR_E_ARG);
    CHECK_FAILS(lavr_tensor_narrow(&t, 1, 2, 2, &v), LAVR_E_ARG);
    int64_t flat[1] = {24}, wrong[1] = {25};
    CHECK_OK(lavr_tensor_reshape(&t, 1, flat, &r));
    CHECK(((float *)r.data)[23] == 23.5f);
    CHECK_FAILS(lavr_tensor_reshape(&t, 1, wrong, &r), LAVR_E_ARG);
    int64_t six[6] = {1, 1, 1, 1, 1, 1};
    CHECK_FAILS(lavr_tensor_desc(LAVR_F32, 6, six, &r), LAVR_E_ARG);
    char buf[64];
    CHECK(strcmp(lavr_tensor_describe(&bf, buf, sizeof buf), "bfloat16[2,2,4]") == 0);
    lavr_tensor_free(&bf);
    lavr_tensor_free(&t);
    CHECK(lavr_arena_used(a) == 0);
    lavr_arena_destroy(a);
}

static void test_json(void) {
    lavr_json *j;
    CHECK_OK(lavr_json_parse("{\"dim\": 256, \"eps\": 1e-06, \"patch\": [1, 2, 2], \"flags\": [false, true],"
                             " \"name\": \"a\\u00e9\\n\", \"none\": null, \"nested\": {\"x\": [[]]}}",
                             &j));
    int64_t dim = 0, arr[4];
    int n = 0, b = 0;
    double eps = 0;
    CHECK_OK(lavr_json_get_int(j, "dim", &dim));
    CHECK(dim == 256);
    CHECK_OK(lavr_json_get_number(j, "eps", &eps));
    CHECK(eps == 1e-6);
    CHECK_OK(lavr_json_get_int_array(j, "patch", arr, 4, &n));
    CHECK(n == 3 && arr[0] == 1 && arr[2] == 2);
    CHECK_OK(lavr_json_get_int_array(j, "flags", arr, 4, &n));
    CHECK(n == 2 && arr[0] == 0 && arr[1] == 1);
    CHECK(strcmp(lavr_json_get(j, "name")->string, "a\xc3\xa9\n") == 0);
    CHECK(lavr_json_get(j, "none")->type == LAVR_JSON_NULL);
    CHECK_FAILS(lavr_json_get_int(j, "missing", &dim), LAVR_E_FORMAT);
    CHECK(strstr(lavr_error_message(), "'missing'") != NULL);
    CHECK_FAILS(lavr_json_get_bool(j, "dim", &b), LAVR_E_FORMAT);
    CHECK_FAILS(lavr_json_get_int(j, "eps", &dim), LAVR_E_FORMAT);
    lavr_json_free(j);
    CHECK_FAILS(lavr_json_parse("{\"a\": [1, 2", &j), LAVR_E_FORMAT);
    CHECK(j == NULL);
    CHECK_FAILS(lavr_json_parse("{\"a\": 1} x", &j), LAVR_E_FORMAT);
    CHECK_FAILS(lavr_json_parse("", &j), LAVR_E_FORMAT);
}

static void test_units(void) {
    uint64_t v;
    CHECK_OK(lavr_parse_bytes("22GiB", &v));
    CHECK(v == 22ull << 30);
    CHECK_OK(lavr_parse_bytes("24GB", &v));
    CHECK(v == 24000000000ull);
    CHECK_OK(lavr_parse_bytes("512M", &v));
    CHECK(v == 512ull << 20);
    CHECK_OK(lavr_parse_bytes("1.5 KiB", &v));
    CHECK(v == 1536);
    CHECK_FAILS(lavr_parse_bytes("lots", &v), LAVR_E_ARG);
    CHECK_FAILS(lavr_parse_bytes("12 parsecs", &v), LAVR_E_ARG);
    CHECK_FAILS(lavr_parse_bytes("-3G", &v), LAVR_E_ARG);
    char buf[40];
    CHECK(strcmp(lavr_format_count(16295755609ull, buf, sizeof buf), "16,295,755,609") == 0);
    CHECK(strcmp(lavr_format_count(999, buf, sizeof buf), "999") == 0);
    CHECK(strcmp(lavr_format_bytes(1536, buf, sizeof buf), "1.50 KiB") == 0);
}

static lavr_status inner_failure(void) { return LAVR_FAIL(LAVR_E_IO, "cannot open '%s'", "x.h5"); }
static lavr_status outer(void) {
    lavr_status st = inner_failure();
    if (st) return lavr_error_wrap(st, "loading model");
    return LAVR_OK;
}

static void test_errors(void) {
    CHECK(outer() == LAVR_E_IO);
    const char *m = lavr_error_message();
    CHECK_MSG(strncmp(m, "loading model: cannot open 'x.h5' (tests/test_core.c:", 53) == 0, "message: %s", m);
}

int main(void) {
    test_arena();
    test_tensor();
    test_json();
    test_units();
    test_errors();
    return check_summary("test_core");
}
