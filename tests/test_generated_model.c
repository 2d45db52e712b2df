/* Tests of models/generated_model.c: the generated tiny model reads back byte for byte as the file `lavr init`
 * writes for the same preset and seed (every tensor whole, column and row slices of the matrices, boxes inside
 * the convolution kernels, the configs, root attributes and the tokenizer), and writes to it are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "io/h5model.h"
#include "models/generated_model.h"
#include "models/tokenizer.h"
#include "tests/check.h"

typedef struct {
    lavr_h5file *file, *gen;
    lavr_arena *arena;
    const char *group;
    int tensors, boxes;
} pair;

static int same_read(pair *p, const char *path, const int64_t *start, const int64_t *count) {
    lavr_tensor a, b;
    lavr_status sa = start ? lavr_h5_read_slice(p->file, path, start, count, p->arena, &a)
                           : lavr_h5_read(p->file, path, p->arena, &a);
    lavr_status sb = start ? lavr_h5_read_slice(p->gen, path, start, count, p->arena, &b)
                           : lavr_h5_read(p->gen, path, p->arena, &b);
    int same = !sa && !sb && a.dtype == b.dtype && a.ndim == b.ndim && lavr_tensor_nbytes(&a) == lavr_tensor_nbytes(&b);
    for (int i = 0; same && i < a.ndim; i++) same = a.shape[i] == b.shape[i];
    if (same) same = memcmp(a.data, b.data, (size_t)lavr_tensor_nbytes(&a)) == 0;
    if (!sa) lavr_tensor_free(&a);
    if (!sb) lavr_tensor_free(&b);
    return same;
}

static lavr_status compare(const lavr_tensor_spec *s, void *user) {
    pair *p = user;
    char path[256];
    snprintf(path, sizeof path, "/%s/%s", p->group, s->name);
    CHECK_MSG(same_read(p, path, NULL, NULL), "%s differs", path);
    if (s->ndim == 2 && s->shape[0] > 2 && s->shape[1] > 3) {
        /* a tp column split and a row range, as the sharded DiT loader reads them */
        const int64_t col_start[2] = {0, 1}, col_count[2] = {s->shape[0], s->shape[1] - 3};
        const int64_t row_start[2] = {1, 0}, row_count[2] = {s->shape[0] - 2, s->shape[1]};
        CHECK_MSG(same_read(p, path, col_start, col_count), "%s columns differ", path);
        CHECK_MSG(same_read(p, path, row_start, row_count), "%s rows differ", path);
    }
    if (s->ndim >= 3) {
        /* a box off every edge: each dim's offset goes through the run-by-run copy */
        int64_t start[5], count[5];
        for (int i = 0; i < s->ndim; i++) start[i] = s->shape[i] > 1, count[i] = s->shape[i] - start[i];
        CHECK_MSG(same_read(p, path, start, count), "%s box differs", path);
        p->boxes++;
    }
    p->tensors++;
    return LAVR_OK;
}

static void same_attr(pair *p, const char *obj, const char *name) {
    char *a = NULL, *b = NULL;
    CHECK_OK(lavr_h5_read_attr_string(p->file, obj, name, &a));
    CHECK_OK(lavr_h5_read_attr_string(p->gen, obj, name, &b));
    CHECK_MSG(a && b && strcmp(a, b) == 0, "attribute %s of %s: '%s' vs '%s'", name, obj, a ? a : "-", b ? b : "-");
    free(a);
    free(b);
}

int main(void) {
    const char *bin = getenv("LAVR_BIN"), *tmp = getenv("LAVR_TEST_TMP");
    if (!bin) {
        fprintf(stderr, "LAVR_BIN is not set\n");
        return 1;
    }
    char path[1024], cmd[2300];
    snprintf(path, sizeof path, "%s/generated_model_tiny.h5", tmp ? tmp : "/tmp");
    snprintf(cmd, sizeof cmd, "'%s' init --config tiny --seed 7 -o '%s' > /dev/null", bin, path);
    CHECK(system(cmd) == 0);
    pair p = {0};
    lavr_generated_model g = {.seed = 7};
    CHECK_OK(lavr_config_preset("tiny", &g.cfg));
    CHECK_OK(lavr_arena_create("test", 0, &p.arena));
    CHECK_OK(lavr_h5_open(path, &p.file));
    CHECK_OK(lavr_model_open(NULL, &g, &p.gen));
    if (!p.file || !p.gen) return check_summary("test_generated_model");
    CHECK(lavr_h5_is_source(p.gen, NULL) && !lavr_h5_is_source(p.file, NULL));
    CHECK(lavr_generated_model_seconds(p.file, "dit") == 0.0);
    CHECK(strcmp(lavr_h5_path(p.gen), "generated:tiny:seed=7") == 0);
    const char *groups[4] = {"dit", "t5", "vae", "wav2vec2"};
    p.group = groups[0];
    CHECK_OK(lavr_dit_inventory(&g.cfg.dit, compare, &p));
    p.group = groups[1];
    CHECK_OK(lavr_t5_inventory(&g.cfg.t5, compare, &p));
    p.group = groups[2];
    CHECK_OK(lavr_vae_inventory(&g.cfg.vae, compare, &p));
    p.group = groups[3];
    CHECK_OK(lavr_w2v_inventory(&g.cfg.w2v, compare, &p));
    CHECK(p.tensors > 100 && p.boxes > 10);
    CHECK(lavr_generated_model_seconds(p.gen, "t5") > 0.0 && lavr_generated_model_seconds(p.gen, "nope") == 0.0);
    for (int k = 0; k < 4; k++) {
        char obj[16];
        snprintf(obj, sizeof obj, "/%s", groups[k]);
        CHECK(lavr_h5_exists(p.gen, obj));
        same_attr(&p, obj, "config");
    }
    same_attr(&p, "/", "format");
    same_attr(&p, "/", "preset");
    same_attr(&p, LAVR_TOKENIZER_DATASET, "kind");
    int64_t seed = -1;
    CHECK_OK(lavr_h5_read_attr_int(p.gen, "/", "seed", &seed));
    CHECK(seed == 7);
    CHECK(same_read(&p, LAVR_TOKENIZER_DATASET, NULL, NULL));
    CHECK(!lavr_h5_exists(p.gen, "/dit/no.such.weight"));
    lavr_tensor t;
    CHECK_FAILS(lavr_h5_read(p.gen, "/dit/no.such.weight", p.arena, &t), LAVR_E_FORMAT);
    CHECK_FAILS(lavr_h5_write_attr_string(p.gen, "/", "x", "y"), LAVR_E_UNSUPPORTED);
    CHECK_OK(lavr_h5_close(p.file));
    CHECK_OK(lavr_h5_close(p.gen));
    lavr_arena_destroy(p.arena);
    remove(path);
    return check_summary("test_generated_model");
}
