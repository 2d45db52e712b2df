/* The DiT's causal audio encoder on the device (models/dit_audio_cuda.h): the CPU encoder of models/dit_audio.c
 * step for step, its bf16 layer mix and its fp32 causal convolutions (taps gathered, then cuBLASLt fp32 GEMMs, no
 * TF32) with LayerNorm + SiLU, the four local tokens and the global branch batched as five sequences through the
 * shared conv2/conv3. */
#include "models/dit_audio_cuda.h"

#if LAVR_HAVE_CUDA

#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/dit_audio_kernels.h"
#include "models/dit_dev.h"
#include "models/dit_internal.h"

#define LN_EPS 1e-6f /* the encoder's LayerNorms (no affine) */

typedef struct {
    int64_t used; /* last use, 0 = free */
    float *key;   /* host [S * A][4F]: the frames the tokens were computed from */
} memo_slot;

struct lavr_dit_cuda_audio {
    lavr_dit_dev_audio_dims a;
    lavr_device_arena *arena;
    lavr_cuda_blas *blas;
    void *stream;
    void *buf[LAVR_DA_COUNT]; /* every item of lavr_dit_dev_audio_walk, by id */
    float wsum;
    memo_slot memo[LAVR_DIT_DEV_AUDIO_MEMO];
    int64_t clock, encodes;
};

static lavr_status alloc_item(void *user, const lavr_dit_dev_audio_item *it) {
    lavr_dit_cuda_audio *au = user;
    return lavr_device_arena_alloc(au->arena, (size_t)it->bytes, it->what, &au->buf[it->id]);
}

/* host tensor -> device: fp32, or bf16 (each value must be one) */
static lavr_status put(lavr_dit_cuda_audio *au, const lavr_tensor *t, int64_t n, int bf16, void *dev,
                       const char *what) {
    CHECK_ARG(lavr_tensor_numel(t) == n, "dit audio (cuda): %s has %lld values, expected %lld", what,
              (long long)lavr_tensor_numel(t), (long long)n);
    void *h = malloc((size_t)n * (bf16 ? 2 : 4));
    if (!h) return LAVR_FAIL(LAVR_E_NOMEM, "dit audio (cuda): upload staging of %lld values", (long long)n);
    lavr_status st = LAVR_OK;
    for (int64_t i = 0; i < n && !st; i++) {
        const float v = (float)lavr_dtype_load(t->dtype, t->data, i);
        if (!bf16) {
            ((float *)h)[i] = v;
            continue;
        }
        const uint16_t b = lavr_f32_to_bf16(v);
        if (lavr_bf16_to_f32(b) != v && v == v)
            st = LAVR_FAIL(LAVR_E_FORMAT, "dit audio (cuda): %s value %lld (%g) is not a bf16 value; the device "
                           "encoder keeps its weights in bf16", what, (long long)i, (double)v);
        ((uint16_t *)h)[i] = b;
    }
    cudaError_t ce = cudaSuccess;
    if (!st) ce = cudaMemcpyAsync(dev, h, (size_t)n * (bf16 ? 2 : 4), cudaMemcpyHostToDevice, (cudaStream_t)au->stream);
    if (!st && ce == cudaSuccess) ce = cudaStreamSynchronize((cudaStream_t)au->stream);
    free(h);
    if (!st && ce != cudaSuccess) st = LAVR_FAIL(LAVR_E_CUDA, "dit audio (cuda) upload: %s", cudaGetErrorString(ce));
    return st;
}

static lavr_status upload(lavr_dit_cuda_audio *au, const lavr_dit *m) {
    const lavr_dit_dev_audio_dims *a = &au->a;
    CHECK_ARG(m->audio.conv1_global.w.ndim == 3 && m->audio.conv1_global.w.shape[0] == a->c1 &&
                  m->audio.conv1_local.w.shape[0] == a->NT * a->c1,
              "dit audio (cuda): conv1 widths %lld / %lld, expected %lld / %lld",
              (long long)m->audio.conv1_global.w.shape[0], (long long)m->audio.conv1_local.w.shape[0],
              (long long)a->c1, (long long)(a->NT * a->c1));
    const lavr_dit_linear *lin[5] = {&m->audio.conv1_local, &m->audio.conv1_global, &m->audio.conv2, &m->audio.conv3,
                                     &m->audio.final_linear};
    const int64_t out[5] = {a->NT * a->c1, a->c1, a->c2, a->c3, a->d};
    const int64_t k[5] = {a->A * 3, a->A * 3, a->c1 * 3, a->c2 * 3, a->d};
    static const char *what[5] = {"conv1_local", "conv1_global", "conv2", "conv3", "final_linear"};
    for (int i = 0; i < 5; i++) {
        TRY(put(au, &lin[i]->w, out[i] * k[i], 1, au->buf[LAVR_DA_CONV1_LOCAL_W + 2 * i], what[i]));
        TRY(put(au, &lin[i]->b, out[i], 0, au->buf[LAVR_DA_CONV1_LOCAL_B + 2 * i], what[i]));
    }
    TRY(put(au, &m->audio.padding_tokens, a->d, 0, au->buf[LAVR_DA_PADDING], "padding_tokens"));
    float *w = malloc((size_t)a->S * sizeof *w);
    if (!w) return LAVR_FAIL(LAVR_E_NOMEM, "dit audio (cuda): %lld layer weights", (long long)a->S);
    au->wsum = dit_audio_layer_weights(m, w);
    lavr_tensor t = lavr_tensor_wrap(LAVR_F32, 1, (int64_t[]){a->S}, w);
    lavr_status st = put(au, &t, a->S, 0, au->buf[LAVR_DA_LAYER_W], "layer weights");
    free(w);
    return st;
}

lavr_status lavr_dit_cuda_audio_create(const lavr_dit *m, lavr_device_arena *arena, lavr_cuda_blas *blas, void *stream,
                                       lavr_dit_cuda_audio **out) {
    *out = NULL;
    lavr_dit_cuda_audio *au = calloc(1, sizeof *au);
    if (!au) return LAVR_FAIL(LAVR_E_NOMEM, "dit audio (cuda)");
    au->arena = arena, au->blas = blas, au->stream = stream;
    lavr_status st = lavr_dit_dev_audio_dims_of(&m->cfg, &au->a);
    if (!st) st = lavr_dit_dev_audio_walk(&au->a, alloc_item, au);
    for (int i = 0; i < LAVR_DIT_DEV_AUDIO_MEMO && !st; i++) {
        au->memo[i].key = malloc((size_t)(au->a.S * au->a.A * au->a.frames) * sizeof(float));
        if (!au->memo[i].key) st = LAVR_FAIL(LAVR_E_NOMEM, "dit audio (cuda): memo keys");
    }
    if (!st) st = upload(au, m);
    if (st) {
        lavr_dit_cuda_audio_destroy(au);
        return st;
    }
    *out = au;
    return LAVR_OK;
}

void lavr_dit_cuda_audio_destroy(lavr_dit_cuda_audio *au) {
    if (!au) return;
    for (int i = LAVR_DA_COUNT - 1; i >= 0; i--)
        if (au->buf[i]) (void)lavr_device_arena_free(au->arena, au->buf[i]);
    for (int i = 0; i < LAVR_DIT_DEV_AUDIO_MEMO; i++) free(au->memo[i].key);
    free(au);
}

int64_t lavr_dit_cuda_audio_encodes(const lavr_dit_cuda_audio *au) { return au->encodes; }

/* y [M][N] (rows ldy apart) = x [M][k] . W^T + b with W [N][k] bf16 on the device, widened to fp32 a chunk of
 * rows at a time (fp32 GEMM as the CPU's lavr_op_linear: the bf16 weights are exact in fp32) */
static lavr_status gemm(lavr_dit_cuda_audio *au, const float *x, int64_t M, int64_t k, lavr_dit_dev_audio_id wid,
                        int64_t N, float *y, int64_t ldy) {
    const uint16_t *w = au->buf[wid];
    const float *b = au->buf[wid + 1];
    float *wide = au->buf[LAVR_DA_WIDE];
    const int64_t rows = lavr_dit_dev_audio_chunk_rows(N, k);
    for (int64_t n0 = 0; n0 < N; n0 += rows) {
        const int64_t nc = N - n0 < rows ? N - n0 : rows;
        TRY(lavr_cuda_bf16_to_f32(w + n0 * k, nc * k, wide, au->stream));
        TRY(lavr_cuda_linear_f32(au->blas, x, M, k, wide, nc, b + n0, y + n0, ldy, au->stream));
    }
    return LAVR_OK;
}

/* dit_audio_encode on the frames in LAVR_DA_FRAMES into the tokens [a_loc | a_glob] at out */
static lavr_status encode(lavr_dit_cuda_audio *au, float *out) {
    const lavr_dit_dev_audio_dims *a = &au->a;
    void *s = au->stream;
    float *feat = au->buf[LAVR_DA_FEAT], *taps = au->buf[LAVR_DA_TAPS], *y1 = au->buf[LAVR_DA_Y1];
    float *y2 = au->buf[LAVR_DA_Y2], *y3 = au->buf[LAVR_DA_Y3];
    const int64_t ns = a->nseq, l1 = ns * a->c1; /* y1 [T][ns][c1]: the NT local tokens, then the global branch */
    TRY(lavr_cuda_audio_mix(au->buf[LAVR_DA_FRAMES], a->S, a->A, a->frames, a->prefix, au->buf[LAVR_DA_LAYER_W],
                            au->wsum, feat, s));
    TRY(lavr_cuda_causal_taps(feat, 1, 0, a->A, a->T, a->A, 3, 1, taps, s));
    TRY(gemm(au, taps, a->T, a->A * 3, LAVR_DA_CONV1_LOCAL_W, a->NT * a->c1, y1, l1));
    TRY(gemm(au, taps, a->T, a->A * 3, LAVR_DA_CONV1_GLOBAL_W, a->c1, y1 + a->NT * a->c1, l1));
    TRY(lavr_cuda_layernorm_silu(y1, a->T * ns, a->c1, LN_EPS, s));
    /* conv2 and conv3 are shared by the five sequences: rows sequence-major, y2 [ns][t2][c2], y3 [ns][t4][c3] */
    TRY(lavr_cuda_causal_taps(y1, ns, a->c1, l1, a->T, a->c1, 3, 2, taps, s));
    TRY(gemm(au, taps, ns * a->t2, a->c1 * 3, LAVR_DA_CONV2_W, a->c2, y2, a->c2));
    TRY(lavr_cuda_layernorm_silu(y2, ns * a->t2, a->c2, LN_EPS, s));
    TRY(lavr_cuda_causal_taps(y2, ns, a->t2 * a->c2, a->c2, a->t2, a->c2, 3, 2, taps, s));
    TRY(gemm(au, taps, ns * a->t4, a->c2 * 3, LAVR_DA_CONV3_W, a->c3, y3, a->c3));
    TRY(lavr_cuda_layernorm_silu(y3, ns * a->t4, a->c3, LN_EPS, s));
    float *a_loc = out, *a_glob = out + a->F * (a->NT + 1) * a->d;
    TRY(lavr_cuda_audio_local_tokens(y3, a->NT, a->t4, a->keep, a->F, a->d, au->buf[LAVR_DA_PADDING], a_loc, s));
    TRY(gemm(au, y3 + (a->NT * a->t4 + a->keep) * a->c3, a->F, a->d, LAVR_DA_FINAL_W, a->d, a_glob, a->d));
    return lavr_cuda_round_bf16(a_glob, a->F * a->d, s);
}

lavr_status lavr_dit_cuda_audio_tokens(lavr_dit_cuda_audio *au, const float *frames, float *a_loc, float *a_glob) {
    const lavr_dit_dev_audio_dims *a = &au->a;
    const size_t key_bytes = (size_t)(a->S * a->A * a->frames) * sizeof(float);
    int slot = -1, oldest = 0;
    for (int i = 0; i < LAVR_DIT_DEV_AUDIO_MEMO && slot < 0; i++)
        if (au->memo[i].used && !memcmp(au->memo[i].key, frames, key_bytes)) slot = i;
    float *memo = au->buf[LAVR_DA_MEMO];
    cudaStream_t s = (cudaStream_t)au->stream;
    if (slot < 0) {
        for (int i = 1; i < LAVR_DIT_DEV_AUDIO_MEMO; i++)
            if (au->memo[i].used < au->memo[oldest].used) oldest = i;
        slot = oldest;
        au->memo[slot].used = 0;
        /* the upload completes before return (the caller may reuse frames); the encode stays queued */
        CUDA_TRY(cudaMemcpyAsync(au->buf[LAVR_DA_FRAMES], frames, key_bytes, cudaMemcpyHostToDevice, s));
        CUDA_TRY(cudaStreamSynchronize(s));
        TRY(encode(au, memo + slot * a->tokens));
        memcpy(au->memo[slot].key, frames, key_bytes);
        au->encodes++;
    }
    au->memo[slot].used = ++au->clock;
    const float *tok = memo + slot * a->tokens;
    const size_t loc = (size_t)(a->F * (a->NT + 1) * a->d) * sizeof(float), glob = (size_t)(a->F * a->d) * sizeof(float);
    CUDA_TRY(cudaMemcpyAsync(a_loc, tok, loc, cudaMemcpyDeviceToDevice, s));
    CUDA_TRY(cudaMemcpyAsync(a_glob, (const char *)tok + loc, glob, cudaMemcpyDeviceToDevice, s));
    return LAVR_OK;
}

#endif
