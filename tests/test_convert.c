/* Tests `lavr convert` (io/convert.c) on a tiny-config download written here in the official
 * formats: every tensor compared with its source, the LoRA merge against a double-precision
 * product, FP8 copies against their scale rule, the four loaders on the result, and the errors of
 * missing, truncated and mismatched inputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fixtures/fixture_writers.h"
#include "io/convert.h"
#include "io/h5model.h"
#include "io/model_digest.h"
#include "models/config.h"
#include "models/dit.h"
#include "models/init_weights.h"
#include "models/t5.h"
#include "models/vae.h"
#include "models/wav2vec2.h"

#define SEED 11
#define MAX_T 600

static char root[512];
static lavr_model_config cfg;
static lavr_arena *arena; /* reads of the output */

typedef struct {
    fx_tensor t[MAX_T];
    char names[MAX_T][160];
    void *data[MAX_T];
    int n;
} tensor_list;

static void path_of(char *out, const char *dir, const char *rel) {
    if (snprintf(out, 1024, "%s/%s", dir, rel) >= 1024) out[0] = 0;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (f) fputs(text, f), fclose(f);
}

typedef struct {
    tensor_list *list;
    const char *component;
    const char *rename_prefix; /* wav2vec2: names written without "wav2vec2." and legacy weight_g/v */
} collect_ctx;

static lavr_status collect(const lavr_tensor_spec *s, void *user) {
    collect_ctx *c = user;
    tensor_list *l = c->list;
    int i = l->n++;
    int64_t numel = 1;
    for (int d = 0; d < s->ndim; d++) numel *= s->shape[d];
    l->data[i] = malloc((size_t)(numel * (int64_t)lavr_dtype_size(s->dtype)) + 8);
    TRY(lavr_init_tensor_rows(s, c->component, SEED, 0, s->ndim ? s->shape[0] : 1, l->data[i]));
    snprintf(l->names[i], sizeof l->names[i], "%s", s->name);
    if (c->rename_prefix) {
        const char *bare = s->name + strlen(c->rename_prefix);
        if (strstr(bare, "parametrizations.weight.original0")) snprintf(l->names[i], 160, "encoder.pos_conv_embed.conv.weight_g");
        else if (strstr(bare, "parametrizations.weight.original1")) snprintf(l->names[i], 160, "encoder.pos_conv_embed.conv.weight_v");
        else snprintf(l->names[i], 160, "%s", bare);
    }
    l->t[i] = (fx_tensor){.name = l->names[i], .dtype = s->dtype, .ndim = s->ndim, .data = l->data[i]};
    memcpy(l->t[i].shape, s->shape, sizeof l->t[i].shape);
    return LAVR_OK;
}

static void free_list(tensor_list *l) {
    for (int i = 0; i < l->n; i++) free(l->data[i]);
    l->n = 0;
}

static tensor_list dit, t5, vae, w2v;
static float patch_bias_f32[256];
static float vae_bias_storage[20];

/* The LoRA of the test: three modules in three key spellings, rank 4, alpha 2 -> scale 0.5. */
#define RANK 4
static const char *const lora_targets[3] = {"blocks.0.self_attn.q", "blocks.1.ffn.0", "audio_injector.injector.1.o"};
static const char *const lora_prefixes[3] = {"base_model.model.", "diffusion_model.", ""};
static const char *const lora_suffixes[3] = {".default.weight", ".weight", ".weight"};
static uint16_t lora_a[3][RANK * 512], lora_b[3][512 * RANK];

static void make_sources(void) {
    CHECK_OK(lavr_config_preset("tiny", &cfg));
    collect_ctx c = {&dit, "dit", NULL};
    CHECK_OK(lavr_dit_inventory(&cfg.dit, collect, &c));
    c = (collect_ctx){&t5, "t5", NULL};
    CHECK_OK(lavr_t5_inventory(&cfg.t5, collect, &c));
    c = (collect_ctx){&vae, "vae", NULL};
    CHECK_OK(lavr_vae_inventory(&cfg.vae, collect, &c));
    c = (collect_ctx){&w2v, "wav2vec2", "wav2vec2."};
    CHECK_OK(lavr_w2v_inventory(&cfg.w2v, collect, &c));
    /* one DiT tensor stored as F32 with values between bf16 neighbours: converted with one rounding */
    for (int i = 0; i < dit.n; i++)
        if (strcmp(dit.names[i], "patch_embedding.bias") == 0) {
            for (int k = 0; k < 256; k++) patch_bias_f32[k] = 0.01f * (float)k + 1e-5f;
            dit.t[i].dtype = LAVR_F32, dit.t[i].data = patch_bias_f32;
        }
    /* one VAE tensor as a strided view at an offset into a larger storage */
    for (int i = 0; i < vae.n; i++)
        if (strcmp(vae.names[i], "encoder.conv1.bias") == 0) {
            const float *v = vae.data[i];
            for (int k = 0; k < 20; k++) vae_bias_storage[k] = -100.0f;
            for (int k = 0; k < 8; k++) vae_bias_storage[3 + 2 * k] = v[k];
            vae.t[i].data = vae_bias_storage, vae.t[i].storage_numel = 20, vae.t[i].offset = 3, vae.t[i].stride[0] = 2;
        }
    for (int m = 0; m < 3; m++)
        for (int k = 0; k < RANK * 512; k++) {
            lora_a[m][k] = lavr_f32_to_bf16(0.05f * (float)((k * 7 + m * 3) % 23 - 11));
            lora_b[m][k] = lavr_f32_to_bf16(0.03f * (float)((k * 5 + m) % 17 - 8));
        }
}

/* variant: 0 good, 1 no T5 file, 2 truncated shard, 3 a DiT tensor missing, 4 wrong ffn_dim in
 * config.json, 5 LoRA module without a target, 6 a NaN in a DiT weight */
static void make_download(const char *dir, int variant) {
    char p[1024], sub[1024];
    mkdir(dir, 0755);
    char *json = lavr_dit_config_to_json(&cfg.dit);
    if (variant == 4) {
        char *at = strstr(json, "\"ffn_dim\": 512");
        if (at) memcpy(at, "\"ffn_dim\": 640", 14);
    }
    path_of(p, dir, "config.json");
    write_text(p, json);
    free(json);
    /* two shards + index; variant 3 drops the last DiT tensor from both */
    int n = dit.n - (variant == 3), half = n / 2;
    const float kept = patch_bias_f32[5];
    if (variant == 6) patch_bias_f32[5] = NAN;
    path_of(p, dir, "diffusion_pytorch_model-00001-of-00002.safetensors");
    fx_write_safetensors(p, dit.t, half, NULL);
    if (variant == 2) CHECK(truncate(p, 4000) == 0);
    path_of(p, dir, "diffusion_pytorch_model-00002-of-00002.safetensors");
    fx_write_safetensors(p, dit.t + half, n - half, NULL);
    patch_bias_f32[5] = kept;
    size_t cap = (size_t)n * 256 + 256, len = 0;
    char *index = malloc(cap);
    len += (size_t)snprintf(index, cap, "{\"metadata\": {\"total_size\": 1}, \"weight_map\": {");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(index + len, cap - len, "%s\"%s\": \"diffusion_pytorch_model-0000%d-of-00002.safetensors\"",
                                i ? ", " : "", dit.names[i], i < half ? 1 : 2);
    snprintf(index + len, cap - len, "}}");
    path_of(p, dir, "diffusion_pytorch_model.safetensors.index.json");
    write_text(p, index);
    free(index);
    path_of(p, dir, "models_t5_umt5-xxl-enc-bf16.pth");
    if (variant != 1) fx_write_torchzip(p, t5.t, t5.n);
    else unlink(p);
    path_of(p, dir, "Wan2.1_VAE.pth");
    fx_write_torchzip(p, vae.t, vae.n);
    path_of(sub, dir, "wav2vec2-large-xlsr-53-english");
    mkdir(sub, 0755);
    /* HF config with a CTC vocabulary: its lm_head is in the file and must be left out */
    json = lavr_w2v_config_to_json(&cfg.w2v);
    json[strlen(json) - 1] = 0;
    path_of(p, sub, "config.json");
    char full[4096];
    snprintf(full, sizeof full, "%s, \"vocab_size\": 6}", json);
    write_text(p, full);
    free(json);
    static float lm_w[6 * 64], lm_b[6];
    fx_tensor w2v_all[MAX_T];
    memcpy(w2v_all, w2v.t, (size_t)w2v.n * sizeof *w2v_all);
    w2v_all[w2v.n] = (fx_tensor){.name = "lm_head.weight", .dtype = LAVR_F32, .ndim = 2, .shape = {6, 64}, .data = lm_w};
    w2v_all[w2v.n + 1] = (fx_tensor){.name = "lm_head.bias", .dtype = LAVR_F32, .ndim = 1, .shape = {6}, .data = lm_b};
    path_of(p, sub, "model.safetensors");
    fx_write_safetensors(p, w2v_all, w2v.n + 2, NULL);
    path_of(p, sub, "preprocessor_config.json");
    write_text(p, "{\"do_normalize\": true, \"feature_extractor_type\": \"Wav2Vec2FeatureExtractor\", \"feature_size\": 1, "
                  "\"padding_side\": \"right\", \"padding_value\": 0.0, \"return_attention_mask\": true, \"sampling_rate\": 16000}");
    path_of(sub, dir, "google");
    mkdir(sub, 0755);
    path_of(sub, dir, "google/umt5-xxl");
    mkdir(sub, 0755);
    path_of(p, sub, "tokenizer.json");
    write_text(p, "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 2, \"vocab\": [[\"<pad>\", 0.0], [\"</s>\", 0.0], [\"<unk>\", 0.0], "
                  "[\"\\u2581hello\", -2.0], [\"\\u2581\", -3.0], [\"h\", -4.0], [\"e\", -4.0], [\"l\", -4.0], [\"o\", -4.0]]}}");
    /* the LoRA */
    fx_tensor lt[8];
    char names[8][128];
    int nl = 0;
    for (int m = 0; m < 3; m++) {
        int64_t out = m == 1 ? 512 : 256, in = 256;
        const char *target = variant == 5 && m == 2 ? "audio_injector.injector.7.o" : lora_targets[m];
        snprintf(names[nl], 128, "%s%s.lora_A%s", lora_prefixes[m], target, lora_suffixes[m]);
        lt[nl] = (fx_tensor){.name = names[nl], .dtype = LAVR_BF16, .ndim = 2, .shape = {RANK, in}, .data = lora_a[m]};
        nl++;
        snprintf(names[nl], 128, "%s%s.lora_B%s", lora_prefixes[m], target, lora_suffixes[m]);
        lt[nl] = (fx_tensor){.name = names[nl], .dtype = LAVR_BF16, .ndim = 2, .shape = {out, RANK}, .data = lora_b[m]};
        nl++;
    }
    path_of(p, dir, "lora.safetensors");
    fx_write_safetensors(p, lt, nl, "\"lora_alpha\": \"2\"");
}

static const fx_tensor *find(const tensor_list *l, const char *name) {
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0) return &l->t[i];
    return NULL;
}

/* Unmerged tensors: the stored bits equal the source (bf16 -> bf16, f32 -> f32), or one RNE
 * rounding of an f32 source into bf16. */
static int compare_plain(lavr_h5file *f, const char *group, const tensor_list *l, const char *strip) {
    int bad = 0, checked = 0;
    for (int i = 0; i < l->n; i++) {
        const fx_tensor *t = &l->t[i];
        char name[256], path[320];
        snprintf(name, sizeof name, "%s", l->names[i]);
        if (strip) { /* the wav2vec2 list was written under HF spellings; read back the official ones */
            if (strcmp(name, "encoder.pos_conv_embed.conv.weight_g") == 0) snprintf(name, sizeof name, "encoder.pos_conv_embed.conv.parametrizations.weight.original0");
            if (strcmp(name, "encoder.pos_conv_embed.conv.weight_v") == 0) snprintf(name, sizeof name, "encoder.pos_conv_embed.conv.parametrizations.weight.original1");
            snprintf(path, sizeof path, "%s/%s%s", group, strip, name);
        } else {
            snprintf(path, sizeof path, "%s/%s", group, name);
        }
        int merged = 0;
        for (int m = 0; m < 3; m++) {
            char w[128];
            snprintf(w, sizeof w, "%s.weight", lora_targets[m]);
            merged |= strcmp(group, "/dit") == 0 && strcmp(name, w) == 0;
        }
        if (merged) continue;
        lavr_tensor got;
        if (lavr_h5_read(f, path, arena, &got)) {
            fprintf(stderr, "cannot read %s: %s\n", path, lavr_error_message());
            bad++;
            continue;
        }
        int64_t numel = fx_numel(t);
        for (int64_t k = 0; k < numel; k++) {
            double want;
            if (t->offset || t->stride[0]) want = ((const float *)t->data)[t->offset + k * t->stride[0]];
            else want = lavr_dtype_load(t->dtype, t->data, k);
            if (got.dtype == LAVR_BF16) want = lavr_round_bf16((float)want);
            if (lavr_dtype_load(got.dtype, got.data, k) != want) {
                if (bad < 3) fprintf(stderr, "%s[%lld] = %g, source %g\n", path, (long long)k, lavr_dtype_load(got.dtype, got.data, k), want);
                bad++;
                break;
            }
        }
        lavr_tensor_free(&got);
        checked++;
    }
    printf("  %s: %d tensors equal to their sources\n", group, checked);
    return bad;
}

static void check_lora_and_fp8(lavr_h5file *f) {
    for (int m = 0; m < 3; m++) {
        char name[128], path[160];
        snprintf(name, sizeof name, "%s.weight", lora_targets[m]);
        snprintf(path, sizeof path, "/dit/%s", name);
        const fx_tensor *w = find(&dit, name);
        lavr_tensor got;
        CHECK_OK(lavr_h5_read(f, path, arena, &got));
        if (!w || !got.data) continue;
        int64_t out = w->shape[0], in = w->shape[1];
        double worst = 0;
        int changed = 0;
        for (int64_t o = 0; o < out; o++)
            for (int64_t i = 0; i < in; i++) {
                double sum = 0;
                for (int r = 0; r < RANK; r++)
                    sum += (double)lavr_bf16_to_f32(lora_b[m][o * RANK + r]) * (double)lavr_bf16_to_f32(lora_a[m][r * in + i]);
                double base = lavr_dtype_load(LAVR_BF16, w->data, o * in + i), want = base + 0.5 * sum;
                double g = lavr_dtype_load(LAVR_BF16, got.data, o * in + i);
                /* one bf16 rounding of the fp32 result: within one bf16 ulp (2^-7 relative) of the exact value */
                double err = fabs(g - want) / (fabs(want) + 1e-30);
                if (fabs(g - want) > 1e-30 && err > worst) worst = err;
                changed += g != base;
            }
        CHECK_MSG(worst <= 1.0 / 128, "LoRA %s: worst relative error %g", name, worst);
        CHECK_MSG(changed > out * in / 2, "LoRA %s changed only %d of %lld values", name, changed, (long long)(out * in));
        /* FP8 copy: w ~ q * scale, amax -> min(448, 448 amax) */
        snprintf(path, sizeof path, "/dit_fp8/%s", name);
        lavr_tensor q;
        double scale = 0;
        CHECK_OK(lavr_h5_read(f, path, arena, &q));
        CHECK_OK(lavr_h5_read_attr_double(f, path, "scale", &scale));
        if (q.data && scale > 0) {
            double amax = 0, worst_q = 0, qmax = 0;
            for (int64_t k = 0; k < out * in; k++) amax = fmax(amax, fabs(lavr_dtype_load(LAVR_BF16, got.data, k)));
            for (int64_t k = 0; k < out * in; k++) {
                double v = lavr_dtype_load(LAVR_BF16, got.data, k), d = lavr_fp8e4m3_to_f32(((uint8_t *)q.data)[k]) * scale;
                /* e4m3: 3 mantissa bits (half-ulp 2^-4 relative); below 2^-6 the spacing is 2^-9 */
                worst_q = fmax(worst_q, fabs(d - v) - fmax(fabs(v) * 0.0625, scale * 0x1p-10));
                qmax = fmax(qmax, fabs(lavr_fp8e4m3_to_f32(((uint8_t *)q.data)[k])));
            }
            CHECK_MSG(worst_q <= 1e-12, "fp8 %s outside the e4m3 rounding bound by %g", name, worst_q);
            const double s = fmin(448.0 / amax, 448.0); /* the spec's rule, capped at 448 */
            CHECK_NEAR(scale, 1.0 / s, 1e-6 / s);
            CHECK_NEAR(qmax, amax * s, amax * s * 0.0625);
        }
        lavr_tensor_free(&q);
        lavr_tensor_free(&got);
    }
    CHECK(lavr_h5_exists(f, "/dit_fp8/blocks.3.ffn.2.weight"));
    CHECK(lavr_h5_exists(f, "/dit_fp8/audio_injector.injector_adain_layers.0.linear.weight"));
    CHECK(!lavr_h5_exists(f, "/dit_fp8/time_projection.1.weight"));
    CHECK(!lavr_h5_exists(f, "/dit_fp8/head.head.weight"));
    CHECK(!lavr_h5_exists(f, "/dit_fp8/blocks.0.self_attn.q.bias"));
}

static void check_loaders(const char *path) {
    lavr_h5file *f = NULL;
    CHECK_OK(lavr_h5_open(path, &f));
    if (!f) return;
    lavr_dit *d = NULL;
    lavr_t5 *t = NULL;
    lavr_vae *v = NULL;
    lavr_w2v *w = NULL;
    CHECK_OK(lavr_dit_load(f, "dit/", "/dit", &d));
    CHECK_OK(lavr_t5_create(f, "t5/", &cfg.t5, &t));
    CHECK_OK(lavr_vae_create(f, "vae/", &cfg.vae, NULL, arena, &v));
    CHECK_OK(lavr_w2v_create(f, "wav2vec2/", &cfg.w2v, &w));
    lavr_dit_destroy(d), lavr_t5_destroy(t), lavr_vae_destroy(v), lavr_w2v_destroy(w);
    lavr_h5_close(f);
}

/* The converted model drives the commands a render uses: the prompt through its tokenizer and umT5,
 * and DiT blocks through dit-run (synthetic image/audio conditioning). */
static void check_renders(const char *model) {
    const char *bin = getenv("LAVR_BIN");
    CHECK_MSG(bin != NULL, "LAVR_BIN is not set");
    if (!bin) return;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' encode-text --model '%s' --prompt 'a person talks' --out '%s/convert-cond.h5' >/dev/null",
             bin, model, root);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
    snprintf(cmd, sizeof cmd, "'%s' dit-run --model '%s' --blocks 2 --size 64*64 --out '%s/convert-latents.h5' >/dev/null",
             bin, model, root);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
}

static void check_output(const char *out) {
    lavr_h5file *f = NULL;
    CHECK_OK(lavr_h5_open(out, &f));
    if (!f) return;
    CHECK(compare_plain(f, "/dit", &dit, NULL) == 0);
    CHECK(compare_plain(f, "/t5", &t5, NULL) == 0);
    CHECK(compare_plain(f, "/vae", &vae, NULL) == 0);
    CHECK(compare_plain(f, "/wav2vec2", &w2v, "wav2vec2.") == 0);
    CHECK(!lavr_h5_exists(f, "/wav2vec2/lm_head.weight"));
    check_lora_and_fp8(f);
    char *s = NULL;
    CHECK_OK(lavr_h5_read_attr_string(f, "/", "sources", &s));
    CHECK(s && strstr(s, "\"file\": \"Wan2.1_VAE.pth\"") && strstr(s, "diffusion_pytorch_model-00002-of-00002.safetensors") &&
          strstr(s, "lora.safetensors"));
    free(s), s = NULL;
    CHECK_OK(lavr_h5_read_attr_string(f, "/tokenizer/data", "kind", &s));
    CHECK(s && strcmp(s, "tokenizer.json") == 0);
    free(s), s = NULL;
    lavr_tensor tok;
    CHECK_OK(lavr_h5_read(f, "/tokenizer/data", arena, &tok));
    CHECK(tok.dtype == LAVR_U8 && tok.ndim == 1 && tok.data && memcmp(tok.data, "{\"model\"", 8) == 0);
    lavr_tensor_free(&tok);
    int64_t rate = 0;
    CHECK_OK(lavr_h5_read_attr_int(f, "/wav2vec2", "sampling_rate", &rate));
    CHECK(rate == 16000);
    double scale = 0;
    CHECK_OK(lavr_h5_read_attr_double(f, "/dit", "lora_scale", &scale));
    CHECK_NEAR(scale, 0.5, 0);
    lavr_h5_close(f);
}

static void read_fingerprint(const char *path, char hex[65]) {
    lavr_h5file *f = NULL;
    hex[0] = 0;
    CHECK_OK(lavr_h5_open(path, &f));
    if (f) CHECK_OK(lavr_model_digest_read(f, hex));
    CHECK(strlen(hex) == 64);
    lavr_h5_close(f);
}

static void expect_failure(int variant, lavr_status code, const char *text) {
    char dir[1024], out[1024];
    snprintf(dir, sizeof dir, "%s/convert-bad%d", root, variant);
    snprintf(out, sizeof out, "%s/convert-bad%d.h5", root, variant);
    make_download(dir, variant);
    char lora[1100];
    path_of(lora, dir, "lora.safetensors");
    lavr_convert_options o = {.wan_dir = dir, .lora_path = lora, .out_path = out};
    CHECK_FAILS(lavr_convert(&o), code);
    CHECK_MSG(strstr(lavr_error_message(), text) != NULL, "variant %d: message '%s' lacks '%s'", variant, lavr_error_message(), text);
    CHECK(access(out, F_OK) != 0);
    char partial[1100];
    snprintf(partial, sizeof partial, "%s.partial", out);
    CHECK(access(partial, F_OK) != 0);
}

int main(void) {
    const char *tmp = getenv("LAVR_TEST_TMP");
    snprintf(root, sizeof root, "%s", tmp ? tmp : "/tmp");
    CHECK_OK(lavr_arena_create("test", 0, &arena));
    make_sources();
    char dir[1024], out[1024], lora[1100];
    snprintf(dir, sizeof dir, "%s/convert-download", root);
    snprintf(out, sizeof out, "%s/convert-tiny.h5", root);
    make_download(dir, 0);
    path_of(lora, dir, "lora.safetensors");
    lavr_convert_options o = {.wan_dir = dir, .lora_path = lora, .out_path = out, .fp8 = 1};
    CHECK_OK(lavr_convert(&o));
    check_output(out);
    check_loaders(out);
    check_renders(out);
    char first[65], again[65], other[65];
    read_fingerprint(out, first);
    /* re-running over an existing output replaces it; the fingerprint is a function of the content */
    CHECK_OK(lavr_convert(&o));
    read_fingerprint(out, again);
    CHECK_MSG(first[0] && strcmp(first, again) == 0, "fingerprints '%s' and '%s' of one conversion", first, again);
    /* another content (no LoRA merged): another fingerprint */
    char plain[1100];
    snprintf(plain, sizeof plain, "%s/convert-plain.h5", root);
    lavr_convert_options no_lora = {.wan_dir = dir, .out_path = plain};
    CHECK_OK(lavr_convert(&no_lora));
    read_fingerprint(plain, other);
    CHECK_MSG(other[0] && strcmp(first, other) != 0, "the model without the LoRA has the same fingerprint %s", other);
    expect_failure(1, LAVR_E_IO, "models_t5_umt5-xxl-enc-bf16.pth' is missing");
    expect_failure(2, LAVR_E_IO, "is truncated");
    expect_failure(3, LAVR_E_FORMAT, "1 missing: audio_injector.injector_adain_layers.1.linear.bias");
    expect_failure(4, LAVR_E_FORMAT, "with the wrong shape: blocks.0.ffn.0.weight is [512, 256], expected [640, 256]");
    expect_failure(5, LAVR_E_FORMAT, "match no DiT weight: audio_injector.injector.7.o");
    expect_failure(6, LAVR_E_FORMAT, "tensor '/dit/patch_embedding.bias' from '");
    CHECK_MSG(strstr(lavr_error_message(), "holds 1 NaN/Inf value (the first at element 5)") != NULL,
              "%s", lavr_error_message());
    free_list(&dit), free_list(&t5), free_list(&vae), free_list(&w2v);
    lavr_arena_destroy(arena);
    return check_summary("test_convert");
}
