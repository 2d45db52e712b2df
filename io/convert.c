/* `lavr convert` (io/convert.h): finds the official files under --wan, reads the configs (DiT and
 * wav2vec2 from their JSON, umT5 and VAE from the tensor shapes), checks every component against
 * its inventory, then writes OUT.partial through convert_write.c and renames it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.h"
#include "core/units.h"
#include "io/convert_internal.h"
#include "models/tokenizer.h"

/* The official download layout (model-spec §0, liveavatar-system §4.0). */
#define DIT_CONFIG "config.json"
#define DIT_INDEX "diffusion_pytorch_model.safetensors.index.json"
#define DIT_SINGLE "diffusion_pytorch_model.safetensors"
#define T5_FILE "models_t5_umt5-xxl-enc-bf16.pth"
#define VAE_FILE "Wan2.1_VAE.pth"
#define W2V_DIR "wav2vec2-large-xlsr-53-english"
#define TOKENIZER_DIR "google/umt5-xxl"

typedef struct {
    char *text;
    size_t len, cap;
} sources_json;

static void join(char *out, size_t cap, const char *dir, const char *rel) {
    int n = snprintf(out, cap, "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= cap) out[0] = 0; /* too long: becomes a "missing file" error */
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static lavr_status need_file(const char *dir, const char *rel, char *path, size_t cap) {
    join(path, cap, dir, rel);
    if (!exists(path))
        return LAVR_FAIL(LAVR_E_IO, "'%s' is missing: --wan must point at a directory laid out like ckpt/Wan2.2-S2V-14B "
                         "(see lavr convert --help)", path);
    return LAVR_OK;
}

static lavr_status read_text(const char *path, char **out) {
    FILE *f = fopen(path, "rb");
    if (!f) return LAVR_FAIL(LAVR_E_IO, "cannot open '%s': %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf), fclose(f);
                return LAVR_FAIL(LAVR_E_NOMEM, "out of memory reading '%s'", path);
            }
            buf = b;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return LAVR_FAIL(LAVR_E_IO, "cannot read '%s'", path);
    }
    buf[len] = 0;
    *out = buf;
    return LAVR_OK;
}

static lavr_status read_json(const char *path, lavr_json **out) {
    char *text;
    TRY(read_text(path, &text));
    lavr_status st = lavr_json_parse(text, out);
    free(text);
    if (st) lavr_error_wrap(st, "'%s'", path);
    return st;
}

/* Each source file goes into the root `sources` attribute as {"file", "bytes"}. */
static lavr_status record_source(sources_json *s, const char *name, int64_t bytes) {
    size_t need = s->len + strlen(name) * 2 + 64;
    if (need > s->cap) {
        size_t cap = need * 2;
        char *t = realloc(s->text, cap);
        if (!t) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
        s->text = t, s->cap = cap;
    }
    s->len += (size_t)snprintf(s->text + s->len, s->cap - s->len, "%s{\"file\": \"", s->len ? ", " : "[");
    for (const char *p = name; *p; p++) {
        if (*p == '"' || *p == '\\') s->text[s->len++] = '\\';
        s->text[s->len++] = *p;
    }
    s->len += (size_t)snprintf(s->text + s->len, s->cap - s->len, "\", \"bytes\": %lld}", (long long)bytes);
    return LAVR_OK;
}

static int64_t file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

/* ---- DiT: shards + index ------------------------------------------------------------------- */

static lavr_status open_shard(lavr_converter *c, sources_json *src, const char *dir, const char *file) {
    for (int i = 0; i < c->n_shards; i++) {
        const char *p = lavr_st_path(c->shards[i]);
        size_t lp = strlen(p), lf = strlen(file);
        if (lp >= lf && strcmp(p + lp - lf, file) == 0 && (lp == lf || p[lp - lf - 1] == '/')) return LAVR_OK;
    }
    char path[4096];
    TRY(need_file(dir, file, path, sizeof path));
    lavr_safetensors **s = realloc(c->shards, (size_t)(c->n_shards + 1) * sizeof *s);
    if (!s) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    c->shards = s;
    TRY(lavr_st_open(path, &c->shards[c->n_shards]));
    c->n_shards++;
    TRY(record_source(src, file, lavr_st_file_size(c->shards[c->n_shards - 1])));
    return lavr_cv_add_safetensors(&c->dit, c->shards[c->n_shards - 1], NULL);
}

static lavr_status open_dit(lavr_converter *c, sources_json *src) {
    const char *dir = c->opt.wan_dir;
    char path[4096];
    join(path, sizeof path, dir, DIT_INDEX);
    if (!exists(path)) {
        join(path, sizeof path, dir, DIT_SINGLE);
        if (!exists(path))
            return LAVR_FAIL(LAVR_E_IO, "'%s/%s' and '%s' are both missing: --wan must point at a directory laid out like "
                             "ckpt/Wan2.2-S2V-14B", dir, DIT_INDEX, DIT_SINGLE);
        return open_shard(c, src, dir, DIT_SINGLE);
    }
    lavr_json *index;
    TRY(read_json(path, &index));
    TRY(record_source(src, DIT_INDEX, file_size(path)));
    const lavr_json *map = lavr_json_get(index, "weight_map");
    lavr_status st = LAVR_OK;
    if (!map || map->type != LAVR_JSON_OBJECT || map->count == 0)
        st = LAVR_FAIL(LAVR_E_FORMAT, "'%s' has no weight_map object", path);
    for (int i = 0; !st && i < map->count; i++) {
        if (map->items[i].type != LAVR_JSON_STRING) {
            st = LAVR_FAIL(LAVR_E_FORMAT, "'%s': weight_map entry '%s' is not a file name", path, map->keys[i]);
            break;
        }
        st = open_shard(c, src, dir, map->items[i].string);
        /* the index must tell the truth about where each tensor is */
        for (int k = 0; !st && k < c->n_shards; k++) {
            const char *p = lavr_st_path(c->shards[k]);
            size_t lp = strlen(p), lf = strlen(map->items[i].string);
            if (lp >= lf && strcmp(p + lp - lf, map->items[i].string) == 0 && !lavr_st_find(c->shards[k], map->keys[i]))
                st = LAVR_FAIL(LAVR_E_FORMAT, "'%s' puts '%s' in '%s', which does not hold it", path, map->keys[i], p);
        }
    }
    lavr_json_free(index);
    return st;
}

/* ---- configs of the components without a config file, from their tensor shapes ---------------- */

static lavr_status shape_of(const lavr_cv_set *set, const char *what, const char *name, int ndim, int64_t *shape) {
    const lavr_cv_tensor *t = lavr_cv_find(set, name);
    if (!t) return LAVR_FAIL(LAVR_E_FORMAT, "%s: tensor '%s' is missing (needed to read the model's sizes)", what, name);
    if (t->ndim != ndim) return LAVR_FAIL(LAVR_E_FORMAT, "%s: tensor '%s' has %d dims, expected %d", what, name, t->ndim, ndim);
    memcpy(shape, t->shape, (size_t)ndim * sizeof *shape);
    return LAVR_OK;
}

static int has_prefix(const lavr_cv_set *set, const char *prefix) {
    size_t n = strlen(prefix);
    for (int i = 0; i < set->count; i++)
        if (strncmp(set->items[i].name, prefix, n) == 0) return 1;
    return 0;
}

static lavr_status t5_config(const lavr_cv_set *s, const char *what, lavr_t5_config *t) {
    int64_t emb[2], q[2], fc1[2], pos[2];
    TRY(shape_of(s, what, "token_embedding.weight", 2, emb));
    TRY(shape_of(s, what, "blocks.0.attn.q.weight", 2, q));
    TRY(shape_of(s, what, "blocks.0.ffn.fc1.weight", 2, fc1));
    TRY(shape_of(s, what, "blocks.0.pos_embedding.embedding.weight", 2, pos));
    int64_t layers = 0;
    for (char p[64];; layers++) {
        snprintf(p, sizeof p, "blocks.%lld.", (long long)layers);
        if (!has_prefix(s, p)) break;
    }
    /* max_distance and eps are constants of the reference's T5Encoder (§4) */
    *t = (lavr_t5_config){.vocab = emb[0], .dim = emb[1], .dim_attn = q[0], .dim_ffn = fc1[0], .num_heads = pos[1],
                          .num_layers = layers, .num_buckets = pos[0], .max_distance = 128, .eps = 1e-6};
    return LAVR_OK;
}

static lavr_status vae_config(const lavr_cv_set *s, const char *what, lavr_vae_config *v) {
    int64_t conv1[5], conv2[5], res[5];
    TRY(shape_of(s, what, "encoder.conv1.weight", 5, conv1));
    TRY(shape_of(s, what, "conv2.weight", 5, conv2));
    int64_t stages = 0;
    for (char p[64];; stages++) {
        snprintf(p, sizeof p, "encoder.downsamples.%lld.", (long long)stages);
        if (!has_prefix(s, p)) break;
    }
    /* 4 levels of num_res_blocks residual blocks with a resample between levels */
    if (stages < 7 || (stages - 3) % 4)
        return LAVR_FAIL(LAVR_E_FORMAT, "%s: %lld encoder.downsamples stages cannot be 4 levels of residual blocks", what,
                         (long long)stages);
    memset(v, 0, sizeof *v);
    v->dim = conv1[0], v->z_dim = conv2[0], v->num_res_blocks = (stages - 3) / 4;
    for (int i = 0; i < 4; i++) {
        char name[96];
        snprintf(name, sizeof name, "encoder.downsamples.%lld.residual.2.weight", (long long)(i * (v->num_res_blocks + 1)));
        TRY(shape_of(s, what, name, 5, res));
        if (v->dim <= 0 || res[0] % v->dim) return LAVR_FAIL(LAVR_E_FORMAT, "%s: '%s' width %lld is not a multiple of %lld", what, name, (long long)res[0], (long long)v->dim);
        v->dim_mult[i] = res[0] / v->dim;
        if (i < 3) {
            snprintf(name, sizeof name, "encoder.downsamples.%lld.time_conv.weight", (long long)(i * (v->num_res_blocks + 1) + v->num_res_blocks));
            v->temporal_downsample[i] = lavr_cv_find(s, name) != NULL;
        }
    }
    return LAVR_OK;
}

/* ---- wav2vec2 ------------------------------------------------------------------------------ */

/* HF names: with or without the `wav2vec2.` prefix (ForCTC vs Model), legacy weight_g/weight_v of
 * the positional conv -> the parametrization names; the CTC head (lm_head) is left out. */
static int w2v_rename(const char *name, char *out, size_t cap) {
    if (strncmp(name, "lm_head.", 8) == 0) return 0;
    const char *bare = strncmp(name, "wav2vec2.", 9) == 0 ? name + 9 : name;
    const char *legacy = "encoder.pos_conv_embed.conv.weight_";
    size_t ll = strlen(legacy);
    if (strncmp(bare, legacy, ll) == 0 && (bare[ll] == 'g' || bare[ll] == 'v') && !bare[ll + 1])
        return snprintf(out, cap, "wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight.original%d", bare[ll] == 'v') < (int)cap;
    return snprintf(out, cap, "wav2vec2.%s", bare) < (int)cap;
}

static lavr_status open_w2v(lavr_converter *c, sources_json *src) {
    char dir[4096], path[4096];
    join(dir, sizeof dir, c->opt.wan_dir, W2V_DIR);
    lavr_json *j;
    TRY(need_file(dir, "config.json", path, sizeof path));
    TRY(read_json(path, &j));
    lavr_status st = lavr_w2v_config_from_json(j, &c->cfg.w2v);
    lavr_json_free(j);
    if (st) return lavr_error_wrap(st, "'%s'", path);
    c->cfg.w2v.vocab_size = 0; /* the CTC head is not converted */
    TRY(record_source(src, W2V_DIR "/config.json", file_size(path)));
    join(path, sizeof path, dir, "model.safetensors");
    if (exists(path)) {
        TRY(lavr_st_open(path, &c->w2v_st));
        TRY(record_source(src, W2V_DIR "/model.safetensors", lavr_st_file_size(c->w2v_st)));
        return lavr_cv_add_safetensors(&c->w2v, c->w2v_st, w2v_rename);
    }
    join(path, sizeof path, dir, "pytorch_model.bin");
    if (!exists(path))
        return LAVR_FAIL(LAVR_E_IO, "'%s' has neither model.safetensors nor pytorch_model.bin", dir);
    TRY(lavr_tz_open(path, &c->w2v_tz));
    TRY(record_source(src, W2V_DIR "/pytorch_model.bin", lavr_tz_file_size(c->w2v_tz)));
    return lavr_cv_add_torchzip(&c->w2v, c->w2v_tz, w2v_rename);
}

static lavr_status write_preprocessor(lavr_converter *c, sources_json *src) {
    char dir[4096], path[4096];
    join(dir, sizeof dir, c->opt.wan_dir, W2V_DIR);
    TRY(need_file(dir, "preprocessor_config.json", path, sizeof path));
    char *text;
    TRY(read_text(path, &text));
    lavr_json *j = NULL;
    lavr_status st = lavr_json_parse(text, &j);
    if (st) lavr_error_wrap(st, "'%s'", path);
    int64_t rate = 0;
    if (!st) st = lavr_json_get_int(j, "sampling_rate", &rate);
    if (!st && rate != 16000) st = LAVR_FAIL(LAVR_E_UNSUPPORTED, "'%s': sampling_rate %lld (lavr feeds wav2vec2 16 kHz audio)", path, (long long)rate);
    if (!st) st = lavr_h5_write_attr_string(c->out, "/wav2vec2", "preprocessor_config", text);
    if (!st) st = lavr_h5_write_attr_int(c->out, "/wav2vec2", "sampling_rate", rate);
    static const char *const flags[] = {"do_normalize", "return_attention_mask"};
    for (int i = 0; !st && i < 2; i++) {
        const lavr_json *v = lavr_json_get(j, flags[i]);
        if (v && v->type == LAVR_JSON_BOOL) st = lavr_h5_write_attr_int(c->out, "/wav2vec2", flags[i], (int64_t)v->number);
    }
    const lavr_json *pad = j ? lavr_json_get(j, "padding_value") : NULL;
    if (!st && pad && pad->type == LAVR_JSON_NUMBER) st = lavr_h5_write_attr_double(c->out, "/wav2vec2", "padding_value", pad->number);
    if (!st) st = record_source(src, W2V_DIR "/preprocessor_config.json", file_size(path));
    lavr_json_free(j);
    free(text);
    return st;
}

/* ---- tokenizer ----------------------------------------------------------------------------- */

static lavr_status write_tokenizer(lavr_converter *c, sources_json *src) {
    static const char *const kinds[] = {"tokenizer.json", "spiece.model"};
    char dir[4096], path[4096];
    join(dir, sizeof dir, c->opt.wan_dir, TOKENIZER_DIR);
    int k = 0;
    for (; k < 2; k++) {
        join(path, sizeof path, dir, kinds[k]);
        if (exists(path)) break;
    }
    if (k == 2) return LAVR_FAIL(LAVR_E_IO, "'%s' has neither tokenizer.json nor spiece.model", dir);
    lavr_tokenizer *tok;
    TRY(lavr_tokenizer_load(path, &tok));
    int64_t vocab = lavr_tokenizer_vocab_size(tok);
    lavr_tokenizer_destroy(tok);
    if (vocab > c->cfg.t5.vocab)
        return LAVR_FAIL(LAVR_E_FORMAT, "'%s' has %lld pieces but the umT5 embedding only %lld rows", path, (long long)vocab,
                         (long long)c->cfg.t5.vocab);
    FILE *f = fopen(path, "rb");
    if (!f) return LAVR_FAIL(LAVR_E_IO, "cannot open '%s': %s", path, strerror(errno));
    int64_t size = file_size(path);
    unsigned char *bytes = malloc((size_t)size + 1);
    size_t got = bytes ? fread(bytes, 1, (size_t)size, f) : 0;
    fclose(f);
    lavr_status st = LAVR_OK;
    if (!bytes) st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory reading '%s'", path);
    else if ((int64_t)got != size) st = LAVR_FAIL(LAVR_E_IO, "cannot read '%s'", path);
    const int64_t shape[1] = {size};
    lavr_tensor t = lavr_tensor_wrap(LAVR_U8, 1, shape, bytes);
    if (!st) st = lavr_h5_write(c->out, "/tokenizer/data", &t, c->opt.compress);
    if (!st) st = lavr_h5_write_attr_string(c->out, "/tokenizer/data", "kind", kinds[k]);
    if (!st) st = lavr_h5_write_attr_string(c->out, "/tokenizer", "kind", kinds[k]);
    char rel[128];
    snprintf(rel, sizeof rel, TOKENIZER_DIR "/%s", kinds[k]);
    if (!st) st = record_source(src, rel, size);
    free(bytes);
    return st;
}

/* ---- the whole conversion ------------------------------------------------------------------ */

static lavr_status inv_dit(const void *c, lavr_inventory_fn fn, void *u) { return lavr_dit_inventory(c, fn, u); }
static lavr_status inv_t5(const void *c, lavr_inventory_fn fn, void *u) { return lavr_t5_inventory(c, fn, u); }
static lavr_status inv_vae(const void *c, lavr_inventory_fn fn, void *u) { return lavr_vae_inventory(c, fn, u); }
static lavr_status inv_w2v(const void *c, lavr_inventory_fn fn, void *u) { return lavr_w2v_inventory(c, fn, u); }

static lavr_status open_sources(lavr_converter *c, sources_json *src) {
    const char *dir = c->opt.wan_dir;
    char path[4096], what[4200];
    lavr_json *j;
    TRY(need_file(dir, DIT_CONFIG, path, sizeof path));
    TRY(read_json(path, &j));
    lavr_status st = lavr_dit_config_from_json(j, &c->cfg.dit);
    lavr_json_free(j);
    if (st) return lavr_error_wrap(st, "'%s'", path);
    TRY(record_source(src, DIT_CONFIG, file_size(path)));
    TRY(open_dit(c, src));

    TRY(need_file(dir, T5_FILE, path, sizeof path));
    TRY(lavr_tz_open(path, &c->t5_file));
    TRY(record_source(src, T5_FILE, lavr_tz_file_size(c->t5_file)));
    TRY(lavr_cv_add_torchzip(&c->t5, c->t5_file, NULL));
    snprintf(what, sizeof what, "t5 ('%s')", path);
    TRY(t5_config(&c->t5, what, &c->cfg.t5));

    TRY(need_file(dir, VAE_FILE, path, sizeof path));
    TRY(lavr_tz_open(path, &c->vae_file));
    TRY(record_source(src, VAE_FILE, lavr_tz_file_size(c->vae_file)));
    TRY(lavr_cv_add_torchzip(&c->vae, c->vae_file, NULL));
    snprintf(what, sizeof what, "vae ('%s')", path);
    TRY(vae_config(&c->vae, what, &c->cfg.vae));

    TRY(open_w2v(c, src));
    snprintf(c->cfg.preset, sizeof c->cfg.preset, "converted");
    TRY(lavr_config_validate(&c->cfg));

    snprintf(what, sizeof what, "dit ('%s/diffusion_pytorch_model*.safetensors')", dir);
    TRY(lavr_cv_check(&c->dit, what, inv_dit, &c->cfg.dit));
    snprintf(what, sizeof what, "t5 ('%s/" T5_FILE "')", dir);
    TRY(lavr_cv_check(&c->t5, what, inv_t5, &c->cfg.t5));
    snprintf(what, sizeof what, "vae ('%s/" VAE_FILE "')", dir);
    TRY(lavr_cv_check(&c->vae, what, inv_vae, &c->cfg.vae));
    snprintf(what, sizeof what, "wav2vec2 ('%s/" W2V_DIR "')", dir);
    TRY(lavr_cv_check(&c->w2v, what, inv_w2v, &c->cfg.w2v));

    if (c->opt.lora_path) {
        TRY(lavr_lora_open(c->opt.lora_path, c->opt.lora_scale, &c->lora));
        const char *base = strrchr(c->opt.lora_path, '/');
        TRY(record_source(src, base ? base + 1 : c->opt.lora_path, lavr_lora_file_size(c->lora)));
    }
    return LAVR_OK;
}

static lavr_status write_all(lavr_converter *c, sources_json *src) {
    TRY(lavr_convert_count_bytes(c, inv_dit, &c->cfg.dit, 1));
    TRY(lavr_convert_count_bytes(c, inv_t5, &c->cfg.t5, 0));
    TRY(lavr_convert_count_bytes(c, inv_vae, &c->cfg.vae, 0));
    TRY(lavr_convert_count_bytes(c, inv_w2v, &c->cfg.w2v, 0));
    TRY(lavr_h5_write_attr_string(c->out, "/", "format", "lavr-model"));
    TRY(lavr_h5_write_attr_int(c->out, "/", "format_version", 1));
    TRY(lavr_h5_write_attr_string(c->out, "/", "preset", c->cfg.preset));
    TRY(lavr_h5_write_attr_string(c->out, "/", "created_by", "lavr " LAVR_VERSION " convert"));
    TRY(lavr_convert_write_component(c, "dit", inv_dit, &c->cfg.dit, &c->dit));
    if (c->lora) TRY(lavr_lora_check_used(c->lora));
    TRY(lavr_convert_write_component(c, "t5", inv_t5, &c->cfg.t5, &c->t5));
    TRY(lavr_convert_write_component(c, "vae", inv_vae, &c->cfg.vae, &c->vae));
    TRY(lavr_convert_write_component(c, "wav2vec2", inv_w2v, &c->cfg.w2v, &c->w2v));
    char *json[4] = {lavr_dit_config_to_json(&c->cfg.dit), lavr_t5_config_to_json(&c->cfg.t5),
                     lavr_vae_config_to_json(&c->cfg.vae), lavr_w2v_config_to_json(&c->cfg.w2v)};
    static const char *const groups[4] = {"/dit", "/t5", "/vae", "/wav2vec2"};
    lavr_status st = LAVR_OK;
    for (int i = 0; i < 4; i++) {
        if (!st && !json[i]) st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory writing the %s config", groups[i]);
        if (!st) st = lavr_h5_write_attr_string(c->out, groups[i], "config", json[i]);
        free(json[i]);
    }
    TRY(st);
    TRY(write_preprocessor(c, src));
    TRY(write_tokenizer(c, src));
    if (c->lora) {
        TRY(lavr_h5_write_attr_double(c->out, "/dit", "lora_scale", lavr_lora_scale(c->lora)));
        TRY(lavr_h5_write_attr_int(c->out, "/dit", "lora_merged", c->lora_merged));
    }
    if (c->opt.fp8)
        TRY(lavr_h5_write_attr_string(c->out, "/dit_fp8", "format",
                                      "float8_e4m3fn per tensor: weight = q * scale (dataset attribute), scale = 1/min(448/amax, 448)"));
    if (src->len) src->len += (size_t)snprintf(src->text + src->len, src->cap - src->len, "]");
    return lavr_h5_write_attr_string(c->out, "/", "sources", src->text ? src->text : "[]");
}

static void release(lavr_converter *c) {
    for (int i = 0; i < c->n_shards; i++) lavr_st_close(c->shards[i]);
    free(c->shards);
    lavr_tz_close(c->t5_file), lavr_tz_close(c->vae_file), lavr_tz_close(c->w2v_tz);
    lavr_st_close(c->w2v_st);
    lavr_cv_set_free(&c->dit), lavr_cv_set_free(&c->t5), lavr_cv_set_free(&c->vae), lavr_cv_set_free(&c->w2v);
    lavr_lora_close(c->lora);
    free(c->raw), free(c->conv), free(c->f32);
    lavr_arena_destroy(c->arena);
}

lavr_status lavr_convert(const lavr_convert_options *opt) {
    CHECK_ARG(opt && opt->wan_dir && opt->out_path, "lavr_convert: missing --wan or output");
    lavr_converter c;
    memset(&c, 0, sizeof c);
    c.opt = *opt;
    sources_json src = {0};
    char partial[4096];
    snprintf(partial, sizeof partial, "%s.partial", opt->out_path);
    lavr_status st = lavr_arena_create("convert", 0, &c.arena);
    if (!st) st = open_sources(&c, &src);
    /* the output is only created once every input has been checked */
    if (!st) st = lavr_model_digest_init(&c.digest);
    if (!st) st = lavr_h5_create(partial, &c.out);
    if (!st) st = write_all(&c, &src);
    if (!st) st = lavr_model_digest_write(&c.digest, c.out);
    else lavr_model_digest_abandon(&c.digest);
    if (c.out) {
        lavr_status close_st = lavr_h5_close(c.out);
        if (!st) st = close_st;
        if (!st && rename(partial, opt->out_path) != 0)
            st = LAVR_FAIL(LAVR_E_IO, "cannot rename '%s' to '%s': %s", partial, opt->out_path, strerror(errno));
        if (st) unlink(partial);
    }
    if (!st) {
        char p[32], b[32];
        printf("wrote %s: %lld tensors, %s params, %s", opt->out_path, (long long)c.tensors,
               lavr_format_count((uint64_t)c.params, p, sizeof p), lavr_format_bytes((uint64_t)c.done_bytes, b, sizeof b));
        if (c.lora) printf("; LoRA merged into %lld weights (scale %g)", (long long)c.lora_merged, lavr_lora_scale(c.lora));
        if (opt->fp8) printf("; %lld FP8 copies", (long long)c.fp8_written);
        printf("\n");
    }
    free(src.text);
    release(&c);
    return st;
}
