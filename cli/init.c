/* `lavr init`: writes a complete model file (/dit, /t5, /vae, /wav2vec2 under official names) with
 * deterministic random weights from a preset, or with --dry-run prints parameter counts and bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/units.h"
#include "io/h5model.h"
#include "io/model_digest.h"
#include "models/config.h"
#include "models/init_weights.h"
#include "models/tokenizer.h"

/* Slabs of at most this many elements are generated and written at once, so even the 1 G-element
 * umT5 embedding never sits in memory whole. */
#define SLAB_ELEMENTS (8 << 20)

typedef struct {
    const char *group; /* HDF5 group and the component name in the RNG key */
    lavr_status (*inventory)(const lavr_model_config *cfg, lavr_inventory_fn fn, void *user);
    char *(*config_json)(const lavr_model_config *cfg);
} component;

static lavr_status inv_dit(const lavr_model_config *c, lavr_inventory_fn fn, void *u) { return lavr_dit_inventory(&c->dit, fn, u); }
static lavr_status inv_t5(const lavr_model_config *c, lavr_inventory_fn fn, void *u) { return lavr_t5_inventory(&c->t5, fn, u); }
static lavr_status inv_vae(const lavr_model_config *c, lavr_inventory_fn fn, void *u) { return lavr_vae_inventory(&c->vae, fn, u); }
static lavr_status inv_w2v(const lavr_model_config *c, lavr_inventory_fn fn, void *u) { return lavr_w2v_inventory(&c->w2v, fn, u); }
static char *json_dit(const lavr_model_config *c) { return lavr_dit_config_to_json(&c->dit); }
static char *json_t5(const lavr_model_config *c) { return lavr_t5_config_to_json(&c->t5); }
static char *json_vae(const lavr_model_config *c) { return lavr_vae_config_to_json(&c->vae); }
static char *json_w2v(const lavr_model_config *c) { return lavr_w2v_config_to_json(&c->w2v); }

static const component components[] = {
    {"dit", inv_dit, json_dit},
    {"t5", inv_t5, json_t5},
    {"vae", inv_vae, json_vae},
    {"wav2vec2", inv_w2v, json_w2v},
};
#define NCOMPONENTS ((int)(sizeof components / sizeof components[0]))

static int64_t spec_numel(const lavr_tensor_spec *s) {
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->shape[i];
    return n;
}

/* ---- dry run: counts ------------------------------------------------------------------------ */

enum { G_BLOCKS, G_INJECTOR, G_ENCODER, G_EMBED, G_FRAMEPACK, G_COUNT };
static const char *const group_names[G_COUNT] = {"transformer blocks", "audio injector", "audio encoder",
                                                 "embeddings + head", "FramePack"};

typedef struct {
    int64_t tensors, params, bytes;
    int64_t group_params[G_COUNT], group_bytes[G_COUNT];
} counts;

static int dit_group_of(const char *name) {
    if (strncmp(name, "blocks.", 7) == 0) return G_BLOCKS;
    if (strncmp(name, "audio_injector.", 15) == 0) return G_INJECTOR;
    if (strncmp(name, "casual_audio_encoder.", 21) == 0) return G_ENCODER;
    if (strncmp(name, "frame_packer.", 13) == 0) return G_FRAMEPACK;
    return G_EMBED;
}

static lavr_status count_spec(const lavr_tensor_spec *s, void *user) {
    counts *c = user;
    int64_t n = spec_numel(s), b = n * (int64_t)lavr_dtype_size(s->dtype);
    int g = dit_group_of(s->name);
    c->tensors++, c->params += n, c->bytes += b;
    c->group_params[g] += n, c->group_bytes[g] += b;
    return LAVR_OK;
}

static void print_count_line(const char *label, int64_t tensors, int64_t params, int64_t bytes) {
    char p[32], b[32];
    if (tensors >= 0)
        printf("  %-22s %6lld tensors %18s params %12s\n", label, (long long)tensors,
               lavr_format_count((uint64_t)params, p, sizeof p), lavr_format_bytes((uint64_t)bytes, b, sizeof b));
    else
        printf("    %-20s %14s %18s params %12s\n", label, "", lavr_format_count((uint64_t)params, p, sizeof p),
               lavr_format_bytes((uint64_t)bytes, b, sizeof b));
}

static lavr_status dry_run(const lavr_model_config *cfg) {
    printf("lavr init --dry-run: preset %s (nothing is allocated or written)\n", cfg->preset);
    counts all = {0};
    for (int k = 0; k < NCOMPONENTS; k++) {
        counts c = {0};
        TRY(components[k].inventory(cfg, count_spec, &c));
        print_count_line(components[k].group, c.tensors, c.params, c.bytes);
        if (k == 0)
            for (int g = 0; g < G_COUNT; g++) print_count_line(group_names[g], -1, c.group_params[g], c.group_bytes[g]);
        all.tensors += c.tensors, all.params += c.params, all.bytes += c.bytes;
    }
    print_count_line("total", all.tensors, all.params, all.bytes);
    return LAVR_OK;
}

/* ---- writing -------------------------------------------------------------------------------- */

typedef struct {
    lavr_h5file *file;
    const char *group;
    uint64_t seed;
    int compress;
    void *slab;
    int64_t done_bytes, total_bytes, done_tensors;
    int show_progress;
    lavr_model_digest digest; /* content fingerprint and the finite check of what is written */
} writer;

static lavr_status write_tensor(const lavr_tensor_spec *s, void *user) {
    writer *w = user;
    char path[256];
    snprintf(path, sizeof path, "/%s/%s", w->group, s->name);
    TRY(lavr_h5_create_dataset(w->file, path, s->dtype, s->ndim, s->shape, w->compress));
    const int64_t numel = spec_numel(s);
    if (numel > 0) {
        int64_t rows = s->ndim ? s->shape[0] : 1, row_len = s->ndim ? numel / rows : 1;
        int64_t rows_per_slab = SLAB_ELEMENTS / row_len;
        if (rows_per_slab < 1) rows_per_slab = 1; /* a row longer than a slab is written whole */
        for (int64_t r = 0; r < rows; r += rows_per_slab) {
            int64_t nr = rows - r < rows_per_slab ? rows - r : rows_per_slab;
            TRY(lavr_init_tensor_rows(s, w->group, w->seed, r, nr, w->slab));
            int64_t shape[5];
            memcpy(shape, s->shape, sizeof shape);
            if (s->ndim) shape[0] = nr;
            lavr_tensor t = lavr_tensor_wrap(s->dtype, s->ndim, shape, w->slab);
            TRY(lavr_model_digest_rows(&w->digest, path, r, &t, "the random initialisation"));
            TRY(lavr_h5_write_rows(w->file, path, r, &t));
        }
    }
    w->done_bytes += numel * (int64_t)lavr_dtype_size(s->dtype);
    w->done_tensors++;
    if (w->show_progress) {
        char a[32], b[32];
        fprintf(stderr, "\r  writing %-9s %5.1f%%  %s / %s   ", w->group, 100.0 * (double)w->done_bytes / (double)w->total_bytes,
                lavr_format_bytes((uint64_t)w->done_bytes, a, sizeof a), lavr_format_bytes((uint64_t)w->total_bytes, b, sizeof b));
        fflush(stderr);
    }
    return LAVR_OK;
}

static lavr_status largest_row_slab(const lavr_tensor_spec *s, void *user) {
    int64_t *max_bytes = user;
    int64_t numel = spec_numel(s), rows = s->ndim ? s->shape[0] : 1;
    int64_t row_len = rows > 0 ? numel / rows : 0;
    int64_t per = row_len > 0 ? SLAB_ELEMENTS / row_len : 1;
    if (per < 1) per = 1;
    if (per > rows) per = rows;
    int64_t bytes = per * row_len * (int64_t)lavr_dtype_size(s->dtype);
    if (bytes > *max_bytes) *max_bytes = bytes;
    return LAVR_OK;
}

static lavr_status write_model(const lavr_model_config *cfg, const char *out, uint64_t seed, int compress) {
    char partial[4096];
    snprintf(partial, sizeof partial, "%s.partial", out);
    counts all = {0};
    int64_t slab_bytes = 1;
    for (int k = 0; k < NCOMPONENTS; k++) {
        TRY(components[k].inventory(cfg, count_spec, &all));
        TRY(components[k].inventory(cfg, largest_row_slab, &slab_bytes));
    }
    writer w = {.seed = seed, .compress = compress, .total_bytes = all.bytes > 0 ? all.bytes : 1,
                .show_progress = isatty(2)};
    w.slab = malloc((size_t)slab_bytes);
    if (!w.slab) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for a %lld-byte write buffer", (long long)slab_bytes);
    lavr_status st = lavr_model_digest_init(&w.digest);
    if (!st) st = lavr_h5_create(partial, &w.file);
    if (!st) st = lavr_h5_write_attr_string(w.file, "/", "format", "lavr-model");
    if (!st) st = lavr_h5_write_attr_int(w.file, "/", "format_version", 1);
    if (!st) st = lavr_h5_write_attr_string(w.file, "/", "preset", cfg->preset);
    if (!st) st = lavr_h5_write_attr_int(w.file, "/", "seed", (int64_t)seed);
    if (!st) st = lavr_h5_write_attr_string(w.file, "/", "created_by", "lavr " LAVR_VERSION " init");
    for (int k = 0; !st && k < NCOMPONENTS; k++) {
        w.group = components[k].group;
        st = components[k].inventory(cfg, write_tensor, &w);
        char *json = st ? NULL : components[k].config_json(cfg);
        if (!st && !json) st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory writing the %s config", w.group);
        char group[64];
        snprintf(group, sizeof group, "/%s", w.group);
        if (!st) st = lavr_h5_write_attr_string(w.file, group, "config", json);
        free(json);
    }
    /* tiny gets a synthetic tokenizer (models/tokenizer_tiny.c); the real one comes from lavr convert */
    int with_tokenizer = strcmp(cfg->preset, "tiny") == 0;
    if (!st && with_tokenizer) {
        char *json = NULL;
        st = lavr_tokenizer_tiny_json(cfg->t5.vocab, &json);
        if (!st) st = lavr_tokenizer_store(w.file, LAVR_TOKENIZER_KIND_JSON, (const uint8_t *)json, (int64_t)strlen(json));
        free(json);
    }
    if (!st) st = lavr_model_digest_write(&w.digest, w.file);
    else lavr_model_digest_abandon(&w.digest);
    if (w.show_progress) fprintf(stderr, "\n");
    free(w.slab);
    lavr_status close_st = lavr_h5_close(w.file);
    if (!st) st = close_st;
    /* only a finished, flushed file gets the final name */
    if (!st && rename(partial, out) != 0) st = LAVR_FAIL(LAVR_E_IO, "cannot rename '%s' to '%s'", partial, out);
    if (st) {
        unlink(partial);
        return st;
    }
    char p[32], b[32];
    printf("wrote %s: preset %s, seed %llu, %lld tensors, %s params, %s of weights\n", out, cfg->preset,
           (unsigned long long)seed, (long long)w.done_tensors, lavr_format_count((uint64_t)all.params, p, sizeof p),
           lavr_format_bytes((uint64_t)all.bytes, b, sizeof b));
    printf("tokenizer: %s\n", with_tokenizer ? "synthetic tokenizer.json of the tiny vocabulary (/tokenizer/data)"
                                             : "none (lavr convert stores the real one; encode-text needs it or --ids)");
    return LAVR_OK;
}

lavr_status lavr_cmd_init(int argc, char **argv) {
    cli_option opts[] = {
        {"config", "PRESET", "model preset: tiny or s2v-14b (default tiny)", NULL},
        {"seed", "N", "random seed of the weights (default 0)", NULL},
        {"output", "FILE", "output file (also -o FILE)", NULL},
        {"compress", "0-9", "deflate level 0-9 (default 0: none)", NULL},
        {"dry-run", 0, "print parameter counts and bytes per component; write nothing", NULL},
        {"help", 0, "show this help", NULL},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    TRY(cli_parse("init", argc, argv, 2, opts, nopts, NULL, 0, NULL));
    if (cli_flag(opts, nopts, "help")) {
        cli_print_help("usage: lavr init --config PRESET [--seed N] -o|--output FILE [--compress N] | --dry-run", NULL,
                       opts, nopts);
        return LAVR_OK;
    }
    int64_t seed, compress;
    TRY(cli_get_int(opts, nopts, "seed", 0, 0, INT64_MAX, &seed));
    TRY(cli_get_int(opts, nopts, "compress", 0, 0, 9, &compress));
    lavr_model_config cfg;
    TRY(lavr_config_preset(cli_get(opts, nopts, "config", "tiny"), &cfg));
    TRY(lavr_config_validate(&cfg));
    if (cli_flag(opts, nopts, "dry-run")) return dry_run(&cfg);
    const char *out = cli_get(opts, nopts, "output", NULL);
    CHECK_ARG(out && *out, "lavr init: missing output file (-o FILE), or use --dry-run");
    return write_model(&cfg, out, (uint64_t)seed, (int)compress);
}
