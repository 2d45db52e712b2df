/* GEMMs through cuBLASLt: the general lavr_cuda_gemm (bf16 or FP8 e4m3 operands with per-tensor scales, fp32
 * or bf16 output, bias or bias+GELU in the epilogue, strided rows) and its two older forms lavr_cuda_linear
 * (bf16 -> fp32) and lavr_cuda_linear_f32 (the convolutions). Plans (descriptors + the heuristic's algorithm)
 * are cached per shape, types, epilogue, row strides and operand alignment. */
#include <cublasLt.h>
#include <stdlib.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/ops_cuda.h"

namespace {

enum { PLAN_CACHE = 256 }; /* the VAE alone has a few dozen GEMM shapes per chunk size */

struct plan_key {
    int64_t m, n, k, ldx, ldy;
    int x_type, w_type, y_type, epilogue, has_bias, align;
};

bool key_eq(const plan_key &a, const plan_key &b) {
    return a.m == b.m && a.n == b.n && a.k == b.k && a.ldx == b.ldx && a.ldy == b.ldy && a.x_type == b.x_type &&
           a.w_type == b.w_type && a.y_type == b.y_type && a.epilogue == b.epilogue && a.has_bias == b.has_bias &&
           a.align == b.align;
}

struct plan {
    plan_key key;
    int used;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t a, b, d;
    cublasLtMatmulAlgo_t algo;
};

void plan_release(plan *p) {
    if (!p->used) return;
    if (p->a) cublasLtMatrixLayoutDestroy(p->a);
    if (p->b) cublasLtMatrixLayoutDestroy(p->b);
    if (p->d) cublasLtMatrixLayoutDestroy(p->d);
    cublasLtMatmulDescDestroy(p->op);
    p->used = 0;
}

cudaDataType_t cuda_type(int t) {
    switch (t) {
    case LAVR_GEMM_BF16: return CUDA_R_16BF;
    case LAVR_GEMM_FP8: return CUDA_R_8F_E4M3;
    default: return CUDA_R_32F;
    }
}

int64_t type_bytes(int t) { return t == LAVR_GEMM_F32 ? 4 : (t == LAVR_GEMM_BF16 ? 2 : 1); }

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

size_t lavr_cuda_blas_workspace_bytes(const lavr_cuda_blas *blas) { return blas ? blas->workspace_bytes : 0; }

/* Row-major y[M,N] = x[M,K]·W[N,K]^T is, in cuBLASLt's column-major terms, D[N,M] = op(A)·B with
 * A = W seen as a KxN column-major matrix (ld K) transposed, B = x as KxM (ld ldx), D ld ldy; the
 * epilogue's bias runs along D's rows, i.e. along N. This "TN" form is also the one FP8 requires. */
static lavr_status plan_build(lavr_cuda_blas *blas, const plan_key *k, const lavr_cuda_gemm_args *g, plan *p) {
    const cublasOperation_t transa = CUBLAS_OP_T, transb = CUBLAS_OP_N;
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
    if (k->epilogue == LAVR_GEMM_EPI_GELU) epi = k->has_bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
    else if (k->has_bias) epi = CUBLASLT_EPILOGUE_BIAS;
    CUBLAS_TRY(cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    p->used = 1; /* from here plan_release cleans up */
    p->a = p->b = p->d = NULL;
    CUBLAS_TRY(cublasLtMatrixLayoutCreate(&p->a, cuda_type(k->w_type), (uint64_t)k->k, (uint64_t)k->n, k->k));
    CUBLAS_TRY(cublasLtMatrixLayoutCreate(&p->b, cuda_type(k->x_type), (uint64_t)k->k, (uint64_t)k->m, k->ldx));
    CUBLAS_TRY(cublasLtMatrixLayoutCreate(&p->d, cuda_type(k->y_type), (uint64_t)k->n, (uint64_t)k->m, k->ldy));
    CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &transa, sizeof transa));
    CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &transb, sizeof transb));
    CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    if (k->has_bias) {
        /* the bias has the output's type (bf16 for bf16 outputs, FP8 GEMMs included) */
        const cudaDataType_t bias_type = cuda_type(k->y_type);
        CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                                  sizeof bias_type));
    }
    if (k->w_type == LAVR_GEMM_FP8) {
        /* LiveAvatar's _scaled_mm(use_fast_accum=True) */
        const int8_t fast = 1;
        CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof fast));
        /* the heuristic sees the scaled form of the problem (cuBLASLt's A is our W, its B our x) */
        CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &g->w_scale,
                                                  sizeof g->w_scale));
        CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &g->x_scale,
                                                  sizeof g->x_scale));
    }

    cublasLtMatmulPreference_t pref;
    CUBLAS_TRY(cublasLtMatmulPreferenceCreate(&pref));
    cublasStatus_t cs = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                             &blas->workspace_bytes, sizeof blas->workspace_bytes);
    /* the heuristic otherwise assumes 256-byte aligned operands; views into larger buffers may be less */
    const uint32_t al = (uint32_t)k->align;
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
        return LAVR_FAIL(LAVR_E_CUDA, "cuda gemm: cuBLASLt has no algorithm for M=%lld K=%lld N=%lld (types %d/%d/%d, "
                         "epilogue %d)", (long long)k->m, (long long)k->k, (long long)k->n, k->x_type, k->w_type,
                         k->y_type, k->epilogue);
    p->algo = result.algo;
    p->key = *k;
    return LAVR_OK;
}

static lavr_status plan_get(lavr_cuda_blas *blas, const plan_key *k, const lavr_cuda_gemm_args *g, plan **out) {
    for (int i = 0; i < PLAN_CACHE; i++) {
        plan *p = &blas->plans[i];
        if (p->used && key_eq(p->key, *k)) {
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
    lavr_status st = plan_build(blas, k, g, p);
    if (st) {
        plan_release(p);
        return st;
    }
    *out = p;
    return LAVR_OK;
}

lavr_status lavr_cuda_gemm(lavr_cuda_blas *blas, const lavr_cuda_gemm_args *g, void *stream) {
    CHECK_ARG(blas && g && g->x && g->w && g->y && g->M >= 0 && g->K > 0 && g->N > 0,
              "cuda gemm: bad arguments (M=%lld, K=%lld, N=%lld)", (long long)(g ? g->M : -1),
              (long long)(g ? g->K : -1), (long long)(g ? g->N : -1));
    const int64_t ldx = g->ldx ? g->ldx : g->K, ldy = g->ldy ? g->ldy : g->N;
    CHECK_ARG(ldx >= g->K && ldy >= g->N, "cuda gemm: row strides %lld / %lld below K=%lld / N=%lld", (long long)ldx,
              (long long)ldy, (long long)g->K, (long long)g->N);
    const int fp8 = g->w_type == LAVR_GEMM_FP8;
    CHECK_ARG(fp8 == (g->x_type == LAVR_GEMM_FP8), "cuda gemm: FP8 needs both operands in FP8");
    CHECK_ARG(!fp8 || (g->x_scale && g->w_scale && g->K % 16 == 0 &&
                       (g->y_type == LAVR_GEMM_BF16 || (g->y_type == LAVR_GEMM_F32 && !g->bias))),
              "cuda gemm: FP8 needs both scales, K %% 16 == 0 (K=%lld) and a bf16 output (fp32 without bias)",
              (long long)g->K);
    CHECK_ARG(g->x_type == g->w_type || (g->x_type != LAVR_GEMM_F32 && g->w_type != LAVR_GEMM_F32),
              "cuda gemm: mixed fp32 and narrow operands");
    if (g->M == 0) return LAVR_OK;
    /* the smallest power-of-two alignment (<= 256 bytes) of the operands and the row strides */
    const uintptr_t bits = (uintptr_t)g->x | (uintptr_t)g->w | (uintptr_t)g->y | (uintptr_t)g->bias | (uintptr_t)256 |
                           (uintptr_t)(ldx * type_bytes(g->x_type)) | (uintptr_t)(g->K * type_bytes(g->w_type)) |
                           (uintptr_t)(ldy * type_bytes(g->y_type));
    plan_key k = {g->M, g->N, g->K, ldx, ldy, g->x_type, g->w_type, g->y_type, g->epilogue, g->bias != NULL,
                  (int)(bits & (~bits + 1))};
    plan *p;
    TRY(plan_get(blas, &k, g, &p));
    if (g->bias)
        CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g->bias, sizeof g->bias));
    if (fp8) {
        CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &g->w_scale,
                                                  sizeof g->w_scale));
        CUBLAS_TRY(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &g->x_scale,
                                                  sizeof g->x_scale));
    }
    const float alpha = 1.0f, beta = 0.0f;
    CUBLAS_TRY(cublasLtMatmul(blas->handle, p->op, &alpha, g->w, p->a, g->x, p->b, &beta, g->y, p->d, g->y, p->d,
                              &p->algo, blas->workspace, blas->workspace_bytes, as_stream(stream)));
    return LAVR_OK;
}

lavr_status lavr_cuda_linear(lavr_cuda_blas *blas, const uint16_t *x, int64_t M, int64_t K, const uint16_t *w,
                             int64_t N, const float *bias, float *y, void *stream) {
    CHECK_ARG(blas && x && w && y && M >= 0 && K > 0 && N > 0,
              "cuda linear: bad arguments (M=%lld, K=%lld, N=%lld)", (long long)M, (long long)K, (long long)N);
    lavr_cuda_gemm_args g = {};
    g.M = M, g.N = N, g.K = K;
    g.x = x, g.x_type = LAVR_GEMM_BF16;
    g.w = w, g.w_type = LAVR_GEMM_BF16;
    g.bias = bias;
    g.y = y, g.y_type = LAVR_GEMM_F32;
    return lavr_cuda_gemm(blas, &g, stream);
}

lavr_status lavr_cuda_linear_f32(lavr_cuda_blas *blas, const float *x, int64_t M, int64_t K, const float *w, int64_t N,
                                 const float *bias, float *y, int64_t y_row_stride, void *stream) {
    CHECK_ARG(blas && x && w && y && M >= 0 && K > 0 && N > 0 && y_row_stride >= N,
              "cuda linear_f32: bad arguments (M=%lld, K=%lld, N=%lld, y row stride %lld)", (long long)M, (long long)K,
              (long long)N, (long long)y_row_stride);
    lavr_cuda_gemm_args g = {};
    g.M = M, g.N = N, g.K = K;
    g.x = x, g.x_type = LAVR_GEMM_F32;
    g.w = w, g.w_type = LAVR_GEMM_F32;
    g.bias = bias;
    g.y = y, g.y_type = LAVR_GEMM_F32, g.ldy = y_row_stride;
    return lavr_cuda_gemm(blas, &g, stream);
}
