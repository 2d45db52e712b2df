/* CPU reference of lavr_op_attention: flash-style attention with an online softmax over key tiles
 * read in place from F32/BF16 segments; scores, softmax and outputs in fp32, OpenMP over (head, query block).
 * The same loop folds keys given in several calls into a caller-held state (lavr_op_attention_fold);
 * lavr_op_attention_eager is umT5's, with PyTorch's eager bf16 rounding points on whole score rows. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "kernels/cpu/helpers.h"
#include "kernels/ops.h"

enum {
    QUERY_BLOCK = 32,               /* query rows sharing one widened key/value tile */
    KEY_TILE = LAVR_ATTENTION_KEY_TILE, /* keys widened and scored together */
};

/* Per-thread scratch: the widened K/V tile, the score tile, and the running softmax state. */
typedef struct {
    float *keys, *values; /* [KEY_TILE, D] */
    float *scores;        /* [QUERY_BLOCK, KEY_TILE] */
    float *acc;           /* [QUERY_BLOCK, D] un-normalised output */
    float *row_max, *row_sum;
} attention_scratch;

static size_t scratch_floats(int64_t D) {
    return (size_t)(2 * KEY_TILE * D + QUERY_BLOCK * KEY_TILE + QUERY_BLOCK * D + 2 * QUERY_BLOCK);
}

static attention_scratch scratch_at(float *base, int64_t D) {
    attention_scratch s;
    s.keys = base;
    s.values = s.keys + KEY_TILE * D;
    s.scores = s.values + KEY_TILE * D;
    s.acc = s.scores + QUERY_BLOCK * KEY_TILE;
    s.row_max = s.acc + QUERY_BLOCK * D;
    s.row_sum = s.row_max + QUERY_BLOCK;
    return s;
}

/* Widens rows [k0, k0+kn) of head h of one segment's K or V into tile [kn, D]. */
static void load_tile(const lavr_kv_segment *seg, const void *base, int64_t k0, int64_t kn, int64_t h, int64_t D,
                      float *tile) {
    for (int64_t j = 0; j < kn; j++)
        widen_f32(seg->dtype, base, (k0 + j) * seg->row_stride + h * D, D, NULL, tile + j * D);
}

/* scores[i][j] = scale * q_i · k_j + bias for the query rows [q0, q0+qn) of head h and the tile's
 * kn keys, four by four so that query and key loads are shared. */
static void score_tile(const attention_scratch *s, const float *q, int64_t q_row_stride, int64_t q0, int64_t qn,
                       int64_t h, int64_t D, int64_t kn, float scale, const float *bias_rows, int64_t lk_total) {
    const float *qh = q + q0 * q_row_stride + h * D;
    int64_t i = 0;
    for (; i + 4 <= qn; i += 4) {
        int64_t j = 0;
        for (; j + 4 <= kn; j += 4) {
            float dots[4][4];
            dot_4x4(qh + i * q_row_stride, q_row_stride, s->keys + j * D, D, D, dots);
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 4; c++) s->scores[(i + r) * KEY_TILE + j + c] = dots[r][c];
        }
        for (; j < kn; j++)
            for (int r = 0; r < 4; r++)
                s->scores[(i + r) * KEY_TILE + j] = dot_1x1(qh + (i + r) * q_row_stride, s->keys + j * D, D);
    }
    for (; i < qn; i++)
        for (int64_t j = 0; j < kn; j++) s->scores[i * KEY_TILE + j] = dot_1x1(qh + i * q_row_stride, s->keys + j * D, D);
    for (i = 0; i < qn; i++) {
        float *si = s->scores + i * KEY_TILE;
        for (int64_t j = 0; j < kn; j++) si[j] = scale * si[j] + (bias_rows ? bias_rows[i * lk_total + j] : 0.0f);
    }
}

/* Folds one scored key tile into the running state of the qn query rows. Rows whose scores are all
 * -inf so far keep max = -inf and contribute nothing (no exp(-inf - -inf) = NaN). */
static void fold_tile(const attention_scratch *s, int64_t qn, int64_t D, int64_t kn) {
    for (int64_t i = 0; i < qn; i++) {
        const float *si = s->scores + i * KEY_TILE;
        float tile_max = -INFINITY;
        for (int64_t j = 0; j < kn; j++) tile_max = si[j] > tile_max ? si[j] : tile_max;
        const float old_max = s->row_max[i], new_max = tile_max > old_max ? tile_max : old_max;
        if (new_max == -INFINITY) continue;
        float *acc = s->acc + i * D;
        if (new_max != old_max) {
            const float correction = expf(old_max - new_max); /* 0 when old_max is -inf */
            s->row_sum[i] *= correction;
            for (int64_t d = 0; d < D; d++) acc[d] *= correction;
            s->row_max[i] = new_max;
        }
        float sum = 0;
        for (int64_t j = 0; j < kn; j++) {
            const float p = expf(si[j] - new_max);
            if (p == 0.0f) continue; /* masked key */
            const float *vj = s->values + j * D;
            sum += p;
#pragma omp simd
            for (int64_t d = 0; d < D; d++) acc[d] += p * vj[d];
        }
        s->row_sum[i] += sum;
    }
}

static lavr_status check_segments(const lavr_kv_segment *segments, int nsegments, int64_t H, int64_t D,
                                  int64_t *lk_total) {
    CHECK_ARG(segments && nsegments >= 1, "attention: no key/value segments");
    int64_t total = 0;
    for (int i = 0; i < nsegments; i++) {
        const lavr_kv_segment *g = &segments[i];
        CHECK_ARG(g->dtype == LAVR_F32 || g->dtype == LAVR_BF16, "attention: segment %d dtype %s (f32 or bf16 only)",
                  i, lavr_dtype_name(g->dtype));
        CHECK_ARG(g->len >= 0, "attention: segment %d has length %lld", i, (long long)g->len);
        if (g->len == 0) continue;
        CHECK_ARG(g->k && g->v, "attention: segment %d has no key or value data", i);
        CHECK_ARG(g->row_stride >= H * D, "attention: segment %d row stride %lld < H*D = %lld", i,
                  (long long)g->row_stride, (long long)(H * D));
        total += g->len;
    }
    CHECK_ARG(total > 0, "attention: all %d key/value segments are empty", nsegments);
    *lk_total = total;
    return LAVR_OK;
}

static void reset_rows(const attention_scratch *s, int64_t qn, int64_t D) {
    for (int64_t i = 0; i < qn; i++) {
        s->row_max[i] = -INFINITY;
        s->row_sum[i] = 0;
        for (int64_t d = 0; d < D; d++) s->acc[i * D + d] = 0;
    }
}

/* Folds every key of the segments into the running state of query rows [q0, q0+qn) of head h. */
static void fold_segments(const attention_scratch *s, const float *q, int64_t q_row_stride, int64_t q0, int64_t qn,
                          int64_t h, int64_t D, int64_t Lq, const lavr_kv_segment *segments, int nsegments,
                          float scale, const float *bias, int64_t lk_total) {
    int64_t key_base = 0; /* index of the segment's first key in the concatenated keys */
    for (int g = 0; g < nsegments; g++) {
        const lavr_kv_segment *seg = &segments[g];
        for (int64_t k0 = 0; k0 < seg->len; k0 += KEY_TILE) {
            const int64_t kn = seg->len - k0 < KEY_TILE ? seg->len - k0 : KEY_TILE;
            load_tile(seg, seg->k, k0, kn, h, D, s->keys);
            load_tile(seg, seg->v, k0, kn, h, D, s->values);
            const float *bias_rows = bias ? bias + (h * Lq + q0) * lk_total + key_base + k0 : NULL;
            score_tile(s, q, q_row_stride, q0, qn, h, D, kn, scale, bias_rows, lk_total);
            fold_tile(s, qn, D, kn);
        }
        key_base += seg->len;
    }
}

/* rows that saw only -inf scores output 0 (PyTorch's softmax would give NaN) */
static void finish_rows(const float *acc, const float *row_sum, int64_t qn, int64_t H, int64_t D, float *out) {
    for (int64_t i = 0; i < qn; i++) {
        const float inv = row_sum[i] > 0 ? 1.0f / row_sum[i] : 0.0f;
        float *o = out + i * H * D;
        for (int64_t d = 0; d < D; d++) o[d] = acc[i * D + d] * inv;
    }
}

static lavr_status check_query(const float *q, int64_t Lq, int64_t H, int64_t D, int64_t q_row_stride) {
    CHECK_ARG(q && Lq >= 0 && H > 0 && D > 0, "attention: bad arguments (Lq=%lld, H=%lld, D=%lld)", (long long)Lq,
              (long long)H, (long long)D);
    CHECK_ARG(q_row_stride >= H * D, "attention: query row stride %lld < H*D = %lld", (long long)q_row_stride,
              (long long)(H * D));
    return LAVR_OK;
}

lavr_status lavr_op_attention(const float *q, int64_t Lq, int64_t H, int64_t D, int64_t q_row_stride,
                              const lavr_kv_segment *segments, int nsegments, float scale, const float *bias,
                              float *out) {
    CHECK_ARG(out, "attention: no output");
    TRY(check_query(q, Lq, H, D, q_row_stride));
    int64_t lk_total;
    TRY(check_segments(segments, nsegments, H, D, &lk_total));
    if (Lq == 0) return LAVR_OK;

    const int nthreads = omp_get_max_threads();
    float *scratch = malloc((size_t)nthreads * scratch_floats(D) * sizeof(float));
    if (!scratch) return LAVR_FAIL(LAVR_E_NOMEM, "attention: scratch for %d threads, D=%lld", nthreads, (long long)D);
    const int64_t nblocks = (Lq + QUERY_BLOCK - 1) / QUERY_BLOCK;

#pragma omp parallel
    {
        const attention_scratch s = scratch_at(scratch + (size_t)omp_get_thread_num() * scratch_floats(D), D);
#pragma omp for collapse(2) schedule(dynamic)
        for (int64_t h = 0; h < H; h++) {
            for (int64_t blk = 0; blk < nblocks; blk++) {
                const int64_t q0 = blk * QUERY_BLOCK, qn = Lq - q0 < QUERY_BLOCK ? Lq - q0 : QUERY_BLOCK;
                reset_rows(&s, qn, D);
                fold_segments(&s, q, q_row_stride, q0, qn, h, D, Lq, segments, nsegments, scale, bias, lk_total);
                finish_rows(s.acc, s.row_sum, qn, H, D, out + (q0 * H + h) * D);
            }
        }
    }
    free(scratch);
    return LAVR_OK;
}

/* ---- PyTorch's eager bf16 attention (umT5) ------------------------------------------------------- */

/* One (head, query) row: the whole score row in `s` [Lk], then p and out = sum p v. */
static void eager_row(const float *qi, const float *k, const float *v, int64_t Lk, int64_t HD, int64_t D,
                      const float *bias_row, float *s, float *o) {
    float max = -INFINITY;
    for (int64_t j = 0; j < Lk; j++) {
        /* the einsum's bf16 output, then the bf16 sum with the bias (the padding mask is bf16's lowest) */
        const float score = lavr_round_bf16(dot_1x1(qi, k + j * HD, D));
        s[j] = bias_row ? lavr_round_bf16(score + bias_row[j]) : score;
        max = s[j] > max ? s[j] : max;
    }
    for (int64_t d = 0; d < D; d++) o[d] = 0.0f;
    if (max == -INFINITY) return; /* no key: zeros, as lavr_op_attention */
    float sum = 0.0f;
    for (int64_t j = 0; j < Lk; j++) sum += s[j] = expf(s[j] - max);
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < Lk; j++) {
        const float p = lavr_round_bf16(s[j] * inv);
        if (p == 0.0f) continue;
        const float *vj = v + j * HD;
#pragma omp simd
        for (int64_t d = 0; d < D; d++) o[d] += p * vj[d];
    }
}

lavr_status lavr_op_attention_eager(const float *q, int64_t Lq, int64_t H, int64_t D, const float *k, const float *v,
                                    int64_t Lk, const float *bias, float *out) {
    CHECK_ARG(q && k && v && out && Lq >= 0 && Lk > 0 && H > 0 && D > 0,
              "eager attention: bad arguments (Lq=%lld, Lk=%lld, H=%lld, D=%lld)", (long long)Lq, (long long)Lk,
              (long long)H, (long long)D);
    const int nthreads = omp_get_max_threads();
    float *scores = malloc((size_t)nthreads * (size_t)Lk * sizeof(float));
    if (!scores) return LAVR_FAIL(LAVR_E_NOMEM, "eager attention: score rows of %lld keys", (long long)Lk);
    const int64_t HD = H * D;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < Lq; i++)
            eager_row(q + i * HD + h * D, k + h * D, v + h * D, Lk, HD, D, bias ? bias + (h * Lq + i) * Lk : NULL,
                      scores + (size_t)omp_get_thread_num() * (size_t)Lk, out + i * HD + h * D);
    free(scores);
    return LAVR_OK;
}

/* ---- keys in several calls ------------------------------------------------------------------------ */

lavr_status lavr_attention_state_create(int64_t Lq, int64_t H, int64_t D, lavr_attention_state **out) {
    CHECK_ARG(out && Lq >= 0 && H > 0 && D > 0, "attention state: bad arguments (Lq=%lld, H=%lld, D=%lld)",
              (long long)Lq, (long long)H, (long long)D);
    *out = NULL;
    lavr_attention_state *st = calloc(1, sizeof *st);
    size_t rows = (size_t)(H * (Lq > 0 ? Lq : 1));
    if (st) {
        st->acc = malloc(rows * (size_t)D * sizeof(float));
        st->row_max = malloc(rows * sizeof(float));
        st->row_sum = malloc(rows * sizeof(float));
    }
    if (!st || !st->acc || !st->row_max || !st->row_sum) {
        lavr_attention_state_destroy(st);
        return LAVR_FAIL(LAVR_E_NOMEM, "attention state for %lld queries x %lld heads of %lld", (long long)Lq,
                         (long long)H, (long long)D);
    }
    st->Lq = Lq, st->H = H, st->D = D;
    lavr_attention_state_reset(st, Lq);
    *out = st;
    return LAVR_OK;
}

void lavr_attention_state_destroy(lavr_attention_state *st) {
    if (!st) return;
    free(st->acc);
    free(st->row_max);
    free(st->row_sum);
    free(st);
}

/* The rows of (head h, query block at q0) inside the state, as the kernel's scratch sees them. */
static attention_scratch state_rows(const lavr_attention_state *st, float *tiles, int64_t h, int64_t q0) {
    const int64_t D = st->D, row = h * st->Lq + q0;
    attention_scratch s = scratch_at(tiles, D);
    s.acc = st->acc + row * D;
    s.row_max = st->row_max + row;
    s.row_sum = st->row_sum + row;
    return s;
}

void lavr_attention_state_reset(lavr_attention_state *st, int64_t rows) {
    st->rows = rows < st->Lq ? rows : st->Lq;
    for (int64_t h = 0; h < st->H; h++) {
        const attention_scratch s = {.acc = st->acc + h * st->Lq * st->D, .row_max = st->row_max + h * st->Lq,
                                     .row_sum = st->row_sum + h * st->Lq};
        reset_rows(&s, st->rows, st->D);
    }
}

lavr_status lavr_op_attention_fold(const float *q, int64_t q_row_stride, const lavr_kv_segment *segments,
                                   int nsegments, float scale, lavr_attention_state *st) {
    CHECK_ARG(st, "attention fold: no state");
    const int64_t Lq = st->rows, H = st->H, D = st->D;
    TRY(check_query(q, Lq, H, D, q_row_stride));
    int64_t lk_total;
    TRY(check_segments(segments, nsegments, H, D, &lk_total));
    if (Lq == 0) return LAVR_OK;
    const int nthreads = omp_get_max_threads();
    float *tiles = malloc((size_t)nthreads * scratch_floats(D) * sizeof(float));
    if (!tiles) return LAVR_FAIL(LAVR_E_NOMEM, "attention: scratch for %d threads, D=%lld", nthreads, (long long)D);
    const int64_t nblocks = (Lq + QUERY_BLOCK - 1) / QUERY_BLOCK;
#pragma omp parallel
    {
        float *mine = tiles + (size_t)omp_get_thread_num() * scratch_floats(D);
#pragma omp for collapse(2) schedule(dynamic)
        for (int64_t h = 0; h < H; h++) {
            for (int64_t blk = 0; blk < nblocks; blk++) {
                const int64_t q0 = blk * QUERY_BLOCK, qn = Lq - q0 < QUERY_BLOCK ? Lq - q0 : QUERY_BLOCK;
                const attention_scratch s = state_rows(st, mine, h, q0);
                fold_segments(&s, q, q_row_stride, q0, qn, h, D, Lq, segments, nsegments, scale, NULL, lk_total);
            }
        }
    }
    free(tiles);
    return LAVR_OK;
}

void lavr_op_attention_finish(const lavr_attention_state *st, float *out) {
    const int64_t H = st->H, D = st->D;
#pragma omp parallel for schedule(static)
    for (int64_t h = 0; h < H; h++)
        finish_rows(st->acc + h * st->Lq * D, st->row_sum + h * st->Lq, st->rows, H, D, out + h * D);
}
