/* Implementation of the small option parser used by every lavr command. */
#include "cli/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const cli_option *cli_find(const cli_option *opts, int nopts, const char *name) {
    for (int i = 0; i < nopts; i++)
        if (strcmp(opts[i].name, name) == 0) return &opts[i];
    return NULL;
}

lavr_status cli_parse(const char *command, int argc, char **argv, int first, cli_option *opts, int nopts,
                      const char **positional, int max_positional, int *npositional) {
    int npos = 0;
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == 0) {
            if (npos >= max_positional)
                return LAVR_FAIL(LAVR_E_ARG, "lavr %s: unexpected argument '%s' (see lavr %s --help)", command, arg, command);
            positional[npos++] = arg;
            continue;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        cli_option *opt = NULL;
        for (int k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == len && strncmp(opts[k].name, name, len) == 0) opt = &opts[k];
        if (!opt)
            return LAVR_FAIL(LAVR_E_ARG, "lavr %s: unknown option '--%.*s' (see lavr %s --help)", command, (int)len, name, command);
        /* the last of two values silently winning hides a typo in a long command line */
        if (opt->value)
            return LAVR_FAIL(LAVR_E_ARG, "lavr %s: option '--%s' given twice%s%s%s", command, opt->name,
                             opt->takes_value ? " (first '" : "", opt->takes_value ? opt->value : "",
                             opt->takes_value ? "')" : "");
        if (!opt->takes_value) {
            if (eq) return LAVR_FAIL(LAVR_E_ARG, "lavr %s: option '--%s' takes no value", command, opt->name);
            opt->value = "";
        } else if (eq) {
            opt->value = eq + 1;
        } else {
            if (i + 1 >= argc) return LAVR_FAIL(LAVR_E_ARG, "lavr %s: option '--%s' needs a value", command, opt->name);
            opt->value = argv[++i];
        }
    }
    if (npositional) *npositional = npos;
    return LAVR_OK;
}

const char *cli_get(const cli_option *opts, int nopts, const char *name, const char *fallback) {
    const cli_option *o = cli_find(opts, nopts, name);
    return (o && o->value) ? o->value : fallback;
}

int cli_flag(const cli_option *opts, int nopts, const char *name) {
    const cli_option *o = cli_find(opts, nopts, name);
    return o && o->value;
}

lavr_status cli_get_int(const cli_option *opts, int nopts, const char *name, int64_t fallback, int64_t min,
                        int64_t max, int64_t *out) {
    const char *v = cli_get(opts, nopts, name, NULL);
    if (!v) {
        *out = fallback;
        return LAVR_OK;
    }
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end)
        return LAVR_FAIL(LAVR_E_ARG, "option --%s expects an integer, got '%s'", name, v);
    if (x < min || x > max)
        return LAVR_FAIL(LAVR_E_ARG, "option --%s must be in [%lld, %lld], got %lld", name, (long long)min, (long long)max, x);
    *out = x;
    return LAVR_OK;
}

void cli_print_help(const char *usage, const cli_option *opts, int nopts) {
    printf("%s\n\noptions:\n", usage);
    for (int i = 0; i < nopts; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s", opts[i].name, opts[i].takes_value ? " VALUE" : "");
        printf("  %-26s %s\n", left, opts[i].help);
    }
}
