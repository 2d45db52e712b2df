/* FramePack motion tokens (model-spec §1.6): the 19 motion latents split into buckets 16/2/1
 * (oldest to newest), each compressed by its own kernel = stride Conv3d, and the sink's RoPE positions. */
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "models/dit_internal.h"
#include "models/rope.h"

/* zip_frame_buckets [1,2,16]: newest latent, the two before it, the 16 oldest */
void dit_framepack_buckets(const lavr_dit_geometry *g, dit_fp_bucket b[3]) {
    b[0] = (dit_fp_bucket){18, 1, 1, 2, 2, g->n_post};
    b[1] = (dit_fp_bucket){16, 2, 2, 4, 4, g->n_2x};
    b[2] = (dit_fp_bucket){0, 16, 4, 8, 8, g->n_4x};
}

/* the buckets' RoPE groups, in the same order */
static void groups_of(const lavr_dit_geometry *g, lavr_rope_group r[3]) {
    r[0] = (lavr_rope_group){{-1, 0, 0}, {0, g->hp, g->wp}, {1, g->hp, g->wp}};
    r[1] = (lavr_rope_group){{-3, 0, 0}, {-2, g->h / 4, g->w / 4}, {2, g->hp, g->wp}};
    r[2] = (lavr_rope_group){{-19, 0, 0}, {-15, g->h / 8, g->w / 8}, {16, g->hp, g->wp}};
}

/* frames [first, first+n) of x [C, T, h, w] as a contiguous [C, n, h, w] */
static void take_frames(const float *x, int64_t C, int64_t T, int64_t hw, int64_t first, int64_t n, float *out) {
    for (int64_t c = 0; c < C; c++) memcpy(out + c * n * hw, x + (c * T + first) * hw, (size_t)(n * hw) * sizeof(float));
}

lavr_status dit_framepack(const lavr_dit *m, const lavr_dit_geometry *g, const float *motion, float *tokens) {
    const int64_t C = m->cfg.in_dim, d = m->cfg.dim, hw = g->h * g->w, T = LAVR_DIT_MOTION_LATENTS;
    const lavr_dit_linear *proj[3] = {&m->fp_proj, &m->fp_proj2, &m->fp_proj4};
    dit_fp_bucket b[3];
    dit_framepack_buckets(g, b);
    float *frames;
    TRY(dit_alloc(C * 16 * hw, "motion frames", &frames));
    lavr_status st = LAVR_OK;
    int64_t off = 0;
    for (int k = 0; k < 3 && !st; k++) {
        const lavr_tensor *W = &proj[k]->w;
        if (W->ndim != 5 || W->shape[2] != b[k].kt || W->shape[3] != b[k].kh || W->shape[4] != b[k].kw) {
            st = LAVR_FAIL(LAVR_E_FORMAT, "framepack: bucket %d's Conv3d kernel is not %lldx%lldx%lld", k,
                           (long long)b[k].kt, (long long)b[k].kh, (long long)b[k].kw);
            break;
        }
        take_frames(motion, C, T, hw, b[k].first, b[k].n, frames);
        int64_t n = 0;
        st = dit_patchify(proj[k], frames, C, b[k].n, g->h, g->w, tokens + off * d, &n);
        if (!st && n != b[k].count)
            st = LAVR_FAIL(LAVR_E_INTERNAL, "framepack: bucket %d gave %lld tokens, expected %lld", k, (long long)n,
                           (long long)b[k].count);
        off += n;
    }
    free(frames);
    TRY(st);
    /* type embedding 2 (motion), added in bf16 */
    for (int64_t t = 0; t < off; t++)
        for (int64_t i = 0; i < d; i++)
            tokens[t * d + i] =
                lavr_round_bf16(tokens[t * d + i] + (float)lavr_dtype_load(m->cond_mask.dtype, m->cond_mask.data, 2 * d + i));
    return LAVR_OK;
}

lavr_status dit_sink_positions(const lavr_dit_geometry *g, int64_t *pos) {
    lavr_rope_group ref = {{30, 0, 0}, {31, g->hp, g->wp}, {1, g->hp, g->wp}};
    lavr_rope_group_positions(&ref, pos);
    dit_fp_bucket b[3];
    lavr_rope_group r[3];
    dit_framepack_buckets(g, b);
    groups_of(g, r);
    int64_t off = g->P;
    for (int k = 0; k < 3; k++) {
        if (lavr_rope_group_tokens(&r[k]) != b[k].count)
            return LAVR_FAIL(LAVR_E_INTERNAL, "framepack: bucket %d positions do not match its %lld tokens", k,
                             (long long)b[k].count);
        lavr_rope_group_positions(&r[k], pos + off * 3);
        off += b[k].count;
    }
    return LAVR_OK;
}
