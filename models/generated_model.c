/* A generated model (models/generated_model.h): the four components' inventories and config JSON, lavr init's
 * root attributes and the synthetic tokenizer, served through the io/h5model.h source callbacks; a tensor's rows
 * are made by lavr_init_tensor_rows when a loader reads them, slabs of rows on all cores. */
#include "models/generated_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/init_weights.h"
#include "models/tokenizer.h"

#define SLAB_ELEMENTS (1 << 20) /* rows made per task: the element index keys the values, so any split is the same */

typedef struct {
    char path[192];        /* "dit/blocks.0.ffn.0.weight" */
    const char *component; /* "dit", "t5", "vae", "wav2vec2": the RNG key's component */
    lavr_tensor_spec spec;
} gen_tensor;

typedef struct {
    lavr_generated_model g;
    gen_tensor *t;
    int64_t n, cap;
    char *config[4];       /* JSON of dit, t5, vae, wav2vec2 */
    char *tokenizer;       /* tokenizer.json text */
    int64_t tokenizer_len;
    char seed_text[32];
    const char *component; /* the inventory being collected */
    double seconds[4];     /* making each group's rows */
} gen_model;

static const char *const groups[4] = {"dit", "t5", "vae", "wav2vec2"};

static lavr_status collect(const lavr_tensor_spec *spec, void *user) {
    gen_model *m = user;
    if (m->n == m->cap) {
        int64_t cap = m->cap ? 2 * m->cap : 1024;
        gen_tensor *grown = realloc(m->t, (size_t)cap * sizeof *grown);
        if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory listing the generated model's tensors");
        m->t = grown, m->cap = cap;
    }
    gen_tensor *t = &m->t[m->n++];
    snprintf(t->path, sizeof t->path, "%s/%s", m->component, spec->name);
    t->component = m->component;
    t->spec = *spec;
    return LAVR_OK;
}

static const gen_tensor *find(const gen_model *m, const char *path) {
    for (int64_t i = 0; i < m->n; i++)
        if (strcmp(m->t[i].path, path) == 0) return &m->t[i];
    return NULL;
}

static int group_index(const char *path) {
    for (int k = 0; k < 4; k++)
        if (strcmp(path, groups[k]) == 0) return k;
    return -1;
}

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int gen_lookup(void *user, const char *path, lavr_tensor *desc) {
    const gen_model *m = user;
    if (!path[0] || group_index(path) >= 0 || strcmp(path, "tokenizer") == 0) return 2;
    if (strcmp(path, LAVR_TOKENIZER_DATASET + 1) == 0) {
        const int64_t shape[1] = {m->tokenizer_len};
        return lavr_tensor_desc(LAVR_U8, 1, shape, desc) ? 0 : 1;
    }
    const gen_tensor *t = find(m, path);
    if (!t) return 0;
    return lavr_tensor_desc(t->spec.dtype, t->spec.ndim, t->spec.shape, desc) ? 0 : 1;
}

static lavr_status gen_read_rows(void *user, const char *path, int64_t row0, int64_t nrows, void *out) {
    gen_model *m = user;
    if (strcmp(path, LAVR_TOKENIZER_DATASET + 1) == 0) {
        memcpy(out, m->tokenizer + row0, (size_t)nrows);
        return LAVR_OK;
    }
    const gen_tensor *t = find(m, path);
    if (!t) return LAVR_FAIL(LAVR_E_FORMAT, "tensor '%s' not found in the generated model", path);
    int64_t row = 1;
    for (int i = 1; i < t->spec.ndim; i++) row *= t->spec.shape[i];
    const size_t bytes_per_row = (size_t)row * lavr_dtype_size(t->spec.dtype);
    const int64_t per = row >= SLAB_ELEMENTS ? 1 : SLAB_ELEMENTS / row, slabs = (nrows + per - 1) / per;
    lavr_status first = LAVR_OK;
    char why[512] = ""; /* the error buffer is per thread: a worker's message is carried out here */
    const double t0 = seconds_now();
#pragma omp parallel for schedule(dynamic)
    for (int64_t s = 0; s < slabs; s++) {
        const int64_t r = s * per, k = nrows - r < per ? nrows - r : per;
        lavr_status st = lavr_init_tensor_rows(&t->spec, t->component, m->g.seed, row0 + r, k,
                                               (uint8_t *)out + (size_t)r * bytes_per_row);
        if (st) {
#pragma omp critical
            if (!first) {
                first = st;
                snprintf(why, sizeof why, "%s", lavr_error_message());
            }
        }
    }
    const int k = group_index(t->component);
    if (k >= 0) m->seconds[k] += seconds_now() - t0;
    return first ? LAVR_FAIL(first, "%s", why) : LAVR_OK;
}

static const char *gen_attr(void *user, const char *obj, const char *name) {
    const gen_model *m = user;
    if (!obj[0]) {
        if (strcmp(name, "format") == 0) return "lavr-model";
        if (strcmp(name, "format_version") == 0) return "1";
        if (strcmp(name, "preset") == 0) return m->g.cfg.preset;
        if (strcmp(name, "seed") == 0) return m->seed_text;
        if (strcmp(name, "created_by") == 0) return "lavr " LAVR_VERSION " (generated, not written)";
        return NULL;
    }
    const int k = group_index(obj);
    if (k >= 0 && strcmp(name, "config") == 0) return m->config[k];
    if (strcmp(obj, LAVR_TOKENIZER_DATASET + 1) == 0 && strcmp(name, "kind") == 0) return LAVR_TOKENIZER_KIND_JSON;
    return NULL;
}

static void gen_close(void *user) {
    gen_model *m = user;
    if (!m) return;
    free(m->t);
    for (int k = 0; k < 4; k++) free(m->config[k]);
    free(m->tokenizer);
    free(m);
}

static const lavr_h5_source gen_source = {gen_lookup, gen_read_rows, gen_attr, gen_close};

lavr_status lavr_generated_model_open(const lavr_generated_model *g, lavr_h5file **out) {
    CHECK_ARG(g && out, "lavr_generated_model_open: NULL argument");
    *out = NULL;
    TRY(lavr_config_validate(&g->cfg));
    gen_model *m = calloc(1, sizeof *m);
    if (!m) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the generated model");
    m->g = *g;
    snprintf(m->seed_text, sizeof m->seed_text, "%llu", (unsigned long long)g->seed);
    const lavr_model_config *c = &m->g.cfg;
    lavr_status st = LAVR_OK;
    m->component = "dit";
    if (!st) st = lavr_dit_inventory(&c->dit, collect, m);
    m->component = "t5";
    if (!st) st = lavr_t5_inventory(&c->t5, collect, m);
    m->component = "vae";
    if (!st) st = lavr_vae_inventory(&c->vae, collect, m);
    m->component = "wav2vec2";
    if (!st) st = lavr_w2v_inventory(&c->w2v, collect, m);
    m->config[0] = lavr_dit_config_to_json(&c->dit);
    m->config[1] = lavr_t5_config_to_json(&c->t5);
    m->config[2] = lavr_vae_config_to_json(&c->vae);
    m->config[3] = lavr_w2v_config_to_json(&c->w2v);
    for (int k = 0; k < 4 && !st; k++)
        if (!m->config[k]) st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory writing the %s config", groups[k]);
    if (!st) st = lavr_tokenizer_tiny_json(c->t5.vocab, &m->tokenizer);
    if (!st) m->tokenizer_len = (int64_t)strlen(m->tokenizer);
    char name[96];
    snprintf(name, sizeof name, "generated:%s:seed=%llu", c->preset, (unsigned long long)g->seed);
    if (!st) st = lavr_h5_open_source(name, &gen_source, m, out);
    if (st) gen_close(m);
    return st;
}

double lavr_generated_model_seconds(lavr_h5file *f, const char *group) {
    const gen_model *m = lavr_h5_is_source(f, &gen_source) ? lavr_h5_source_user(f) : NULL;
    const int k = group ? group_index(group) : -1;
    return m && k >= 0 ? m->seconds[k] : 0.0;
}

lavr_status lavr_model_open(const char *path, const lavr_generated_model *g, lavr_h5file **out) {
    return g ? lavr_generated_model_open(g, out) : lavr_h5_open(path, out);
}
