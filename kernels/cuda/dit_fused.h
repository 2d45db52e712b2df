/* The DiT's fused bf16 kernels (kernels/cuda/dit_fused.cu): the residual/gate/LayerNorm/modulation/cast chain
 * in one row kernel, the q/k RMSNorm + RoPE + cast + cache write in one, RoPE factors once per forward, the
 * log-sum-exp merge of two attention calls and the FP8 quantisation of GEMM operands. Each mirrors the CPU
 * DiT's rounding points (models/dit_block.c, dit_numerics.c, rope.c); tests/gpu/test_dit_fused.c checks them
 * against compositions of the plain ops. bf16 tensors are uint16_t bit patterns. */
#ifndef LAVR_KERNELS_CUDA_DIT_FUSED_H
#define LAVR_KERNELS_CUDA_DIT_FUSED_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "core/status.h"

/* One row kernel for every "residual, then norm" point of a layer, per row r and column c:
 *   a   = add_bf16[r,c]                       (a bf16 GEMM output, bias included), or
 *         bf16(add_f32[r,c] + add_bias[c])    (a tp partial sum after its all-reduce; add_bias bf16), or 0
 *   r   = x[r,c] + a * gate[g(r), c]          (fp32; gate 1 when NULL; g(r) = r / gate_group_rows, or 0)
 *   r   = bf16(r) when round_sum; written to r_out (fp32) when given (r_out may alias x)
 *   u   = bf16(r) when round_norm_input, else r
 *   n   = LayerNorm(u) without affine (fp32 two-pass statistics, biased variance, eps)
 *   norm LAVR_RN_MOD:    y = bf16(bf16?(n) * (1 + scale[m(r),c]) + shift[m(r),c])   (bf16? when round_ln)
 *   norm LAVR_RN_AFFINE: y = bf16(n * ln_w[c] + ln_b[c])
 *   norm LAVR_RN_NONE:   no y
 * with m(r) = r / mod_group_rows (0 = one vector for all rows); shift/scale rows mod_stride floats apart. */
typedef enum { LAVR_RN_NONE = 0, LAVR_RN_MOD = 1, LAVR_RN_AFFINE = 2 } lavr_rn_norm;
typedef struct {
    int64_t rows, cols;
    const float *x;
    const uint16_t *add_bf16;
    const float *add_f32;
    const uint16_t *add_bias;
    const float *gate;
    int64_t gate_group_rows, gate_stride;
    int round_sum;
    float *r_out;
    lavr_rn_norm norm;
    int round_norm_input, round_ln;
    float eps;
    const float *shift, *scale;
    int64_t mod_group_rows, mod_stride;
    const float *ln_w, *ln_b;
    uint16_t *y;
    float *y_amax; /* optional: max |y| is folded into *y_amax (atomically; the caller zeroes it first) */
} lavr_resnorm_args;
lavr_status lavr_cuda_resnorm(const lavr_resnorm_args *a, void *stream);

/* out[l, i] = mod[l, i] + e0[i] (fp32): every layer's modulation sum of one forward in one launch. */
lavr_status lavr_cuda_add_broadcast_rows(const float *mod, int64_t rows, int64_t cols, const float *e0, float *out,
                                         void *stream);

/* RoPE factors of one forward: fac[t, j] = (cos, sin) for token t, pair j of the head dim D (fp16-rounded, from
 * the angle in double as lavr_rope_factor; the time/row/column split of the pairs; a negative frame gives the
 * conjugate). Token positions:
 *   block mode (pos == NULL): t -> (params[0] + t / (hp*wp), (t / wp) % hp, t % wp) for t < L;
 *   table mode: pos[t] (int64 triples, device), the frame of tokens t < ref_tokens replaced by params[1].
 * params: device int64 [2] = (first frame f0, reference frame), read by the kernel (so a captured graph follows
 * the values written there before each launch). */
lavr_status lavr_cuda_rope_factors(int64_t L, int64_t D, const int64_t *pos, int64_t hp, int64_t wp,
                                   int64_t ref_tokens, const int64_t *params, float *fac, void *stream);

/* The q/k path of an attention: for rows r < L of src (bf16, row stride ld_src), q = src[:, 0:dh], k =
 * src[:, k_col:k_col+dh], v = src[:, v_col:v_col+dh] (v_col < 0: none); dh = H*D.
 *   q' = bf16(bf16(q * rsqrt(ssq/full + eps)) * gain_q)   (ssq = sum of squares of the row over the full width:
 *        ss[r*2+0] when ss is given (a tp all-reduce), else over these dh columns); then RoPE with fac -> q_out
 *   k' the same with gain_k and ss[r*2+1]; k_raw_out (optional) gets k' before RoPE, k_out (optional) after
 *   v  copied to v_out (optional)
 * RoPE rotates adjacent pairs (2j, 2j+1) of each head by fac[r, j] and rounds each result to bf16 (the products
 * of a bf16 value and an fp16 factor are exact in fp32, so this equals the CPU's double path). fac NULL: no RoPE.
 * gain_k NULL: only q is processed (cross-attention, audio). Outputs have row strides ld_q, ld_k, ld_v. */
typedef struct {
    int64_t L, H, D, full;
    const uint16_t *src;
    int64_t ld_src, k_col, v_col;
    const float *gain_q, *gain_k, *ss;
    float eps;
    const float *fac;
    uint16_t *q_out, *k_out, *k_raw_out, *v_out;
    int64_t ld_q, ld_k, ld_v;
    const int64_t *slot; /* optional device int64: k_out and v_out advance by *slot rows (the window slot) */
} lavr_qknorm_args;
lavr_status lavr_cuda_qk_norm_rope(const lavr_qknorm_args *a, void *stream);
/* ss[r*2 + 0/1] = sum of squares of row r's q / k columns (double accumulation, stored fp32): the statistic a tp
 * group all-reduces before lavr_cuda_qk_norm_rope. k_col < 0: q only (ss[r*2+1] = 0). */
lavr_status lavr_cuda_qk_sumsq(const uint16_t *src, int64_t L, int64_t ld_src, int64_t dh, int64_t k_col, float *ss,
                               void *stream);

/* Sink keys re-roped for one forward: out[t] = RoPE(keys[t], fac[t]) for t < S, bf16 [S, H*D] packed. */
lavr_status lavr_cuda_rope_bf16(const uint16_t *keys, int64_t S, int64_t H, int64_t D, const float *fac,
                                uint16_t *out, void *stream);

/* Merge of two attention results over disjoint key sets: out = (o1 e^(l1-m) + o2 e^(l2-m)) / (e^(l1-m) + e^(l2-m)),
 * m = max(l1, l2), rounded to bf16; o1, o2, out bf16 [L, H*D] (out may alias o1); lse1, lse2 fp32 [H, L]. */
lavr_status lavr_cuda_attn_merge(const uint16_t *o1, const float *lse1, const uint16_t *o2, const float *lse2, int64_t L,
                                 int64_t H, int64_t D, uint16_t *out, void *stream);

/* FP8 e4m3 of LiveAvatar's per-tensor rule: amax = max |x| over n values (bf16), s = min(448 / amax, 448),
 * q = e4m3(clamp(x * s, -448, 448)) (RNE), inv_scale = 1 / s: the dequantisation factor the GEMM takes.
 * amax first (into *amax, fp32 device; callers may all-reduce it with max across a tp group), then quantize. */
lavr_status lavr_cuda_amax_bf16(const uint16_t *x, int64_t n, float *amax, void *stream);
lavr_status lavr_cuda_quantize_fp8(const uint16_t *x, int64_t n, const float *amax, uint8_t *q, float *inv_scale,
                                   void *stream);

/* y = bf16(silu(x)) for n fp32 values (the injectors' AdaLN input), bf16 out. */
lavr_status lavr_cuda_silu_to_bf16(const float *x, int64_t n, uint16_t *y, void *stream);

#ifdef __cplusplus
}
#endif

#endif
