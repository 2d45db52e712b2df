/* Conditioning on the tiny model: the tokenizer stored in the model file, the three encoders (shapes,
 * hashes, properties that must hold: motion latent 0 = reference latent, audio frames past the file are
 * zero, bf16 values), the file form's round trip and merging of parts, and the errors for bad inputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/dtype.h"
#include "core/sha256.h"
#include "io/audio.h"
#include "io/image.h"
#include "io/size_rule.h"
#include "models/conditioning.h"
#include "models/tokenizer.h"
#include "tiny_model.h"

static char tmp_dir[4096];

static const char *tmp_path(const char *name) {
    static char paths[8][4200];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", tmp_dir, name);
    return p;
}

#if LAVR_HAVE_FFMPEG && LAVR_HAVE_SNDFILE /* image and audio input need both */
static int all_bf16(const lavr_tensor *t) {
    const float *x = t->data;
    for (int64_t i = 0; i < lavr_tensor_numel(t); i++)
        if (!isfinite(x[i]) || lavr_round_bf16(x[i]) != x[i]) return 0;
    return 1;
}

static int same_floats(const lavr_tensor *a, const lavr_tensor *b) {
    if (!lavr_tensor_same_shape(a, b)) return 0;
    return memcmp(a->data, b->data, (size_t)lavr_tensor_numel(a) * sizeof(float)) == 0;
}
#endif

/* Pieces of the ids, '▁' as a space, must spell " " + the (normalised) text: nothing lost or unknown. */
static void check_spelling(const lavr_tokenizer *tok, const char *text) {
    int64_t ids[LAVR_TEXT_LEN], n = 0;
    CHECK_OK(lavr_tokenizer_encode(tok, text, LAVR_TEXT_LEN, ids, &n));
    char spelled[2048] = "";
    size_t len = 0;
    int unknown = 0;
    for (int64_t i = 0; i + 1 < n; i++) {
        unknown |= ids[i] == lavr_tokenizer_unk_id(tok);
        const char *p = lavr_tokenizer_piece(tok, ids[i]);
        for (; p && *p && len + 2 < sizeof spelled;) {
            if (strncmp(p, "\xe2\x96\x81", 3) == 0) spelled[len++] = ' ', p += 3;
            else spelled[len++] = *p++;
        }
    }
    spelled[len] = 0;
    CHECK_MSG(!unknown && n >= 2 && ids[n - 1] == 1 && spelled[0] == ' ' && strcmp(spelled + 1, text) == 0,
              "'%s' spelled as '%s' (%lld ids)", text, spelled, (long long)n);
}

static void test_tokenizer_in_model(const char *model_path) {
    char *json = NULL;
    lavr_tokenizer *tok = NULL, *from_file = NULL;
    CHECK_OK(lavr_tokenizer_tiny_json(512, &json));
    CHECK_OK(lavr_tokenizer_from_json(json, &tok));
    if (!tok) return;
    CHECK(lavr_tokenizer_vocab_size(tok) == 512);
    CHECK(lavr_tokenizer_eos_id(tok) == 1 && lavr_tokenizer_unk_id(tok) == 2);
    CHECK(strcmp(lavr_tokenizer_piece(tok, 0), "<pad>") == 0 && strcmp(lavr_tokenizer_piece(tok, 511), "<extra_id_0>") == 0);
    /* every '▁word' piece is the one-piece segmentation of its word */
    int words = 0, word_ok = 0;
    for (int64_t id = 3; id < 512; id++) {
        const char *p = lavr_tokenizer_piece(tok, id);
        if (strncmp(p, "\xe2\x96\x81", 3) != 0 || !p[3]) continue;
        int64_t ids[8], n = 0;
        words++;
        if (lavr_tokenizer_encode(tok, p + 3, 8, ids, &n) == LAVR_OK && n == 2 && ids[0] == id && ids[1] == 1) word_ok++;
    }
    CHECK_MSG(words > 200 && word_ok == words, "%d of %d word pieces segment to themselves", word_ok, words);
    check_spelling(tok, "A woman is speaking to the camera, soft warm lighting.");
    check_spelling(tok, "Zebra #42 (quickly) jumped: 7 + 8 = 15; \"Why?\" she asked & laughed!");
    check_spelling(tok, "xylophone_QUARTZ [9/10] @home 100% don't");
    free(json);

    /* the same ids through the model file */
    lavr_h5file *f = NULL;
    CHECK_OK(lavr_h5_open(model_path, &f));
    CHECK_OK(lavr_tokenizer_from_model(f, &from_file));
    lavr_h5_close(f);
    if (from_file) {
        const char *text = "Hello, I am a synthetic avatar.";
        int64_t a[64], b[64], na = 0, nb = 0;
        CHECK_OK(lavr_tokenizer_encode(tok, text, 64, a, &na));
        CHECK_OK(lavr_tokenizer_encode(from_file, text, 64, b, &nb));
        CHECK(na == nb && na > 2 && memcmp(a, b, (size_t)na * sizeof *a) == 0);
    }
    lavr_tokenizer_destroy(from_file);
    lavr_tokenizer_destroy(tok);

    /* a kind that contradicts the content, and a file without a tokenizer */
    const char *bad = tmp_path("cond_bad_tokenizer.h5");
    CHECK_OK(lavr_h5_create(bad, &f));
    const uint8_t text[] = "{\"model\": {}}";
    CHECK_OK(lavr_tokenizer_store(f, LAVR_TOKENIZER_KIND_SPIECE, text, (int64_t)sizeof text - 1));
    CHECK_FAILS(lavr_tokenizer_store(f, "vocab.txt", text, 4), LAVR_E_ARG);
    lavr_h5_close(f);
    CHECK_OK(lavr_h5_open(bad, &f));
    CHECK_FAILS(lavr_tokenizer_from_model(f, &tok), LAVR_E_FORMAT);
    CHECK(strstr(lavr_error_message(), "spiece.model") != NULL);
    lavr_h5_close(f);
    const char *none = tmp_path("cond_no_tokenizer.h5");
    CHECK_OK(lavr_h5_create(none, &f));
    lavr_h5_close(f);
    CHECK_OK(lavr_h5_open(none, &f));
    CHECK_FAILS(lavr_tokenizer_from_model(f, &tok), LAVR_E_FORMAT);
    CHECK(strstr(lavr_error_message(), "lavr convert") != NULL);
    lavr_h5_close(f);
}

#if LAVR_HAVE_FFMPEG && LAVR_HAVE_SNDFILE /* image and audio input need both */
/* A 200x120 picture with gradients in every channel. */
static void write_test_image(const char *path) {
    enum { W = 200, H = 120 };
    static uint8_t rgb[W * H * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = rgb + (y * W + x) * 3;
            p[0] = (uint8_t)(x * 255 / (W - 1)), p[1] = (uint8_t)(y * 255 / (H - 1)), p[2] = (uint8_t)((x + y) % 256);
        }
    CHECK_OK(lavr_png_write(path, rgb, W, H));
}

static void test_encoders(const char *model_path) {
    lavr_h5file *model = NULL;
    lavr_arena *arena = NULL;
    CHECK_OK(lavr_arena_create("test", 0, &arena));
    CHECK_OK(lavr_h5_open(model_path, &model));
    if (!model || !arena) return;
    lavr_conditioning c, ids_only, loaded;
    memset(&c, 0, sizeof c);
    memset(&ids_only, 0, sizeof ids_only);
    memset(&loaded, 0, sizeof loaded);
    char sha[65];

    /* text: one row per token including EOS, bf16 values, hash of the UTF-8 prompt */
    const char *prompt = "A woman is speaking to the camera.";
    CHECK_OK(lavr_cond_encode_text(model, prompt, arena, &c));
    lavr_sha256_hex(prompt, strlen(prompt), sha);
    CHECK(strcmp(c.prompt_sha, sha) == 0);
    /* "▁ A ▁woman ▁is ▁speaking ▁to ▁the ▁camera ." + EOS ("▁A" is no piece: the tiny vocabulary has "▁a") */
    CHECK_MSG(c.context.ndim == 2 && c.context.shape[0] == 10 && c.context.shape[1] == 64, "context rows %lld",
              (long long)c.context.shape[0]);
    CHECK(all_bf16(&c.context));
    lavr_tokenizer *tok = NULL;
    int64_t ids[LAVR_TEXT_LEN], n = 0;
    CHECK_OK(lavr_tokenizer_from_model(model, &tok));
    if (tok) CHECK_OK(lavr_tokenizer_encode(tok, prompt, LAVR_TEXT_LEN, ids, &n));
    lavr_tokenizer_destroy(tok);
    CHECK_OK(lavr_cond_encode_ids(model, ids, n, arena, &ids_only));
    CHECK(same_floats(&ids_only.context, &c.context));
    char canonical[LAVR_TEXT_LEN * 21] = "ids:";
    for (int64_t i = 0; i < n; i++)
        snprintf(canonical + strlen(canonical), sizeof canonical - strlen(canonical), "%s%lld", i ? "," : "", (long long)ids[i]);
    lavr_sha256_hex(canonical, strlen(canonical), sha);
    CHECK(strcmp(ids_only.prompt_sha, sha) == 0 && strcmp(ids_only.prompt_sha, c.prompt_sha) != 0);
    CHECK_FAILS(lavr_cond_encode_ids(model, (int64_t[]){5, 512}, 2, arena, &ids_only), LAVR_E_ARG);
    CHECK_FAILS(lavr_cond_encode_text(model, "bad \xff byte", arena, &ids_only), LAVR_E_ARG);

    /* image: the size rule's size, motion latent 0 = reference latent (both a first chunk of the same frame) */
    const char *image = tmp_path("cond_image.png");
    write_test_image(image);
    int64_t eh, ew;
    CHECK_OK(lavr_size_less_than_area(120, 200, 128 * 128, 64, &eh, &ew, NULL));
    CHECK_OK(lavr_cond_encode_image(model, image, "128*128", arena, &c));
    CHECK(c.height == eh && c.width == ew && eh % 64 == 0 && ew % 64 == 0);
    CHECK(c.ref.ndim == 4 && c.ref.shape[0] == 16 && c.ref.shape[1] == 1 && c.ref.shape[2] == eh / 8 &&
          c.ref.shape[3] == ew / 8);
    CHECK(c.motion.ndim == 4 && c.motion.shape[0] == 16 && c.motion.shape[1] == 19 && c.motion.shape[2] == eh / 8);
    if (c.ref.ndim == 4 && c.motion.ndim == 4) {
        int64_t plane = c.ref.shape[2] * c.ref.shape[3], diff = 0;
        const float *r = c.ref.data, *m = c.motion.data;
        for (int64_t ch = 0; ch < 16; ch++)
            diff += memcmp(r + ch * plane, m + ch * 19 * plane, (size_t)plane * sizeof(float)) != 0;
        CHECK_MSG(diff == 0, "motion latent 0 differs from the reference latent in %lld channels", (long long)diff);
        double energy = 0;
        for (int64_t i = 0; i < lavr_tensor_numel(&c.motion); i++) energy += (double)m[i] * m[i];
        CHECK(isfinite(energy) && energy > 0);
    }
    CHECK_OK(lavr_sha256_file_hex(image, sha));
    CHECK(strcmp(c.image_sha, sha) == 0);
    CHECK_FAILS(lavr_cond_encode_image(model, image, "128-128", arena, &ids_only), LAVR_E_ARG);
    CHECK_FAILS(lavr_cond_encode_image(model, tmp_path("missing.png"), "128*128", arena, &ids_only), LAVR_E_IO);
    CHECK(strstr(lavr_error_message(), "missing.png") != NULL);

    /* audio: 1 s at 16 kHz -> 49 frames at 50 Hz -> int(49/50*30) = 29 at 30 Hz -> int(29/57.6)+1 = 1 clip;
     * video frame k reads 30 Hz frame round(1.2 k): k <= 23 is inside (27.6 -> 28), k = 24 gives 28.8 -> 29,
     * past the end, so frames 24..47 are zero */
    const char *wav = tmp_path("cond_speech.wav");
    float wave[16000];
    for (int i = 0; i < 16000; i++) wave[i] = 0.3f * sinf(2.0f * 3.14159265f * 220.0f * (float)i / 16000.0f * (1.0f + (float)i / 16000.0f));
    CHECK_OK(lavr_wav_write(wav, wave, 16000, 16000));
    CHECK_OK(lavr_cond_encode_audio(model, wav, arena, &c));
    CHECK(c.clips == 1 && c.audio.ndim == 3 && c.audio.shape[0] == 48 && c.audio.shape[1] == 5 && c.audio.shape[2] == 64);
    CHECK(all_bf16(&c.audio));
    if (c.audio.ndim == 3) {
        const int64_t row = 5 * 64;
        int zero_ok = 1, live_ok = 1;
        for (int64_t k = 0; k < 48; k++) {
            double sum = 0;
            for (int64_t i = 0; i < row; i++) sum += fabs(((float *)c.audio.data)[k * row + i]);
            if (k >= 24 && sum != 0) zero_ok = 0;
            if (k < 24 && !(sum > 0)) live_ok = 0;
        }
        CHECK(zero_ok && live_ok);
    }
    CHECK_OK(lavr_sha256_file_hex(wav, sha));
    CHECK(strcmp(c.audio_sha, sha) == 0);
    CHECK_FAILS(lavr_cond_encode_audio(model, tmp_path("missing.wav"), arena, &ids_only), LAVR_E_IO);
    CHECK(strstr(lavr_error_message(), "missing.wav") != NULL);

    /* file form: parts saved one at a time are kept; everything loads back exactly */
    const char *path = tmp_path("cond_roundtrip.h5");
    remove(path);
    lavr_conditioning part;
    memset(&part, 0, sizeof part);
    part.context = c.context;
    memcpy(part.prompt_sha, c.prompt_sha, sizeof sha);
    CHECK_OK(lavr_cond_save(path, &part));
    memset(&part, 0, sizeof part);
    part.ref = c.ref, part.motion = c.motion, part.height = c.height, part.width = c.width;
    memcpy(part.image_sha, c.image_sha, sizeof sha);
    CHECK_OK(lavr_cond_save(path, &part));
    memset(&part, 0, sizeof part);
    part.audio = c.audio, part.clips = c.clips;
    memcpy(part.audio_sha, c.audio_sha, sizeof sha);
    CHECK_OK(lavr_cond_save(path, &part));
    CHECK_OK(lavr_cond_load(path, arena, &loaded));
    CHECK(same_floats(&loaded.context, &c.context) && same_floats(&loaded.ref, &c.ref) &&
          same_floats(&loaded.motion, &c.motion) && same_floats(&loaded.audio, &c.audio));
    CHECK(loaded.clips == 1 && loaded.height == c.height && loaded.width == c.width);
    CHECK(!strcmp(loaded.image_sha, c.image_sha) && !strcmp(loaded.audio_sha, c.audio_sha) &&
          !strcmp(loaded.prompt_sha, c.prompt_sha));
    /* replacing one part leaves the others */
    memset(&part, 0, sizeof part);
    part.context = ids_only.context;
    lavr_sha256_hex("other", 5, part.prompt_sha);
    CHECK_OK(lavr_cond_save(path, &part));
    lavr_cond_free(&loaded);
    CHECK_OK(lavr_cond_load(path, arena, &loaded));
    CHECK(same_floats(&loaded.audio, &c.audio) && same_floats(&loaded.ref, &c.ref) &&
          strcmp(loaded.prompt_sha, part.prompt_sha) == 0 && strcmp(loaded.image_sha, c.image_sha) == 0);
    lavr_cond_free(&loaded);

    /* the audio encoded straight into a file: the same bits as in memory, read back by ranges; 12 s of
     * speech-like sweep give 599 frames at 50 Hz (3 row tiles, 7 clips) */
    char long_wav[4300], streamed[4300]; /* (tmp_path's ring of names would wrap onto model_path) */
    snprintf(long_wav, sizeof long_wav, "%s/cond_speech12.wav", tmp_dir);
    snprintf(streamed, sizeof streamed, "%s/cond_streamed.h5", tmp_dir);
    enum { LONG_N = 12 * 16000 };
    float *long_wave = malloc(LONG_N * sizeof(float));
    for (int i = 0; i < LONG_N; i++) long_wave[i] = 0.2f * sinf(0.0007f * (float)i * (1.0f + 1e-5f * (float)i)) + 0.01f;
    CHECK_OK(lavr_wav_write(long_wav, long_wave, LONG_N, 16000));
    free(long_wave);
    lavr_conditioning in_memory = {0}, on_file = {0};
    CHECK_OK(lavr_cond_encode_audio(model, long_wav, arena, &in_memory));
    remove(streamed);
    CHECK_OK(lavr_cond_encode_audio_file(model, long_wav, streamed, tmp_dir, &on_file));
    CHECK(on_file.audio.data == NULL && on_file.clips == in_memory.clips && in_memory.clips == 7 &&
          on_file.audio_frames == 7 * 48 && strcmp(on_file.audio_sha, in_memory.audio_sha) == 0);
    lavr_cond_audio *reader = NULL;
    CHECK_OK(lavr_cond_audio_open(streamed, &reader));
    if (reader && in_memory.audio.ndim == 3) {
        int64_t shape[3];
        lavr_cond_audio_shape(reader, shape);
        CHECK(shape[0] == 7 * 48 && shape[1] == 5 && shape[2] == 64);
        const int64_t row = 5 * 64;
        float *back = malloc((size_t)(7 * 48 * row) * sizeof(float));
        for (int64_t clip = 0; clip < 7; clip++) CHECK_OK(lavr_cond_audio_read(reader, clip * 48, 48, back + clip * 48 * row));
        CHECK(memcmp(back, in_memory.audio.data, (size_t)(7 * 48 * row) * sizeof(float)) == 0);
        CHECK_OK(lavr_cond_audio_read(reader, 100, 7, back));
        CHECK(memcmp(back, (float *)in_memory.audio.data + 100 * row, (size_t)(7 * row) * sizeof(float)) == 0);
        CHECK_FAILS(lavr_cond_audio_read(reader, 7 * 48 - 3, 4, back), LAVR_E_ARG);
        free(back);
    }
    lavr_cond_audio_close(reader);
    /* saving another part keeps the audio (copied inside HDF5); loading without audio leaves it there */
    memset(&part, 0, sizeof part);
    part.context = c.context;
    memcpy(part.prompt_sha, c.prompt_sha, sizeof sha);
    CHECK_OK(lavr_cond_save(streamed, &part));
    CHECK_OK(lavr_cond_load_except_audio(streamed, arena, &loaded));
    CHECK(loaded.audio.data == NULL && loaded.audio_frames == 7 * 48 && loaded.clips == 7 &&
          same_floats(&loaded.context, &c.context) && strcmp(loaded.audio_sha, in_memory.audio_sha) == 0);
    lavr_cond_free(&loaded);
    CHECK_OK(lavr_cond_load(streamed, arena, &loaded));
    CHECK(same_floats(&loaded.audio, &in_memory.audio));
    lavr_cond_free(&loaded);
    /* encoding audio into a file that has every part replaces the audio and keeps the rest */
    CHECK_OK(lavr_cond_encode_audio_file(model, long_wav, path, NULL, &on_file));
    CHECK_OK(lavr_cond_load(path, arena, &loaded));
    CHECK(same_floats(&loaded.audio, &in_memory.audio) && same_floats(&loaded.ref, &c.ref) && loaded.clips == 7 &&
          strcmp(loaded.prompt_sha, part.prompt_sha) != 0 && strcmp(loaded.audio_sha, in_memory.audio_sha) == 0);
    lavr_cond_free(&loaded);
    lavr_cond_free(&in_memory);
    snprintf(long_wav, sizeof long_wav, "%s/missing.wav", tmp_dir);
    CHECK_FAILS(lavr_cond_encode_audio_file(model, long_wav, streamed, NULL, &on_file), LAVR_E_IO);
    CHECK_FAILS(lavr_cond_audio_open(model_path, &reader), LAVR_E_FORMAT);

    /* a file that is not a conditioning file is neither loaded nor overwritten */
    CHECK_FAILS(lavr_cond_save(model_path, &part), LAVR_E_FORMAT);
    CHECK_FAILS(lavr_cond_load(model_path, arena, &loaded), LAVR_E_FORMAT);
    CHECK(strstr(lavr_error_message(), "'lavr-model', not 'lavr-conditioning'") != NULL);
    CHECK_FAILS(lavr_cond_load(tmp_path("missing_cond.h5"), arena, &loaded), LAVR_E_IO);

    lavr_cond_free(&c);
    lavr_cond_free(&ids_only);
    lavr_h5_close(model);
    lavr_arena_destroy(arena);
}
#endif

int main(void) {
    const char *tmp = getenv("LAVR_TEST_TMP");
    snprintf(tmp_dir, sizeof tmp_dir, "%s", tmp ? tmp : "/tmp");
    const char *model_path = tmp_path("cond_tiny.h5");
    lavr_model_config cfg;
    CHECK_OK(tiny_model_write(model_path, 5, 0, 1, &cfg));
    test_tokenizer_in_model(model_path);
#if LAVR_HAVE_FFMPEG && LAVR_HAVE_SNDFILE
    test_encoders(model_path);
#else
    printf("encoders skipped: this build has no FFmpeg or libsndfile\n");
#endif
    return check_summary("test_conditioning");
}
