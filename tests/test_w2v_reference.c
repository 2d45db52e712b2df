/* wav2vec2 on an input long enough to cross every tile boundary (conv stack, positional conv, row
 * tiles) against a naive whole-sequence double-precision implementation, with the golden weights. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "io/h5model.h"
#include "models/audio_features.h"
#include "models/wav2vec2.h"
#include "tests/check.h"

#define TOL 1e-4

static lavr_h5file *file;
static lavr_arena *arena;

/* A weight as float32 (the arena keeps it until the end). */
static const float *weight(const char *fmt, ...) {
    char name[256], path[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    snprintf(path, sizeof path, "weights/wav2vec2.%s", name);
    lavr_tensor t = {0};
    CHECK_OK(lavr_h5_read_f32(file, path, arena, &t));
    return t.data;
}

static double gelu(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }

/* rows of x [rows, cols] normalised in place */
static void layernorm(double *x, int64_t rows, int64_t cols, const float *g, const float *b, double eps) {
    for (int64_t r = 0; r < rows; r++) {
        double *v = x + r * cols, mean = 0.0, var = 0.0;
        for (int64_t c = 0; c < cols; c++) mean += v[c];
        mean /= (double)cols;
        for (int64_t c = 0; c < cols; c++) var += (v[c] - mean) * (v[c] - mean);
        var /= (double)cols;
        for (int64_t c = 0; c < cols; c++) v[c] = (v[c] - mean) / sqrt(var + eps) * g[c] + b[c];
    }
}

/* y [rows, n] = x [rows, k] W^T + b */
static void linear(const double *x, int64_t rows, int64_t k, const float *w, const float *b, int64_t n, double *y) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < n; o++) {
            double acc = b[o];
            for (int64_t i = 0; i < k; i++) acc += x[r * k + i] * w[o * k + i];
            y[r * n + o] = acc;
        }
}

/* All hidden states [L+1, T, hidden] of the whole sequence at once, straight from the HF definitions. */
static double *reference(const lavr_w2v_config *c, const float *input, int64_t n, int64_t *frames) {
    /* conv stack on [channels, time] */
    int64_t cin = 1, len = n;
    double *cur = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++) cur[i] = input[i];
    for (int l = 0; l < c->n_conv; l++) {
        const int64_t cout = c->conv_dim[l], k = c->conv_kernel[l], s = c->conv_stride[l], tout = (len - k) / s + 1;
        const float *w = weight("feature_extractor.conv_layers.%d.conv.weight", l);
        const float *b = weight("feature_extractor.conv_layers.%d.conv.bias", l);
        const float *g = weight("feature_extractor.conv_layers.%d.layer_norm.weight", l);
        const float *beta = weight("feature_extractor.conv_layers.%d.layer_norm.bias", l);
        double *rows = malloc((size_t)(tout * cout) * sizeof(double)); /* [time, channels] */
        for (int64_t t = 0; t < tout; t++)
            for (int64_t o = 0; o < cout; o++) {
                double acc = b[o];
                for (int64_t i = 0; i < cin; i++)
                    for (int64_t j = 0; j < k; j++) acc += w[(o * cin + i) * k + j] * cur[i * len + t * s + j];
                rows[t * cout + o] = acc;
            }
        layernorm(rows, tout, cout, g, beta, 1e-5);
        free(cur);
        cur = malloc((size_t)(tout * cout) * sizeof(double));
        for (int64_t t = 0; t < tout; t++)
            for (int64_t o = 0; o < cout; o++) cur[o * tout + t] = gelu(rows[t * cout + o]);
        free(rows);
        cin = cout;
        len = tout;
    }
    const int64_t T = len, H = c->hidden, L = c->num_layers, F = c->intermediate;
    *frames = T;
    double *feat = malloc((size_t)(T * cin) * sizeof(double));
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < cin; i++) feat[t * cin + i] = cur[i * T + t];
    free(cur);
    layernorm(feat, T, cin, weight("feature_projection.layer_norm.weight"), weight("feature_projection.layer_norm.bias"), c->eps);
    double *states = malloc((size_t)((L + 1) * T * H) * sizeof(double));
    double *h = states; /* state 0 */
    linear(feat, T, cin, weight("feature_projection.projection.weight"), weight("feature_projection.projection.bias"), H, h);
    free(feat);

    /* positional conv: weight norm over dims (0, 1) per tap, pad K/2, keep the first T outputs */
    const int64_t K = c->pos_conv_kernel, G = c->pos_conv_groups, cg = H / G, pad = K / 2;
    const float *g = weight("encoder.pos_conv_embed.conv.parametrizations.weight.original0");
    const float *v = weight("encoder.pos_conv_embed.conv.parametrizations.weight.original1");
    const float *pb = weight("encoder.pos_conv_embed.conv.bias");
    double *wpos = malloc((size_t)(H * cg * K) * sizeof(double));
    for (int64_t j = 0; j < K; j++) {
        double ss = 0.0;
        for (int64_t r = 0; r < H * cg; r++) ss += (double)v[r * K + j] * v[r * K + j];
        for (int64_t r = 0; r < H * cg; r++) wpos[r * K + j] = g[j] * v[r * K + j] / sqrt(ss);
    }
    double *pos = malloc((size_t)(T * H) * sizeof(double));
    for (int64_t t = 0; t < T; t++)
        for (int64_t o = 0; o < H; o++) {
            const int64_t grp = o / cg;
            double acc = pb[o];
            for (int64_t i = 0; i < cg; i++)
                for (int64_t j = 0; j < K; j++) {
                    const int64_t src = t - pad + j;
                    if (src >= 0 && src < T) acc += wpos[(o * cg + i) * K + j] * h[src * H + grp * cg + i];
                }
            pos[t * H + o] = gelu(acc);
        }
    for (int64_t i = 0; i < T * H; i++) h[i] += pos[i];
    free(pos);
    free(wpos);

    const int64_t NH = c->num_heads, D = H / NH;
    double *x = malloc((size_t)(T * H) * sizeof(double)), *q = malloc((size_t)(T * H) * sizeof(double));
    double *kk = malloc((size_t)(T * H) * sizeof(double)), *vv = malloc((size_t)(T * H) * sizeof(double));
    double *att = malloc((size_t)(T * H) * sizeof(double)), *ffn = malloc((size_t)(T * F) * sizeof(double));
    double *p = malloc((size_t)T * sizeof(double));
    for (int64_t l = 0; l < L; l++) {
        double *next = states + (l + 1) * T * H;
        memcpy(next, states + l * T * H, (size_t)(T * H) * sizeof(double));
        memcpy(x, next, (size_t)(T * H) * sizeof(double));
        layernorm(x, T, H, weight("encoder.layers.%lld.layer_norm.weight", (long long)l),
                  weight("encoder.layers.%lld.layer_norm.bias", (long long)l), c->eps);
#define PROJ(name, out) \
    linear(x, T, H, weight("encoder.layers.%lld.attention." name ".weight", (long long)l), \
           weight("encoder.layers.%lld.attention." name ".bias", (long long)l), H, out)
        PROJ("q_proj", q);
        PROJ("k_proj", kk);
        PROJ("v_proj", vv);
        for (int64_t hd = 0; hd < NH; hd++)
            for (int64_t i = 0; i < T; i++) {
                double mx = -INFINITY, sum = 0.0;
                for (int64_t j = 0; j < T; j++) {
                    double s = 0.0;
                    for (int64_t d = 0; d < D; d++) s += q[i * H + hd * D + d] * kk[j * H + hd * D + d];
                    p[j] = s / sqrt((double)D);
                    mx = fmax(mx, p[j]);
                }
                for (int64_t j = 0; j < T; j++) sum += p[j] = exp(p[j] - mx);
                for (int64_t d = 0; d < D; d++) {
                    double acc = 0.0;
                    for (int64_t j = 0; j < T; j++) acc += p[j] * vv[j * H + hd * D + d];
                    att[i * H + hd * D + d] = acc / sum;
                }
            }
#undef PROJ
        linear(att, T, H, weight("encoder.layers.%lld.attention.out_proj.weight", (long long)l),
               weight("encoder.layers.%lld.attention.out_proj.bias", (long long)l), H, q);
        for (int64_t i = 0; i < T * H; i++) next[i] += q[i];
        memcpy(x, next, (size_t)(T * H) * sizeof(double));
        layernorm(x, T, H, weight("encoder.layers.%lld.final_layer_norm.weight", (long long)l),
                  weight("encoder.layers.%lld.final_layer_norm.bias", (long long)l), c->eps);
        linear(x, T, H, weight("encoder.layers.%lld.feed_forward.intermediate_dense.weight", (long long)l),
               weight("encoder.layers.%lld.feed_forward.intermediate_dense.bias", (long long)l), F, ffn);
        for (int64_t i = 0; i < T * F; i++) ffn[i] = gelu(ffn[i]);
        linear(ffn, T, F, weight("encoder.layers.%lld.feed_forward.output_dense.weight", (long long)l),
               weight("encoder.layers.%lld.feed_forward.output_dense.bias", (long long)l), H, q);
        for (int64_t i = 0; i < T * H; i++) next[i] += q[i];
    }
    layernorm(states + L * T * H, T, H, weight("encoder.layer_norm.weight"), weight("encoder.layer_norm.bias"), c->eps);
    free(x);
    free(q);
    free(kk);
    free(vv);
    free(att);
    free(ffn);
    free(p);
    return states;
}

int main(void) {
    const char *dir = getenv("LAVR_GOLDEN_DIR");
    if (!dir) {
        fprintf(stderr, "LAVR_GOLDEN_DIR is not set\n");
        return 1;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/w2v.h5", dir);
    CHECK_OK(lavr_h5_open(path, &file));
    if (!file) return check_summary("test_w2v_reference");
    lavr_arena *work = NULL;
    CHECK_OK(lavr_arena_create("weights", 0, &arena));
    CHECK_OK(lavr_arena_create("work", 0, &work));
    char *text = NULL;
    lavr_json *json = NULL;
    lavr_w2v_config cfg;
    CHECK_OK(lavr_h5_read_attr_string(file, "/", "config", &text));
    CHECK_OK(lavr_json_parse(text, &json));
    CHECK_OK(lavr_w2v_config_from_json(json, &cfg));

    /* 700 frames: three conv tiles and three row tiles of 256, the last one partial */
    const int64_t n = 700 * 320 + 137;
    float *wave = malloc((size_t)n * sizeof(float));
    uint64_t state = 12345;
    for (int64_t i = 0; i < n; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        const double noise = (double)(state >> 11) / 9007199254740992.0 - 0.5;
        wave[i] = (float)(0.3 * sin(0.002 * (double)i) * sin(0.05 * (double)i) + 0.1 * noise);
    }
    CHECK_OK(lavr_audio_normalize(wave, n, wave));

    int64_t T = 0;
    double *ref = reference(&cfg, wave, n, &T);
    CHECK(T == lavr_w2v_num_frames(&cfg, n));
    printf("%lld samples -> %lld frames\n", (long long)n, (long long)T);

    lavr_w2v *model = NULL;
    CHECK_OK(lavr_w2v_create(file, "weights", &cfg, &model));
    const int64_t per_state = T * cfg.hidden, total = (cfg.num_layers + 1) * per_state;
    float *out = malloc((size_t)total * sizeof(float));
    for (int64_t i = 0; i < total; i++) out[i] = NAN;
    if (model) CHECK_OK(lavr_w2v_forward(model, wave, n, work, out));
    for (int64_t s = 0; s <= cfg.num_layers; s++) {
        double num = 0.0, den = 0.0;
        for (int64_t i = 0; i < per_state; i++) {
            const double r = ref[s * per_state + i], d = out[s * per_state + i] - r;
            num += d * d;
            den += r * r;
        }
        const double e = sqrt(num / den);
        printf("  state %lld rel L2 vs double reference %.3e (limit %.0e)\n", (long long)s, e, TOL);
        CHECK_MSG(e <= TOL, "state %lld: %.3e", (long long)s, e);
    }
    CHECK(lavr_arena_used(work) == 0);
    printf("  peak scratch %.1f MiB for %lld frames\n", (double)lavr_arena_peak(work) / 1048576.0, (long long)T);

    lavr_w2v_destroy(model);
    free(out);
    free(ref);
    free(wave);
    lavr_json_free(json);
    free(text);
    lavr_arena_destroy(work);
    lavr_arena_destroy(arena);
    lavr_h5_close(file);
    return check_summary("test_w2v_reference");
}
