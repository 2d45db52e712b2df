/* The conditioning of one render, computed once (on the aux role) from the user's inputs: the VAE
 * reference and motion latents of the portrait, the umT5 context of the prompt and the bucketed
 * wav2vec2 features of the speech (liveavatar-system §1.2-1.4), and its HDF5 file form. */
#ifndef LAVR_MODELS_CONDITIONING_H
#define LAVR_MODELS_CONDITIONING_H

#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "core/tensor.h"
#include "io/h5model.h"
#include "kernels/ctx.h"

typedef struct {
    lavr_tensor context; /* F32 [rows, text_dim] (bf16 values), rows = real tokens incl. EOS */
    lavr_tensor ref;     /* F32 [z_dim, 1, h, w]: VAE encode of the single preprocessed frame */
    lavr_tensor motion;  /* F32 [z_dim, 19, h, w]: VAE encode of the frame repeated 73 times */
    lavr_tensor audio;   /* F32 [frames, states, audio_dim] (bf16 values): 48 * clips video frames */
    int64_t clips;       /* clips the audio gives (liveavatar-system §1.3 step 5) */
    int64_t audio_frames; /* frames of the file's /audio (lavr_cond_load*, lavr_cond_encode_audio_file), 0: none */
    int64_t height, width; /* generated pixel size (size rule) */
    char image_sha[65], audio_sha[65], prompt_sha[65]; /* SHA-256 hex of the input bytes / prompt text */
    int64_t prompt_dropped; /* tokens lavr_cond_encode_text cut to fit the text length (not stored) */
} lavr_conditioning;

/* Each part from the model file (groups /vae, /t5 + /tokenizer, /wav2vec2) and the inputs. size is
 * the user's "W*H" area string. Tensors come from arena; c starts zeroed (or loaded) and a part it
 * already holds is freed and replaced. Errors name the input file. */
lavr_status lavr_cond_encode_image(lavr_h5file *model, const char *image_path, const char *size, lavr_arena *arena,
                                   lavr_conditioning *c);
/* The same with the VAE on an execution context (NULL: the CPU). */
lavr_status lavr_cond_encode_image_on(lavr_h5file *model, const char *image_path, const char *size, lavr_ctx *ctx,
                                      lavr_arena *arena, lavr_conditioning *c);
/* The prompt through the model's tokenizer, cut as the original cuts it: to the text length (the DiT's
 * text_len, at most 512, lavr_cond_text_len) with the EOS kept last; c->prompt_dropped says how many
 * tokens were cut (the caller warns; lavr render does it before any weight loads). */
lavr_status lavr_cond_encode_text(lavr_h5file *model, const char *prompt, lavr_arena *arena, lavr_conditioning *c);
/* The same with umT5 on a CUDA device (cuda NULL: the CPU): a context of its own whose arena holds exactly what the
 * model and this prompt need (lavr_t5_device_bytes; cuda->mem_cap is ignored), destroyed with the model once the
 * context rows are on the host. */
lavr_status lavr_cond_encode_text_on(lavr_h5file *model, const char *prompt, const lavr_ctx_cuda_options *cuda,
                                     lavr_arena *arena, lavr_conditioning *c);
/* The ids alone (ids has room for LAVR_TEXT_LEN), *dropped the tokens cut; reads no weights. */
lavr_status lavr_cond_prompt_ids(lavr_h5file *model, const char *prompt, int64_t *ids, int64_t *n, int64_t *dropped);
/* Ids per prompt, EOS included: min(LAVR_TEXT_LEN, the /dit config's text_len); LAVR_TEXT_LEN without /dit. */
lavr_status lavr_cond_text_len(lavr_h5file *model, int64_t *text_len);
/* Before a render loads weights: the prompt's token count against the model file's text length (*kept ids
 * are used, *dropped cut); a file without a tokenizer gives *kept = *dropped = 0 (the encoder reports it). */
lavr_status lavr_cond_prompt_check(const char *model_path, const char *prompt, int64_t *kept, int64_t *dropped);
lavr_status lavr_cond_encode_audio(lavr_h5file *model, const char *audio_path, lavr_arena *arena,
                                   lavr_conditioning *c);
/* The same with wav2vec2 on an execution context (NULL: the CPU in fp32; CUDA runs it in bf16). */
lavr_status lavr_cond_encode_audio_on(lavr_h5file *model, const char *audio_path, lavr_ctx *ctx, lavr_arena *arena,
                                      lavr_conditioning *c);
/* The audio part in constant memory, for any length: the speech is encoded straight into the
 * conditioning file at path (created, or rewritten keeping its other parts; beside it, then
 * renamed), each clip of each wav2vec2 state written as it is computed, through scratch files in
 * scratch_dir (NULL: $TMPDIR or /tmp). Sets c->clips, c->audio_frames and c->audio_sha; c->audio
 * stays empty: read it back with lavr_cond_audio_*. Bit for bit what lavr_cond_encode_audio gives. */
lavr_status lavr_cond_encode_audio_file(lavr_h5file *model, const char *audio_path, const char *path,
                                        const char *scratch_dir, lavr_conditioning *c);
/* The same with wav2vec2 on an execution context (NULL: the CPU). */
lavr_status lavr_cond_encode_audio_file_on(lavr_h5file *model, const char *audio_path, const char *path,
                                           const char *scratch_dir, lavr_ctx *ctx, lavr_conditioning *c);
/* The text part from token ids given directly (1..512 ids below the T5 vocabulary, EOS included if
 * wanted); prompt_sha is the SHA-256 of the canonical text "ids:1,2,3". */
lavr_status lavr_cond_encode_ids(lavr_h5file *model, const int64_t *ids, int64_t n, lavr_arena *arena,
                                 lavr_conditioning *c);
/* Frees the tensors that are set (the struct may be zeroed or filled by the calls above). */
void lavr_cond_free(lavr_conditioning *c);

/* File form: datasets /context, /ref_latent, /motion_latents, /audio (any subset present), root
 * attributes format="lavr-conditioning", clips, height, width and the hashes. save writes only the
 * parts that are set (data != NULL) and keeps the others already in the file (with their attributes;
 * the audio is copied inside HDF5, never loaded); an existing file that is not a conditioning file
 * is refused. context and audio are stored as bf16 bits (their values are bf16), the latents as
 * float32; load gives float32. /audio is chunked one clip of one state at a time when encoded to
 * the file. load_except_audio leaves /audio in the file (c->audio_frames says how long it is). */
lavr_status lavr_cond_save(const char *path, const lavr_conditioning *c);
lavr_status lavr_cond_load(const char *path, lavr_arena *arena, lavr_conditioning *c);
lavr_status lavr_cond_load_except_audio(const char *path, lavr_arena *arena, lavr_conditioning *c);

/* The /audio of a conditioning file read back a range of frames at a time (one clip as blocks are
 * fed): out [frames, states, dim] float32 of the stored bf16 values. */
typedef struct lavr_cond_audio lavr_cond_audio;
lavr_status lavr_cond_audio_open(const char *path, lavr_cond_audio **out);
void lavr_cond_audio_shape(const lavr_cond_audio *a, int64_t shape[3]);
lavr_status lavr_cond_audio_read(lavr_cond_audio *a, int64_t first, int64_t frames, float *out);
void lavr_cond_audio_close(lavr_cond_audio *a);

#endif
