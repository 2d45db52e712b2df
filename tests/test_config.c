/* Tests of models/config.c and models/inventory.c: the s2v-14b parameter counts from model-spec §0/§7,
 * the inventories against the golden files' /weights (names and shapes), JSON round trips, validation. */
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "io/h5model.h"
#include "models/config.h"
#include "tests/check.h"

typedef struct {
    int64_t params, tensors;
} totals;

static lavr_status count_tensor(const lavr_tensor_spec *s, void *user) {
    totals *t = user;
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->shape[i];
    t->params += n;
    t->tensors++;
    return LAVR_OK;
}

/* ---- the real model's counts ---- */

typedef struct {
    int64_t blocks, injector, encoder, framepack, rest;
} dit_groups;

static lavr_status count_dit_group(const lavr_tensor_spec *s, void *user) {
    dit_groups *g = user;
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->shape[i];
    if (strncmp(s->name, "blocks.", 7) == 0) g->blocks += n;
    else if (strncmp(s->name, "audio_injector.", 15) == 0) g->injector += n;
    else if (strncmp(s->name, "casual_audio_encoder.", 21) == 0) g->encoder += n;
    else if (strncmp(s->name, "frame_packer.", 13) == 0) g->framepack += n;
    else g->rest += n;
    return LAVR_OK;
}

static void test_real_counts(void) {
    lavr_model_config cfg;
    CHECK_OK(lavr_config_preset("s2v-14b", &cfg));
    CHECK_OK(lavr_config_validate(&cfg));
    totals t = {0};
    CHECK_OK(lavr_dit_inventory(&cfg.dit, count_tensor, &t));
    CHECK_MSG(t.params == 16295755609LL, "DiT params %lld", (long long)t.params);
    CHECK(t.tensors == 40 * 27 + 12 * 10 + 12 * 2 + 18 + 6 + 12); /* blocks, injector, AdaLN, embeddings+head, FramePack, audio encoder */
    dit_groups g = {0};
    CHECK_OK(lavr_dit_inventory(&cfg.dit, count_dit_group, &g));
    CHECK(g.blocks == 14055772160LL);     /* §1.2: 351,394,304 x 40 */
    CHECK(g.injector == 1887928320LL);    /* §7 */
    CHECK_NEAR(g.encoder / 1e6, 95.05, 0.01);
    CHECK_NEAR(g.framepack / 1e6, 23.9, 0.05);
    CHECK_NEAR(g.rest / 1e6, 233.07, 0.01);

    t = (totals){0};
    CHECK_OK(lavr_t5_inventory(&cfg.t5, count_tensor, &t));
    CHECK_MSG(t.params == 5680910336LL, "T5 params %lld", (long long)t.params);
    t = (totals){0};
    CHECK_OK(lavr_vae_inventory(&cfg.vae, count_tensor, &t));
    CHECK_MSG(t.params == 126892531LL, "VAE params %lld", (long long)t.params);
    CHECK_MSG(t.tensors == 194, "VAE tensors %lld", (long long)t.tensors); /* §5 */
    /* 315,438,720 = feature encoder, projection, pos conv, 24 layers, final LN and masked_spec_embed
     * [1024]; the CTC head (lm_head, 33,825 more) is not part of it. */
    t = (totals){0};
    CHECK_OK(lavr_w2v_inventory(&cfg.w2v, count_tensor, &t));
    CHECK_MSG(t.params == 315438720LL, "wav2vec2 params %lld", (long long)t.params);
    cfg.w2v.vocab_size = 33;
    t = (totals){0};
    CHECK_OK(lavr_w2v_inventory(&cfg.w2v, count_tensor, &t));
    CHECK(t.params == 315438720LL + 33825);
}

/* ---- inventories against the golden files ---- */

typedef struct {
    lavr_tensor_spec specs[1024];
    int n;
} spec_list;

static lavr_status collect(const lavr_tensor_spec *s, void *user) {
    spec_list *l = user;
    if (l->n >= 1024) return LAVR_FAIL(LAVR_E_INTERNAL, "too many tensors");
    l->specs[l->n++] = *s;
    return LAVR_OK;
}

typedef struct {
    spec_list *expected;
    char *seen;
    int found, unexpected;
} match_ctx;

static lavr_status match_golden(const char *name, const lavr_tensor *desc, void *user) {
    match_ctx *m = user;
    for (int i = 0; i < m->expected->n; i++) {
        const lavr_tensor_spec *s = &m->expected->specs[i];
        if (strcmp(s->name, name) != 0) continue;
        int same = s->ndim == desc->ndim;
        for (int k = 0; same && k < s->ndim; k++) same = s->shape[k] == desc->shape[k];
        CHECK_MSG(same, "golden tensor %s: shape differs from the inventory", name);
        CHECK_MSG(!m->seen[i], "golden tensor %s listed twice", name);
        m->seen[i] = 1;
        m->found++;
        return LAVR_OK;
    }
    m->unexpected++;
    fprintf(stderr, "golden tensor %s is not in the inventory\n", name);
    return LAVR_OK;
}

static void check_golden(const char *file, const char *component) {
    const char *dir = getenv("LAVR_GOLDEN_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "../shared/golden", file);
    lavr_h5file *f = NULL;
    CHECK_OK(lavr_h5_open(path, &f));
    if (!f) return;
    char *text = NULL;
    lavr_json *j = NULL;
    CHECK_OK(lavr_h5_read_attr_string(f, "/", "config", &text));
    if (text) CHECK_OK(lavr_json_parse(text, &j));
    static spec_list expected;
    expected.n = 0;
    if (j) {
        if (!strcmp(component, "dit")) {
            lavr_dit_config c;
            CHECK_OK(lavr_dit_config_from_json(j, &c));
            CHECK(c.audio_num_states == 25 && c.motion_frames == 73 && c.frames_per_block == 3); /* defaults */
            CHECK(c.n_inject == 2 && c.inject_layers[1] == 2 && c.dim == 256);
            CHECK_OK(lavr_dit_inventory(&c, collect, &expected));
        } else if (!strcmp(component, "t5")) {
            lavr_t5_config c;
            CHECK_OK(lavr_t5_config_from_json(j, &c));
            CHECK(c.max_distance == 128 && c.eps == 1e-6 && c.vocab == 300);
            CHECK_OK(lavr_t5_inventory(&c, collect, &expected));
        } else if (!strcmp(component, "vae")) {
            lavr_vae_config c;
            CHECK_OK(lavr_vae_config_from_json(j, &c));
            CHECK(c.dim == 8 && c.temporal_downsample[0] == 0 && c.temporal_downsample[2] == 1);
            CHECK_OK(lavr_vae_inventory(&c, collect, &expected));
        } else {
            lavr_w2v_config c;
            CHECK_OK(lavr_w2v_config_from_json(j, &c));
            CHECK(c.hidden == 64 && c.n_conv == 7 && c.conv_dim[6] == 32 && c.conv_stride[0] == 5);
            CHECK(c.vocab_size == 33 && !c.masked_spec_embed); /* golden: CTC head kept, mask_time_prob 0 */
            CHECK_OK(lavr_w2v_inventory(&c, collect, &expected));
        }
    }
    char seen[1024] = {0};
    match_ctx m = {&expected, seen, 0, 0};
    CHECK_OK(lavr_h5_list(f, "/weights", match_golden, &m));
    CHECK_MSG(m.unexpected == 0 && m.found == expected.n && expected.n > 0,
              "%s: %d golden tensors matched, %d unexpected, inventory has %d", file, m.found, m.unexpected, expected.n);
    for (int i = 0; i < expected.n; i++)
        if (!seen[i]) fprintf(stderr, "%s: inventory tensor %s missing from the golden file\n", file, expected.specs[i].name);
    lavr_json_free(j);
    free(text);
    CHECK_OK(lavr_h5_close(f));
}

/* ---- JSON round trips and validation ---- */

static void test_round_trip(const char *preset) {
    lavr_model_config a, b;
    CHECK_OK(lavr_config_preset(preset, &a));
    CHECK_OK(lavr_config_validate(&a));
    b = a;
    char *texts[4] = {lavr_dit_config_to_json(&a.dit), lavr_t5_config_to_json(&a.t5), lavr_vae_config_to_json(&a.vae),
                      lavr_w2v_config_to_json(&a.w2v)};
    lavr_json *j[4] = {0};
    for (int i = 0; i < 4; i++) {
        CHECK(texts[i] != NULL);
        if (texts[i]) CHECK_OK(lavr_json_parse(texts[i], &j[i]));
    }
    memset(&b.dit, 0x5a, sizeof b.dit);
    memset(&b.t5, 0x5a, sizeof b.t5);
    memset(&b.vae, 0x5a, sizeof b.vae);
    memset(&b.w2v, 0x5a, sizeof b.w2v);
    if (j[0]) CHECK_OK(lavr_dit_config_from_json(j[0], &b.dit));
    if (j[1]) CHECK_OK(lavr_t5_config_from_json(j[1], &b.t5));
    if (j[2]) CHECK_OK(lavr_vae_config_from_json(j[2], &b.vae));
    if (j[3]) CHECK_OK(lavr_w2v_config_from_json(j[3], &b.w2v));
    /* from_json zero-fills unused array slots, so compare field by field where padding differs */
    CHECK(b.dit.dim == a.dit.dim && b.dit.ffn_dim == a.dit.ffn_dim && b.dit.num_heads == a.dit.num_heads);
    CHECK(b.dit.num_layers == a.dit.num_layers && b.dit.text_dim == a.dit.text_dim && b.dit.text_len == a.dit.text_len);
    CHECK(b.dit.in_dim == a.dit.in_dim && b.dit.out_dim == a.dit.out_dim && b.dit.freq_dim == a.dit.freq_dim);
    CHECK(b.dit.cond_dim == a.dit.cond_dim && b.dit.audio_dim == a.dit.audio_dim);
    CHECK(b.dit.num_audio_token == a.dit.num_audio_token && b.dit.audio_num_states == a.dit.audio_num_states);
    CHECK(b.dit.eps == a.dit.eps && b.dit.n_inject == a.dit.n_inject);
    CHECK(memcmp(b.dit.inject_layers, a.dit.inject_layers, sizeof(int64_t) * (size_t)a.dit.n_inject) == 0);
    CHECK(memcmp(b.dit.patch, a.dit.patch, sizeof a.dit.patch) == 0);
    CHECK(b.dit.motion_frames == a.dit.motion_frames && b.dit.frames_per_block == a.dit.frames_per_block);
    CHECK(memcmp(&b.t5, &a.t5, sizeof a.t5) == 0);
    CHECK(memcmp(&b.vae, &a.vae, sizeof a.vae) == 0);
    CHECK(b.w2v.hidden == a.w2v.hidden && b.w2v.num_layers == a.w2v.num_layers && b.w2v.num_heads == a.w2v.num_heads);
    CHECK(b.w2v.intermediate == a.w2v.intermediate && b.w2v.n_conv == a.w2v.n_conv);
    CHECK(memcmp(b.w2v.conv_dim, a.w2v.conv_dim, sizeof(int64_t) * (size_t)a.w2v.n_conv) == 0);
    CHECK(memcmp(b.w2v.conv_kernel, a.w2v.conv_kernel, sizeof(int64_t) * (size_t)a.w2v.n_conv) == 0);
    CHECK(memcmp(b.w2v.conv_stride, a.w2v.conv_stride, sizeof(int64_t) * (size_t)a.w2v.n_conv) == 0);
    CHECK(b.w2v.pos_conv_kernel == a.w2v.pos_conv_kernel && b.w2v.pos_conv_groups == a.w2v.pos_conv_groups);
    CHECK(b.w2v.eps == a.w2v.eps && b.w2v.stable_layer_norm == a.w2v.stable_layer_norm);
    CHECK(b.w2v.conv_bias == a.w2v.conv_bias && b.w2v.vocab_size == a.w2v.vocab_size);
    CHECK(b.w2v.masked_spec_embed == a.w2v.masked_spec_embed);
    CHECK_OK(lavr_config_validate(&b));
    /* official key spellings */
    if (texts[0]) CHECK(strstr(texts[0], "\"audio_inject_layers\": [") && strstr(texts[0], "\"eps\": 1e-06"));
    if (texts[2]) CHECK(strstr(texts[2], "\"temperal_downsample\": [false, true, true]") != NULL);
    if (texts[3]) CHECK(strstr(texts[3], "\"num_conv_pos_embedding_groups\": 16") && strstr(texts[3], "\"layer_norm_eps\": 1e-05"));
    for (int i = 0; i < 4; i++) {
        lavr_json_free(j[i]);
        free(texts[i]);
    }
}

static int message_has(const char *needle) {
    const char *m = lavr_error_message();
    int ok = m && strstr(m, needle) != NULL;
    if (!ok) fprintf(stderr, "message '%s' lacks '%s'\n", m ? m : "(null)", needle);
    return ok;
}

static void test_validation(void) {
    lavr_model_config base, c;
    CHECK_FAILS(lavr_config_preset("huge", &base), LAVR_E_ARG);
    CHECK(message_has("unknown model preset 'huge'") && message_has("tiny, s2v-14b"));
    CHECK_OK(lavr_config_preset("tiny", &base));

    c = base, c.dit.text_dim = 128;
    CHECK_FAILS(lavr_config_validate(&c), LAVR_E_ARG);
    CHECK(message_has("text_dim (128) must equal t5 dim (64)"));
    c = base, c.w2v.num_layers = 3;
    CHECK_FAILS(lavr_config_validate(&c), LAVR_E_ARG);
    CHECK(message_has("audio_num_states (5) must equal wav2vec2 layers + 1 (4)"));
    c = base, c.dit.audio_dim = 32;
    CHECK_FAILS(lavr_config_validate(&c), LAVR_E_ARG);
    CHECK(message_has("audio_dim (32)"));
    c = base, c.dit.num_heads = 3;
    CHECK_FAILS(lavr_config_validate(&c), LAVR_E_ARG);
    CHECK(message_has("not a multiple of num_heads 3"));
    c = base, c.dit.num_heads = 256; /* head dim 1: odd */
    CHECK_FAILS(lavr_config_validate(&c), LAVR_E_ARG);
    CHECK(message_has("head dim 1 must be even"));
    c = base, c.t5.num_heads = 3;
    CHECK_FAILS(lavr_config_validate(&c), LAVR_E_ARG);
    c = base, c.w2v.num_heads = 5;
    CHECK_FAILS(lavr_config_validate(&c), LAVR_E_ARG);
    CHECK(message_has("hidden_size 64 is not a multiple of num_attention_heads 5"));
    c = base, c.dit.inject_layers[1] = 4;
    CHECK_FAILS(lavr_config_validate(&c), LAVR_E_ARG);
    CHECK(message_has("audio_inject_layers[1] = 4"));
    c = base, c.vae.z_dim = 8;
    CHECK_FAILS(lavr_config_validate(&c), LAVR_E_ARG);
    CHECK(message_has("in_dim (16) must equal vae z_dim (8)"));

    /* JSON errors name the key; options that change the inventory are refused */
    lavr_json *j = NULL;
    lavr_t5_config t5;
    CHECK_OK(lavr_json_parse("{\"vocab\": 10, \"dim\": 8}", &j));
    CHECK_FAILS(lavr_t5_config_from_json(j, &t5), LAVR_E_FORMAT);
    CHECK(message_has("dim_attn"));
    lavr_json_free(j);
    lavr_vae_config vae;
    CHECK_OK(lavr_json_parse("{\"dim\": 8, \"z_dim\": 16, \"dim_mult\": [1, 2, 4, 4], \"num_res_blocks\": 2, "
                             "\"attn_scales\": [0.5], \"temperal_downsample\": [false, true, true]}", &j));
    CHECK_FAILS(lavr_vae_config_from_json(j, &vae), LAVR_E_UNSUPPORTED);
    CHECK(message_has("attn_scales"));
    lavr_json_free(j);
    CHECK_OK(lavr_json_parse("{\"dim\": 8, \"z_dim\": 16, \"dim_mult\": [1, 2, 4], \"num_res_blocks\": 2, "
                             "\"temperal_downsample\": [false, true, true]}", &j));
    CHECK_FAILS(lavr_vae_config_from_json(j, &vae), LAVR_E_FORMAT);
    CHECK(message_has("'dim_mult' has 3 entries, expected 4"));
    lavr_json_free(j);
}

int main(void) {
    test_real_counts();
    check_golden("dit.h5", "dit");
    check_golden("t5.h5", "t5");
    check_golden("vae.h5", "vae");
    check_golden("w2v.h5", "w2v");
    test_round_trip("tiny");
    test_round_trip("s2v-14b");
    test_validation();
    return check_summary("test_config");
}
