/* The render's message routes from the layout alone: stage s pp p tp t hands a block to pp p+1 tp t,
 * the last pp index loops it back to pp 0 for the stage's next step or passes it to the next stage,
 * and the last stage's tp 0 returns it clean to the aux rank. */
#include "parallel/schedule.h"

lavr_status lavr_schedule_init(const lavr_layout *layout, int64_t clips, lavr_schedule *out) {
    if (clips < 1) return LAVR_FAIL(LAVR_E_ARG, "a render needs at least one clip, got %lld", (long long)clips);
    out->layout = *layout;
    out->world_size = lavr_layout_ranks(layout);
    out->aux_rank = lavr_layout_dit_ranks(layout);
    out->clips = clips;
    out->blocks = clips * 4;
    /* one packet per pipeline slot plus one being decoded and one queued: enough to keep every
     * DiT rank busy, small enough to bound the aux's send buffers */
    out->inflight = layout->steps * layout->pp + 2;
    return LAVR_OK;
}

lavr_status lavr_schedule_dit_peers(const lavr_schedule *s, const lavr_role *role, lavr_dit_peers *out) {
    const lavr_layout *l = &s->layout;
    if (!role->is_dit) return LAVR_FAIL(LAVR_E_INTERNAL, "DiT peers asked for a rank that is not a DiT rank");
    int st = role->stage, p = role->pp_index, t = role->tp_index, last_pp = l->pp - 1;
    int several_steps = role->step_end - role->step_begin > 1;
    *out = (lavr_dit_peers){.stage = st, .pp_index = p, .tp_index = t, .step_begin = role->step_begin,
                            .step_end = role->step_end, .embeds = p == 0, .heads = p == last_pp,
                            .packet_from = -1, .loop_from = -1, .act_from = -1, .act_to = -1, .loop_to = -1,
                            .packet_to = -1, .packet_to_tag = LAVR_TAG_PACKET, .needs_ref = 0};
    if (out->embeds) {
        out->packet_from = st == 0 ? s->aux_rank : lavr_layout_dit_rank(l, st - 1, last_pp, t);
        if (l->pp > 1 && several_steps) out->loop_from = lavr_layout_dit_rank(l, st, last_pp, t);
        out->needs_ref = s->clips > 1;
    }
    if (p > 0) out->act_from = lavr_layout_dit_rank(l, st, p - 1, t);
    if (p < last_pp) out->act_to = lavr_layout_dit_rank(l, st, p + 1, t);
    if (out->heads) {
        if (l->pp > 1 && several_steps) out->loop_to = lavr_layout_dit_rank(l, st, 0, t);
        if (st + 1 < l->steps) {
            out->packet_to = lavr_layout_dit_rank(l, st + 1, 0, t);
        } else if (t == 0) {
            /* every tp rank holds the same latent (bit-identical all-reduce); one copy is enough */
            out->packet_to = s->aux_rank;
            out->packet_to_tag = LAVR_TAG_CLEAN;
        }
    }
    return LAVR_OK;
}

int lavr_schedule_feed_ranks(const lavr_schedule *s, int *ranks, int max) {
    int n = 0;
    for (int t = 0; t < s->layout.tp && n < max; t++) ranks[n++] = lavr_layout_dit_rank(&s->layout, 0, 0, t);
    return n;
}

int lavr_schedule_clean_rank(const lavr_schedule *s) {
    return lavr_layout_dit_rank(&s->layout, s->layout.steps - 1, s->layout.pp - 1, 0);
}

int lavr_schedule_ref_ranks(const lavr_schedule *s, int *ranks, int max) {
    int n = 0;
    for (int st = 0; st < s->layout.steps; st++)
        for (int t = 0; t < s->layout.tp && n < max; t++) ranks[n++] = lavr_layout_dit_rank(&s->layout, st, 0, t);
    return n;
}
