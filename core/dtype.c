/* Bit-level conversions between f32 and the 16- and 8-bit float formats, round-to-nearest-even,
 * NaN kept NaN; the CPU reference that the CUDA conversions are tested against. */
#include "core/dtype.h"

#include <math.h>
#include <string.h>

static const struct {
    const char *name, *short_name;
    size_t size;
} dtype_info[LAVR_DTYPE_COUNT] = {
    [LAVR_F32] = {"float32", "f32", 4},        [LAVR_F64] = {"float64", "f64", 8},
    [LAVR_BF16] = {"bfloat16", "bf16", 2},     [LAVR_F16] = {"float16", "f16", 2},
    [LAVR_FP8_E4M3] = {"float8_e4m3fn", "fp8", 1}, [LAVR_I32] = {"int32", "i32", 4},
    [LAVR_I64] = {"int64", "i64", 8},          [LAVR_U8] = {"uint8", "u8", 1},
};

size_t lavr_dtype_size(lavr_dtype t) { return (unsigned)t < LAVR_DTYPE_COUNT ? dtype_info[t].size : 0; }
const char *lavr_dtype_name(lavr_dtype t) {
    return (unsigned)t < LAVR_DTYPE_COUNT ? dtype_info[t].name : "invalid";
}

int lavr_dtype_from_name(const char *name, lavr_dtype *out) {
    for (int i = 0; i < LAVR_DTYPE_COUNT; i++) {
        if (strcmp(name, dtype_info[i].name) == 0 || strcmp(name, dtype_info[i].short_name) == 0) {
            *out = (lavr_dtype)i;
            return 0;
        }
    }
    if (strcmp(name, "float8_e4m3") == 0 || strcmp(name, "e4m3") == 0) {
        *out = LAVR_FP8_E4M3;
        return 0;
    }
    return -1;
}

static uint32_t f32_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}
static float bits_f32(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

uint16_t lavr_f32_to_bf16(float x) {
    uint32_t u = f32_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float lavr_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t lavr_f32_to_f16(float x) {
    uint32_t u = f32_bits(x);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u;          /* NaN */
    if (a >= 0x477ff000u) return sign | 0x7c00u;         /* rounds to >= 65520: inf */
    if (a < 0x38800000u) {                                /* below 2^-14: subnormal or zero */
        if (a < 0x33000000u) return sign;                 /* below half the smallest subnormal */
        uint32_t exp = a >> 23, mant = (a & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - exp;                       /* 14 + 23 - 10 - (exp - 127) + ... */
        uint32_t q = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1u))) q++;
        return sign | (uint16_t)q;
    }
    uint32_t r = a + 0xfffu + ((a >> 13) & 1u);           /* round mantissa to 10 bits */
    r -= (uint32_t)(127 - 15) << 23;
    return sign | (uint16_t)(r >> 13);
}

float lavr_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) {
        float v = ldexpf((float)mant, -24);
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

uint8_t lavr_f32_to_fp8e4m3(float x) {
    uint32_t u = f32_bits(x);
    uint8_t sign = (uint8_t)((u >> 24) & 0x80u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u || a == 0x7f800000u) return sign | 0x7f;
    float m = bits_f32(a);
    if (m < 0.015625f) {                     /* below 2^-6: subnormal grid of 2^-9 */
        float q = m * 512.0f;                /* exact scaling */
        float fl = floorf(q), rem = q - fl;
        uint32_t n = (uint32_t)fl;
        if (rem > 0.5f || (rem == 0.5f && (n & 1u))) n++;
        return sign | (uint8_t)n;            /* n == 8 is the smallest normal 0x08: correct */
    }
    uint32_t r = a + 0x7ffffu + ((a >> 20) & 1u); /* round mantissa to 3 bits */
    uint32_t exp = (r >> 23) - 127 + 7, mant = (r >> 20) & 7u;
    if (exp > 15 || (exp == 15 && mant == 7)) return sign | 0x7f; /* beyond 448: NaN */
    return sign | (uint8_t)((exp << 3) | mant);
}

float lavr_fp8e4m3_to_f32(uint8_t v) {
    uint32_t exp = (v >> 3) & 0xfu, mant = v & 7u;
    float r;
    if (exp == 15 && mant == 7) r = NAN;
    else if (exp == 0) r = ldexpf((float)mant, -9);
    else r = ldexpf((float)(8 + mant), (int)exp - 7 - 3);
    return (v & 0x80) ? -r : r;
}

double lavr_dtype_load(lavr_dtype t, const void *base, int64_t i) {
    switch (t) {
    case LAVR_F32: return ((const float *)base)[i];
    case LAVR_F64: return ((const double *)base)[i];
    case LAVR_BF16: return lavr_bf16_to_f32(((const uint16_t *)base)[i]);
    case LAVR_F16: return lavr_f16_to_f32(((const uint16_t *)base)[i]);
    case LAVR_FP8_E4M3: return lavr_fp8e4m3_to_f32(((const uint8_t *)base)[i]);
    case LAVR_I32: return ((const int32_t *)base)[i];
    case LAVR_I64: return (double)((const int64_t *)base)[i];
    case LAVR_U8: return ((const uint8_t *)base)[i];
    default: return NAN;
    }
}

/* double -> float rounding to odd: a later RNE step to a format with fewer mantissa bits then
 * rounds exactly as a direct double -> narrow conversion would (no double rounding). */
static float f64_to_f32_odd(double v) {
    float f = (float)v;
    if (isnan(v) || isinf(f) || (double)f == v) return f;
    if (fabs((double)f) > fabs(v)) f = nextafterf(f, 0.0f);
    uint32_t u = f32_bits(f) | 1u;
    return bits_f32(u);
}

void lavr_dtype_store(lavr_dtype t, void *base, int64_t i, double v) {
    switch (t) {
    case LAVR_F32: ((float *)base)[i] = (float)v; break;
    case LAVR_F64: ((double *)base)[i] = v; break;
    case LAVR_BF16: ((uint16_t *)base)[i] = lavr_f32_to_bf16(f64_to_f32_odd(v)); break;
    case LAVR_F16: ((uint16_t *)base)[i] = lavr_f32_to_f16(f64_to_f32_odd(v)); break;
    case LAVR_FP8_E4M3: ((uint8_t *)base)[i] = lavr_f32_to_fp8e4m3(f64_to_f32_odd(v)); break;
    case LAVR_I32: ((int32_t *)base)[i] = (int32_t)llrint(v); break;
    case LAVR_I64: ((int64_t *)base)[i] = (int64_t)llrint(v); break;
    case LAVR_U8: ((uint8_t *)base)[i] = (uint8_t)llrint(v); break;
    default: break;
    }
}

int64_t lavr_count_nonfinite(lavr_dtype t, const void *data, int64_t n, int64_t *first) {
    int64_t count = 0, at = -1;
    /* exponent all ones (fp8 e4m3fn: only NaN, S.1111.111) */
#define SCAN(type, mask, value)                                            \
    for (int64_t i = 0; i < n; i++) {                                      \
        type v_;                                                           \
        memcpy(&v_, (const char *)data + i * (int64_t)sizeof v_, sizeof v_); \
        if ((v_ & (mask)) == (value)) {                                    \
            if (at < 0) at = i;                                            \
            count++;                                                       \
        }                                                                  \
    }
    switch (t) {
    case LAVR_F32: SCAN(uint32_t, 0x7f800000u, 0x7f800000u); break;
    case LAVR_F64: SCAN(uint64_t, 0x7ff0000000000000ull, 0x7ff0000000000000ull); break;
    case LAVR_BF16: SCAN(uint16_t, 0x7f80u, 0x7f80u); break;
    case LAVR_F16: SCAN(uint16_t, 0x7c00u, 0x7c00u); break;
    case LAVR_FP8_E4M3: SCAN(uint8_t, 0x7fu, 0x7fu); break;
    default: break;
    }
#undef SCAN
    if (first) *first = at;
    return count;
}
