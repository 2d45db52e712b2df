/* Widening of stored weights to float32 for the CPU ops, and the argument checks they share.
 * The conversions are the exact ones of core/dtype.c (bf16 and fp8 widen without rounding). */
#include "kernels/cpu/helpers.h"

#include <string.h>

void widen_table_init(widen_table *t) {
    for (int i = 0; i < 256; i++) t->fp8[i] = lavr_fp8e4m3_to_f32((uint8_t)i);
}

void widen_f32(lavr_dtype dt, const void *base, int64_t start, int64_t n, const widen_table *tab, float *out) {
    switch (dt) {
    case LAVR_F32:
        memcpy(out, (const float *)base + start, (size_t)n * sizeof(float));
        break;
    case LAVR_BF16: {
        const uint16_t *src = (const uint16_t *)base + start;
        for (int64_t i = 0; i < n; i++) {
            uint32_t bits = (uint32_t)src[i] << 16; /* bf16 is the top half of an f32 */
            memcpy(&out[i], &bits, 4);
        }
        break;
    }
    case LAVR_F16: {
        const uint16_t *src = (const uint16_t *)base + start;
        for (int64_t i = 0; i < n; i++) out[i] = lavr_f16_to_f32(src[i]);
        break;
    }
    case LAVR_FP8_E4M3: {
        const uint8_t *src = (const uint8_t *)base + start;
        for (int64_t i = 0; i < n; i++) out[i] = tab->fp8[src[i]];
        break;
    }
    default:
        break;
    }
}

lavr_status check_float_tensor(const lavr_tensor *t, const char *what) {
    CHECK_ARG(t && t->data, "%s: missing tensor or data", what);
    CHECK_ARG(t->dtype == LAVR_F32 || t->dtype == LAVR_BF16 || t->dtype == LAVR_F16 || t->dtype == LAVR_FP8_E4M3,
              "%s: dtype %s not supported (f32, bf16, f16, fp8 e4m3)", what, lavr_dtype_name(t->dtype));
    char buf[96];
    CHECK_ARG(lavr_tensor_is_contiguous(t), "%s: tensor %s must be contiguous", what,
              lavr_tensor_describe(t, buf, (int)sizeof buf));
    return LAVR_OK;
}

lavr_status check_vector(const lavr_tensor *t, int64_t n, const char *what) {
    TRY(check_float_tensor(t, what));
    char buf[96];
    CHECK_ARG(lavr_tensor_numel(t) == n, "%s: tensor %s has %lld elements, expected %lld", what,
              lavr_tensor_describe(t, buf, (int)sizeof buf), (long long)lavr_tensor_numel(t), (long long)n);
    return LAVR_OK;
}

void dot_4x4(const float *x, int64_t ldx, const float *w, int64_t ldw, int64_t k, float out[4][4]) {
    const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
    const float *w0 = w, *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw;
    float a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0;
    float a20 = 0, a21 = 0, a22 = 0, a23 = 0, a30 = 0, a31 = 0, a32 = 0, a33 = 0;
#pragma omp simd reduction(+ : a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33)
    for (int64_t i = 0; i < k; i++) {
        float v0 = x0[i], v1 = x1[i], v2 = x2[i], v3 = x3[i];
        float u0 = w0[i], u1 = w1[i], u2 = w2[i], u3 = w3[i];
        a00 += v0 * u0; a01 += v0 * u1; a02 += v0 * u2; a03 += v0 * u3;
        a10 += v1 * u0; a11 += v1 * u1; a12 += v1 * u2; a13 += v1 * u3;
        a20 += v2 * u0; a21 += v2 * u1; a22 += v2 * u2; a23 += v2 * u3;
        a30 += v3 * u0; a31 += v3 * u1; a32 += v3 * u2; a33 += v3 * u3;
    }
    out[0][0] = a00; out[0][1] = a01; out[0][2] = a02; out[0][3] = a03;
    out[1][0] = a10; out[1][1] = a11; out[1][2] = a12; out[1][3] = a13;
    out[2][0] = a20; out[2][1] = a21; out[2][2] = a22; out[2][3] = a23;
    out[3][0] = a30; out[3][1] = a31; out[3][2] = a32; out[3][3] = a33;
}

float dot_1x1(const float *x, const float *w, int64_t k) {
    float acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < k; i++) acc += x[i] * w[i];
    return acc;
}
