/* What a DiT engine backend implements (ranks/dit_engine_cpu.c, ranks/dit_engine_cuda.c) and the
 * dispatch in ranks/dit_engine.c calls: one table of operations on the backend's own state. */
#ifndef LAVR_RANKS_DIT_ENGINE_INTERNAL_H
#define LAVR_RANKS_DIT_ENGINE_INTERNAL_H

#include "models/sampler.h"
#include "ranks/dit_engine.h"

typedef struct {
    void (*close)(void *impl);
    const lavr_dit_config *(*config)(const void *impl);
    void (*shard)(const void *impl, int64_t *head_begin, int64_t *heads, int64_t *layer_begin, int64_t *layer_end);
    lavr_status (*prepare)(void *impl, const float *context, int64_t rows, int64_t h, int64_t w, int ncaches);
    const lavr_dit_geometry *(*geometry)(const void *impl);
    lavr_dit_act *(*act)(void *impl);
    lavr_status (*act_to_host)(void *impl);
    lavr_status (*act_from_host)(void *impl);
    lavr_status (*act_send_device)(void *impl, lavr_nccl *c, int peer); /* NULL: not on this backend */
    lavr_status (*act_recv_device)(void *impl, lavr_nccl *c, int peer);
    lavr_status (*embed_sink)(void *impl, int cache, const float *ref, const float *motion);
    lavr_status (*embed_block)(void *impl, int cache, const lavr_dit_block_input *in);
    lavr_status (*forward)(void *impl, int cache);
    lavr_status (*head)(void *impl, int cache, float *velocity);
    lavr_status (*latent_put)(void *impl, const float *x);
    lavr_status (*latent_get)(void *impl, float *x);
    lavr_status (*head_step)(void *impl, int cache, const lavr_sampler *s, int step);
    lavr_status (*copy_sink)(void *impl, int dst, int src);
    lavr_status (*save)(void *impl, int cache, int step, int write_sink, lavr_ckpt_writer *w);
    lavr_status (*load)(void *impl, int cache, int step, lavr_ckpt *c);
    uint64_t (*peak_bytes)(const void *impl);
    uint64_t (*reserved_bytes)(const void *impl);
} lavr_dit_engine_ops;

/* Both backends: the rank's host shard (its layers and tp heads of the model file) with the MPI tp
 * all-reduce it was loaded with (*tp must be destroyed with lavr_tp_mpi_destroy). */
lavr_status lavr_dit_engine_load_host(const lavr_dit_engine_options *o, lavr_dit_tp *tp, lavr_dit **out);
/* The head and layer ranges of a host shard (lavr_dit_engine_shard). */
void lavr_dit_engine_ranges(const lavr_dit *m, int64_t *head_begin, int64_t *heads, int64_t *layer_begin,
                            int64_t *layer_end);

/* Each backend: loads the shard and returns its table and state. */
lavr_status lavr_dit_engine_cpu_open(const lavr_dit_engine_options *o, const lavr_dit_engine_ops **ops, void **impl);
#if LAVR_HAVE_CUDA
lavr_status lavr_dit_engine_cuda_open(const lavr_dit_engine_options *o, const lavr_dit_engine_ops **ops, void **impl);
#endif

#endif
