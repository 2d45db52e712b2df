/* lavr_cuda_sdpa (kernels/cuda/sdpa.h): cuDNN's fused flash attention on lavr's token-major [L, H, D] bf16 layout,
 * one execution plan per shape. Written against cuDNN's backend C API (no C++ frontend in the runtime). */
#include "kernels/cuda/sdpa.h"

#include <stdlib.h>
#include <string.h>

#if LAVR_HAVE_CUDNN

#include "kernels/cuda/cuda_check.h"

enum { SDPA_PLANS = 32, UID_Q = 1, UID_K, UID_V, UID_O, UID_SCALE, UID_STATS };

typedef struct {
    int64_t batch, heads, lq, lk, d, q_row, q_batch, kv_row, kv_batch, o_row, o_batch, v_row, v_batch;
    int stats;
} sdpa_key;

typedef struct {
    sdpa_key key;
    int used, supported;
    lavr_cudnn_plan plan;
} sdpa_entry;

struct lavr_cuda_sdpa {
    lavr_cudnn *dnn;
    sdpa_entry plans[SDPA_PLANS];
    void *workspace;
    size_t workspace_bytes;
};

lavr_status lavr_cuda_sdpa_create(lavr_cudnn *dnn, lavr_cuda_sdpa **out) {
    *out = NULL;
    const size_t v = lavr_cudnn_version();
    if (v < LAVR_CUDNN_SDPA_MIN_VERSION)
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "cuDNN %zu.%zu has no fused SDPA (needs 9.13 or newer)", v / 10000,
                         (v / 100) % 100);
    lavr_cuda_sdpa *s = calloc(1, sizeof *s);
    if (!s) return LAVR_FAIL(LAVR_E_NOMEM, "cuda sdpa: no host memory");
    s->dnn = dnn;
    *out = s;
    return LAVR_OK;
}

void lavr_cuda_sdpa_destroy(lavr_cuda_sdpa *s) {
    if (!s) return;
    for (int i = 0; i < SDPA_PLANS; i++)
        if (s->plans[i].used) lavr_cudnn_plan_destroy(&s->plans[i].plan);
    if (s->workspace) cudaFree(s->workspace);
    free(s);
}

size_t lavr_cuda_sdpa_workspace_bytes(const lavr_cuda_sdpa *s) { return s ? s->workspace_bytes : 0; }

static sdpa_key key_of(const lavr_sdpa_args *a) {
    sdpa_key k;
    memset(&k, 0, sizeof k);
    k.batch = a->batch, k.heads = a->heads, k.lq = a->lq, k.lk = a->lk, k.d = a->head_dim;
    k.q_row = a->q_row, k.q_batch = a->q_batch, k.kv_row = a->kv_row, k.kv_batch = a->kv_batch;
    k.o_row = a->o_row, k.o_batch = a->o_batch, k.stats = a->stats != NULL;
    k.v_row = a->v_row ? a->v_row : a->kv_row, k.v_batch = a->v_batch ? a->v_batch : a->kv_batch;
    return k;
}

/* logical [b, h, s, d] over token-major memory: batch stride, head stride d, token stride row, element 1 */
static lavr_status bhsd(int64_t uid, int64_t b, int64_t h, int64_t s, int64_t d, int64_t row, int64_t batch,
                        lavr_cudnn_desc *out) {
    lavr_cudnn_tensor_spec t = {.uid = uid, .type = LAVR_CUDNN_BF16, .ndim = 4, .alignment = 16};
    const int64_t dims[4] = {b, h, s, d}, strides[4] = {batch, d, row, 1};
    memcpy(t.dims, dims, sizeof dims);
    memcpy(t.strides, strides, sizeof strides);
    return lavr_cudnn_tensor(&t, out);
}

static lavr_status build(lavr_cuda_sdpa *s, const sdpa_key *k, sdpa_entry *e) {
    lavr_cudnn_desc t[6] = {0};
    lavr_cudnn_desc op = NULL;
    lavr_status st = bhsd(UID_Q, k->batch, k->heads, k->lq, k->d, k->q_row, k->q_batch, &t[0]);
    if (!st) st = bhsd(UID_K, k->batch, k->heads, k->lk, k->d, k->kv_row, k->kv_batch, &t[1]);
    if (!st) st = bhsd(UID_V, k->batch, k->heads, k->lk, k->d, k->v_row, k->v_batch, &t[2]);
    if (!st) st = bhsd(UID_O, k->batch, k->heads, k->lq, k->d, k->o_row, k->o_batch, &t[3]);
    if (!st) {
        lavr_cudnn_tensor_spec sc = {.uid = UID_SCALE, .type = LAVR_CUDNN_F32, .ndim = 4, .by_value = 1, .alignment = 4,
                                     .dims = {1, 1, 1, 1}, .strides = {1, 1, 1, 1}};
        st = lavr_cudnn_tensor(&sc, &t[4]);
    }
    if (!st && k->stats) {
        lavr_cudnn_tensor_spec sp = {.uid = UID_STATS, .type = LAVR_CUDNN_F32, .ndim = 4, .alignment = 16,
                                     .dims = {k->batch, k->heads, k->lq, 1},
                                     .strides = {k->heads * k->lq, k->lq, 1, 1}};
        st = lavr_cudnn_tensor(&sp, &t[5]);
    }
    if (!st) {
        cudnnBackendDescriptor_t d;
        cudnnStatus_t cs = cudnnBackendCreateDescriptor(CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR, &d);
        if (cs == CUDNN_STATUS_SUCCESS) {
            op = d;
            const cudnnBackendAttributeName_t names[5] = {
                CUDNN_ATTR_OPERATION_SDPA_FWD_QDESC, CUDNN_ATTR_OPERATION_SDPA_FWD_KDESC,
                CUDNN_ATTR_OPERATION_SDPA_FWD_VDESC, CUDNN_ATTR_OPERATION_SDPA_FWD_ODESC,
                CUDNN_ATTR_OPERATION_SDPA_FWD_SCALEDESC};
            for (int i = 0; i < 5 && cs == CUDNN_STATUS_SUCCESS; i++)
                cs = cudnnBackendSetAttribute(d, names[i], CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &t[i]);
            if (cs == CUDNN_STATUS_SUCCESS && k->stats)
                cs = cudnnBackendSetAttribute(d, CUDNN_ATTR_OPERATION_SDPA_FWD_STATSDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                              1, &t[5]);
            if (cs == CUDNN_STATUS_SUCCESS) cs = cudnnBackendFinalize(d);
        }
        if (cs != CUDNN_STATUS_SUCCESS) {
            char why[512];
            cudnnGetLastErrorString(why, sizeof why);
            st = LAVR_FAIL(LAVR_E_UNSUPPORTED, "cuDNN SDPA descriptor: %s%s%s", cudnnGetErrorString(cs),
                           why[0] ? ": " : "", why);
        }
    }
    if (!st) st = lavr_cudnn_plan_build(s->dnn, &op, 1, "attention", &e->plan);
    lavr_cudnn_desc_destroy(op);
    for (int i = 0; i < 6; i++) lavr_cudnn_desc_destroy(t[i]);
    if (!st && (size_t)e->plan.workspace_bytes > s->workspace_bytes) {
        /* grow the shared workspace: plans are built before any run is enqueued on the stream */
        void *w = NULL;
        cudaError_t ce = cudaDeviceSynchronize();
        if (ce == cudaSuccess) ce = cudaMalloc(&w, (size_t)e->plan.workspace_bytes);
        if (ce != cudaSuccess) {
            lavr_cudnn_plan_destroy(&e->plan);
            return LAVR_FAIL(LAVR_E_CUDA, "cuda sdpa: workspace of %lld bytes: %s", (long long)e->plan.workspace_bytes,
                             cudaGetErrorString(ce));
        }
        if (s->workspace) cudaFree(s->workspace);
        s->workspace = w;
        s->workspace_bytes = (size_t)e->plan.workspace_bytes;
    }
    return st;
}

static sdpa_entry *find(lavr_cuda_sdpa *s, const sdpa_key *k) {
    for (int i = 0; i < SDPA_PLANS; i++)
        if (s->plans[i].used && !memcmp(&s->plans[i].key, k, sizeof *k)) return &s->plans[i];
    return NULL;
}

int lavr_cuda_sdpa_ready(lavr_cuda_sdpa *s, const lavr_sdpa_args *a, lavr_status *st) {
    *st = LAVR_OK;
    if (!s) return 0;
    const sdpa_key k = key_of(a);
    sdpa_entry *e = find(s, &k);
    if (e) return e->supported;
    for (int i = 0; i < SDPA_PLANS && !e; i++)
        if (!s->plans[i].used) e = &s->plans[i];
    if (!e) {
        *st = LAVR_FAIL(LAVR_E_INTERNAL, "cuda sdpa: more than %d attention shapes", SDPA_PLANS);
        return 0;
    }
    memset(e, 0, sizeof *e);
    e->key = k;
    e->used = 1;
    lavr_status bs = build(s, &k, e);
    if (bs == LAVR_E_UNSUPPORTED) {
        e->supported = 0; /* remembered: this shape runs on lavr's own kernel */
        lavr_error_clear();
        return 0;
    }
    if (bs) {
        e->used = 0;
        *st = bs;
        return 0;
    }
    e->supported = 1;
    return 1;
}

lavr_status lavr_cuda_sdpa_run(lavr_cuda_sdpa *s, const lavr_sdpa_args *a) {
    lavr_status st;
    if (!lavr_cuda_sdpa_ready(s, a, &st)) {
        TRY(st);
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "cuda sdpa: cuDNN has no engine for Lq %lld x Lk %lld, %lld heads x %lld",
                         (long long)a->lq, (long long)a->lk, (long long)a->heads, (long long)a->head_dim);
    }
    const sdpa_key k = key_of(a);
    const sdpa_entry *e = find(s, &k);
    float scale = a->scale;
    const int64_t uids[6] = {UID_Q, UID_K, UID_V, UID_O, UID_SCALE, UID_STATS};
    void *ptrs[6] = {(void *)a->q, (void *)a->k, (void *)a->v, a->o, &scale, a->stats};
    return lavr_cudnn_execute(s->dnn, &e->plan, a->stats ? 6 : 5, uids, ptrs, s->workspace);
}

#else

struct lavr_cuda_sdpa {
    int unused;
};

lavr_status lavr_cuda_sdpa_create(lavr_cudnn *dnn, lavr_cuda_sdpa **out) {
    (void)dnn;
    *out = NULL;
    return LAVR_FAIL(LAVR_E_UNSUPPORTED, "this lavr was built without cuDNN");
}
void lavr_cuda_sdpa_destroy(lavr_cuda_sdpa *s) { (void)s; }
int lavr_cuda_sdpa_ready(lavr_cuda_sdpa *s, const lavr_sdpa_args *a, lavr_status *st) {
    (void)s, (void)a;
    *st = LAVR_OK;
    return 0;
}
lavr_status lavr_cuda_sdpa_run(lavr_cuda_sdpa *s, const lavr_sdpa_args *a) {
    (void)s, (void)a;
    return LAVR_FAIL(LAVR_E_UNSUPPORTED, "this lavr was built without cuDNN");
}
size_t lavr_cuda_sdpa_workspace_bytes(const lavr_cuda_sdpa *s) {
    (void)s;
    return 0;
}

#endif
