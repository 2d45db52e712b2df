/* Dispatch of a recognised golden file to its network's run (models/<net>_golden.c). */
#include "models/golden.h"

lavr_status lavr_golden_run(lavr_golden *g) {
    switch (g->kind) {
    case LAVR_GOLDEN_DIT: return lavr_golden_run_dit(g);
    case LAVR_GOLDEN_VAE: return lavr_golden_run_vae(g);
    case LAVR_GOLDEN_T5: return lavr_golden_run_t5(g);
    case LAVR_GOLDEN_W2V: return lavr_golden_run_w2v(g);
    }
    return LAVR_FAIL(LAVR_E_INTERNAL, "unknown golden kind %d", (int)g->kind);
}

lavr_status lavr_golden_run_on(lavr_golden *g, lavr_ctx *ctx) {
    if (g->kind == LAVR_GOLDEN_VAE) return lavr_golden_run_vae_on(g, ctx);
    if (g->kind == LAVR_GOLDEN_T5) return lavr_golden_run_t5_on(g, ctx);
    if (g->kind == LAVR_GOLDEN_W2V) return lavr_golden_run_w2v_on(g, ctx);
    if (!ctx || lavr_ctx_device(ctx) == LAVR_DEVICE_CPU) return lavr_golden_run(g);
    return LAVR_FAIL(LAVR_E_UNSUPPORTED, "the %s golden has no run on %s yet (the VAE's, T5's and wav2vec2's have; use "
                     "--backend cpu for this file)", lavr_golden_kind_name(g->kind), lavr_ctx_describe(ctx));
}
