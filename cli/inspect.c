/* `lavr inspect FILE`: the config of each component and every tensor (shape, dtype, bytes) with
 * totals, for lavr model files (/dit, /t5, /vae, /wav2vec2) and golden files (/weights + root config). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/units.h"
#include "io/h5model.h"

typedef struct {
    int list_tensors;
    int64_t tensors, params, bytes;
} tally;

static lavr_status show_tensor(const char *name, const lavr_tensor *desc, void *user) {
    tally *t = user;
    int64_t n = lavr_tensor_numel(desc), b = lavr_tensor_nbytes(desc);
    t->tensors++, t->params += n, t->bytes += b;
    if (t->list_tensors) {
        char shape[96], size[32];
        int used = snprintf(shape, sizeof shape, "[");
        for (int i = 0; i < desc->ndim && used < (int)sizeof shape; i++)
            used += snprintf(shape + used, sizeof shape - (size_t)used, "%s%lld", i ? ", " : "", (long long)desc->shape[i]);
        if (used < (int)sizeof shape) snprintf(shape + used, sizeof shape - (size_t)used, "]");
        printf("    %-72s %-14s %-24s %10s\n", name, lavr_dtype_name(desc->dtype), shape,
               lavr_format_bytes((uint64_t)b, size, sizeof size));
    }
    return LAVR_OK;
}

static void print_totals(const char *label, const tally *t) {
    char p[32], b[32];
    printf("  %s: %lld tensors, %s params, %s\n", label, (long long)t->tensors,
           lavr_format_count((uint64_t)t->params, p, sizeof p), lavr_format_bytes((uint64_t)t->bytes, b, sizeof b));
}

/* One component: its config attribute (on the group, or on the root for golden files) and tensors. */
static lavr_status show_component(lavr_h5file *f, const char *group, const char *config_obj, tally *all) {
    printf("== %s\n", group);
    if (lavr_h5_has_attr(f, config_obj, "config")) {
        char *config = NULL;
        TRY(lavr_h5_read_attr_string(f, config_obj, "config", &config));
        printf("  config: %s\n", config);
        free(config);
    } else {
        printf("  config: (none)\n");
    }
    tally t = {all->list_tensors, 0, 0, 0};
    TRY(lavr_h5_list(f, group, show_tensor, &t));
    print_totals(group, &t);
    all->tensors += t.tensors, all->params += t.params, all->bytes += t.bytes;
    return LAVR_OK;
}

static lavr_status inspect_file(lavr_h5file *f, int list_tensors) {
    static const char *const model_groups[] = {"/dit", "/t5", "/vae", "/wav2vec2"};
    tally all = {list_tensors, 0, 0, 0};
    const char *path = lavr_h5_path(f);
    printf("file: %s\n", path);
    if (lavr_h5_has_attr(f, "/", "format")) {
        char *format = NULL, *preset = NULL;
        int64_t version = 0, seed = 0;
        TRY(lavr_h5_read_attr_string(f, "/", "format", &format));
        lavr_status st = lavr_h5_read_attr_int(f, "/", "format_version", &version);
        if (!st && lavr_h5_has_attr(f, "/", "preset")) st = lavr_h5_read_attr_string(f, "/", "preset", &preset);
        if (!st && lavr_h5_has_attr(f, "/", "seed")) st = lavr_h5_read_attr_int(f, "/", "seed", &seed);
        if (!st) printf("format: %s %lld, preset %s, seed %lld\n", format, (long long)version, preset ? preset : "?", (long long)seed);
        free(format);
        free(preset);
        TRY(st);
        int found = 0;
        for (int i = 0; i < 4; i++) {
            if (!lavr_h5_exists(f, model_groups[i])) continue;
            found++;
            TRY(show_component(f, model_groups[i], model_groups[i], &all));
        }
        if (!found) return LAVR_FAIL(LAVR_E_FORMAT, "%s has no model components (/dit, /t5, /vae, /wav2vec2)", path);
    } else if (lavr_h5_exists(f, "/weights")) {
        printf("format: golden file (weights under /weights, config on the root)\n");
        TRY(show_component(f, "/weights", "/", &all));
    } else {
        return LAVR_FAIL(LAVR_E_FORMAT, "%s is neither a lavr model file (no 'format' attribute) nor a golden file (no /weights)",
                         path);
    }
    print_totals("total", &all);
    return LAVR_OK;
}

lavr_status lavr_cmd_inspect(int argc, char **argv) {
    cli_option opts[] = {
        {"tensors", "true|false", "true (default) lists every tensor; false prints configs and totals only", NULL},
        {"help", 0, "show this help", NULL},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    const char *positional[1];
    int npos = 0;
    TRY(cli_parse("inspect", argc, argv, 2, opts, nopts, positional, 1, &npos));
    if (cli_flag(opts, nopts, "help")) {
        cli_print_help("usage: lavr inspect FILE [--tensors true|false]", NULL, opts, nopts);
        return LAVR_OK;
    }
    CHECK_ARG(npos == 1, "lavr inspect: expects one FILE argument (see lavr inspect --help)");
    const char *tensors = cli_get(opts, nopts, "tensors", "true");
    CHECK_ARG(!strcmp(tensors, "true") || !strcmp(tensors, "false"), "lavr inspect: --tensors expects true or false, got '%s'",
              tensors);
    lavr_h5file *f = NULL;
    TRY(lavr_h5_open(positional[0], &f));
    lavr_status st = inspect_file(f, !strcmp(tensors, "true"));
    lavr_status close_st = lavr_h5_close(f);
    return st ? st : close_st;
}
