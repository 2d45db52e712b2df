/* The CUDA DiT's device buffers as numbers (models/dit_dev.h): models/dit_cuda.c allocates exactly these items,
 * parallel/plan.c adds them up. Plain C, built with or without CUDA. */
#include "models/dit_dev.h"

#include <string.h>

#include "kernels/cuda/device_arena.h"

static int64_t max3(int64_t a, int64_t b, int64_t c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

lavr_status lavr_dit_dev_dims_of(const lavr_dit_config *cfg, int tp, int fp8, int contiguous, int64_t layer_begin,
                                 int64_t layer_end, int64_t h, int64_t w, lavr_dit_dev_dims *out) {
    memset(out, 0, sizeof *out);
    CHECK_ARG(layer_begin >= 0 && layer_begin < layer_end && layer_end <= cfg->num_layers,
              "dit cuda: layer range [%lld, %lld) is not inside the model's %lld layers", (long long)layer_begin,
              (long long)layer_end, (long long)cfg->num_layers);
    CHECK_ARG(tp >= 1 && cfg->num_heads % tp == 0 && cfg->ffn_dim % tp == 0,
              "dit cuda: tp %d does not split %lld heads and FFN %lld", tp, (long long)cfg->num_heads,
              (long long)cfg->ffn_dim);
    CHECK_ARG(cfg->num_layers <= 256, "dit cuda: %lld layers (at most 256)", (long long)cfg->num_layers);
    CHECK_ARG(!fp8 || (cfg->dim % 16 == 0 && cfg->ffn_dim / tp % 16 == 0 && cfg->dim / tp % 16 == 0),
              "--fp8 needs widths that are multiples of 16 (dim %lld, ffn %lld, tp %d)", (long long)cfg->dim,
              (long long)cfg->ffn_dim, tp);
    TRY(lavr_dit_geometry_of(cfg, h, w, &out->geo));
    lavr_dit_dev_dims *d = out;
    d->tp = tp, d->fp8 = fp8 != 0, d->contiguous = contiguous != 0;
    d->d = cfg->dim;
    d->H = cfg->num_heads / tp;
    d->D = cfg->dim / cfg->num_heads;
    d->dh = d->H * d->D;
    d->ff = cfg->ffn_dim / tp;
    d->NA = cfg->num_audio_token + 1;
    d->F = cfg->frames_per_block;
    d->L = d->geo.block_tokens;
    d->S = d->geo.sink;
    d->W = d->geo.window;
    d->R = d->L > d->S ? d->L : d->S;
    d->T = cfg->text_len;
    d->text_dim = cfg->text_dim;
    d->in_dim = cfg->in_dim;
    d->out_dim = cfg->out_dim;
    d->head_out = cfg->out_dim * 4;
    d->lb = layer_begin, d->le = layer_end, d->nl = layer_end - layer_begin;
    d->first = layer_begin == 0;
    d->last = layer_end == cfg->num_layers;
    d->rows_any = max3(d->R, d->T, d->F * d->NA);
    d->n_inject = cfg->n_inject;
    for (int j = 0; j < cfg->n_inject; j++) {
        d->inject_layers[j] = cfg->inject_layers[j];
        d->injectors += cfg->inject_layers[j] >= layer_begin && cfg->inject_layers[j] < layer_end;
    }
    return LAVR_OK;
}

/* ---- the walk ------------------------------------------------------------------------------------- */
typedef struct {
    const lavr_dit_dev_dims *d;
    lavr_dit_dev_fn fn;
    void *user;
    lavr_dit_dev_group group;
} walker;

static lavr_status lin(walker *k, lavr_dit_dev_id id, int64_t index, int64_t out, int64_t in, int64_t parts, int split,
                       int fp8, const char *what) {
    lavr_dit_dev_item it = {.id = id, .kind = LAVR_DD_LINEAR, .group = k->group, .index = index, .what = what,
                            .out = out, .in = in, .parts = parts, .split = split, .fp8 = fp8 && k->d->fp8};
    return k->fn(k->user, &it);
}

static lavr_status vec(walker *k, lavr_dit_dev_id id, int64_t index, int64_t n, const char *what) {
    lavr_dit_dev_item it = {.id = id, .kind = LAVR_DD_VECTOR, .group = k->group, .index = index, .what = what, .n = n};
    return k->fn(k->user, &it);
}

static lavr_status buf(walker *k, lavr_dit_dev_id id, int64_t bytes, const char *what) {
    lavr_dit_dev_item it = {.id = id, .kind = LAVR_DD_BUFFER, .group = k->group, .index = -1, .what = what,
                            .bytes = (uint64_t)bytes};
    return k->fn(k->user, &it);
}

/* FP8 applies to the Linears LiveAvatar quantises: not the patch/text/time embeddings, not the head */
static lavr_status walk_weights(walker *k) {
    const lavr_dit_dev_dims *d = k->d;
    const int64_t dm = d->d, dh = d->dh, ff = d->ff;
    k->group = LAVR_DD_WEIGHTS;
    /* as a CPU shard: embeddings with the first layer, the head with the last, the text MLP everywhere */
    if (d->first) {
        TRY(lin(k, LAVR_DD_PATCH, -1, dm, d->in_dim * 4, 1, 0, 0, "dit patch embedding"));
        TRY(vec(k, LAVR_DD_COND_BIAS, -1, dm, "dit pose bias"));
        TRY(vec(k, LAVR_DD_COND_MASK, -1, 3 * dm, "dit type embedding"));
        /* FramePack's Conv3d kernels (1,2,2), (2,4,4), (4,8,8) as GEMMs over their patches (models/framepack.c) */
        TRY(lin(k, LAVR_DD_FP_PROJ, -1, dm, d->in_dim * 4, 1, 0, 0, "dit FramePack"));
        TRY(lin(k, LAVR_DD_FP_PROJ2, -1, dm, d->in_dim * 32, 1, 0, 0, "dit FramePack"));
        TRY(lin(k, LAVR_DD_FP_PROJ4, -1, dm, d->in_dim * 256, 1, 0, 0, "dit FramePack"));
    }
    TRY(lin(k, LAVR_DD_TEXT0, -1, dm, d->text_dim, 1, 0, 0, "dit text embedding"));
    TRY(lin(k, LAVR_DD_TEXT2, -1, dm, dm, 1, 0, 0, "dit text embedding"));
    if (d->last) {
        TRY(vec(k, LAVR_DD_HEAD_W, -1, d->head_out * dm, "dit head"));
        TRY(vec(k, LAVR_DD_HEAD_B, -1, d->head_out, "dit head"));
        TRY(vec(k, LAVR_DD_HEAD_MOD, -1, 2 * dm, "dit head modulation"));
    }
    TRY(vec(k, LAVR_DD_MODULATION, -1, d->nl * 6 * dm, "dit modulation"));
    for (int64_t l = d->lb; l < d->le; l++) {
        TRY(lin(k, LAVR_DD_QKV, l, 3 * dh, dm, 3, 1, 1, "dit attention"));
        TRY(lin(k, LAVR_DD_CQ, l, dh, dm, 1, 1, 1, "dit attention"));
        TRY(lin(k, LAVR_DD_CK, l, dh, dm, 1, 1, 1, "dit attention"));
        TRY(lin(k, LAVR_DD_CV, l, dh, dm, 1, 1, 1, "dit attention"));
        TRY(lin(k, LAVR_DD_SO, l, dm, dh, 1, 2, 1, "dit attention"));
        TRY(lin(k, LAVR_DD_CO, l, dm, dh, 1, 2, 1, "dit attention"));
        TRY(lin(k, LAVR_DD_FFN0, l, ff, dm, 1, 1, 1, "dit ffn"));
        TRY(lin(k, LAVR_DD_FFN2, l, dm, ff, 1, 2, 1, "dit ffn"));
        static const lavr_dit_dev_id norms[4] = {LAVR_DD_S_NORM_Q, LAVR_DD_S_NORM_K, LAVR_DD_C_NORM_Q, LAVR_DD_C_NORM_K};
        for (int i = 0; i < 4; i++) TRY(vec(k, norms[i], l, dh, "dit q/k norm"));
        TRY(vec(k, LAVR_DD_NORM3_W, l, dm, "dit norm3"));
        TRY(vec(k, LAVR_DD_NORM3_B, l, dm, "dit norm3"));
    }
    return LAVR_OK;
}

static lavr_status walk_injectors(walker *k) {
    const lavr_dit_dev_dims *d = k->d;
    const int64_t dm = d->d, dh = d->dh;
    for (int j = 0; j < d->n_inject; j++) {
        if (d->inject_layers[j] < d->lb || d->inject_layers[j] >= d->le) continue;
        TRY(lin(k, LAVR_DD_I_Q, j, dh, dm, 1, 1, 1, "dit audio injector"));
        TRY(lin(k, LAVR_DD_I_KV, j, 2 * dh, dm, 2, 1, 1, "dit audio injector"));
        TRY(lin(k, LAVR_DD_I_O, j, dm, dh, 1, 2, 1, "dit audio injector"));
        TRY(lin(k, LAVR_DD_I_ADAIN, j, 2 * dm, dm, 1, 0, 1, "dit audio injector"));
        TRY(vec(k, LAVR_DD_I_NORM_Q, j, dh, "dit audio injector"));
        TRY(vec(k, LAVR_DD_I_NORM_K, j, dh, "dit audio injector"));
    }
    k->group = LAVR_DD_TEXTKV;
    TRY(buf(k, LAVR_DD_TEXT_K, d->nl * d->T * dh * 2, "dit text K"));
    return buf(k, LAVR_DD_TEXT_V, d->nl * d->T * dh * 2, "dit text V");
}

static lavr_status walk_work(walker *k) {
    const lavr_dit_dev_dims *d = k->d;
    const int64_t dm = d->d, dh = d->dh, R = d->R, ff = d->ff, S = d->S, NA = d->NA, F = d->F, L = d->L, T = d->T;
    const int64_t half = d->D / 2;
    k->group = LAVR_DD_WORK;
    TRY(buf(k, LAVR_DD_E, d->nl * 6 * dm * 4, "dit modulation sums"));
    TRY(buf(k, LAVR_DD_ONES, 6 * dm * 4, "dit ones"));
    TRY(buf(k, LAVR_DD_X32, R * dm * 4, "dit residual"));
    if (d->tp > 1) TRY(buf(k, LAVR_DD_Y32, R * dm * 4, "dit tp partial sums"));
    /* the row statistics serve blocks, the sink, the text (set_context) and the audio tokens */
    TRY(buf(k, LAVR_DD_SS, d->rows_any * 2 * 4, "dit rms sums"));
    TRY(buf(k, LAVR_DD_FAC_BLOCK, L * half * 8, "dit rope factors"));
    TRY(buf(k, LAVR_DD_FAC_SINK, S * half * 8, "dit sink rope factors"));
    TRY(buf(k, LAVR_DD_HEAD_Y, L * d->head_out * 4, "dit head out"));
    TRY(buf(k, LAVR_DD_EMB, 2 * dm * 4, "dit head modulation sum"));
    TRY(buf(k, LAVR_DD_STATS, 2 * d->H * R * 4, "dit attention statistics"));
    TRY(buf(k, LAVR_DD_A_BF, R * dm * 2, "dit norm output"));
    TRY(buf(k, LAVR_DD_QKV_OUT, R * 3 * dh * 2, "dit q/k/v"));
    TRY(buf(k, LAVR_DD_Q_BF, R * dh * 2, "dit q"));
    TRY(buf(k, LAVR_DD_ATT, R * dh * 2, "dit attention out"));
    TRY(buf(k, LAVR_DD_O2, L * dh * 2, "dit attention partial"));
    TRY(buf(k, LAVR_DD_OB, R * dm * 2, "dit projection out"));
    TRY(buf(k, LAVR_DD_HID, R * ff * 2, "dit ffn hidden"));
    TRY(buf(k, LAVR_DD_KB, S * dh * 2, "dit roped sink keys"));
    TRY(buf(k, LAVR_DD_OP, max3(T * d->text_dim, T * dm, 1) * 2, "dit text operand"));
    if (d->injectors) {
        TRY(buf(k, LAVR_DD_GS_BF, F * dm * 2, "dit audio AdaLN input"));
        TRY(buf(k, LAVR_DD_AL_BF, F * NA * dm * 2, "dit audio tokens"));
        TRY(buf(k, LAVR_DD_EMB_BF, F * 2 * dm * 2, "dit audio AdaLN"));
        TRY(buf(k, LAVR_DD_EMB32, F * 2 * dm * 4, "dit audio AdaLN"));
        TRY(buf(k, LAVR_DD_KVX, F * NA * 2 * dh * 2, "dit audio k/v"));
        TRY(buf(k, LAVR_DD_K_BF, F * NA * dh * 2, "dit audio k"));
    }
    if (d->fp8) {
        TRY(buf(k, LAVR_DD_XQ, lavr_dit_dev_xq_bytes(d), "dit FP8 operand"));
        /* amax, inverse scale, the norm output's amax: 256 bytes apart */
        TRY(buf(k, LAVR_DD_FP8_SCALARS, 3 * LAVR_DIT_DEV_SCALE_STRIDE * 4, "dit FP8 scales"));
    }
    TRY(buf(k, LAVR_DD_DPARAMS, 4 * 8, "dit forward parameters"));
    if (d->first) TRY(buf(k, LAVR_DD_SINK_LATENTS, lavr_dit_dev_sink_latent_floats(d) * 4, "dit sink latents"));
    /* one sink per rank: every step cache reads it (the values live in each cache's tail when contiguous) */
    k->group = LAVR_DD_SINK;
    TRY(buf(k, LAVR_DD_SINK_K, d->nl * S * dh * 2, "sink K"));
    if (!d->contiguous) TRY(buf(k, LAVR_DD_SINK_V, d->nl * S * dh * 2, "sink V"));
    return LAVR_OK;
}

lavr_status lavr_dit_dev_walk(const lavr_dit_dev_dims *d, lavr_dit_dev_fn fn, void *user) {
    walker k = {d, fn, user, LAVR_DD_WEIGHTS};
    TRY(walk_weights(&k));
    TRY(walk_injectors(&k));
    return walk_work(&k);
}

/* ---- sizes of the later allocations ----------------------------------------------------------------- */
void lavr_dit_dev_linear_blocks(const lavr_dit_dev_item *l, uint64_t bytes[3]) {
    bytes[0] = (uint64_t)(l->out * l->in) * (l->fp8 ? 1u : 2u);
    bytes[1] = (uint64_t)l->out * 2;
    bytes[2] = l->fp8 ? (uint64_t)(l->parts * LAVR_DIT_DEV_SCALE_STRIDE) * sizeof(float) : 0;
}

int64_t lavr_dit_dev_layer_rows(const lavr_dit_dev_dims *d) { return d->W + (d->contiguous ? d->S : 0); }

uint64_t lavr_dit_dev_window_bytes(const lavr_dit_dev_dims *d) {
    return (uint64_t)(d->nl * lavr_dit_dev_layer_rows(d) * d->dh) * 2;
}

uint64_t lavr_dit_dev_sink_pos_bytes(const lavr_dit_dev_dims *d) { return (uint64_t)(d->S * 3) * 8; }

int64_t lavr_dit_dev_act_floats(const lavr_dit_dev_dims *d) { return d->R * d->d + 7 * d->d + d->F * (d->NA + 1) * d->d; }

int64_t lavr_dit_dev_sink_latent_floats(const lavr_dit_dev_dims *d) {
    return d->in_dim * (1 + LAVR_DIT_MOTION_LATENTS) * d->geo.h * d->geo.w;
}

int64_t lavr_dit_dev_staging_values(const lavr_dit_dev_dims *d) {
    /* the largest single tensor of a Linear: FFN, a q/k/v part, AdaLN [2d, d], text, the embeddings (the first pp
     * index's; FramePack's 4x kernel is the widest) */
    const int64_t dm = d->d;
    const int64_t c[5] = {d->ff * dm, d->dh * dm, 2 * dm * dm, dm * d->text_dim, d->first ? dm * d->in_dim * 256 : 0};
    int64_t n = 0;
    for (int i = 0; i < 5; i++)
        if (c[i] > n) n = c[i];
    return n;
}

void lavr_dit_dev_context_blocks(const lavr_dit_dev_dims *d, uint64_t bytes[3]) {
    bytes[0] = (uint64_t)(d->T * d->d) * 2;
    bytes[1] = (uint64_t)(d->T * d->d) * 2;
    bytes[2] = (uint64_t)(d->T * d->dh) * 2;
}

int64_t lavr_dit_dev_xq_bytes(const lavr_dit_dev_dims *d) {
    return max3(d->R * (d->d > d->ff ? d->d : d->ff), d->rows_any * d->d, 1);
}

uint64_t lavr_dit_dev_aligned(uint64_t n) {
    const uint64_t a = LAVR_DEVICE_ARENA_ALIGN;
    return ((n ? n : 1) + a - 1) / a * a;
}

static lavr_status add_item(void *user, const lavr_dit_dev_item *it) {
    lavr_dit_dev_bytes *b = user;
    uint64_t n = 0;
    if (it->kind == LAVR_DD_LINEAR) {
        uint64_t blocks[3];
        lavr_dit_dev_linear_blocks(it, blocks);
        for (int i = 0; i < 3; i++)
            if (blocks[i]) n += lavr_dit_dev_aligned(blocks[i]);
    } else {
        n = lavr_dit_dev_aligned(it->kind == LAVR_DD_VECTOR ? (uint64_t)it->n * 4 : it->bytes);
    }
    uint64_t *to[4] = {&b->weights, &b->text_kv, &b->work, &b->sink};
    *to[it->group] += n;
    return LAVR_OK;
}

lavr_status lavr_dit_dev_bytes_of(const lavr_dit_dev_dims *d, lavr_dit_dev_bytes *out) {
    memset(out, 0, sizeof *out);
    TRY(lavr_dit_dev_walk(d, add_item, out));
    out->staging = lavr_dit_dev_aligned((uint64_t)lavr_dit_dev_staging_values(d) * 2);
    uint64_t ctx[3];
    lavr_dit_dev_context_blocks(d, ctx);
    for (int i = 0; i < 3; i++) out->context += lavr_dit_dev_aligned(ctx[i]);
    out->cache = 2 * lavr_dit_dev_aligned(lavr_dit_dev_window_bytes(d)) + lavr_dit_dev_aligned(lavr_dit_dev_sink_pos_bytes(d));
    out->act = lavr_dit_dev_aligned((uint64_t)lavr_dit_dev_act_floats(d) * 4);
    return LAVR_OK;
}

/* ---- the audio encoder ------------------------------------------------------------------------------ */
lavr_status lavr_dit_dev_audio_dims_of(const lavr_dit_config *cfg, lavr_dit_dev_audio_dims *out) {
    memset(out, 0, sizeof *out);
    lavr_dit_dev_audio_dims *a = out;
    a->S = cfg->audio_num_states, a->A = cfg->audio_dim, a->d = cfg->dim, a->NT = cfg->num_audio_token;
    a->nseq = a->NT + 1;
    a->c1 = cfg->dim / 4, a->c2 = cfg->dim / 2, a->c3 = cfg->dim; /* the shapes models/inventory.c gives them */
    a->prefix = cfg->motion_frames, a->frames = 4 * cfg->frames_per_block, a->T = a->prefix + a->frames;
    a->t2 = (a->T - 1) / 2 + 1, a->t4 = (a->t2 - 1) / 2 + 1;
    a->keep = (cfg->motion_frames + 3) / 4, a->F = cfg->frames_per_block;
    CHECK_ARG(a->t4 - a->keep == a->F, "dit audio: %lld video frames do not give %lld latent frames",
              (long long)a->frames, (long long)a->F);
    a->tokens = a->F * (a->NT + 1) * a->d + a->F * a->d;
    return LAVR_OK;
}

int64_t lavr_dit_dev_audio_chunk_rows(int64_t out, int64_t k) {
    const int64_t rows = LAVR_DIT_DEV_AUDIO_WIDE / k;
    return rows < 1 ? 1 : (rows > out ? out : rows);
}

lavr_status lavr_dit_dev_audio_walk(const lavr_dit_dev_audio_dims *a, lavr_dit_dev_audio_fn fn, void *user) {
    /* the GEMM weights [out, k] with their fp32 biases; k = in * 3 taps for the convolutions */
    const int64_t out[5] = {a->NT * a->c1, a->c1, a->c2, a->c3, a->d};
    const int64_t k[5] = {a->A * 3, a->A * 3, a->c1 * 3, a->c2 * 3, a->d};
    static const char *what[5] = {"dit audio conv1_local", "dit audio conv1_global", "dit audio conv2",
                                  "dit audio conv3", "dit audio final_linear"};
    int64_t wide = 0;
    for (int i = 0; i < 5; i++) {
        lavr_dit_dev_audio_item w = {(lavr_dit_dev_audio_id)(LAVR_DA_CONV1_LOCAL_W + 2 * i), 1, what[i],
                                     (uint64_t)(out[i] * k[i]) * 2};
        lavr_dit_dev_audio_item b = {(lavr_dit_dev_audio_id)(LAVR_DA_CONV1_LOCAL_B + 2 * i), 1, what[i],
                                     (uint64_t)out[i] * 4};
        TRY(fn(user, &w));
        TRY(fn(user, &b));
        const int64_t chunk = lavr_dit_dev_audio_chunk_rows(out[i], k[i]) * k[i];
        if (chunk > wide) wide = chunk;
    }
    const int64_t taps = max3(a->T * a->A * 3, a->nseq * a->t2 * a->c1 * 3, a->nseq * a->t4 * a->c2 * 3);
    const lavr_dit_dev_audio_item items[] = {
        {LAVR_DA_PADDING, 1, "dit audio padding token", (uint64_t)a->d * 4},
        {LAVR_DA_LAYER_W, 1, "dit audio layer weights", (uint64_t)a->S * 4},
        {LAVR_DA_FRAMES, 0, "dit audio frames", (uint64_t)(a->S * a->A * a->frames) * 4},
        {LAVR_DA_FEAT, 0, "dit audio layer mix", (uint64_t)(a->T * a->A) * 4},
        {LAVR_DA_TAPS, 0, "dit audio conv taps", (uint64_t)taps * 4},
        {LAVR_DA_Y1, 0, "dit audio conv1", (uint64_t)(a->T * a->nseq * a->c1) * 4},
        {LAVR_DA_Y2, 0, "dit audio conv2", (uint64_t)(a->nseq * a->t2 * a->c2) * 4},
        {LAVR_DA_Y3, 0, "dit audio conv3", (uint64_t)(a->nseq * a->t4 * a->c3) * 4},
        {LAVR_DA_WIDE, 0, "dit audio fp32 weight chunk", (uint64_t)wide * 4},
        {LAVR_DA_MEMO, 0, "dit audio tokens memo", (uint64_t)(LAVR_DIT_DEV_AUDIO_MEMO * a->tokens) * 4},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) TRY(fn(user, &items[i]));
    return LAVR_OK;
}

static lavr_status add_audio_item(void *user, const lavr_dit_dev_audio_item *it) {
    uint64_t *to = user;
    to[it->weights ? 0 : 1] += lavr_dit_dev_aligned(it->bytes);
    return LAVR_OK;
}

lavr_status lavr_dit_dev_audio_bytes(const lavr_dit_config *cfg, uint64_t *weights, uint64_t *work) {
    lavr_dit_dev_audio_dims a;
    TRY(lavr_dit_dev_audio_dims_of(cfg, &a));
    uint64_t sums[2] = {0, 0};
    TRY(lavr_dit_dev_audio_walk(&a, add_audio_item, sums));
    *weights = sums[0], *work = sums[1];
    return LAVR_OK;
}
