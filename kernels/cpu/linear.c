/* CPU reference of lavr_op_linear: y = x·Wᵀ + b with W in its stored dtype (f32, bf16, f16, fp8
 * e4m3, no scale) widened to f32 one tile of rows at a time; fp32 accumulation, OpenMP over tiles. */
#include <omp.h>
#include <stdlib.h>

#include "kernels/cpu/helpers.h"
#include "kernels/ops.h"

enum {
    TILE_N = 32,  /* weight rows widened together (32 x 5120 f32 = 640 KiB) */
    TILE_M = 128, /* rows of x that reuse one widened weight tile */
};

/* y[m0:m1, n0:n0+nn] for one tile; wt holds the nn widened weight rows. */
static void linear_tile(const float *x, int64_t K, int64_t N, int64_t m0, int64_t m1, int64_t n0, int64_t nn,
                        const float *wt, const float *bias, float *y) {
    int64_t m = m0;
    for (; m + 4 <= m1; m += 4) {
        int64_t j = 0;
        for (; j + 4 <= nn; j += 4) {
            float acc[4][4];
            dot_4x4(x + m * K, K, wt + j * K, K, K, acc);
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 4; c++) y[(m + r) * N + n0 + j + c] = acc[r][c] + (bias ? bias[n0 + j + c] : 0.0f);
        }
        for (; j < nn; j++)
            for (int r = 0; r < 4; r++)
                y[(m + r) * N + n0 + j] = dot_1x1(x + (m + r) * K, wt + j * K, K) + (bias ? bias[n0 + j] : 0.0f);
    }
    for (; m < m1; m++)
        for (int64_t j = 0; j < nn; j++)
            y[m * N + n0 + j] = dot_1x1(x + m * K, wt + j * K, K) + (bias ? bias[n0 + j] : 0.0f);
}

lavr_status lavr_op_linear(const float *x, int64_t M, int64_t K, const lavr_tensor *w, const lavr_tensor *b, float *y) {
    char buf[96];
    TRY(check_float_tensor(w, "linear weight"));
    CHECK_ARG(x && y && M >= 0 && K > 0, "linear: bad arguments (M=%lld, K=%lld)", (long long)M, (long long)K);
    CHECK_ARG(w->ndim >= 1 && w->shape[0] > 0 && lavr_tensor_numel(w) == w->shape[0] * K,
              "linear: weight %s does not flatten to [N, %lld]", lavr_tensor_describe(w, buf, (int)sizeof buf),
              (long long)K);
    const int64_t N = w->shape[0];
    if (b) TRY(check_vector(b, N, "linear bias"));

    widen_table tab;
    widen_table_init(&tab);
    float *bias = NULL;
    if (b) {
        bias = malloc((size_t)N * sizeof(float));
        if (!bias) return LAVR_FAIL(LAVR_E_NOMEM, "linear: bias buffer of %lld floats", (long long)N);
        widen_f32(b->dtype, b->data, 0, N, &tab, bias);
    }
    /* f32 weights are used in place; other dtypes are widened into one tile buffer per thread */
    const int widen = w->dtype != LAVR_F32;
    const int nthreads = omp_get_max_threads();
    float *tiles = NULL;
    if (widen) {
        tiles = malloc((size_t)nthreads * TILE_N * (size_t)K * sizeof(float));
        if (!tiles) {
            free(bias);
            return LAVR_FAIL(LAVR_E_NOMEM, "linear: weight tiles of %d x %lld floats", nthreads * TILE_N, (long long)K);
        }
    }
    const int64_t ntile_n = (N + TILE_N - 1) / TILE_N, ntile_m = (M + TILE_M - 1) / TILE_M;
    /* n-tiles outermost so a thread walking consecutive m-tiles keeps its widened tile */
#pragma omp parallel
    {
        float *mine = widen ? tiles + (size_t)omp_get_thread_num() * TILE_N * (size_t)K : NULL;
        int64_t widened = -1;
#pragma omp for collapse(2) schedule(static)
        for (int64_t tn = 0; tn < ntile_n; tn++) {
            for (int64_t tm = 0; tm < ntile_m; tm++) {
                const int64_t n0 = tn * TILE_N, nn = N - n0 < TILE_N ? N - n0 : TILE_N;
                const float *wt;
                if (widen) {
                    if (widened != tn) {
                        widen_f32(w->dtype, w->data, n0 * K, nn * K, &tab, mine);
                        widened = tn;
                    }
                    wt = mine;
                } else {
                    wt = (const float *)w->data + n0 * K;
                }
                const int64_t m0 = tm * TILE_M, m1 = M - m0 < TILE_M ? M : m0 + TILE_M;
                linear_tile(x, K, N, m0, m1, n0, nn, wt, bias, y);
            }
        }
    }
    free(tiles);
    free(bias);
    return LAVR_OK;
}
