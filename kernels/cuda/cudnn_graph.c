/* lavr's thin layer over cuDNN's backend C API (kernels/cuda/cudnn_graph.h): descriptor helpers, plan building
 * by heuristics with fallbacks, variant packs. Plain C: the backend API is C, and only host code runs here. */
#include "kernels/cuda/cudnn_graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if LAVR_HAVE_CUDNN

#include "kernels/cuda/cuda_check.h"

struct lavr_cudnn {
    cudnnHandle_t handle;
};

size_t lavr_cudnn_version(void) { return cudnnGetVersion(); }

void lavr_cudnn_describe(char *buf, size_t len) {
    const size_t v = cudnnGetVersion();
    snprintf(buf, len, "cuDNN %zu.%zu.%zu", v / 10000, (v / 100) % 100, v % 100);
}

lavr_status lavr_cudnn_create(void *stream, lavr_cudnn **out) {
    *out = NULL;
    lavr_cudnn *c = calloc(1, sizeof *c);
    if (!c) return LAVR_FAIL(LAVR_E_NOMEM, "cudnn: no host memory for a handle");
    cudnnStatus_t s = cudnnCreate(&c->handle);
    if (s != CUDNN_STATUS_SUCCESS) {
        free(c);
        return LAVR_FAIL(LAVR_E_CUDA, "cudnnCreate: %s", cudnnGetErrorString(s));
    }
    s = cudnnSetStream(c->handle, (cudaStream_t)stream);
    if (s != CUDNN_STATUS_SUCCESS) {
        cudnnDestroy(c->handle);
        free(c);
        return LAVR_FAIL(LAVR_E_CUDA, "cudnnSetStream: %s", cudnnGetErrorString(s));
    }
    *out = c;
    return LAVR_OK;
}

void lavr_cudnn_destroy(lavr_cudnn *c) {
    if (!c) return;
    cudnnDestroy(c->handle);
    free(c);
}

void *lavr_cudnn_raw(lavr_cudnn *c) { return c->handle; }

static cudnnDataType_t type_of(lavr_cudnn_type t) {
    switch (t) {
    case LAVR_CUDNN_BF16: return CUDNN_DATA_BFLOAT16;
    case LAVR_CUDNN_F16: return CUDNN_DATA_HALF;
    case LAVR_CUDNN_I32: return CUDNN_DATA_INT32;
    case LAVR_CUDNN_FP8_E4M3: return CUDNN_DATA_FP8_E4M3;
    case LAVR_CUDNN_F32: break;
    }
    return CUDNN_DATA_FLOAT;
}

#define SET(d, attr, type, n, ptr) CUDNN_TRY(cudnnBackendSetAttribute((d), (attr), (type), (n), (ptr)))

static lavr_status tensor_fill(cudnnBackendDescriptor_t t, const lavr_cudnn_tensor_spec *s) {
    const cudnnDataType_t dt = type_of(s->type);
    const int64_t align = s->alignment ? s->alignment : 16;
    SET(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &s->uid);
    SET(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt);
    SET(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align);
    SET(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, s->ndim, s->dims);
    SET(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, s->ndim, s->strides);
    if (s->by_value) {
        const int yes = 1;
        SET(t, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &yes);
    }
    if (s->is_virtual) {
        const int yes = 1;
        SET(t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &yes);
    }
    CUDNN_TRY(cudnnBackendFinalize(t));
    return LAVR_OK;
}

lavr_status lavr_cudnn_tensor(const lavr_cudnn_tensor_spec *s, lavr_cudnn_desc *out) {
    *out = NULL;
    CHECK_ARG(s->ndim >= 1 && s->ndim <= 8, "cudnn tensor: %d dimensions", s->ndim);
    cudnnBackendDescriptor_t t;
    CUDNN_TRY(cudnnBackendCreateDescriptor(CUDNN_BACKEND_TENSOR_DESCRIPTOR, &t));
    lavr_status st = tensor_fill(t, s);
    if (st) {
        cudnnBackendDestroyDescriptor(t);
        return st;
    }
    *out = t;
    return LAVR_OK;
}

void lavr_cudnn_desc_destroy(lavr_cudnn_desc d) {
    if (d) cudnnBackendDestroyDescriptor((cudnnBackendDescriptor_t)d);
}

_Static_assert(LAVR_CUDNN_NOTE_NONDETERMINISTIC == 1 << CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC &&
                   LAVR_CUDNN_NOTE_REDUCED_PRECISION_REDUCTION == 1 << CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION,
               "note bits are cuDNN's values");

/* The numerical notes of an engine config's engine as bits (0 when cuDNN does not say). */
static int64_t numerical_notes(cudnnBackendDescriptor_t cfg) {
    cudnnBackendDescriptor_t engine;
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &engine) != CUDNN_STATUS_SUCCESS) return 0;
    int64_t got = 0, n = 0, bits = 0;
    cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
    if (cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &got, &engine) ==
            CUDNN_STATUS_SUCCESS &&
        cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                 CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &n, notes) == CUDNN_STATUS_SUCCESS)
        for (int64_t i = 0; i < n && i < CUDNN_NUMERICAL_NOTE_TYPE_COUNT; i++)
            if ((int)notes[i] >= 0 && (int)notes[i] < 62) bits |= (int64_t)1 << (int)notes[i];
    cudnnBackendDestroyDescriptor(engine);
    return bits;
}

/* The engine configs a heuristic mode proposes for the graph (count in *n; caller frees each and the array). */
static lavr_status heuristics(cudnnBackendDescriptor_t graph, cudnnBackendHeurMode_t mode,
                              cudnnBackendDescriptor_t **cfgs, int64_t *n) {
    *cfgs = NULL;
    *n = 0;
    cudnnBackendDescriptor_t heur;
    CUDNN_TRY(cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, &heur));
    lavr_status st = LAVR_OK;
    cudnnStatus_t cs = cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH,
                                                CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph);
    if (cs == CUDNN_STATUS_SUCCESS)
        cs = cudnnBackendSetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
    if (cs == CUDNN_STATUS_SUCCESS) cs = cudnnBackendFinalize(heur);
    int64_t count = 0;
    if (cs == CUDNN_STATUS_SUCCESS)
        cs = cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count,
                                      NULL);
    if (cs == CUDNN_STATUS_SUCCESS && count > 0) {
        cudnnBackendDescriptor_t *c = calloc((size_t)count, sizeof *c);
        if (!c) {
            st = LAVR_FAIL(LAVR_E_NOMEM, "cudnn: %lld engine configs", (long long)count);
        } else {
            int64_t made = 0;
            for (; made < count && cs == CUDNN_STATUS_SUCCESS; made++)
                cs = cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, &c[made]);
            int64_t got = 0;
            if (cs == CUDNN_STATUS_SUCCESS)
                cs = cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                              count, &got, c);
            if (cs != CUDNN_STATUS_SUCCESS) {
                for (int64_t i = 0; i < made; i++)
                    if (c[i]) cudnnBackendDestroyDescriptor(c[i]);
                free(c);
            } else {
                for (int64_t i = got; i < count; i++) cudnnBackendDestroyDescriptor(c[i]);
                *cfgs = c;
                *n = got;
            }
        }
    }
    cudnnBackendDestroyDescriptor(heur);
    if (st) return st;
    /* a mode that has nothing for this graph is not an error: the caller tries the next one */
    return LAVR_OK;
}

lavr_status lavr_cudnn_plan_candidates(lavr_cudnn *c, lavr_cudnn_desc *ops, int nops, const char *what, int max,
                                       lavr_cudnn_plan *out, int *count) {
    *count = 0;
    for (int i = 0; i < max; i++) memset(&out[i], 0, sizeof out[i]);
    cudnnBackendDescriptor_t graph;
    CUDNN_TRY(cudnnBackendCreateDescriptor(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, &graph));
    cudnnStatus_t cs = cudnnBackendSetAttribute(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &c->handle);
    if (cs == CUDNN_STATUS_SUCCESS)
        cs = cudnnBackendSetAttribute(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, nops, ops);
    if (cs == CUDNN_STATUS_SUCCESS) cs = cudnnBackendFinalize(graph);
    if (cs != CUDNN_STATUS_SUCCESS) {
        char why[512];
        cudnnGetLastErrorString(why, sizeof why);
        cudnnBackendDestroyDescriptor(graph);
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "cuDNN does not take the %s graph: %s%s%s", what, cudnnGetErrorString(cs),
                         why[0] ? ": " : "", why);
    }
    /* lavr_cudnn_plan.heur_mode is the index in this list */
    const cudnnBackendHeurMode_t modes[LAVR_CUDNN_HEUR_MODES] = {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_B,
                                                                  CUDNN_HEUR_MODE_FALLBACK};
    lavr_status st = LAVR_OK;
    int64_t tried = 0;
    for (int m = 0; m < LAVR_CUDNN_HEUR_MODES && *count < max && !st; m++) {
        cudnnBackendDescriptor_t *cfg = NULL;
        int64_t n = 0;
        st = heuristics(graph, modes[m], &cfg, &n);
        for (int64_t i = 0; i < n && !st; i++) {
            if (*count < max) {
                tried++;
                cudnnBackendDescriptor_t p;
                if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &p) == CUDNN_STATUS_SUCCESS) {
                    if (cudnnBackendSetAttribute(p, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &c->handle) ==
                            CUDNN_STATUS_SUCCESS &&
                        cudnnBackendSetAttribute(p, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
                                                 CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg[i]) == CUDNN_STATUS_SUCCESS &&
                        cudnnBackendFinalize(p) == CUDNN_STATUS_SUCCESS) {
                        int64_t cnt = 0, ws = 0;
                        if (cudnnBackendGetAttribute(p, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1,
                                                     &cnt, &ws) == CUDNN_STATUS_SUCCESS) {
                            out[*count].plan = p;
                            out[*count].workspace_bytes = ws;
                            out[*count].heur_mode = m;
                            out[*count].numerical_notes = numerical_notes(cfg[i]);
                            out[*count].engine_index = i;
                            ++*count;
                        } else {
                            cudnnBackendDestroyDescriptor(p);
                        }
                    } else {
                        cudnnBackendDestroyDescriptor(p);
                    }
                }
            }
            cudnnBackendDestroyDescriptor(cfg[i]);
        }
        free(cfg);
    }
    cudnnBackendDestroyDescriptor(graph);
    for (int i = 0; i < *count; i++) out[i].engines_tried = tried;
    if (st) {
        for (int i = 0; i < *count; i++) lavr_cudnn_plan_destroy(&out[i]);
        *count = 0;
        return st;
    }
    if (!*count)
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "cuDNN has no engine for the %s graph (%lld configs tried)", what,
                         (long long)tried);
    return LAVR_OK;
}

lavr_status lavr_cudnn_plan_build(lavr_cudnn *c, lavr_cudnn_desc *ops, int nops, const char *what,
                                  lavr_cudnn_plan *out) {
    int count = 0;
    return lavr_cudnn_plan_candidates(c, ops, nops, what, 1, out, &count);
}

void lavr_cudnn_plan_destroy(lavr_cudnn_plan *p) {
    if (p && p->plan) cudnnBackendDestroyDescriptor(p->plan);
    if (p) memset(p, 0, sizeof *p);
}

lavr_status lavr_cudnn_execute(lavr_cudnn *c, const lavr_cudnn_plan *p, int n, const int64_t *uids, void *const *ptrs,
                               void *workspace) {
    cudnnBackendDescriptor_t vp;
    CUDNN_TRY(cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &vp));
    cudnnStatus_t cs = cudnnBackendSetAttribute(vp, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, n, uids);
    if (cs == CUDNN_STATUS_SUCCESS)
        cs = cudnnBackendSetAttribute(vp, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, n, ptrs);
    if (cs == CUDNN_STATUS_SUCCESS)
        cs = cudnnBackendSetAttribute(vp, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
    if (cs == CUDNN_STATUS_SUCCESS) cs = cudnnBackendFinalize(vp);
    if (cs == CUDNN_STATUS_SUCCESS) cs = cudnnBackendExecute(c->handle, p->plan, vp);
    cudnnBackendDestroyDescriptor(vp);
    if (cs != CUDNN_STATUS_SUCCESS) {
        char why[512];
        cudnnGetLastErrorString(why, sizeof why);
        return LAVR_FAIL(LAVR_E_CUDA, "cudnnBackendExecute: %s%s%s", cudnnGetErrorString(cs), why[0] ? ": " : "", why);
    }
    return LAVR_OK;
}

#else /* no cuDNN in this build */

size_t lavr_cudnn_version(void) { return 0; }
void lavr_cudnn_describe(char *buf, size_t len) { snprintf(buf, len, "no cuDNN (built without it)"); }
lavr_status lavr_cudnn_create(void *stream, lavr_cudnn **out) {
    (void)stream;
    *out = NULL;
    return LAVR_FAIL(LAVR_E_UNSUPPORTED, "this lavr was built without cuDNN");
}
void lavr_cudnn_destroy(lavr_cudnn *c) { (void)c; }
void *lavr_cudnn_raw(lavr_cudnn *c) {
    (void)c;
    return NULL;
}
lavr_status lavr_cudnn_tensor(const lavr_cudnn_tensor_spec *s, lavr_cudnn_desc *out) {
    (void)s;
    *out = NULL;
    return LAVR_FAIL(LAVR_E_UNSUPPORTED, "this lavr was built without cuDNN");
}
void lavr_cudnn_desc_destroy(lavr_cudnn_desc d) { (void)d; }
lavr_status lavr_cudnn_plan_build(lavr_cudnn *c, lavr_cudnn_desc *ops, int nops, const char *what,
                                  lavr_cudnn_plan *out) {
    (void)c, (void)ops, (void)nops;
    memset(out, 0, sizeof *out);
    return LAVR_FAIL(LAVR_E_UNSUPPORTED, "the %s graph needs cuDNN, and this lavr was built without it", what);
}
lavr_status lavr_cudnn_plan_candidates(lavr_cudnn *c, lavr_cudnn_desc *ops, int nops, const char *what, int max,
                                       lavr_cudnn_plan *out, int *count) {
    (void)c, (void)ops, (void)nops, (void)out, (void)max;
    *count = 0;
    return LAVR_FAIL(LAVR_E_UNSUPPORTED, "the %s graph needs cuDNN, and this lavr was built without it", what);
}
void lavr_cudnn_plan_destroy(lavr_cudnn_plan *p) { (void)p; }
lavr_status lavr_cudnn_execute(lavr_cudnn *c, const lavr_cudnn_plan *p, int n, const int64_t *uids, void *const *ptrs,
                               void *workspace) {
    (void)c, (void)p, (void)n, (void)uids, (void)ptrs, (void)workspace;
    return LAVR_FAIL(LAVR_E_UNSUPPORTED, "this lavr was built without cuDNN");
}

#endif

const char *lavr_cudnn_heur_mode_name(int64_t mode) {
    return mode == 0 ? "mode A" : mode == 1 ? "mode B" : mode == 2 ? "fallback" : "?";
}
