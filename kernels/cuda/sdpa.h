/* Fused scaled-dot-product attention on bf16 token-major tensors through cuDNN's SDPA_FWD operation (cuDNN >= 9.13):
 * one plan per shape (built once, e.g. at prepare time, and cached), optional softmax statistics so that two calls
 * over key segments can be merged (lavr_cuda_attn_merge). Without cuDNN, or where cuDNN has no engine for a shape,
 * lavr_cuda_sdpa_ready says so and the caller runs lavr_cuda_attention_bf16 (kernels/cuda/ops_cuda.h) instead. */
#ifndef LAVR_KERNELS_CUDA_SDPA_H
#define LAVR_KERNELS_CUDA_SDPA_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "kernels/cuda/cudnn_graph.h"

#define LAVR_CUDNN_SDPA_MIN_VERSION 91300 /* CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR */

/* One attention problem. q [batch][lq tokens][heads][head_dim], k/v [batch][lk][heads][head_dim], o like q; the
 * strides are in elements between consecutive tokens (row) and batch items (batch). stats (optional):
 * fp32 [batch][heads][lq], the natural-log log-sum-exp of the scaled scores of each query row. */
typedef struct {
    int64_t batch, heads, lq, lk, head_dim;
    const uint16_t *q, *k, *v;
    uint16_t *o;
    int64_t q_row, q_batch, kv_row, kv_batch, o_row, o_batch;
    int64_t v_row, v_batch; /* v's own strides when they differ from k's (0: kv_row, kv_batch) */
    float *stats;
    float scale;
} lavr_sdpa_args;

typedef struct lavr_cuda_sdpa lavr_cuda_sdpa;
/* A plan cache on a cuDNN handle; LAVR_E_UNSUPPORTED (with the reason) when cuDNN is missing or older than
 * 9.13. The plans' workspace is one device buffer grown with cudaMalloc while plans are built (never during a run). */
lavr_status lavr_cuda_sdpa_create(lavr_cudnn *dnn, lavr_cuda_sdpa **out);
void lavr_cuda_sdpa_destroy(lavr_cuda_sdpa *s);
/* Builds (or finds) the plan of a's shape. Returns 1 when cuDNN runs it, 0 when it has no engine for it (the
 * caller falls back); errors other than "unsupported" are returned through *st. */
int lavr_cuda_sdpa_ready(lavr_cuda_sdpa *s, const lavr_sdpa_args *a, lavr_status *st);
/* Runs a shape that lavr_cuda_sdpa_ready accepted (it is built on first use otherwise). */
lavr_status lavr_cuda_sdpa_run(lavr_cuda_sdpa *s, const lavr_sdpa_args *a);
/* Bytes of device workspace held for the plans. */
size_t lavr_cuda_sdpa_workspace_bytes(const lavr_cuda_sdpa *s);

#endif
