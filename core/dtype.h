/* Element types of lavr tensors and the scalar conversions between them. Every narrowing
 * conversion rounds to nearest, ties to even (the rule PyTorch and the GPU use). */
#ifndef LAVR_DTYPE_H
#define LAVR_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    LAVR_F32,
    LAVR_F64,
    LAVR_BF16,
    LAVR_F16,
    LAVR_FP8_E4M3, /* e4m3fn: no infinities, max 448, NaN = 0x7f/0xff */
    LAVR_I32,
    LAVR_I64,
    LAVR_U8,
    LAVR_DTYPE_COUNT
} lavr_dtype;

size_t lavr_dtype_size(lavr_dtype t);
/* Names as written in HDF5 `dtype` attributes: float32, float64, bfloat16, float16,
 * float8_e4m3fn, int32, int64, uint8. */
const char *lavr_dtype_name(lavr_dtype t);
/* Returns 0 and sets *out when name is known (also accepts the short forms f32, bf16, fp8). */
int lavr_dtype_from_name(const char *name, lavr_dtype *out);

uint16_t lavr_f32_to_bf16(float x);
float lavr_bf16_to_f32(uint16_t h);
uint16_t lavr_f32_to_f16(float x);
float lavr_f16_to_f32(uint16_t h);
/* Values whose rounded magnitude exceeds 448 become NaN, as torch's cast does; quantisers clamp
 * to +-448 before calling. */
uint8_t lavr_f32_to_fp8e4m3(float x);
float lavr_fp8e4m3_to_f32(uint8_t v);
/* Rounds a float to the nearest bf16 value and back (the "bf16 rounding point" of the spec). */
static inline float lavr_round_bf16(float x) { return lavr_bf16_to_f32(lavr_f32_to_bf16(x)); }

/* Element i of a buffer of type t, as double / stored from double (with the type's rounding). */
/* Values of n elements of type t that are NaN or +-Inf (from their bit patterns; integers never are);
 * *first (may be NULL) gets the index of the first, or -1. */
int64_t lavr_count_nonfinite(lavr_dtype t, const void *data, int64_t n, int64_t *first);
double lavr_dtype_load(lavr_dtype t, const void *base, int64_t i);
void lavr_dtype_store(lavr_dtype t, void *base, int64_t i, double v);

#endif
