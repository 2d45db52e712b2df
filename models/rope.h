/* 3-D rotary position embedding of the DiT (model-spec §1.4): per-token (frame, row, col) positions
 * for the token groups (noisy, reference, FramePack motion) and the rotation LiveAvatar applies. */
#ifndef LAVR_MODELS_ROPE_H
#define LAVR_MODELS_ROPE_H

#include <stdint.h>

#include "core/status.h"

/* A token group as rope_precompute sees it: start (f0,h0,w0), end (f1,h1,w1) and the range
 * (tf,th,tw) the positions are spread over; it holds (f1-f0)*(h1-h0)*(w1-w0) tokens (f,h,w)
 * row-major. */
typedef struct {
    int64_t start[3], end[3], range[3];
} lavr_rope_group;

/* numpy linspace(a, b, n)[k] truncated toward zero (n == 1 gives a). */
int64_t lavr_rope_linspace_trunc(double a, double b, int64_t n, int64_t k);
/* Number of tokens of a group. */
int64_t lavr_rope_group_tokens(const lavr_rope_group *g);
/* Writes the group's positions as pos[i*3 + {0,1,2}] = (frame, row, col); negative frames stay
 * negative (they are applied as the conjugate of row |frame|). */
void lavr_rope_group_positions(const lavr_rope_group *g, int64_t *pos);

/* Pairs per head on each axis for head dim D: time D/2 - 2*(D/2/3), rows and cols (D/2)/3 each
 * (22/21/21 for D = 128). */
void lavr_rope_axis_pairs(int64_t head_dim, int64_t pairs[3]);

/* The rotation factor of pair j (0..D/2-1) at a position, as LiveAvatar stores it: angle
 * p * 10000^(-2i/dim_axis) in double, cos and sin rounded to fp16. */
void lavr_rope_factor(int64_t head_dim, int64_t j, const int64_t pos[3], double *cos_out, double *sin_out);

/* Rotates x [L, H, D] (row_stride elements between tokens) in place: adjacent pairs
 * (x[2j], x[2j+1]) times the fp16 factor in double precision, result rounded to fp32 then bf16.
 * pos is [L, 3]. */
lavr_status lavr_rope_apply(float *x, int64_t L, int64_t H, int64_t D, int64_t row_stride, const int64_t *pos);

#endif
