/* The render's conditioning: the three encoders run on the user's inputs (portrait -> VAE latents,
 * prompt -> umT5 context, speech -> bucketed wav2vec2 features) and the HDF5 file that keeps them. */
#include "models/conditioning.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/dtype.h"
#include "core/json.h"
#include "core/log.h"
#include "core/sha256.h"
#include "io/audio.h"
#include "io/image.h"
#include "io/scratch.h"
#include "io/size_rule.h"
#include "models/audio_features.h"
#include "models/t5.h"
#include "models/tokenizer.h"
#include "models/vae.h"
#include "models/wav2vec2.h"

#define COND_FORMAT "lavr-conditioning"
#define COND_FORMAT_VERSION 1

/* The JSON `config` attribute of a model group ("/vae", "/t5", ...); *out is freed by the caller. */
static lavr_status read_config_json(lavr_h5file *model, const char *group, lavr_json **out) {
    char *text = NULL;
    if (!lavr_h5_exists(model, group))
        return LAVR_FAIL(LAVR_E_FORMAT, "%s has no %s group (not a complete lavr model file)", lavr_h5_path(model), group);
    TRY(lavr_h5_read_attr_string(model, group, "config", &text));
    lavr_status st = lavr_json_parse(text, out);
    free(text);
    return st ? lavr_error_wrap(st, "%s%s config", lavr_h5_path(model), group) : LAVR_OK;
}

static void round_bf16_all(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = lavr_round_bf16(x[i]);
}

/* ---- image ----------------------------------------------------------------------------------------- */

lavr_status lavr_cond_encode_image(lavr_h5file *model, const char *image_path, const char *size, lavr_arena *arena,
                                   lavr_conditioning *c) {
    return lavr_cond_encode_image_on(model, image_path, size, NULL, arena, c);
}

lavr_status lavr_cond_encode_image_on(lavr_h5file *model, const char *image_path, const char *size, lavr_ctx *ctx,
                                      lavr_arena *arena, lavr_conditioning *c) {
    CHECK_ARG(model && image_path && size && arena && c, "lavr_cond_encode_image: NULL argument");
    int64_t max_w, max_h;
    TRY(lavr_size_parse(size, &max_w, &max_h));
    lavr_json *j = NULL;
    lavr_vae_config vcfg;
    lavr_dit_config dcfg;
    TRY(read_config_json(model, "/vae", &j));
    lavr_status st = lavr_vae_config_from_json(j, &vcfg);
    lavr_json_free(j);
    TRY(st);
    TRY(read_config_json(model, "/dit", &j));
    st = lavr_dit_config_from_json(j, &dcfg);
    lavr_json_free(j);
    TRY(st);
    /* the motion clip is encoded in the VAE's chunks {0}, {1..4}, ...: 73 frames -> 19 latents */
    const int64_t motion_frames = dcfg.motion_frames, motion_latents = 1 + (motion_frames - 1) / 4;
    if (motion_frames < 1 || (motion_frames - 1) % 4)
        return LAVR_FAIL(LAVR_E_FORMAT, "%s: dit motion_frames %lld is not 1 + 4k", lavr_h5_path(model),
                         (long long)motion_frames);

    char sha[65];
    TRY(lavr_sha256_file_hex(image_path, sha));
    lavr_image img = {0};
    TRY(lavr_image_load(image_path, max_w * max_h, &img));

    lavr_arena *work = NULL;
    lavr_vae *vae = NULL;
    float *clip = NULL;
    lavr_tensor ref = {0}, motion = {0};
    const int64_t H = img.height, W = img.width, plane = H * W;
    TRY_GOTO(lavr_arena_create("vae encode", 0, &work), st, done);
    lavr_vae_options vopts = lavr_vae_options_default();
    vopts.ctx = ctx;
    TRY_GOTO(lavr_vae_create(model, "vae/", &vcfg, &vopts, work, &vae), st, done);
    const int64_t sf = lavr_vae_spatial_factor(vae), h = H / sf, w = W / sf;
    if (H % sf || W % sf) {
        st = LAVR_FAIL(LAVR_E_FORMAT, "image size %lldx%lld is not a multiple of the VAE factor %lld", (long long)W,
                       (long long)H, (long long)sf);
        goto done;
    }
    TRY_GOTO(lavr_tensor_alloc(arena, LAVR_F32, 4, (int64_t[]){vcfg.z_dim, 1, h, w}, "reference latent", &ref), st, done);
    TRY_GOTO(lavr_tensor_alloc(arena, LAVR_F32, 4, (int64_t[]){vcfg.z_dim, motion_latents, h, w}, "motion latents",
                               &motion),
             st, done);
    lavr_tensor frame = lavr_tensor_wrap(LAVR_F32, 4, (int64_t[]){3, 1, H, W}, img.data);
    TRY_GOTO(lavr_vae_encode(vae, &frame, &ref), st, done);
    /* the portrait repeated motion_frames times, channel-major [3, T, H, W] */
    TRY_GOTO(lavr_arena_alloc(work, (size_t)(3 * motion_frames * plane) * sizeof(float), "motion clip frames",
                              (void **)&clip),
             st, done);
    for (int64_t ch = 0; ch < 3; ch++)
        for (int64_t t = 0; t < motion_frames; t++)
            memcpy(clip + (ch * motion_frames + t) * plane, img.data + ch * plane, (size_t)plane * sizeof(float));
    lavr_tensor video = lavr_tensor_wrap(LAVR_F32, 4, (int64_t[]){3, motion_frames, H, W}, clip);
    TRY_GOTO(lavr_vae_encode(vae, &video, &motion), st, done);

    lavr_tensor_free(&c->ref);
    lavr_tensor_free(&c->motion);
    c->ref = ref, c->motion = motion;
    ref = (lavr_tensor){0}, motion = (lavr_tensor){0};
    c->height = H, c->width = W;
    memcpy(c->image_sha, sha, sizeof sha);
done:
    if (clip) lavr_arena_free(work, clip);
    lavr_tensor_free(&ref);
    lavr_tensor_free(&motion);
    lavr_vae_destroy(vae);
    lavr_arena_destroy(work);
    lavr_image_free(&img);
    return st ? lavr_error_wrap(st, "encoding image %s", image_path) : LAVR_OK;
}

/* ---- text -------------------------------------------------------------------------------------------- */

lavr_status lavr_cond_text_len(lavr_h5file *model, int64_t *text_len) {
    CHECK_ARG(model && text_len, "lavr_cond_text_len: NULL argument");
    *text_len = LAVR_TEXT_LEN;
    if (!lavr_h5_exists(model, "/dit")) return LAVR_OK;
    lavr_json *j = NULL;
    lavr_dit_config cfg;
    TRY(read_config_json(model, "/dit", &j));
    lavr_status st = lavr_dit_config_from_json(j, &cfg);
    lavr_json_free(j);
    TRY(st);
    if (cfg.text_len < *text_len) *text_len = cfg.text_len;
    return LAVR_OK;
}

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* cuda: umT5 on that device in a context of its own, sized for the model and these n ids; NULL: the CPU */
static lavr_status encode_ids(lavr_h5file *model, const int64_t *ids, int64_t n, const lavr_ctx_cuda_options *cuda,
                              lavr_arena *arena, lavr_conditioning *c) {
    lavr_json *j = NULL;
    lavr_t5_config cfg;
    TRY(read_config_json(model, "/t5", &j));
    lavr_status st = lavr_t5_config_from_json(j, &cfg);
    lavr_json_free(j);
    TRY(st);
    int64_t text_len = 0;
    TRY(lavr_cond_text_len(model, &text_len));
    CHECK_ARG(n >= 1 && n <= text_len, "a prompt has 1 to %lld token ids (the model's text length), got %lld",
              (long long)text_len, (long long)n);
    for (int64_t i = 0; i < n; i++)
        CHECK_ARG(ids[i] >= 0 && ids[i] < cfg.vocab, "token id %lld (position %lld) is outside the vocabulary of %lld",
                  (long long)ids[i], (long long)i, (long long)cfg.vocab);
    lavr_ctx *ctx = NULL;
    if (cuda) {
        uint64_t weights = 0, work = 0;
        lavr_t5_device_bytes(&cfg, n, &weights, &work);
        lavr_ctx_cuda_options o = *cuda;
        o.mem_cap = weights + work;
        TRY(lavr_ctx_create_cuda(&o, &ctx));
    }
    lavr_t5 *t5 = NULL;
    lavr_tensor context = {0};
    st = lavr_t5_create_on(model, "t5/", &cfg, ctx, &t5);
    if (!st) st = lavr_tensor_alloc(arena, LAVR_F32, 2, (int64_t[]){n, cfg.dim}, "text context", &context);
    /* the real tokens alone give the rows of the padded run (spec §4), so no padding is encoded */
    const double t0 = seconds_now();
    if (!st) st = lavr_t5_encode(t5, ids, n, NULL, context.data);
    const double ms = 1e3 * (seconds_now() - t0);
    if (!st && cuda) LOG_INFO("umT5 on cuda:%d: %lld tokens in %.0f ms", cuda->device, (long long)n, ms);
    else if (!st) LOG_INFO("umT5 on the host: %lld tokens in %.0f ms", (long long)n, ms);
    lavr_t5_destroy(t5);
    lavr_ctx_destroy(ctx);
    if (st) {
        lavr_tensor_free(&context);
        return st;
    }
    lavr_tensor_free(&c->context);
    c->context = context;
    return LAVR_OK;
}

lavr_status lavr_cond_prompt_ids(lavr_h5file *model, const char *prompt, int64_t *ids, int64_t *n, int64_t *dropped) {
    CHECK_ARG(model && prompt && ids && n && dropped, "lavr_cond_prompt_ids: NULL argument");
    int64_t text_len = 0, total = 0;
    TRY(lavr_cond_text_len(model, &text_len));
    lavr_tokenizer *tok = NULL;
    TRY(lavr_tokenizer_from_model(model, &tok));
    lavr_status st = lavr_tokenizer_encode_counted(tok, prompt, text_len, ids, n, &total);
    lavr_tokenizer_destroy(tok);
    TRY(st);
    *dropped = total - *n;
    return LAVR_OK;
}

lavr_status lavr_cond_prompt_check(const char *model_path, const char *prompt, int64_t *kept, int64_t *dropped) {
    CHECK_ARG(model_path && prompt && kept && dropped, "lavr_cond_prompt_check: NULL argument");
    *kept = *dropped = 0;
    lavr_h5file *model = NULL;
    TRY(lavr_h5_open(model_path, &model));
    int64_t ids[LAVR_TEXT_LEN];
    lavr_status st = LAVR_OK;
    if (lavr_h5_exists(model, LAVR_TOKENIZER_DATASET)) st = lavr_cond_prompt_ids(model, prompt, ids, kept, dropped);
    lavr_status close_st = lavr_h5_close(model);
    return st ? st : close_st;
}

lavr_status lavr_cond_encode_text(lavr_h5file *model, const char *prompt, lavr_arena *arena, lavr_conditioning *c) {
    return lavr_cond_encode_text_on(model, prompt, NULL, arena, c);
}

lavr_status lavr_cond_encode_text_on(lavr_h5file *model, const char *prompt, const lavr_ctx_cuda_options *cuda,
                                     lavr_arena *arena, lavr_conditioning *c) {
    CHECK_ARG(model && prompt && arena && c, "lavr_cond_encode_text: NULL argument");
    int64_t ids[LAVR_TEXT_LEN], n = 0;
    TRY(lavr_cond_prompt_ids(model, prompt, ids, &n, &c->prompt_dropped));
    TRY(encode_ids(model, ids, n, cuda, arena, c));
    return lavr_sha256_hex(prompt, strlen(prompt), c->prompt_sha);
}

lavr_status lavr_cond_encode_ids(lavr_h5file *model, const int64_t *ids, int64_t n, lavr_arena *arena,
                                 lavr_conditioning *c) {
    CHECK_ARG(model && ids && arena && c, "lavr_cond_encode_ids: NULL argument");
    TRY(encode_ids(model, ids, n, NULL, arena, c));
    /* identity of an id list: the hash of its canonical text "ids:1,2,3" */
    char *text = malloc((size_t)n * 21 + 8);
    if (!text) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for %lld token ids", (long long)n);
    int64_t len = sprintf(text, "ids:");
    for (int64_t i = 0; i < n; i++) len += sprintf(text + len, "%s%lld", i ? "," : "", (long long)ids[i]);
    lavr_status st = lavr_sha256_hex(text, (size_t)len, c->prompt_sha);
    free(text);
    return st;
}

/* ---- audio -------------------------------------------------------------------------------------------- */

lavr_status lavr_cond_encode_audio(lavr_h5file *model, const char *audio_path, lavr_arena *arena,
                                   lavr_conditioning *c) {
    return lavr_cond_encode_audio_on(model, audio_path, NULL, arena, c);
}

/* wav2vec2 from the model file on ctx (NULL: the CPU); says where it runs. */
static lavr_status open_w2v(lavr_h5file *model, const lavr_w2v_config *cfg, lavr_ctx *ctx, lavr_w2v **out) {
    const lavr_w2v_options o = {.ctx = ctx};
    TRY(lavr_w2v_create_on(model, "wav2vec2/", cfg, &o, out));
    if (ctx) LOG_INFO("wav2vec2 on %s", lavr_w2v_describe(*out));
    return LAVR_OK;
}

lavr_status lavr_cond_encode_audio_on(lavr_h5file *model, const char *audio_path, lavr_ctx *ctx, lavr_arena *arena,
                                      lavr_conditioning *c) {
    CHECK_ARG(model && audio_path && arena && c, "lavr_cond_encode_audio: NULL argument");
    lavr_json *j = NULL;
    lavr_w2v_config cfg;
    TRY(read_config_json(model, "/wav2vec2", &j));
    lavr_status st = lavr_w2v_config_from_json(j, &cfg);
    lavr_json_free(j);
    TRY(st);
    char sha[65];
    TRY(lavr_sha256_file_hex(audio_path, sha));
    lavr_audio audio = {0};
    TRY(lavr_audio_load(audio_path, &audio));
    lavr_w2v *w2v = NULL;
    lavr_arena *work = NULL;
    lavr_audio_features feat = {0};
    TRY_GOTO(open_w2v(model, &cfg, ctx, &w2v), st, done);
    TRY_GOTO(lavr_arena_create("wav2vec2 work", 0, &work), st, done);
    TRY_GOTO(lavr_audio_encode(w2v, audio.samples, audio.nsamples, LAVR_VIDEO_FPS, LAVR_FRAMES_PER_CLIP, arena, work,
                               &feat),
             st, done);
    /* the reference keeps audio_emb in bf16 (liveavatar-system §1.3 step 5) */
    round_bf16_all(feat.features.data, lavr_tensor_numel(&feat.features));
    lavr_tensor_free(&c->audio);
    c->audio = feat.features;
    c->clips = feat.clips;
    memcpy(c->audio_sha, sha, sizeof sha);
done:
    lavr_arena_destroy(work);
    lavr_w2v_destroy(w2v);
    lavr_audio_free(&audio);
    return st ? lavr_error_wrap(st, "encoding audio %s", audio_path) : LAVR_OK;
}

/* The speech straight into a conditioning file: pass 1 streams the file's 16 kHz samples into a scratch
 * file while summing them, pass 2 sums the squared deviations, then wav2vec2 reads normalised samples
 * back from it and each clip of each bucketed state goes to /audio as it comes. */
typedef struct {
    lavr_scratch *wave;
    int64_t n;
    double sum;
    lavr_audio_norm norm;
    float *chunk;      /* AUDIO_CHUNK samples */
    lavr_h5file *out;  /* the file being written */
    int64_t states, dim;
    lavr_tensor bits;  /* bf16 [frames_per_clip, 1, dim]: one clip of one state */
} audio_stream;

#define AUDIO_CHUNK 65536

static lavr_status spill_samples(void *user, const float *samples, int64_t n) {
    audio_stream *a = user;
    a->sum = lavr_audio_sum(samples, n, a->sum);
    TRY(lavr_scratch_write(a->wave, a->n, n, samples));
    a->n += n;
    return LAVR_OK;
}

static lavr_status read_normalized(void *user, int64_t first, int64_t n, float *out) {
    audio_stream *a = user;
    TRY(lavr_scratch_read(a->wave, first, n, out));
    lavr_audio_norm_apply(&a->norm, out, n, out);
    return LAVR_OK;
}

/* the reference keeps audio_emb in bf16 (liveavatar-system §1.3 step 5): stored as bf16 bits */
static lavr_status write_frames(void *user, int64_t state_index, int64_t first, int64_t nframes, const float *frames) {
    audio_stream *a = user;
    uint16_t *bits = a->bits.data;
    for (int64_t i = 0; i < nframes * a->dim; i++) bits[i] = lavr_f32_to_bf16(lavr_round_bf16(frames[i]));
    lavr_tensor slab = lavr_tensor_wrap(LAVR_BF16, 3, (int64_t[]){nframes, 1, a->dim}, a->bits.data);
    return lavr_h5_write_slice(a->out, "/audio", (int64_t[]){first, state_index, 0}, &slab);
}

static lavr_status encode_audio_into(lavr_h5file *model, const lavr_w2v_config *cfg, lavr_ctx *ctx,
                                     const char *audio_path, const char *scratch_dir, lavr_h5file *out,
                                     int64_t *clips) {
    audio_stream a = {.out = out, .states = cfg->num_layers + 1, .dim = cfg->hidden};
    lavr_audio info;
    lavr_w2v *w2v = NULL;
    lavr_arena *work = NULL;
    lavr_status st;
    TRY(lavr_audio_probe(audio_path, &info));
    TRY_GOTO(lavr_scratch_create(scratch_dir, "the 16 kHz speech", info.nsamples, 1, &a.wave), st, done);
    TRY_GOTO(lavr_audio_stream(audio_path, spill_samples, &a, &info), st, done);
    TRY_GOTO(lavr_arena_create("wav2vec2 work", 0, &work), st, done);
    TRY_GOTO(lavr_arena_alloc(work, AUDIO_CHUNK * sizeof(float), "audio chunk", (void **)&a.chunk), st, done);
    double sumsq = 0.0;
    const double mean = a.sum / (double)a.n;
    for (int64_t i = 0; i < a.n; i += AUDIO_CHUNK) {
        const int64_t m = a.n - i < AUDIO_CHUNK ? a.n - i : AUDIO_CHUNK;
        TRY_GOTO(lavr_scratch_read(a.wave, i, m, a.chunk), st, done);
        sumsq = lavr_audio_sum_sq_dev(a.chunk, m, mean, sumsq);
    }
    a.norm = lavr_audio_norm_finish(a.sum, sumsq, a.n);

    const int64_t t30 = lavr_audio_feat30_len(lavr_w2v_num_frames(cfg, a.n));
    if (t30 < 1) {
        st = LAVR_FAIL(LAVR_E_ARG, "audio too short: %lld samples (%.3f s at 16 kHz) give no 30 Hz feature frame",
                       (long long)a.n, (double)a.n / LAVR_AUDIO_SAMPLE_RATE);
        goto done;
    }
    const int64_t n_video = lavr_audio_num_clips(t30, LAVR_FRAMES_PER_CLIP, LAVR_VIDEO_FPS) * LAVR_FRAMES_PER_CLIP;
    const int64_t shape[3] = {n_video, a.states, a.dim}, chunk[3] = {LAVR_FRAMES_PER_CLIP, 1, a.dim};
    TRY_GOTO(lavr_h5_create_dataset_chunked(out, "/audio", LAVR_BF16, 3, shape, chunk, 0), st, done);
    TRY_GOTO(lavr_tensor_alloc(work, LAVR_BF16, 3, chunk, "audio clip", &a.bits), st, done);
    TRY_GOTO(open_w2v(model, cfg, ctx, &w2v), st, done);
    TRY_GOTO(lavr_audio_encode_stream(w2v, a.n, read_normalized, &a, LAVR_VIDEO_FPS, LAVR_FRAMES_PER_CLIP, work,
                                      scratch_dir, write_frames, &a, clips), st, done);
done:
    lavr_w2v_destroy(w2v);
    lavr_tensor_free(&a.bits);
    if (a.chunk) lavr_arena_free(work, a.chunk);
    lavr_arena_destroy(work);
    lavr_scratch_destroy(a.wave);
    return st;
}

/* ---- file form ------------------------------------------------------------------------------------------ */

typedef struct {
    const char *dataset;
    lavr_dtype stored; /* context and audio hold bf16 values: stored as bf16 bits, exactly */
    int ndim;
} part_info;

enum { PART_CONTEXT, PART_REF, PART_MOTION, PART_AUDIO, PART_COUNT };
static const part_info parts[PART_COUNT] = {
    {"/context", LAVR_BF16, 2},
    {"/ref_latent", LAVR_F32, 4},
    {"/motion_latents", LAVR_F32, 4},
    {"/audio", LAVR_BF16, 3},
};

/* A part is set when it holds data (a zeroed tensor has ndim 0 and counts as absent). */
static int is_set(const lavr_tensor *t) { return t->data && t->ndim > 0 && lavr_tensor_numel(t) > 0; }

static lavr_tensor *part_of(lavr_conditioning *c, int k) {
    return k == PART_CONTEXT ? &c->context : k == PART_REF ? &c->ref : k == PART_MOTION ? &c->motion : &c->audio;
}

static lavr_status write_part(lavr_h5file *f, const part_info *p, const lavr_tensor *t, lavr_arena *arena) {
    if (t->ndim != p->ndim || t->dtype != LAVR_F32 || !lavr_tensor_is_contiguous(t))
        return LAVR_FAIL(LAVR_E_ARG, "conditioning %s must be a contiguous float32 tensor of %d dims", p->dataset + 1,
                         p->ndim);
    if (p->stored == LAVR_F32) return lavr_h5_write(f, p->dataset, t, 0);
    lavr_tensor stored = {0};
    TRY(lavr_tensor_alloc(arena, p->stored, t->ndim, t->shape, p->dataset, &stored));
    lavr_status st = lavr_tensor_copy(&stored, t);
    if (!st) st = lavr_h5_write(f, p->dataset, &stored, 0);
    lavr_tensor_free(&stored);
    return st;
}

static lavr_status write_sha(lavr_h5file *f, const char *name, const char *sha) {
    return sha[0] ? lavr_h5_write_attr_string(f, "/", name, sha) : LAVR_OK;
}

/* Where a written file's /audio comes from when c holds none: nowhere, a dataset copied from another
 * conditioning file, or the speech encoded straight into the file. */
typedef struct {
    const char *copy_from;
    lavr_h5file *model;
    const lavr_w2v_config *w2v;
    lavr_ctx *ctx; /* where wav2vec2 runs (NULL: the CPU) */
    const char *speech, *scratch_dir;
} audio_source;

static lavr_status write_file(const char *path, lavr_conditioning *c, const audio_source *audio) {
    lavr_h5file *f = NULL, *from = NULL;
    lavr_arena *arena = NULL;
    lavr_status st;
    TRY(lavr_arena_create("conditioning save", 0, &arena));
    TRY_GOTO(lavr_h5_create(path, &f), st, done);
    if (audio && audio->copy_from) {
        TRY_GOTO(lavr_h5_open(audio->copy_from, &from), st, done);
        TRY_GOTO(lavr_h5_copy(from, "/audio", f), st, done);
    } else if (audio && audio->speech) {
        TRY_GOTO(encode_audio_into(audio->model, audio->w2v, audio->ctx, audio->speech, audio->scratch_dir, f,
                                   &c->clips), st, done);
    }
    TRY_GOTO(lavr_h5_write_attr_string(f, "/", "format", COND_FORMAT), st, done);
    TRY_GOTO(lavr_h5_write_attr_int(f, "/", "format_version", COND_FORMAT_VERSION), st, done);
    TRY_GOTO(lavr_h5_write_attr_int(f, "/", "clips", c->clips), st, done);
    TRY_GOTO(lavr_h5_write_attr_int(f, "/", "height", c->height), st, done);
    TRY_GOTO(lavr_h5_write_attr_int(f, "/", "width", c->width), st, done);
    TRY_GOTO(write_sha(f, "image_sha256", c->image_sha), st, done);
    TRY_GOTO(write_sha(f, "audio_sha256", c->audio_sha), st, done);
    TRY_GOTO(write_sha(f, "prompt_sha256", c->prompt_sha), st, done);
    for (int k = 0; k < PART_COUNT; k++) {
        const lavr_tensor *t = part_of((lavr_conditioning *)c, k);
        if (is_set(t)) TRY_GOTO(write_part(f, &parts[k], t, arena), st, done);
    }
done:;
    lavr_status close_st = lavr_h5_close(f);
    lavr_h5_close(from);
    lavr_arena_destroy(arena);
    return st ? st : close_st;
}

static lavr_status load_file(const char *path, lavr_arena *arena, int with_audio, lavr_conditioning *c);

/* Writes path (beside it, then renamed: an interrupted save leaves the old file intact) from c, the
 * parts c does not set coming from the file already there (which must be a conditioning file); the
 * audio comes from c, from `audio` (encoded now) or from the old file (copied, never loaded). */
static lavr_status save(const char *path, const lavr_conditioning *c, audio_source *audio, int64_t *clips_out) {
    lavr_conditioning merged = *c, old;
    memset(&old, 0, sizeof old);
    lavr_arena *arena = NULL;
    lavr_status st = LAVR_OK;
    struct stat sb;
    const int audio_given = is_set(&c->audio) || (audio && audio->speech);
    if (stat(path, &sb) == 0) {
        TRY(lavr_arena_create("conditioning merge", 0, &arena));
        if ((st = load_file(path, arena, 0, &old)) != LAVR_OK) {
            lavr_arena_destroy(arena);
            return st;
        }
        int has_image = is_set(&c->ref) || is_set(&c->motion);
        if (!is_set(&c->context)) {
            merged.context = old.context;
            memcpy(merged.prompt_sha, old.prompt_sha, sizeof old.prompt_sha);
        }
        if (!is_set(&c->ref)) merged.ref = old.ref;
        if (!is_set(&c->motion)) merged.motion = old.motion;
        if (!has_image) {
            merged.height = old.height, merged.width = old.width;
            memcpy(merged.image_sha, old.image_sha, sizeof old.image_sha);
        }
        if (!audio_given) {
            merged.clips = old.clips;
            memcpy(merged.audio_sha, old.audio_sha, sizeof old.audio_sha);
        }
    }
    audio_source copy = {.copy_from = path};
    if (!audio_given && old.audio_frames > 0) audio = &copy;
    size_t n = strlen(path) + 16;
    char *partial = malloc(n);
    if (!partial) st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    if (partial) {
        snprintf(partial, n, "%s.partial", path);
        st = write_file(partial, &merged, audio);
        if (!st && rename(partial, path) != 0) st = LAVR_FAIL(LAVR_E_IO, "cannot rename '%s' to '%s'", partial, path);
        if (st) unlink(partial);
        free(partial);
    }
    for (int k = 0; k < PART_COUNT; k++) lavr_tensor_free(part_of(&old, k));
    lavr_arena_destroy(arena);
    if (clips_out) *clips_out = merged.clips;
    return st ? lavr_error_wrap(st, "saving conditioning %s", path) : LAVR_OK;
}

lavr_status lavr_cond_save(const char *path, const lavr_conditioning *c) {
    CHECK_ARG(path && c, "lavr_cond_save: NULL argument");
    return save(path, c, NULL, NULL);
}

lavr_status lavr_cond_encode_audio_file(lavr_h5file *model, const char *audio_path, const char *path,
                                        const char *scratch_dir, lavr_conditioning *c) {
    return lavr_cond_encode_audio_file_on(model, audio_path, path, scratch_dir, NULL, c);
}

lavr_status lavr_cond_encode_audio_file_on(lavr_h5file *model, const char *audio_path, const char *path,
                                           const char *scratch_dir, lavr_ctx *ctx, lavr_conditioning *c) {
    CHECK_ARG(model && audio_path && path && c, "lavr_cond_encode_audio_file: NULL argument");
    lavr_json *j = NULL;
    lavr_w2v_config cfg;
    TRY(read_config_json(model, "/wav2vec2", &j));
    lavr_status st = lavr_w2v_config_from_json(j, &cfg);
    lavr_json_free(j);
    TRY(st);
    char sha[65];
    TRY(lavr_sha256_file_hex(audio_path, sha));
    /* only the audio part of c is written now: the rest of the file is kept */
    lavr_conditioning audio_only;
    memset(&audio_only, 0, sizeof audio_only);
    memcpy(audio_only.audio_sha, sha, sizeof sha);
    audio_source speech = {.model = model, .w2v = &cfg, .ctx = ctx, .speech = audio_path, .scratch_dir = scratch_dir};
    st = save(path, &audio_only, &speech, &audio_only.clips);
    if (st) return lavr_error_wrap(st, "encoding audio %s", audio_path);
    lavr_tensor_free(&c->audio);
    c->clips = audio_only.clips;
    c->audio_frames = audio_only.clips * LAVR_FRAMES_PER_CLIP;
    memcpy(c->audio_sha, sha, sizeof sha);
    return LAVR_OK;
}

static lavr_status read_sha(lavr_h5file *f, const char *name, char sha[65]) {
    sha[0] = 0;
    if (!lavr_h5_has_attr(f, "/", name)) return LAVR_OK;
    char *text = NULL;
    TRY(lavr_h5_read_attr_string(f, "/", name, &text));
    int ok = strlen(text) == 64;
    if (ok) memcpy(sha, text, 65);
    free(text);
    return ok ? LAVR_OK : LAVR_FAIL(LAVR_E_FORMAT, "attribute %s is not 64 hex digits", name);
}

static lavr_status load_parts(lavr_h5file *f, lavr_arena *arena, int with_audio, lavr_conditioning *c) {
    char *format = NULL;
    if (!lavr_h5_has_attr(f, "/", "format"))
        return LAVR_FAIL(LAVR_E_FORMAT, "not a conditioning file (no 'format' attribute)");
    TRY(lavr_h5_read_attr_string(f, "/", "format", &format));
    int ok = strcmp(format, COND_FORMAT) == 0;
    lavr_status st = ok ? LAVR_OK : LAVR_FAIL(LAVR_E_FORMAT, "format is '%s', not '%s'", format, COND_FORMAT);
    free(format);
    TRY(st);
    TRY(lavr_h5_read_attr_int(f, "/", "clips", &c->clips));
    TRY(lavr_h5_read_attr_int(f, "/", "height", &c->height));
    TRY(lavr_h5_read_attr_int(f, "/", "width", &c->width));
    TRY(read_sha(f, "image_sha256", c->image_sha));
    TRY(read_sha(f, "audio_sha256", c->audio_sha));
    TRY(read_sha(f, "prompt_sha256", c->prompt_sha));
    if (lavr_h5_exists(f, "/audio")) {
        lavr_tensor desc;
        TRY(lavr_h5_info(f, "/audio", &desc));
        if (desc.ndim != 3)
            return LAVR_FAIL(LAVR_E_FORMAT, "/audio has %d dims, expected 3", desc.ndim);
        c->audio_frames = desc.shape[0];
    }
    if (c->audio_frames > 0 && c->audio_frames != c->clips * LAVR_FRAMES_PER_CLIP)
        return LAVR_FAIL(LAVR_E_FORMAT, "/audio has %lld frames but clips = %lld needs %lld", (long long)c->audio_frames,
                         (long long)c->clips, (long long)(c->clips * LAVR_FRAMES_PER_CLIP));
    for (int k = 0; k < PART_COUNT; k++) {
        if (!lavr_h5_exists(f, parts[k].dataset) || (k == PART_AUDIO && !with_audio)) continue;
        lavr_tensor *t = part_of(c, k);
        TRY(lavr_h5_read_f32(f, parts[k].dataset, arena, t));
        if (t->ndim != parts[k].ndim)
            return LAVR_FAIL(LAVR_E_FORMAT, "%s has %d dims, expected %d", parts[k].dataset, t->ndim, parts[k].ndim);
    }
    return LAVR_OK;
}

static lavr_status load_file(const char *path, lavr_arena *arena, int with_audio, lavr_conditioning *c) {
    memset(c, 0, sizeof *c);
    lavr_h5file *f = NULL;
    TRY(lavr_h5_open(path, &f));
    lavr_status st = load_parts(f, arena, with_audio, c);
    lavr_status close_st = lavr_h5_close(f);
    if (!st) st = close_st;
    if (st) {
        for (int k = 0; k < PART_COUNT; k++) lavr_tensor_free(part_of(c, k));
        return lavr_error_wrap(st, "conditioning file %s", path);
    }
    return LAVR_OK;
}

lavr_status lavr_cond_load(const char *path, lavr_arena *arena, lavr_conditioning *c) {
    CHECK_ARG(path && arena && c, "lavr_cond_load: NULL argument");
    return load_file(path, arena, 1, c);
}

lavr_status lavr_cond_load_except_audio(const char *path, lavr_arena *arena, lavr_conditioning *c) {
    CHECK_ARG(path && arena && c, "lavr_cond_load_except_audio: NULL argument");
    return load_file(path, arena, 0, c);
}

/* ---- reading the audio back ------------------------------------------------------------------------------ */

struct lavr_cond_audio {
    lavr_h5file *f;
    lavr_arena *arena;
    int64_t shape[3];
};

lavr_status lavr_cond_audio_open(const char *path, lavr_cond_audio **out) {
    CHECK_ARG(path && out, "lavr_cond_audio_open: NULL argument");
    *out = NULL;
    lavr_cond_audio *a = calloc(1, sizeof *a);
    if (!a) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory");
    lavr_tensor desc;
    lavr_status st = lavr_arena_create("conditioning audio", 0, &a->arena);
    if (!st) st = lavr_h5_open(path, &a->f);
    if (!st && !lavr_h5_exists(a->f, "/audio")) st = LAVR_FAIL(LAVR_E_FORMAT, "%s holds no /audio", path);
    if (!st) st = lavr_h5_info(a->f, "/audio", &desc);
    if (!st && (desc.ndim != 3 || desc.dtype != LAVR_BF16))
        st = LAVR_FAIL(LAVR_E_FORMAT, "%s: /audio is not bf16 [frames, states, dim]", path);
    if (st) {
        lavr_cond_audio_close(a);
        return lavr_error_wrap(st, "conditioning file %s", path);
    }
    memcpy(a->shape, desc.shape, sizeof a->shape);
    *out = a;
    return LAVR_OK;
}

void lavr_cond_audio_shape(const lavr_cond_audio *a, int64_t shape[3]) { memcpy(shape, a->shape, sizeof a->shape); }

lavr_status lavr_cond_audio_read(lavr_cond_audio *a, int64_t first, int64_t frames, float *out) {
    CHECK_ARG(a && out && first >= 0 && frames >= 1 && first + frames <= a->shape[0],
              "conditioning audio: frames [%lld, %lld) outside its %lld", (long long)first, (long long)(first + frames),
              (long long)(a ? a->shape[0] : 0));
    lavr_tensor bits = {0};
    TRY(lavr_h5_read_slice(a->f, "/audio", (int64_t[]){first, 0, 0}, (int64_t[]){frames, a->shape[1], a->shape[2]},
                           a->arena, &bits));
    lavr_tensor dst = lavr_tensor_wrap(LAVR_F32, 3, bits.shape, out);
    lavr_status st = lavr_tensor_copy(&dst, &bits);
    lavr_tensor_free(&bits);
    return st;
}

void lavr_cond_audio_close(lavr_cond_audio *a) {
    if (!a) return;
    lavr_h5_close(a->f);
    lavr_arena_destroy(a->arena);
    free(a);
}

void lavr_cond_free(lavr_conditioning *c) {
    if (!c) return;
    for (int k = 0; k < PART_COUNT; k++) lavr_tensor_free(part_of(c, k));
}
