/* The device buffers of the CUDA DiT (models/dit_cuda.c) as plain numbers, in every build: the list of what the
 * model allocates from its arena and how big each block is, so the model's allocations and the planner's
 * prediction (parallel/plan.c) come from the same code. */
#ifndef LAVR_MODELS_DIT_DEV_H
#define LAVR_MODELS_DIT_DEV_H

#include <stdint.h>

#include "core/status.h"
#include "models/config.h"
#include "models/dit.h"

/* FP8 scale scalars sit this many floats (256 bytes) apart: cuBLASLt wants aligned scale pointers. */
#define LAVR_DIT_DEV_SCALE_STRIDE 64

/* The shape of one device model: a tp shard of the layers [lb, le) for latent h x w. */
typedef struct {
    lavr_dit_geometry geo;
    int64_t d, dh, H, D, ff, NA, F, L, S, R, T, W, head_out, text_dim, in_dim, out_dim;
    int64_t lb, le, nl;  /* layer range and its length */
    int64_t rows_any;    /* rows of the widest row statistics: max(R, T, F * NA) */
    int tp, fp8, contiguous;
    int first, last;     /* the range starts at layer 0 (embeddings) / ends at the last layer (head) */
    int injectors;       /* audio injectors after layers of the range */
    int n_inject;        /* the model's injectors and the layers they follow */
    int64_t inject_layers[LAVR_MAX_INJECT];
} lavr_dit_dev_dims;

/* Checks what lavr_dit_cuda_create_opts checks about the shape (tp divides heads and FFN, FP8 widths, the range). */
lavr_status lavr_dit_dev_dims_of(const lavr_dit_config *cfg, int tp, int fp8, int contiguous, int64_t layer_begin,
                                 int64_t layer_end, int64_t h, int64_t w, lavr_dit_dev_dims *out);

/* What lavr_dit_cuda_create allocates, in its order: the weights (linears, fp32 vectors, the text K/V), then the
 * working buffers and the rank's sink. */
typedef enum {
    LAVR_DD_PATCH, LAVR_DD_COND_BIAS, LAVR_DD_COND_MASK, LAVR_DD_FP_PROJ, LAVR_DD_FP_PROJ2, LAVR_DD_FP_PROJ4,
    LAVR_DD_TEXT0, LAVR_DD_TEXT2, LAVR_DD_HEAD_W,
    LAVR_DD_HEAD_B, LAVR_DD_HEAD_MOD, LAVR_DD_MODULATION,
    /* per layer (index = global layer) */
    LAVR_DD_QKV, LAVR_DD_CQ, LAVR_DD_CK, LAVR_DD_CV, LAVR_DD_SO, LAVR_DD_CO, LAVR_DD_FFN0, LAVR_DD_FFN2,
    LAVR_DD_S_NORM_Q, LAVR_DD_S_NORM_K, LAVR_DD_C_NORM_Q, LAVR_DD_C_NORM_K, LAVR_DD_NORM3_W, LAVR_DD_NORM3_B,
    /* per audio injector (index = injector) */
    LAVR_DD_I_Q, LAVR_DD_I_KV, LAVR_DD_I_O, LAVR_DD_I_ADAIN, LAVR_DD_I_NORM_Q, LAVR_DD_I_NORM_K,
    LAVR_DD_TEXT_K, LAVR_DD_TEXT_V,
    /* working buffers */
    LAVR_DD_E, LAVR_DD_ONES, LAVR_DD_X32, LAVR_DD_Y32, LAVR_DD_SS, LAVR_DD_FAC_BLOCK, LAVR_DD_FAC_SINK,
    LAVR_DD_HEAD_Y, LAVR_DD_EMB, LAVR_DD_STATS, LAVR_DD_A_BF, LAVR_DD_QKV_OUT, LAVR_DD_Q_BF, LAVR_DD_ATT,
    LAVR_DD_O2, LAVR_DD_OB, LAVR_DD_HID, LAVR_DD_KB, LAVR_DD_OP, LAVR_DD_GS_BF, LAVR_DD_AL_BF, LAVR_DD_EMB_BF,
    LAVR_DD_EMB32, LAVR_DD_KVX, LAVR_DD_K_BF, LAVR_DD_XQ, LAVR_DD_FP8_SCALARS, LAVR_DD_DPARAMS, LAVR_DD_SINK_LATENTS,
    LAVR_DD_SINK_K, LAVR_DD_SINK_V,
    LAVR_DD_COUNT
} lavr_dit_dev_id;

typedef enum {
    LAVR_DD_LINEAR, /* weight [out, in] bf16 or e4m3, bias [out] bf16, FP8: one scale per part */
    LAVR_DD_VECTOR, /* n fp32 values */
    LAVR_DD_BUFFER, /* bytes */
} lavr_dit_dev_kind;

typedef enum { LAVR_DD_WEIGHTS, LAVR_DD_TEXTKV, LAVR_DD_WORK, LAVR_DD_SINK } lavr_dit_dev_group;

typedef struct {
    lavr_dit_dev_id id;
    lavr_dit_dev_kind kind;
    lavr_dit_dev_group group;
    int64_t index;    /* the layer or injector of per-layer items, else -1 */
    const char *what; /* the arena's label */
    int64_t out, in, parts; /* LINEAR: parts stacked along out, each its own checkpoint tensor and FP8 scale */
    int split;        /* LINEAR: 1 rows of the tp rank, 2 columns of the tp rank, 0 whole */
    int fp8;          /* LINEAR: stored in e4m3 */
    int64_t n;        /* VECTOR: fp32 values */
    uint64_t bytes;   /* BUFFER: bytes */
} lavr_dit_dev_item;

typedef lavr_status (*lavr_dit_dev_fn)(void *user, const lavr_dit_dev_item *item);
lavr_status lavr_dit_dev_walk(const lavr_dit_dev_dims *d, lavr_dit_dev_fn fn, void *user);

/* The arena blocks of a LINEAR item: weight, bias and (FP8) the scales; 0 for a block it does not have. */
void lavr_dit_dev_linear_blocks(const lavr_dit_dev_item *l, uint64_t bytes[3]);
/* Rows of a step cache's layer: the window, plus the sink in the contiguous layout. */
int64_t lavr_dit_dev_layer_rows(const lavr_dit_dev_dims *d);
/* One of a step cache's window K / V blocks: [layers][layer rows][dh] bf16. */
uint64_t lavr_dit_dev_window_bytes(const lavr_dit_dev_dims *d);
/* A step cache's device sink positions: [sink][3] int64. */
uint64_t lavr_dit_dev_sink_pos_bytes(const lavr_dit_dev_dims *d);
/* Floats of a device activation (lavr_dit_cuda_act_create): x [R, d], e and e0 (7d), a_loc and a_glob. */
int64_t lavr_dit_dev_act_floats(const lavr_dit_dev_dims *d);
/* Floats of the sink's latents on the device (first pp index): reference [C, 1, h, w] then motion [C, 19, h, w]. */
int64_t lavr_dit_dev_sink_latent_floats(const lavr_dit_dev_dims *d);
/* bf16 values of the weight staging buffer: the largest single tensor of a Linear. */
int64_t lavr_dit_dev_staging_values(const lavr_dit_dev_dims *d);
/* The three temporary blocks of lavr_dit_cuda_set_context: text hidden, text embedding, one layer's text K. */
void lavr_dit_dev_context_blocks(const lavr_dit_dev_dims *d, uint64_t bytes[3]);
/* An FP8 operand buffer's size in bytes (values), the largest quantised GEMM input. */
int64_t lavr_dit_dev_xq_bytes(const lavr_dit_dev_dims *d);

/* The DiT's causal audio encoder on the device (models/dit_audio_cuda.c), held by the first pp index beside the
 * model: conv and final_linear weights in bf16 (widened to fp32 a chunk of rows at a time for the fp32 GEMMs),
 * biases, padding token and layer weights in fp32, the block's audio frames, the working buffers of one encode and
 * the memo of the last LAVR_DIT_DEV_AUDIO_MEMO encoded blocks' tokens. */
#define LAVR_DIT_DEV_AUDIO_MEMO 4      /* blocks in flight on a rank: at most 4 */
#define LAVR_DIT_DEV_AUDIO_WIDE (1 << 22) /* floats of the fp32 weight chunk (16 MiB), at least one weight row */
typedef struct {
    int64_t S, A, d, NT, nseq;   /* states, audio width, model width, local tokens, sequences (NT local + global) */
    int64_t c1, c2, c3;          /* conv1 (per token), conv2, conv3 output channels (d/4, d/2, d) */
    int64_t prefix, frames, T, t2, t4, keep, F; /* 73 replicated + 4F frames -> conv2 -> conv3, kept from `keep` */
    int64_t tokens;              /* floats of a block's a_loc [F][NT+1][d] and a_glob [F][d] */
} lavr_dit_dev_audio_dims;
lavr_status lavr_dit_dev_audio_dims_of(const lavr_dit_config *cfg, lavr_dit_dev_audio_dims *out);
typedef enum {
    LAVR_DA_CONV1_LOCAL_W, LAVR_DA_CONV1_LOCAL_B, LAVR_DA_CONV1_GLOBAL_W, LAVR_DA_CONV1_GLOBAL_B, LAVR_DA_CONV2_W,
    LAVR_DA_CONV2_B, LAVR_DA_CONV3_W, LAVR_DA_CONV3_B, LAVR_DA_FINAL_W, LAVR_DA_FINAL_B, LAVR_DA_PADDING,
    LAVR_DA_LAYER_W,
    /* working buffers */
    LAVR_DA_FRAMES, LAVR_DA_FEAT, LAVR_DA_TAPS, LAVR_DA_Y1, LAVR_DA_Y2, LAVR_DA_Y3, LAVR_DA_WIDE, LAVR_DA_MEMO,
    LAVR_DA_COUNT
} lavr_dit_dev_audio_id;
typedef struct {
    lavr_dit_dev_audio_id id;
    int weights;      /* 1: a weight (the plan's weights column), 0: a working buffer */
    const char *what; /* the arena's label */
    uint64_t bytes;
} lavr_dit_dev_audio_item;
typedef lavr_status (*lavr_dit_dev_audio_fn)(void *user, const lavr_dit_dev_audio_item *item);
/* What the encoder allocates, in its order. */
lavr_status lavr_dit_dev_audio_walk(const lavr_dit_dev_audio_dims *a, lavr_dit_dev_audio_fn fn, void *user);
/* Weight rows widened per GEMM of a weight [out, k] (LAVR_DIT_DEV_AUDIO_WIDE floats, at least one row). */
int64_t lavr_dit_dev_audio_chunk_rows(int64_t out, int64_t k);
/* Arena bytes of the encoder: its weights and its working buffers (with the memo). */
lavr_status lavr_dit_dev_audio_bytes(const lavr_dit_config *cfg, uint64_t *weights, uint64_t *work);

/* Arena bytes (each block rounded up to the arena's alignment) by what they hold. */
typedef struct {
    uint64_t weights, text_kv, work, sink; /* held from lavr_dit_cuda_create on */
    uint64_t staging;                      /* during the weight upload / generation, then freed */
    uint64_t context;                      /* during lavr_dit_cuda_set_context, then freed */
    uint64_t cache;                        /* one step cache: window K and V, sink positions */
    uint64_t act;                          /* one device activation */
} lavr_dit_dev_bytes;
lavr_status lavr_dit_dev_bytes_of(const lavr_dit_dev_dims *d, lavr_dit_dev_bytes *out);
/* A block of n bytes as the device arena counts it (LAVR_DEVICE_ARENA_ALIGN multiples, 0 counts as 1). */
uint64_t lavr_dit_dev_aligned(uint64_t n);

#endif
