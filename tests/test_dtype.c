/* Conversions f32 <-> bf16/f16/fp8-e4m3 against an independent rule computed in double:
 * value = rint(x / ulp) * ulp with ulp from the format's exponent range (rint rounds ties to even). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "core/dtype.h"
#include "core/rng.h"

typedef struct {
    int mant_bits, emin;   /* explicit mantissa bits, smallest normal exponent */
    double max_finite;     /* largest finite value */
    int overflow_nan;      /* 1: overflow gives NaN (e4m3fn), 0: infinity */
} format;

static const format BF16 = {7, -126, 0x1.FEp127, 0};
static const format F16 = {10, -14, 65504.0, 0};
static const format FP8 = {3, -6, 448.0, 1};

/* Reference rounding of x (exactly representable in double) to the format. */
static double ref_round(const format *f, double x) {
    if (isnan(x)) return NAN;
    if (x == 0) return x;
    int e;
    frexp(fabs(x), &e);          /* |x| in [2^(e-1), 2^e) */
    int exp = e - 1 < f->emin ? f->emin : e - 1;
    double ulp = ldexp(1.0, exp - f->mant_bits);
    double v = rint(x / ulp) * ulp;
    if (fabs(v) > f->max_finite) return f->overflow_nan ? NAN : copysign(INFINITY, x);
    return v;
}

static int same_value(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

static float bits_to_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void check_value(const char *name, const format *f, float x, double got) {
    double want = ref_round(f, x);
    CHECK_MSG(same_value(got, want), "%s(%.9g = %a): got %.9g, want %.9g", name, (double)x, (double)x, got, want);
}

static void check_all(float x) {
    check_value("bf16", &BF16, x, lavr_bf16_to_f32(lavr_f32_to_bf16(x)));
    check_value("f16", &F16, x, lavr_f16_to_f32(lavr_f32_to_f16(x)));
    check_value("fp8", &FP8, x, lavr_fp8e4m3_to_f32(lavr_f32_to_fp8e4m3(x)));
}

int main(void) {
    /* every pattern of the narrow formats survives a round trip through f32 */
    int bad = 0;
    for (uint32_t b = 0; b < 65536; b++) {
        float v = lavr_bf16_to_f32((uint16_t)b);
        if (!isnan(v) && lavr_f32_to_bf16(v) != b) bad++;
        float h = lavr_f16_to_f32((uint16_t)b);
        if (!isnan(h) && lavr_f32_to_f16(h) != b) bad++;
    }
    for (uint32_t b = 0; b < 256; b++) {
        float v = lavr_fp8e4m3_to_f32((uint8_t)b);
        if (!isnan(v) && lavr_f32_to_fp8e4m3(v) != b) bad++;
    }
    CHECK_MSG(bad == 0, "%d patterns do not round-trip", bad);

    /* known values */
    CHECK(lavr_f32_to_bf16(1.0f) == 0x3f80);
    CHECK(lavr_f32_to_f16(1.0f) == 0x3c00);
    CHECK(lavr_f32_to_fp8e4m3(1.0f) == 0x38);
    CHECK(lavr_f32_to_fp8e4m3(448.0f) == 0x7e);
    CHECK(lavr_f32_to_fp8e4m3(-448.0f) == 0xfe);
    CHECK(isnan(lavr_fp8e4m3_to_f32(0x7f)));
    CHECK(lavr_fp8e4m3_to_f32(0x01) == 0x1p-9f);
    CHECK(lavr_f16_to_f32(0x0001) == 0x1p-24f);
    CHECK(isinf(lavr_f16_to_f32(lavr_f32_to_f16(70000.0f))));
    CHECK(isnan(lavr_bf16_to_f32(lavr_f32_to_bf16(NAN))));
    CHECK(isnan(lavr_f16_to_f32(lavr_f32_to_f16(NAN))));
    CHECK(isnan(lavr_fp8e4m3_to_f32(lavr_f32_to_fp8e4m3(NAN))));
    /* ties: 1 + 2^-8 is halfway between bf16 1 and 1+2^-7 -> even (1); 1 + 3*2^-8 -> 1 + 2^-6 */
    CHECK(lavr_bf16_to_f32(lavr_f32_to_bf16(1.0f + 0x1p-8f)) == 1.0f);
    CHECK(lavr_bf16_to_f32(lavr_f32_to_bf16(1.0f + 3 * 0x1p-8f)) == 1.0f + 0x1p-6f);
    CHECK(lavr_fp8e4m3_to_f32(lavr_f32_to_fp8e4m3(464.0f)) == 448.0f); /* tie at the top goes to 448 */
    CHECK(isnan(lavr_fp8e4m3_to_f32(lavr_f32_to_fp8e4m3(465.0f))));

    /* exhaustive sweep of f32 exponents with many mantissas, incl. all rounding boundaries */
    for (uint32_t e = 0; e < 255; e++) {
        for (uint32_t m = 0; m < (1u << 23); m += 0x1001) {
            uint32_t u = (e << 23) | m;
            check_all(bits_to_f32(u));
            check_all(-bits_to_f32(u));
        }
        /* patterns at and around the halfway points of the narrow formats */
        for (uint32_t low = 0; low < 64; low++) {
            uint32_t mid16 = (e << 23) | (0x8000u + low - 32), mid13 = (e << 23) | (0x1000u + low - 32),
                     mid20 = (e << 23) | (0x80000u + low - 32) | 0x100000u;
            check_all(bits_to_f32(mid16));
            check_all(bits_to_f32(mid13));
            check_all(bits_to_f32(mid20));
        }
    }
    /* random values of every magnitude */
    for (int i = 0; i < 200000; i++) {
        uint32_t r[4], ctr[4] = {(uint32_t)i, 0, 0, 0}, key[2] = {7, 9};
        lavr_philox4x32_10(ctr, key, r);
        float x = bits_to_f32(r[0]);
        if (!isnan(x)) check_all(x);
    }

    /* double -> narrow stores round once (no double rounding through f32) */
    double just_above_tie = 1.0 + 0x1p-8 + 0x1p-40; /* f32 would round to the tie, then to even (1.0) */
    uint16_t h;
    lavr_dtype_store(LAVR_BF16, &h, 0, just_above_tie);
    CHECK(lavr_bf16_to_f32(h) == 1.0f + 0x1p-7f);

    /* names */
    lavr_dtype t;
    CHECK(lavr_dtype_from_name("bfloat16", &t) == 0 && t == LAVR_BF16);
    CHECK(lavr_dtype_from_name("float8_e4m3fn", &t) == 0 && t == LAVR_FP8_E4M3);
    CHECK(lavr_dtype_from_name("complex64", &t) != 0);
    CHECK(lavr_dtype_size(LAVR_BF16) == 2 && lavr_dtype_size(LAVR_I64) == 8);
    return check_summary("test_dtype");
}
