/* The rank layout `steps=S,tp=T,pp=P,aux=A`: S pipeline stages over the 4 denoising steps, each stage
 * T x P DiT ranks (tensor x layer parallel), then A auxiliary ranks; parsing, checks, role of a rank. */
#ifndef LAVR_PARALLEL_LAYOUT_H
#define LAVR_PARALLEL_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* LiveAvatar samples exactly 4 denoising steps (liveavatar-system.md §2.1, `--sample_steps 4`);
 * a stage owns 4/steps consecutive ones, so steps must divide 4. */
#define LAVR_LAYOUT_DENOISE_STEPS 4

/* Most pp indices an explicit layer split (layers=a+b+...) can name. */
#define LAVR_LAYOUT_MAX_SPLIT 16

typedef struct {
    int steps; /* pipeline stages: 1, 2 or 4 */
    int tp;    /* tensor-parallel ranks per (stage, pp index): split heads and FFN */
    int pp;    /* layer-parallel ranks per stage: consecutive layer ranges */
    int aux;   /* ranks for encoders, VAE decode and output, after the DiT ranks */
    /* layers of each pp index, the same in every stage (layers=22+18: pp index 0 takes 22); all 0: as even as
     * possible. The planner shifts layers off a GPU the aux rank shares so that the layout fits. */
    int layers[LAVR_LAYOUT_MAX_SPLIT];
} lavr_layout;

/* What one world rank does under a layout. DiT ranks come first, ordered (stage, pp, tp) with tp
 * fastest; aux ranks last. Fields that do not apply are -1. */
typedef struct {
    int is_dit;
    int dit_index;              /* position among the DiT ranks */
    int stage;
    int step_begin, step_end;   /* denoising steps [begin, end) of the stage */
    int tp_index, pp_index;
    int64_t layer_begin, layer_end; /* DiT layers [begin, end) of the pp index */
    int aux_index;
} lavr_role;

/* The default layout (LiveAvatar's 5 ranks): steps=4,tp=1,pp=1,aux=1. */
lavr_layout lavr_layout_default(void);
/* "steps=4,tp=1,pp=1,aux=1[,layers=22+18]", keys optional (missing ones keep the defaults); unknown or duplicate
 * keys, non-integers, steps not in {1,2,4}, tp, pp, aux < 1 and a layers= list whose count is not pp are one-line
 * errors (its sum is checked against the model by lavr_layout_check). */
lavr_status lavr_layout_parse(const char *text, lavr_layout *out);
/* Canonical text with every key, e.g. "steps=4,tp=1,pp=1,aux=1" (",layers=22+18" when the split is explicit). */
void lavr_layout_format(const lavr_layout *layout, char *buf, size_t len);
/* World ranks the layout needs: steps*tp*pp + aux. */
int lavr_layout_ranks(const lavr_layout *layout);
int lavr_layout_dit_ranks(const lavr_layout *layout);

/* Fits the model: tp divides num_heads and ffn_dim, pp <= num_layers, an explicit split adds up to num_layers. */
lavr_status lavr_layout_check(const lavr_layout *layout, int64_t num_heads, int64_t ffn_dim, int64_t num_layers);
/* Fits the model and world_size; a wrong rank count names layouts that would fit world_size. */
lavr_status lavr_layout_check_world(const lavr_layout *layout, int world_size, int64_t num_heads, int64_t ffn_dim,
                                    int64_t num_layers);
/* Up to max layouts with world_size ranks that fit the model, best first: fewest aux ranks, then
 * most stages, then most tp. Returns how many were written. */
int lavr_layout_suggest(int world_size, int64_t num_heads, int64_t ffn_dim, int64_t num_layers, lavr_layout *out,
                        int max);

/* Layers [begin, end) of pp index `index` when num_layers are split over pp ranks as evenly as
 * possible, earlier ranges taking the extra layer. */
void lavr_layout_layers(int64_t num_layers, int pp, int index, int64_t *begin, int64_t *end);
/* Layers [begin, end) of pp index `index` under the layout: its explicit split, else lavr_layout_layers. */
void lavr_layout_layer_range(const lavr_layout *layout, int64_t num_layers, int index, int64_t *begin, int64_t *end);
/* 1 when the layout names its layer split (layers=...). */
int lavr_layout_has_split(const lavr_layout *layout);
/* Role of world_rank (0 <= world_rank < lavr_layout_ranks). */
lavr_status lavr_layout_role(const lavr_layout *layout, int64_t num_layers, int world_rank, lavr_role *out);
/* World rank of the DiT rank at (stage, pp_index, tp_index). */
int lavr_layout_dit_rank(const lavr_layout *layout, int stage, int pp_index, int tp_index);
/* "dit s0 tp0 pp0", or "aux" (with its index, "aux1", when the layout has several). */
void lavr_role_name(const lavr_layout *layout, const lavr_role *role, char *buf, size_t len);

#endif
