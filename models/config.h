/* Configuration of the whole LiveAvatar model set (DiT with audio encoder/injector and FramePack,
 * umT5 encoder, Wan2.1 VAE, wav2vec2), the presets `tiny` and `s2v-14b`, JSON (official key names,
 * as in the golden files' `config` attributes) and the tensor inventory each config implies. */
#ifndef LAVR_MODELS_CONFIG_H
#define LAVR_MODELS_CONFIG_H

#include <stdint.h>

#include "core/dtype.h"
#include "core/json.h"
#include "core/status.h"

#define LAVR_MAX_INJECT 64

typedef struct {
    int64_t dim, ffn_dim, num_heads, num_layers;
    int64_t in_dim, out_dim, freq_dim;
    int64_t text_dim, text_len;
    int64_t cond_dim, audio_dim, num_audio_token;
    int64_t audio_num_states;            /* wav2vec2 hidden states mixed by the audio encoder (25) */
    int64_t patch[3];                    /* (1, 2, 2) */
    double eps;                          /* 1e-6 */
    int64_t inject_layers[LAVR_MAX_INJECT];
    int n_inject;
    int64_t motion_frames;               /* 73 video frames -> (73+3)/4 = 19 latent frames */
    int64_t frames_per_block;            /* 3 latent frames per LiveAvatar block */
} lavr_dit_config;

typedef struct {
    int64_t vocab, dim, dim_attn, dim_ffn, num_heads, num_layers, num_buckets, max_distance;
    double eps;
} lavr_t5_config;

typedef struct {
    int64_t dim, z_dim, dim_mult[4], num_res_blocks;
    int temporal_downsample[3];
} lavr_vae_config;

typedef struct {
    int64_t hidden, num_layers, num_heads, intermediate;
    int n_conv;
    int64_t conv_dim[8], conv_kernel[8], conv_stride[8];
    int64_t pos_conv_kernel, pos_conv_groups;
    double eps;
    int stable_layer_norm, conv_bias;
    /* Optional tensors of the HF state dict, added at the end: the CTC head lm_head [vocab_size,
     * hidden] (0 = none; lavr never uses it) and masked_spec_embed [hidden] (present when HF's
     * mask_time_prob or mask_feature_prob > 0, as in the real checkpoint; unused at inference). */
    int64_t vocab_size;
    int masked_spec_embed;
} lavr_w2v_config;

typedef struct {
    char preset[32];
    lavr_dit_config dit;
    lavr_t5_config t5;
    lavr_vae_config vae;
    lavr_w2v_config w2v;
} lavr_model_config;

/* "tiny" or "s2v-14b"; an unknown name is an error listing the presets. */
lavr_status lavr_config_preset(const char *name, lavr_model_config *out);
/* Cross-component consistency (DiT text_dim = T5 dim, audio_dim = wav2vec2 hidden, audio states
 * = wav2vec2 layers + 1, in_dim = VAE z_dim, head dim even and a multiple of 6 pairs...). */
lavr_status lavr_config_validate(const lavr_model_config *cfg);

/* From the official constructor-argument JSON (golden files, lavr checkpoints). Keys lavr adds
 * (e.g. "audio_num_states") are optional with the official defaults. */
lavr_status lavr_dit_config_from_json(const lavr_json *j, lavr_dit_config *out);
lavr_status lavr_t5_config_from_json(const lavr_json *j, lavr_t5_config *out);
lavr_status lavr_vae_config_from_json(const lavr_json *j, lavr_vae_config *out);
lavr_status lavr_w2v_config_from_json(const lavr_json *j, lavr_w2v_config *out); /* HF Wav2Vec2Config */
/* malloc'd JSON text with the official key names (caller frees). */
char *lavr_dit_config_to_json(const lavr_dit_config *c);
char *lavr_t5_config_to_json(const lavr_t5_config *c);
char *lavr_vae_config_to_json(const lavr_vae_config *c);
char *lavr_w2v_config_to_json(const lavr_w2v_config *c);

/* One tensor of a component's state dict: official name, shape and the dtype it is stored in. */
typedef struct {
    char name[160];
    int ndim;
    int64_t shape[5];
    lavr_dtype dtype;
} lavr_tensor_spec;
typedef lavr_status (*lavr_inventory_fn)(const lavr_tensor_spec *spec, void *user);

/* Every tensor of the component's official state dict, in a fixed order. */
lavr_status lavr_dit_inventory(const lavr_dit_config *c, lavr_inventory_fn fn, void *user);
lavr_status lavr_t5_inventory(const lavr_t5_config *c, lavr_inventory_fn fn, void *user);
lavr_status lavr_vae_inventory(const lavr_vae_config *c, lavr_inventory_fn fn, void *user);
lavr_status lavr_w2v_inventory(const lavr_w2v_config *c, lavr_inventory_fn fn, void *user);

#endif
