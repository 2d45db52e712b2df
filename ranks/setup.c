/* The setup broadcast of a render (ranks/setup.h): one message with the sizes, then one with the
 * buffers, so receivers can size the second from the first. */
#include <stdlib.h>
#include <string.h>

#include "parallel/schedule.h"
#include "ranks/setup.h"

enum { SETUP_CLIPS, SETUP_C, SETUP_H, SETUP_W, SETUP_MOTION, SETUP_ROWS, SETUP_TEXT_DIM, SETUP_START };

lavr_status lavr_setup_bcast(lavr_comm *c, int root, lavr_render_setup *s) {
    const int is_root = lavr_comm_rank(c) == root;
    lavr_msg m;
    lavr_msg_init(&m);
    if (is_root) {
        m.ints[SETUP_CLIPS] = s->clips;
        m.ints[SETUP_C] = s->C;
        m.ints[SETUP_H] = s->h;
        m.ints[SETUP_W] = s->w;
        m.ints[SETUP_MOTION] = s->motion_latents;
        m.ints[SETUP_ROWS] = s->context_rows;
        m.ints[SETUP_TEXT_DIM] = s->text_dim;
        m.ints[SETUP_START] = s->start_block;
    }
    lavr_status st = lavr_comm_bcast(c, root, &m);
    if (st) goto done;
    if (!is_root) {
        memset(s, 0, sizeof *s);
        s->clips = m.ints[SETUP_CLIPS];
        s->C = m.ints[SETUP_C];
        s->h = m.ints[SETUP_H];
        s->w = m.ints[SETUP_W];
        s->motion_latents = m.ints[SETUP_MOTION];
        s->context_rows = m.ints[SETUP_ROWS];
        s->text_dim = m.ints[SETUP_TEXT_DIM];
        s->start_block = m.ints[SETUP_START];
        s->owned = 1;
        s->context = malloc((size_t)(s->context_rows * s->text_dim) * sizeof(float));
        s->ref = malloc((size_t)(s->C * s->h * s->w) * sizeof(float));
        s->motion = malloc((size_t)(s->C * s->motion_latents * s->h * s->w) * sizeof(float));
        if (!s->context || !s->ref || !s->motion) {
            st = LAVR_FAIL(LAVR_E_NOMEM, "out of memory for the render's conditioning (%lld context rows, latent %lldx%lld)",
                           (long long)s->context_rows, (long long)s->h, (long long)s->w);
            goto done;
        }
    }
    lavr_msg_clear_parts(&m);
    /* the context is bf16 values (T5 output); the VAE latents are fp32 and travel as such */
    TRY_GOTO(lavr_msg_add(&m, s->context, s->context_rows * s->text_dim, LAVR_WIRE_BF16), st, done);
    TRY_GOTO(lavr_msg_add(&m, s->ref, s->C * s->h * s->w, LAVR_WIRE_F32), st, done);
    TRY_GOTO(lavr_msg_add(&m, s->motion, s->C * s->motion_latents * s->h * s->w, LAVR_WIRE_F32), st, done);
    st = lavr_comm_bcast(c, root, &m);
done:
    lavr_msg_free(&m);
    return st;
}

/* Point to point, not a broadcast: a rank waiting here when another one fails can leave the wait cleanly
 * (parallel/comm.h's faults), where a broadcast would stay pending. */
lavr_status lavr_setup_end(lavr_comm *c, int root, int64_t *stopped_at) {
    lavr_msg m;
    lavr_msg_init(&m);
    m.ints[0] = *stopped_at;
    lavr_status st = LAVR_OK;
    if (lavr_comm_rank(c) == root) {
        for (int peer = 0; peer < lavr_comm_size(c) && !st; peer++)
            if (peer != root) st = lavr_comm_send(c, peer, LAVR_TAG_END, &m);
    } else {
        st = lavr_comm_recv(c, root, LAVR_TAG_END, &m);
        if (!st) *stopped_at = m.ints[0];
    }
    lavr_msg_free(&m);
    return st;
}

void lavr_setup_free(lavr_render_setup *s) {
    if (s->owned) {
        free(s->context);
        free(s->ref);
        free(s->motion);
    }
    memset(s, 0, sizeof *s);
}
