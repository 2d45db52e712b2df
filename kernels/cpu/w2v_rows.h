/* CPU reference of wav2vec2's row ops (kernels/w2v_ops.h) on F32 row tensors, over the float ops of
 * kernels/ops.h, with bf16 rounding at each op's output when asked; called by kernels/w2v_ops.c after its checks. */
#ifndef LAVR_KERNELS_CPU_W2V_ROWS_H
#define LAVR_KERNELS_CPU_W2V_ROWS_H

#include "kernels/ops.h"
#include "kernels/w2v_ops.h"

/* Takes w and b (b may be NULL or empty); with round, values stored wider than bf16 are rounded to bf16. */
lavr_status lavr_cpu_wop_weights(lavr_tensor *w, lavr_tensor *b, int round, lavr_wop_weights *out);
lavr_status lavr_cpu_wop_linear(const lavr_tensor *x, const lavr_wop_weights *w, int round, lavr_tensor *y);
lavr_status lavr_cpu_wop_layernorm(const lavr_tensor *x, const lavr_tensor *gamma, const lavr_tensor *beta, float eps,
                                   int round, lavr_tensor *y);
lavr_status lavr_cpu_wop_gelu(const lavr_tensor *x, int round, lavr_tensor *y);
lavr_status lavr_cpu_wop_add(const lavr_tensor *a, const lavr_tensor *b, int round, lavr_tensor *y);
lavr_status lavr_cpu_wop_conv1d(const lavr_tensor *x, const lavr_wop_weights *w, int64_t stride, int64_t pad_left,
                                int64_t pad_right, int round, lavr_tensor *y);
lavr_status lavr_cpu_wop_attention_fold(lavr_attention_state *st, const lavr_tensor *q, const lavr_tensor *k,
                                        const lavr_tensor *v, int64_t heads, int first);
lavr_status lavr_cpu_wop_attention_finish(lavr_attention_state *st, int round, lavr_tensor *out);

#endif
