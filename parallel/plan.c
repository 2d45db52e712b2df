/* The memory and speed planner (issue 8): device bytes per rank from the model's tensor inventory and
 * token geometry, a FLOP/bandwidth model of one block per stage, and the cap check render runs first. */
#include "parallel/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/units.h"
#include "models/dit.h"

/* Constants of the model (stated in the README; only the ranking of layouts depends on them). */
#define PLAN_VAE_FACTOR 8                  /* Wan2.1 VAE: 8x8 pixels per latent, 4 video frames per latent */
#define PLAN_VIDEO_PER_LATENT 4
#define PLAN_NCCL_BYTES (64ull << 20)      /* NCCL's own buffers per communicator (estimate) */
#define PLAN_BLAS_WORKSPACE (32ull << 20)  /* kernels/cuda/linear.cu default workspace */
#define PLAN_BF16_FLOPS 400e12             /* sustained dense bf16 GEMM/attention rate of one GPU */
#define PLAN_FP8_FLOPS 800e12              /* fp8 linear layers */
#define PLAN_LINK_BYTES 300e9              /* NVLink bus bandwidth seen by NCCL (4 x H200: ~330 GB/s) */
#define PLAN_VAE_CACHE_FRAMES 2            /* every causal conv keeps its last 2 input frames */
#define PLAN_VAE_LIVE_TENSORS 4            /* decoder tensors alive at the full-resolution stage */

lavr_plan_options lavr_plan_options_default(void) {
    return (lavr_plan_options){.fp8 = 0, .text_kv_bytes = 4, .gpus = 1, .gpu_mem = 0, .t5_on_host = 1};
}

/* ---- DiT weights of one shard --------------------------------------------------------------------- */
typedef struct {
    const lavr_dit_config *cfg;
    int64_t layer_begin, layer_end;
    int tp, fp8;
    uint64_t bytes;
} shard_walk;

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }
static int has_suffix(const char *s, const char *x) {
    size_t n = strlen(s), m = strlen(x);
    return n >= m && strcmp(s + n - m, x) == 0;
}

/* Which shard holds a tensor and how: layer (-1: not a layer tensor), split over tp, quantised to fp8.
 * Follows models/dit.h's shard rules; fp8 follows liveavatar-system §4.2 (linear weights of the
 * attentions, FFNs, audio injector and its AdaLN; biases, norms, embeddings stay bf16). */
static lavr_status dit_tensor(const lavr_tensor_spec *s, void *user) {
    shard_walk *w = user;
    const lavr_dit_config *c = w->cfg;
    int64_t layer = -1;
    int split = 0, quant = 0, index = -1, place; /* place: 0 every shard, 1 first, 2 last, 3 layer */
    char rest[160] = "";
    if (sscanf(s->name, "blocks.%d.%159s", &index, rest) == 2) {
        layer = index;
        split = has_prefix(rest, "self_attn.") || has_prefix(rest, "cross_attn.") || has_prefix(rest, "ffn.");
        quant = split && has_suffix(rest, ".weight") && !strstr(rest, "norm_");
        place = 3;
    } else if (sscanf(s->name, "audio_injector.injector.%d.%159s", &index, rest) == 2) {
        CHECK_ARG(index >= 0 && index < c->n_inject, "plan: %s has no injection layer", s->name);
        layer = c->inject_layers[index];
        split = 1;
        quant = has_suffix(rest, ".weight") && !strstr(rest, "norm_");
        place = 3;
    } else if (sscanf(s->name, "audio_injector.injector_adain_layers.%d.%159s", &index, rest) == 2) {
        CHECK_ARG(index >= 0 && index < c->n_inject, "plan: %s has no injection layer", s->name);
        layer = c->inject_layers[index];
        quant = strcmp(rest, "linear.weight") == 0;
        place = 3;
    } else if (has_prefix(s->name, "text_embedding.")) {
        place = 0;
    } else if (has_prefix(s->name, "head.")) {
        place = 2;
    } else {
        place = 1;
    }
    int held = place == 0 || (place == 1 && w->layer_begin == 0) || (place == 2 && w->layer_end == c->num_layers) ||
               (place == 3 && layer >= w->layer_begin && layer < w->layer_end);
    if (!held) return LAVR_OK;
    uint64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= (uint64_t)s->shape[i];
    if (split) n /= (uint64_t)w->tp;
    if (quant && w->fp8)
        w->bytes += n + 4; /* e4m3 values and one fp32 inverse scale */
    else
        w->bytes += n * lavr_dtype_size(s->dtype);
    return LAVR_OK;
}

/* ---- aux rank ------------------------------------------------------------------------------------- */
typedef struct {
    uint64_t bytes;
} sum_walk;

static lavr_status sum_tensor(const lavr_tensor_spec *s, void *user) {
    uint64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= (uint64_t)s->shape[i];
    ((sum_walk *)user)->bytes += n * lavr_dtype_size(s->dtype);
    return LAVR_OK;
}

/* Causal-conv caches of the streaming decoder: every decoder conv with 3 time taps keeps its last 2
 * input frames (cin x 2 x h x w fp32) at the resolution of its level (latent size x 2^level). */
typedef struct {
    const lavr_vae_config *cfg;
    int64_t lh, lw;
    uint64_t bytes;
} vae_walk;

static lavr_status vae_cache_tensor(const lavr_tensor_spec *s, void *user) {
    vae_walk *w = user;
    if (!has_prefix(s->name, "decoder.") || !has_suffix(s->name, ".weight") || s->ndim != 5 || s->shape[2] != 3)
        return LAVR_OK;
    int level = 0, index;
    if (sscanf(s->name, "decoder.upsamples.%d.", &index) == 1)
        level = index / (int)(w->cfg->num_res_blocks + 2); /* res blocks + 1, then the upsample, per level */
    else if (has_prefix(s->name, "decoder.head."))
        level = 3;
    const uint64_t pixels = (uint64_t)(w->lh << level) * (uint64_t)(w->lw << level);
    w->bytes += (uint64_t)s->shape[1] * PLAN_VAE_CACHE_FRAMES * pixels * sizeof(float);
    return LAVR_OK;
}

static lavr_status plan_aux(const lavr_model_config *cfg, int64_t width, int64_t height, int t5_on_host,
                           lavr_plan_rank *r) {
    sum_walk t5 = {0}, w2v = {0}, vae = {0};
    TRY(lavr_t5_inventory(&cfg->t5, sum_tensor, &t5));
    TRY(lavr_w2v_inventory(&cfg->w2v, sum_tensor, &w2v));
    TRY(lavr_vae_inventory(&cfg->vae, sum_tensor, &vae));
    vae_walk cache = {&cfg->vae, height / PLAN_VAE_FACTOR, width / PLAN_VAE_FACTOR, 0};
    TRY(lavr_vae_inventory(&cfg->vae, vae_cache_tensor, &cache));
    r->weights = (t5_on_host ? 0 : t5.bytes) + w2v.bytes + vae.bytes;
    r->vae_cache = cache.bytes;
    /* decoding one latent gives 4 frames; the widest full-resolution convs see them plus 2 cached */
    const uint64_t last = (uint64_t)(cfg->vae.dim * cfg->vae.dim_mult[0]);
    r->activations = PLAN_VAE_LIVE_TENSORS * last * (PLAN_VIDEO_PER_LATENT + PLAN_VAE_CACHE_FRAMES) *
                     (uint64_t)width * (uint64_t)height * sizeof(float);
    r->workspace = PLAN_BLAS_WORKSPACE;
    return LAVR_OK;
}

/* ---- DiT rank ------------------------------------------------------------------------------------- */
static lavr_status plan_dit(const lavr_model_config *cfg, const lavr_dit_geometry *g, const lavr_layout *layout,
                            const lavr_role *role, const lavr_plan_options *opts, lavr_plan_rank *r) {
    const lavr_dit_config *c = &cfg->dit;
    const uint64_t d = (uint64_t)c->dim, tp = (uint64_t)layout->tp, dr = d / tp, ffr = (uint64_t)c->ffn_dim / tp;
    const uint64_t layers = (uint64_t)(role->layer_end - role->layer_begin);
    const uint64_t caches = (uint64_t)(role->step_end - role->step_begin); /* one per denoising step */
    shard_walk w = {c, role->layer_begin, role->layer_end, layout->tp, opts->fp8, 0};
    TRY(lavr_dit_inventory(c, dit_tensor, &w));
    r->weights = w.bytes;
    /* K and V of every layer, bf16: rolling window of 4 blocks and the sink, per step cache */
    r->kv_window = caches * layers * 2 * (uint64_t)g->window * dr * 2;
    r->sink = caches * layers * 2 * (uint64_t)g->sink * dr * 2;
    r->text_kv = layers * 2 * (uint64_t)c->text_len * dr * (uint64_t)opts->text_kv_bytes;
    /* one layer at a time over R rows (a block, or the sink at prefill), fp32: the hidden state,
     * normalised input and residual [R, d]; q, k, v, attention out [R, d/tp]; FFN hidden [R, ffn/tp];
     * the bf16 GEMM operand [R, max(d, ffn/tp)]; the re-roped sink keys [sink, d/tp] bf16 */
    const uint64_t R = (uint64_t)(g->block_tokens > g->sink ? g->block_tokens : g->sink);
    r->activations = 4 * R * (3 * d + 4 * dr + ffr) + 2 * R * (d > ffr ? d : ffr) + 2 * (uint64_t)g->sink * dr;
    /* pipeline messages (hidden state in and out) between layer ranges, latents between stages, the
     * tp all-reduce buffer, and NCCL's buffers per communicator */
    const uint64_t latent = (uint64_t)c->in_dim * (uint64_t)c->frames_per_block * (uint64_t)(g->h * g->w) * 4;
    int comms = 0;
    r->comm = 0;
    if (layout->pp > 1) r->comm += 2 * 4 * R * d;
    if (layout->steps > 1) r->comm += 2 * latent;
    if (layout->pp > 1 || layout->steps > 1) comms++;
    if (layout->tp > 1) {
        r->comm += 4 * R * d;
        comms++;
    }
    r->comm += (uint64_t)comms * PLAN_NCCL_BYTES;
    r->workspace = PLAN_BLAS_WORKSPACE;

    /* busy time per block: every step of the stage runs the rank's layers at steady state (full
     * window + sink); linear FLOPs at the fp8 or bf16 rate, attention at the bf16 rate, plus two
     * ring all-reduces of [Q, d] fp32 per layer and the hidden-state hand-off per step */
    const double Q = (double)g->block_tokens, D = (double)d, F = (double)c->ffn_dim, T = (double)c->text_len;
    const double keys = (double)(g->window + g->sink);
    double linear = 2 * Q * (6 * D * D + 2 * D * F), attn = 4 * Q * keys * D + 4 * Q * T * D;
    const double inject = 2 * Q * 2 * D * D; /* audio injector q and o per injected layer */
    int injected = 0;
    for (int i = 0; i < c->n_inject; i++)
        injected += c->inject_layers[i] >= role->layer_begin && c->inject_layers[i] < role->layer_end;
    const double rate = opts->fp8 ? PLAN_FP8_FLOPS : PLAN_BF16_FLOPS;
    double step_s = ((double)layers * linear + injected * inject) / rate / (double)tp +
                    (double)layers * attn / PLAN_BF16_FLOPS / (double)tp;
    if (tp > 1) step_s += (double)layers * 2 * (2.0 * (double)(tp - 1) / (double)tp) * Q * D * 4 / PLAN_LINK_BYTES;
    if (layout->pp > 1) step_s += Q * D * 4 / PLAN_LINK_BYTES;
    r->block_ms = (double)caches * step_s * 1e3;
    return LAVR_OK;
}

lavr_status lavr_plan_layout(const lavr_model_config *cfg, int64_t width, int64_t height, const lavr_layout *layout,
                             const lavr_plan_options *opts, lavr_plan_rank *per_rank) {
    const lavr_dit_config *c = &cfg->dit;
    CHECK_ARG(width >= 64 && height >= 64 && width % 16 == 0 && height % 16 == 0,
              "plan: size %lldx%lld must be multiples of 16 and at least 64 (latent patches of 2x2 after the VAE's 8x)",
              (long long)width, (long long)height);
    CHECK_ARG(opts->gpus >= 1 && (opts->text_kv_bytes == 2 || opts->text_kv_bytes == 4),
              "plan: bad options (gpus %d, text K/V element size %d)", opts->gpus, opts->text_kv_bytes);
    TRY(lavr_layout_check(layout, c->num_heads, c->ffn_dim, c->num_layers));
    lavr_dit_geometry g;
    TRY(lavr_dit_geometry_of(c, height / PLAN_VAE_FACTOR, width / PLAN_VAE_FACTOR, &g));
    const int n = lavr_layout_ranks(layout);
    for (int i = 0; i < n; i++) {
        lavr_plan_rank *r = &per_rank[i];
        memset(r, 0, sizeof *r);
        lavr_role role;
        TRY(lavr_layout_role(layout, c->num_layers, i, &role));
        lavr_role_name(layout, &role, r->role, sizeof r->role);
        r->gpu = i % opts->gpus;
        if (role.is_dit)
            TRY(plan_dit(cfg, &g, layout, &role, opts, r));
        else
            TRY(plan_aux(cfg, width, height, opts->t5_on_host, r));
        r->total = r->weights + r->kv_window + r->sink + r->text_kv + r->vae_cache + r->activations + r->comm +
                   r->workspace;
    }
    return LAVR_OK;
}

uint64_t lavr_plan_peak_gpu(const lavr_plan_rank *per_rank, int nranks, int gpus, int *rank_out) {
    uint64_t peak = 0;
    int at = 0;
    for (int gpu = 0; gpu < gpus; gpu++) {
        uint64_t sum = 0;
        int first = -1;
        for (int i = 0; i < nranks; i++)
            if (per_rank[i].gpu == gpu) {
                sum += per_rank[i].total;
                if (first < 0) first = i;
            }
        if (first >= 0 && sum > peak) {
            peak = sum;
            at = first;
        }
    }
    if (rank_out) *rank_out = at;
    return peak;
}

double lavr_plan_fps(const lavr_model_config *cfg, const lavr_plan_rank *per_rank, int nranks) {
    double slowest = 0;
    for (int i = 0; i < nranks; i++)
        if (per_rank[i].block_ms > slowest) slowest = per_rank[i].block_ms;
    const double frames = (double)(cfg->dit.frames_per_block * PLAN_VIDEO_PER_LATENT);
    return slowest > 0 ? frames / (slowest * 1e-3) : 0;
}

int lavr_plan_candidates(const lavr_model_config *cfg, int gpus, lavr_layout *out, int max) {
    static const int steps[] = {4, 2, 1};
    const lavr_dit_config *c = &cfg->dit;
    int count = 0;
    for (int s = 0; s < 3; s++)
        for (int tp = 1; tp <= gpus; tp++)
            for (int pp = 1; pp <= gpus && pp <= c->num_layers; pp++) {
                const int dit = steps[s] * tp * pp;
                if (dit + 1 != gpus && dit != gpus) continue; /* aux on its own GPU, or sharing GPU 0 */
                lavr_layout l = {steps[s], tp, pp, 1};
                if (lavr_layout_check(&l, c->num_heads, c->ffn_dim, c->num_layers)) {
                    lavr_error_clear();
                    continue;
                }
                if (count < max) out[count] = l;
                count++;
            }
    return count;
}

lavr_status lavr_plan_check(const lavr_model_config *cfg, int64_t width, int64_t height, const lavr_layout *layout,
                            const lavr_plan_options *opts) {
    const int n = lavr_layout_ranks(layout);
    lavr_plan_rank *ranks = calloc((size_t)n, sizeof *ranks);
    if (!ranks) return LAVR_FAIL(LAVR_E_NOMEM, "plan: %d rank rows", n);
    lavr_status st = lavr_plan_layout(cfg, width, height, layout, opts, ranks);
    int at = 0;
    const uint64_t need = st ? 0 : lavr_plan_peak_gpu(ranks, n, opts->gpus, &at);
    if (st || !opts->gpu_mem || need <= opts->gpu_mem) {
        free(ranks);
        return st;
    }
    char text[96], need_s[32], cap_s[32], role[32], fits[400] = "";
    lavr_layout_format(layout, text, sizeof text);
    lavr_format_bytes(need, need_s, sizeof need_s);
    lavr_format_bytes(opts->gpu_mem, cap_s, sizeof cap_s);
    snprintf(role, sizeof role, "%s", ranks[at].role);
    int shared = 0;
    for (int i = 0; i < n; i++) shared += i != at && ranks[i].gpu == ranks[at].gpu;
    free(ranks);

    /* the layouts that fit, fastest first */
    lavr_layout cand[64];
    double fps[64];
    int nc = lavr_plan_candidates(cfg, opts->gpus, cand, 64), nfit = 0;
    if (nc > 64) nc = 64;
    for (int i = 0; i < nc; i++) {
        const int m = lavr_layout_ranks(&cand[i]);
        lavr_plan_rank *rr = calloc((size_t)m, sizeof *rr);
        if (!rr) return LAVR_FAIL(LAVR_E_NOMEM, "plan: %d rank rows", m);
        if (lavr_plan_layout(cfg, width, height, &cand[i], opts, rr) == LAVR_OK &&
            lavr_plan_peak_gpu(rr, m, opts->gpus, NULL) <= opts->gpu_mem) {
            cand[nfit] = cand[i];
            fps[nfit++] = lavr_plan_fps(cfg, rr, m);
        }
        lavr_error_clear();
        free(rr);
    }
    size_t used = 0;
    for (int k = 0; k < nfit && k < 3; k++) {
        int best = k;
        for (int i = k + 1; i < nfit; i++)
            if (fps[i] > fps[best]) best = i;
        lavr_layout tl = cand[k];
        double tf = fps[k];
        cand[k] = cand[best], fps[k] = fps[best];
        cand[best] = tl, fps[best] = tf;
        char t[96];
        lavr_layout_format(&cand[k], t, sizeof t);
        used += (size_t)snprintf(fits + used, sizeof fits - used, "%s%s", k ? ", " : "", t);
    }
    if (nfit)
        return LAVR_FAIL(LAVR_E_ARG, "layout %s needs %s on rank %d (%s)%s, the cap is %s; layouts that fit %d GPUs: %s",
                         text, need_s, at, role, shared ? " with the ranks sharing its GPU" : "", cap_s, opts->gpus,
                         fits);
    return LAVR_FAIL(LAVR_E_ARG, "layout %s needs %s on rank %d (%s)%s, the cap is %s; no layout with %d GPUs fits%s",
                     text, need_s, at, role, shared ? " with the ranks sharing its GPU" : "", cap_s, opts->gpus,
                     opts->fp8 ? "" : " (try --fp8)");
}
