/* Implementation of the small option parser used by every lavr command, its help printer and its
 * answers to unknown options (a flag of LiveAvatar's, an underscore for a dash, a typo). */
#include "cli/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELP_WIDTH 100 /* columns of the usage lines */

const cli_option *cli_find(const cli_option *opts, int nopts, const char *name) {
    for (int i = 0; i < nopts; i++)
        if (strcmp(opts[i].name, name) == 0) return &opts[i];
    return NULL;
}

static int min2(int a, int b) { return a < b ? a : b; }

/* Edit distance of two short option names, a swap of two neighbours counting one edit (optimal string
 * alignment); longer names are never close: 99. */
static int edit_distance(const char *a, const char *b) {
    enum { MAX = 48 };
    const size_t la = strlen(a), lb = strlen(b);
    if (la >= MAX || lb >= MAX) return 99;
    int d[MAX + 1][MAX + 1];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            d[i][j] = min2(min2(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + (a[i - 1] != b[j - 1]));
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = min2(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[la][lb];
}

/* One line for an option the command does not have: the command's own option when only '_' was
 * typed for '-', LiveAvatar's flag with its lavr equivalent, the nearest name for a typo. */
static lavr_status unknown_option(const char *command, const char *name, size_t len, const cli_option *opts, int nopts) {
    char given[128];
    snprintf(given, sizeof given, "%.*s", (int)(len < sizeof given ? len : sizeof given - 1), name);
    char dashed[sizeof given];
    snprintf(dashed, sizeof dashed, "%s", given);
    for (char *p = dashed; *p; p++)
        if (*p == '_') *p = '-';
    if (strcmp(dashed, given) != 0 && cli_find(opts, nopts, dashed))
        return LAVR_FAIL(LAVR_E_ARG, "lavr %s: unknown option '--%s': lavr spells it --%s", command, given, dashed);
    char underscored[sizeof given];
    snprintf(underscored, sizeof underscored, "%s", given);
    for (char *p = underscored; *p; p++)
        if (*p == '-') *p = '_';
    const char *official = cli_official_flag(underscored); /* --sample_steps, and --sample-steps too */
    if (official) return LAVR_FAIL(LAVR_E_ARG, "lavr %s: --%s is LiveAvatar's option: %s", command, given, official);
    const cli_option *near = NULL;
    int best = 3; /* at most 2 edits, and fewer than half the name */
    for (int i = 0; i < nopts; i++) {
        int d = edit_distance(dashed, opts[i].name);
        if (d < best && 2 * d < (int)strlen(opts[i].name)) best = d, near = &opts[i];
    }
    if (near)
        return LAVR_FAIL(LAVR_E_ARG, "lavr %s: unknown option '--%s': did you mean --%s? (see lavr %s --help)", command,
                         given, near->name, command);
    return LAVR_FAIL(LAVR_E_ARG, "lavr %s: unknown option '--%s' (see lavr %s --help)", command, given, command);
}

/* The long name of a short option the command has: -h is --help, -o is --output (or --out); NULL otherwise. */
static const char *short_option(const char *arg, const cli_option *opts, int nopts) {
    static const char *const shorts[][2] = {{"-h", "help"}, {"-o", "output"}, {"-o", "out"}};
    for (size_t i = 0; i < sizeof shorts / sizeof shorts[0]; i++)
        if (strcmp(arg, shorts[i][0]) == 0 && cli_find(opts, nopts, shorts[i][1])) return shorts[i][1];
    return NULL;
}

lavr_status cli_parse(const char *command, int argc, char **argv, int first, cli_option *opts, int nopts,
                      const char **positional, int max_positional, int *npositional) {
    int npos = 0;
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i], *name, *eq = NULL;
        size_t len;
        const char *shortname = short_option(arg, opts, nopts);
        if (shortname) {
            name = shortname;
            len = strlen(name);
        } else if (strncmp(arg, "--", 2) == 0 && arg[2] != 0) {
            name = arg + 2;
            eq = strchr(name, '=');
            len = eq ? (size_t)(eq - name) : strlen(name);
        } else if (arg[0] == '-' && arg[1] != 0) {
            return LAVR_FAIL(LAVR_E_ARG, "lavr %s: unknown option '%s' (options are --name; see lavr %s --help)", command,
                             arg, command);
        } else {
            if (npos >= max_positional)
                return LAVR_FAIL(LAVR_E_ARG, "lavr %s: unexpected argument '%s' (see lavr %s --help)", command, arg, command);
            positional[npos++] = arg;
            continue;
        }
        cli_option *opt = NULL;
        for (int k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == len && strncmp(opts[k].name, name, len) == 0) opt = &opts[k];
        if (!opt) return unknown_option(command, name, len, opts, nopts);
        /* the last of two values silently winning hides a typo in a long command line */
        if (opt->value)
            return LAVR_FAIL(LAVR_E_ARG, "lavr %s: option '--%s' given twice%s%s%s", command, opt->name,
                             opt->metavar ? " (first '" : "", opt->metavar ? opt->value : "", opt->metavar ? "')" : "");
        if (!opt->metavar) {
            if (eq) return LAVR_FAIL(LAVR_E_ARG, "lavr %s: option '--%s' takes no value", command, opt->name);
            opt->value = "";
        } else if (eq) {
            opt->value = eq + 1;
        } else {
            if (i + 1 >= argc)
                return LAVR_FAIL(LAVR_E_ARG, "lavr %s: option '--%s' needs a value (%s)", command, opt->name, opt->metavar);
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

/* The synopsis names --name (not only a longer option that starts with it). */
static int names_option(const char *synopsis, const char *name) {
    size_t n = strlen(name);
    for (const char *p = strstr(synopsis, "--"); p; p = strstr(p + 2, "--")) {
        char after = p[2 + n];
        if (strncmp(p + 2, name, n) == 0 && !(after == '-' || (after >= 'a' && after <= 'z') || (after >= '0' && after <= '9')))
            return 1;
    }
    return 0;
}

void cli_print_help(const char *synopsis, const char *about, const cli_option *opts, int nopts) {
    fputs(synopsis, stdout);
    /* the column where the last line of the synopsis ends, and the indent of its continuation lines */
    const char *last = strrchr(synopsis, '\n');
    int column = (int)strlen(last ? last + 1 : synopsis), indent = 11;
    if (last) indent = (int)strspn(last + 1, " ");
    for (int i = 0; i < nopts; i++) {
        if (names_option(synopsis, opts[i].name)) continue;
        char item[160];
        snprintf(item, sizeof item, "[--%s%s%s]", opts[i].name, opts[i].metavar ? " " : "",
                 opts[i].metavar ? opts[i].metavar : "");
        if (column + 1 + (int)strlen(item) > HELP_WIDTH) {
            printf("\n%*s", indent - 1, "");
            column = indent - 1;
        }
        printf(" %s", item);
        column += 1 + (int)strlen(item);
    }
    fputc('\n', stdout);
    if (about) printf("%s\n", about);
    int width = 24;
    for (int i = 0; i < nopts; i++) {
        int w = 2 + (int)strlen(opts[i].name) + (opts[i].metavar ? 1 + (int)strlen(opts[i].metavar) : 0);
        if (w > width && w <= 32) width = w;
    }
    printf("\noptions:\n");
    for (int i = 0; i < nopts; i++) {
        char left[160];
        snprintf(left, sizeof left, "--%s%s%s", opts[i].name, opts[i].metavar ? " " : "",
                 opts[i].metavar ? opts[i].metavar : "");
        if ((int)strlen(left) > width)
            printf("  %s\n  %-*s %s\n", left, width, "", opts[i].help);
        else
            printf("  %-*s %s\n", width, left, opts[i].help);
    }
}
