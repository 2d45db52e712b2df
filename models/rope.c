/* 3-D RoPE of the DiT: linspace-and-truncate positions per token group and LiveAvatar's rotation
 * with fp16-rounded cos/sin applied in double. Positions are computed, never looked up in a table. */
#include "models/rope.h"

#include <math.h>

#include "core/dtype.h"

int64_t lavr_rope_linspace_trunc(double a, double b, int64_t n, int64_t k) {
    if (n <= 1) return (int64_t)a;
    if (k == n - 1) return (int64_t)b; /* numpy forces the endpoint */
    double step = (b - a) / (double)(n - 1);
    return (int64_t)((double)k * step + a);
}

int64_t lavr_rope_group_tokens(const lavr_rope_group *g) {
    return (g->end[0] - g->start[0]) * (g->end[1] - g->start[1]) * (g->end[2] - g->start[2]);
}

void lavr_rope_group_positions(const lavr_rope_group *g, int64_t *pos) {
    int64_t nf = g->end[0] - g->start[0], nh = g->end[1] - g->start[1], nw = g->end[2] - g->start[2];
    int64_t f0 = g->start[0], h0 = g->start[1], w0 = g->start[2];
    int64_t i = 0;
    for (int64_t a = 0; a < nf; a++) {
        /* negative start: positions of the mirrored (positive) range, negated (conjugate rows) */
        int64_t pf = f0 >= 0 ? lavr_rope_linspace_trunc((double)f0, (double)(f0 + g->range[0] - 1), nf, a)
                             : -lavr_rope_linspace_trunc((double)-f0, (double)(-f0 - g->range[0] + 1), nf, a);
        for (int64_t b = 0; b < nh; b++) {
            int64_t ph = lavr_rope_linspace_trunc((double)h0, (double)(h0 + g->range[1] - 1), nh, b);
            for (int64_t c = 0; c < nw; c++) {
                int64_t pw = lavr_rope_linspace_trunc((double)w0, (double)(w0 + g->range[2] - 1), nw, c);
                pos[i * 3 + 0] = pf;
                pos[i * 3 + 1] = ph;
                pos[i * 3 + 2] = pw;
                i++;
            }
        }
    }
}

void lavr_rope_axis_pairs(int64_t head_dim, int64_t pairs[3]) {
    int64_t c = head_dim / 2;
    pairs[0] = c - 2 * (c / 3);
    pairs[1] = c / 3;
    pairs[2] = c / 3;
}

void lavr_rope_factor(int64_t head_dim, int64_t j, const int64_t pos[3], double *cos_out, double *sin_out) {
    int64_t pairs[3];
    lavr_rope_axis_pairs(head_dim, pairs);
    int axis = j < pairs[0] ? 0 : (j < pairs[0] + pairs[1] ? 1 : 2);
    int64_t i = axis == 0 ? j : (axis == 1 ? j - pairs[0] : j - pairs[0] - pairs[1]);
    int64_t dim_axis = 2 * pairs[axis];
    int64_t p = pos[axis];
    int64_t ap = p < 0 ? -p : p;
    double inv = 1.0 / pow(10000.0, (double)(2 * i) / (double)dim_axis);
    double ang = (double)ap * inv;
    /* LiveAvatar keeps the table rows as complex32: fp16 cos and sin */
    double c = lavr_f16_to_f32(lavr_f32_to_f16((float)cos(ang)));
    double s = lavr_f16_to_f32(lavr_f32_to_f16((float)sin(ang)));
    *cos_out = c;
    *sin_out = p < 0 ? -s : s; /* negative time positions use the conjugate row */
}

lavr_status lavr_rope_apply(float *x, int64_t L, int64_t H, int64_t D, int64_t row_stride, const int64_t *pos) {
    CHECK_ARG(D % 2 == 0 && D >= 6 && D <= 1024, "rope: head dim %lld must be even, in [6, 1024]", (long long)D);
    int64_t half = D / 2;
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < L; t++) {
        double cs[512], sn[512];
        for (int64_t j = 0; j < half; j++) lavr_rope_factor(D, j, pos + t * 3, &cs[j], &sn[j]);
        for (int64_t h = 0; h < H; h++) {
            float *v = x + t * row_stride + h * D;
            for (int64_t j = 0; j < half; j++) {
                double a = v[2 * j], b = v[2 * j + 1];
                double c = cs[j], s = sn[j];
                v[2 * j] = lavr_round_bf16((float)(a * c - b * s));
                v[2 * j + 1] = lavr_round_bf16((float)(a * s + b * c));
            }
        }
    }
    return LAVR_OK;
}
