/* cuDNN through its backend C API, shared by the fused attention and the convolutions: a handle bound to a
 * stream, tensor descriptors, and one finalised execution plan per operation graph (heuristics, then the
 * first engine config that finalises). Without cuDNN in the build every entry point is LAVR_E_UNSUPPORTED. */
#ifndef LAVR_KERNELS_CUDA_CUDNN_GRAPH_H
#define LAVR_KERNELS_CUDA_CUDNN_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* cuDNN's run-time version (e.g. 91900 for 9.19.0); 0 when the build has no cuDNN or the library does not load. */
size_t lavr_cudnn_version(void);
/* "cuDNN 9.19.0" or "no cuDNN (built without it)" for logs and `lavr topo`. */
void lavr_cudnn_describe(char *buf, size_t len);

typedef struct lavr_cudnn lavr_cudnn;
/* A handle on the current device issuing work to stream (NULL = legacy default stream). Not thread-safe. */
lavr_status lavr_cudnn_create(void *stream, lavr_cudnn **out);
void lavr_cudnn_destroy(lavr_cudnn *c);
void *lavr_cudnn_raw(lavr_cudnn *c); /* the cudnnHandle_t */

/* The pieces of a graph, as opaque cudnnBackendDescriptor_t pointers. */
typedef void *lavr_cudnn_desc;
typedef enum { LAVR_CUDNN_BF16, LAVR_CUDNN_F32, LAVR_CUDNN_I32, LAVR_CUDNN_F16, LAVR_CUDNN_FP8_E4M3 } lavr_cudnn_type;
typedef struct {
    int64_t uid;
    lavr_cudnn_type type;
    int ndim;
    int64_t dims[8], strides[8]; /* elements */
    int by_value;                /* a host scalar passed in the variant pack (e.g. the attention scale) */
    int is_virtual;              /* an intermediate of a fused graph, never in memory */
    int64_t alignment;           /* bytes; 0 = 16 */
} lavr_cudnn_tensor_spec;
lavr_status lavr_cudnn_tensor(const lavr_cudnn_tensor_spec *s, lavr_cudnn_desc *out);
void lavr_cudnn_desc_destroy(lavr_cudnn_desc d);

/* A plan: graph of `nops` finalised operation descriptors -> heuristics (mode A, mode B, then the fallback list) ->
 * the first engine config that finalises, with its workspace size. The op descriptors stay the caller's. */
typedef struct {
    lavr_cudnn_desc plan;
    int64_t workspace_bytes;
    int64_t heur_mode;    /* the list the engine came from: 0 CUDNN_HEUR_MODE_A, 1 CUDNN_HEUR_MODE_B, 2 fallback */
    int64_t engine_index; /* its index within that list */
    int64_t engines_tried;
    int64_t numerical_notes; /* bit n set: the engine carries cudnnBackendNumericalNote_t n (e.g. NONDETERMINISTIC) */
} lavr_cudnn_plan;
/* bits of lavr_cudnn_plan.numerical_notes (cuDNN's enum values) */
#define LAVR_CUDNN_NOTE_REDUCED_PRECISION_REDUCTION (1 << 2)
#define LAVR_CUDNN_NOTE_NONDETERMINISTIC (1 << 4)
lavr_status lavr_cudnn_plan_build(lavr_cudnn *c, lavr_cudnn_desc *ops, int nops, const char *what,
                                  lavr_cudnn_plan *out);
/* Up to max plans in the heuristics' order (mode A's list, mode B's, then the fallback list), for a caller that
 * times them (mode A's first 16 hold no fast engine for some shapes: docs/cuda.md);
 * *count of them are filled (the rest zeroed); none at all is LAVR_E_UNSUPPORTED. */
lavr_status lavr_cudnn_plan_candidates(lavr_cudnn *c, lavr_cudnn_desc *ops, int nops, const char *what, int max,
                                       lavr_cudnn_plan *out, int *count);
void lavr_cudnn_plan_destroy(lavr_cudnn_plan *p);
#define LAVR_CUDNN_HEUR_MODES 3
const char *lavr_cudnn_heur_mode_name(int64_t mode); /* "mode A", "mode B", "fallback" */
/* Runs a plan: n (uid, pointer) pairs and a device workspace of at least plan->workspace_bytes. */
lavr_status lavr_cudnn_execute(lavr_cudnn *c, const lavr_cudnn_plan *p, int n, const int64_t *uids, void *const *ptrs,
                               void *workspace);

#endif
