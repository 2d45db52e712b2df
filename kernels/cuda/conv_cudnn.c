/* lavr_cuda_convs (kernels/cuda/conv_cudnn.h): CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR graphs on
 * NDHWC / NHWC bf16 tensors with fp32 compute, planned by kernels/cuda/cudnn_graph.c. Plain C over the backend API. */
#include "kernels/cuda/conv_cudnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "kernels/ctx.h"

#if LAVR_HAVE_CUDNN

#include "kernels/cuda/cuda_check.h"

enum { UID_X = 1, UID_W, UID_Y };

typedef struct {
    lavr_cudnn_conv_shape key;
    int supported;
    lavr_cudnn_plan plan;
    int64_t candidate; /* the plan's position among the candidates */
    int64_t timed_calls; /* while profiling: calls timed, and their ms (lavr_cuda_convs_account) */
    double timed_ms;
} conv_entry;

enum { MAX_TUNE = LAVR_CUDNN_CONV_TUNE_MAX, TUNE_RUNS = 3 };
_Static_assert(LAVR_CONV_TUNE_MAX == LAVR_CUDNN_CONV_TUNE_MAX, "one tuning limit");
_Static_assert(sizeof(lavr_cudnn_conv_shape) == LAVR_CONV_RECORD_KEY * sizeof(int64_t),
               "a record key is the shape's int64 fields");

struct lavr_cuda_convs {
    lavr_cudnn *dnn;
    int tune;
    conv_entry *e;
    int n, cap;
    void *workspace;
    size_t workspace_bytes;
    lavr_conv_record_tag tag;
    lavr_conv_record preload; /* choices for shapes not built yet */
    int64_t timed;            /* shapes chosen by timing */
    int64_t passed_over;      /* candidates tuning left out (workspace cap, numerical notes, failed to run) */
};

/* A candidate tuning may pick: within the workspace cap the planner counts, deterministic (the same inputs give the
 * same bytes) and accumulating in fp32 (lavr's numerics). The heuristics' first is taken untuned whatever it is. */
static int tunable(const lavr_cudnn_plan *p) {
    return p->workspace_bytes <= LAVR_CUDNN_CONV_WORKSPACE_CAP &&
           !(p->numerical_notes & (LAVR_CUDNN_NOTE_NONDETERMINISTIC | LAVR_CUDNN_NOTE_REDUCED_PRECISION_REDUCTION));
}

lavr_status lavr_cuda_convs_create(lavr_cudnn *dnn, int tune, lavr_cuda_convs **out) {
    *out = NULL;
    const size_t v = lavr_cudnn_version();
    if (v < LAVR_CUDNN_CONV_MIN_VERSION)
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "cuDNN %zu.%zu.%zu is older than 9.0", v / 10000, (v / 100) % 100, v % 100);
    lavr_cuda_convs *c = calloc(1, sizeof *c);
    if (!c) return LAVR_FAIL(LAVR_E_NOMEM, "cuda convs: no host memory");
    c->dnn = dnn;
    c->tune = tune < 1 ? 1 : tune > MAX_TUNE ? MAX_TUNE : tune;
    int device = 0;
    struct cudaDeviceProp prop;
    cudaError_t ce = cudaGetDevice(&device);
    if (ce == cudaSuccess) ce = cudaGetDeviceProperties(&prop, device);
    if (ce != cudaSuccess) {
        free(c);
        return LAVR_FAIL(LAVR_E_CUDA, "cuda convs: the device's properties: %s", cudaGetErrorString(ce));
    }
    snprintf(c->tag.gpu, sizeof c->tag.gpu, "%s", prop.name);
    c->tag.cc_major = prop.major;
    c->tag.cc_minor = prop.minor;
    c->tag.cudnn_version = (int64_t)v;
    c->tag.tune = c->tune;
    lavr_conv_record_init(&c->preload, &c->tag);
    *out = c;
    return LAVR_OK;
}

void lavr_cuda_convs_destroy(lavr_cuda_convs *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++)
        if (c->e[i].supported) lavr_cudnn_plan_destroy(&c->e[i].plan);
    free(c->e);
    lavr_conv_record_free(&c->preload);
    if (c->workspace) cudaFree(c->workspace);
    free(c);
}

size_t lavr_cuda_convs_workspace_bytes(const lavr_cuda_convs *c) { return c ? c->workspace_bytes : 0; }

/* channels-last strides of [n, c, d...] over memory [n][d...][c] */
static lavr_status nd_tensor(int64_t uid, int64_t n, int64_t c, int spatial, const int64_t *dims,
                             lavr_cudnn_desc *out) {
    lavr_cudnn_tensor_spec t = {.uid = uid, .type = LAVR_CUDNN_BF16, .ndim = 2 + spatial, .alignment = 16};
    t.dims[0] = n;
    t.dims[1] = c;
    for (int i = 0; i < spatial; i++) t.dims[2 + i] = dims[i];
    int64_t s = c;
    for (int i = spatial - 1; i >= 0; i--) {
        t.strides[2 + i] = s;
        s *= dims[i];
    }
    t.strides[1] = 1;
    t.strides[0] = s;
    return lavr_cudnn_tensor(&t, out);
}

#define SET(d, attr, type, n, ptr)                                                        \
    do {                                                                                  \
        if (cs == CUDNN_STATUS_SUCCESS) cs = cudnnBackendSetAttribute((d), (attr), (type), (n), (ptr)); \
    } while (0)

/* the operands of the first call, which tuning runs the candidates on */
typedef struct {
    const void *x, *w;
    void *y;
} conv_operands;

/* The shared workspace holds at least `bytes` (runs in flight may still use the old one: wait for them, then free
 * it before the new one is made, so the two never coexist: the planner counts one). */
static lavr_status grow_workspace(lavr_cuda_convs *c, int64_t bytes) {
    if ((size_t)bytes <= c->workspace_bytes) return LAVR_OK;
    void *ws = NULL;
    cudaError_t ce = cudaDeviceSynchronize();
    if (ce == cudaSuccess && c->workspace) {
        ce = cudaFree(c->workspace);
        c->workspace = NULL;
        c->workspace_bytes = 0;
    }
    if (ce == cudaSuccess) ce = cudaMalloc(&ws, (size_t)bytes);
    if (ce != cudaSuccess)
        return LAVR_FAIL(LAVR_E_CUDA, "cuda conv: cuDNN workspace of %lld bytes: %s", (long long)bytes,
                         cudaGetErrorString(ce));
    c->workspace = ws;
    c->workspace_bytes = (size_t)bytes;
    return LAVR_OK;
}

/* After timing (candidates may have asked for more): the shared workspace back to the most that the chosen plans,
 * `need` and every earlier shape's, ask for. */
static lavr_status fit_workspace(lavr_cuda_convs *c, int64_t need) {
    for (int i = 0; i < c->n; i++)
        if (c->e[i].supported && c->e[i].plan.workspace_bytes > need) need = c->e[i].plan.workspace_bytes;
    if ((size_t)need >= c->workspace_bytes) return LAVR_OK;
    CUDA_TRY(cudaDeviceSynchronize());
    CUDA_TRY(cudaFree(c->workspace));
    c->workspace = NULL;
    c->workspace_bytes = 0;
    return grow_workspace(c, need);
}

static lavr_status run_plan(lavr_cuda_convs *c, const lavr_cudnn_plan *p, const conv_operands *o) {
    const int64_t uids[3] = {UID_X, UID_W, UID_Y};
    void *ptrs[3] = {(void *)o->x, (void *)o->w, o->y};
    return lavr_cudnn_execute(c->dnn, p, 3, uids, ptrs, c->workspace);
}

/* Times each tunable candidate (one warm-up, then TUNE_RUNS runs) on the call's operands; *best = the fastest (the
 * first candidate when none is tunable: what the untuned default takes). A candidate whose workspace cannot be had
 * or whose warm-up fails is passed over, unless the device is then unusable. */
static lavr_status fastest(lavr_cuda_convs *c, const lavr_cudnn_plan *cand, int n, const conv_operands *o, int *best) {
    cudaStream_t stream = NULL;
    CUDNN_TRY(cudnnGetStream((cudnnHandle_t)lavr_cudnn_raw(c->dnn), &stream));
    cudaEvent_t t0, t1;
    CUDA_TRY(cudaEventCreate(&t0));
    if (cudaEventCreate(&t1) != cudaSuccess) {
        cudaEventDestroy(t0);
        return LAVR_FAIL(LAVR_E_CUDA, "cuda conv: no timing events");
    }
    lavr_status st = LAVR_OK;
    float best_ms = 0;
    int timed = 0;
    *best = 0;
    for (int i = 0; i < n && !st; i++) {
        if (!tunable(&cand[i])) {
            c->passed_over++;
            continue;
        }
        lavr_status warm = grow_workspace(c, cand[i].workspace_bytes);
        if (!warm) warm = run_plan(c, &cand[i], o);
        if (warm) {
            const cudaError_t ce = cudaDeviceSynchronize();
            if (ce != cudaSuccess) {
                st = LAVR_FAIL(LAVR_E_CUDA, "cuda conv: the device failed while timing engines (%s), after: %s",
                               cudaGetErrorString(ce), lavr_error_message());
                break;
            }
            LOG_DEBUG("cuDNN convolution engine candidate %d passed over: %s", i, lavr_error_message());
            lavr_error_clear();
            c->passed_over++;
            continue;
        }
        if (cudaEventRecord(t0, stream) != cudaSuccess) st = LAVR_FAIL(LAVR_E_CUDA, "cuda conv: event record");
        for (int r = 0; r < TUNE_RUNS && !st; r++) st = run_plan(c, &cand[i], o);
        float ms = 0;
        if (!st && (cudaEventRecord(t1, stream) != cudaSuccess || cudaEventSynchronize(t1) != cudaSuccess ||
                    cudaEventElapsedTime(&ms, t0, t1) != cudaSuccess))
            st = LAVR_FAIL(LAVR_E_CUDA, "cuda conv: timing a candidate engine");
        if (!st && (!timed++ || ms < best_ms)) {
            best_ms = ms;
            *best = i;
        }
    }
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    return st;
}

static void describe(const lavr_cudnn_conv_shape *k, char *buf, size_t len) {
    if (k->spatial == 3)
        snprintf(buf, len, "%lld->%lld ch, %lldx%lldx%lld kernel over %lldx%lldx%lld", (long long)k->cin,
                 (long long)k->cout, (long long)k->k[0], (long long)k->k[1], (long long)k->k[2], (long long)k->in[0],
                 (long long)k->in[1], (long long)k->in[2]);
    else
        snprintf(buf, len, "%lld->%lld ch, %lldx%lld kernel over %lld x %lldx%lld", (long long)k->cin,
                 (long long)k->cout, (long long)k->k[0], (long long)k->k[1], (long long)k->n, (long long)k->in[0],
                 (long long)k->in[1]);
}

static lavr_status build(lavr_cuda_convs *c, const lavr_cudnn_conv_shape *k, const conv_operands *ops,
                         conv_entry *e) {
    lavr_cudnn_desc x = NULL, w = NULL, y = NULL, conv = NULL, op = NULL;
    lavr_status st = nd_tensor(UID_X, k->n, k->cin, k->spatial, k->in, &x);
    if (!st) st = nd_tensor(UID_W, k->cout, k->cin, k->spatial, k->k, &w);
    if (!st) st = nd_tensor(UID_Y, k->n, k->cout, k->spatial, k->out, &y);
    if (!st) {
        cudnnStatus_t cs = cudnnBackendCreateDescriptor(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, &conv);
        const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
        const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
        const int64_t spatial = k->spatial, dil[3] = {1, 1, 1};
        SET(conv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute);
        SET(conv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
        SET(conv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatial);
        SET(conv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, spatial, k->pre);
        SET(conv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, spatial, k->post);
        SET(conv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, spatial, k->stride);
        SET(conv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, spatial, dil);
        if (cs == CUDNN_STATUS_SUCCESS) cs = cudnnBackendFinalize(conv);
        if (cs == CUDNN_STATUS_SUCCESS)
            cs = cudnnBackendCreateDescriptor(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, &op);
        const float alpha = 1.0f, beta = 0.0f;
        SET(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x);
        SET(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &w);
        SET(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y);
        SET(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &conv);
        SET(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha);
        SET(op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta);
        if (cs == CUDNN_STATUS_SUCCESS) cs = cudnnBackendFinalize(op);
        if (cs != CUDNN_STATUS_SUCCESS) {
            char why[512];
            cudnnGetLastErrorString(why, sizeof why);
            st = LAVR_FAIL(LAVR_E_UNSUPPORTED, "cuDNN convolution descriptor: %s%s%s", cudnnGetErrorString(cs),
                           why[0] ? ": " : "", why);
        }
    }
    /* a recorded choice: its candidates (and this context's own, should the record no longer match) */
    const lavr_conv_choice *pre = lavr_conv_record_find(&c->preload, (const int64_t *)k);
    if (pre && pre->candidate >= MAX_TUNE) pre = NULL;
    const int want = pre && pre->candidate + 1 > c->tune ? (int)pre->candidate + 1 : c->tune;
    lavr_cudnn_plan cand[MAX_TUNE];
    int ncand = 0;
    if (!st) st = lavr_cudnn_plan_candidates(c->dnn, &op, 1, "convolution", want, cand, &ncand);
    lavr_cudnn_desc_destroy(op);
    lavr_cudnn_desc_destroy(conv);
    lavr_cudnn_desc_destroy(x);
    lavr_cudnn_desc_destroy(w);
    lavr_cudnn_desc_destroy(y);
    if (st) return st;
    int best = 0;
    if (pre) {
        const lavr_cudnn_plan *p = pre->candidate < ncand ? &cand[pre->candidate] : NULL;
        if (p && p->heur_mode == pre->heur_mode && p->engine_index == pre->engine_index &&
            (tunable(p) || pre->candidate == 0)) {
            best = (int)pre->candidate;
        } else {
            char what[160];
            describe(k, what, sizeof what);
            LOG_WARN("cuDNN convolution %s: the record's engine (candidate %lld, %s list #%lld) is not what cuDNN "
                     "proposes now; tuning it", what, (long long)pre->candidate, lavr_cudnn_heur_mode_name(pre->heur_mode),
                     (long long)pre->engine_index);
            pre = NULL;
        }
    }
    const int tuned = !pre && c->tune > 1 && ncand > 1;
    if (tuned) st = fastest(c, cand, ncand < c->tune ? ncand : c->tune, ops, &best);
    if (!st && tuned) c->timed++;
    for (int i = 0; i < ncand; i++)
        if (i != best || st) lavr_cudnn_plan_destroy(&cand[i]);
    if (st) return st;
    e->plan = cand[best];
    e->candidate = best;
    st = tuned ? fit_workspace(c, e->plan.workspace_bytes) : grow_workspace(c, e->plan.workspace_bytes);
    if (st) lavr_cudnn_plan_destroy(&e->plan);
    return st;
}

/* The shape with unused dims zeroed, so that keys compare with memcmp. */
static lavr_cudnn_conv_shape key_of(const lavr_cudnn_conv_shape *s) {
    lavr_cudnn_conv_shape k;
    memset(&k, 0, sizeof k);
    k.n = s->n, k.cin = s->cin, k.cout = s->cout, k.spatial = s->spatial;
    for (int i = 0; i < s->spatial && i < 3; i++) {
        k.in[i] = s->in[i], k.k[i] = s->k[i], k.out[i] = s->out[i];
        k.stride[i] = s->stride[i], k.pre[i] = s->pre[i], k.post[i] = s->post[i];
    }
    return k;
}

static conv_entry *find(lavr_cuda_convs *c, const lavr_cudnn_conv_shape *k) {
    for (int i = 0; i < c->n; i++)
        if (!memcmp(&c->e[i].key, k, sizeof *k)) return &c->e[i];
    return NULL;
}

lavr_status lavr_cuda_convs_run(lavr_cuda_convs *c, const lavr_cudnn_conv_shape *s, const void *x, const void *w,
                                void *y, int *ran, int *entry) {
    *ran = 0;
    *entry = -1;
    const lavr_cudnn_conv_shape k = key_of(s);
    const conv_operands o = {x, w, y};
    conv_entry *e = find(c, &k);
    if (!e) {
        if (c->n == c->cap) {
            const int cap = c->cap ? 2 * c->cap : 64;
            conv_entry *grown = realloc(c->e, (size_t)cap * sizeof *grown);
            if (!grown) return LAVR_FAIL(LAVR_E_NOMEM, "cuda conv: no host memory for %d plans", cap);
            c->e = grown;
            c->cap = cap;
        }
        e = &c->e[c->n];
        memset(e, 0, sizeof *e);
        memcpy(&e->key, &k, sizeof k);
        lavr_status bs = build(c, &k, &o, e);
        if (bs && bs != LAVR_E_UNSUPPORTED) return bs;
        e->supported = bs == LAVR_OK;
        c->n++;
        if (!e->supported) {
            char what[160];
            describe(&k, what, sizeof what);
            LOG_WARN("cuDNN has no engine for the convolution %s; lavr's own kernel runs it (%s)", what,
                     lavr_error_message());
            lavr_error_clear();
        }
    }
    if (!e->supported) return LAVR_OK;
    *ran = 1;
    *entry = (int)(e - c->e);
    return run_plan(c, &e->plan, &o);
}

void lavr_cuda_convs_account(lavr_cuda_convs *c, int entry, double ms) {
    if (!c || entry < 0 || entry >= c->n) return;
    c->e[entry].timed_calls++;
    c->e[entry].timed_ms += ms;
}

void lavr_cuda_convs_account_reset(lavr_cuda_convs *c) {
    for (int i = 0; c && i < c->n; i++) c->e[i].timed_calls = 0, c->e[i].timed_ms = 0;
}

int lavr_cuda_convs_times(const lavr_cuda_convs *c, lavr_conv_time *rows, int max) {
    int n = 0;
    for (int i = 0; c && i < c->n; i++) {
        const conv_entry *e = &c->e[i];
        if (!e->supported || !e->timed_calls) continue;
        if (n < max) {
            lavr_conv_time *r = &rows[n];
            memset(r, 0, sizeof *r);
            describe(&e->key, r->shape, sizeof r->shape);
            double macs = (double)e->key.n * (double)e->key.cin * (double)e->key.cout;
            for (int d = 0; d < e->key.spatial; d++) macs *= (double)e->key.out[d] * (double)e->key.k[d];
            r->gflop = 2e-9 * macs;
            r->calls = e->timed_calls;
            r->ms = e->timed_ms;
            r->candidate = e->candidate;
            r->workspace_bytes = e->plan.workspace_bytes;
        }
        n++;
    }
    return n;
}

void lavr_cuda_convs_tag(const lavr_cuda_convs *c, lavr_conv_record_tag *out) { *out = c->tag; }

int64_t lavr_cuda_convs_timed(const lavr_cuda_convs *c) { return c ? c->timed : 0; }

int64_t lavr_cuda_convs_passed_over(const lavr_cuda_convs *c) { return c ? c->passed_over : 0; }

lavr_status lavr_cuda_convs_preload(lavr_cuda_convs *c, const lavr_conv_record *r, int64_t *taken) {
    *taken = 0;
    if (!lavr_conv_record_same_tag(&r->tag, &c->tag)) {
        char had[384], have[384];
        lavr_conv_record_describe(&r->tag, had, sizeof had);
        lavr_conv_record_describe(&c->tag, have, sizeof have);
        LOG_WARN("conv engine record for %s ignored on %s: the engines are tuned", had, have);
        return LAVR_OK;
    }
    for (int64_t i = 0; i < r->n; i++) {
        lavr_cudnn_conv_shape k;
        memcpy(&k, r->choice[i].key, sizeof k);
        if (find(c, &k)) continue;
        int added = 0;
        TRY(lavr_conv_record_add(&c->preload, &r->choice[i], &added));
        *taken += added;
    }
    return LAVR_OK;
}

lavr_status lavr_cuda_convs_export(const lavr_cuda_convs *c, lavr_conv_record *out) {
    lavr_conv_record_init(out, &c->tag);
    for (int i = 0; i < c->n; i++) {
        const conv_entry *e = &c->e[i];
        if (!e->supported) continue;
        lavr_conv_choice ch = {.candidate = e->candidate, .heur_mode = e->plan.heur_mode,
                               .engine_index = e->plan.engine_index, .workspace_bytes = e->plan.workspace_bytes};
        memcpy(ch.key, &e->key, sizeof ch.key);
        lavr_status st = lavr_conv_record_add(out, &ch, NULL);
        if (st) {
            lavr_conv_record_free(out);
            return st;
        }
    }
    return LAVR_OK;
}

#else

struct lavr_cuda_convs {
    int unused;
};

lavr_status lavr_cuda_convs_create(lavr_cudnn *dnn, int tune, lavr_cuda_convs **out) {
    (void)dnn, (void)tune;
    *out = NULL;
    return LAVR_FAIL(LAVR_E_UNSUPPORTED, "this lavr was built without cuDNN");
}
void lavr_cuda_convs_destroy(lavr_cuda_convs *c) { (void)c; }
lavr_status lavr_cuda_convs_run(lavr_cuda_convs *c, const lavr_cudnn_conv_shape *s, const void *x, const void *w,
                                void *y, int *ran, int *entry) {
    (void)c, (void)s, (void)x, (void)w, (void)y;
    *ran = 0;
    *entry = -1;
    return LAVR_OK;
}
void lavr_cuda_convs_account(lavr_cuda_convs *c, int entry, double ms) { (void)c, (void)entry, (void)ms; }
void lavr_cuda_convs_account_reset(lavr_cuda_convs *c) { (void)c; }
int lavr_cuda_convs_times(const lavr_cuda_convs *c, lavr_conv_time *rows, int max) {
    (void)c, (void)rows, (void)max;
    return 0;
}
size_t lavr_cuda_convs_workspace_bytes(const lavr_cuda_convs *c) {
    (void)c;
    return 0;
}
void lavr_cuda_convs_tag(const lavr_cuda_convs *c, lavr_conv_record_tag *out) {
    (void)c;
    memset(out, 0, sizeof *out);
}
lavr_status lavr_cuda_convs_preload(lavr_cuda_convs *c, const lavr_conv_record *r, int64_t *taken) {
    (void)c, (void)r;
    *taken = 0;
    return LAVR_OK;
}
lavr_status lavr_cuda_convs_export(const lavr_cuda_convs *c, lavr_conv_record *out) {
    (void)c;
    lavr_conv_record_init(out, NULL);
    return LAVR_OK;
}
int64_t lavr_cuda_convs_timed(const lavr_cuda_convs *c) {
    (void)c;
    return 0;
}
int64_t lavr_cuda_convs_passed_over(const lavr_cuda_convs *c) {
    (void)c;
    return 0;
}

#endif
