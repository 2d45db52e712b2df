/* The wav2vec2 model's fields (models/wav2vec2.h), shared by the loader and forward (models/wav2vec2.c) and the
 * generated full-size weights of benchmarks and tests (models/w2v_generated.c). */
#ifndef LAVR_MODELS_W2V_INTERNAL_H
#define LAVR_MODELS_W2V_INTERNAL_H

#include "kernels/row_ops.h"
#include "kernels/w2v_ops.h"
#include "models/wav2vec2.h"

/* Wav2Vec2LayerNormConvLayer builds nn.LayerNorm with its default eps, not config.layer_norm_eps. */
#define LAVR_W2V_CONV_LN_EPS 1e-5f

typedef struct {
    lavr_wop_conv conv;
    lavr_tensor ln_w, ln_b;
} conv_layer;

typedef struct {
    lavr_tensor ln_w, ln_b, ffn_ln_w, ffn_ln_b;
    lavr_linear_weights q, k, v, o, fc1, fc2;
} encoder_layer;

struct lavr_w2v {
    lavr_w2v_config cfg;
    lavr_w2v_options opts;
    lavr_arena *weights; /* the CPU context's arena */
    lavr_ctx *ctx;       /* opts.ctx, or the model's own CPU context */
    int owns_ctx, round;
    conv_layer conv[8];
    lavr_tensor proj_ln_w, proj_ln_b;
    lavr_linear_weights proj;
    lavr_wop_conv pos; /* weight norm fused at load */
    encoder_layer *layers;
    lavr_tensor final_ln_w, final_ln_b;
    lavr_w2v_last_state last_state;
    char description[256], last_run[256];
};

/* The context, precision and description of a model about to receive its weights (opts NULL: CPU fp32). */
lavr_status lavr_w2v_init(lavr_w2v *m, const lavr_w2v_config *cfg, const lavr_w2v_options *opts);

/* Host tensors prepared for the model's context, which takes them: a 1-D convolution (b may be empty) and a
 * LayerNorm vector (fp32 on the context; bf16 values when the model rounds). */
lavr_status lavr_w2v_take_conv(lavr_w2v *m, lavr_tensor w, lavr_tensor b, int64_t groups, lavr_wop_conv *out);
lavr_status lavr_w2v_take_vector(lavr_w2v *m, lavr_tensor v, lavr_tensor *out);

#endif
