/* CPU reference of wav2vec2's ops (kernels/w2v_ops.h) on F32 row tensors, over the float ops of kernels/ops.h, with
 * bf16 rounding at each op's output when asked; called by kernels/w2v_ops.c after its checks. */
#ifndef LAVR_KERNELS_CPU_W2V_ROWS_H
#define LAVR_KERNELS_CPU_W2V_ROWS_H

#include "kernels/ops.h"
#include "kernels/w2v_ops.h"

lavr_status lavr_cpu_wop_conv1d(const lavr_tensor *x, const lavr_wop_conv *w, int64_t stride, int64_t pad_left,
                                int64_t pad_right, int round, lavr_tensor *y);
lavr_status lavr_cpu_wop_attention_fold(lavr_attention_state *st, const lavr_tensor *q, const lavr_tensor *k,
                                        const lavr_tensor *v, int64_t heads, int first);
lavr_status lavr_cpu_wop_attention_finish(lavr_attention_state *st, int round, lavr_tensor *out);

#endif
