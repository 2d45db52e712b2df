/* Parsing and checking of rank layouts and the pure arithmetic of who does what (no MPI here, so the
 * role assignment is unit-testable); parallel/mpi.c turns a role into communicators. */
#include "parallel/layout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keeps steps*tp*pp + aux far from int overflow; no machine has this many ranks per role. */
#define LAYOUT_MAX_VALUE 4096

lavr_layout lavr_layout_default(void) { return (lavr_layout){.steps = 4, .tp = 1, .pp = 1, .aux = 1}; }

int lavr_layout_dit_ranks(const lavr_layout *layout) { return layout->steps * layout->tp * layout->pp; }
int lavr_layout_ranks(const lavr_layout *layout) { return lavr_layout_dit_ranks(layout) + layout->aux; }

int lavr_layout_has_split(const lavr_layout *layout) { return layout->layers[0] > 0; }

void lavr_layout_format(const lavr_layout *layout, char *buf, size_t len) {
    int used = snprintf(buf, len, "steps=%d,tp=%d,pp=%d,aux=%d", layout->steps, layout->tp, layout->pp, layout->aux);
    for (int i = 0; lavr_layout_has_split(layout) && i < layout->pp && i < LAVR_LAYOUT_MAX_SPLIT; i++)
        if (used >= 0 && (size_t)used < len)
            used += snprintf(buf + used, len - (size_t)used, "%s%d", i ? "+" : ",layers=", layout->layers[i]);
}

/* "22+18" into layout->layers; one-line errors name the layout text. */
static lavr_status parse_split(const char *text, const char *value, int value_len, lavr_layout *layout) {
    int n = 0;
    const char *p = value, *end = value + value_len;
    while (p < end) {
        CHECK_ARG(n < LAVR_LAYOUT_MAX_SPLIT, "layout '%s': layers= lists at most %d ranges", text,
                  LAVR_LAYOUT_MAX_SPLIT);
        long v = 0;
        const char *start = p;
        while (p < end && *p >= '0' && *p <= '9' && v <= LAYOUT_MAX_VALUE) v = v * 10 + (*p++ - '0');
        CHECK_ARG(p > start && (p == end || *p == '+') && v >= 1 && v <= LAYOUT_MAX_VALUE,
                  "layout '%s': layers= takes positive layer counts joined by '+', one per pp index (e.g. "
                  "layers=22+18), got '%.*s'", text, value_len, value);
        layout->layers[n++] = (int)v;
        if (p < end) p++;
        CHECK_ARG(p < end || value[value_len - 1] != '+', "layout '%s': layers='%.*s' ends with '+'", text, value_len,
                  value);
    }
    CHECK_ARG(n > 0, "layout '%s': layers= is empty (e.g. layers=22+18)", text);
    return LAVR_OK;
}

static int *layout_field(lavr_layout *layout, const char *key, size_t key_len) {
    static const char *names[] = {"steps", "tp", "pp", "aux"};
    int *fields[] = {&layout->steps, &layout->tp, &layout->pp, &layout->aux};
    for (int i = 0; i < 4; i++)
        if (strlen(names[i]) == key_len && strncmp(names[i], key, key_len) == 0) return fields[i];
    return NULL;
}

lavr_status lavr_layout_parse(const char *text, lavr_layout *out) {
    CHECK_ARG(text && out, "lavr_layout_parse: null argument");
    CHECK_ARG(text[0], "layout is empty (expected e.g. steps=4,tp=1,pp=1,aux=1)");
    lavr_layout layout = lavr_layout_default();
    int seen[4] = {0}, split_count = 0;
    const char *item = text;
    for (;;) {
        const char *comma = strchr(item, ',');
        size_t item_len = comma ? (size_t)(comma - item) : strlen(item);
        const char *eq = memchr(item, '=', item_len);
        CHECK_ARG(eq, "layout '%s': item '%.*s' is not key=value (keys: steps, tp, pp, aux, layers)", text,
                  (int)item_len, item);
        size_t key_len = (size_t)(eq - item);
        if (key_len == 6 && !strncmp(item, "layers", 6)) {
            CHECK_ARG(!split_count, "layout '%s': key 'layers' given twice", text);
            TRY(parse_split(text, eq + 1, (int)(item_len - key_len - 1), &layout));
            while (split_count < LAVR_LAYOUT_MAX_SPLIT && layout.layers[split_count]) split_count++;
            if (!comma) break;
            item = comma + 1;
            continue;
        }
        int *field = layout_field(&layout, item, key_len);
        CHECK_ARG(field, "layout '%s': unknown key '%.*s' (keys: steps, tp, pp, aux, layers)", text, (int)key_len,
                  item);
        int which = (int)(field - &layout.steps);
        CHECK_ARG(!seen[which], "layout '%s': key '%.*s' given twice", text, (int)key_len, item);
        seen[which] = 1;

        const char *value = eq + 1;
        int value_len = (int)(item_len - key_len - 1);
        char digits[32];
        int is_integer = value_len > 0 && value_len < (int)sizeof digits;
        for (int i = 0; is_integer && i < value_len; i++) is_integer = value[i] >= '0' && value[i] <= '9';
        CHECK_ARG(is_integer, "layout '%s': value of '%.*s' must be a positive integer, got '%.*s'", text,
                  (int)key_len, item, value_len, value);
        memcpy(digits, value, (size_t)value_len);
        digits[value_len] = 0;
        errno = 0;
        long v = strtol(digits, NULL, 10);
        CHECK_ARG(errno == 0 && v >= 1 && v <= LAYOUT_MAX_VALUE, "layout '%s': %.*s=%s must be in [1, %d]", text,
                  (int)key_len, item, digits, LAYOUT_MAX_VALUE);
        *field = (int)v;
        if (!comma) break;
        item = comma + 1;
    }
    CHECK_ARG(LAVR_LAYOUT_DENOISE_STEPS % layout.steps == 0,
              "layout '%s': steps=%d must be 1, 2 or 4 (each stage owns %d/steps of the %d denoising steps)", text,
              layout.steps, LAVR_LAYOUT_DENOISE_STEPS, LAVR_LAYOUT_DENOISE_STEPS);
    CHECK_ARG(!split_count || split_count == layout.pp, "layout '%s': layers= lists %d range%s but pp=%d", text,
              split_count, split_count == 1 ? "" : "s", layout.pp);
    *out = layout;
    return LAVR_OK;
}

lavr_status lavr_layout_check(const lavr_layout *layout, int64_t num_heads, int64_t ffn_dim, int64_t num_layers) {
    char text[96];
    lavr_layout_format(layout, text, sizeof text);
    CHECK_ARG(num_heads % layout->tp == 0, "layout %s: tp=%d does not divide the model's %lld attention heads", text,
              layout->tp, (long long)num_heads);
    CHECK_ARG(ffn_dim % layout->tp == 0, "layout %s: tp=%d does not divide the model's FFN width %lld", text,
              layout->tp, (long long)ffn_dim);
    CHECK_ARG(layout->pp <= num_layers, "layout %s: pp=%d exceeds the model's %lld layers", text, layout->pp,
              (long long)num_layers);
    if (lavr_layout_has_split(layout)) {
        CHECK_ARG(layout->pp <= LAVR_LAYOUT_MAX_SPLIT, "layout %s: layers= names at most %d pp indices", text,
                  LAVR_LAYOUT_MAX_SPLIT);
        int64_t sum = 0;
        for (int i = 0; i < layout->pp; i++) sum += layout->layers[i];
        CHECK_ARG(sum == num_layers, "layout %s: layers= adds up to %lld, the model has %lld layers", text,
                  (long long)sum, (long long)num_layers);
    }
    return LAVR_OK;
}

int lavr_layout_suggest(int world_size, int64_t num_heads, int64_t ffn_dim, int64_t num_layers, lavr_layout *out,
                        int max) {
    static const int stage_counts[] = {4, 2, 1};
    int n = 0;
    for (int aux = 1; aux < world_size && n < max; aux++) {
        int dit = world_size - aux;
        for (int s = 0; s < 3 && n < max; s++) {
            int steps = stage_counts[s];
            if (dit % steps) continue;
            int per_stage = dit / steps;
            for (int tp = per_stage; tp >= 1 && n < max; tp--) {
                if (per_stage % tp) continue;
                lavr_layout candidate = {.steps = steps, .tp = tp, .pp = per_stage / tp, .aux = aux};
                if (candidate.tp > LAYOUT_MAX_VALUE || candidate.pp > LAYOUT_MAX_VALUE) continue;
                if (num_heads % tp || ffn_dim % tp || candidate.pp > num_layers) continue;
                out[n++] = candidate;
            }
        }
    }
    return n;
}

lavr_status lavr_layout_check_world(const lavr_layout *layout, int world_size, int64_t num_heads, int64_t ffn_dim,
                                    int64_t num_layers) {
    TRY(lavr_layout_check(layout, num_heads, ffn_dim, num_layers));
    int needed = lavr_layout_ranks(layout);
    if (needed == world_size) return LAVR_OK;
    char text[96], hint[512] = "";
    lavr_layout_format(layout, text, sizeof text);
    lavr_layout fits[3];
    int nfits = lavr_layout_suggest(world_size, num_heads, ffn_dim, num_layers, fits, 3);
    size_t used = 0;
    if (nfits == 0) {
        snprintf(hint, sizeof hint, "no layout fits %d rank%s (at least one DiT and one aux rank are needed)",
                 world_size, world_size == 1 ? "" : "s");
    } else {
        used = (size_t)snprintf(hint, sizeof hint, "with %d ranks use e.g. ", world_size);
        for (int i = 0; i < nfits && used < sizeof hint; i++) {
            char fit[96];
            lavr_layout_format(&fits[i], fit, sizeof fit);
            const char *sep = i == 0 ? "" : i == nfits - 1 ? " or " : ", ";
            used += (size_t)snprintf(hint + used, sizeof hint - used, "%s%s", sep, fit);
        }
    }
    char started[64];
    if (world_size == 1)
        snprintf(started, sizeof started, "only 1 rank is running");
    else
        snprintf(started, sizeof started, "mpirun started %d", world_size);
    return LAVR_FAIL(LAVR_E_ARG, "layout %s needs %d ranks but %s; %s; or run with mpirun -np %d", text, needed,
                     started, hint, needed);
}

void lavr_layout_layers(int64_t num_layers, int pp, int index, int64_t *begin, int64_t *end) {
    int64_t base = num_layers / pp, extra = num_layers % pp;
    *begin = index * base + (index < extra ? index : extra);
    *end = *begin + base + (index < extra ? 1 : 0);
}

void lavr_layout_layer_range(const lavr_layout *layout, int64_t num_layers, int index, int64_t *begin, int64_t *end) {
    if (!lavr_layout_has_split(layout) || layout->pp > LAVR_LAYOUT_MAX_SPLIT) {
        lavr_layout_layers(num_layers, layout->pp, index, begin, end);
        return;
    }
    int64_t b = 0;
    for (int i = 0; i < index; i++) b += layout->layers[i];
    *begin = b;
    *end = b + layout->layers[index];
}

int lavr_layout_dit_rank(const lavr_layout *layout, int stage, int pp_index, int tp_index) {
    return (stage * layout->pp + pp_index) * layout->tp + tp_index;
}

lavr_status lavr_layout_role(const lavr_layout *layout, int64_t num_layers, int world_rank, lavr_role *out) {
    int ranks = lavr_layout_ranks(layout), dit = lavr_layout_dit_ranks(layout);
    CHECK_ARG(world_rank >= 0 && world_rank < ranks, "rank %d outside the layout's %d ranks", world_rank, ranks);
    lavr_role role = {.dit_index = -1, .stage = -1, .step_begin = -1, .step_end = -1, .tp_index = -1,
                      .pp_index = -1, .layer_begin = -1, .layer_end = -1, .aux_index = -1};
    if (world_rank < dit) {
        int steps_per_stage = LAVR_LAYOUT_DENOISE_STEPS / layout->steps;
        role.is_dit = 1;
        role.dit_index = world_rank;
        role.tp_index = world_rank % layout->tp;
        role.pp_index = (world_rank / layout->tp) % layout->pp;
        role.stage = world_rank / (layout->tp * layout->pp);
        role.step_begin = role.stage * steps_per_stage;
        role.step_end = role.step_begin + steps_per_stage;
        lavr_layout_layer_range(layout, num_layers, role.pp_index, &role.layer_begin, &role.layer_end);
    } else {
        role.aux_index = world_rank - dit;
    }
    *out = role;
    return LAVR_OK;
}

void lavr_role_name(const lavr_layout *layout, const lavr_role *role, char *buf, size_t len) {
    if (role->is_dit)
        snprintf(buf, len, "dit s%d tp%d pp%d", role->stage, role->tp_index, role->pp_index);
    else if (layout->aux > 1)
        snprintf(buf, len, "aux%d", role->aux_index);
    else
        snprintf(buf, len, "aux");
}
