/* lavr_cuda_linear through cuBLASLt: bf16 x bf16 -> fp32 with fp32 accumulation and the bias added
 * in the GEMM epilogue, and its pure-fp32 twin lavr_cuda_linear_f32 (convolutions). Plans (descriptors +
 * the heuristic's algorithm) are cached per shape, input type and output row stride. */
#include <cublasLt.h>
#include <stdlib.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops_cuda.h"

namespace {

enum { PLAN_CACHE = 16 };

struct plan {
    int64_t m, n, k;
    int bias, align, used, f32;
    int64_t ldd;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t a, b, d;
    cublasLtMatmulAlgo_t algo;
};

void plan_release(plan *p) {
    if (!p->used) return;
    cublasLtMatrixLayoutDestroy(p->a);
    cublasLtMatrixLayoutDestroy(p->b);
    cublasLtMatrixLayoutDestroy(p->d);
    cublasLtMatmulDescDestroy(p->op);
    p->used = 0;
}

} // namespace

struct lavr_cuda_blas {
    cublasLtHandle_t handle;
    void *workspace;
    size_t workspace_bytes;
    plan plans[PLAN_CACHE];
    int next_victim; /* round-robin replacement once the cache is full */
};

lavr_status lavr_cuda_blas_create(size_t workspace_bytes, lavr_cuda_blas **out) {
    CHECK_ARG(out, "cuda blas: no output pointer");
    *out = NULL;
    lavr_cuda_blas *b = (lavr_cuda_blas *)calloc(1, sizeof *b);
    if (!b) return LAVR_FAIL(LAVR_E_NOMEM, "cuda blas: %zu bytes", sizeof *b);
    b->workspace_bytes = workspace_bytes ? workspace_bytes : (size_t)32 << 20;
    cudaError_t ce = cudaMalloc(&b->workspace, b->workspace_bytes);
    if (ce != cudaSuccess) {
        const size_t bytes = b->workspace_bytes;
        free(b);
        return LAVR_FAIL(LAVR_E_CUDA, "cuda blas: workspace of %zu bytes: %s", bytes, cudaGetErrorString(ce));
    }
    cublasStatus_t cs = cublasLtCreate(&b->handle);
    if (cs != CUBLAS_STATUS_SUCCESS) {
        cudaFree(b->workspace);
        free(b);
        return LAVR_FAIL(LAVR_E_CUDA, "cublasLtCreate: %s", cublasLtGetStatusString(cs));
    }
    *out = b;
    return LAVR_OK;
}

void lavr_cuda_blas_destroy(lavr_cuda_blas *blas) {
    if (!blas) return;
    for (int i = 0; i < PLAN_CACHE; i++) plan_release(&blas->plans[i]);
    cublasLtDestroy(blas->handle);
    cudaFree(blas->workspace);
    free(blas);
}

/* Row-major y[M,N] = x[M,K]·W[N,K]^T is, in cuBLASLt's column-major terms, D[N,M] = op(A)·B with
 * A = W seen as a KxN column-major matrix (ld K) transposed, B = x as KxM (ld K), D ld N; the
 * epilogue's bias runs along D's rows, i.e. along N. */
static lavr_status plan_build(lavr_cuda_blas *blas, int64_t M, int64_t K, int64_t N, int bias, int align, int f32,
                              int64_t ldd, plan *p) {
    const cudaDataType_t in_type = f32 ? CUDA_R_32F : CUDA_R_16BF;
    const cublasOperation_t transa = CUBLAS_OP_T, transb = CUBLAS_OP_N;
    const cublasLtEpilogue_t epi = bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    const cudaDataType_t bias_type = CUDA_R_32F;
    CUBLAS_TRY(cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    p->used = 1; /* from here plan_release cleans up; the layouts are created before any early return */
    p->a = p->b = p->d = NULL;
    CUBLAS_TRY(cublasLtMatrixLayoutCreate(&p->a, in_type, (uint64_t)K, (uint64_t)N, K));
    CUBLAS_TRY(cublasLtMatrixLayoutCreate(&p->b, in_type, (uint64_t)K, (uint64_t)M, K));
    CUBLAS_TRY(cublasLtMatrixLayoutCreate(&p->d, CUDA_R_32F, (uint64_t)N, (uint64_t)M, ldd));
    CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &transa, sizeof transa));
    CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &transb, sizeof transb));
    CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    if (bias)
        CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                                  sizeof bias_type));

    cublasLtMatmulPreference_t pref;
    CUBLAS_TRY(cublasLtMatmulPreferenceCreate(&pref));
    cublasStatus_t cs = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                             &blas->workspace_bytes, sizeof blas->workspace_bytes);
    /* the heuristic otherwise assumes 256-byte aligned operands; views into larger buffers may be less */
    const uint32_t al = (uint32_t)align;
    const cublasLtMatmulPreferenceAttributes_t align_attrs[] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (int i = 0; i < 4 && cs == CUBLAS_STATUS_SUCCESS; i++)
        cs = cublasLtMatmulPreferenceSetAttribute(pref, align_attrs[i], &al, sizeof al);
    cublasLtMatmulHeuristicResult_t result;
    int found = 0;
    if (cs == CUBLAS_STATUS_SUCCESS)
        cs = cublasLtMatmulAlgoGetHeuristic(blas->handle, p->op, p->a, p->b, p->d, p->d, pref, 1, &result, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    CUBLAS_TRY(cs);
    if (found < 1)
        return LAVR_FAIL(LAVR_E_CUDA, "cuda linear: cuBLASLt has no algorithm for M=%lld K=%lld N=%lld%s",
                         (long long)M, (long long)K, (long long)N, bias ? " with bias" : "");
    p->algo = result.algo;
    p->m = M;
    p->n = N;
    p->k = K;
    p->bias = bias;
    p->align = align;
    p->f32 = f32;
    p->ldd = ldd;
    return LAVR_OK;
}

static lavr_status plan_get(lavr_cuda_blas *blas, int64_t M, int64_t K, int64_t N, int bias, int align, int f32,
                            int64_t ldd, plan **out) {
    for (int i = 0; i < PLAN_CACHE; i++) {
        plan *p = &blas->plans[i];
        if (p->used && p->m == M && p->n == N && p->k == K && p->bias == bias && p->align == align &&
            p->f32 == f32 && p->ldd == ldd) {
            *out = p;
            return LAVR_OK;
        }
    }
    plan *p = NULL;
    for (int i = 0; i < PLAN_CACHE && !p; i++)
        if (!blas->plans[i].used) p = &blas->plans[i];
    if (!p) {
        p = &blas->plans[blas->next_victim];
        blas->next_victim = (blas->next_victim + 1) % PLAN_CACHE;
        plan_release(p);
    }
    lavr_status st = plan_build(blas, M, K, N, bias, align, f32, ldd, p);
    if (st) {
        plan_release(p);
        return st;
    }
    *out = p;
    return LAVR_OK;
}

/* One GEMM of either input type; ldd is y's row stride in elements. */
static lavr_status gemm(lavr_cuda_blas *blas, const void *x, int64_t M, int64_t K, const void *w, int64_t N,
                        const float *bias, float *y, int64_t ldd, int f32, void *stream) {
    /* the smallest power-of-two alignment (<= 256 bytes) of the four operands and the row strides */
    const uintptr_t esize = f32 ? 4 : 2;
    const uintptr_t addr_bits = (uintptr_t)x | (uintptr_t)w | (uintptr_t)y | (uintptr_t)bias | (uintptr_t)256 |
                                (uintptr_t)K * esize | (uintptr_t)ldd * 4;
    const int align = (int)(addr_bits & (~addr_bits + 1));
    plan *p;
    TRY(plan_get(blas, M, K, N, bias != NULL, align, f32, ldd, &p));
    if (bias)
        CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    const float alpha = 1.0f, beta = 0.0f;
    CUBLAS_TRY(cublasLtMatmul(blas->handle, p->op, &alpha, w, p->a, x, p->b, &beta, y, p->d, y, p->d, &p->algo,
                              blas->workspace, blas->workspace_bytes, as_stream(stream)));
    return LAVR_OK;
}

lavr_status lavr_cuda_linear(lavr_cuda_blas *blas, const uint16_t *x, int64_t M, int64_t K, const uint16_t *w,
                             int64_t N, const float *bias, float *y, void *stream) {
    CHECK_ARG(blas && x && w && y && M >= 0 && K > 0 && N > 0,
              "cuda linear: bad arguments (M=%lld, K=%lld, N=%lld)", (long long)M, (long long)K, (long long)N);
    if (M == 0) return LAVR_OK;
    return gemm(blas, x, M, K, w, N, bias, y, N, 0, stream);
}

lavr_status lavr_cuda_linear_f32(lavr_cuda_blas *blas, const float *x, int64_t M, int64_t K, const float *w, int64_t N,
                                 const float *bias, float *y, int64_t y_row_stride, void *stream) {
    CHECK_ARG(blas && x && w && y && M >= 0 && K > 0 && N > 0 && y_row_stride >= N,
              "cuda linear_f32: bad arguments (M=%lld, K=%lld, N=%lld, y row stride %lld)", (long long)M, (long long)K,
              (long long)N, (long long)y_row_stride);
    if (M == 0) return LAVR_OK;
    return gemm(blas, x, M, K, w, N, bias, y, y_row_stride, 1, stream);
}
