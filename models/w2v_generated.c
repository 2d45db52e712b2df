/* wav2vec2 with generated weights (lavr_w2v_create_generated): Linears from lavr_ctx_linear_weights_random (variance
 * 1/in, made on the device, no bias), convolutions uniform with variance 1/fan-in and small biases, LayerNorm gains
 * near 1 and small shifts, all from lavr_row_random_u24 so both devices see the same values. */
#include <math.h>
#include <stdlib.h>

#include "models/w2v_internal.h"

/* Streams of the generator: one per tensor. */
static uint64_t stream_seed(uint64_t seed, int64_t layer, int64_t tensor) {
    return seed * 0x100000001B3ull + (uint64_t)(layer + 1) * 1000u + (uint64_t)tensor;
}

static float uniform(uint64_t seed, int64_t i) {
    return 2.0f * ((float)lavr_row_random_u24(seed, (uint64_t)i) * 0x1p-24f) - 1.0f; /* [-1, 1) */
}

/* A host F32 tensor of `shape` with values offset + scale * U[-1, 1). */
static lavr_status host_random(lavr_w2v *m, int ndim, const int64_t *shape, uint64_t seed, float offset, float scale,
                               lavr_tensor *out) {
    TRY(lavr_tensor_alloc(lavr_ctx_host_arena(m->ctx), LAVR_F32, ndim, shape, "generated wav2vec2 weights", out));
    float *p = out->data;
    const int64_t n = lavr_tensor_numel(out);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) p[i] = offset + scale * uniform(seed, i);
    return LAVR_OK;
}

static lavr_status norm_pair(lavr_w2v *m, int64_t n, uint64_t seed, lavr_tensor *gain, lavr_tensor *shift) {
    lavr_tensor g, b;
    TRY(host_random(m, 1, &n, seed, 1.0f, 0.2f, &g));
    TRY(lavr_w2v_take_vector(m, g, gain));
    TRY(host_random(m, 1, &n, seed + 1, 0.0f, 0.1f, &b));
    return lavr_w2v_take_vector(m, b, shift);
}

/* A convolution [cout, cin/groups, k] with variance 1/fan-in and a bias (when the config has them). */
static lavr_status conv(lavr_w2v *m, int64_t cout, int64_t cg, int64_t k, int64_t groups, int bias, uint64_t seed,
                        lavr_wop_conv *out) {
    lavr_tensor w, b = {0};
    TRY(host_random(m, 3, (int64_t[]){cout, cg, k}, seed, 0.0f, sqrtf(3.0f / (float)(cg * k)), &w));
    if (bias) TRY(host_random(m, 1, &cout, seed + 1, 0.0f, 0.1f, &b));
    return lavr_w2v_take_conv(m, w, b, groups, out);
}

static lavr_status generate(lavr_w2v *m, uint64_t seed) {
    const lavr_w2v_config *c = &m->cfg;
    const int64_t hid = c->hidden, ffn = c->intermediate;
    for (int i = 0; i < c->n_conv; i++) {
        const int64_t cin = i ? c->conv_dim[i - 1] : 1;
        TRY(conv(m, c->conv_dim[i], cin, c->conv_kernel[i], 1, c->conv_bias, stream_seed(seed, -1, 10 * i), &m->conv[i].conv));
        TRY(norm_pair(m, c->conv_dim[i], stream_seed(seed, -1, 10 * i + 2), &m->conv[i].ln_w, &m->conv[i].ln_b));
    }
    const int64_t cdim = c->conv_dim[c->n_conv - 1];
    TRY(norm_pair(m, cdim, stream_seed(seed, -1, 100), &m->proj_ln_w, &m->proj_ln_b));
    TRY(lavr_ctx_linear_weights_random(m->ctx, hid, cdim, stream_seed(seed, -1, 102), &m->proj));
    TRY(conv(m, hid, hid / c->pos_conv_groups, c->pos_conv_kernel, c->pos_conv_groups, 1, stream_seed(seed, -1, 104),
             &m->pos));
    for (int64_t l = 0; l < c->num_layers; l++) {
        encoder_layer *ly = &m->layers[l];
        struct {
            lavr_linear_weights *w;
            int64_t out, in;
        } lin[6] = {{&ly->q, hid, hid}, {&ly->k, hid, hid}, {&ly->v, hid, hid}, {&ly->o, hid, hid},
                    {&ly->fc1, ffn, hid}, {&ly->fc2, hid, ffn}};
        for (int i = 0; i < 6; i++)
            TRY(lavr_ctx_linear_weights_random(m->ctx, lin[i].out, lin[i].in, stream_seed(seed, l, i), lin[i].w));
        TRY(norm_pair(m, hid, stream_seed(seed, l, 10), &ly->ln_w, &ly->ln_b));
        TRY(norm_pair(m, hid, stream_seed(seed, l, 12), &ly->ffn_ln_w, &ly->ffn_ln_b));
    }
    return norm_pair(m, hid, stream_seed(seed, -1, 200), &m->final_ln_w, &m->final_ln_b);
}

lavr_status lavr_w2v_create_generated(const lavr_w2v_config *cfg, uint64_t seed, const lavr_w2v_options *o,
                                      lavr_w2v **out) {
    CHECK_ARG(cfg && out, "lavr_w2v_create_generated: config and out are required");
    *out = NULL;
    lavr_w2v *m = calloc(1, sizeof *m);
    if (!m) return LAVR_FAIL(LAVR_E_NOMEM, "out of host memory for the wav2vec2 model");
    lavr_status st = lavr_w2v_init(m, cfg, o);
    if (!st) st = generate(m, seed);
    if (st) {
        lavr_w2v_destroy(m);
        return st;
    }
    *out = m;
    return LAVR_OK;
}
