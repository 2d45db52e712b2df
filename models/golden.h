/* Runs the whole computation a golden file holds through the models lavr renders with, building
 * each network from the file's `config` and /weights, and records every output in the lavr_golden. */
#ifndef LAVR_MODELS_GOLDEN_H
#define LAVR_MODELS_GOLDEN_H

#include "core/status.h"
#include "io/golden.h"
#include "kernels/ctx.h"
#include "models/wav2vec2.h"

/* T5: outputs/short and outputs/padded from inputs/<name>/{ids,mask}. */
lavr_status lavr_golden_run_t5(lavr_golden *g);
/* The same on an execution context (NULL: the CPU). */
lavr_status lavr_golden_run_t5_on(lavr_golden *g, lavr_ctx *ctx);
/* wav2vec2: hidden states from inputs/normalized, feat30, bucketed from inputs/wave, clip count. */
lavr_status lavr_golden_run_w2v(lavr_golden *g);
/* The same on an execution context (NULL: the CPU), or with the model options o (NULL: CPU fp32); bf16 runs (CUDA,
 * or o->bf16) are held to LAVR_GOLDEN_W2V_BF16_LIMIT. */
lavr_status lavr_golden_run_w2v_on(lavr_golden *g, lavr_ctx *ctx);
lavr_status lavr_golden_run_w2v_with(lavr_golden *g, const lavr_w2v_options *o);
/* VAE: encode, the streaming decode calls of the README (latents 0..3, then 3 at a time), whole decode. */
lavr_status lavr_golden_run_vae(lavr_golden *g);
/* DiT: sampler, sink prefill, every clip/block/step, sink K/V, debug layer states. */
lavr_status lavr_golden_run_dit(lavr_golden *g);
/* The VAE's run on an execution context (NULL: the CPU). */
lavr_status lavr_golden_run_vae_on(lavr_golden *g, lavr_ctx *ctx);
/* The run matching g->kind. An error is a failure to run (bad file, model error), not a failed output. */
lavr_status lavr_golden_run(lavr_golden *g);
/* The same on an execution context (NULL: the CPU): the networks written on the op interfaces (VAE, umT5, wav2vec2) run there;
 * the others are LAVR_E_UNSUPPORTED on a non-CPU context. */
lavr_status lavr_golden_run_on(lavr_golden *g, lavr_ctx *ctx);

#endif
