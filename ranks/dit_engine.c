/* The DiT engine's dispatch (ranks/dit_engine.h): picks the backend, then forwards every call to the
 * backend's table (ranks/dit_engine_internal.h). */
#include "ranks/dit_engine.h"

#include <stdlib.h>
#include <string.h>

#include "io/h5model.h"
#include "parallel/tp_mpi.h"
#include "ranks/dit_engine_internal.h"

struct lavr_dit_engine {
    lavr_backend backend;
    const lavr_dit_engine_ops *ops;
    void *impl;
};

const char *lavr_backend_name(lavr_backend b) { return b == LAVR_BACKEND_CUDA ? "cuda" : "cpu"; }

lavr_status lavr_backend_resolve(const char *text, int device, lavr_backend *out) {
    CHECK_ARG(text && out, "lavr_backend_resolve: NULL argument");
    if (strcmp(text, "cpu") == 0) {
        *out = LAVR_BACKEND_CPU;
    } else if (strcmp(text, "cuda") == 0) {
        if (!LAVR_HAVE_CUDA)
            return LAVR_FAIL(LAVR_E_ARG, "--backend cuda: this lavr was built without CUDA (reconfigure with "
                                         "-DLAVR_CUDA=ON, or use --backend cpu)");
        if (device < 0) return LAVR_FAIL(LAVR_E_ARG, "--backend cuda: this rank sees no CUDA device");
        *out = LAVR_BACKEND_CUDA;
    } else if (strcmp(text, "auto") == 0) {
        *out = LAVR_HAVE_CUDA && device >= 0 ? LAVR_BACKEND_CUDA : LAVR_BACKEND_CPU;
    } else {
        return LAVR_FAIL(LAVR_E_ARG, "--backend '%s': use auto, cpu or cuda", text);
    }
    return LAVR_OK;
}

lavr_status lavr_dit_engine_load_host(const lavr_dit_engine_options *o, lavr_dit_tp *tp, lavr_dit **out) {
    lavr_dit_shard shard = {.layer_begin = o->roles->role.layer_begin, .layer_end = o->roles->role.layer_end};
    TRY(lavr_tp_mpi_create(o->roles->tp, o->comm, tp));
    shard.tp = *tp;
    /* a generated model on the device: the host keeps only the embeddings, the device makes the rest */
    shard.embeddings_only = o->generated && o->backend == LAVR_BACKEND_CUDA;
    lavr_h5file *f = NULL;
    TRY(lavr_model_open(o->model_path, o->generated, &f));
    lavr_status st = lavr_dit_load_shard(f, "dit/", "/dit", &shard, out);
    lavr_status close_st = lavr_h5_close(f);
    return st ? st : close_st;
}

void lavr_dit_engine_ranges(const lavr_dit *m, int64_t *head_begin, int64_t *heads, int64_t *layer_begin,
                            int64_t *layer_end) {
    const lavr_dit_shard *s = lavr_dit_shard_of(m);
    *heads = m->heads;
    *head_begin = (int64_t)s->tp.rank * m->heads;
    *layer_begin = s->layer_begin;
    *layer_end = s->layer_end;
}

lavr_status lavr_dit_engine_open(const lavr_dit_engine_options *o, lavr_dit_engine **out) {
    CHECK_ARG(o && (o->model_path || o->generated) && o->roles && out, "lavr_dit_engine_open: NULL argument");
    *out = NULL;
    lavr_dit_engine *e = calloc(1, sizeof *e);
    if (!e) return LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the DiT engine");
    e->backend = o->backend;
    lavr_status st;
#if LAVR_HAVE_CUDA
    if (o->backend == LAVR_BACKEND_CUDA) st = lavr_dit_engine_cuda_open(o, &e->ops, &e->impl);
    else
#endif
        st = o->backend == LAVR_BACKEND_CPU ? lavr_dit_engine_cpu_open(o, &e->ops, &e->impl)
                                            : LAVR_FAIL(LAVR_E_UNSUPPORTED, "this build has no CUDA backend");
    if (st) {
        free(e);
        return st;
    }
    *out = e;
    return LAVR_OK;
}

void lavr_dit_engine_close(lavr_dit_engine *e) {
    if (!e) return;
    if (e->ops) e->ops->close(e->impl);
    free(e);
}

const lavr_dit_config *lavr_dit_engine_config(const lavr_dit_engine *e) { return e->ops->config(e->impl); }

void lavr_dit_engine_shard(const lavr_dit_engine *e, int64_t *head_begin, int64_t *heads, int64_t *layer_begin,
                           int64_t *layer_end) {
    e->ops->shard(e->impl, head_begin, heads, layer_begin, layer_end);
}

lavr_status lavr_dit_engine_prepare(lavr_dit_engine *e, const float *context, int64_t rows, int64_t h, int64_t w,
                                    int ncaches) {
    CHECK_ARG(ncaches >= 1 && ncaches <= 4, "lavr_dit_engine_prepare: %d caches (1..4)", ncaches);
    return e->ops->prepare(e->impl, context, rows, h, w, ncaches);
}

const lavr_dit_geometry *lavr_dit_engine_geometry(const lavr_dit_engine *e) { return e->ops->geometry(e->impl); }
lavr_dit_act *lavr_dit_engine_act(lavr_dit_engine *e) { return e->ops->act(e->impl); }
lavr_status lavr_dit_engine_act_to_host(lavr_dit_engine *e) { return e->ops->act_to_host(e->impl); }
lavr_status lavr_dit_engine_act_from_host(lavr_dit_engine *e) { return e->ops->act_from_host(e->impl); }

lavr_status lavr_dit_engine_act_send_device(lavr_dit_engine *e, lavr_nccl *c, int peer) {
    if (!e->ops->act_send_device)
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "the %s DiT engine sends its act through the host only",
                         lavr_backend_name(e->backend));
    return e->ops->act_send_device(e->impl, c, peer);
}

lavr_status lavr_dit_engine_act_recv_device(lavr_dit_engine *e, lavr_nccl *c, int peer) {
    if (!e->ops->act_recv_device)
        return LAVR_FAIL(LAVR_E_UNSUPPORTED, "the %s DiT engine takes its act through the host only",
                         lavr_backend_name(e->backend));
    return e->ops->act_recv_device(e->impl, c, peer);
}

lavr_status lavr_dit_engine_embed_sink(lavr_dit_engine *e, int cache, const float *ref, const float *motion) {
    return e->ops->embed_sink(e->impl, cache, ref, motion);
}

lavr_status lavr_dit_engine_embed_block(lavr_dit_engine *e, int cache, const lavr_dit_block_input *in) {
    return e->ops->embed_block(e->impl, cache, in);
}

lavr_status lavr_dit_engine_forward(lavr_dit_engine *e, int cache) { return e->ops->forward(e->impl, cache); }

lavr_status lavr_dit_engine_head(lavr_dit_engine *e, int cache, float *velocity) {
    return e->ops->head(e->impl, cache, velocity);
}

lavr_status lavr_dit_engine_latent_put(lavr_dit_engine *e, const float *x) { return e->ops->latent_put(e->impl, x); }
lavr_status lavr_dit_engine_latent_get(lavr_dit_engine *e, float *x) { return e->ops->latent_get(e->impl, x); }

lavr_status lavr_dit_engine_head_step(lavr_dit_engine *e, int cache, const lavr_sampler *s, int step) {
    return e->ops->head_step(e->impl, cache, s, step);
}

lavr_status lavr_dit_engine_copy_sink(lavr_dit_engine *e, int dst, int src) {
    return e->ops->copy_sink(e->impl, dst, src);
}

lavr_status lavr_dit_engine_save(lavr_dit_engine *e, int cache, int step, int write_sink, lavr_ckpt_writer *w) {
    return e->ops->save(e->impl, cache, step, write_sink, w);
}

lavr_status lavr_dit_engine_load(lavr_dit_engine *e, int cache, int step, lavr_ckpt *c) {
    return e->ops->load(e->impl, cache, step, c);
}

uint64_t lavr_dit_engine_peak_bytes(const lavr_dit_engine *e) { return e->ops->peak_bytes(e->impl); }
uint64_t lavr_dit_engine_reserved_bytes(const lavr_dit_engine *e) { return e->ops->reserved_bytes(e->impl); }
