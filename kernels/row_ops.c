/* Row ops (kernels/row_ops.h): checks that every operand is a row tensor of the context's device with consistent
 * shapes, then runs the CPU reference here (on kernels/cpu's ops, fp32 values rounded at the op's output when asked)
 * or the CUDA version (kernels/cuda/row_ops_cuda.c). */
#include "kernels/row_ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/dtype.h"
#include "kernels/ctx_internal.h"
#include "kernels/ops.h"
#if LAVR_HAVE_CUDA
#include "kernels/cuda/row_ops_cuda.h"
#endif

#if LAVR_HAVE_CUDA
#define ON_CUDA(c, call) \
    if ((c)->device == LAVR_DEVICE_CUDA) return (call)
#else
#define ON_CUDA(c, call) \
    if ((c)->device == LAVR_DEVICE_CUDA) return LAVR_FAIL(LAVR_E_INTERNAL, "a CUDA context in a build without CUDA")
#endif

static const char *device_name(lavr_device_type d) { return d == LAVR_DEVICE_CUDA ? "cuda" : "cpu"; }

static lavr_dtype row_dtype(const lavr_ctx *c) { return c->device == LAVR_DEVICE_CUDA ? LAVR_BF16 : LAVR_F32; }

/* A row operand of the context: [rows, cols] contiguous in the context's row type. */
static lavr_status check_rows(const lavr_ctx *c, const lavr_tensor *t, const char *op, const char *what) {
    char buf[96];
    if (!t || !t->data) return LAVR_FAIL(LAVR_E_INTERNAL, "%s: no %s tensor", op, what);
    if (t->device != c->device)
        return LAVR_FAIL(LAVR_E_INTERNAL, "%s: %s lives on %s, the context is %s", op, what, device_name(t->device),
                         device_name(c->device));
    if (t->ndim != 2 || t->shape[0] < 1 || t->shape[1] < 1 || t->dtype != row_dtype(c) || t->stride[1] != 1 ||
        t->stride[0] != t->shape[1])
        return LAVR_FAIL(LAVR_E_INTERNAL, "%s: %s %s is not a row tensor of a %s context", op, what,
                         lavr_tensor_describe(t, buf, sizeof buf), device_name(c->device));
    return LAVR_OK;
}

/* A contiguous tensor of the context's device with the given dtype, rank and element count (NULL when optional). */
static lavr_status check_table(const lavr_ctx *c, const lavr_tensor *t, lavr_dtype dt, int ndim, int64_t numel,
                               int optional, const char *op, const char *what) {
    if (!t) return optional ? LAVR_OK : LAVR_FAIL(LAVR_E_INTERNAL, "%s: no %s", op, what);
    char buf[96];
    if (!t->data || t->device != c->device || t->dtype != dt || t->ndim != ndim || lavr_tensor_numel(t) != numel ||
        !lavr_tensor_is_contiguous(t))
        return LAVR_FAIL(LAVR_E_INTERNAL, "%s: %s %s is not a contiguous %s tensor of %lld values on the context's "
                         "device", op, what, lavr_tensor_describe(t, buf, sizeof buf), lavr_dtype_name(dt),
                         (long long)numel);
    return LAVR_OK;
}

static lavr_status check_round(const lavr_ctx *c, int round, const char *op) {
    if (c->device == LAVR_DEVICE_CUDA && !round)
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "%s: CUDA row tensors are bf16, so results are always rounded "
                                             "(fp32 activations run on the CPU only)", op);
    return LAVR_OK;
}

static lavr_status same_shape(const lavr_tensor *a, const lavr_tensor *b, const char *op) {
    if (!lavr_tensor_same_shape(a, b)) {
        char x[96], y[96];
        return LAVR_FAIL(LAVR_E_INTERNAL, "%s: shapes %s and %s differ", op, lavr_tensor_describe(a, x, sizeof x),
                         lavr_tensor_describe(b, y, sizeof y));
    }
    return LAVR_OK;
}

static int64_t numel(const lavr_tensor *t) { return t->shape[0] * t->shape[1]; }
static float *f32(const lavr_tensor *t) { return (float *)t->data; }

/* ---- tensors ---------------------------------------------------------------------------------------- */

lavr_status lavr_ctx_alloc_rows(lavr_ctx *c, int64_t rows, int64_t cols, const char *what, lavr_tensor *out) {
    memset(out, 0, sizeof *out);
    CHECK_ARG(rows > 0 && cols > 0, "%s: row tensor [%lld, %lld]", what, (long long)rows, (long long)cols);
    const int64_t shape[2] = {rows, cols};
    if (c->device == LAVR_DEVICE_CPU) return lavr_tensor_alloc(c->host, LAVR_F32, 2, shape, what, out);
    ON_CUDA(c, lavr_cuda_ctx_alloc_tensor(c, LAVR_BF16, 2, shape, what, out));
    return LAVR_OK;
}

lavr_status lavr_ctx_alloc_f32(lavr_ctx *c, int ndim, const int64_t *shape, const char *what, lavr_tensor *out) {
    memset(out, 0, sizeof *out);
    CHECK_ARG(ndim >= 1 && ndim <= LAVR_MAX_DIMS && shape, "%s: an F32 tensor of rank %d", what, ndim);
    for (int i = 0; i < ndim; i++) CHECK_ARG(shape[i] > 0, "%s: dimension %d is %lld", what, i, (long long)shape[i]);
    if (c->device == LAVR_DEVICE_CPU) return lavr_tensor_alloc(c->host, LAVR_F32, ndim, shape, what, out);
    ON_CUDA(c, lavr_cuda_ctx_alloc_tensor(c, LAVR_F32, ndim, shape, what, out));
    return LAVR_OK;
}

lavr_status lavr_ctx_upload(lavr_ctx *c, const lavr_tensor *host, const char *what, lavr_tensor *out) {
    memset(out, 0, sizeof *out);
    CHECK_ARG(host && host->data && host->device == LAVR_DEVICE_CPU && lavr_tensor_is_contiguous(host) &&
                  (host->dtype == LAVR_F32 || host->dtype == LAVR_I32 || host->dtype == LAVR_I64),
              "%s: lavr_ctx_upload takes a contiguous F32, I32 or I64 host tensor", what);
    if (c->device == LAVR_DEVICE_CPU) {
        TRY(lavr_tensor_alloc(c->host, host->dtype, host->ndim, host->shape, what, out));
        memcpy(out->data, host->data, (size_t)lavr_tensor_nbytes(host));
        return LAVR_OK;
    }
    ON_CUDA(c, lavr_cuda_ctx_upload_tensor(c, host, what, out));
    return LAVR_OK;
}

lavr_status lavr_ctx_download(lavr_ctx *c, const lavr_tensor *src, lavr_tensor *host) {
    CHECK_ARG(src && host && src->data && host->data && src->device == c->device &&
                  host->device == LAVR_DEVICE_CPU && src->dtype == host->dtype && lavr_tensor_same_shape(src, host) &&
                  lavr_tensor_is_contiguous(src) && lavr_tensor_is_contiguous(host),
              "lavr_ctx_download: a contiguous tensor of the context and a host tensor of its dtype and shape");
    ON_CUDA(c, lavr_cuda_ctx_download_tensor(c, src, host));
    memmove(host->data, src->data, (size_t)lavr_tensor_nbytes(src));
    return LAVR_OK;
}

lavr_status lavr_rop_upload(lavr_ctx *c, const float *host, lavr_tensor *dst) {
    CHECK_ARG(host, "row upload: no host values");
    TRY(check_rows(c, dst, "row upload", "destination"));
    ON_CUDA(c, lavr_cuda_rop_upload(c, host, dst));
    memcpy(dst->data, host, (size_t)numel(dst) * sizeof(float));
    return LAVR_OK;
}

lavr_status lavr_rop_download(lavr_ctx *c, const lavr_tensor *src, float *host) {
    CHECK_ARG(host, "row download: no host buffer");
    TRY(check_rows(c, src, "row download", "source"));
    ON_CUDA(c, lavr_cuda_rop_download(c, src, host));
    memcpy(host, src->data, (size_t)numel(src) * sizeof(float));
    return LAVR_OK;
}

lavr_status lavr_rop_copy(lavr_ctx *c, const lavr_tensor *x, lavr_tensor *y) {
    static const char op[] = "row copy";
    TRY(check_rows(c, x, op, "input"));
    TRY(check_rows(c, y, op, "output"));
    TRY(same_shape(x, y, op));
    ON_CUDA(c, lavr_cuda_rop_copy(c, x, y));
    memmove(y->data, x->data, (size_t)numel(x) * sizeof(float));
    return LAVR_OK;
}

/* ---- linear weights ------------------------------------------------------------------------------------ */

lavr_status lavr_ctx_linear_weights(lavr_ctx *c, lavr_tensor *weight, lavr_tensor *bias, lavr_linear_weights *out) {
    memset(out, 0, sizeof *out);
    CHECK_ARG(weight && weight->data && weight->ndim == 2 && lavr_tensor_is_contiguous(weight) &&
                  (!bias || (bias->data && bias->ndim == 1 && bias->shape[0] == weight->shape[0] &&
                             lavr_tensor_is_contiguous(bias))),
              "lavr_ctx_linear_weights: a contiguous weight [out, in] and a bias [out] or none are required");
    out->out = weight->shape[0];
    out->in = weight->shape[1];
    if (c->device == LAVR_DEVICE_CPU) {
        out->weight = *weight;
        memset(weight, 0, sizeof *weight);
        if (bias) {
            out->bias = *bias;
            memset(bias, 0, sizeof *bias);
        }
        return LAVR_OK;
    }
    ON_CUDA(c, lavr_cuda_ctx_linear_weights(c, weight, bias, out));
    return LAVR_OK;
}

uint32_t lavr_row_random_u24(uint64_t seed, uint64_t index) {
    uint64_t z = seed + (index + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (uint32_t)(z >> 40);
}

lavr_status lavr_ctx_linear_weights_random(lavr_ctx *c, int64_t out, int64_t in, uint64_t seed,
                                           lavr_linear_weights *w) {
    return lavr_ctx_linear_weights_random_scaled(c, out, in, seed, 1.0f, w);
}

lavr_status lavr_ctx_linear_weights_random_scaled(lavr_ctx *c, int64_t out, int64_t in, uint64_t seed, float gain,
                                                  lavr_linear_weights *w) {
    memset(w, 0, sizeof *w);
    CHECK_ARG(out > 0 && in > 0 && gain > 0, "random linear weights [%lld, %lld], gain %g", (long long)out,
              (long long)in, (double)gain);
    w->out = out;
    w->in = in;
    const float a = gain * sqrtf(3.0f / (float)in);
    if (c->device == LAVR_DEVICE_CPU) {
        TRY(lavr_tensor_alloc(c->host, LAVR_BF16, 2, (int64_t[]){out, in}, "random linear weight", &w->weight));
        uint16_t *p = w->weight.data;
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < out * in; i++)
            p[i] = lavr_f32_to_bf16(a * (2.0f * ((float)lavr_row_random_u24(seed, (uint64_t)i) * 0x1p-24f) - 1.0f));
        return LAVR_OK;
    }
    ON_CUDA(c, lavr_cuda_ctx_linear_weights_random(c, out, in, seed, a, w));
    return LAVR_OK;
}

void lavr_ctx_linear_weights_free(lavr_ctx *c, lavr_linear_weights *w) {
    if (!w) return;
    lavr_ctx_free(c, &w->weight);
    lavr_ctx_free(c, &w->bias);
}

/* ---- ops ----------------------------------------------------------------------------------------------- */

static void round_if(int round, const lavr_tensor *y) {
    if (round) lavr_op_round_bf16(f32(y), numel(y));
}

lavr_status lavr_rop_linear(lavr_ctx *c, const lavr_tensor *x, const lavr_linear_weights *w, int round,
                            lavr_tensor *y) {
    static const char op[] = "linear";
    TRY(check_rows(c, x, op, "input"));
    TRY(check_rows(c, y, op, "output"));
    TRY(check_round(c, round, op));
    CHECK_ARG(w && w->weight.data, "linear: no weights");
    if (x->shape[1] != w->in || y->shape[1] != w->out || y->shape[0] != x->shape[0])
        return LAVR_FAIL(LAVR_E_INTERNAL, "linear %lld -> %lld: input [%lld, %lld], output [%lld, %lld]",
                         (long long)w->in, (long long)w->out, (long long)x->shape[0], (long long)x->shape[1],
                         (long long)y->shape[0], (long long)y->shape[1]);
    if (x->data == y->data) return LAVR_FAIL(LAVR_E_INTERNAL, "linear: the output is the input");
    ON_CUDA(c, lavr_cuda_rop_linear(c, x, w, y));
    TRY(lavr_op_linear(f32(x), x->shape[0], w->in, &w->weight, w->bias.data ? &w->bias : NULL, f32(y)));
    round_if(round, y);
    return LAVR_OK;
}

lavr_status lavr_rop_rms_norm(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *gain, float eps, int round,
                              lavr_tensor *y) {
    static const char op[] = "rms_norm";
    TRY(check_rows(c, x, op, "input"));
    TRY(check_rows(c, y, op, "output"));
    TRY(same_shape(x, y, op));
    TRY(check_table(c, gain, LAVR_F32, 1, x->shape[1], 0, op, "gain"));
    TRY(check_round(c, round, op));
    ON_CUDA(c, lavr_cuda_rop_rms_norm(c, x, gain, eps, y));
    const int64_t rows = x->shape[0], cols = x->shape[1];
    TRY(lavr_op_rmsnorm(f32(x), rows, cols, eps, f32(y)));
    round_if(round, y);
    float *v = f32(y);
    const float *g = f32(gain);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < cols; i++) v[r * cols + i] *= g[i];
    round_if(round, y);
    return LAVR_OK;
}

lavr_status lavr_rop_layer_norm(lavr_ctx *c, const lavr_tensor *x, const lavr_tensor *gamma, const lavr_tensor *beta,
                                float eps, int round, lavr_tensor *y) {
    static const char op[] = "layer_norm";
    TRY(check_rows(c, x, op, "input"));
    TRY(check_rows(c, y, op, "output"));
    TRY(same_shape(x, y, op));
    TRY(check_table(c, gamma, LAVR_F32, 1, x->shape[1], 1, op, "gamma"));
    TRY(check_table(c, beta, LAVR_F32, 1, x->shape[1], 1, op, "beta"));
    TRY(check_round(c, round, op));
    ON_CUDA(c, lavr_cuda_rop_layer_norm(c, x, gamma, beta, eps, y));
    TRY(lavr_op_layernorm(f32(x), x->shape[0], x->shape[1], gamma, beta, eps, f32(y)));
    round_if(round, y);
    return LAVR_OK;
}

/* Wan's T5 GELU as bf16 tensor arithmetic: replaying its roundings moves the golden `short` output from rel L2
 * 1.44% (one fp32 GELU rounded once) to 1.22%. */
static void gelu_tanh_bf16(const float *x, int64_t n, float *y) {
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        const float cube = lavr_round_bf16(v * v * v);
        const float inner = lavr_round_bf16(v + lavr_round_bf16(0.044715f * cube));
        const float t = lavr_round_bf16(tanhf(lavr_round_bf16(0.7978845608f * inner)));
        y[i] = lavr_round_bf16(lavr_round_bf16(0.5f * v) * lavr_round_bf16(1.0f + t));
    }
}

lavr_status lavr_rop_gelu(lavr_ctx *c, const lavr_tensor *x, lavr_gelu_kind kind, int round, lavr_tensor *y) {
    static const char op[] = "gelu";
    TRY(check_rows(c, x, op, "input"));
    TRY(check_rows(c, y, op, "output"));
    TRY(same_shape(x, y, op));
    TRY(check_round(c, round, op));
    CHECK_ARG(kind == LAVR_GELU_ERF || kind == LAVR_GELU_TANH || kind == LAVR_GELU_TANH_BF16, "gelu: kind %d",
              (int)kind);
    ON_CUDA(c, lavr_cuda_rop_gelu(c, x, kind, y));
    if (kind == LAVR_GELU_ERF) lavr_op_gelu_erf(f32(x), numel(x), f32(y));
    else if (kind == LAVR_GELU_TANH) lavr_op_gelu_tanh(f32(x), numel(x), f32(y));
    else gelu_tanh_bf16(f32(x), numel(x), f32(y));
    round_if(round, y);
    return LAVR_OK;
}

static lavr_status binary(lavr_ctx *c, const lavr_tensor *a, const lavr_tensor *b, int mul, int round,
                          lavr_tensor *y) {
    const char *op = mul ? "mul" : "add";
    TRY(check_rows(c, a, op, "first operand"));
    TRY(check_rows(c, b, op, "second operand"));
    TRY(check_rows(c, y, op, "output"));
    TRY(same_shape(a, b, op));
    TRY(same_shape(a, y, op));
    TRY(check_round(c, round, op));
    ON_CUDA(c, lavr_cuda_rop_binary(c, a, b, mul, y));
    const float *pa = f32(a), *pb = f32(b);
    float *py = f32(y);
    const int64_t n = numel(a);
    if (mul)
        for (int64_t i = 0; i < n; i++) py[i] = pa[i] * pb[i];
    else
        for (int64_t i = 0; i < n; i++) py[i] = pa[i] + pb[i];
    round_if(round, y);
    return LAVR_OK;
}

lavr_status lavr_rop_add(lavr_ctx *c, const lavr_tensor *a, const lavr_tensor *b, int round, lavr_tensor *y) {
    return binary(c, a, b, 0, round, y);
}

lavr_status lavr_rop_mul(lavr_ctx *c, const lavr_tensor *a, const lavr_tensor *b, int round, lavr_tensor *y) {
    return binary(c, a, b, 1, round, y);
}

lavr_status lavr_rop_position_bias(lavr_ctx *c, const lavr_tensor *table, const lavr_tensor *bucket,
                                   const lavr_tensor *key_mask, lavr_tensor *bias) {
    static const char op[] = "position_bias";
    CHECK_ARG(bias && bias->ndim == 3 && bucket && bucket->ndim == 2 && table && table->ndim == 2,
              "position_bias: table [buckets, H], bucket [Lq, Lk] and bias [H, Lq, Lk] are required");
    const int64_t H = bias->shape[0], Lq = bias->shape[1], Lk = bias->shape[2], nb = table->shape[0];
    TRY(check_table(c, bias, LAVR_F32, 3, H * Lq * Lk, 0, op, "bias"));
    TRY(check_table(c, table, LAVR_F32, 2, nb * H, 0, op, "table"));
    TRY(check_table(c, bucket, LAVR_I32, 2, Lq * Lk, 0, op, "bucket"));
    TRY(check_table(c, key_mask, LAVR_F32, 1, Lk, 1, op, "key mask"));
    if (table->shape[1] != H || bucket->shape[0] != Lq || bucket->shape[1] != Lk)
        return LAVR_FAIL(LAVR_E_INTERNAL, "position_bias: table [%lld, %lld] and bucket [%lld, %lld] do not match "
                         "bias [%lld, %lld, %lld]", (long long)nb, (long long)table->shape[1],
                         (long long)bucket->shape[0], (long long)bucket->shape[1], (long long)H, (long long)Lq,
                         (long long)Lk);
    ON_CUDA(c, lavr_cuda_rop_position_bias(c, table, bucket, key_mask, bias));
    const int32_t *bk = bucket->data;
    for (int64_t i = 0; i < Lq * Lk; i++)
        CHECK_ARG(bk[i] >= 0 && bk[i] < nb, "position_bias: bucket %d at %lld is outside [0, %lld)", (int)bk[i],
                  (long long)i, (long long)nb);
    const float *tb = f32(table), *mask = key_mask ? f32(key_mask) : NULL;
    float *out = f32(bias);
#pragma omp parallel for
    for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < Lq; i++)
            for (int64_t j = 0; j < Lk; j++)
                out[(h * Lq + i) * Lk + j] = mask && mask[j] == 0.0f ? LAVR_BF16_LOWEST : tb[bk[i * Lk + j] * H + h];
    return LAVR_OK;
}

/* The operand checks shared by both attention row ops. */
static lavr_status check_attention(lavr_ctx *c, const lavr_tensor *q, const lavr_tensor *k, const lavr_tensor *v,
                                   int64_t heads, const lavr_tensor *bias, int round, const lavr_tensor *out) {
    static const char op[] = "attention";
    TRY(check_rows(c, q, op, "q"));
    TRY(check_rows(c, k, op, "k"));
    TRY(check_rows(c, v, op, "v"));
    TRY(check_rows(c, out, op, "output"));
    TRY(same_shape(q, out, op));
    TRY(same_shape(k, v, op));
    TRY(check_round(c, round, op));
    const int64_t Lq = q->shape[0], Lk = k->shape[0], HD = q->shape[1];
    CHECK_ARG(heads > 0 && HD % heads == 0 && k->shape[1] == HD,
              "attention: %lld heads over q [%lld, %lld] and k [%lld, %lld]", (long long)heads, (long long)Lq,
              (long long)HD, (long long)Lk, (long long)k->shape[1]);
    if (bias) {
        TRY(check_table(c, bias, LAVR_F32, 3, heads * Lq * Lk, 0, op, "bias"));
        CHECK_ARG(bias->shape[0] == heads && bias->shape[1] == Lq && bias->shape[2] == Lk,
                  "attention: bias is not [%lld, %lld, %lld]", (long long)heads, (long long)Lq, (long long)Lk);
    }
    if (out->data == q->data || out->data == k->data || out->data == v->data)
        return LAVR_FAIL(LAVR_E_INTERNAL, "attention: the output overlaps an input");
    return LAVR_OK;
}

lavr_status lavr_rop_attention(lavr_ctx *c, const lavr_tensor *q, const lavr_tensor *k, const lavr_tensor *v,
                               int64_t heads, float scale, const lavr_tensor *bias, int round, lavr_tensor *out) {
    TRY(check_attention(c, q, k, v, heads, bias, round, out));
    const int64_t Lq = q->shape[0], Lk = k->shape[0], HD = q->shape[1];
    ON_CUDA(c, lavr_cuda_rop_attention(c, q, k, v, heads, scale, bias, 0, out));
    const lavr_kv_segment kv = {.dtype = LAVR_F32, .k = k->data, .v = v->data, .len = Lk, .row_stride = HD};
    TRY(lavr_op_attention(f32(q), Lq, heads, HD / heads, HD, &kv, 1, scale, bias ? f32(bias) : NULL, f32(out)));
    round_if(round, out);
    return LAVR_OK;
}

lavr_status lavr_rop_attention_eager(lavr_ctx *c, const lavr_tensor *q, const lavr_tensor *k, const lavr_tensor *v,
                                     int64_t heads, const lavr_tensor *bias, lavr_tensor *out) {
    TRY(check_attention(c, q, k, v, heads, bias, 1, out));
    ON_CUDA(c, lavr_cuda_rop_attention(c, q, k, v, heads, 1.0f, bias, 1, out));
    TRY(lavr_op_attention_eager(f32(q), q->shape[0], heads, q->shape[1] / heads, f32(k), f32(v), k->shape[0],
                                bias ? f32(bias) : NULL, f32(out)));
    round_if(1, out);
    return LAVR_OK;
}
